"""Score import (``fr-eval scores=<file> format=...``): figures from score files, no images and no face
system. The scores enter at the evaluate stage (:func:`fr_eval.evaluation.evaluate_table`, the same
:func:`~fr_eval.evaluation.row_figures` as every scenario run)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, FrEvalError
from ..evaluation import TableEvaluation, evaluate_table, separation_warnings
from ..scores import read_scores, repeated_comparisons
from ..settings import Config
from ..store import sha256_file
from .differentials import score_differentials
from .plan import parse_fmrs


@dataclass
class ScoreImportResult:
    evaluation: TableEvaluation
    inputs: list[dict]
    score_kind: str
    fmt: str
    context: dict = field(default_factory=dict)
    differentials: object = None  # report.differentials: stages.differentials.Differentials


def import_scores(cfg: Config, *, progress: bool = True) -> ScoreImportResult:
    """Read the score files ``cfg.scores`` names and evaluate them (``progress``: accepted like the other
    runs' entry points; nothing here takes long enough to show one)."""
    paths = list(cfg.scores) if isinstance(cfg.scores, (list, tuple)) else [cfg.scores]
    fmt = cfg.format or guess_format(paths)
    table = read_scores(paths, fmt, cfg.score_kind)
    table, duplicates = drop_repeated(table, cfg.score_duplicates, paths)
    fmr, fmrs = parse_fmrs(cfg)
    ev = evaluate_table(table, fmr=fmr, fmrs=fmrs, bootstrap=cfg.intervals(), baseline=cfg.score_baseline)
    inputs = [{"path": str(Path(p).resolve()), "bytes": Path(p).stat().st_size, "sha256": sha256_file(p)}
              for p in paths]
    diff = score_differentials(table, ev, cfg) if cfg.report.differentials else None
    return ScoreImportResult(evaluation=ev, inputs=inputs, score_kind=cfg.score_kind, fmt=fmt,
                             context={"duplicates": duplicates, "warnings": score_warnings(ev, cfg.score_kind, fmt)
                                      + (diff.notes if diff is not None else [])},
                             differentials=diff)


def drop_repeated(table, policy: str, paths):
    """The table without repeated comparisons (``score_duplicates=drop``), or a one-line error
    (``error``); and what was found, for the report."""
    rep, checked = repeated_comparisons(table)
    n = int(rep.sum())
    found = {"checked": checked, "policy": policy, "n_repeated": n,
             **({} if checked else {"why_not": "the files do not name the compared samples"})}
    if n and policy == "error":
        i = int(np.flatnonzero(rep)[0])
        raise FrEvalError(f"scores={paths[0]}: {n} comparison(s) are listed more than once (the same row, reference "
                          f"and probe; first: row {table.row[i]}, {table.reference[i]} vs {table.probe[i]}); each "
                          f"would count twice; give score_duplicates=drop to keep the first of each")
    return (table.select(~rep) if n else table), found


def score_warnings(ev, score_kind: str, fmt: str) -> list[str]:
    """Figures that say the scores were read the wrong way round: genuine below impostor on average,
    or a d' under :data:`~fr_eval.evaluation.LOW_D_PRIME`."""
    hint = ("the two pyeer files in the wrong order (scores=[genuine.txt,impostor.txt])" if fmt == "pyeer" else
            "the genuine and impostor labels swapped")
    read, other = (("distances read as similarities", "distance") if score_kind == "similarity" else
                   ("similarities read as distances", "similarity"))
    return separation_warnings(ev.rows, f"{read}? (score_kind={score_kind}; give score_kind={other} if so), or {hint}")


def guess_format(paths) -> str:
    name = str(paths[0]).lower()
    if len(paths) == 2:
        return "pyeer"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    raise ConfigError(f"format= must be given for {paths[0]}: choose from csv, parquet, bob4, bob5, pyeer")
