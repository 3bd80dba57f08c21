"""The report's paired comparison of rows (``paired.csv/.md``): does colourisation help?"""
from __future__ import annotations

import math
from pathlib import Path


def _pts(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:+.2f}"


def _ci(iv: dict, scale: float = 100.0) -> str:
    if iv["method"] == "none" or not math.isfinite(iv["low"]):
        return "n/a"
    return f"[{scale * iv['low']:+.2f}, {scale * iv['high']:+.2f}]"


HEADER = ["Row b vs row a", "Attempts", "FRR a (%)", "FRR b (%)", "FRR b - a (points)", "FRR CI",
          "McNemar p (b only / a only)", "FNMR b - a (points)", "FNMR CI", "d' b - a", "d' CI"]


def paired_table(comparisons: list[dict]) -> tuple[list[str], list[list[str]]]:
    """One line per compared pair: the FRR and FNMR differences in percentage points with their
    paired intervals, the exact McNemar test on the FRR's discordant attempts, the d' difference."""
    body = []
    for c in comparisons:
        m = c["frr_mcnemar"]
        body.append([f"{c['b']} vs {c['a']}", str(c["n_attempts"]), f"{100 * c['frr_a']:.2f}", f"{100 * c['frr_b']:.2f}",
                     _pts(c["frr_difference"]), _ci(c["frr_interval"]),
                     f"{m['p_value']:.3g} ({m['b_only']} / {m['a_only']})", _pts(c["fnmr_difference"]),
                     _ci(c["fnmr_interval"]), f"{c['d_prime_difference']:+.3f}", _ci(c["d_prime_interval"], 1.0)])
    return HEADER, body


def write_paired(out: Path, comparisons: list[dict], stand_in: list[str] = ()) -> list:
    """paired.csv / paired.md where the run compared rows; returns the page's items (the table, or a
    line saying that no pair was compared). ``stand_in``: the notes naming stand-in colourisers."""
    from .html import Text, table_file
    from .tables import as_sentence

    if not comparisons:
        return [Text(["No pair of rows was compared (report.compare=[] or the rows of its pairs are absent)."])]
    header, body = paired_table(comparisons)
    title = "Paired comparison of rows (the same genuine attempts, the same threshold)"
    notes = [
        "Differences are row b minus row a, in percentage points (d' in its own units); FRR is the transaction-level "
        "one (an attempt is rejected when a sample failed to acquire or its score is below the threshold); FNMR is "
        "over the attempts compared in both rows.",
        "Intervals (CI, at bootstrap.confidence: 95% by default): percentile bootstrap resampling subjects, both "
        "rows' attempts of a subject kept together (paired). McNemar: exact two-sided binomial test on the attempts "
        "rejected by one row only.",
        *stand_in,
    ] + [as_sentence(c["sentence"]) for c in comparisons]
    return [table_file(out, "paired", header, body, title, notes)]
