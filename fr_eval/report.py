"""Write a run's report bundle: metrics.json, Tables 1 and 3, failures, provenance, plots."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .provenance import environment
from . import report_numbers as N
from .report_paired import write_paired
from .report_io import write_csv


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _clean(o):
    """JSON-safe: NaN/inf -> None, NumPy scalars -> Python."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (np.floating, float)):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    return o


def pct(x, digits=3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f}"


def fmr_label(f: float) -> str:
    return f"{100 * f:g}%"


def table3_rows(rows, fmr, min_false_matches: int, threshold_header: str = "Threshold (cosine)",
                threshold_sign: float = 1.0, *, csv: bool = False) -> tuple[list[str], list[list[str]]]:
    """The paper's Table 3 columns (scenario, d', FTA, FNMR, FRR), then the other figures, with the
    digits, intervals and flags of :mod:`fr_eval.report_numbers`: "x [low, high]" in a cell, or
    with ``csv=True`` the interval in ``_low`` / ``_high`` columns. ``threshold_sign=-1`` shows
    thresholds of distances read as negated similarities."""
    fl = fmr_label(fmr)
    others = [f for f in (rows[0]["fnmr_at"] if rows else {}) if float(f) != fmr]
    rated = [("FTA (%)", "fta", "n_samples"), (f"FNMR at FMR={fl} (%)", "fnmr", "n_genuine_compared"),
             (f"FRR at FMR={fl} (%)", "frr", "n_genuine"), ("FTA transaction (%)", "fta_transaction", "n_genuine")]
    head = ["Scenario", "d'"]
    for name, _, _ in rated:
        head += [name, name.replace(" (%)", " low (%)"), name.replace(" (%)", " high (%)")] if csv else [name]
    header = (head + ["EER (%)"] + [f"FNMR at FMR={fmr_label(float(f))} (%)" for f in others]
              + [threshold_header, "FMR achieved (%)", "Genuine compared", "Impostor compared"]
              + ([f"FMR={fmr_label(float(f))} supported" for f in [fmr, *others]] if csv else []))

    def flag(f: float, r) -> str:  # in the CSV, the flags are columns of their own
        return "" if csv or N.supported(f, r["n_impostor"], min_false_matches) else N.DAGGER

    body = []
    for r in rows:
        line = [r["label"], "n/a" if r["d_prime"] is None or not math.isfinite(r["d_prime"]) else f"{r['d_prime']:.3f}"]
        for _, key, count in rated:
            n, iv = r[count] or r["n_genuine"], r["intervals"].get(key)
            mark = flag(fmr, r) if key in ("fnmr", "frr") else ""
            if csv:
                line += [N.pct(r[key], n) + mark, N.pct(iv["low"], n), N.pct(iv["high"], n)]
            else:
                line.append(N.with_interval(r[key], iv, n) + mark)
        n_cmp = r["n_genuine_compared"]
        line += ([N.pct(r["eer"], n_cmp)] + [N.pct(r["fnmr_at"][f], n_cmp) + flag(float(f), r) for f in others]
                 + [f"{threshold_sign * r['threshold']:.4f}", N.pct(r["fmr_achieved"], r["n_impostor"]),
                    str(n_cmp), str(r["n_impostor"])])
        if csv:
            line += ["yes" if N.supported(float(f), r["n_impostor"], min_false_matches) else "no"
                     for f in [fmr, *others]]
        body.append(line)
    return header, body


def colouriser_notes(rows, descriptions: dict | None) -> list[str]:
    """What each described colouriser is, naming its rows (e.g. the exemplar stand-in)."""
    out = []
    for name, text in (descriptions or {}).items():
        labels = [r["label"] for r in rows if r.get("colouriser") == name]
        if labels:
            out.append(f"{', '.join(labels)}: {text}.")
    return out


def table3_notes(rows, fmr: float, min_false_matches: int) -> list[str]:
    """The digits rule, the intervals, and the flag of unsupported operating points."""
    notes = ["Digits: a rate over N attempts moves by 100/N % per error and is printed with one decimal more "
             "than that step needs (at most 4). Rates read 'value [low, high]': the 95% interval (rule of 3 with "
             "no error, else a percentile bootstrap over subjects); table3.csv has them in _low/_high columns."]
    if rows:
        fmrs = [fmr] + [float(f) for f in rows[0]["fnmr_at"] if float(f) != fmr]
        note = N.support_note(fmrs, rows[0]["n_impostor"], min_false_matches)
        if note:
            notes.append(note)
    return notes


def run_notes(ctx: dict) -> list[str]:
    """How the run was started and where its files are (from the CLI; absent for library calls)."""
    how, paths = ctx.get("invocation"), ctx.get("paths")
    notes = []
    if how:
        notes.append(f"Command: `{how['command']}` in {how['cwd']}; to run it again: `{how['replay']}`.")
    if paths:
        notes.append(f"Store: {paths['store_dir']}; this report: {paths['out_dir']}.")
    return notes


def machine_notes(engine: dict) -> list[str]:
    """Warnings a reader must see beside the figures: samples lost to errors of the machine, damaged
    store rows computed again."""
    notes = []
    if engine.get("transient_errors"):
        notes.append(f"WARNING: {engine['transient_errors']} sample(s) failed on errors of the machine (a library "
                     f"crash, out of memory, an I/O error), not on a property of the image; they count as failures "
                     f"to acquire here, were not stored, and are retried by running again (kind 'error' in "
                     f"failures.csv).")
    if engine.get("damaged_rows"):
        notes.append(f"{engine['damaged_rows']} stored row(s) failed their checksum and were computed again.")
    return notes


def impostor_note(c: dict) -> str:
    if c["impostor_rule"] == "protocol pairs":
        filled = c.get("impostor_filled", 0)
        return (f"Genuine and impostor comparisons: the matched and mismatched pairs of the protocol whose images "
                f"are present" + (f"; {filled} of the mismatched pairs were drawn by fr-eval (not the protocol's)"
                                  if filled else ""))
    return (f"Impostor comparisons: {c['impostor_rule']} of {c['impostor_pairs_available']} cross-subject "
            f"reference x probe pairs" + (f" (seed {c['seed']})" if c["impostor_rule"] == "sample" else ""))


def pairs_accuracy_rows(rows) -> tuple[list[str], list[list[str]]]:
    """One line per scenario row: the pairs protocol's 10-fold verification accuracy."""
    header = ["Scenario", "Accuracy mean (%)", "Std over folds (%)", "Standard error (%)", "Pairs", "Matched",
              "Mismatched", "of which filled", "Pairs with a failed sample", "Fold accuracies (%)"]
    body = []
    for r in rows:
        a = r.get("pairs_accuracy")
        if not a:
            continue
        if a["available"]:
            figs = [pct(a["mean"], 2), pct(a["std"], 2), pct(a["standard_error"], 2)]
            folds = " ".join(pct(x, 1) for x in a["fold_accuracy"])
        else:
            figs, folds = ["n/a", "n/a", "n/a"], a["reason"]
        body.append([r["label"], *figs, str(a["n_pairs"]), str(a["n_matched"]), str(a["n_mismatched"]),
                     str(a["n_mismatched_filled"]), str(a["n_failed_pairs"]), folds])
    return header, body


def breakdown_rows(rows) -> tuple[list[str], list[list[str]]]:
    header = ["Scenario", "Field", "Value", "Attempts", "Subjects", "FTA transaction (%)", "FNMR (%)",
              "FNMR 95% interval (%)", "FRR transaction (%)", "FRR 95% interval (%)"]
    body = []

    def interval(i):
        return "n/a" if i["low"] is None or not math.isfinite(i["low"]) else f"{pct(i['low'], 2)}-{pct(i['high'], 2)}"

    for r in rows:
        for field, groups in (r.get("breakdown") or {}).items():
            for g in groups:
                body.append([r["label"], field, str(g["value"]), str(g["n_attempts"]), str(g["n_subjects"]),
                             pct(g["fta_transaction"]), pct(g["fnmr"]), interval(g["intervals"]["fnmr"]),
                             pct(g["frr_transaction"]), interval(g["intervals"]["frr_transaction"])])
    return header, body


def _write_table(out: Path, stem: str, header, body, title: str, notes: list[str], csv_table=None) -> None:
    """``<stem>.csv`` (``csv_table``'s (header, body) when the CSV has other columns) and ``<stem>.md``."""
    write_csv(out / f"{stem}.csv", *(csv_table or (header, body)))
    md = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in body]
    md += [""] + [f"- {n}" for n in notes]
    _atomic_write(out / f"{stem}.md", "\n".join(md) + "\n")


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
    "intervals": "95%: rule of 3 (upper = 3/N) when there are no errors, else percentile bootstrap "
                 "over subjects",
}


def write_report(out_dir: str | Path, result, config: dict) -> Path:
    """The report bundle of a scenario run: metrics.json, config.yaml, the tables (CSV, Markdown),
    failures and samples, score exports, plots and report.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fmr, env = float(config["fmr"]), environment()
    _write_metrics(out, result, config, env)
    _write_table1(out, result)
    mfm = int(config["report"]["min_false_matches"])
    h3, b3 = table3_rows(_clean(result.rows), fmr, mfm)
    _write_table3(out, result, fmr, h3, b3, mfm)
    extra = _write_protocol_tables(out, result, fmr)
    extra += write_paired(out, result.row_comparisons, _write_table)
    _write_files(out, result, config, env)
    plot_det(result.scores, result.context, fmr, out / "det.png", min_false_matches=mfm)
    plot_frr_threshold(result, result.context, fmr, out / "frr_threshold.png")
    if result.examples:
        plot_examples(result.examples, out / "colourisation_examples.png")
    hq2, bq2, hqe, bqe = write_quality(out, result, result.context)
    extra += [(title, h, b) for title, h, b in (("Table 2: face image quality", hq2, bq2),
                                                 ("Error-versus-discard (quality predicting false non-matches)",
                                                  hqe, bqe)) if b]
    write_html(out, result, config, env, h3, b3, extra)
    return out


def _write_metrics(out: Path, result, config: dict, env: dict) -> None:
    doc = {
        "units": "every rate is a fraction in [0, 1] (not a percent); scores are cosine similarities, "
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
        "config": config,
        "environment": env,
    }
    _atomic_write(out / "metrics.json", json.dumps(_clean(doc), indent=2))
    from omegaconf import OmegaConf
    _atomic_write(out / "config.yaml", "# the resolved configuration of this run\n" + OmegaConf.to_yaml(config))


def _write_table1(out: Path, result) -> None:
    ctx, t1 = result.context, result.table1
    t1h = ["Database", "Subjects", "Reference images", "Probe images", "Genuine comparisons",
           "Impostor comparisons"]
    _write_table(out, "table1", t1h, [[t1["dataset"], str(t1["subjects"]), str(t1["references"]), str(t1["probes"]),
                                       str(t1["genuine"]), str(t1["impostor"])]],
                 "Table 1: dataset", [impostor_note(ctx["comparisons"]),
                                      f"Subjects excluded: {len(ctx['dataset']['excluded'])}; input problems "
                                      f"skipped: {len(ctx['dataset']['problems'])} (listed in metrics.json)"]
                 + ([f"Subjects limited to a seeded sample: {ctx['dataset']['settings']['limit_subjects']}"]
                    if ctx["dataset"]["settings"].get("limit_subjects") else []))


def _write_table3(out: Path, result, fmr: float, h3, b3, min_false_matches: int) -> None:
    ctx = result.context
    thr = ctx["thresholds"][str(fmr)]
    rows = _clean(result.rows)
    csv_table = table3_rows(rows, fmr, min_false_matches, csv=True)
    _write_table(out, "table3", h3, b3, "Table 3: biometric performance",
                 colouriser_notes(rows, ctx.get("colouriser_descriptions")) + table3_notes(rows, fmr, min_false_matches) + [
        "Rates in percent. FTA: failed samples / samples of the scenario. FNMR over genuine comparisons whose "
        "two samples were acquired. FRR = FTA + FNMR x (1 - FTA).",
        f"Threshold {thr['threshold']:.4f} (cosine similarity, match if >=) fixed on {thr['n_impostor']} baseline "
        f"impostor scores for FMR <= {fmr_label(fmr)}; {thr['impostors_allowed']} false matches allowed; "
        f"achieved FMR {pct(thr['fmr_achieved'], 4)}%.",
        f"System: {ctx['system']['name']} ({ctx['system_choice']}).",
        stream_note(ctx.get("impostor_scores")),
    ] + machine_notes(ctx["engine"]) + run_notes(ctx), csv_table=csv_table)


def stream_note(kept: dict | None) -> str:
    """How the impostor scores were kept, so that the EER and the DET say how exact they are."""
    if not kept or kept["exact"]:
        return "Impostor scores kept whole: EER and DET computed on every score."
    return (f"Impostor scores streamed in blocks (impostor_keep_all < {kept['n']}): thresholds, achieved FMRs "
            f"and FNMRs are exact (from the {kept['kept']} highest scores, kept: every FMR <= "
            f"{pct(kept['tail_max_fmr'], 4)}%); d' from exact float64 moments; EER and the DET above that FMR "
            f"from a {kept['histogram_bins']}-bin histogram over [-1, 1] (bin width {kept['resolution']:.3g}), "
            f"each row's EER within its eer_resolution in metrics.json.")


def _write_protocol_tables(out: Path, result, fmr: float) -> list:
    """The pairs-protocol accuracy and the metadata breakdown, where the run has them; returns
    (title, header, body) of each written, for report.html."""
    ctx, clean_rows = result.context, _clean(result.rows)
    thr = ctx["thresholds"][str(fmr)]
    ha, ba = pairs_accuracy_rows(clean_rows)
    if ba:
        st = ctx["dataset"]["settings"]
        _write_table(out, "pairs_accuracy", ha, ba, "Verification accuracy over the pairs protocol's folds", [
            f"Protocol: {st.get('protocol', 'pairs')}; pairs file {st.get('pairs_file')}.",
            f"Pairs in the file: {st.get('pairs_in_file')}; with both images present: {st.get('pairs_present')} "
            f"({st.get('matched_present')} matched, {st.get('mismatched_present')} mismatched); missing: "
            f"{st.get('pairs_missing')} (each named in metrics.json under dataset.problems).",
            "Per fold, the threshold that maximises accuracy on the other folds is applied to it; a pair with a "
            "failed sample counts as a non-match. Mean and std (ddof 1) over the folds, in percent.",
        ])
    hb, bb = breakdown_rows(clean_rows)
    if bb:
        _write_table(out, "breakdown", hb, bb, "Errors broken down by metadata", [
            f"At the threshold fixed for FMR <= {fmr_label(fmr)} ({thr['threshold']:.4f}). Transaction level: an "
            "attempt fails to acquire when either sample did. Each group's value is the probe's, else the "
            "reference's. Intervals: 95%, rule of 3 or subject bootstrap.",
        ])
    return [(title, h, b) for title, h, b in (("Verification accuracy (pairs protocol)", ha, ba),
                                               ("Breakdown by metadata", hb, bb)) if b]


def _write_files(out: Path, result, config: dict, env: dict) -> None:
    """failures.csv, samples.csv, the score and embedding exports, scores.npz, provenance.json."""
    ctx = result.context
    write_csv(out / "failures.csv", ["variant", "role", "subject", "path", "kind", "reason"], result.failures)
    write_csv(out / "samples.csv", ["variant", "role", "subject", "path", "acquired", "failure_kind", "reason",
                                    "det_score", "n_faces", "bbox"], result.samples)
    if config["report"]["export"] and result.comparisons:
        from .scores import export_scores
        export_scores(out / "scores", result.comparisons, result.used_impostors, result.ids)
    if result.embeddings:
        from .embeddings import write_embeddings
        write_embeddings(out / "embeddings.npz", *result.embeddings)
    np.savez_compressed(out / "scores.npz", **{k: a for label, v in result.scores.items()
                                               for k, a in score_arrays(label, v).items()})
    _atomic_write(out / "provenance.json", json.dumps(_clean({"system": ctx["system"], "environment": env,
                                                              "colourisers": ctx["colourisers"]}), indent=2))


def score_arrays(label: str, scores: dict) -> dict:
    """scores.npz's arrays of one row: ``<row>|genuine`` (the compared genuine scores) and, when the
    impostor scores were kept whole, ``<row>|impostor``; when they streamed, ``<row>|impostor_tail``
    (the highest scores, ascending), ``<row>|impostor_histogram`` (counts of equal bins over
    ``<row>|impostor_histogram_range``) and ``<row>|impostor_moments`` (count, mean, sum of squared
    deviations)."""
    from .evaluation import as_summary

    imp = as_summary(scores["impostor"])
    out = {f"{label}|genuine": scores["genuine"]}
    if imp.exact:
        out[f"{label}|impostor"] = imp.scores
        return out
    out.update({f"{label}|impostor_tail": imp.tail(), f"{label}|impostor_histogram": imp.hist,
                f"{label}|impostor_histogram_range": np.array(imp.describe()["histogram_range"]),
                f"{label}|impostor_moments": np.array([imp.n, imp.mean, imp.m2])})
    return out


def write_quality(out: Path, result, ctx) -> tuple:
    """Table 2, the EDC table and their plots; empty tables when no quality was asked for."""
    q = result.quality
    if not q:
        return [], [], [], []
    h2 = ["Variant", "Estimator", "N", "Undefined", "Mean", "Median", "Std", "Min", "Max", "Unit"]
    b2 = [[r["variant"], r["estimator"], str(r["n"]), str(r["n_undefined"])]
          + ["n/a" if not math.isfinite(r[k]) else f"{r[k]:.4g}" for k in ("mean", "median", "std", "min", "max")]
          + [r["unit"]] for r in q["table2"]]
    _write_table(out, "table2", h2, b2, "Table 2: face image quality per variant", [
        "Over the images the scenarios use in each variant (in scenario 2, greyscale probes only; an image used on "
        "both sides counts once); "
        "'Undefined': no face acquired in that variant, or the estimator could not score it (reasons in "
        "metrics.json).", "Higher is better except roll and yaw_proxy (lower) and exposure (nearest 127.5)."])
    md = q["max_discard"]
    he = ["Scenario", "Estimator", "Genuine compared", "FNMR at 0% discarded (%)",
          f"FNMR at {100 * md:g}% discarded (%)", f"EDC area to {100 * md:g}%", "Area with random discarding",
          "Area relative to random"]
    be = [[r["row"], r["estimator"], str(r["n_comparisons"]), pct(r["fnmr_at_0"]), pct(r[f"fnmr_at_{md:g}"]),
           f"{r['area']:.5f}", f"{r['area_random_discard']:.5f}",
           "n/a" if not math.isfinite(r["area_relative_to_random"]) else f"{r['area_relative_to_random']:.3f}"]
          for r in q["edc"]]
    thr = ctx["thresholds"][str(float(result.rows[0]["fmr_target"]))]["threshold"] if result.rows else float("nan")
    _write_table(out, "edc", he, be, "Error-versus-discard: which quality measure predicts false non-matches", [
        f"FNMR at the fixed threshold {thr:.4f} (FMR = {100 * result.rows[0]['fmr_target']:g}% on the baseline) as the "
        "lowest-quality genuine comparisons are discarded; pair quality = the lower of the two samples' "
        "qualities (ties discarded together; ISO/IEC 29794-1, Schlett et al. 2023).",
        f"Area: under the step curve from 0 to {100 * md:g}% discarded; lower is better. Random discarding keeps "
        "the FNMR flat in expectation (area = FNMR x the range); a ratio below 1 means the estimator finds "
        "the comparisons that fail.",
    ])
    plot_quality_cdf(q, out / "quality_cdf.png")
    plot_edc(q, out / "edc.png")
    return h2, b2, he, be


def _panels(plt, n: int, width: float, height: float):
    """A figure of ``n`` panels, three to a row; the unused ones hidden."""
    ncol = min(3, n)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(width * ncol, height * nrow), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes


def plot_quality_cdf(q: dict, path: Path) -> None:
    """The CDF of each estimator per variant (the paper's Fig. 4a for FaceQnet), over the central
    99% of the values."""
    from . import plotting as plt

    names = q["names"]
    units = {r["estimator"]: r["unit"] for r in q["table2"]}
    fig, axes = _panels(plt, len(names), 4.2, 3.3)
    for ax, name in zip(axes.ravel(), names):
        for v in q["variants"]:
            x = np.sort(q["values"][(v, name)])
            if x.size:
                ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", label=v)
        allv = np.concatenate([q["values"][(v, name)] for v in q["variants"]])
        if allv.size:  # the bulk of the distribution; the tails' extremes are in Table 2
            lo, hi = np.percentile(allv, [0.5, 99.5])
            if hi > lo:
                ax.set_xlim(lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo))
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"{name} ({units.get(name) or 'no unit'})", fontsize=8)
        ax.set_ylabel("fraction of samples <= x")
        ax.grid(True, alpha=0.3)
        if not allv.size:
            ax.text(0.5, 0.5, "no sample has a value", ha="center", va="center", transform=ax.transAxes)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_edc(q: dict, path: Path) -> None:
    """One panel per scenario row: FNMR against the fraction discarded, one line per estimator."""
    from . import plotting as plt

    rows = list(dict.fromkeys(r["row"] for r in q["edc"]))
    if not rows:
        return
    fig, axes = _panels(plt, len(rows), 4.4, 3.4)
    for ax, row in zip(axes.ravel(), rows):
        mine = [x for x in q["edc"] if x["row"] == row]
        for r in mine:
            ax.step(r["discard"], 100 * r["fnmr"], where="post", label=r["estimator"])
        # discarding at random leaves the FNMR where it was (in expectation): the line to beat
        ax.axhline(100 * mine[0]["fnmr"][0], color="black", ls="--", lw=0.8, label="random discard")
        ax.axvline(q["max_discard"], color="grey", ls=":", lw=1)
        ax.text(q["max_discard"], 0.98, f" {100 * q['max_discard']:g}% limit (edc.max_discard)", fontsize=7,
                color="grey", va="top", transform=ax.get_xaxis_transform())
        if mine[0]["fnmr"][0] == 0:
            ax.text(0.5, 0.5, "no false non-match: nothing to discard", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)
        xmax = min(1.0, 2.5 * q["max_discard"])
        ax.set_xlim(0, xmax)
        shown = [100 * r["fnmr"][r["discard"] <= xmax] for r in q["edc"] if r["row"] == row]
        top = max((float(x.max()) for x in shown if x.size), default=1.0)
        ax.set_ylim(0, 1.1 * top if top > 0 else 1.0)
        ax.set_title(f"scenario {row}", fontsize=9)
        ax.set_xlabel("fraction of genuine comparisons discarded")
        ax.set_ylabel("FNMR (%)")
        ax.grid(True, alpha=0.3)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def html_table(header, body) -> str:
    from html import escape
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def html_img(out: Path, name: str) -> str:
    """A PNG of the report folder embedded in the page ("" where the plot was not made)."""
    import base64
    p = out / name
    if not p.is_file():
        return ""
    return f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'


def write_html(out: Path, result, config: dict, env: dict, h3, b3, extra=()) -> None:
    """One self-contained page (plots embedded) with everything a reader looks at first."""
    from collections import Counter
    from html import escape

    ctx = result.context
    table = html_table

    def img(name):
        return html_img(out, name)

    t1 = result.table1
    reasons = Counter((f["variant"], f["reason"]) for f in result.failures)
    thr = ctx["thresholds"][str(float(config["fmr"]))]
    models = [[m["role"], m["path"], m["bytes"], m["sha256"]] for m in ctx["system"]["models"]]
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>fr-eval report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #bbb;padding:3px 8px;font-size:90%}}th{{background:#eee}}img{{max-width:49%}}</style></head><body>
<h1>fr-eval report: {escape(t1['dataset'])}, system {escape(ctx['system']['name'])}</h1>
{''.join(f'<p class="warning"><strong>{escape(n)}</strong></p>' for n in machine_notes(ctx['engine']))}
{''.join(f'<p>{escape(n)}</p>' for n in run_notes(ctx))}
<p>{escape(ctx['system_choice'])}. Rates in the tables are percentages; <code>metrics.json</code> holds every
figure as a fraction with its 95% interval. Threshold {thr['threshold']:.4f} (cosine similarity, match if &ge;)
fixed on {thr['n_impostor']} baseline impostor scores for FMR &le; {100 * float(config['fmr']):g}%
(achieved {100 * thr['fmr_achieved']:.4f}%).</p>
<h2>Table 1</h2>{table(["Database", "Subjects", "References", "Probes", "Genuine", "Impostor"],
                       [[t1['dataset'], t1['subjects'], t1['references'], t1['probes'], t1['genuine'], t1['impostor']]])}
<h2>Table 3</h2>{table(h3, b3)}
{''.join(f'<h2>{escape(t)}</h2>' + table(h, b) for t, h, b in extra)}
<h2>Curves</h2>{img('det.png')}{img('frr_threshold.png')}
{img('quality_cdf.png') + img('edc.png') if (out / 'edc.png').is_file() else ''}
{'<h2>Colourisation examples (cf. the paper&#39;s Fig. 2)</h2>' + img('colourisation_examples.png')
 if (out / 'colourisation_examples.png').is_file() else ''}
<h2>Failures to acquire ({len(result.failures)})</h2>
{table(["variant", "reason", "count"], [[v, r, n] for (v, r), n in reasons.most_common()])}
<p>Every failure is listed in <code>failures.csv</code>; every sample in <code>samples.csv</code>.</p>
<h2>Models and software</h2>{table(["role", "path", "bytes", "sha256"], models)}
<p>{escape(', '.join(f'{k} {v}' for k, v in env['packages'].items()))}; Python {escape(env['python'])}
on {escape(env['platform'])}.</p>
<h2>Configuration</h2><pre>{escape(json.dumps(_clean(config), indent=1))}</pre></body></html>"""
    _atomic_write(out / "report.html", html)


def legend_label(label: str, ctx: dict) -> str:
    """A row's label in a plot legend, with its colouriser's description where it has one (the
    exemplar stand-in says what it is wherever its rows appear)."""
    for name, text in (ctx.get("colouriser_descriptions") or {}).items():
        if label.endswith(f"[{name}]"):
            return f"{label}: {text}"
    return label


def plot_det(scores: dict, ctx: dict, fmr: float, path: Path | None, *, title: str | None = None,
             prefix: str = "scenario ", ax=None, min_false_matches: int | None = None) -> None:
    """DET curves of every row (:func:`fr_eval.plot_det.draw_det`), saved as PNG and PDF (vector);
    the operating point is marked where ``ctx`` names the threshold at ``fmr``, and the FMR target
    is said to be unsupported when fewer than ``min_false_matches`` false matches are allowed at it."""
    from . import plotting as plt
    from .evaluation import as_summary
    from .plot_det import draw_det

    thr = (ctx.get("thresholds") or {}).get(str(fmr)) or {}
    summaries = {label: as_summary(sc["impostor"]) for label, sc in scores.items()}  # an array is sorted once
    curves = [(f"{prefix}{legend_label(label, ctx)}", sc["genuine"], summaries[label], thr.get("threshold"))
              for label, sc in scores.items() if sc["genuine"].size and summaries[label].n]
    n_imp = max((c[2].n for c in curves), default=0)
    allowed = N.allowed_false_matches(fmr, n_imp)
    fig, ax = plt.own_axes(ax, (9.0, 5.6))
    draw_det(ax, curves, fmr, supported=min_false_matches is None or allowed >= min_false_matches, allowed=allowed)
    ax.set_title(title or f"DET ({ctx['system']['name']}, {ctx['dataset']['name']}); open markers: the operating "
                 f"point at FMR={fmr_label(fmr)}", fontsize=9)
    if fig is not None:  # drawn on the caller's axes: the caller saves
        fig.tight_layout()
        fig.savefig(path, dpi=120, bbox_inches="tight")  # the legend outside the axes included
        fig.savefig(Path(path).with_suffix(".pdf"), bbox_inches="tight")


def plot_examples(rows, path: Path) -> None:
    """Original, greyscale and each colourisation side by side (the paper's Fig. 2)."""
    from . import plotting as plt

    ncol = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), ncol, figsize=(1.9 * ncol, 2.0 * len(rows)), squeeze=False)
    for r, (label, tiles) in enumerate(rows):
        for c, (name, img) in enumerate(tiles):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if img is None:
                ax.text(0.5, 0.5, "failed", ha="center", va="center", transform=ax.transAxes)
            else:
                ax.imshow(img)
            if r == 0:
                ax.set_title(name, fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_frr_threshold(result, ctx, fmr, path: Path | None, *, ax=None) -> None:
    """FRR (FTA included) against the decision threshold, as the paper's Fig. 4b."""
    from . import plotting as plt

    fig, ax = plt.own_axes(ax, (6.4, 4.8))
    grid = np.linspace(-0.2, 1.0, 481)
    for row in result.rows:
        gen = result.scores[row["label"]]["genuine"]
        fta = row["fta"]
        fnmr = np.array([np.mean(gen < t) if gen.size else 1.0 for t in grid])
        ax.plot(grid, 100 * (fta + fnmr * (1 - fta)), label=f"scenario {legend_label(row['label'], ctx)}")
    t = ctx["thresholds"][str(fmr)]["threshold"]
    ax.axvline(t, color="grey", ls=":", lw=1, label=f"threshold at FMR={fmr_label(fmr)}")
    ax.set_xlabel("decision threshold (cosine similarity; match if >=)")
    ax.set_ylabel("FRR (%)")
    ax.set_title("FRR = FTA + FNMR (1 - FTA) against the threshold")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if fig is not None:  # drawn on the caller's axes: the caller saves
        fig.tight_layout()
        fig.savefig(path, dpi=120)
