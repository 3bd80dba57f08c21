"""The identification section (``protocol=identification``): the table per scenario row (CSV, Markdown),
the CMC and the FNIR-FPIR tradeoff (PNG and PDF), the definitions; figures come from
:mod:`fr_eval.stages.identify`, rendered here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
import pyarrow.parquet as pq

from . import numbers
from .html import Figure, Section, Table, table_file
from .plots import save, style_of, subplots
from .tables import as_sentence

DEFINITIONS = {
    "gallery": "one candidate per enrolled subject: the mean of its references' unit embeddings (template=mean), "
               "or its best-scoring reference (template=best), in the row's reference variant",
    "searches": "every probe, in the row's probe variant: mated when its subject is enrolled, non-mated when its "
                "subject was held out of the gallery",
    "rank": "1 + the non-mate candidates scoring at or above the mate (ties count against the mate, as bob.measure)",
    "identification_rate_at_rank_r": "mated searches whose mate ranks r or better / all mated searches (a failure "
                                     "to acquire or to enrol is a miss)",
    "fpir": "non-mated searches with a candidate scoring >= T / all non-mated searches (NIST FRTE 1:N)",
    "fnir": "mated searches whose mate is not among the top R candidates scoring >= T / all mated searches",
    "fpir_threshold": "fixed on the baseline row's non-mated searches: the lowest T whose FPIR <= target, reused "
                      "in every row",
    "intervals": "95%: rule of 3 at zero errors, else percentile bootstrap over subjects",
}


def metrics_entry(ident) -> dict:
    """What metrics.json holds of identification (fractions)."""
    return {"definitions": DEFINITIONS, "split": ident.split,
            "thresholds": {str(k): v for k, v in ident.thresholds.items()},
            "rows": [{**r, "at_fpir": {str(k): v for k, v in r["at_fpir"].items()}} for r in ident.rows],
            "paired_comparisons": list(ident.paired),
            "by_gallery_size": [{**r, "at_fpir": {str(k): v for k, v in r["at_fpir"].items()}} for r in ident.by_size]}


def write_identification(out: Path, ident) -> list[Section]:
    """identification.csv/.md, identification_cmc.png/.pdf, identification_tradeoff.png/.pdf and their section."""
    split, R = ident.split, ident.split["max_rank"]
    targets = list(ident.thresholds)
    header = ["Scenario", "Reference", "Probe", "Gallery", "Mated searches", "Non-mated searches",
              "Search FTA, mated (%)", "Rank-1 identification rate (%)", f"Rank-{R} identification rate (%)"]
    header += [h for t in targets for h in (f"FPIR at T(FPIR<={numbers.fmr_label(t)}) (%)",
                                            f"FNIR rank 1 at T(FPIR<={numbers.fmr_label(t)}) (%)")]
    body = []
    for r in ident.rows:
        nm, nn = r["mated_searches"], r["nonmated_searches"]
        cells = [r["label"], r["reference_variant"], r["probe_variant"], str(r["gallery_size"]), str(nm), str(nn),
                 numbers.pct(r["mated_fta"], nm), numbers.with_interval(r["rank1"], r["rank1_interval"], nm),
                 numbers.pct(r[f"rank{R}"], nm)]
        for t in targets:
            a = r["at_fpir"][t]
            flag = "" if ident.thresholds[t]["supported"] else numbers.DAGGER
            cells += [numbers.with_interval(a["fpir"], a["fpir_interval"], nn) + flag,
                      numbers.with_interval(a["fnir_rank1"], a["fnir_rank1_interval"], nm) + flag]
        body.append(cells)
    notes = ["Rates in percent with 95% intervals (subject bootstrap; rule of 3 at zero errors). " + (
        _source_note(split) if split.get("source") else f"Gallery: "
             f"{split['enrolled']} of {split['subjects']} subjects enrolled ({split['gallery_template']} template)"
             + (f", {split['enrolled_reference_only']} of them with references only (single-image subjects, "
                f"dataset.single_image_subjects=impostor: non-mates to every search)"
                if split.get('enrolled_reference_only') else "")
             + f"; {split['held_out']} held out, whose probes are the non-mated searches ({split['rule']}).")]
    if split.get("max_rank_asked"):
        why = (f"the gallery holds {split['enrolled']} subjects (a rank beyond the gallery finds every mate)"
               if R >= split["enrolled"] else f"the candidate lists hold {R} candidates")
        notes.append(f"identification.max_rank={split['max_rank_asked']} was asked; the CMC and the rank-R figures "
                     f"stop at rank {R}: {why}.")
    for t, rec in ident.thresholds.items():
        notes.append(f"T(FPIR<={numbers.fmr_label(t)}) = {rec['threshold']:.4f}, fixed on the baseline's "
                     f"{rec['n_nonmated']} non-mated searches ({rec['allowed_false_alarms']} false alarm(s) allowed; "
                     f"achieved FPIR {numbers.pct(rec['fpir_achieved'], rec['n_nonmated'])}%)"
                     + ("" if rec["supported"] else f"; {numbers.DAGGER} too few non-mated searches to support this "
                                                    "target (its figures are shown, not ranked)"))
    notes.append("Definitions (ISO/IEC 19795-1, NIST FRTE 1:N): " + "; ".join(
        f"{k}: {v}" for k, v in DEFINITIONS.items() if k in ("rank", "fpir", "fnir")) + ".")
    table = table_file(out, "identification", header, body, "Identification (1:N)", notes)
    n_lists = write_candidates(out / "identification_candidates.parquet", ident)
    notes.append(f"Candidate lists: identification_candidates.parquet, the top {R} candidates of every search in "
                 f"every row ({n_lists} rows: row, search, search_subject, mated, acquired, rank, candidate_subject, "
                 "score, gallery_size; fr-eval candidates=<file> reads it back; a search that failed to acquire "
                 "has one row with rank 0 and no candidate).")
    _plot_cmc(ident, out / "identification_cmc.png")
    _plot_tradeoff(ident, out / "identification_tradeoff.png")
    items = [table, *_paired_table(out, ident), *_size_table(out, ident, targets[0])]
    return [Section("identification", "Identification (1:N): searches against a gallery", [
        *items,
        Figure("identification_cmc.png", f"Closed-set CMC of every row: the identification rate at ranks 1-{R} "
               f"over the mated searches (gallery of {split['enrolled']} subjects; failures to acquire are misses); "
               f"each row in the style it has in every plot of the report."),
        Figure("identification_tradeoff.png", "FNIR at rank 1 against FPIR, both in percent (FPIR on a log axis), "
               "every threshold, per row (NIST FRTE's error tradeoff); open markers: each row at the threshold of "
               "each FPIR target (one marker shape per target, fixed on the baseline's non-mated searches; "
               f"{numbers.DAGGER} unsupported: too few non-mated searches); a point with no false alarm is drawn at half "
               "a non-mated search (the dotted line), a log axis having no 0.")])]


def identification_first_screen(ident, dataset: str, system: str) -> dict:
    """What a ``protocol=identification`` page shows first: its title, the identification headline (per row: the
    gallery, rank-1 and FNIR at rank 1 at the supported FPIR threshold, with intervals over subjects) and the
    paired sentences "does colourisation hurt search?" at that point."""
    t = ident.split["compared_fpir"]  # chosen by the stage (stages.identify.compared_target)
    ok = ident.thresholds[t]["supported"]
    flag = "" if ok else numbers.DAGGER
    label = numbers.fmr_label(t)
    body = [[r["label"], str(r["gallery_size"]), str(r["mated_searches"]),
             numbers.with_interval(r["rank1"], r["rank1_interval"], r["mated_searches"]),
             numbers.with_interval(r["at_fpir"][t]["fnir_rank1"], r["at_fpir"][t]["fnir_rank1_interval"],
                             r["mated_searches"]) + flag] for r in ident.rows]
    notes = [f"FNIR at rank 1 at T(FPIR<={label}) = {ident.thresholds[t]['threshold']:.4f}, fixed on the baseline's "
             f"{ident.thresholds[t]['n_nonmated']} non-mated searches"
             + ("" if ok else f"; {numbers.DAGGER} unsupported: too few non-mated searches for any FPIR target (shown, "
                              "not compared)")
             + ". Intervals: 95%, resampling subjects."]
    headline = Table(["Scenario", "Gallery", "Mated searches", "Rank-1 identification rate (%)",
                      f"FNIR rank 1 at T(FPIR<={label}) (%)"], body, notes, id="headline")
    return {"title": f"fr-eval report: identification (1:N), {dataset}, system {system}", "headline": headline,
            "headline_intro": "Identification (1:N), rates in percent with 95% intervals over subjects; the full "
                              "identification table, the CMC and the FNIR-FPIR trade-off follow, then verification "
                              "(Table 3):",
            "question": "Does colourisation hurt search?",
            "answers_intro": "Paired comparisons of rows on the same mated searches (<a href=\"#identification\">"
                             "details</a>):",
            "answers": [as_sentence(c["sentence"]) for c in ident.paired]}


def _source_note(split: dict) -> str:
    """What a report from imported candidate lists says of its gallery and searches."""
    return (f"From the candidate lists of {split['source']}: a gallery of {split['enrolled']} subjects"
            + ("" if split["gallery_size_given"] else " (at least: the candidates seen, the file gives no gallery_size)")
            + f"; mated searches are those whose subject is enrolled, non-mated ones of {split['held_out']} named "
              f"subjects" + (f" and {split['searches_without_subject']} searches naming none (each its own unit in the "
                             f"intervals)" if split["searches_without_subject"] else "")
            + (f". A mate not in a list of {split['max_rank']} ranks beyond it." if split.get("lists_cut") else
               ". Every list holds the whole gallery, so every mate's rank is known."))


def _paired_table(out: Path, ident) -> list:
    """identification_paired.csv/.md: the paired comparisons of rows on the same mated searches."""
    if not ident.paired:
        return []
    n = ident.rows[0]["mated_searches"] if ident.rows else None
    d = numbers.decimals(n)  # the digits identification.md gives these rates (one format per figure)
    return [table_file(out, "identification_paired", ["Row a", "Row b", "Figure", "a (%)", "b (%)",
                                                      "b - a (points) [95% CI (subjects)]", "p (Holm)", "Finding"],
                       [[c["a"], c["b"], c["figure"] + ("" if c.get("supported", True) else f"{numbers.DAGGER} unsupported"),
                         numbers.pct(c["a_value"], n), numbers.pct(c["b_value"], n),
                         f"{100 * c['difference']:+.{d}f} " + (numbers.ci_text(c["interval"], lambda v: f"{100 * v:+.{d}f}")
                                                               or "n/a"), f"{c['test']['p_holm']:.2g}", c["sentence"]]
                        for c in ident.paired],
                       "Does it help search? Paired comparisons of rows on the same mated searches",
                       ["Percent of the mated searches missed; b - a with a paired subject-bootstrap interval; "
                        "paired permutation test whose unit is the subject (its searches in both rows swapped "
                        "together), Holm-adjusted over the table's tests."])]


def _size_table(out: Path, ident, first: float) -> list:
    """identification_by_gallery_size.csv/.md: the figures at each nested gallery size."""
    if not ident.by_size:
        return []
    return [table_file(out, "identification_by_gallery_size", [
        "Gallery size", "Scenario", "Mated searches", "Non-mated searches", "Rank-1 identification rate (%)",
        f"T(FPIR<={numbers.fmr_label(first)}) (similarity)", "FPIR (%)", "FNIR rank 1 (%)"],
        [[str(r["gallery_size"]), r["row"], str(r["mated_searches"]), str(r["nonmated_searches"]),
          numbers.pct(r["rank1"], r["mated_searches"]), f"{r['at_fpir'][first]['threshold']:.4f}",
          numbers.pct(r["at_fpir"][first]["fpir"], r["nonmated_searches"]),
          numbers.pct(r["at_fpir"][first]["fnir_rank1"], r["mated_searches"])] for r in ident.by_size],
        "Identification by gallery size (nested galleries)",
        ["The gallery cut to its first N enrolled subjects of the seeded draw; mated searches: those N subjects' "
         "probes; non-mated: every held-out probe. Each size fixes its own threshold on the baseline's "
         "non-mated searches. Rates in percent."])]


def write_candidates(path: Path, ident) -> int:
    """Every search's candidate list (the top ``max_rank``, in rank order) per row, as Parquet; returns its rows."""
    ids, subjects, mated = ident.searches
    cols = {k: [] for k in ("row", "search", "search_subject", "mated", "acquired", "rank", "candidate_subject",
                            "score", "gallery_size")}
    for label, (entry, score, gallery, acquired) in ident.candidates.items():
        n, k = entry.shape
        has = entry >= 0
        per = np.where(acquired, has.sum(axis=1), 1)  # a failed search: one row saying so
        idx = np.repeat(np.arange(n), per)
        rank = np.concatenate([np.arange(1, m + 1) if a else [0] for m, a in zip(per, acquired)]).astype(np.int64)
        cand = np.where(rank > 0, entry[idx, np.maximum(rank - 1, 0)], -1)
        cols["row"] += [label] * len(idx)
        cols["search"] += [ids[i] for i in idx]
        cols["search_subject"] += [subjects[i] for i in idx]
        cols["mated"] += mated[idx].tolist()
        cols["acquired"] += np.asarray(acquired)[idx].tolist()
        cols["rank"] += rank.tolist()
        cols["candidate_subject"] += [str(gallery[c]) if c >= 0 else None for c in cand]
        cols["score"] += np.where(rank > 0, score[idx, np.maximum(rank - 1, 0)].astype(np.float64), np.nan).tolist()
        cols["gallery_size"] += [len(gallery)] * len(idx)
    pq.write_table(pa.table(cols), path)
    return len(cols["row"])


#: the marker of each FPIR target's operating point on the trade-off plot (the row's colour; a row's own marker
#: is on its line): targets are told apart by shape, rows by colour and line style
TARGET_MARKERS = ("o", "s", "^", "D", "v")


def _plot_cmc(ident, path: Path) -> None:
    """The CMC per row in the row's style (colour, line style and marker as in the DET and every other plot),
    at integer ranks up to the gallery's size; the legend outside the axes."""
    fig, ax = subplots(figsize=(7, 4))
    for i, r in enumerate(ident.rows):
        cmc = ident.curves[r["label"]]["cmc"][: max(1, int(r["gallery_size"]))]
        colour, ls, mk = style_of(i)
        ax.plot(np.arange(1, len(cmc) + 1), 100 * cmc, color=colour, ls=ls, marker=mk, ms=4, label=r["label"])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("rank")
    ax.set_ylabel("identification rate (%)")
    ax.grid(alpha=0.3)
    ax.legend(title="scenario row", fontsize=9, title_fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1))
    save(fig, path)


def _plot_tradeoff(ident, path: Path) -> None:
    """FNIR at rank 1 against FPIR, both in percent (FPIR on a log axis), per row in its style; each FPIR
    target's operating point by a marker of its own (unsupported targets say so in the legend); a point with no
    false alarm is drawn at half a non-mated search, the floor the caption names."""
    fig, ax = subplots(figsize=(7, 4))
    floor = 0.5 / max(1, min(r["nonmated_searches"] for r in ident.rows))
    for i, r in enumerate(ident.rows):
        thr, fpir, fnir = ident.curves[r["label"]]["tradeoff"]
        keep = fpir > 0
        colour, ls, mk = style_of(i)
        ax.step(100 * fpir[keep], 100 * fnir[keep], where="post", color=colour, ls=ls, label=r["label"])
        for j, t in enumerate(ident.thresholds):
            a = r["at_fpir"][t]
            ax.plot(100 * max(a["fpir"], floor), 100 * a["fnir_rank1"], TARGET_MARKERS[j % len(TARGET_MARKERS)],
                    mfc="none", mew=1.5, ms=8, color=colour, ls="none")
    handles, _ = ax.get_legend_handles_labels()
    for j, (t, rec) in enumerate(ident.thresholds.items()):
        handles.append(Line2D([], [], marker=TARGET_MARKERS[j % len(TARGET_MARKERS)], mfc="none", color="0.2",
                              ls="none", label=f"T(FPIR<={numbers.fmr_label(t)})" + ("" if rec["supported"] else
                                                                              f"{numbers.DAGGER} unsupported")))
    ax.axvline(100 * floor, color="0.6", lw=0.8, ls=":")
    handles.append(Line2D([], [], color="0.6", lw=0.8, ls=":", label="no false alarm (drawn at half a search)"))
    ax.set_xscale("log")
    ax.set_xlabel("FPIR (%): non-mated searches with a candidate >= T")
    ax.set_ylabel("FNIR at rank 1 (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(handles=handles, fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1))
    save(fig, path)
