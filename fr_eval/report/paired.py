"""The report's paired comparison of rows (``paired.csv/.md``): does colourisation help?"""
from __future__ import annotations

import math
from pathlib import Path

from ..paired import FRR_DEFINITIONS
from . import numbers
from .html import Text, table_file
from .tables import as_sentence


def _pts(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:+.2f}"


def _ci(iv: dict, scale: float = 100.0) -> str:
    return numbers.ci_text(iv, lambda v: f"{scale * v:+.2f}") or "n/a"


HEADER = ["Row b vs row a", "At", "Subjects", "Attempts", "FRR a (%)", "FRR b (%)", "FRR b - a (points)", "FRR 95% CI (subjects)",
          "p (subjects)", "p (Holm)", "Rejected by b only / a only", "FNMR b - a (points)", "FNMR 95% CI (subjects)", "d' b - a",
          "d' 95% CI (subjects)"]


def _p(test: dict, key: str) -> str:
    """A p-value as the sentences write it: below the permutations' resolution the raw p is "< 0.0001" (none of
    the random swaps as extreme) and its Holm adjustment "<= x" (a bound multiplied by the family's size)."""
    v = test.get(key, float("nan"))
    if not math.isfinite(v):
        return "n/a"
    bound = not test.get("exact", True) and test.get("n_extreme") == 0  # below the permutations' resolution
    if bound:
        return f"< {1 / test['n_permutations']:.1g}" if key == "p_value" and test.get("n_permutations") else \
            f"<= {v:.1g}"
    return f"{v:.2g}"


def paired_table(comparisons: list[dict]) -> tuple[list[str], list[list[str]]]:
    """One line per compared pair: the FRR (the definition each comparison names) and FNMR differences
    in percentage points with their paired subject-bootstrap intervals, the permutation test over
    subjects and its Holm adjustment, the discordant attempts (descriptive), the d' difference. A
    comparison over too few subjects has its subject count marked "(n too small)"."""
    body = []
    for c in comparisons:
        d = c["discordant"]
        subjects = f"{c['n_subjects']}" + (" (n too small)" if c.get("small_sample") else "")
        at = (c.get("operating_point") or "") + ("" if c.get("supported", True) else "\u2020 unsupported")
        body.append([f"{c['b']} vs {c['a']}", at, subjects, str(c["n_attempts"]), f"{100 * c['frr_a']:.2f}",
                     f"{100 * c['frr_b']:.2f}", _pts(c["frr_difference"]), _ci(c["frr_interval"]),
                     _p(c["frr_test"], "p_value"), _p(c["frr_test"], "p_holm"), f"{d['b_only']} / {d['a_only']}",
                     _pts(c["fnmr_difference"]), _ci(c["fnmr_interval"]), f"{c['d_prime_difference']:+.3f}",
                     _ci(c["d_prime_interval"], 1.0)])
    return HEADER, body


def write_paired(out: Path, comparisons: list[dict], stand_in: list[str] = ()) -> list:
    """paired.csv / paired.md where the run compared rows; returns the page's items (the table, or a
    line saying that no pair was compared). ``stand_in``: the notes naming stand-in colourisers."""
    if not comparisons:
        return [Text(["No pair of rows was compared (report.compare=[] or the rows of its pairs are absent)."])]
    header, body = paired_table(comparisons)
    title = "Paired comparison of rows (the same genuine attempts, the same threshold)"

    defs = sorted({c["frr_definition"] for c in comparisons})
    notes = [
        "At: the operating point whose threshold (fixed on the baseline's impostors) both rows are compared at: the "
        "run's FMR target where its impostors support it (report.min_false_matches false matches allowed), else the "
        "strictest supported one of fmr_extra (Table 3 gives every target's figures); \u2020: none is supported, "
        "the comparison is shown and draws no conclusion. "
        "Differences are row b minus row a, in percentage points (d' in its own units). FRR: "
        + "; ".join(FRR_DEFINITIONS[d] for d in defs) + ": the same FRR as Table 3's column and the headline. "
        "The transaction-level FRR and its difference are in metrics.json (paired_comparisons: frr_transaction_*) "
        "and in Table 3's 'FRR transaction' column. FNMR is over the attempts compared in both rows.",
        "Intervals (CI, at bootstrap.confidence: 95% by default): percentile bootstrap resampling subjects, both "
        "rows' counts of a subject kept together (paired). p (subjects): paired permutation test over subjects (each "
        "subject's two rows swapped at random; exact over every swap up to 16 subjects that differ, else 10,000 "
        "random ones); the attempts are not independent (one subject's failed reference removes all of its "
        "attempts), so no attempt-level test is given. p (Holm): adjusted over the comparisons of this page. "
        "'Rejected by b only / a only': attempts (transaction level), a description, not a test.",
        f"A comparison over fewer than report.min_subjects={comparisons[0].get('min_subjects', 10)} subjects is "
        "marked 'n too small' and is no finding; one whose interval holds 0, or whose Holm-adjusted p is not below "
        "1 - bootstrap.confidence, reads 'no clear difference'.",
        *stand_in,
    ] + [as_sentence(c["sentence"]) for c in comparisons]
    return [table_file(out, "paired", header, body, title, notes)]
