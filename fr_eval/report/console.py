"""What a run prints on the console when its report is written: a few lines of headline figures (the tables
are in the report) and the run's warnings about its data."""
from __future__ import annotations

from pathlib import Path

from . import numbers


def _pct(x) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.2f}%"


def _iv(d) -> str:
    """" [low, high]" in percent (:func:`fr_eval.report.numbers.ci_text`); nothing for a missing or zero-width
    interval (never printed)."""
    text = numbers.ci_text(d, lambda v: f"{100 * v:.1f}")
    return f" {text}" if text.startswith("[") else ""


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _curated(g: dict) -> str:
    """A ranked method's curated samples (chosen by their authors to be shown), said where it is ranked."""
    p = g.get("provenance") or {}
    return "" if not p.get("curated") else (
        f" ({'all' if p['curated'] == p['n'] else p['curated']} curated samples)")


def _audit_lines(tag: str, r, top: int) -> list[str]:
    """One judge's audit as its first screen shows it: the real-photo ceiling, the ranked methods with their
    intervals, then the methods not ranked with their counts."""
    ranked = [g for g in r.groups["method"] if g.get("rank") is not None]
    lines = [f"{tag}identity preservation by method ({len(ranked)} ranked of {len(r.groups['method'])}; "
             f"overall FTA {_pct(r.overall['fta'])}, verified of all {_pct(r.overall['verified_rate_of_all'])})"]
    ceiling = r.context.get("ceiling") or {}
    if ceiling.get("available"):
        lines.append(f"  ceiling, real photos each left out of their enrolment: verified of all "
                     f"{_pct(ceiling['verified_rate_of_all'])}{_iv(ceiling['intervals']['verified_rate_of_all'])}"
                     f" over {ceiling['n']} photos of {ceiling['n_identities']} identities")
    lines += [f"  {g['rank']}. {g['value']}: verified of all {_pct(g['verified_rate_of_all'])}"
              f"{_iv(g['intervals']['verified_rate_of_all'])} over {g['n']} images of {g['n_identities']} "
              f"identities" + _curated(g) for g in ranked[:top]]
    if len(ranked) > top:
        lines.append(f"  ... {len(ranked) - top} more ranked in the report")
    apart = [g for g in r.groups["method"] if g.get("rank") is None]
    if apart:
        lines.append(f"  not ranked ({len(apart)}: too few images or identities, or video frames): " + ", ".join(
            f"{g['value']} ({_plural(g['n'], 'image', 'images')}, {_plural(g['n_identities'], 'identity', 'identities')})"
            for g in apart[:top]) + (" ..." if len(apart) > top else ""))
    return lines


def console_summary(result, kind: str, out: Path, top: int = 5) -> str:
    """A few lines for the console (the tables are in the report): each row's headline figures, or the
    audit's best-ranked methods and its judges' verdict."""
    pct = _pct
    # as the first screen: the judges' verdict first, then each judge's ceiling and methods
    verdict = getattr(result, "judges", {}).get("verdict") if hasattr(result, "judges") else None
    lines = [verdict] if verdict else []
    runs = result.results if hasattr(result, "results") else {"": result}
    for name, r in runs.items():
        tag = f"{name}: " if name else ""
        if kind == "audit":
            lines += _audit_lines(tag, r, top)
        elif kind == "candidates":
            ident = r.identification
            lines.append(f"identification from candidate lists (gallery {ident.split['enrolled']}):")
            lines += [f"  {x['label']}: rank-1 {pct(x['rank1'])} over {x['mated_searches']} mated searches; "
                      + ", ".join(f"FNIR {pct(a['fnir_rank1'])} at FPIR {pct(a['fpir'])}" for a in x["at_fpir"].values())
                      for x in ident.rows]
        else:
            ident = getattr(r, "identification", None)
            if ident is not None:  # a 1:N run: its first screen's figures first, as the page shows them
                t = ident.split["compared_fpir"]
                flag = "" if ident.thresholds[t]["supported"] else " (unsupported: too few non-mated searches)"
                lines.append(f"{tag}Identification (1:N), gallery of {ident.split['enrolled']} subjects; FNIR at rank 1 "
                             f"at T(FPIR<={100 * t:g}%){flag}:")
                lines += [f"  {x['label']}: rank-1 {pct(x['rank1'])}, FNIR {pct(x['at_fpir'][t]['fnir_rank1'])} over "
                          f"{x['mated_searches']} mated searches" for x in ident.rows]
                said = [c["sentence"] for c in ident.paired
                        if c["figure"].startswith(f"FNIR rank 1 at T(FPIR<={100 * t:g}%)")]
                lines += [f"  {x}" for x in said[:2]] + ([f"  ... {len(said) - 2} more comparisons in the report"]
                                                         if len(said) > 2 else [])
            rows = r.rows if hasattr(r, "rows") else r.evaluation.rows
            lines.append(f"{tag}Table 3 (FRR = FTA + FNMR x (1 - FTA) at the operating point; d'):")
            lines += [f"  {x['label']}: FRR {pct(x['frr'])}, FTA {pct(x['fta'])}, FNMR {pct(x['fnmr'])}, "
                      f"d' {x['d_prime']:.3f}" for x in rows]
            said = [c["sentence"] for c in (getattr(r, "row_comparisons", None) or [])]
            if ident is None and said:  # a verification run's first screen: Table 3's columns, then its answers
                lines += [f"  {x}" for x in said[:2]] + ([f"  ... {len(said) - 2} more comparisons in the report"]
                                                         if len(said) > 2 else [])
    lines.append(f"every table, interval and plot: {out / 'report.html'}")
    return "\n".join(lines)


def warnings_of(result) -> list[str]:
    """The run's warnings about its data (one system's, or each system's, named)."""
    if hasattr(result, "results"):
        return [f"{n}: {w}" for n, r in result.results.items() for w in r.context.get("warnings") or []]
    return list(result.context.get("warnings") or [])
