"""The audit's per-group section (rendered from :func:`fr_eval.stages.audit_differentials.audit_differentials`):
per attribute a table of the groups of identities, the differences between groups with their tests, and per
method and group a CSV."""
from __future__ import annotations

import math
from pathlib import Path

from ..paired import ci_words
from . import numbers
from .html import Section, Text, table_file
from .io import write_csv

#: how each compared figure is shown: (its words, the scale of a difference, its unit, digits)
FIGURES = {"verified_rate_of_all": ("verified of all", 100, "points", 1), "fta": ("FTA", 100, "points", 1),
           "similarity": ("similarity mean (failures left out)", 1, "", 3)}


def write_groups(out: Path, diffs: dict, min_units: int) -> list[Section]:
    """generated_groups_<attribute>.csv/.md, generated_group_differences_<attribute>.csv/.md,
    generated_groups_by_method.csv and the section."""
    items, by_method = [], []
    for attr, d in diffs.items():
        by_method += [{"attribute": attr, **_flat(r)} for r in d["per_method"]]
        if not d["rows"]:
            items.append(Text([f"By {attr}: no group of identities ({_set_aside(d)})."]))
            continue
        body = [[r["group"], str(r["n_identities"]) + _small(r["n_identities"], min_units), str(r["n"]),
                 *(_rate(r, k, min_units) for k in ("fta", "verified_rate_of_all")), _sim(r, min_units)]
                for r in d["rows"]]
        notes = [f"Groups of identities by {d['source']}. Each group's figures are over the still images of its "
                 f"identities, at the audit's one threshold: they equal an audit of that group's identities alone. "
                 f"95% intervals over the group's identities; fewer than report.min_subjects={min_units}: figures "
                 f"without intervals, 'n too small', and no difference of theirs is a finding. Set aside: "
                 f"{_set_aside(d)}." + _bins(d)]
        items.append(table_file(out, f"generated_groups_{attr}", ["Group", "Identities", "Images", "FTA (%)",
                                                                   "Verified of all (%)", "Similarity mean"],
                                body, f"Identity preservation by {attr} of the identity", notes))
        pairs = [(k, p) for k in FIGURES for p in d["differences"][k]]
        if pairs:
            items.append(table_file(
                out, f"generated_group_differences_{attr}",
                ["Figure", "Group b vs group a", "Identities a / b", "a", "b", "b - a", "95% CI",
                 "Permutation p (identities)", "p, Holm-adjusted", "Reading"],
                [_pair_row(k, p) for k, p in pairs], f"Differences between groups by {attr}",
                ["b - a in percentage points for rates, in the judge's units for similarity; interval: stratified "
                 "bootstrap resampling identities within each group; test: the group labels permuted among the two "
                 "groups' identities (10,000 times), Holm-adjusted over the pairs of one figure. 'no clear "
                 "difference' where the interval holds 0 or the adjusted p is not below 0.05."]))
    write_csv(out / "generated_groups_by_method.csv", ["attribute", "method", "group", "n", "n_identities", "fta",
                                                       "fta_low", "fta_high", "verified_rate_of_all",
                                                       "verified_rate_of_all_low", "verified_rate_of_all_high",
                                                       "similarity", "similarity_low", "similarity_high"], by_method)
    items.append(Text(["Per method and group (fractions; bounds over the group's identities): "
                       "generated_groups_by_method.csv."]))
    return [Section("groups", "By group of identities", items)]


def _small(n: int, min_units: int) -> str:
    return " (n too small)" if n < min_units else ""


def _rate(r: dict, key: str, min_units: int) -> str:
    small = r["n_identities"] < min_units
    return numbers.pct(r[key], r["n"]) if small else numbers.with_interval(r[key], r["intervals"][key], r["n"])


def _sim(r: dict, min_units: int) -> str:
    x = r["similarity"]
    if not math.isfinite(x):
        return "n/a"
    iv = r["intervals"]["similarity"] or {}
    text = numbers.ci_text(iv, lambda v: f"{v:.3f}") if r["n_identities"] >= min_units else ""
    return f"{x:.3f}" + (f" {text}" if text else "")


def _pair_row(key: str, p: dict) -> list[str]:
    words, scale, unit, digits = FIGURES[key]
    fmt = (lambda v: f"{scale * v:+.{digits}f}")  # noqa: E731
    iv = p["interval"]
    clear = (math.isfinite(iv["low"]) and (iv["low"] > 0 or iv["high"] < 0) and p["p_holm"] < 0.05)
    reading = ("n too small, no conclusion" if p["small_sample"] else
               f"{p['group_j']} {'higher' if p['difference'] > 0 else 'lower'}" if clear else "no clear difference")
    value = (lambda v: f"{scale * v:.{digits}f}")  # noqa: E731
    return [words, f"{p['group_j']} vs {p['group_i']}", f"{p['n_units_i']} / {p['n_units_j']}", value(p["value_i"]),
            value(p["value_j"]), fmt(p["difference"]) + (f" {unit}" if unit else ""),
            _ci_cell(iv, fmt), f"{p['p_value']:.3g}",
            f"{p['p_holm']:.3g}", reading]


def _ci_cell(iv: dict, fmt) -> str:
    """[low, high], "n/a (no spread over the identities)" for a zero-width interval, "n/a" for none."""
    text = ci_words(iv["low"], iv["high"], 0.95, fmt)
    if text.startswith("95% CI "):
        return text.replace("95% CI ", "")
    return "n/a (no spread over the identities)" if text.startswith("no spread") else "n/a"


def _set_aside(d: dict) -> str:
    parts = [f"{len(v)} {k}" + (f" ({', '.join(v[:4])}{', ...' if len(v) > 4 else ''})" if v else "")
             for k, v in (d.get("set_aside") or {}).items() if v]
    return "; ".join(parts) or "none"


def _bins(d: dict) -> str:
    """Every bin of the skin scale with its identities measured and set aside (an empty end is said, never
    dropped in silence)."""
    if not d.get("bins"):
        return ""
    return " Bins: " + "; ".join(f"{b['bin']} ({b['range']}): {b['measured']} measured, {b['uncertain']} uncertain"
                                 for b in d["bins"]) + "."


def _flat(r: dict) -> dict:
    out = {k: r[k] for k in ("method", "group", "n", "n_identities", "fta", "verified_rate_of_all", "similarity")}
    for k in ("fta", "verified_rate_of_all", "similarity"):
        iv = r["intervals"].get(k) or {}
        out[f"{k}_low"], out[f"{k}_high"] = iv.get("low", ""), iv.get("high", "")
    return out
