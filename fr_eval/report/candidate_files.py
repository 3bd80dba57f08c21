"""The report of identification figures from candidate lists (``fr-eval candidates=<file>``; the figures come
from :mod:`fr_eval.stages.candidate_import`): the same identification table, CMC, FNIR-FPIR plot, paired
comparisons and candidate lists as a ``protocol=identification`` run's."""
from __future__ import annotations

from pathlib import Path

from ..provenance import environment, run_date
from ..settings import Config, plain
from ..stages.candidate_import import CandidateImportResult
from . import numbers
from .html import Table, write_page
from .identification import metrics_entry, write_identification
from .io import write_config, write_json


def write_candidate_report(out: Path, result: CandidateImportResult, config: Config) -> None:
    ident, env = result.identification, environment()
    write_json(out / "metrics.json", {
        "units": "every rate is a fraction in [0, 1] (not a percent); scores are similarities (match if >=)",
        "source": {"kind": "candidate lists", "files": result.inputs}, "identification": metrics_entry(ident),
        **result.context, "config": plain(config), "environment": env})
    write_config(out, config)
    sections = write_identification(out, ident)
    split, how = ident.split, result.context.get("invocation") or {}
    first = next(iter(ident.thresholds))
    run = [("Command", how.get("command", "(a library call)")), ("Date", run_date(result.context, env)),
           ("Candidate lists", ", ".join(f"{i['path']} (sha256 {i['sha256'][:12]}...)" for i in result.inputs)),
           ("Gallery", f"{split['enrolled']} subjects" + ("" if split["gallery_size_given"] else
                                                          " (at least: the candidates seen; the file gives no "
                                                          "gallery_size)")),
           ("Operating points", "; ".join(f"T(FPIR<={numbers.fmr_label(t)}) = {r['threshold']:.4f} on row {split['baseline']}'s "
                                          f"{r['n_nonmated']} non-mated searches" for t, r in ident.thresholds.items()))]
    head = ["Row", "Mated searches", "Non-mated searches", "Rank-1 identification rate (%)",
            f"FNIR rank 1 at T(FPIR<={numbers.fmr_label(first)}) (%)"]
    body = [[r["label"], str(r["mated_searches"]), str(r["nonmated_searches"]), numbers.pct(r["rank1"], r["mated_searches"]),
             numbers.pct(r["at_fpir"][first]["fnir_rank1"], r["mated_searches"])] for r in ident.rows]
    write_page(out, "scores", title=f"fr-eval report: identification from candidate lists ({split['source']})",
               sections=sections, config=plain(config), env=env, system={"models": []}, run=run,
               warnings=list(result.context.get("warnings") or []), headline=Table(head, body, id="headline"))
