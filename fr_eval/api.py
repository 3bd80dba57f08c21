"""fr-eval from Python: the same arguments as the command line, typed results.

    import fr_eval
    ev = fr_eval.evaluate(scenario="all", system="sface", dataset={"root": "/data/lfw_small"})
    ev.row("4 [exemplar]")["frr"]          # a fraction
    ev.write_report("reports/mine")        # the folder the command would write

Keyword arguments become ``key=value`` overrides (nested dicts become dotted keys, lists stay
lists); positional strings are passed as they are (``"fmr_extra=[0.01]"``, ``"+my.key=1"``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _value(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "null"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_value(x) for x in v) + "]"
    return str(v)


def overrides_of(args: tuple, keys: dict, prefix: str = "") -> list[str]:
    out = list(args)
    for k, v in keys.items():
        if isinstance(v, dict):
            out += overrides_of((), v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}={_value(v)}")
    return out


def _config(args, keys) -> dict:
    """The resolved configuration; a bad key or value is one :class:`~fr_eval.errors.ConfigError`
    line, as on the command line (not Hydra's own exception)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from .cli import _one_line, resolve_config
    from .errors import ConfigError

    overrides = overrides_of(args, keys)
    try:
        return resolve_config(overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_one_line(exc, overrides)) from None


@dataclass(frozen=True)
class Evaluation:
    """A scenario run: ``rows`` (one dict of figures per Table 3 row, fractions, as metrics.json
    holds them), ``thresholds`` ({FMR: threshold}, fixed on the baseline's impostors), ``scores``
    ({row: {"genuine": array, "impostor": fr_eval.streaming.ImpostorSummary, "subject": each genuine score's
    subject index}}: ``.scores`` holds every
    impostor score when they were kept whole, ``.tail()`` the highest otherwise), ``config`` (the
    resolved configuration) and
    ``result`` (everything the report is written from)."""

    rows: list
    thresholds: dict
    scores: dict
    config: dict
    result: object

    @property
    def settings(self):
        """The configuration typed: :class:`fr_eval.settings.Config` (``.fmr``, ``.bootstrap.n_resamples``,
        ``.system.det_thresh``, ...)."""
        from .settings import typed
        return typed(self.config)

    @property
    def comparisons(self) -> list:
        """The paired comparisons of rows (``report.compare``): one dict per pair, as metrics.json
        holds them under ``paired_comparisons``."""
        return self.result.row_comparisons

    def row(self, label: str) -> dict:
        for r in self.rows:
            if r["label"] == label:
                return r
        raise KeyError(f"no row {label!r}; rows: {', '.join(r['label'] for r in self.rows)}")

    def write_report(self, out_dir: str | Path | None = None) -> Path:
        """Write the report bundle (staged, as the command does) and return its folder."""
        return _write(self.result, self.config, out_dir, "scenarios")


@dataclass(frozen=True)
class Audit:
    """A generator audit: ``methods`` (ranked rows of figures), ``overall``, ``images`` (one dict
    per generated image), ``config`` and ``result``."""

    methods: list
    overall: dict
    images: list
    config: dict
    result: object

    settings = Evaluation.settings

    def write_report(self, out_dir: str | Path | None = None) -> Path:
        return _write(self.result, self.config, out_dir, "audit")


def _write(result, cfg: dict, out_dir, kind: str) -> Path:
    from .report.io import StagedDir

    from .cli import recorded_config
    from .report.io import refuse_filled_out_dir

    cfg = recorded_config({**cfg, "out_dir": str(Path(out_dir).resolve()) if out_dir else cfg["out_dir"]}, result)
    refuse_filled_out_dir(Path(cfg["out_dir"]), bool(cfg.get("overwrite")))
    with StagedDir(cfg["out_dir"]) as staging:
        if kind == "audit":
            from .report.audit import write_audit_report
            write_audit_report(staging, result, cfg)
        else:
            from .report import write_report
            write_report(staging, result, cfg)
    return Path(cfg["out_dir"])


def evaluate(*overrides: str, progress: bool = False, **keys) -> Evaluation:
    """Run the configured scenarios (as ``fr-eval`` does) and return the figures."""
    from .provenance import utc_now
    from .runner import run

    cfg = _config(overrides, keys)
    started = utc_now()
    result = run(cfg, progress=progress)
    result.context["started"] = started
    thresholds = {float(f): t["threshold"] for f, t in result.context["thresholds"].items()}
    return Evaluation(rows=result.rows, thresholds=thresholds, scores=result.scores, config=cfg, result=result)


def audit(*overrides: str, progress: bool = False, **keys) -> Audit:
    """The identity-preservation audit of generated images (``scenario=generated``)."""
    from .auditing import run_audit

    from .provenance import utc_now

    keys.setdefault("scenario", "generated")
    cfg = _config(overrides, keys)
    started = utc_now()
    result = run_audit(cfg, progress=progress)
    result.context["started"] = started
    return Audit(methods=result.groups["method"], overall=result.overall, images=result.images, config=cfg,
                 result=result)


def scores_table(genuine, impostor, *, fmr: float = 0.001) -> dict:
    """Threshold, FNMR, d' and EER of two score arrays (similarities), without files: a shortcut
    through the same :func:`fr_eval.evaluation.row_figures` as every run."""
    from .evaluation import RowScores, row_figures
    from .metrics import threshold_at_fmr

    imp = np.asarray(impostor, np.float64)
    figures, _ = row_figures(RowScores(genuine=np.asarray(genuine, np.float64), impostor=imp),
                             thresholds={fmr: threshold_at_fmr(imp, fmr)}, fmr_target=fmr, bootstrap={})
    return figures
