"""``fr-eval compare reports/A reports/B [key=value ...]``, the thin shell: options parsed
(:func:`fr_eval.compose.compare_options`), the two reports read and compared
(:mod:`fr_eval.stages.compare_runs`), the report written (:mod:`fr_eval.report.compare`)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .compose import compare_options
from .report.compare import write_compare_report
from .report.io import StagedDir, refuse_filled_out_dir
from .stages.compare_runs import check_same_data, compare_runs, load_run


def main(args: list[str]) -> int:
    """``fr-eval compare A B [out_dir=...] [bootstrap.n_resamples=...] [bootstrap.confidence=...] [seed=...]
    [report.det_bands=true] [allow_different_data=true] [overwrite=true]``."""
    opts = compare_options(args)
    a, b = load_run(opts.a), load_run(opts.b)
    opts = replace(opts, a=str(a.folder), b=str(b.folder), data=check_same_data(a, b, opts.allow_different_data))
    comparisons = compare_runs(a, b, opts.bootstrap)
    out = Path(opts.out_dir)
    refuse_filled_out_dir(out, opts.overwrite)
    with StagedDir(out) as staging:
        write_compare_report(staging, a, b, comparisons, opts)
    print((out / "compare.md").read_text())
    print(f"report: {out}")
    return 0
