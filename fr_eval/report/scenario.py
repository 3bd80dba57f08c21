"""Write a scenario run's report bundle: metrics.json, Tables 1 and 3, the paired comparisons,
failures, provenance, plots and report.html (``templates/scenario.html.j2``)."""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from ..embeddings import write_embeddings
from ..evaluation import as_summary
from ..provenance import environment, run_date
from ..scores import export_scores
from ..settings import Config, plain
from ..systems.base import metric_of
from . import numbers
from . import plots
from .html import Figure, Section, Table, table_file, write_page
from .differentials import metrics_entry as differentials_entry
from .differentials import write_differentials
from .identification import identification_first_screen, metrics_entry, write_identification
from .io import clean, write_config, write_csv, write_json
from .paired import write_paired
from .plots import fmr_label
from .tables import (
    as_sentence,
    breakdown_rows,
    colouriser_notes,
    data_notes,
    impostor_note,
    machine_notes,
    pairs_accuracy_rows,
    pct,
    run_notes,
    score_name,
    stream_note,
    table3_notes,
    table3_rows,
)

#: what metrics.json says each figure is
DEFINITIONS = {
    "fta": "failed samples / all samples used in the scenario (references + probes), as in the paper",
    "fta_transaction": "genuine attempts with at least one failed sample / all genuine attempts",
    "fnmr": "genuine comparisons (both samples acquired) with score < threshold / those compared",
    "frr": "FTA + FNMR x (1 - FTA) (ISO/IEC 19795-1), with the sample-level FTA",
    "frr_transaction": "(genuine attempts failed to acquire + false non-matches) / all genuine attempts",
    "far": "FMR x (1 - FTA)",
    "threshold": "fixed on the baseline's impostor scores: the lowest threshold whose FMR <= target",
    "d_prime": "|mu_g - mu_i| / sqrt((sd_g^2 + sd_i^2) / 2), population sd",
    "intervals": "95%: rule of 3 (upper = 3/N, N the subjects with an attempt, not the attempts) when there "
                 "are no errors, else percentile bootstrap over subjects",
}


def write_report(out_dir: str | Path, result, config: Config) -> Path:
    """The report bundle of a scenario run: metrics.json, config.yaml, the tables (CSV, Markdown),
    failures and samples, score exports, plots (PNG and PDF) and report.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fmr, env, ctx = config.fmr, environment(), result.context
    mfm = config.report.min_false_matches
    _write_metrics(out, result, config, env)
    t3 = _write_table3(out, result, fmr, mfm)
    stand_in = colouriser_notes(clean(result.rows), ctx.get("colouriser_descriptions"))
    paired = write_paired(out, result.row_comparisons, stand_in)
    sections = [Section("table1", "Table 1: dataset", [_write_table1(out, result)]),
                Section("table3", "Table 3: biometric performance", [t3]),
                *([Section("paired", f"{headline_question(ctx, result.rows)} Paired comparisons of rows", paired)]
                  if result.row_comparisons else []),
                *_write_protocol_tables(out, result, fmr)]
    _write_files(out, result, config, env)
    sections += _plots(out, result, config, fmr, mfm)
    sections += write_quality(out, result, ctx)
    if result.identification is not None:  # a 1:N run answers its own question first
        sections = write_identification(out, result.identification) + sections
    if result.differentials is not None:
        sections += write_differentials(out, result.differentials, config.report.min_subjects)
    if result.failures:  # an empty section is left out (failures.csv and samples.csv are still written)
        sections.append(_failures_section(result))
    _write_html(out, result, config, env, t3, stand_in, sections)
    return out


def _plots(out: Path, result, config: Config, fmr: float, mfm: int) -> list[Section]:
    """det.png/.pdf, frr_threshold.png/.pdf and the colourisation examples, with their captions."""
    ctx, thr = result.context, result.context["thresholds"][fmr]
    bands = plots.det_bands(config)
    fta = {r["label"]: r["fta_transaction"] for r in result.rows}
    how = str(config.report.det_fta)
    limits = plots.plot_det({k: {**v, "fta": fta.get(k)} for k, v in result.scores.items()}, ctx, fmr, out / "det.png",
                            min_false_matches=mfm, bands=bands, fta=how,
                            styles={r["label"]: i for i, r in enumerate(result.rows)})
    plots.plot_frr_threshold(result, ctx, fmr, out / "frr_threshold.png")
    n_gen = max((len(s["genuine"]) for s in result.scores.values()), default=0)
    support = "" if thr.get("supported", True) else (
        f" The data do not support that target: {thr['impostors_allowed']} false matches allowed, fewer than "
        f"report.min_false_matches={mfm}.")
    det = Figure("det.png", f"DET curves of every row on normal-deviate axes: FNMR over up to {n_gen} genuine "
                 f"comparisons against FMR over {thr['n_impostor']} impostor comparisons." +
                 plots.det_caption(limits, how, mfm) + " Each row keeps its colour and marker in every figure. "
                 f"Open markers: each row's operating point at the threshold "
                 f"{thr['threshold']:.4f} fixed for FMR <= {fmr_label(fmr)} on the baseline; dotted: the FMR "
                 f"target." + support + plots.band_note(bands))
    frr = Figure("frr_threshold.png", "FRR = FTA + FNMR (1 - FTA) of each row against the decision threshold (the "
                 f"paper's Fig. 4b); dotted: the threshold fixed for FMR <= {fmr_label(fmr)}.")
    out_sections = [Section("det", "DET curves", [det]), Section("frr-threshold", "FRR against the threshold", [frr])]
    if result.examples:
        plots.plot_examples(result.examples, out / "colourisation_examples.png")
        out_sections.append(Section("examples", "Colourisation examples (before and after)", [Figure(
            "colourisation_examples.png", "The same faces as original, greyscale and colourised by each colouriser "
            "(the paper's Fig. 2): the images the face system was given, read from the store."
            + (" Under an exemplar colouriser's image: the subject whose reference image gave its colours (the "
               "same choice as the run made; listed in metrics.json under colourisation_examples)."
               if any(t.note for _, tiles in result.examples for t in tiles) else ""))]))
    changes = _changes_section(out, result)
    return out_sections + ([changes] if changes else [])


def _changes_section(out: Path, result) -> Section | None:
    """The paper's Fig. 5: faces greyscale lost and colourisation recovered, and the reverse, per colouriser."""
    counts = result.context.get("acquisition_changes") or []
    if not counts:
        return None
    table = Table(["Colouriser", "Samples in both variants", "Not acquired in greyscale, acquired colourised",
                   "Acquired in greyscale, not acquired colourised"],
                  [[c["colouriser"], str(c["samples"]), str(c["recovered"]), str(c["lost"])] for c in counts],
                  ["Each sample (reference or probe) compared between its greyscale and its colourised variant; the "
                   "paths are in metrics.json under acquisition_changes."])
    items = [table]
    if result.changes:
        plots.plot_examples(result.changes, out / "acquisition_changes.png")
        items.append(Figure("acquisition_changes.png", "Faces the face system did not acquire in greyscale but "
                            "did after colourisation ('recovered by'), and the reverse ('lost by'), per colouriser, "
                            "as the paper's Fig. 5: original, greyscale and colourised, each marked acquired or not "
                            "(at most report.examples of each)."))
    return Section("changes", "Acquired in one variant only (the paper's Fig. 5)", items)


def _failures_section(result) -> Section:
    reasons = Counter((f["variant"], f.get("kind", ""), f["reason"]) for f in result.failures)
    return Section("failures", f"Failures to acquire ({len(result.failures)})", [Table(
        ["Variant", "Kind", "Reason", "Count"], [[v, k, r, n] for (v, k, r), n in reasons.most_common()],
        ["Every failure is listed in failures.csv and every sample in samples.csv. Kind 'error': an error of the "
         "machine, not stored, retried by the next run."], ["failures.csv", "samples.csv"])])


def _write_html(out: Path, result, config: Config, env: dict, t3: Table, stand_in: list[str], sections) -> None:
    ctx, t1 = result.context, result.table1
    fmr = config.fmr
    thr = ctx["thresholds"][fmr]
    how = ctx.get("invocation") or {}
    run = [("Command", how.get("command", "(a library call)")), ("Date", run_date(ctx, env)),
           ("Dataset", f"{t1['dataset']}: {t1['subjects']} subjects, {t1['references']} references, {t1['probes']} "
                       f"probes, {t1['genuine']} genuine and {t1['impostor']} impostor comparisons"),
           ("System", f"{ctx['system']['name']} (details at the end of the page)"),
           ("Operating point", f"threshold {thr['threshold']:.4f} ({score_name(ctx['system'])}, match if >=) fixed on "
                               f"{thr['n_impostor']} baseline impostor scores for FMR <= {fmr_label(fmr)} (achieved "
                               f"{pct(thr['fmr_achieved'], 4)}%)"),
           ("Units", "rates in percent in this page; metrics.json holds fractions")]
    headline = Table(t3.header[:5], [r[:5] for r in t3.body], [n for n in t3.notes if n.startswith(numbers.DAGGER)],
                     id="headline")
    first = {"title": f"fr-eval report: {t1['dataset']}, system {ctx['system']['name']}", "headline": headline,
             "answers": [as_sentence(c["sentence"]) for c in result.row_comparisons],
             "question": headline_question(ctx, result.rows), "headline_intro": "",
             "answers_intro": "The paired comparisons of rows, on the same genuine attempts at the same threshold "
                              "(<a href=\"#paired\">details</a>):"}
    if result.identification is not None:  # a 1:N run: its first screen is identification
        first.update(identification_first_screen(result.identification, t1["dataset"], ctx["system"]["name"]))
    write_page(out, "scenario", sections=sections, config=plain(config), env=env, system=ctx["system"],
               system_note=ctx["system_choice"], run=run, warnings=machine_notes(ctx["engine"]) + data_notes(ctx),
               standins=stand_in, **first)


def headline_question(ctx: dict, rows: list) -> str:
    """The answers box's question: it names a stand-in colouriser when every colourised row is one."""
    used = {r.get("colouriser") for r in rows if r.get("colouriser")}
    stand_ins = ctx.get("colouriser_stand_ins") or {}
    if used and used <= set(stand_ins):
        return f"Does {' / '.join(sorted({stand_ins[c] for c in used}))} help?"
    return "Does colourisation help?"


def _write_metrics(out: Path, result, config: Config, env: dict) -> None:
    doc = {
        "units": f"every rate is a fraction in [0, 1] (not a percent); scores: {score_name(result.context['system'])}, "
                 "a comparison matches when score >= threshold",
        "definitions": DEFINITIONS,
        "rows": result.rows,
        "table1": result.table1,
        "paired_comparisons": result.row_comparisons,
        **result.context,
        "n_failures": len(result.failures),
        "n_errors_of_the_machine": sum(1 for f in result.failures if f.get("kind") == "error"),
        **({"quality_table2": result.quality["table2"],
            "edc": [{k: v for k, v in r.items() if k not in ("discard", "fnmr")} for r in result.quality["edc"]]}
           if result.quality else {}),
        **({"colourisation_examples": [{"sample": label, "tiles": [
            {"variant": t.name, "shown": t.image is not None, **({"note": t.note} if t.note else {})}
            for t in tiles]} for label, tiles in result.examples]} if result.examples else {}),
        **({"identification": metrics_entry(result.identification)} if result.identification is not None else {}),
        **({"differentials": differentials_entry(result.differentials)} if result.differentials is not None else {}),
        "config": plain(config),
        "environment": env,
    }
    write_json(out / "metrics.json", doc)
    write_config(out, config)


def _write_table1(out: Path, result) -> Table:
    ctx, t1 = result.context, result.table1
    t1h = ["Database", "Subjects", "Reference images", "Probe images", "Genuine comparisons",
           "Impostor comparisons"]
    return table_file(out, "table1", t1h, [[t1["dataset"], str(t1["subjects"]), str(t1["references"]),
                                        str(t1["probes"]), str(t1["genuine"]), str(t1["impostor"])]],
                  "Table 1: dataset", [impostor_note(ctx["comparisons"]),
                                       f"Subjects excluded: {len(ctx['dataset']['excluded'])}; input problems "
                                       f"skipped: {len(ctx['dataset']['problems'])} (listed in metrics.json)"]
                  + ([f"Subjects limited to a seeded sample: {ctx['dataset']['settings']['limit_subjects']}"]
                     if ctx["dataset"]["settings"].get("limit_subjects") else [])
                  + ([f"{t1['reference_only_subjects']} of the subjects have a reference and no probe (single-image "
                      f"subjects, dataset.single_image_subjects=impostor): their references are in impostor "
                      f"comparisons only, and not in the FTA, FNMR or FRR"] if t1.get("reference_only_subjects") else []))


def _write_table3(out: Path, result, fmr: float, min_false_matches: int) -> Table:
    ctx = result.context
    thr = ctx["thresholds"][fmr]
    rows = clean(result.rows)
    head = f"Threshold ({score_name(ctx['system'], short=True)})"
    h3, b3 = table3_rows(rows, fmr, min_false_matches, head)
    csv_table = table3_rows(rows, fmr, min_false_matches, head, csv=True)
    return table_file(out, "table3", h3, b3, "Table 3: biometric performance",
                  colouriser_notes(rows, ctx.get("colouriser_descriptions")) + table3_notes(rows, fmr, min_false_matches) + [
        "Rates in percent. FTA: failed samples / samples of the scenario. FNMR over genuine comparisons whose "
        "two samples were acquired. FRR = FTA + FNMR x (1 - FTA).",
        f"Threshold {thr['threshold']:.4f} ({score_name(ctx['system'])}, match if >=) fixed on {thr['n_impostor']} baseline "
        f"impostor scores for FMR <= {fmr_label(fmr)}; {thr['impostors_allowed']} false matches allowed; "
        f"achieved FMR {pct(thr['fmr_achieved'], 4)}%.",
        f"System: {ctx['system']['name']} ({ctx['system_choice']}).",
        stream_note(ctx.get("impostor_scores")),
    ] + machine_notes(ctx["engine"]) + data_notes(ctx) + run_notes(ctx), csv_table=csv_table)


def _write_protocol_tables(out: Path, result, fmr: float) -> list[Section]:
    """The pairs-protocol accuracy and the metadata breakdown, where the run has them."""
    ctx, clean_rows = result.context, clean(result.rows)
    thr = ctx["thresholds"][fmr]
    sections = []
    ha, ba = pairs_accuracy_rows(clean_rows)
    if ba:
        st = ctx["dataset"]["settings"]
        sections.append(Section("pairs-accuracy", "Verification accuracy (pairs protocol)", [table_file(
            out, "pairs_accuracy", ha, ba, "Verification accuracy over the pairs protocol's folds", [
                f"Protocol: {st.get('protocol', 'pairs')}; pairs file {st.get('pairs_file')}.",
                f"Pairs in the file: {st.get('pairs_in_file')}; with both images present: {st.get('pairs_present')} "
                f"({st.get('matched_present')} matched, {st.get('mismatched_present')} mismatched); missing: "
                f"{st.get('pairs_missing')} (each named in metrics.json under dataset.problems).",
                "Per fold, the threshold that maximises accuracy on the other folds is applied to it; a pair with a "
                "failed sample counts as a non-match. Mean and std (ddof 1) over the folds, in percent."])]))
    hb, bb = breakdown_rows(clean_rows)
    if bb:
        sections.append(Section("breakdown", "Breakdown by metadata", [table_file(
            out, "breakdown", hb, bb, "Errors broken down by metadata", [
                f"At the threshold fixed for FMR <= {fmr_label(fmr)} ({thr['threshold']:.4f}). Transaction level: "
                "an attempt fails to acquire when either sample did. Each group's value is the probe's, else the "
                "reference's. Intervals: 95%, rule of 3 or subject bootstrap."])]))
    return sections


def _write_files(out: Path, result, config: Config, env: dict) -> None:
    """failures.csv, samples.csv, the score and embedding exports, scores.npz, provenance.json."""
    ctx = result.context
    write_csv(out / "failures.csv", ["variant", "role", "subject", "path", "kind", "reason"], result.failures)
    write_csv(out / "samples.csv", ["variant", "role", "subject", "path", "acquired", "failure_kind", "reason",
                                    "det_score", "n_faces", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"], result.samples)
    if config.report.export and result.comparisons:
        export_scores(out / "scores", result.comparisons, result.used_impostors, result.ids)
    if result.embeddings:
        write_embeddings(out / "embeddings.npz", *result.embeddings, metric_of(ctx["system"]))
    np.savez_compressed(out / "scores.npz", **{k: a for label, v in result.scores.items()
                                               for k, a in score_arrays(label, v, impostor_holders(result)).items()})
    write_json(out / "provenance.json", {"system": ctx["system"], "environment": env,
                                           "colourisers": ctx["colourisers"]})


def impostor_holders(result) -> dict:
    """Row -> the row whose entry of scores.npz holds its impostor scores: the row it took them from
    when that is a row of the report, else the first row that took them (the impostors kept once)."""
    out, first = {}, {}
    for label in result.scores:
        src = result.used_impostors.get(label, label)
        out[label] = src if src in result.scores else first.setdefault(src, label)
    return out


def score_arrays(label: str, scores: dict, used_impostors: dict | None = None) -> dict:
    """scores.npz's arrays of one row: ``<row>|genuine`` (the compared genuine scores) and, when the
    impostor scores were kept whole, ``<row>|impostor``; when they streamed, ``<row>|impostor_tail``
    (the highest scores, ascending), ``<row>|impostor_histogram`` (counts of equal bins over
    ``<row>|impostor_histogram_range``) and ``<row>|impostor_moments`` (count, mean, sum of squared
    deviations). A row that uses another row's impostors (``used_impostors``) holds
    ``<row>|impostor_from``, that row's label, instead of a copy of them."""
    imp = as_summary(scores["impostor"])
    out = {f"{label}|genuine": scores["genuine"]}
    source = (used_impostors or {}).get(label, label)
    if source != label:
        out[f"{label}|impostor_from"] = np.array(source)
        return out
    if imp.exact:
        out[f"{label}|impostor"] = imp.scores
        return out
    out.update({f"{label}|impostor_tail": imp.tail(), f"{label}|impostor_histogram": imp.hist,
                f"{label}|impostor_histogram_range": np.array(imp.describe()["histogram_range"]),
                f"{label}|impostor_moments": np.array([imp.n, imp.mean, imp.m2])})
    return out


def edc_table(edc: list[dict], md: float):
    """The EDC table's header and body (rates "x [low, high]" in percent) and its CSV (header, body), where
    each interval is in ``_low``/``_high`` columns."""
    at = f"fnmr_at_{md:g}"
    head = ["Scenario", "Estimator", "Genuine compared", "FNMR at 0% discarded (%)", f"Kept at {100 * md:g}%",
            f"FNMR at {100 * md:g}% discarded (%)", f"EDC area to {100 * md:g}%", "Area with random discarding",
            "Area minus random", "Area relative to random"]
    body, csv_body = [], []
    for r in edc:
        iv, n, k = r.get("intervals", {}), r["n_comparisons"], r.get("n_kept", r["n_comparisons"])
        ratio = "n/a" if not math.isfinite(r["area_relative_to_random"]) else f"{r['area_relative_to_random']:.3f}"
        lead = [r["row"], r["estimator"], str(n)]
        body.append(lead + [numbers.with_interval(r["fnmr_at_0"], iv.get("fnmr_at_0"), n), str(k),
                            numbers.with_interval(r[at], iv.get(at), k), _area(r["area"], iv.get("area")),
                            f"{r['area_random_discard']:.5f}",
                            _area(r.get("area_minus_random", float("nan")), iv.get("area_minus_random")), ratio])
        csv_body.append(lead + [numbers.pct(r["fnmr_at_0"], n), *_bounds(iv.get("fnmr_at_0"), n), str(k),
                                numbers.pct(r[at], k), *_bounds(iv.get(at), k), f"{r['area']:.5f}",
                                *_area_bounds(iv.get("area")), f"{r['area_random_discard']:.5f}",
                                f"{r.get('area_minus_random', float('nan')):.5f}",
                                *_area_bounds(iv.get("area_minus_random")), ratio])
    low_high = [lambda h: h.replace(" (%)", " low (%)"), lambda h: h.replace(" (%)", " high (%)")]
    csv_head = (head[:4] + [f(head[3]) for f in low_high] + head[4:6] + [f(head[5]) for f in low_high]
                + [head[6], f"{head[6]} low", f"{head[6]} high", head[7], head[8], f"{head[8]} low",
                   f"{head[8]} high", head[9]])
    return head, body, (csv_head, csv_body)


def _area(x: float, interval: dict | None) -> str:
    """An EDC area (a fraction x a fraction, 5 decimals) with its interval where there is one."""
    if not math.isfinite(x):
        return "n/a"
    iv = numbers.ci_text(interval if (interval or {}).get("method") is not None else None, lambda v: f"{v:.5f}")
    return f"{x:.5f} {iv}" if iv else f"{x:.5f}"


def _area_bounds(interval: dict | None) -> list[str]:
    iv = interval or {}
    return [f"{iv[k]:.5f}" if iv.get("method") not in (None, "none") else "" for k in ("low", "high")]


def _bounds(interval: dict | None, n: int) -> list[str]:
    iv = interval or {}
    return [numbers.pct(iv.get("low"), n), numbers.pct(iv.get("high"), n)]


def write_quality(out: Path, result, ctx) -> list[Section]:
    """Table 2, the EDC table and their plots (as sections of the page); none when no quality was asked for."""
    q = result.quality
    if not q:
        return []
    h2 = ["Variant", "Estimator", "N", "Undefined", "Mean", "Median", "Std", "Min", "Max", "Unit"]
    b2 = [[r["variant"], r["estimator"], str(r["n"]), str(r["n_undefined"])]
          + ["n/a" if not math.isfinite(r[k]) else f"{r[k]:.4g}" for k in ("mean", "median", "std", "min", "max")]
          + [r["unit"]] for r in q["table2"]]
    t2 = table_file(out, "table2", h2, b2, "Table 2: face image quality per variant", [
        "Over the images the scenarios use in each variant (in scenario 2, greyscale probes only; an image used on "
        "both sides counts once); "
        "'Undefined': no face acquired in that variant, or the estimator could not score it (reasons in "
        "metrics.json).", "Higher is better except roll and yaw_proxy (lower) and exposure (nearest 127.5)."])
    md = q["max_discard"]
    te_head, te_body, te_csv = edc_table(q["edc"], md)
    thr = ctx["thresholds"][float(result.rows[0]["fmr_target"])]["threshold"] if result.rows else float("nan")
    te = table_file(out, "edc", te_head, te_body, "Error-versus-discard: which quality measure predicts false non-matches", [
        f"FNMR at the fixed threshold {thr:.4f} (FMR = {100 * result.rows[0]['fmr_target']:g}% on the baseline) as the "
        "lowest-quality genuine comparisons are discarded; pair quality = the lower of the two samples' "
        "qualities (ties discarded together; ISO/IEC 29794-1, Schlett et al. 2023).",
        f"Area: under the step curve from 0 to {100 * md:g}% discarded; lower is better. Random discarding keeps "
        "the FNMR flat in expectation (area = FNMR x the range); a ratio below 1 means the estimator finds "
        "the comparisons that fail.",
        "FNMRs in percent of the genuine comparisons kept, with a 95% interval [low, high] over subjects (rule of 3 "
        "with no error, else a percentile subject bootstrap) holding the threshold and the discarded quality "
        "levels fixed; edc.csv has them in _low/_high columns.",
        "Area minus random: below 0 where the estimator discards failing comparisons first better than chance; "
        "the areas' 95% intervals [low, high] are percentile subject bootstraps that recompute the whole curve on "
        "each resample (threshold fixed); none when the row has no false non-match (both areas are then 0).",
    ], csv_table=te_csv)
    plots.plot_quality_cdf(q, out / "quality_cdf.png")
    plots.plot_edc(q, out / "edc.png")
    return [Section("quality", "Table 2: face image quality", [t2, Figure(
                "quality_cdf.png", "Cumulative distribution of each quality estimator's values per image variant "
                "(the paper's Fig. 4a for FaceQnet), over the central 99% of the values; the x axis carries each "
                "estimator's unit, the extremes are in Table 2.")]),
            Section("edc", "Error-versus-discard: does quality predict false non-matches?", [te, Figure(
                "edc.png", f"FNMR at the fixed threshold as the lowest-quality genuine comparisons are discarded, "
                f"per scenario row and estimator; dashed: random discarding (the FNMR unchanged in expectation); "
                f"dotted: the {100 * md:g}% limit of the area (edc.max_discard). A row without false non-matches "
                f"says so in its panel.")])]
