"""The rows and notes of the report's tables (Table 1, Table 3, the pairs protocol, the breakdown):
pure functions from figures to text cells, with the digits, intervals and flags of
:mod:`fr_eval.report.numbers`."""
from __future__ import annotations

import math

from . import numbers
from .numbers import fmr_label


def as_sentence(text: str) -> str:
    """A paired comparison's sentence as a note: capital first letter, full stop."""
    return text[0].upper() + text[1:] + "."


def score_name(system: dict, short: bool = False) -> str:
    """What the system's scores are, for every table, note and axis that names them."""
    score = system.get("score") or {}
    if score.get("metric") == "euclidean":
        t = score.get("dlib_threshold") or {}
        return ("1 - d\u00b2/2" if short else
                f"similarity 1 - d\u00b2/2 of dlib's Euclidean distance d (dlib's d <= {t.get('distance', 0.6):g} is "
                f">= {t.get('similarity', 0.82):.2f})")
    return "cosine" if short else "cosine similarity"


def axis_score(system: dict) -> str:
    """The similarity's name on a plot axis: cosine similarity, or dlib's similarity 1 - d²/2."""
    short = score_name(system, short=True)
    return "cosine similarity" if short == "cosine" else f"similarity {short}"


def pct(x, digits=3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f}"


def table3_rows(rows, fmr, min_false_matches: int, threshold_header: str = "Threshold (cosine)",
                threshold_sign: float = 1.0, *, csv: bool = False) -> tuple[list[str], list[list[str]]]:
    """The paper's Table 3 columns (scenario, d', FTA, FNMR, FRR), then the other figures, with the
    digits, intervals and flags of :mod:`fr_eval.report_numbers`: "x [low, high]" in a cell, or
    with ``csv=True`` the interval in ``_low`` / ``_high`` columns. ``threshold_sign=-1`` shows
    thresholds of distances read as negated similarities."""
    fl = fmr_label(fmr)
    others = [f for f in (rows[0]["fnmr_at"] if rows else {}) if float(f) != fmr]
    rated = [("FTA (%)", "fta", "n_samples"), (f"FNMR at FMR={fl} (%)", "fnmr", "n_genuine_compared"),
             (f"FRR at FMR={fl} (%)", "frr", "n_genuine"), ("FTA transaction (%)", "fta_transaction", "n_genuine"),
             (f"FRR transaction at FMR={fl} (%)", "frr_transaction", "n_genuine")]
    head = ["Scenario", "d'"]
    for name, _, _ in rated:
        head += [name, name.replace(" (%)", " low (%)"), name.replace(" (%)", " high (%)")] if csv else [name]
    header = (head + ["EER (%)"] + [f"FNMR at FMR={fmr_label(float(f))} (%)" for f in others]
              + [threshold_header, "FMR achieved (%)", "Genuine compared", "Impostor compared"]
              + ([f"FMR={fmr_label(float(f))} supported" for f in [fmr, *others]] + ["Impostor scores from"]
                 if csv else []))

    def flag(f: float, r) -> str:  # in the CSV, the flags are columns of their own
        return "" if csv or numbers.supported(f, r["n_impostor"], min_false_matches) else numbers.DAGGER

    body = []
    for r in rows:
        line = [r["label"], "n/a" if r["d_prime"] is None or not math.isfinite(r["d_prime"]) else f"{r['d_prime']:.3f}"]
        for _, key, count in rated:
            n, iv = r[count] or r["n_genuine"], r["intervals"].get(key)
            mark = flag(fmr, r) if key in ("fnmr", "frr", "frr_transaction") else ""
            if csv:
                line += [numbers.pct(r[key], n) + mark, numbers.pct(iv["low"], n), numbers.pct(iv["high"], n)]
            else:
                line.append(numbers.with_interval(r[key], iv, n) + mark)
        n_cmp = r["n_genuine_compared"]
        borrowed = borrowed_impostors(r)
        line += ([numbers.pct(r["eer"], n_cmp)] + [numbers.pct(r["fnmr_at"][f], n_cmp) + flag(float(f), r) for f in others]
                 + [f"{threshold_sign * r['threshold']:.4f}", numbers.pct(r["fmr_achieved"], r["n_impostor"]),
                    str(n_cmp), str(r["n_impostor"]) if csv or not borrowed else f"{borrowed}'s"])
        if csv:
            line += ["yes" if numbers.supported(float(f), r["n_impostor"], min_false_matches) else "no"
                     for f in [fmr, *others]] + [borrowed or "this row"]
        body.append(line)
    return header, body


def borrowed_impostors(r: dict) -> str | None:
    """The row whose impostor scores row ``r`` uses when they are not its own (the paper's protocol:
    the baseline's, compared once), e.g. "row 1"; None when they are its own."""
    src = str(r.get("impostor_scores_from") or "")
    if "(baseline)" not in src:
        return None
    base = src.replace("(baseline)", "").replace("scenario", "").replace("row", "").strip()
    return None if base in (str(r.get("label")), str(r.get("scenario"))) else f"row {base}"


def impostor_reuse_note(rows) -> list[str]:
    """One note for the rows that use another row's impostor scores (instead of a repeated count)."""
    reused = [r["label"] for r in rows if borrowed_impostors(r)]
    if not reused:
        return []
    r0 = next(r for r in rows if borrowed_impostors(r))
    return [f"Rows {', '.join(reused)} use {borrowed_impostors(r0)}'s {r0['n_impostor']} impostor scores (the baseline's, "
            f"as the paper; impostor_scores=scenario compares impostors in every row's own variants): their "
            f"'Impostor compared' cell says so, and their thresholds and FMRs are that row's."]


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
    notes = impostor_reuse_note(rows) + [
             "Digits: a rate over N attempts moves by 100/N % per error and is printed with one decimal more "
             "than that step needs (at most 4). Rates read 'value [low, high]': the 95% interval (rule of 3 with "
             "no error, else a percentile bootstrap over subjects); table3.csv has them in _low/_high columns."]
    if rows:
        fmrs = [fmr] + [float(f) for f in rows[0]["fnmr_at"] if float(f) != fmr]
        note = numbers.support_note(fmrs, rows[0]["n_impostor"], min_false_matches)
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


def data_notes(context: dict) -> list[str]:
    """The run's warnings about its data (images under two subjects kept, scores that barely separate)."""
    return [f"WARNING: {w}" for w in context.get("warnings") or []]


def impostor_note(c: dict) -> str:
    if c["impostor_rule"] == "protocol pairs":
        filled = c.get("impostor_filled", 0)
        return ("Genuine and impostor comparisons: the matched and mismatched pairs of the protocol whose images "
                "are present" + (f"; {filled} of the mismatched pairs were drawn by fr-eval (not the protocol's)"
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


def stream_note(kept: dict | None) -> str:
    """How the impostor scores were kept, so that the EER and the DET say how exact they are."""
    if not kept or kept["exact"]:
        return "Impostor scores kept whole: EER and DET computed on every score."
    return (f"Impostor scores streamed in blocks (impostor_keep_all < {kept['n']}): thresholds, achieved FMRs "
            f"and FNMRs are exact (from the {kept['kept']} highest scores, kept: every FMR <= "
            f"{pct(kept['tail_max_fmr'], 4)}%); d' from exact float64 moments; EER and the DET above that FMR "
            f"from a {kept['histogram_bins']}-bin histogram over [-1, 1] (bin width {kept['resolution']:.3g}), "
            f"each row's EER within its eer_resolution in metrics.json.")
