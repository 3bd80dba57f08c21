"""fr-eval from Python: the same arguments as the command line, typed results.

    import fr_eval
    ev = fr_eval.evaluate(scenario="all", system="sface", dataset={"root": "/data/lfw_small"})
    ev.row("4 [exemplar]")["frr"]          # a fraction
    ev.write_report("reports/mine")        # the folder the command would write

Keyword arguments become ``key=value`` overrides (nested dicts become dotted keys, lists stay
lists); positional strings are passed as they are (``"fmr_extra=[0.01]"``, ``"+my.key=1"``).
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from .auditing import run_audit
from .compose import _one_line, recorded_config, resolve_config
from .errors import ConfigError
from .evaluation import RowScores, row_figures
from .metrics import threshold_at_fmr
from .provenance import utc_now
from .report import plots, write_report
from .report.audit import write_audit_report
from .report.io import StagedDir, refuse_filled_out_dir
from .report.numbers import with_interval
from .runner import run
from .settings import Config


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


def _config(args, keys) -> Config:
    """The resolved configuration; a bad key or value is one :class:`~fr_eval.errors.ConfigError`
    line, as on the command line (not Hydra's own exception)."""
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
    resolved configuration, :class:`fr_eval.settings.Config`: ``.fmr``, ``.bootstrap.n_resamples``,
    ``.system.det_thresh``, ...) and ``result`` (everything the report is written from)."""

    rows: list
    thresholds: dict
    scores: dict
    config: Config
    result: object

    @property
    def settings(self) -> Config:
        """The configuration (the same object as :attr:`config`; kept for code written against 0.x)."""
        return self.config

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

    def table3(self):
        """Table 3 as a pandas DataFrame, one row per Table 3 row (index: its label): d', the rates as
        fractions (not percents) with their 95% interval in ``<rate>_low`` / ``<rate>_high``, the
        threshold, the achieved FMR and the counts."""
        out = []
        for r in self.rows:
            line = {"label": r["label"], "d_prime": r["d_prime"]}
            for k in RATES:
                iv = (r.get("intervals") or {}).get(k) or {}
                line.update({k: r[k], f"{k}_low": iv.get("low"), f"{k}_high": iv.get("high")})
            line.update({k: r[k] for k in ("eer", "threshold", "fmr_achieved", "n_samples", "n_failed", "n_genuine",
                                            "n_genuine_compared", "n_impostor")})
            out.append(line)
        return pd.DataFrame(out).set_index("label")

    def comparisons_table(self):
        """The paired comparisons of rows as a DataFrame (fractions): the FRR compared (its definition),
        its difference with the paired subject-bootstrap interval, the permutation test over subjects
        and its Holm adjustment, the FNMR and d' differences, the subjects, and the sentence."""
        return pd.DataFrame([{
            "a": c["a"], "b": c["b"], "subjects": c["n_subjects"], "attempts": c["n_attempts"],
            "frr_definition": c["frr_definition"], "frr_a": c["frr_a"], "frr_b": c["frr_b"],
            "frr_difference": c["frr_difference"], "frr_low": c["frr_interval"]["low"],
            "frr_high": c["frr_interval"]["high"], "p": c["frr_test"].get("p_value"),
            "p_holm": c["frr_test"].get("p_holm"), "fnmr_difference": c["fnmr_difference"],
            "d_prime_difference": c["d_prime_difference"], "small_sample": c["small_sample"],
            "sentence": c["sentence"]} for c in self.comparisons])

    def identification_table(self):
        """``protocol=identification``: one row per scenario row (index: its label) as a pandas DataFrame of
        fractions: gallery and search counts, rank-1 with its 95% interval, rank-R, and per FPIR target the
        threshold, FPIR and FNIR at rank 1 (columns ``fpir@<target>``, ``fnir_rank1@<target>``,
        ``threshold@<target>``). Raises when the run was not an identification run."""
        ident = self.result.identification
        if ident is None:
            raise ValueError("this run has no identification figures: run it with protocol=identification")
        out = []
        for r in ident.rows:
            R = ident.split["max_rank"]
            line = {"label": r["label"], "gallery_size": r["gallery_size"], "mated_searches": r["mated_searches"],
                    "nonmated_searches": r["nonmated_searches"], "mated_fta": r["mated_fta"], "rank1": r["rank1"],
                    "rank1_low": r["rank1_interval"]["low"], "rank1_high": r["rank1_interval"]["high"],
                    f"rank{R}": r[f"rank{R}"]}
            for t, a in r["at_fpir"].items():
                line.update({f"threshold@{t:g}": a["threshold"], f"fpir@{t:g}": a["fpir"],
                             f"fnir_rank1@{t:g}": a["fnir_rank1"]})
            out.append(line)
        return pd.DataFrame(out).set_index("label")

    def _repr_html_(self) -> str:
        """In Jupyter: the headline (Table 3's paper columns in percent with their intervals), the
        answers to the paired comparisons, and the DET."""
        rows = "".join(
            f"<tr><td>{html.escape(r['label'])}</td><td>{r['d_prime']:.3f}</td>"
            + "".join(f"<td>{html.escape(with_interval(r[k], r['intervals'].get(k), n))}</td>"
                      for k, n in (("fta", r["n_samples"]), ("fnmr", r["n_genuine_compared"]), ("frr", r["n_genuine"])))
            + "</tr>" for r in self.rows)
        answers = "".join(f"<li>{html.escape(c['sentence'])}</li>" for c in self.comparisons)
        fmr = self.config.fmr
        fig, ax = plots.subplots(figsize=(8.5, 4.6))
        plots.plot_det(self.scores, self.result.context, fmr, None, ax=ax,
                       styles={r["label"]: i for i, r in enumerate(self.rows)})
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        img = base64.b64encode(buf.getvalue()).decode()
        return (f"<p><strong>fr-eval</strong>: {html.escape(str(self.result.table1['dataset']))}, system "
                f"{html.escape(str(self.result.context['system']['name']))}; rates in percent, 95% intervals in "
                f"brackets; threshold for FMR &lt;= {100 * fmr:g}%</p><table><tr><th>Row</th><th>d'</th><th>FTA</th>"
                f"<th>FNMR</th><th>FRR</th></tr>{rows}</table>" + (f"<ul>{answers}</ul>" if answers else "")
                + f'<img src="data:image/png;base64,{img}" alt="DET curves">')


@dataclass(frozen=True)
class Audit:
    """A generator audit: ``methods`` (ranked rows of figures), ``overall``, ``images`` (one dict
    per generated image), ``config`` and ``result``."""

    methods: list
    overall: dict
    images: list
    config: Config
    result: object

    settings = Evaluation.settings

    def write_report(self, out_dir: str | Path | None = None) -> Path:
        return _write(self.result, self.config, out_dir, "audit")

    def methods_table(self):
        """The methods as a pandas DataFrame (index: the method, in the ranked order; rank None: not
        ranked), with images, identities, FTA, verified rates (fractions) and their intervals, and the
        mean similarity of the acquired images."""
        out = []
        for g in self.methods:
            iv = g["intervals"]
            out.append({"method": g["value"], "rank": g["rank"], "images": g["n"], "identities": g["n_identities"],
                        "fta": g["fta"], "verified_of_all": g["verified_rate_of_all"],
                        "verified_of_all_low": iv["verified_rate_of_all"]["low"],
                        "verified_of_all_high": iv["verified_rate_of_all"]["high"],
                        "similarity_mean": g["similarity_failures_excluded"]["mean"],
                        "too_small": g.get("too_small", "")})
        return pd.DataFrame(out).set_index("method")

    def _repr_html_(self) -> str:
        """In Jupyter: the methods table (rates in percent), ranked ones first."""
        return self.methods_table().to_html(float_format=lambda x: f"{x:.4g}", na_rep="n/a")


#: the rates :meth:`Evaluation.table3` gives with their intervals
RATES = ("fta", "fnmr", "frr", "fta_transaction", "frr_transaction")


def _write(result, cfg: Config, out_dir, kind: str) -> Path:

    cfg = recorded_config(replace(cfg, out_dir=str(Path(out_dir).resolve()) if out_dir else cfg.out_dir), result)
    refuse_filled_out_dir(Path(cfg.out_dir), cfg.overwrite)
    with StagedDir(cfg.out_dir) as staging:
        if kind == "audit":
            write_audit_report(staging, result, cfg)
        else:
            write_report(staging, result, cfg)
    return Path(cfg.out_dir)


def evaluate(*overrides: str, progress: bool = False, **keys) -> Evaluation:
    """Run the configured scenarios (as ``fr-eval`` does) and return the figures."""
    cfg = _config(overrides, keys)
    started = utc_now()
    result = run(cfg, progress=progress)
    result.context["started"] = started
    thresholds = {float(f): t["threshold"] for f, t in result.context["thresholds"].items()}
    return Evaluation(rows=result.rows, thresholds=thresholds, scores=result.scores, config=cfg, result=result)


def audit(*overrides: str, progress: bool = False, **keys) -> Audit:
    """The identity-preservation audit of generated images (``scenario=generated``)."""
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
    imp = np.asarray(impostor, np.float64)
    figures, _ = row_figures(RowScores(genuine=np.asarray(genuine, np.float64), impostor=imp),
                             thresholds={fmr: threshold_at_fmr(imp, fmr)}, fmr_target=fmr, bootstrap={})
    return figures
