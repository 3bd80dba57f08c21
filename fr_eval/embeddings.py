"""Precomputed embeddings in and out, for models fr-eval does not wrap.

A file holds one entry per (sample, variant): ``sample`` (an id, e.g. the image's relative path),
``subject``, ``role`` (``reference`` | ``probe``), ``variant`` (``original``, ``greyscale``,
``colourised[<colouriser>]``), ``embedding`` (a vector; all NaN, or empty in Parquet, where the
sample failed to acquire) and optionally ``reason`` (why it failed) and ``metric`` (``cosine``, the
default, or ``euclidean``: scored as 1 - d^2/2, as system=dlib's are). As ``.npz`` (arrays of those
names, ``embedding`` of shape (n, d)) or ``.parquet`` (``embedding`` a list of floats).

``fr-eval embeddings=<file> scenario=...`` runs the plan and evaluate stages on them: the dataset
is the file's samples (genuine: every probe x every reference of its subject, impostors by the
usual rule), the acquire stage reads the vectors instead of computing them.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from .datasets.base import Dataset, Sample, stripped_columns
from .engine import EngineStats
from .errors import FrEvalError
from .evaluation import METRICS
from .stages.acquire import Acquired
from .store import sha256_file
from .systems.base import Acquisition

ROLES = ("reference", "probe")
#: the variant names a file may give (what the plan asks the acquire stage for)
VARIANT = re.compile(r"original|greyscale|colourised\[[^\[\]]+\]")
#: the fewest dimensions an embedding file may hold: face recognisers give 64 to 512 (SFace, dlib 128;
#: ArcFace 512); a vector of a few numbers carries no identity and gives meaningless figures
MIN_DIM = 8


def read_embeddings(path) -> dict:
    """Columns of an embeddings file: sample, subject, role, variant (str arrays), embedding
    (list of float32 vectors, None where absent) and reason."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FrEvalError(f"embeddings={p}: no such file")
    need = ("sample", "subject", "role", "variant", "embedding")
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                cols = stripped_columns({k: z[k] for k in z.files}, "embeddings", p)
            _check_columns(cols, need, p)
            emb = np.asarray(cols.get("embedding"), np.float32)
            if emb.ndim != 2:
                raise FrEvalError(f"embeddings={p}: embedding has shape {emb.shape}; give one row per entry, "
                                  f"shape (n, d)")
            cols["embedding"] = list(emb)
        elif p.suffix == ".parquet":
            cols = stripped_columns(pq.read_table(p).to_pydict(), "embeddings", p)
            _check_columns(cols, need, p)
            cols["embedding"] = [np.full(0, np.nan, np.float32) if not v else np.asarray(
                [np.nan if x is None else x for x in v], np.float32) for v in cols.get("embedding", [])]
        else:
            raise FrEvalError(f"embeddings={p}: give a .npz or .parquet file")
    except FrEvalError:
        raise
    except Exception as exc:  # numpy / pyarrow raise several types for a damaged file
        raise FrEvalError(f"embeddings={p} could not be read ({type(exc).__name__}: {exc})") from None
    n = len(cols["sample"])
    lengths = {k: len(cols[k]) for k in (*need, *(("reason",) if "reason" in cols else ()))}
    if len(set(lengths.values())) > 1:
        raise FrEvalError(f"embeddings={p}: the columns have different lengths ("
                          + ", ".join(f"{k} {v}" for k, v in lengths.items()) + "); every column has one entry per "
                          "(sample, variant)")
    out = {k: [str(x) for x in cols[k]] for k in ("sample", "subject", "role", "variant")}
    metric = cols.get("metric")
    metric = "cosine" if metric is None else str(np.asarray(metric).ravel()[0]) if np.size(metric) else "cosine"
    if metric not in METRICS:
        raise FrEvalError(f"embeddings={p}: metric={metric} is not known; choose from {', '.join(METRICS)}")
    out["metric"] = metric
    out["reason"] = [str(x) for x in cols["reason"]] if "reason" in cols else [""] * n
    out["embedding"] = _vectors(cols["embedding"], out["sample"], out["variant"], p)
    bad = sorted(set(out["role"]) - set(ROLES))
    if bad:
        raise FrEvalError(f"embeddings={p}: role must be reference or probe, found {bad[:3]}")
    unknown = sorted(v for v in set(out["variant"]) if not VARIANT.fullmatch(v))
    if unknown:
        raise FrEvalError(f"embeddings={p}: variant {unknown[0]!r} is not known"
                          + (f" ({len(unknown) - 1} more)" if len(unknown) > 1 else "")
                          + "; the variants are original, greyscale and colourised[<colouriser>] (lower case)")
    _check_unique(out, p)
    return out


def _vectors(rows: list, samples: list, variants: list, p) -> list:
    """Each entry's vector, None where the sample failed (every component NaN, or an empty list in
    Parquet); one line for a vector that is partly NaN, infinite, all zero, of another length than
    the others, or shorter than :data:`MIN_DIM`."""
    out, dim = [], None
    for i, v in enumerate(rows):
        v = np.asarray(v, np.float32).ravel()
        where = f"embeddings={p}: entry {i + 1} ({samples[i]}, {variants[i]})"
        if v.size == 0 or np.isnan(v).all():
            out.append(None)
            continue
        if dim is None:
            dim, first = v.size, i
        if v.size != dim:
            raise FrEvalError(f"{where} has {v.size} components, entry {first + 1} has {dim}: every vector has the "
                              f"same length")
        if not np.isfinite(v).all():
            raise FrEvalError(f"{where}: {int((~np.isfinite(v)).sum())} of its {v.size} components are NaN or "
                              f"infinite (a failed sample is all NaN, with its reason)")
        if not np.any(v):
            raise FrEvalError(f"{where} is all zeros: it has no direction to compare (a failed sample is all NaN, "
                              f"with its reason)")
        out.append(v)
    if dim is not None and dim < MIN_DIM:
        raise FrEvalError(f"embeddings={p}: the vectors have {dim} component(s); fr-eval takes at least {MIN_DIM} "
                          f"(face embeddings have 64 to 512): is the embedding column the right one?")
    return out


def _check_unique(cols: dict, p) -> None:
    """Each (sample, variant) once: a repeated id would attach one vector to the other's comparisons."""
    first: dict = {}
    for i, key in enumerate(zip(cols["sample"], cols["variant"])):
        if key in first:
            raise FrEvalError(f"embeddings={p}: sample {key[0]} (variant {key[1]}) appears more than once (entries "
                              f"{first[key] + 1} and {i + 1}); each (sample, variant) once")
        first[key] = i


def _check_columns(cols: dict, need, p) -> None:
    missing = [c for c in need if c not in cols]
    if missing:
        raise FrEvalError(f"embeddings={p}: missing {', '.join(missing)} (needs {', '.join(need)})")


def embeddings_dataset(cols: dict, path, single_image_subjects: str = "drop") -> Dataset:
    """The file's samples as a dataset (each sample once per role, whatever its variants). A subject with
    references and no probe is left out and counted (``single_image_subjects="drop"``) or kept as references
    only (``"impostor"``: impostor comparisons, gallery entries), as a folder's single-image subjects are."""
    seen, refs, probes = set(), [], []
    for s, subj, role in zip(cols["sample"], cols["subject"], cols["role"]):
        if (s, role) in seen:
            continue
        seen.add((s, role))
        (refs if role == "reference" else probes).append(Sample(path=Path(s), rel=s, subject=subj, role=role))
    p = Path(path)
    with_probe = {x.subject for x in probes}
    ds = Dataset(name=p.stem, root=p.parent.resolve(), references=[x for x in refs if x.subject in with_probe],
                 probes=probes, settings={"type": "embeddings", "path": str(p.resolve()),
                                          "single_image_subjects": single_image_subjects})
    ds.keep_reference_only_samples([x for x in refs if x.subject not in with_probe], single_image_subjects,
                                   "no probe in the embeddings file")
    return ds


def acquired_from_embeddings(plan, cols: dict, path):
    """The acquire stage's result from the file: each (sample, variant) the plan needs."""
    have = {}
    for s, v, e, why in zip(cols["sample"], cols["variant"], cols["embedding"], cols["reason"]):
        have[(s, v)] = Acquisition(embedding=e) if e is not None else Acquisition.failure(
            why or "failed to acquire (the embeddings file has no vector)")
    acqs = {}
    for role, v in plan.needed:
        for smp in plan.samples(role):
            acqs[(smp.rel, v)] = have.get((smp.rel, v)) or Acquisition.failure(
                f"not in the embeddings file (variant {v})", cacheable=False)
    p = Path(path).resolve()
    system = {"name": "embeddings", "models": [{"role": "embeddings", "path": str(p), "bytes": p.stat().st_size,
                                               "sha256": sha256_file(p)}], "settings": {},
              **({"score": {"metric": cols["metric"], "similarity": "1 - d^2/2, d = the Euclidean distance between "
                                                                    "the vectors (the file's metric)"}}
                 if cols.get("metric", "cosine") != "cosine" else {})}
    stats = EngineStats(requested=len(acqs), failed=sum(1 for a in acqs.values() if not a.ok), parallel="none")
    return Acquired(acquisitions=acqs, quality={}, stats=stats, system=system,
                    system_note=f"embeddings read from {p.name}")


def write_embeddings(path: Path, acquisitions: dict, dataset, metric: str = "cosine") -> None:
    """A run's acquisitions as an embeddings ``.npz``: one entry per sample, role and variant
    (failures as NaN rows, with their reason), and ``metric``: how the system compares them (cosine,
    or euclidean for dlib), so that reading the file back scores them as the run did."""
    variants = sorted({v for _, v in acquisitions})
    entries = [(s, v) for s in dataset.references + dataset.probes for v in variants if (s.rel, v) in acquisitions]
    dim = next((a.embedding.size for a in acquisitions.values() if a.ok), 1)
    emb = np.full((len(entries), dim), np.nan, np.float32)
    for i, (s, v) in enumerate(entries):
        if acquisitions[(s.rel, v)].ok:
            emb[i] = acquisitions[(s.rel, v)].embedding
    np.savez_compressed(path, sample=np.array([s.rel for s, _ in entries]), variant=np.array([v for _, v in entries]),
                        subject=np.array([s.subject for s, _ in entries]), role=np.array([s.role for s, _ in entries]),
                        embedding=emb, reason=np.array([acquisitions[(s.rel, v)].reason or "" for s, v in entries]),
                        metric=np.array(metric))
