"""``fr-eval compare reports/A reports/B``, the figures: two scenario runs on the same data (typically two
face systems) read back from their report folders and compared row by row on the same genuine attempts.

Each report brings its own threshold (fixed on its own baseline impostors at the FMR target both
runs share), so a row of B is compared with the same row of A attempt by attempt with
:func:`fr_eval.paired.compare_rows`: the FRR and FNMR differences with a paired subject-bootstrap
interval, a paired permutation test over subjects (Holm-adjusted over the rows), the attempts one
system rejects and the other accepts (counted), and the d' difference. The attempts are matched by
their (reference, probe) images in the reports' score exports (``scores/comparisons.parquet``);
attempts that only one report holds are counted and left out."""
from __future__ import annotations

import json
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from ..errors import ConfigError
from .. import metrics
from ..paired import adjust_family, compare_rows
from ..settings import Report
from ..streaming import ImpostorSummary


@dataclass
class Run:
    """What the comparison reads of one report folder."""
    folder: Path
    system: str
    dataset: str
    fmr: float  # the run's FMR target (config fmr)
    thresholds: dict  # FMR target -> the run's threshold for it (fmr and fmr_extra)
    supported: dict  # FMR target -> whether the run's baseline impostors support it (report.min_false_matches)
    min_subjects: int  # the run's report.min_subjects
    digest: str | None  # the sha256 over the run's images (dataset.settings.content_digest; None in older reports)
    n_images: tuple  # (references, probes)
    labels: list  # the rows, in the report's order
    genuine: dict  # row -> (attempt keys "reference|probe", scores with NaN for failed attempts, probe subjects)
    impostor: dict  # row -> the impostor scores (array) when kept whole, else their ImpostorSummary (None: absent)
    moments: dict  # row -> (mean, variance) of the impostor scores


def load_run(folder: str | Path) -> Run:
    """A scenario report's figures and exported genuine scores; a one-line error for anything else."""
    folder = Path(folder).expanduser()
    mpath, export = folder / "metrics.json", folder / "scores" / "comparisons.parquet"
    if not mpath.is_file():
        raise ConfigError(f"fr-eval compare: {folder} holds no metrics.json (give a report folder)")
    m = json.loads(mpath.read_text())
    if "table1" not in m or "thresholds" not in m:
        raise ConfigError(f"fr-eval compare: {folder} is not the report of a scenario run")
    if not export.is_file():
        raise ConfigError(f"fr-eval compare: {folder} has no scores/comparisons.parquet (the run had "
                          f"report.export=false; run it again with report.export=true)")
    fmr = float(m["config"]["fmr"])
    # the run's own report settings; a report older than a setting takes today's default (settings.Report)
    recorded = {**dataclasses.asdict(Report()), **(m["config"].get("report") or {})}
    n_impostor = int((m.get("impostor_scores") or {}).get("n", 0))
    least = int(recorded["min_false_matches"])
    thresholds = {float(f): float(r["threshold"]) for f, r in m["thresholds"].items()}
    # older reports carry no "supported" flag: it is worked out from the baseline's impostor count as the run would
    supported = {float(f): bool(r["supported"]) if "supported" in r else metrics.fmr_supported(float(f), n_impostor, least)
                 for f, r in m["thresholds"].items()}
    t = pq.read_table(export, columns=["row", "kind", "reference", "probe", "probe_subject", "score"]).to_pydict()
    row, kind = np.array(t["row"], dtype=object), np.array(t["kind"], dtype=object)
    keys = np.char.add(np.char.add(np.array(t["reference"], dtype=str), "|"), np.array(t["probe"], dtype=str))
    subj, score = np.array(t["probe_subject"], dtype=str), np.array(t["score"], np.float64)
    labels = [r["label"] for r in m["rows"]]
    genuine = {}
    for label in labels:
        sel = (row == label) & (kind == "genuine")
        genuine[label] = (keys[sel], score[sel], subj[sel])
    impostor, moments = {}, {}
    with np.load(folder / "scores.npz") as npz:
        for label in labels:
            if f"{label}|impostor_from" in npz.files:  # another row's (the baseline's): taken below
                continue
            if f"{label}|impostor" in npz.files:
                imp = npz[f"{label}|impostor"].astype(np.float64)
                impostor[label], moments[label] = imp, (float(imp.mean()), float(imp.var()))
            else:  # streamed: the summary the run kept, rebuilt (its DET is the run's own)
                n, mean, m2 = npz[f"{label}|impostor_moments"]
                moments[label] = (float(mean), float(m2 / n))
                impostor[label] = streamed_summary(npz, label, n, mean, m2)
        for label in labels:
            if f"{label}|impostor_from" in npz.files:
                src = str(npz[f"{label}|impostor_from"])
                impostor[label], moments[label] = impostor.get(src), moments.get(src, (float("nan"), float("nan")))
    digest = ((m.get("dataset") or {}).get("settings") or {}).get("content_digest")
    return Run(folder, m["system"]["name"], m["table1"]["dataset"], fmr, thresholds, supported,
               int(recorded["min_subjects"]), digest,
               (m["table1"].get("references"), m["table1"].get("probes")), labels, genuine, impostor, moments)


def check_same_data(a: Run, b: Run, allow: bool) -> str:
    """One line when the two reports were made on different images (their content digests differ, or,
    for reports without one, their dataset names or image counts), unless ``allow``; returns what
    the comparison can say of it."""
    if a.digest and b.digest:
        same, how = a.digest == b.digest, "the same images (content digest " + a.digest[:12] + "...)"
        what = f"content digests {a.digest[:12]}... and {b.digest[:12]}..."
    else:
        same = (a.dataset, a.n_images) == (b.dataset, b.n_images)
        how = f"dataset {a.dataset} with {a.n_images[0]} references and {a.n_images[1]} probes in both (no content digest)"
        what = f"datasets {a.dataset} ({a.n_images[0]}+{a.n_images[1]} images) and {b.dataset} ({b.n_images[0]}+{b.n_images[1]})"
    if same:
        return how
    if not allow:
        raise ConfigError(f"fr-eval compare: the reports were made on different images ({what}); a paired "
                          f"comparison needs the same attempts; give allow_different_data=true to compare the "
                          f"attempts they share anyway")
    return f"DIFFERENT images ({what}; allow_different_data=true): only the attempts both hold are compared"


def streamed_summary(npz, label: str, n, mean, m2):
    """A streamed row's :class:`~fr_eval.streaming.ImpostorSummary` from the report's scores.npz; None
    where the file lacks its tail or histogram."""
    parts = [f"{label}|impostor_{k}" for k in ("tail", "histogram", "histogram_range")]
    if not all(p in npz.files for p in parts):
        return None
    tail, hist, rng = (npz[p] for p in parts)
    try:
        return ImpostorSummary.from_parts(n, mean, m2, hist, tail, rng)
    except ValueError as exc:
        raise ConfigError(f"fr-eval compare: scores.npz row {label}: {exc}") from exc


def align(a: tuple, b: tuple) -> tuple:
    """The attempts both reports hold, in A's order: (scores of A, scores of B, probe subjects,
    attempts only in A, attempts only in B)."""
    ka, kb = a[0], b[0]
    pos_b = {k: i for i, k in enumerate(kb)}
    ia = np.array([i for i, k in enumerate(ka) if k in pos_b], int)
    ib = np.array([pos_b[ka[i]] for i in ia], int)
    return a[1][ia], b[1][ib], a[2][ia], int(ka.size - ia.size), int(kb.size - ib.size)


def operating_point(a: Run, b: Run) -> tuple[float, bool]:
    """The FMR target the two runs are compared at, the rule of a run's own paired rows
    (:func:`fr_eval.stages.evaluate.compared_fmr`) applied to both: their shared ``fmr`` where both runs'
    impostors support it, else the strictest target both hold and support that is looser, else ``fmr``,
    unsupported (every figure then carries the dagger and no conclusion is drawn)."""
    if a.fmr != b.fmr:
        raise ConfigError(f"fr-eval compare: the reports are at different FMR targets ({a.fmr:g} and {b.fmr:g}); "
                          f"compare runs made at the same fmr=")
    def ok(f):
        return a.supported.get(f, False) and b.supported.get(f, False)
    if ok(a.fmr):
        return a.fmr, True
    looser = sorted(f for f in a.thresholds if f > a.fmr and f in b.thresholds and ok(f))
    return (looser[0], True) if looser else (a.fmr, False)


def compare_runs(a: Run, b: Run, bootstrap: dict) -> list[dict]:
    """B against A on every row both reports hold, each at its own threshold for the FMR target of
    :func:`operating_point`."""
    fmr, supported = operating_point(a, b)
    shared = [label for label in a.labels if label in b.labels]
    if not shared:
        raise ConfigError(f"fr-eval compare: the reports share no row (A: {', '.join(a.labels)}; B: "
                          f"{', '.join(b.labels)})")
    out, extra = [], []
    for label in shared:
        ga, gb, subj, only_a, only_b = align(a.genuine[label], b.genuine[label])
        if ga.size == 0:
            raise ConfigError(f"fr-eval compare: row {label} shares no genuine attempt between the reports (not the "
                              f"same data: {a.dataset} and {b.dataset})")
        _, idx = np.unique(subj, return_inverse=True)
        c = compare_rows(f"{a.system} (A), scenario {label}", f"{b.system} (B), scenario {label}", ga, gb, idx,
                         int(idx.max()) + 1, a.thresholds[fmr], a.moments[label], b.moments[label],
                         bootstrap=bootstrap, threshold_b=b.thresholds[fmr], noun="", min_subjects=a.min_subjects,
                         operating_point=f"FMR<={100 * fmr:g}%", supported=supported, fmr=fmr)
        out.append(c)
        extra.append({"row": label, "attempts_only_in_a": only_a, "attempts_only_in_b": only_b})
    return [{**x, **c.as_dict()} for x, c in zip(extra, adjust_family(out))]
