"""``fr-eval compare reports/A reports/B``: two scenario runs on the same data (typically two face
systems) compared row by row on the same genuine attempts.

Each report brings its own threshold (fixed on its own baseline impostors at the FMR target both
runs share), so a row of B is compared with the same row of A attempt by attempt with
:func:`fr_eval.paired.compare_rows`: the FRR and FNMR differences with a paired subject-bootstrap
interval, a paired permutation test over subjects (Holm-adjusted over the rows), the attempts one
system rejects and the other accepts (counted), and the d' difference. The attempts are matched by their (reference, probe) images in the reports' score
exports (``scores/comparisons.parquet``); attempts that only one report holds are counted and left
out. The comparison writes ``compare.csv/.md``, ``metrics.json``, a DET of both systems' rows and
``report.html``.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import metrics as M
from ..errors import ConfigError
from ..evaluation import as_summary
from ..paired import adjust_family, compare_rows
from ..provenance import environment
from . import plots
from .html import Figure, Section, Table, Text, table_file, write_page
from .io import StagedDir, refuse_filled_out_dir, write_json
from .paired import paired_table


@dataclass
class Run:
    """What the comparison reads of one report folder."""
    folder: Path
    system: str
    dataset: str
    fmr: float
    threshold: float
    digest: str | None  # the sha256 over the run's images (dataset.settings.content_digest; None in older reports)
    n_images: tuple  # (references, probes)
    labels: list  # the rows, in the report's order
    genuine: dict  # row -> (attempt keys "reference|probe", scores with NaN for failed attempts, probe subjects)
    impostor: dict  # row -> the impostor scores (array) when kept whole, else their ImpostorSummary (None: absent)
    moments: dict  # row -> (mean, variance) of the impostor scores


def load_run(folder: str | Path) -> Run:
    """A scenario report's figures and exported genuine scores; a one-line error for anything else."""
    import pyarrow.parquet as pq

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
    return Run(folder, m["system"]["name"], m["table1"]["dataset"], fmr, float(m["thresholds"][str(fmr)]["threshold"]),
               digest, (m["table1"].get("references"), m["table1"].get("probes")), labels, genuine, impostor, moments)


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
    from ..streaming import ImpostorSummary

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


def compare_runs(a: Run, b: Run, bootstrap: dict) -> list[dict]:
    """B against A on every row both reports hold, each at its own threshold."""
    if a.fmr != b.fmr:
        raise ConfigError(f"fr-eval compare: the reports are at different FMR targets ({a.fmr:g} and {b.fmr:g}); "
                          f"compare runs made at the same fmr=")
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
                         int(idx.max()) + 1, a.threshold, a.moments[label], b.moments[label], bootstrap=bootstrap,
                         threshold_b=b.threshold, noun="")
        out.append(c)
        extra.append({"row": label, "attempts_only_in_a": only_a, "attempts_only_in_b": only_b})
    return [{**x, **c.as_dict()} for x, c in zip(extra, adjust_family(out))]


def write_compare_report(out: Path, a: Run, b: Run, comparisons: list[dict], config: dict) -> None:
    env = environment()
    write_json(out / "metrics.json", {
        "units": "every rate is a fraction in [0, 1] (not a percent); differences are B minus A",
        "a": _describe(a), "b": _describe(b), "comparisons": comparisons, "config": config, "environment": env})
    header, body = paired_table(comparisons)
    only = [f"row {c['row']}: {c['attempts_only_in_a']} attempts only in A, {c['attempts_only_in_b']} only in B "
            f"(left out)" for c in comparisons if c["attempts_only_in_a"] or c["attempts_only_in_b"]]
    notes = [f"A: {a.folder} ({a.system}, threshold {a.threshold:.4f}); B: {b.folder} ({b.system}, threshold "
             f"{b.threshold:.4f}); each threshold fixed by its own run on its own baseline impostors for FMR <= "
             f"{100 * a.fmr:g}%.",
             "Differences are B minus A, in percentage points (d' in its own units), over the genuine attempts both "
             "reports hold (matched by reference and probe image). FRR is the transaction-level one (the exports name "
             "attempts, not samples, so the sample-level FTA of Table 3 cannot be folded in). Intervals: percentile "
             "bootstrap resampling subjects, both systems' attempts of a subject kept together. Test: paired "
             "permutation over subjects (a subject's two systems swapped at random), Holm-adjusted over the rows "
             "compared. An interval that holds 0, or a Holm-adjusted p not below 1 - confidence, reads 'no clear "
             "difference'.", *only]
    notes += [c["sentence"] + "." for c in comparisons]  # the sentences open with the systems' names, as spelt
    table = table_file(out, "compare", header, body, "Two systems compared on the same genuine attempts", notes)
    sections = [Section("compare", "B against A, row by row", [table])]
    bands = config["bootstrap"] if config.get("det_bands") else None  # n_resamples, confidence, seed
    if _plot_det(out, a, b, comparisons, bands):
        sections.append(Section("det", "DET curves of both systems", [Figure(
            "det_compare.png", f"DET curves of each shared row for both systems (A: {a.system}, B: {b.system}), each "
            f"on its own impostor scores; open markers: each system's operating point at its own threshold for FMR "
            f"<= {100 * a.fmr:g}%." + plots.band_note(bands, "curve"))]))
    else:
        sections.append(Section("det", "DET curves of both systems", [Text([
            "Not drawn: a report's scores.npz lacks a row's impostor scores and their tail and histogram."])]))
    run = [("Command", config.get("command", "")), ("Date", env["date"]),
           ("A", f"{a.folder}: system {a.system}, dataset {a.dataset}"),
           ("B", f"{b.folder}: system {b.system}, dataset {b.dataset}"),
           ("Data", config.get("data", "")),
           ("Units", "rates in percent in this page; metrics.json holds fractions")]
    warn = [f"WARNING: the reports were made on different images: {config['data']}"] \
        if str(config.get("data", "")).startswith("DIFFERENT") else []
    write_page(out, "compare", title=f"fr-eval compare: {b.system} (B) against {a.system} (A)", sections=sections,
               config=config, env=env, system={"models": []}, run=run, warnings=warn,
               headline=Table(header[:6], [r[:6] for r in body], id="headline"),
               answers=[c["sentence"] + "." for c in comparisons])


def _describe(r: Run) -> dict:
    return {"folder": str(r.folder), "system": r.system, "dataset": r.dataset, "fmr": r.fmr, "threshold": r.threshold}


def _plot_det(out: Path, a: Run, b: Run, comparisons: list[dict], bands: dict | None = None) -> bool:
    """Each shared row's DET, A's and B's curve on one panel (each run's own compared attempts; with
    ``bands``, :func:`fr_eval.metrics.fnmr_band`'s keywords, their subject-bootstrap bands); False, and
    nothing drawn, when a report's scores.npz holds neither a row's impostor scores nor their summary."""
    rows = [c["row"] for c in comparisons]
    if any(r.impostor[label] is None for r in (a, b) for label in rows):
        return False
    fig, axes = plots.subplots(len(rows), 1, figsize=(9.0, 5.0 * len(rows)), squeeze=False)
    for ax, label in zip(axes[:, 0], rows):
        curves = []
        for tag, r in (("A", a), ("B", b)):
            _, g, subject = r.genuine[label]
            ok = np.isfinite(g)
            curves.append(plots.Curve(f"{tag}: {r.system}, scenario {label}", g[ok], as_summary(r.impostor[label]),
                                      r.threshold, np.unique(subject[ok], return_inverse=True)[1]))
        plots.draw_det(ax, curves, a.fmr, bands=bands)
        ax.set_title(f"scenario {label}", fontsize=9)
    fig.tight_layout()
    plots.save(fig, out / "det_compare.png")
    return True


def main(args: list[str]) -> int:
    """``fr-eval compare A B [out_dir=...] [bootstrap.n_resamples=...] [bootstrap.confidence=...] [seed=...]
    [report.det_bands=true]``."""
    from ..config import boolean, fraction, integer

    folders = [x for x in args if "=" not in x]
    opts = dict(x.split("=", 1) for x in args if "=" in x)
    unknown = sorted(set(opts) - {"out_dir", "bootstrap.n_resamples", "bootstrap.confidence", "seed",
                                  "report.det_bands", "allow_different_data", "overwrite"})
    if len(folders) != 2 or unknown:
        raise ConfigError("usage: fr-eval compare <report A> <report B> [out_dir=...] [bootstrap.n_resamples=N] "
                          "[bootstrap.confidence=0.95] [seed=0] [report.det_bands=true] [allow_different_data=true] "
                          "[overwrite=true]" + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    bootstrap = {"n_resamples": integer("bootstrap.n_resamples", opts.get("bootstrap.n_resamples", M.N_RESAMPLES), 1),
                 "confidence": fraction("bootstrap.confidence", opts.get("bootstrap.confidence", M.CONFIDENCE)),
                 "seed": integer("seed", opts.get("seed", 0))}
    a, b = load_run(folders[0]), load_run(folders[1])
    same_data = check_same_data(a, b, boolean("allow_different_data", opts.get("allow_different_data") or "false"))
    comparisons = compare_runs(a, b, bootstrap)
    out = Path(opts.get("out_dir") or Path("reports") / f"compare_{time.strftime('%Y-%m-%d_%H-%M-%S')}")
    refuse_filled_out_dir(out, boolean("overwrite", opts.get("overwrite") or "false"))
    config = {"command": "fr-eval compare " + " ".join(args), "a": str(a.folder), "b": str(b.folder),
              "out_dir": str(out), "bootstrap": bootstrap, "data": same_data,
              "det_bands": boolean("report.det_bands", opts.get("report.det_bands", "false"))}
    with StagedDir(out) as staging:
        write_compare_report(staging, a, b, comparisons, config)
    print((out / "compare.md").read_text())
    print(f"report: {out}")
    return 0
