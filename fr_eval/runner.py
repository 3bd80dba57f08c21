"""Wire dataset, face system, colourisers, store and metrics into one run (the thin shell)."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import metrics as M
from .colourisers import build_colouriser
from .datasets import load_dataset
from .engine import acquire_and_score
from .errors import ConfigError
from .evaluation import (SideData, breakdown, compared_mask, evaluate_row, pair_scores, pairs_accuracy,
                         scores_or_nan)
from .scores import Comparisons
from .protocol import build_comparisons
from .scenarios import load_scenario_set, select
from .images import DEFAULT_MAX_PIXELS, set_max_pixels
from .store import open_store
from .systems import build_system
from .variants import GREYSCALE, ORIGINAL, Colourised

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    rows: list[dict]
    table1: dict
    failures: list[dict]
    samples: list[dict]  # one per (sample, variant): acquired or not, why, detection
    scores: dict  # row label -> {"genuine": array, "impostor": array}
    context: dict = field(default_factory=dict)
    examples: list = field(default_factory=list)  # rows of (label, image) tiles for Fig. 2
    quality: dict = field(default_factory=dict)  # Table 2, per-variant values, EDC (when quality=[...])
    #: every comparison by index pair, for the score export (scores.Comparisons), which impostor
    #: record each row used, and (reference ids, probe ids, reference subjects, probe subjects)
    comparisons: list = field(default_factory=list)
    used_impostors: dict = field(default_factory=dict)
    ids: tuple = ()


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    if hasattr(x, "__iter__") and not isinstance(x, str):
        return list(x)
    return [x]


def resolve_workers(value) -> int:
    """``auto``: one worker per CPU core this process may use."""
    if value in (None, "auto"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:
            return max(1, os.cpu_count() or 1)
    if int(value) < 1:
        raise ConfigError(f"workers={value} must be auto or a positive integer")
    return int(value)


def parse_fmrs(cfg) -> tuple[float, list[float]]:
    fmr = float(cfg["fmr"])
    extra = [float(f) for f in _as_list(cfg.get("fmr_extra", []))]
    for f in [fmr] + extra:
        if not 0 < f < 1:
            raise ConfigError(f"fmr={f} must be a fraction between 0 and 1 (0.001 means 0.1%)")
    return fmr, sorted(set([fmr] + extra), reverse=True)


def run(cfg: dict, *, progress: bool = True) -> RunResult:
    """Run the configured scenarios; ``cfg`` is the resolved config as plain containers."""
    t0 = time.perf_counter()
    set_max_pixels(int(cfg.get("max_image_pixels", DEFAULT_MAX_PIXELS)))
    fmr, fmrs = parse_fmrs(cfg)
    sset = load_scenario_set(str(cfg.get("scenarios", "paper")))
    chosen = select(sset, cfg["scenario"])
    colouriser_names = [str(c) for c in _as_list(cfg.get("colouriser"))]
    if any(s.needs_colouriser for s in chosen) and not colouriser_names:
        raise ConfigError("scenarios 4 and 5 need a colouriser: colouriser=<name> or colouriser=[a,b]; "
                          f"defined: {', '.join(sorted(cfg.get('colourisers', {})))}")
    colourisers = []
    if any(s.needs_colouriser for s in chosen):
        for name in colouriser_names:
            colourisers.append(build_colouriser(name, cfg.get("colourisers", {})))

    from .quality import build_estimators
    estimators = build_estimators(_as_list(cfg.get("quality")), cfg.get("quality_settings") or {})
    ds = load_dataset(cfg["dataset"])
    for c in colourisers:
        c.prepare(ds)
    impostors = cfg.get("impostors", "all")
    comps = build_comparisons(ds, impostors if impostors == "all" else int(impostors), int(cfg.get("seed", 0)))
    if len(comps.impostor) == 0:  # found out before any image is processed
        if ds.pairs is not None:
            raise ConfigError(f"dataset {ds.name}: none of the protocol's mismatched pairs is present "
                              f"({len(comps.genuine)} matched pairs are), so no threshold can be fixed; "
                              f"dataset.fill_mismatched=balanced (or =N) draws mismatched pairs among the images "
                              f"present, and the report then says the figures are not the protocol's")
        raise ConfigError(f"dataset {ds.name}: no impostor comparison is possible (one subject)")
    if len(comps.genuine) == 0:
        raise ConfigError(f"dataset {ds.name}: no genuine comparison is possible")
    if ds.pairs is not None and impostors != "all":
        log.warning("impostors=%s is ignored: the dataset's pairs protocol names its impostor comparisons", impostors)
    breakdown_keys = [str(k) for k in _as_list(cfg.get("report", {}).get("breakdown"))]
    bins = dict(cfg.get("report", {}).get("breakdown_bins") or {})
    breakdown_values = {k: metadata_values(ds, comps, k, bins.get(k)) for k in breakdown_keys}
    system, system_note = build_system(cfg["system"])
    description = system.describe()
    log.info("dataset %s: %s", ds.name, ds.summary())

    variants = {"original": ORIGINAL, "greyscale": GREYSCALE}
    for c in colourisers:
        variants[f"colourised[{c.name}]"] = Colourised(c)

    # the rows of Table 3: one per scenario, and per colouriser where one is used
    baseline = sset.scenarios[sset.baseline]
    rows_spec = []
    for s in chosen:
        for c in (colourisers if s.needs_colouriser else [None]):
            rows_spec.append((s, c))

    def variant_name(kind, c):
        return kind if kind != "colourised" else f"colourised[{c.name}]"

    needed = {("reference", "original"), ("probe", "original")}  # the baseline always runs
    for s, c in rows_spec:
        needed.add(("reference", variant_name(s.reference, c)))
        needed.add(("probe", variant_name(s.probe, c)))
    requests = []
    for role, vname in sorted(needed):
        samples = ds.references if role == "reference" else ds.probes
        requests.extend((smp, variants[vname]) for smp in samples)
    store = open_store(cfg)
    examples = []
    try:
        acqs, qvals, stats = acquire_and_score(requests, system, store, estimators=estimators,
                                               batch_size=int(cfg.get("batch_size", 32)),
                                               workers=resolve_workers(cfg.get("workers", "auto")),
                                               parallel=str(cfg.get("parallel", "process")), progress=progress)
        if colourisers:
            examples = colourisation_examples(ds, [variants[f"colourised[{c.name}]"] for c in colourisers], store,
                                              int(cfg.get("report", {}).get("examples", 3)))
    finally:
        store.close()

    def side(role, vname) -> SideData:
        samples = ds.references if role == "reference" else ds.probes
        return SideData.from_acquisitions([acqs[(smp.rel, vname)] for smp in samples])

    subjects = ds.subjects
    sidx = {s: i for i, s in enumerate(subjects)}
    ref_subj = np.array([sidx[s.subject] for s in ds.references])
    probe_subj = np.array([sidx[s.subject] for s in ds.probes])
    base_ref, base_probe = side("reference", "original"), side("probe", "original")
    base_imp, base_mask = pair_scores(base_ref, base_probe, comps.impostor)
    if base_imp.size == 0:
        raise ConfigError("no baseline impostor comparison could be made (too few subjects acquired)")
    thresholds = {f: M.threshold_at_fmr(base_imp, f) for f in fmrs}
    per_scenario_impostors = str(cfg.get("impostor_scores", "baseline")) == "scenario"
    bootstrap = dict(cfg.get("bootstrap", {}))
    bootstrap.setdefault("seed", int(cfg.get("seed", 0)))

    rows, scores, compared, records, used = [], {}, {}, [], {}
    for s, c in rows_spec:
        rv, pv = variant_name(s.reference, c), variant_name(s.probe, c)
        ref, probe = side("reference", rv), side("probe", pv)
        imp, imp_mask = pair_scores(ref, probe, comps.impostor) if per_scenario_impostors else (base_imp, base_mask)
        figures, gen = evaluate_row(ref=ref, probe=probe, genuine_pairs=comps.genuine, impostor_scores=imp,
                                    thresholds=thresholds, fmr_target=fmr, ref_subject_idx=ref_subj,
                                    probe_subject_idx=probe_subj, n_subjects=len(subjects), bootstrap=bootstrap)
        if comps.genuine_folds is not None:
            figures["pairs_accuracy"] = pairs_accuracy(ref, probe, comps)
        if breakdown_values:
            figures["breakdown"] = {k: breakdown(values=v, ref=ref, probe=probe, genuine_pairs=comps.genuine,
                                                 threshold=thresholds[fmr], probe_subject_idx=probe_subj,
                                                 n_subjects=len(subjects), bootstrap=bootstrap)
                                    for k, v in breakdown_values.items()}
        label = s.id if c is None else f"{s.id} [{c.name}]"
        row = {"scenario": s.id, "colouriser": None if c is None else c.name, "label": label,
               "reference_variant": rv, "probe_variant": pv,
               "impostor_scores_from": "this scenario" if per_scenario_impostors else f"scenario {baseline.id} (baseline)",
               **figures}
        rows.append(row)
        scores[label] = {"genuine": gen, "impostor": imp}
        records.append(Comparisons(label, True, comps.genuine, scores_or_nan(ref, probe, comps.genuine)))
        imp_label = label if per_scenario_impostors else baseline.id  # the baseline's impostors serve every row
        if per_scenario_impostors or not any(r.row == imp_label and not r.genuine for r in records):
            records.append(Comparisons(imp_label, False, *export_impostors(comps.impostor[imp_mask], imp, cfg)))
        used[label] = imp_label
        compared[label] = (rv, pv, comps.genuine[compared_mask(ref, probe, comps.genuine)])  # gen's pairs, in order

    role_of = {}
    for smp in ds.references + ds.probes:  # in pairs protocols an image can be on both sides
        role, subject = role_of.get(smp.rel, ("", smp.subject))
        role_of[smp.rel] = (smp.role if not role or role == smp.role else "reference+probe", subject)
    samples = []
    for (rel, vname), a in sorted(acqs.items()):
        role, subject = role_of.get(rel, ("", ""))
        d = a.detection
        samples.append({"variant": vname, "role": role, "subject": subject, "path": rel, "acquired": a.ok,
                        "failure_kind": "" if a.ok else a.kind, "reason": a.reason or "", "det_score": "" if d is None else round(float(d.score), 4),
                        "n_faces": "" if d is None else d.n_faces,
                        "bbox": "" if d is None else " ".join(f"{v:.1f}" for v in d.bbox)})
    failures = [{**{k: x[k] for k in ("variant", "role", "subject", "path", "reason")}, "kind": x["failure_kind"]}
                for x in samples if not x["acquired"]]

    table1 = {"dataset": ds.name, "subjects": len(subjects), "references": len(ds.references),
              "probes": len(ds.probes), "genuine": int(len(comps.genuine)), "impostor": int(len(comps.impostor))}
    context = {
        "dataset": {**ds.summary(), "settings": ds.settings, "excluded": ds.excluded, "ignored": ds.ignored,
                    "problems": ds.problems},
        "comparisons": comps.summary(),
        "system": description,
        "system_choice": system_note,
        "colourisers": {c.name: c.settings() for c in colourisers},
        "scenario_set": {"name": sset.name, "source": sset.source, "baseline": sset.baseline,
                         "definitions": {k: v.__dict__ for k, v in sset.scenarios.items()}},
        "thresholds": {str(f): {"threshold": t, "fmr_achieved": M.fmr_at(base_imp, t),
                                "impostors_allowed": int(np.floor(f * base_imp.size + 1e-9)),
                                "n_impostor": int(base_imp.size)} for f, t in thresholds.items()},
        "baseline_impostor_failed_pairs": int(len(comps.impostor) - base_imp.size),
        "engine": stats.as_dict(),
        "wall_time_s": time.perf_counter() - t0,
    }
    quality = {}
    if estimators:
        quality = quality_figures(ds, estimators, qvals, sorted(needed), scores, compared, thresholds[fmr],
                                  float(cfg.get("edc", {}).get("max_discard", 0.2)))
        context["quality"] = {e.name: {"unit": e.unit, "higher_is_better": e.higher_is_better,
                                       "settings": e.settings()} for e in estimators}
    ids = tuple(np.array(x, dtype=object) for x in ([s.rel for s in ds.references], [s.rel for s in ds.probes],
                                                     [s.subject for s in ds.references], [s.subject for s in ds.probes]))
    return RunResult(rows=rows, table1=table1, failures=failures, samples=samples, scores=scores, context=context,
                     comparisons=records, used_impostors=used, ids=ids,
                     examples=examples, quality=quality)


def export_impostors(pairs: np.ndarray, scores: np.ndarray, cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """The impostor comparisons the score export writes: ``report.export_impostors`` = ``all``,
    ``sample`` (a seeded uniform sample of ``report.export_sample``) or ``none``."""
    rep = cfg.get("report") or {}
    how = str(rep.get("export_impostors", "all"))
    if how == "none":
        return pairs[:0], scores[:0]
    if how == "sample" and len(scores) > int(rep.get("export_sample", 100000)):
        keep = np.sort(np.random.default_rng(int(cfg.get("seed", 0))).choice(
            len(scores), int(rep.get("export_sample", 100000)), replace=False))
        return pairs[keep], scores[keep]
    return pairs, scores


def quality_figures(ds, estimators, qvals, needed, scores, compared, threshold: float, max_discard: float) -> dict:
    """Table 2 (per variant and estimator, over the samples acquired in that variant), the values
    themselves (for the CDF), and per scenario row and estimator the error-versus-discard curve
    of its genuine comparisons (pair quality = the lower of the two samples' utilities).
    ``scores[row]["genuine"]`` are the row's genuine scores, ``compared[row]`` its (reference
    variant, probe variant, the (reference, probe) index pairs of those scores)."""
    names = [e.name for e in estimators]
    variants = sorted({v for _, v in needed}, key=lambda v: (v != "original", v != "greyscale", v))
    values, table2 = {}, []
    for v in variants:
        used = (ds.references if ("reference", v) in needed else []) + (ds.probes if ("probe", v) in needed else [])
        smp = {s.rel: s for s in used}.values()  # the samples this variant was made of; an image counts once
        for e in estimators:
            got = [qvals.get((s.rel, v), {}).get(e.name, (None, "not acquired")) for s in smp]
            x = np.array([g[0] for g in got if g[0] is not None], dtype=float)
            values[(v, e.name)] = x
            table2.append({"variant": v, "estimator": e.name, "unit": e.unit, "n_samples": len(got),
                           "n": int(x.size), "n_undefined": len(got) - int(x.size),
                           **({"mean": float(x.mean()), "median": float(np.median(x)), "std": float(x.std()),
                               "min": float(x.min()), "max": float(x.max())} if x.size else
                              {k: float("nan") for k in ("mean", "median", "std", "min", "max")})})

    def utilities(samples, variant, e):  # one per sample; -inf where undefined (discarded first)
        raw = np.array([qvals.get((s.rel, variant), {}).get(e.name, (None, None))[0] for s in samples], dtype=float)
        return np.where(np.isnan(raw), -np.inf, e.utility(raw))

    edc = []
    for label, (rv, pv, pairs) in compared.items():
        gen = scores[label]["genuine"]
        if gen.size == 0:
            continue
        for e in estimators:
            pair_q = np.fmin(utilities(ds.references, rv, e)[pairs[:, 0]], utilities(ds.probes, pv, e)[pairs[:, 1]])
            d, f = M.error_versus_discard(gen, pair_q, threshold)
            area = M.edc_area(d, f, max_discard)
            random_area = f[0] * max_discard
            at = f[np.searchsorted(d, max_discard, side="right") - 1]
            edc.append({"row": label, "estimator": e.name, "n_comparisons": int(gen.size),
                        "fnmr_at_0": float(f[0]), f"fnmr_at_{max_discard:g}": float(at), "area": area,
                        "area_random_discard": random_area,
                        "area_relative_to_random": area / random_area if random_area > 0 else float("nan"),
                        "discard": d, "fnmr": f})
    return {"table2": table2, "values": values, "edc": edc, "max_discard": max_discard, "names": names,
            "variants": variants}


def metadata_values(ds, comps, key: str, edges=None) -> np.ndarray:
    """The value of metadata field ``key`` for each genuine comparison: the probe's, else the
    reference's, else "". ``fold`` is the protocol's fold in pairs datasets. With bin ``edges``
    (ascending numbers) a numeric value becomes its interval's label, e.g. ``[30, 365)``."""
    if key == "fold" and comps.genuine_folds is not None:
        return np.array([str(f + 1) for f in comps.genuine_folds], dtype=object)
    if edges is not None:
        return np.array([bin_label(v, [float(e) for e in edges], key)
                         for v in metadata_values(ds, comps, key)], dtype=object)
    probe_meta = [dict(s.meta) for s in ds.probes]
    ref_meta = [dict(s.meta) for s in ds.references]
    known = sorted({k for m in probe_meta + ref_meta for k in m} | ({"fold"} if comps.genuine_folds is not None else set()))
    if key not in known:
        raise ConfigError(f"report.breakdown: {key} is not a metadata field of dataset {ds.name}; "
                          f"its fields: {', '.join(known) or 'none (this dataset keeps no metadata)'}")
    return np.array([probe_meta[p].get(key) or ref_meta[r].get(key) or "" for r, p in comps.genuine], dtype=object)


def bin_label(value: str, edges: list[float], key: str = "") -> str:
    """The half-open interval of ``edges`` that holds ``value`` ("" stays ""), e.g. ``[1, 30)``."""
    if value == "":
        return ""
    if sorted(edges) != edges or len(edges) < 1:
        raise ConfigError(f"report.breakdown_bins.{key} must be ascending numbers, e.g. [0, 1, 30, 365]")
    try:
        x = float(value)
    except ValueError as exc:
        raise ConfigError(f"report.breakdown_bins.{key}: the value {value!r} is not a number") from exc
    fmt = "{:g}".format
    if x < edges[0]:
        return f"< {fmt(edges[0])}"
    for lo, hi in zip(edges, edges[1:]):
        if lo <= x < hi:
            return f"[{fmt(lo)}, {fmt(hi)})"
    return f">= {fmt(edges[-1])}"


def colourisation_examples(ds, colourised, store, n: int) -> list:
    """For the first ``n`` subjects: their reference and first probe as original, greyscale and
    each colourisation (read from the store's kept images), as in the paper's Fig. 2."""
    from .colourisers.base import ColourisationFailed
    from .engine import variant_image
    from .images import ImageLoadError, ImageReadError, greyscale_rec709, load_image

    probes = {}
    for p in ds.probes:
        probes.setdefault(p.subject, p)
    rows, shown = [], set()
    for ref in ds.references:
        if len(shown) >= n:
            break
        if ref.subject not in probes or ref.subject in shown:
            continue
        shown.add(ref.subject)
        for smp in (ref, probes[ref.subject]):
            try:
                rgb = load_image(smp.path)
            except ImageLoadError:
                continue
            sha = store.file_shas([smp.path])[smp.path]
            tiles = [("original", rgb), ("greyscale", greyscale_rec709(rgb))]
            for v in colourised:
                img = None
                try:  # the kept image; one that is missing or damaged is made again (and kept)
                    img = variant_image(smp, v, v.key(smp), sha, store.dir)
                except (ImageLoadError, ImageReadError, ColourisationFailed):  # shown as a "failed" tile
                    pass
                tiles.append((v.name, img))
            rows.append((f"{smp.subject} ({smp.role})", tiles))
    return rows
