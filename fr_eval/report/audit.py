"""Write the audit's report bundle: metrics.json, the method table, per-image rows, the methods
compared by identity, plots and report.html (``templates/audit.html.j2``)."""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from ..provenance import environment, run_date
from ..stages.audit_figures import CEILING
from ..settings import Config, plain
from . import numbers
from . import plots
from .html import Figure, Section, Table, Text, table_file, write_page
from .io import write_config, write_csv, write_json
from .audit_groups import write_groups
from .multi import write_multi
from .videos import write_videos
from .tables import as_sentence, axis_score, data_notes, machine_notes, pct, run_notes, score_name


def _ci(i: dict, digits=3, scale=1.0) -> str:
    return numbers.ci_text(i, lambda v: f"{scale * v:.{digits}f}") or "n/a"


def _f(x, digits=3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


#: the rates of the group tables: (column, figure, the count its digits follow)
RATES = (("FTA (%)", "fta", "n"), ("Verified of acquired (%)", "verified_rate", "n_acquired"),
         ("Verified of all (%)", "verified_rate_of_all", "n"), ("FRR (%)", "frr", "n"),
         ("Impersonation (%)", "impersonation_rate", "n_acquired"), ("Rank-1 of acquired (%)", "rank1_accuracy",
                                                                      "n_acquired"))


def _rates(r: dict):
    """(column, value, interval, the count its digits follow, flag) of a group's rates: RATES, then the 1:N
    search's rank-k accuracy and FNIR at each FPIR threshold (flagged where the target is unsupported)."""
    for name, fig, count in RATES:
        yield name, r.get(fig), (r.get("intervals") or {}).get(fig), r.get(count), ""
    if "rank_k" in r:
        yield f"Rank-{r['rank_k']} of acquired (%)", r["rank_k_accuracy"], r["rank_k_interval"], r["n_acquired"], ""
    for t, a in (r.get("fnir_at_fpir") or {}).items():
        yield (f"FNIR at T(FPIR<={numbers.fmr_label(t)}) (%)", a["fnir"], a["interval"], r["n"],
               "" if a["supported"] else numbers.DAGGER)


def group_table(rows: list[dict], key: str, ranked: bool, with_target: bool, *, csv: bool = False,
                min_units: int | None = None):
    """One line per group: counts, the similarity, and every rate with its 95% interval over identities ("x
    [low, high]", or with ``csv=True`` in ``_low``/``_high`` columns) at the digits its count justifies; a group
    of fewer than ``min_units`` identities (report.min_subjects) shows its figures with "n too small" instead of
    an interval that would look precise (the CSV leaves its bounds empty)."""
    header = (["Rank"] if ranked else []) + [key.capitalize(), "Images", "Identities", "Similarity mean",
                                             *(["Similarity mean low", "Similarity mean high"] if csv else
                                               ["95% CI (identities)"]), "Median", "Std", "Similarity mean, failures as 0"]
    for name, *_ in _rates(rows[0] if rows else {}):
        header += [name, name.replace(" (%)", " low (%)"), name.replace(" (%)", " high (%)")] if csv else [name]
    header += ["CSIM", "SSIM"] if with_target else []
    header += ["ITA shift (°)"]
    header += ["Curated images", "Random images", "Provenance unknown"] if csv else ["Provenance"]
    body = []
    for r in rows:
        ex, z = r["similarity_failures_excluded"], r["similarity_failures_as_zero"]
        # below report.min_subjects identities: the figures without intervals, "n too small" once in the row
        small = numbers.too_few(r.get("n_identities"), min_units, "identities")
        mark = f" {CURATED_MARK}" if ranked and not csv and (r.get("provenance") or {}).get("curated") else ""
        line = ([str(r["rank"]) + mark if r["rank"] is not None else "not ranked (video frames)" if r.get("video_frames")
                 else "not ranked (n too small)" if r.get("too_small")
                 else "not ranked"] if ranked else []) + [
            str(r["value"]), str(r["n"]), str(r["n_identities"]), _f(ex["mean"]),
            *([_f(ex["interval"].get("low")), _f(ex["interval"].get("high"))] if csv and not small else ["", ""]
              if csv else [small or _ci(ex["interval"])]),  # a group too small says so once, here
            _f(ex["median"]), _f(ex["std"]), _f(z["mean"])]
        for _, value, iv, n, flag in _rates(r):
            iv = None if small else iv
            line += ([numbers.pct(value, n), numbers.pct((iv or {}).get("low"), n), numbers.pct((iv or {}).get("high"), n)] if csv
                     else [(numbers.pct(value, n) if small else numbers.with_interval(value, iv, n)) + flag])
        if with_target:
            line += [_f(r.get("csim", {}).get("mean")), _f(r.get("ssim", {}).get("mean"))]
        shift = r.get("ita_shift") or {}
        line += [(_f(shift.get('mean'), 1) if small else f"{_f(shift.get('mean'), 1)} {_ci(shift.get('interval'), 1)}")
                 if shift else "n/a"]
        line += _provenance_cells(r.get("provenance"), csv, r.get("value") == CEILING)
        body.append(line)
    return header, body


#: the mark of a ranked group that holds curated samples (chosen by their authors to be shown)
CURATED_MARK = "\u00a7"


def _provenance_cells(p: dict | None, csv: bool, ceiling: bool) -> list[str]:
    """The group's images by provenance: three counts for the CSV, one phrase for people."""
    if ceiling or not p:
        return ["", "", ""] if csv else ["real photos (the enrolment)" if ceiling else "n/a"]
    c = p["counts"]
    if csv:
        return [str(c.get("curated", 0)), str(c.get("random", 0)), str(c.get("unknown", 0))]
    return [numbers.provenance_text(p)]


def provenance_note(result, lead: str = "Provenance: ") -> str:
    """What the provenance column and the mark mean, with the sources the curated images come from."""
    p = result.overall.get("provenance") or {}
    if not p.get("curated"):
        return ("Provenance: no image is marked curated (the manifest has no provenance column saying curated and "
                "no source_repo column); add provenance=curated|random to tell chosen samples from random ones.")
    src = "; ".join(f"{k} {v}" for k, v in list(p["sources"].items())[:6]) + ("; ..." if len(p["sources"]) > 6 else "")
    return (f"{lead}{p['curated']} of {p['n']} audited images are curated samples, chosen by their authors to "
            f"be shown (the manifest's provenance column where it has one, else every image taken from a project's "
            f"repository or page, its source_repo: {src}); a rank marked {CURATED_MARK} rests on curated samples, "
            "the authors' best case rather than a random draw of the method's output. Per image: the provenance "
            "column of generated_images.csv.")


def write_audit_report(out_dir, result, config: Config) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx, env = result.context, environment()
    with_target = ctx["generated"]["with_target"] > 0
    write_json(out / "metrics.json", {
        "units": f"every rate is a fraction in [0, 1] (not a percent); similarities: {score_name(ctx['system'])}",
        "definitions": ctx["conventions"], "overall": result.overall, "groups": result.groups,
        **{k: v for k, v in ctx.items() if k != "conventions"}, "config": plain(config), "environment": env})
    write_config(out, config)
    notes = _notes(result, config)
    ceiling = ctx.get("ceiling") or {}
    # the ceiling first: the row every method is read against
    everything = ([ceiling] if ceiling.get("available") else []) + result.groups["method"] + [
        {**result.overall, "value": "(all)", "rank": "-"}]
    mu = config.report.min_subjects
    h, b = group_table(everything, "method", True, with_target, min_units=mu)
    methods = table_file(out, "generated_methods", h, b, "Identity preservation by method", notes,
                         csv_table=group_table(everything, "method", True, with_target, csv=True, min_units=mu))
    sections = [Section("methods", "Methods, ranked", [methods]),
                Section("paired-methods", "Methods compared on the same identities",
                        _write_method_comparisons(out, ctx.get("method_comparisons") or [], ctx.get("provenance")))]
    sections += _by_sections(out, result, notes[:5] + [provenance_note(result)], with_target, mu)
    write_csv(out / "generated_images.csv", list(result.images[0].keys()) if result.images else [], result.images)
    write_csv(out / "failures.csv", ["role", "identity", "method", "path", "kind", "reason"], result.failures)
    write_json(out / "provenance.json", {"system": ctx["system"], "environment": env})
    sections += _more_sections(out, result, config)
    sections[2:2] = _plots(out, result, config)
    sections.append(_problems_section(result))
    how = ctx.get("invocation") or {}
    enr = ctx["enrolment"]
    run = [("Command", how.get("command", "(a library call)")), ("Date", run_date(ctx, env)),
           ("Manifest", manifest_fact(ctx)),
           ("Enrolment", f"{enr['source']} ({enr['identities_enrolled']} identities, "
                         f"{enr['reference_images_acquired']} of {enr['reference_images']} reference images acquired)"),
           ("System", f"{ctx['system']['name']} (details at the end of the page)"),
           ("Threshold", notes[0]), ("Units", "rates in percent in this page; metrics.json holds fractions")]
    # every method on the first screen: the ranked ones first, then the others with their counts and why not
    why = {str(g["value"]): g.get("too_small") or "" for g in result.groups["method"]}
    why[str(ceiling.get("value"))] = "the ceiling: real photos of the identities, scored as the methods' images are"
    cols = [h.index(c) for c in ("Rank", "Method", "Images", "Identities", "FTA (%)", "Verified of all (%)",
                                 "Similarity mean", "95% CI (identities)")]
    headline = Table([h[c] for c in cols] + ["Not ranked because"],  # the table's own digits (one format)
                     [[r[c] for c in cols] + [why.get(r[1], "")] for r in methods.body], id="headline")
    write_page(out, "audit", title=f"Identity preservation of generated images: system {ctx['system']['name']}",
               sections=sections, config=plain(config), env=env, system=ctx["system"], system_note=ctx["system_choice"],
               run=run, warnings=machine_notes(ctx["engine"]) + data_notes(ctx), headline=headline,
               curated_note=(provenance_note(result, f"{CURATED_MARK} ranked on curated samples: ")
                             if (result.overall.get("provenance") or {}).get("curated") else ""),
               answers=[as_sentence(t) for c in ctx.get("method_comparisons") or []
                        for t in (c["sentence"], _power_words(c)) if t])
    return out


def _more_sections(out: Path, result, config: Config) -> list[Section]:
    """Copying, the groups of identities, several people and videos: each where the run has it."""
    ctx, mu, prov = result.context, config.report.min_subjects, result.context.get("provenance")
    sections = [_copy_section(out, ctx.get("copy") or {}, mu, result.copy_sheet, prov)]
    if ctx.get("differentials"):
        sections += write_groups(out, ctx["differentials"], mu)
    if ctx.get("multi"):
        sections += write_multi(out, ctx["multi"], score_name(ctx["system"]), ctx["threshold"]["threshold"],
                                config.generated.multi_order == "left_to_right", mu, prov)
    if ctx.get("videos"):
        sections += write_videos(out, ctx["videos"], score_name(ctx["system"]), config.generated.video.strip, prov)
    return sections


def _by_sections(out: Path, result, notes: list, with_target: bool, mu: int) -> list[Section]:
    """A table per grouping key other than the method (category, prompt, provenance, generated.by's)."""
    sections = []
    for key, rows in result.groups.items():
        if key != "method":
            h, b = group_table(rows, key, False, with_target, min_units=mu)
            sections.append(Section(f"by-{key}", f"By {key}", [
                table_file(out, f"generated_by_{key}", h, b, f"Identity preservation by {key}", notes,
                           csv_table=group_table(rows, key, False, with_target, csv=True, min_units=mu))]))
    return sections


def _notes(result, config: Config) -> list[str]:
    ctx, thr = result.context, result.context["threshold"]
    few = ", ".join(r["value"] for r in result.groups["method"] if r["rank"] is None) or "none"
    return [
        f"Threshold {thr['threshold']:.4f} ({score_name(ctx['system'])}, accept if >=) from {thr['source']}"
        + (f": {thr['n_impostor']} impostor comparisons, FMR <= {100 * thr['fmr_target']:g}% "
           f"({thr['impostors_allowed']} false matches allowed; achieved {pct(thr['fmr_achieved'], 4)}%)."
           if "n_impostor" in thr else "."),
        f"Similarity: {ctx['conventions']['template']}. 'Similarity mean' leaves out images with no usable face "
        "(their share is the FTA); 'failures as 0' keeps them with a score of 0.",
        "Verified of acquired = 1 - FNMR; verified of all counts failures as not verified; FRR = 1 - verified of "
        "all = FTA + FNMR (1 - FTA). Impersonation: the image matches another enrolled identity at the threshold. "
        "Rank-1: closed-set identification among all enrolled identities. Rates in percent, each with its 95% "
        "interval [low, high] (the CSV: _low/_high columns), digits from the counts as in Table 3.",
        _search_note(ctx["search"]),
        "ITA shift: " + ctx["conventions"]["ita_shift"] + "; mean over the images measured, 95% interval over "
        "identities.",
        f"Methods with at least generated.min_per_method={config.generated.min_per_method} images and "
        f"report.min_subjects={config.report.min_subjects} identities ranked by verified of all, then by "
        f"similarity with failures as 0; methods with fewer are listed after them, not ranked, marked 'n too small' "
        f"({few}): their intervals are too wide to order them. Intervals: 95%, bootstrap over identities. System: {ctx['system']['name']} "
        f"({ctx['system_choice']}).",
        provenance_note(result),
    ] + _grouping_note(ctx) + _ceiling_note(ctx.get("ceiling") or {}) + machine_notes(ctx["engine"]) + run_notes(ctx)


def _grouping_note(ctx: dict) -> list[str]:
    """The console's warning about the prompts, as a sentence on the page: what a method's row pools."""
    columns = set(ctx.get("manifest_columns") or [])
    have = [k for k in ("category", "prompt") if k in columns]
    if not have:
        return ["The manifest has neither a category nor a prompt column: each method's figures pool every prompt "
                "it was given (realistic and stylised alike). Add a category column (e.g. realistic, stylised) to "
                "see them apart."]
    grouped = [k for k in have if k in (ctx.get("grouped_by") or [])]
    missing = [k for k in ("category", "prompt") if k not in columns]
    return [f"Figures per {' and per '.join(grouped) or 'method only'} in their own tables below"
            + (f" (the manifest has {', '.join(have)}; generated.by={ctx.get('grouped_by')})" if grouped != have else "")
            + (f"; the manifest has no {missing[0]} column, so prompts of one kind are not grouped"
               if missing == ["category"] else "") + "."]


def manifest_fact(ctx: dict) -> str:
    """The manifest's rows as the audit reads them: still images and videos apart (a video's frames are figures
    of the video, never counted as images)."""
    g = ctx["generated"]
    frames, videos = g.get("video_frames", 0), g.get("videos", 0)
    multi = g.get("multi_person_rows", 0)
    return (f"{ctx['manifest']}: {g['rows'] - frames - multi} generated still images" + (
        f" and {videos} video(s) ({frames} frames sampled)" if videos else "") + (
        f", {multi} images of several people (their own section)" if multi else "") + f"; "
        f"{g['audited'] - g.get('video_frames_audited', 0)} still images audited (of enrolled identities)")


def _ceiling_note(ceiling: dict) -> list[str]:
    """What the real-photo row is, or why there is none."""
    if not ceiling:
        return []
    if not ceiling.get("available"):
        return [f"No real-photo ceiling: {ceiling.get('reason', '')}."]
    return [f"{CEILING}: the ceiling to read every method against: {ceiling['rule']}. Its ITA shift is each "
            "left-out photo's ITA minus the median of its identity's other photos': how far real photos of the same "
            "person already move in skin tone (lighting, camera), the floor under a method's shift."]


def _search_note(search: dict) -> str:
    """What the rank and FNIR columns rest on: the 1:N search's gallery, non-mated searches and thresholds."""
    head = (f"Rank-1 and rank-{search['rank_k']}: each generated image searched (1:N) against a gallery of the "
            f"{search['gallery_size']} enrolled identities ({search['template']} template); its identity's rank is 1 + "
            "the other identities scoring at or above it (ties count against it). ")
    if not search["thresholds"]:
        return head + f"No FNIR at an FPIR threshold: {search.get('why_no_thresholds', 'no threshold')}."
    parts = [f"T(FPIR<={numbers.fmr_label(t)}) = {rec['threshold']:.4f} (achieved FPIR "
             f"{numbers.pct(rec['fpir_achieved'], rec['n_nonmated'])}%, {rec['allowed_false_alarms']} false alarm(s) allowed"
             + ("" if rec["supported"] else f"; {numbers.DAGGER} too few non-mated searches to support this target") + ")"
             for t, rec in search["thresholds"].items()]
    return (head + f"FNIR at T(FPIR<=x): generated images whose identity is not first at or above T, over all images "
            f"(failures to acquire are misses); T fixed on {search['nonmated_searches']} non-mated searches, each "
            "enrolment photo against the other identities' enrolments (its own left out), by the conservative rule: "
            + "; ".join(parts) + ".")


METHOD_HEADER = ["Method b vs method a", "Identities shared", "Images a / b", "Verified a (%)", "Verified b (%)",
                 "Verified b - a (points)", "CI", "Similarity b - a (failures as 0)", "CI", "Wilcoxon p (identities)",
                 "p, Holm-adjusted", "Resolvable at 80% power (points)", "Resolvable at 95% power (points)",
                 "Identities the observed b - a needs (80% power)", "Provenance a / b"]


def _power_words(c: dict) -> str:
    """The power sentence of a method comparison, naming the pair."""
    return (f"how many identities: method {c['b']} against method {c['a']}, {c['power_sentence']}"
            if c.get("power_sentence") else "")


def _power_cells(c: dict) -> list[str]:
    """The resolvable difference at 80% and 95% power and the identities the observed difference needs, one number
    a cell ("n/a (b - a = 0)" where no number of identities would resolve it)."""
    p = c.get("power") or {}
    mde, need = (p.get("mde") or [float("nan")] * 2), p.get("units_needed") or [float("nan")]
    n = need[0]
    return [_f(100 * mde[0], 1), _f(100 * mde[1], 1),
            "n/a (b - a = 0)" if n is None else "n/a" if not math.isfinite(n) else str(n)]


def _write_method_comparisons(out: Path, comps: list[dict], provenance: dict | None = None) -> list:
    if not comps:
        return [Text(["No pair of methods was compared (generated.compare=[], or no two methods share "
                      "generated.compare_min_identities identities)."])]
    body = [[f"{c['b']} vs {c['a']}", f"{c['n_identities']}" + (" (n too small)" if c.get("small_sample") else ""),
             f"{c['n_images_a']} / {c['n_images_b']}",
             pct(c["verified_a"], 1), pct(c["verified_b"], 1), _f(100 * c["verified_difference"], 1),
             _ci(c["verified_interval"], 1, 100), _f(c["similarity_difference"]), _ci(c["similarity_interval"]),
             *("n/a" if not math.isfinite(c["wilcoxon"][k]) else f"{c['wilcoxon'][k]:.3g}" for k in ("p_value", "p_holm")),
             *_power_cells(c), " / ".join(numbers.provenance_text((provenance or {}).get(m)) for m in (c["a"], c["b"]))]
            for c in comps]
    notes = ["Paired by identity: only the identities both methods generated count, each method's images of them "
             "pooled. Intervals: 95% percentile bootstrap resampling identities (both methods' images of an identity "
             "kept together). Wilcoxon: two-sided signed-rank test on the per-identity differences of the mean "
             "similarity (failures as 0); the methods need not hold one image per identity, so there are no paired "
             "attempts for McNemar. Holm: the p-values adjusted for the pairs of this table together. With n "
             "identities Wilcoxon's smallest possible p is 2 / 2^n (0.0625 for 5): a comparison over fewer than "
             "report.min_subjects identities is marked 'n too small' and is no finding.",
             "How many identities a claim needs: from the bootstrap standard error (se) of the verified-rate "
             "difference over the shared identities, the smallest true difference a two-sided 5% test detects with "
             "80% and 95% power ((1.96 + z_power) x se: 2.80 se and 3.60 se), and the identities the observed "
             "difference would need for 80% power (se shrinking as 1 / sqrt(identities))."] + [
        as_sentence(t) for c in comps for t in (c["sentence"], _power_words(c)) if t]
    return [table_file(out, "generated_paired", METHOD_HEADER, body,
                       "Methods compared on the same identities", notes)]


def _plots(out: Path, result, config: Config) -> list[Section]:
    ctx, thr = result.context, result.context["threshold"]
    min_n = config.generated.min_per_method
    per_panel = config.report.curves_per_panel
    few = [r["value"] for r in result.groups["method"] if r["rank"] is None]
    plots.plot_similarity_by_method(result.groups["method"], result.scores, thr["threshold"], min_n,
                                    out / "similarity_by_method.png", per_panel=2 * per_panel,
                                    score=axis_score(ctx["system"]))
    fmr = float(thr["fmr_target"])
    plots.plot_det({k: v for k, v in result.scores.items() if k not in few},
                   {**ctx, "thresholds": {fmr: {"threshold": thr["threshold"]}}}, fmr,
                   out / "det_generated.png", prefix="", min_false_matches=config.report.min_false_matches,
                   per_panel=per_panel, styles={g["value"]: i for i, g in enumerate(result.groups["method"])},
                   title=f"DET of generated vs enrolment ({ctx['system']['name']}); dotted: the FMR target; open markers: "
                         f"each method at the threshold {thr['threshold']:.4f}")
    sections = [Section("similarity", "Similarity by method", [Figure(
                    "similarity_by_method.png", "Cosine similarity of each acquired generated image to its "
                    f"identity's enrolment, per method (box: quartiles; line: median; triangle: mean), ranked methods "
                    f"first; methods with fewer than {min_n} images (generated.min_per_method) after the divider, in "
                    f"grey; dashed: the verification threshold. At most {2 * per_panel} methods per panel.")]),
                Section("det-generated", "DET of generated images against the enrolment", [Figure(
                    "det_generated.png", "DET of each ranked method's generated images (genuine) against the "
                    f"impostor comparisons the threshold was fixed on; at most {per_panel} methods per panel "
                    f"(report.curves_per_panel)." + (f" Not drawn (fewer than {min_n} images): {', '.join(few)}."
                                                     if few else ""))])]
    for key, rows in result.groups.items():
        if key != "method":
            plots.plot_group_bars(rows, key, out / f"similarity_by_{key}.png", per_panel=2 * per_panel,
                                  score=axis_score(ctx["system"]))
            sections.append(Section(f"bars-{key}", f"Similarity by {key}", [Figure(
                f"similarity_by_{key}.png", f"Mean similarity per {key} with its 95% identity-bootstrap interval, "
                "failures left out and counted as 0 side by side.")]))
    plots.plot_contact_sheet(result.sheet, out / "contact_sheet.png")
    sections.append(Section("contact-sheet", "Worst- and best-preserved faces", [Figure(
        "contact_sheet.png", "The generated images with the lowest and highest similarity, each beside its "
        "best-matching enrolment reference.")]))
    return sections


def _problems_section(result) -> Section:
    reasons = Counter((f["role"], f["reason"]) for f in result.failures)
    problems = Counter(p["kind"] for p in result.context["problems"])
    items = [Table(["Role", "Reason", "Count"], [[r, x, n] for (r, x), n in reasons.most_common()],
                   ["Every failure is in failures.csv, every generated image in generated_images.csv."],
                   ["failures.csv", "generated_images.csv"]) if reasons else
             Text(["Every image was acquired (no failure to acquire); every generated image is in "
                   "generated_images.csv."])]
    items.append(Table(["Problem", "Count"], [[k, n] for k, n in problems.most_common()],
                       ["Each problem is named in metrics.json (problems)."]) if problems else
                 Text(["The manifest had no problem (every row was read and its file found)."]))
    return Section("failures", f"Failures to acquire ({len(result.failures)}) and input problems "
                               f"({len(result.context['problems'])})", items)


def _copy_section(out: Path, copy: dict, min_units: int | None = None, sheet: dict | None = None,
                  provenance: dict | None = None) -> Section:
    """Copying the input photo is not preserving identity: the copy rates per method (identity, pose, expression,
    scene side by side) and the flagged images beside their inputs."""
    section = _copy_table(out, copy, min_units, provenance)
    if sheet and sheet.get("copy"):
        plots.plot_contact_sheet({"flagged": sheet["copy"]}, out / "copy_sheet.png",
                                 partner="its input photo (most similar)")
        shown = len(sheet["copy"])
        section.items.append(Figure("copy_sheet.png", f"The images flagged as copies ({shown} of "
                                    f"{sheet['n_flagged']}, those flagged by the most kinds first), each beside the "
                                    "input photo it is most similar to, with the kinds of copy it was flagged for."))
    return section


def _fits_note(fits: dict) -> str:
    """How many faces the landmark fit measured, and why the others failed."""
    nouns = {"references": "reference", "generated": "generated"}

    def side(name, f):
        why = "; ".join(f"{n} {k}" for k, n in sorted(f["failed"].items(), key=lambda kv: -kv[1]))
        return f"{f['measured']} of {f['faces']} acquired {nouns[name]} faces" + (f" (not measured: {why})" if why else "")
    return ("Head pose measured on " + " and ".join(side(k, v) for k, v in fits.items())
            + "; per image: pose_reason in generated_images.csv.") if fits else ""


def _pose_scene_notes(copy: dict, pose: dict, scene: dict) -> list[str]:
    """The copy table's notes on the pose, expression and scene rules (or why each is missing)."""
    posed, scened = "thresholds" in pose, "threshold" in scene
    pose_notes = ([f"Pose copy: the head pose (yaw, pitch, roll from dlib's 68 landmarks, fr_eval.pose) closer to an "
                   f"input photo's than the {pose['percentile']:g}th percentile ({pose['thresholds']['pose']:.1f}°) of "
                   f"the {pose['n_real_pairs']} pose distances between different real photos of one identity "
                   f"(generated.pose_copy_percentile); expression copy: the same rule on the eye aspect ratio, mouth "
                   f"opening and width (each over its spread among the real photos; cut {pose['thresholds']['expression']:.2f}). "
                   f"A method that re-renders its input keeps its pose and expression; a new picture of the person "
                   f"would not. Distances: the median over the method's linked images. Rates with 95% intervals over "
                   f"identities.",
                   f"Pose (expression) spread: per identity with two or more of the method's faces, the median pose "
                   f"(expression) distance between them; the mean over those identities, with its 95% interval over "
                   f"identities. A method that always draws its reference's pose has almost none; real photos of "
                   f"one identity spread {_f(pose['real_spread']['pose'], 1)}° in pose and "
                   f"{_f(pose['real_spread']['expression'], 2)} in expression (the mean over "
                   f"{pose['real_spread']['n_identities']} identities).",
                   _fits_note(pose.get("fits") or {})] if posed else
                  [f"No pose or expression copy rate: {pose.get('reason', 'not measured')}."])
    pose_notes += ([f"Scene copy: the structural similarity (SSIM on 16 x 16 grey thumbnails: a scene's layout, not its "
                    f"texture; averaged outside both face boxes) to an input photo above the {scene['percentile']:g}th "
                    f"percentile ({scene['threshold']:.3f}) of the {scene['n_real_pairs']} pairs of real photos of one "
                    f"identity from different {copy['link']} values (photos taken apart; two inputs of one generation "
                    f"are often crops of one shoot): the input's background and clothes kept. The framing shift (face box moved and "
                    f"resized) is per image in generated_images.csv."] if scened else
                   [f"No scene copy rate: {scene.get('reason', 'not measured')}."])
    return pose_notes


def _copy_table(out: Path, copy: dict, min_units: int | None = None, provenance: dict | None = None) -> Section:
    title = "Copying the input photos"
    if not copy.get("available"):
        return Section("copy", title, [Text([f"The copy rate could not be computed: {copy.get('reason', '')}."])])
    pose, scene = copy.get("pose") or {}, copy.get("scene") or {}
    posed, scened = "thresholds" in pose, "threshold" in scene

    def rate(r, kind):  # a copy rate with its interval over identities (n too small below min_units of them)
        n = r.get(f"n_{kind}_linked", r["n_linked"]) if kind != "identity" else r["n_linked"]
        key = "copy" if kind == "identity" else f"{kind}_copy"
        units = r.get("n_identities") if kind == "identity" else r.get(f"n_{kind}_identities")
        return numbers.with_interval(r[f"{key}_rate"], r.get(f"{key}_interval"), n, units, min_units, "identities")
    def spread(r, kind, digits):  # a method's spread within an identity, with its interval over identities
        units = r.get(f"n_{kind}_spread_identities", 0)
        small = numbers.too_few(units, min_units, "identities")
        if not units:
            return "n/a"
        return _f(r.get(f"{kind}_spread", float("nan")), digits) + (
            f" {small}" if small else f" {_ci(r.get(f'{kind}_spread_interval') or {}, digits)}")

    body = [[r["method"], str(r["n_linked"]), _f(r["similarity_to_inputs"]), str(r["n_with_other_photos"]),
             _f(r["similarity_to_other_photos"]), str(r["n_copied"]), rate(r, "identity")]
            + ([_f(r["pose_to_inputs"], 1), rate(r, "pose"), _f(r["expression_to_inputs"], 2),
                rate(r, "expression"), spread(r, "pose", 1), spread(r, "expression", 2)] if posed else [])
            + ([_f(r["scene_to_inputs"], 3), rate(r, "scene")] if scened else [])
            + [numbers.provenance_text((provenance or {}).get(r["method"]))]
            for r in copy["methods"]]
    pose_notes = _pose_scene_notes(copy, pose, scene)
    return Section("copy", title, [table_file(
        out, "generated_copy", ["Method", "Images linked to their inputs", "Similarity to the inputs (mean of the "
                                "highest)", "Images with other photos", "Similarity to the other photos", "Copies",
                                "Copy rate (%)"] + (["Pose distance to the inputs (°)", "Pose-copy rate (%)",
                                                     "Expression distance to the inputs", "Expression-copy rate (%)",
                                                     "Pose spread within an identity (°)",
                                                     "Expression spread within an identity"]
                                                    if posed else [])
        + (["Scene similarity to the inputs", "Scene-copy rate (%)"] if scened else []) + ["Provenance"], body,
        "Copying the input photos", [
            f"Each generated image is linked to the reference photos it was made from by the {copy['link']} column of "
            f"{copy.get('link_from', 'the manifest')}. Similarity to the inputs: the highest over its input photos; to the other photos: the highest "
            f"over the identity's real photos that were not its inputs (where it has any).",
            f"A copy: closer to one of its input photos than the {copy['percentile']:g}th percentile "
            f"({copy['threshold']:.4f}) of this judge's {copy['n_real_pairs']} genuine scores between different real "
            f"photos of one identity (generated.copy_percentile). Copy rate: copies / linked, acquired images, "
            f"with its 95% interval over identities.", *pose_notes])])
