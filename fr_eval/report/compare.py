"""The report of ``fr-eval compare reports/A reports/B`` (the figures: :mod:`fr_eval.stages.compare_runs`):
two scenario runs on the same data (typically two face systems) compared row by row on the same genuine
attempts.

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

from pathlib import Path

import numpy as np

from ..evaluation import as_summary
from ..provenance import environment
from ..stages.compare_runs import Run
from . import plots
from .html import Figure, Section, Table, Text, table_file, write_page
from .io import write_json
from .paired import paired_table


def write_compare_report(out: Path, a: Run, b: Run, comparisons: list[dict], opts) -> None:
    """The comparison's files: compare.csv/.md, metrics.json, the DET of both systems' rows, report.html.
    ``opts``: what ``fr-eval compare`` was given (:class:`fr_eval.compose.CompareOptions`)."""
    env = environment()
    write_json(out / "metrics.json", {
        "units": "every rate is a fraction in [0, 1] (not a percent); differences are B minus A",
        "a": _describe(a), "b": _describe(b), "comparisons": comparisons, "config": opts.record(), "environment": env})
    header, body = paired_table(comparisons)
    fmr, supported = comparisons[0]["fmr"], comparisons[0]["supported"]  # one operating point for every row
    point = (f"FMR <= {100 * fmr:g}%" + ("" if supported else "\u2020") +
             (f" (the runs' FMR {100 * a.fmr:g}% rests on too few impostor comparisons in at least one run)"
              if fmr != a.fmr else ""))
    only = [f"row {c['row']}: {c['attempts_only_in_a']} attempts only in A, {c['attempts_only_in_b']} only in B "
            f"(left out)" for c in comparisons if c["attempts_only_in_a"] or c["attempts_only_in_b"]]
    notes = [f"A: {a.folder} ({a.system}, threshold {a.thresholds[fmr]:.4f}); B: {b.folder} ({b.system}, threshold "
             f"{b.thresholds[fmr]:.4f}); each threshold fixed by its own run on its own baseline impostors for "
             f"{point}.",
             *([] if supported else [f"\u2020 Unsupported operating point: FMR <= {100 * fmr:g}% allows fewer than "
                                     f"report.min_false_matches false matches among a run's impostor comparisons, so "
                                     f"its threshold rests on the top few impostor scores; no row draws a conclusion "
                                     f"at it."]),
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
    bands = opts.bootstrap if opts.det_bands else None  # n_resamples, confidence, seed
    if _plot_det(out, a, b, comparisons, fmr, bands, supported):
        sections.append(Section("det", "DET curves of both systems", [Figure(
            "det_compare.png", f"DET curves of each shared row for both systems (A: {a.system}, B: {b.system}), each "
            f"on its own impostor scores; open markers: each system's operating point at its own threshold for "
            f"{point}." + plots.band_note(bands, "curve"))]))
    else:
        sections.append(Section("det", "DET curves of both systems", [Text([
            "Not drawn: a report's scores.npz lacks a row's impostor scores and their tail and histogram."])]))
    run = [("Command", opts.command), ("Date", env["date"]),
           ("A", f"{a.folder}: system {a.system}, dataset {a.dataset}"),
           ("B", f"{b.folder}: system {b.system}, dataset {b.dataset}"),
           ("Data", opts.data),
           ("Compared at", point),
           ("Units", "rates in percent in this page; metrics.json holds fractions")]
    warn = [f"WARNING: the reports were made on different images: {opts.data}"] if opts.data.startswith("DIFFERENT") else []
    write_page(out, "compare", title=f"fr-eval compare: {b.system} (B) against {a.system} (A)", sections=sections,
               config=opts.record(), env=env, system={"models": []}, run=run, warnings=warn,
               headline=Table(header[:6], [r[:6] for r in body], id="headline"),
               answers=[c["sentence"] + "." for c in comparisons])


def _describe(r: Run) -> dict:
    return {"folder": str(r.folder), "system": r.system, "dataset": r.dataset, "fmr": r.fmr,
            "thresholds": {str(f): t for f, t in r.thresholds.items()},
            "supported": {str(f): s for f, s in r.supported.items()}}


def _plot_det(out: Path, a: Run, b: Run, comparisons: list[dict], fmr: float, bands: dict | None = None,
              supported: bool = True) -> bool:
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
                                      r.thresholds[fmr], np.unique(subject[ok], return_inverse=True)[1]))
        plots.draw_det(ax, curves, fmr, bands=bands, supported=supported)
        ax.set_title(f"scenario {label}", fontsize=9)
    fig.tight_layout()
    plots.save(fig, out / "det_compare.png")
    return True
