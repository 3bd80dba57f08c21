"""The report's "Differentials" section: the group tables per attribute and row, GARBE and FDR, the
colourisation effect per group, FMR between groups, the skin-tone measurement (per subject, its spread,
the contact sheet of measured regions, the agreement with labels) and the colourisers' colour fidelity.
Everything here is rendered from :class:`fr_eval.stages.differentials.Differentials`; nothing is computed."""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from . import numbers
from .html import Figure, Section, Text, table_file
from .io import write_csv
from .plots import save, style_of, subplots

RATES = (("FTA", "fta", "n_samples"), ("FNMR", "fnmr", "n_compared"), ("FRR", "frr", "n_compared"),
         ("FMR (within group)", "fmr", "n_impostor"))


def _ci(iv: dict | None, scale: float = 100.0, digits: int = 2, signed: bool = False) -> str:
    f = f"{{:{'+' if signed else ''}.{digits}f}}"
    return numbers.ci_text(iv, lambda v: f.format(scale * v)) or "n/a"


def _posterior(indices: dict, name: str) -> str:
    """"median [low, high]" of GARBE's or FDR's posterior-bootstrap interval; n/a without one."""
    iv = (indices.get("intervals") or {}).get(name)
    if not iv or "median" not in iv:
        return _ci(iv, 1, 3)
    return f"{_num(iv['median'])} {_ci(iv, 1, 3)}"


def _num(x, digits: int = 3) -> str:
    return "n/a" if x is None or not (isinstance(x, (int, float)) and math.isfinite(x)) else f"{x:.{digits}f}"


def metrics_entry(d) -> dict:
    """What metrics.json holds of the differentials (fractions; ITA in degrees)."""
    return {"threshold": d.threshold, "settings": d.settings, "attributes": d.attributes,
            "skin_tone": {k: v for k, v in d.skin.items() if k != "images"}, "rows": d.rows,
            "colourisation": d.colourisation, "agreement": d.agreement,
            "colour_fidelity": {k: v for k, v in d.fidelity.items() if k != "images"}}


def write_differentials(out: Path, d, min_subjects: int) -> list[Section]:
    """differentials_*.csv/.md, skin_tone*.csv, colour_fidelity*.csv/.md, the plots and their section."""
    at = d.settings.get("operating_point") or "the run's FMR target"
    unsupported = "" if d.settings.get("supported", True) else (
        f" {numbers.DAGGER} Unsupported: no FMR target is supported by the impostors (report.min_false_matches), so no "
        "figure below is a finding.")
    items = [Text([f"Every figure at the baseline's threshold {d.threshold:.4f} (fixed on all impostors for {at}, the "
                   "first FMR target they support, as the paired comparisons; held fixed for every group and row), "
                   "counted per subject: a group's figures equal "
                   "a run on that group's subjects alone at that threshold. Rates in percent with 95% intervals "
                   "(subject bootstrap within the group; rule of 3 at zero errors). FMR within a group: impostor "
                   f"comparisons whose two subjects are both in it. Groups of fewer than report.min_subjects="
                   f"{min_subjects} subjects are marked {numbers.DAGGER} (too small to support a figure: shown, never "
                   "ranked)." + unsupported])]
    items += _bins_items(out, d, min_subjects)  # before any figure: what the scale could and could not measure
    for attr, rows in d.rows.items():
        ends = skin_ends(d, min_subjects) if attr == "skin_tone" else []  # said beside every between-group figure
        items += _group_tables(out, attr, rows, d, min_subjects, ends)
        items += _colourisation_table(out, attr, d.colourisation.get(attr) or [], min_subjects, ends)
        if _plot_groups(attr, rows, out / f"differentials_{attr}.png"):
            items.append(Figure(f"differentials_{attr}.png", f"FNMR and FMR (within group) per {attr} group and "
                                "row, with 95% intervals; groups with no figure are left out of a panel."))
    items += _skin_items(out, d) if d.skin else []
    items += _fidelity_items(out, d, min_subjects)
    return [Section("differentials", "Differentials: who pays for colourisation?", items)]


def _group_tables(out: Path, attr: str, rows: list, d, min_subjects: int, ends: list = ()) -> list:
    header = ["Scenario", attr.replace("_", " "), "Subjects", *[h for name, _, _ in RATES for h in (f"{name} (%)",)],
              "Errors (false non-matches / false matches)", "FMR / lowest", "FNMR / lowest", "FMR / geo. mean",
              "FNMR / geo. mean"]
    body, idx = [], []
    least = int(d.settings["min_false_matches"])
    for r in rows:
        fmr_ratio, fnmr_ratio = r["indices"]["fmr_ratios"], r["indices"]["fnmr_ratios"]
        included = r["indices"]["groups"]
        for g in r["groups"]:
            flag = numbers.DAGGER if g["too_small"] else ""
            k = included.index(g["group"]) if g["group"] in included else None
            # a group outside the ratios (fewer than two groups with both rates give none) reads n/a; a ratio whose
            # rate rests on fewer errors than report.min_false_matches is flagged unsupported
            weak = {"fmr": g["n_false_matches"] < least, "fnmr": g["n_false_non_matches"] < least}

            def ratio(x, key, rate):
                if k is None or k >= len(x[key]):
                    return "n/a"
                return _num(x[key][k], 2) + (numbers.DAGGER if weak[rate] and _num(x[key][k], 2) != "n/a" else "")
            body.append([r["label"], g["group"] + flag, str(g["n_subjects"])]
                        + [numbers.with_interval(g[key], g["intervals"][key], g[n], g["n_subjects"], min_subjects)
                           for _, key, n in RATES]
                        + [f"{g['n_false_non_matches']} / {g['n_false_matches']}",
                           ratio(fmr_ratio, "over_lowest", "fmr"), ratio(fnmr_ratio, "over_lowest", "fnmr"),
                           ratio(fmr_ratio, "over_geometric_mean", "fmr"),
                           ratio(fnmr_ratio, "over_geometric_mean", "fnmr")])
        i = r["indices"]
        e = i.get("errors") or {}
        # a figure resting on fewer errors than report.min_false_matches in either rate: shown, flagged, no finding
        weak = bool(e) and min(e["fnm"], e["fm"]) < least
        flag = f"{numbers.DAGGER} unsupported" if weak else ""
        idx.append([r["label"], ", ".join(included) or "none", ", ".join(i.get("groups_left_out") or []) or "none",
                    f"{e['fnm']} / {e['fm']}" if e else "n/a",
                    _num(i["garbe"]) + (numbers.DAGGER if weak else ""), _posterior(i, "garbe"),
                    _num(i["fdr"]) + (numbers.DAGGER if weak else ""), _posterior(i, "fdr"), flag])
    a = d.attributes[attr]
    groups = table_file(out, f"differentials_{attr}", header, body, f"Figures per {attr.replace('_', ' ')} group", [
        f"Groups from {a['source']}; {a['unassigned']} subject(s) in no group (left out). Ratios (NIST IR 8280): "
        "each group's rate over the lowest group's and over the geometric mean of the groups' (n/a where that is 0 "
        f"or the group has no figure); {numbers.DAGGER} on a ratio: its group's rate rests on fewer than "
        f"report.min_false_matches={least} errors (unsupported, never a finding).",
        *ends])
    indices = table_file(out, f"differentials_{attr}_indices", [
        "Scenario", "Groups", "Left out", "Errors (false non-matches / false matches within groups)", "GARBE",
        "GARBE: posterior median [95% interval]", "FDR", "FDR: posterior median [95% interval]", "Flag"], idx,
        f"GARBE and FDR over the {attr.replace('_', ' ')} groups", [
            f"GARBE (Howard et al., 2022) = α G(FMR) + (1-α) G(FNMR), G the Gini coefficient with the n/(n-1) "
            f"correction (0: equal); FDR (de Freitas Pereira and Marcel, 2021) = 1 - (α max|ΔFMR| + (1-α) "
            f"max|ΔFNMR|) (1: equal); α = {d.settings['alpha']}. Intervals: 95%, subjects resampled across all "
            "groups together, and in each resample every group's FMR and FNMR drawn from its Jeffreys posterior "
            "Beta(errors + 1/2, trials - errors + 1/2), so that a group with no error still carries its "
            "uncertainty (resamples leaving a group without a genuine attempt or a within-group impostor are "
            "dropped); the interval is centred on its own median, which noise in the rates pulls away from the "
            "figure of the counts (a spread or a Gini of noisy rates is larger than of the rates: GARBE up, FDR "
            f"down), so the figure can sit at its interval's edge. {numbers.DAGGER} unsupported: fewer than "
            f"report.min_false_matches={least} false non-matches or false matches within groups behind the figure; "
            "shown, never a finding. Groups without a within-group impostor or a genuine attempt are left out.",
            *ends])
    return [groups, indices, *_between_table(out, attr, rows[0], d, min_subjects)]


def _between_table(out: Path, attr: str, row: dict, d, min_subjects: int) -> list:
    names = d.attributes[attr]["groups"]
    b = row["between"]
    if len(names) < 2:
        return []
    subjects = b.get("subjects") or [None] * len(names)

    def cell(i, j):
        n = int(b["comparisons"][i][j])
        units = None if subjects[i] is None else min(subjects[i], subjects[j])  # the smaller side decides
        iv = {"low": b["low"][i][j], "high": b["high"][i][j]} if "low" in b else None
        return (f"{numbers.with_interval(b['fmr'][i][j], iv, n, units, min_subjects)} "
                f"({int(b['false_matches'][i][j])}/{n})")

    body = [[f"{names[i]} ({subjects[i]} subjects)" if subjects[i] is not None else names[i]] +
            [cell(i, j) for j in range(len(names))] for i in range(len(names))]
    # the machine CSV: one cell per (reference group, probe group), one number per column
    csv_body = []
    for i in range(len(names)):
        for j in range(len(names)):
            n = int(b["comparisons"][i][j])
            small = None not in (subjects[i], subjects[j]) and min(subjects[i], subjects[j]) < min_subjects
            bound = (["", ""] if small or "low" not in b else [numbers.pct(b["low"][i][j], n), numbers.pct(b["high"][i][j], n)])
            csv_body.append([names[i], names[j], "" if subjects[i] is None else str(subjects[i]),
                             "" if subjects[j] is None else str(subjects[j]), str(n), str(int(b["false_matches"][i][j])),
                             numbers.pct(b["fmr"][i][j], n), *bound, "n too small" if small else ""])
    csv_header = ["Reference group", "Probe group", "Reference subjects", "Probe subjects", "Comparisons",
                  "False matches", "FMR (%)", "FMR low (%)", "FMR high (%)", "Note"]
    return [table_file(out, f"differentials_{attr}_between", ["Reference group \\ probe group (%)", *names], body,
                       f"FMR between {attr.replace('_', ' ')} groups, scenario {row['label']}", [
                           "Percent of the impostor comparisons of a reference of the row's group with a probe of the "
                           "column's group at or above the threshold, with its 95% interval over the column's probe "
                           "subjects (rule of 3 over them at zero false matches; false matches / comparisons in "
                           "brackets). A cell where either group has fewer than report.min_subjects="
                           f"{min_subjects} subjects shows its count and 'n too small' instead of an interval."],
                       csv_table=(csv_header, csv_body))]


def _colourisation_table(out: Path, attr: str, effects: list, min_subjects: int, ends: list = ()) -> list:
    if not effects:
        return []
    body, pairs = [], []
    for e in effects:
        for rate in ("fnmr", "frr"):
            for g in e[rate]["groups"]:
                small = numbers.too_few(g["n_subjects"], min_subjects) if g["too_small"] else ""
                body.append([f"{e['b']} vs {e['a']}", rate.upper(), g["group"] + (numbers.DAGGER if g["too_small"] else ""),
                             str(g["n_subjects"]),
                             _num(100 * g["a"], 2), _num(100 * g["b"], 2), f"{100 * g['difference']:+.2f}",
                             small or _ci(g["interval"], signed=True), f"{g['p_value']:.2g}", f"{g['p_holm']:.2g}"])
            sizes = {g["group"]: g["n_subjects"] for g in e[rate]["groups"]}
            for p in e[rate]["pairs"]:
                fewest = min(sizes.get(p["group_i"], 0), sizes.get(p["group_j"], 0))
                pairs.append([f"{e['b']} vs {e['a']}", rate.upper(),
                              f"{p['group_j']} minus {p['group_i']}" + (numbers.DAGGER if p["too_small"] else ""),
                              f"{100 * p['difference_of_differences']:+.2f}",
                              (numbers.too_few(fewest, min_subjects) or numbers.too_few(0, 1)) if p["too_small"]
                              else _ci(p["interval"], signed=True),
                              f"{p['p_value']:.2g}", f"{p['p_holm']:.2g}"])
    t1 = table_file(out, f"differentials_{attr}_colourisation", [
        "Rows", "Rate", "Group", "Subjects", "Greyscale row (%)", "Colourised row (%)", "Difference (points)",
        "95% CI (subjects)", "p", "p (Holm)"], body, f"Does colourisation help each {attr.replace('_', ' ')} group?", [
        "Colourised row minus its greyscale counterpart (scenario 4 against 3, 5 against 2) on the same subjects: a "
        "negative difference means colourisation lowered the error. Interval: paired subject bootstrap; p: paired "
        "permutation test (each subject's two rows swapped or not), Holm-adjusted over the groups of the same rows "
        "and rate. † fewer than report.min_subjects subjects: no "
        "finding (the interval and p rest on too few subjects).", *ends])
    t2 = table_file(out, f"differentials_{attr}_colourisation_between", [
        "Rows", "Rate", "Groups", "Difference of differences (points)", "95% CI (subjects)", "p", "p (Holm)"], pairs,
        f"Does colourisation help some {attr.replace('_', ' ')} groups less?", [
        "The colourisation effect in one group minus that in another; a positive value: it helps the first group "
        "less (or harms it more). Interval: subjects resampled within each group; p: permutation test of the "
        "group labels among the two groups' subjects (10,000 permutations), Holm-adjusted over the table's pairs "
        "of the same rows and rate. † a group of fewer than report.min_subjects subjects: no finding.", *ends])
    return [t1, t2]


def _plot_groups(attr: str, rows: list, path: Path) -> bool:
    """Dot plot: per group (y), per row (marker), FNMR and FMR with their intervals."""
    groups = [g["group"] for g in rows[0]["groups"]]
    if not groups:
        return False
    fig, axes = subplots(1, 2, figsize=(9.5, 0.45 * len(groups) * max(1, len(rows)) ** 0.5 + 1.6))
    for ax, (name, key) in zip(axes, (("FNMR", "fnmr"), ("FMR within group", "fmr"))):
        for k, r in enumerate(rows):
            colour, _, mk = style_of(k)  # each row as in every other plot of the report
            y = np.arange(len(groups)) + (k - (len(rows) - 1) / 2) * 0.12
            v = np.array([g[key] for g in r["groups"]], float) * 100
            lo = np.array([g["intervals"][key]["low"] for g in r["groups"]], float) * 100
            hi = np.array([g["intervals"][key]["high"] for g in r["groups"]], float) * 100
            ok = np.isfinite(v)
            ax.errorbar(v[ok], y[ok], xerr=[np.clip(v - lo, 0, None)[ok], np.clip(hi - v, 0, None)[ok]], fmt=mk,
                        color=colour, ms=4, capsize=2, label=f"scenario {r['label']}")
        ax.set_yticks(np.arange(len(groups)), groups)
        ax.set_ylim(len(groups) - 0.5, -0.5)  # half a group of room above the first and below the last: no label
        ax.margins(x=0.08)  # or marker on the frame's edge
        ax.set_xlabel(f"{name} (%)")
        ax.grid(axis="x", alpha=0.3)
    axes[1].legend(fontsize=9, loc="center left", bbox_to_anchor=(1.02, 0.5))
    save(fig, path)
    return True


SKIN_COLUMNS = ["subject", "n_photos", "n_fit", "ita", "ita_low", "ita_high", "L", "L_low", "L_high", "hue", "hue_low",
                "hue_high", "ita_p5", "ita_p95", "ita_iqr", "bin", "confidence", "status", "group", "reason",
                "unfit_reasons"]


def skin_ends(d, min_subjects: int) -> list[str]:
    """What the skin-tone scale cannot say: for the bin at each end of the scale with fewer than ``min_subjects``
    subjects measured, one sentence (said before every between-group figure)."""
    bins = (d.skin or {}).get("bins") or []
    if not bins:
        return []
    out = []
    for order, side in ((bins[::-1], "darker"), (bins, "lighter")):
        thin = []
        for b in order:  # from the end inward, every bin too thin to support a figure
            if b["measured"] >= min_subjects:
                break
            thin.append(f"{b['bin']} ({b['range']}): {b['measured']} measured, {b['uncertain']} set aside")
        if thin:
            out.append(f"No conclusion about {side} skin: " + "; ".join(thin) + f" (fewer than report.min_subjects="
                       f"{min_subjects} subjects measured in each bin at the {side} end of the scale).")
    return out


def _bins_items(out: Path, d, min_subjects: int) -> list:
    """Before any figure: every bin of the skin-tone scale with its subjects measured and set aside, and why."""
    s = d.skin
    if not s or s.get("why_none") or not s.get("bins"):
        return []
    body = [[b["bin"], b["range"], str(b["measured"]), str(b["uncertain"])] for b in s["bins"]]
    body += [["(too few fit photos)", f"fewer than {d.settings.get('min_fit_photos', 2)} fit colour photos", "0",
              str(len(s["too_few_fit_photos"]))],
             ["(no colour photo)", "no colour photo acquired", "0", str(len(s["no_colour_photo"]))]]
    conf = d.settings.get("min_group_confidence")
    table = table_file(out, "skin_tone_bins", ["Bin", "Range", "Subjects measured", "Subjects set aside"], body,
                       "Every bin of the skin-tone scale: subjects measured and set aside", [
                           f"A subject is measured in the bin its median reading falls in when at least "
                           f"{100 * conf:g}% of the bootstrap medians over its fit photos fall there too "
                           f"(differentials.min_group_confidence); else it is set aside as uncertain, counted in the "
                           f"bin its median falls in. Set aside: " + (", ".join(
                               f"{k} ({v['reason']})" for k, v in sorted(s["subjects"].items())
                               if v["status"] != "measured") or "none") + "."])
    ends = skin_ends(d, min_subjects)
    return [table, *([Text(ends)] if ends else [])]


def _skin_items(out: Path, d) -> list:
    s = d.skin
    if s.get("why_none"):
        return [Text([f"Skin tone not measured: {s['why_none']}."])]
    unfit: dict = {}
    for x in s["images"]:
        if not x["fit"]:
            unfit.setdefault(x["subject"], {}).setdefault(x["kind"], 0)
            unfit[x["subject"]][x["kind"]] += 1
    per = [{"subject": k, **v, "unfit_reasons": "; ".join(f"{r}: {n}" for r, n in unfit.get(k, {}).items())}
           for k, v in sorted(s["subjects"].items())]
    write_csv(out / "skin_tone.csv", SKIN_COLUMNS, per)
    write_csv(out / "skin_tone_images.csv", ["path", "subject", "ita", "L", "hue", "chroma", "pixels", "fit", "kind",
                                             "reason"], s["images"])
    rules = s["fit_rules"]
    items = [Text([
        f"Skin tone, as Thong, Joniak and Xiang (ICCV 2023) read it, in two dimensions: perceptual lightness L* and "
        f"hue angle h* = atan2(b*, a*), each the median over the skin pixels of a colour photo (CIELAB, D65; white "
        f"balance: {s['white_balance']}) in a region of both cheeks and the forehead of the face aligned by its 5 "
        f"landmarks, pixels with L* in {list(s['skin_range']['L'])}, 0 < a* <= {s['skin_range']['a'][1]:g}, "
        f"0 < b* <= {s['skin_range']['b'][1]:g}; beside them the Individual Typology Angle ITA° = arctan((L* - 50) / "
        f"b*) · 180/π, for comparison with the literature. A photo counts only when it is fit to measure: not "
        f"greyscale, skin chroma C* >= "
        f"{rules['min_chroma']:g}, skin hue within {rules['hue'][0]:g}-{rules['hue'][1]:g}°, at most "
        f"{100 * rules['max_clipped']:g}% of the region clipped, the photo's brightest 1% above L* "
        f"{rules['min_top_L']:g}, no colour cast (mean a*b* chroma <= {rules['max_cast']:g}); "
        f"{s['n_images_measured']} of {s['n_images']} photos fit (" + (", ".join(
            f"{n} {r}" for r, n in s["unfit_reasons"].items()) or "none unfit") + "). A subject's reading is the "
        "median over its fit photos with a 95% percentile bootstrap interval over them (not a cut on their spread). "
        f"How fragile ITA is on these photos: the median within-subject interquartile range of ITA is "
        f"{_num(s['median_iqr'], 1)}°, the median range {_num(s['median_range'], 1)}° (largest "
        f"{_num(s['max_range'], 1)}°), against Chardon bins 13-40° wide. Per subject (with each reading's "
        "interval, its bin, the share of bootstrap medians in it, and why photos were not used): skin_tone.csv; per "
        "photo: skin_tone_images.csv."])]
    if d.sheet:
        _plot_sheet(d.sheet, out / "skin_regions.png")
        items.append(Figure("skin_regions.png", "Who the groups rest on: each group's most typical subject, the "
                            "lightest and the darkest read, and every uncertain subject, each with a few of its "
                            "photos spread over its range of ITA (their reading) and the photos not used (why); "
                            "green, the skin pixels measured; magenta, pixels of the region outside the skin range."))
    for attr, a in d.agreement.items():
        name = {"cohen_kappa": "Cohen's kappa", "cramers_v": "Cramér's V (the labels are not bins of the scale)"}
        kappa = (f"{name[a['statistic']]} {a['value']:.2f} over the {a['n_subjects']} subjects with both."
                 if a.get("statistic") in name else f"No agreement statistic: {a['why']}." if a.get("why") else "")
        items.append(table_file(out, f"skin_tone_vs_{attr}", [f"{attr} \\ skin-tone group", *a["columns"]],
                                [[r, *map(str, c)] for r, c in zip(a["rows"], a["counts"])],
                                f"Measured skin tone against the {attr} labels (subjects)", [
                                    "How the skin-tone groups and the labels agree: a label spread over many groups "
                                    "means lighting, not skin, drives the measurement."
                                    + (f" {kappa}" if kappa else "")]))
    return items


def _plot_sheet(sheet: list, path: Path) -> None:
    """One row per subject shown: its reading in a first column of text, then its photos, each captioned (what it
    read, or why it was not used); the label has its own column so that no caption runs into it."""
    cols = max(len(r["tiles"]) for r in sheet) or 1
    fig, axes = subplots(len(sheet), cols + 1, figsize=(2.3 + 1.45 * cols, 2.05 * len(sheet)), squeeze=False,
                         gridspec_kw={"width_ratios": [2.3 / 1.45] + [1] * cols})
    for ax in axes.ravel():
        ax.axis("off")
    for row, r in zip(axes, sheet):
        row[0].text(0.0, 0.5, textwrap.fill(r["label"], 30), transform=row[0].transAxes, fontsize=7.5, va="center",
                    ha="left")
        for ax, (caption, img) in zip(row[1:], r["tiles"]):
            ax.imshow(img)
            ax.set_title(textwrap.fill(caption, 24), fontsize=6)
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.45 / (2.05 * len(sheet)), bottom=0.01, wspace=0.08,
                        hspace=0.55)
    save(fig, path, dpi=110)


def _fidelity_items(out: Path, d, min_subjects: int) -> list:
    f = d.fidelity
    if not f:
        return []
    if "reason" in f:
        return [Text([f"Colour fidelity not measured: {f['reason']}."])]
    cols = ["colouriser", "path", "subject", "skin_tone", "delta_e_skin", "delta_e_image", "skin_pixels",
            "ita_original", "ita_colourised", "ita_shift", "chroma_skin_original", "chroma_skin_colourised",
            "colourfulness_original", "colourfulness_colourised", "psnr_ab", "ssim_ab"]
    write_csv(out / "colour_fidelity_images.csv", cols, f["images"])
    names = (("ΔE00 skin", "delta_e_skin"), ("ΔE00 image", "delta_e_image"), ("ITA shift (°)", "ita_shift"),
             ("C* skin, original", "chroma_skin_original"), ("C* skin, colourised", "chroma_skin_colourised"),
             ("Colourfulness, original", "colourfulness_original"),
             ("Colourfulness, colourised", "colourfulness_colourised"), ("PSNR a*b* (dB)", "psnr_ab"),
             ("SSIM a*b*", "ssim_ab"))
    body = [[r["colouriser"], r["skin_tone"], str(r["n_images"]), str(r["n_subjects"])]
            + [f"{_num(r[k], 2)} {numbers.too_few(r['n_subjects'], min_subjects) or _ci(r[f'{k}_interval'], 1, 2)}"
               for _, k in names] for r in f["table"]]
    table = table_file(out, "colour_fidelity", ["Colouriser", "Skin tone", "Images", "Subjects", *[n for n, _ in names]],
                       body, "Colour fidelity of each colouriser against the original colour photos", [
                           "Means over the colourised images with a 95% interval (subjects resampled). ΔE00: "
                           "CIEDE2000 (scikit-image), mean over the original face's skin pixels and over the whole "
                           "image; ITA shift: colourised minus original; C*: CIELAB chroma; colourfulness: Hasler and "
                           "Süsstrunk (2003); PSNR and SSIM of the a*b* channels (data range 255). "
                           f"{f['not_measured']} image(s) not measured ({f['not_measured_why']}). Per image: "
                           "colour_fidelity_images.csv."])
    items = [table]
    if _plot_ita(f["images"], out / "colour_fidelity_ita.png"):
        items.append(Figure("colour_fidelity_ita.png", "ITA of each colourised face against its original's, per "
                            "colouriser; the dashed line is identity (a colouriser that kept the skin tone)."))
    return items


def _plot_ita(images: list, path: Path) -> bool:
    cols = sorted({x["colouriser"] for x in images})
    pts = {c: np.array([(x["ita_original"], x["ita_colourised"]) for x in images if x["colouriser"] == c], float)
           for c in cols}
    pts = {c: p[np.isfinite(p).all(axis=1)] for c, p in pts.items()}
    if not any(len(p) for p in pts.values()):
        return False
    fig, axes = subplots(1, len(cols), figsize=(3.6 * len(cols), 3.6), squeeze=False)
    for ax, c in zip(axes[0], cols):
        p = pts[c]
        ax.scatter(p[:, 0], p[:, 1], s=8, alpha=0.6)
        lim = [min(-60, p.min() - 5), max(80, p.max() + 5)] if len(p) else [-60, 80]
        ax.plot(lim, lim, "k--", lw=1)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_xlabel("ITA of the original (°)")
        ax.set_ylabel("ITA of the colourised image (°)")
        ax.set_title(c, fontsize=9)
        ax.grid(alpha=0.3)
    save(fig, path)
    return True

