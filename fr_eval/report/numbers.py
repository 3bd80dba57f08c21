"""How the report prints a number: digits that the counts justify, intervals beside every rate, and a
flag on every operating point the data cannot support.

* **Digits.** A rate over N attempts moves in steps of 100/N percent (one error). It is printed with
  one decimal more than that step's first significant digit needs, and at most 4 (N = 90: step
  1.1 %, one decimal, "1.1"; N = 2,961: step 0.034 %, three decimals, "0.844").
* **Intervals.** Every rate in Markdown and HTML reads "x [low, high]" (the row's 95% interval:
  rule of 3 when there is no error, else the subject bootstrap); the CSV has ``_low`` / ``_high``
  columns instead.
* **Supported operating points.** An FMR target is supported when the baseline's N impostor scores
  allow at least ``report.min_false_matches`` false matches at it (``floor(FMR x N)``): below that,
  the threshold rests on the top few impostor scores (none at all when FMR < 1/N), and its FNMR is
  flagged with a dagger wherever it is printed.
"""
from __future__ import annotations

import math
import re

from .. import metrics

MAX_DECIMALS = 4
DAGGER = "\u2020"


def decimals(n: int | None) -> int:
    """Decimals of a percentage over ``n`` attempts (see the module's docstring)."""
    if not n or n <= 0:
        return 2
    step = 100.0 / n
    return max(0, min(MAX_DECIMALS, math.ceil(-math.log10(step)) + 1))


def pct(x, n: int | None) -> str:
    """A fraction as a percentage with the digits ``n`` attempts justify."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{100 * x:.{decimals(n)}f}"


def ci_text(interval: dict | None, fmt=lambda v: f"{v:.2f}") -> str:
    """``[low, high]`` of an interval, each end printed by ``fmt``; "" where there is none; "(no spread)" where
    it has zero width: every unit gave the same figure, so a bootstrap over them cannot say how sure it is (a
    zero-width interval is never printed: it would look surer than any data)."""
    if not interval or interval.get("method") == "none":
        return ""
    low, high = interval.get("low"), interval.get("high")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    if fmt(low) == fmt(high):
        return "(no spread)"
    return f"[{fmt(low)}, {fmt(high)}]"


def too_few(units: int | None, min_units: int | None, unit: str = "subjects") -> str:
    """"(2 identities: n too small)" when a figure rests on fewer independent units than ``min_units``
    (report.min_subjects), else "": such a figure is shown with its count instead of an interval."""
    if units is None or not min_units or units >= min_units:
        return ""
    word = SINGULAR.get(unit, unit) if units == 1 else unit
    return f"({units} {word}: n too small)"


#: the independent units a figure rests on, one of each
SINGULAR = {"subjects": "subject", "identities": "identity", "videos": "video", "groups": "group"}


def with_interval(x, interval: dict | None, n: int | None, units: int | None = None, min_units: int | None = None,
                  unit: str = "subjects") -> str:
    """``x [low, high]`` in percent; ``x (2 identities: n too small)`` below ``min_units`` independent units;
    ``x (no spread)`` for a zero-width interval; ``x`` alone where no interval could be given."""
    text = pct(x, n)
    small = too_few(units, min_units, unit) if text != "n/a" else ""
    if small:
        return f"{text} {small}"
    ci = ci_text(interval, lambda v: pct(v, n))
    return f"{text} {ci}" if ci else text


def allowed_false_matches(fmr: float, n_impostor: int) -> int:
    """False matches a target FMR allows among ``n_impostor`` scores (as the threshold rule counts them)."""
    return metrics.allowed_false_matches(fmr, n_impostor)


def supported(fmr: float, n_impostor: int, min_false_matches: int) -> bool:
    """:func:`fr_eval.metrics.fmr_supported` (the rule lives with the metrics)."""
    return metrics.fmr_supported(fmr, n_impostor, min_false_matches)


def support_note(fmrs, n_impostor: int, min_false_matches: int) -> str | None:
    """The footnote of the flagged targets, or None when every target is supported."""
    bad = [f for f in fmrs if not supported(float(f), n_impostor, min_false_matches)]
    if not bad:
        return None
    each = ", ".join(f"FMR={100 * float(f):g}% allows {allowed_false_matches(float(f), n_impostor)}" for f in bad)
    return (f"{DAGGER} Operating point not supported by the data: the {n_impostor} baseline impostor scores allow "
            f"fewer than report.min_false_matches={min_false_matches} false matches ({each}); its threshold rests "
            f"on the top few impostor scores, so its FNMR is not a measured figure at that FMR.")


_NUMBER = re.compile(r"(?<![\w.])([-+]?\d+)(?:\.(\d+))?(?![\w.])")
#: a count said in words ("(8 subjects: n too small)"): not a rate, so neither read nor rewritten as one
_COUNT = re.compile(r"\(\d+ [a-z]+: n too small\)")


def uniform_digits(header: list[str], body: list[list[str]]) -> list[list[str]]:
    """The rate columns (a header with "(%)" or "(points)") printed with one number of decimals per column:
    the fewest any of its cells has (the coarsest count's), so that a column reads evenly and no cell claims
    more digits than its own count supports. Other columns, and cells that are not numbers, are left as they are."""
    rate = [i for i, h in enumerate(header) if "(%)" in h or "(points)" in h]
    if not rate or not body:
        return body
    out = [list(r) for r in body]
    for i in rate:
        digits = [len(m.group(2) or "") for r in body if i < len(r)
                  for m in _NUMBER.finditer(_COUNT.sub("", str(r[i])))]
        if not digits:
            continue
        d = min(digits)

        def fix(m, d=d):
            if len(m.group(2) or "") == d:
                return m.group(0)
            plus = "+" if m.group(1).startswith("+") else ""  # an explicit sign (a difference) stays
            return f"{float(m.group(0)):{plus}.{d}f}"

        for r in out:
            if i < len(r):
                text = str(r[i])
                counts = _COUNT.search(text)
                head, tail = (text[:counts.start()], text[counts.start():]) if counts else (text, "")
                r[i] = _NUMBER.sub(fix, head) + tail
    return out


def fmr_label(f: float) -> str:
    """An FMR given as a fraction, written in percent (0.001 -> "0.1%")."""
    return f"{100 * f:g}%"


def provenance_text(p: dict | None) -> str:
    """A group's images by provenance for people: "curated 17", "random 30, curated 12 of 42", "n/a"."""
    if not p or not p.get("counts"):
        return "n/a"
    parts = [f"{k} {v}" for k, v in sorted(p["counts"].items(), key=lambda kv: (-kv[1], kv[0]))]
    return ", ".join(parts) + (f" of {p['n']}" if len(parts) > 1 else "")
