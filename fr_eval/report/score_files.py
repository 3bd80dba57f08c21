"""The report of figures from score files (``fr-eval scores=<file> format=...``; the figures come from
:mod:`fr_eval.stages.score_import`): the same Table 3, ``metrics.json`` and DET as a scenario run's."""
from __future__ import annotations

from pathlib import Path

from ..provenance import environment, run_date
from ..settings import Config, plain
from ..stages.score_import import ScoreImportResult
from .differentials import metrics_entry, write_differentials
from .html import Figure, Section, Table, table_file, write_page
from .io import clean, write_config, write_json
from .plots import band_note, det_bands, fmr_label, plot_det
from .tables import data_notes, pct, run_notes, table3_notes, table3_rows


def write_score_report(out: Path, result: ScoreImportResult, config: Config) -> None:
    ev, sign = result.evaluation, (-1.0 if result.score_kind == "distance" else 1.0)
    fmr, env = config.fmr, environment()
    rule = "distance; match if <=" if sign < 0 else "similarity; match if >="
    thr = {f: {"threshold": sign * t, "score_kind": result.score_kind, "rule": rule}
           for f, t in ev.thresholds.items()}
    write_json(out / "metrics.json", _metrics(result, thr, rule, sign, config, env))
    write_config(out, config)
    t3 = _table3(out, result, thr[fmr], rule, sign, fmr, config.report.min_false_matches)
    bands = det_bands(config) if ev.subjects_known else None
    # the scores as evaluated (distances negated), so the operating point uses the threshold unsigned
    plot_det(ev.scores, {"system": {"name": "scores"}, "dataset": {"name": result.fmt},
                         "thresholds": {f: {"threshold": t} for f, t in ev.thresholds.items()}}, fmr,
             out / "det.png", title=f"DET from {result.fmt} scores; dotted: FMR={fmr_label(fmr)}", prefix="row ",
             min_false_matches=config.report.min_false_matches, bands=bands)
    how, base = result.context.get("invocation") or {}, next(r for r in ev.rows if r["label"] == ev.baseline)
    run = [("Command", how.get("command", "(a library call)")), ("Date", run_date(result.context, env)),
           ("Scores", ", ".join(f"{i['path']} (sha256 {i['sha256'][:12]}...)" for i in result.inputs)
            + f"; format {result.fmt}"),
           ("Operating point", f"threshold {thr[fmr]['threshold']:.4f} ({rule}) on row {ev.baseline}'s "
                               f"{base['n_impostor']} impostor scores for FMR <= {fmr_label(fmr)} (achieved "
                               f"{pct(base['fmr_achieved'], 4)}%)")]
    no_band = " No band: the score files do not name every genuine comparison's subject."
    bands_said = band_note(bands) or (no_band if config.report.det_bands else "")
    sections = [Section("table3", "Table 3: biometric performance", [t3]),
                Section("det", "DET curves", [Figure("det.png", f"DET curves of every row of the score files on "
                                                     f"normal-deviate axes; dotted: the FMR target {fmr_label(fmr)}; "
                                                     f"open markers: each row's operating point." + bands_said)])]
    if result.differentials is not None:
        sections += write_differentials(out, result.differentials, config.report.min_subjects)
    write_page(out, "scores", title=f"fr-eval report: scores from {result.fmt} files", sections=sections,
               config=plain(config), env=env, system={"models": []}, run=run, warnings=data_notes(result.context),
               headline=Table(t3.header[:5], [r[:5] for r in t3.body], id="headline"))


def _metrics(result: ScoreImportResult, thr: dict, rule: str, sign: float, config: Config, env: dict) -> dict:
    ev = result.evaluation
    rows = [{**r, "threshold": sign * r["threshold"], "eer_threshold": sign * r["eer_threshold"],
             "threshold_at": {f: sign * t for f, t in r["threshold_at"].items()}} for r in ev.rows]
    return {
        "units": f"every rate is a fraction in [0, 1] (not a percent); scores are {result.score_kind}s ({rule})",
        "source": {"format": result.fmt, "files": result.inputs, "score_kind": result.score_kind},
        "baseline": ev.baseline, "thresholds": thr, "subjects_known": ev.subjects_known,
        "definitions": {"fta": "genuine comparisons without a score / all genuine comparisons (score files say "
                               "nothing of samples, so the FTA is transaction-level)",
                        "threshold": f"fixed on row {ev.baseline}'s impostor scores: the lowest whose FMR <= target",
                        "intervals": "95%, rule of 3 or subject bootstrap; none where subjects are unknown"},
        "rows": rows, **result.context, "config": plain(config), "environment": env,
        **({"differentials": metrics_entry(result.differentials)} if result.differentials is not None else {}),
    }


def _table3(out: Path, result: ScoreImportResult, t: dict, rule: str, sign: float, fmr: float, mfm: int) -> Table:
    ev, rows3 = result.evaluation, clean(result.evaluation.rows)
    h3, b3 = table3_rows(rows3, fmr, mfm, threshold_header=f"Threshold ({rule})", threshold_sign=sign)
    csv_table = table3_rows(rows3, fmr, mfm, threshold_header=f"Threshold ({rule})", threshold_sign=sign, csv=True)
    base = next(r for r in ev.rows if r["label"] == ev.baseline)
    return table_file(out, "table3", h3, b3, "Table 3: biometric performance (from score files)", [
        f"Scores from {', '.join(Path(i['path']).name for i in result.inputs)} (format {result.fmt}). Rates in "
        "percent. FTA: genuine comparisons without a score (transaction level). FRR = FTA + FNMR x (1 - FTA).",
        f"Threshold {t['threshold']:.4f} ({rule}) fixed on row {ev.baseline}'s {base['n_impostor']} impostor scores "
        f"for FMR <= {fmr_label(fmr)}; achieved {pct(base['fmr_achieved'], 4)}%.",
        "Intervals (95%): " + ("subject bootstrap or rule of 3" if ev.subjects_known else
                               "not given: the files name no subjects.") + (
            f" over the genuine comparisons that name their probe's subject ({ev.n_genuine_without_subject} do not "
            f"and are left out of the intervals, not of the rates)." if ev.subjects_known and
            ev.n_genuine_without_subject else "." if ev.subjects_known else ""),
    ] + _duplicates_note(result.context.get("duplicates") or {}) + data_notes(result.context)
        + table3_notes(rows3, fmr, mfm) + run_notes(result.context), csv_table=csv_table)


def _duplicates_note(d: dict) -> list[str]:
    if not d:
        return []
    if not d.get("checked"):
        return [f"Repeated comparisons: not checked ({d.get('why_not', '')})."]
    if d.get("n_repeated"):
        return [f"Repeated comparisons: {d['n_repeated']} entries repeated an earlier (row, reference, probe) and were "
                f"dropped (score_duplicates=drop); the figures count each comparison once."]
    return ["Repeated comparisons: none (each (row, reference, probe) once)."]
