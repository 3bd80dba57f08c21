"""The report of a generated-image audit with several judges (``scenario=generated system=[a,b,...]``):
each judge's full audit in ``<system>/``, and at the top the method table with a system column, the
judges' agreement (Kendall's tau of the rankings, per-method verified rates and spread, per-image
agreement), the conditioning flags with the ranking by the judges outside each method's family,
and ``report.html`` (``templates/judges.html.j2``)."""
from __future__ import annotations

import math
from pathlib import Path

from ..provenance import environment, run_date
from ..settings import Config, plain
from . import numbers
from . import plots
from ..stages.audit_figures import CEILING
from .audit import CURATED_MARK, group_table, manifest_fact, write_audit_report
from .html import Figure, Section, Table, Text, models_of, table_file, write_each, write_page
from .io import write_config, write_json

#: the flag of a verified rate given by a judge of the method's own conditioning family
OWN = "\u2021"


def write_audit_systems_report(out_dir: str | Path, result, config: Config) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env, j = environment(), result.judges
    write_each(out, result, write_audit_report)
    write_json(out / "metrics.json", {
        "units": "every rate is a fraction in [0, 1] (not a percent); each judge's similarities as its own report says",
        "systems": {n: {"report": f"{n}/metrics.json", "system": r.context["system"], "threshold": r.context["threshold"],
                        "groups": r.groups, "overall": r.overall} for n, r in result.results.items()},
        "judges": j, "config": plain(config), "environment": env})
    write_config(out, config)
    sections = [Section("methods", "Methods: every judge", [_methods(out, result, config.report.min_subjects)]),
                Section("judges", "Do the judges agree?", [_judges_table(out, result), _kappa(out, j),
                                                             _kendall(out, j), _images(out, j)]),
                Section("bars", "Verified rate per method and judge", [_bars(out, result, config)]),
                Section("det", "DET of each judge", [_det(out, result, config)]),
                Section("copy", "Copying the input photos, every judge", [_copy(out, result)]),
                Section("systems", "Each judge's own report and threshold", [Table(
                    ["Judge", "Family", "Report", "Threshold (its similarity)", "Rule", "On the judge's own scale"],
                    [[n, j["families"][n], f"{n}/report.html", f"{r.context['threshold']['threshold']:.4f}",
                      _rule(r.context["threshold"]), native_scale(r.context["system"], r.context["threshold"])]
                     for n, r in result.results.items()],
                    ["Every judge's threshold is fixed by the same rule on its own impostor scores, so the judges are "
                     "compared at the same FMR, not at their authors' own thresholds (shown in the last column where "
                     "a judge has one)."], [f"{n}/report.html" for n in result.results])])]
    first = next(iter(result.results.values()))
    how = result.context.get("invocation") or {}
    run = [("Command", how.get("command", "(a library call)")), ("Date", run_date(result.context, env)),
           ("Manifest", manifest_fact(first.context)),
           ("Judges", ", ".join(f"{n} ({j['families'][n]} family)" for n in result.results)),
           ("Units", "rates in percent in this page; metrics.json holds fractions")]
    write_page(out, "judges", title=f"Identity preservation, judged by {', '.join(result.results)}",
               sections=sections, config=plain(config), env=env, system=models_of(result.results),
               run=run, warnings=[], headline=(head := _headline(j, config.report.min_subjects)),
               answers=_sentences(j, head))
    return out


def _methods(out: Path, result, min_units: int) -> Table:
    body, csv_body, header, csv_header = [], [], None, None
    for name, r in result.results.items():
        with_target = r.context["generated"]["with_target"] > 0
        h, b = group_table(r.groups["method"], "method", True, with_target, min_units=min_units)
        # the provenance column stays in each judge's own report and in the CSV: the page's table must fit its width
        h, b = h[:-1], [line[:-1] for line in b]
        hc, bc = group_table(r.groups["method"], "method", True, with_target, csv=True,
                             min_units=min_units)
        header, csv_header = ["System", *h], ["System", *hc]
        body += [[name, *line] for line in b]
        csv_body += [[name, *line] for line in bc]
    return table_file(out, "generated_methods", header, body, "Identity preservation by method, every judge", [
        "Each judge ranks the methods by its own verified rate at its own threshold (its report says how it was "
        "fixed); rates in percent with 95% identity-bootstrap intervals."], csv_table=(csv_header, csv_body))


def _judges_table(out: Path, result) -> Table:
    j, names = result.judges, list(result.results)
    header = ["Method", "Conditioned on", *[f"Verified of all, {n} (%)" for n in names], "Spread (points)",
              "Mean, every judge (%)", "Rank", "Mean, judges outside its family (%)", "Rank outside",
              *[f"Median FMR-equivalent, {n} (%)" for n in names]]
    body = []
    curated = {g["value"] for r in result.results.values() for g in r.groups["method"]
               if (g.get("provenance") or {}).get("curated")}
    mark = {m: f" {CURATED_MARK}" for m in curated}
    for row in j["methods"]:
        cells = [f"{_f(100 * row['verified'][n], 1)}{OWN if n in row['judged_by_own_family'] else ''}"
                 if n in row["verified"] else "n/a" for n in names]
        body.append([row["method"], row["conditioning"], *cells, _f(100 * row["spread"], 1),
                     _f(100 * row["mean_all"], 1), str(row["rank_all"] or "-") + mark.get(row["method"], ""),
                     _f(100 * row["mean_outside_family"], 1),
                     str(row["rank_outside_family"] or "-") + mark.get(row["method"], ""),
                     *[_f(100 * j["fmr_equivalent"][n].get(row["method"], float("nan")), 3, "g") for n in names]])
    return table_file(out, "judges", header, body, "The judges side by side", [
        f"{OWN} The judge belongs to the family of the embedding the method was conditioned on (generated.conditioning: "
        f"published facts or the manifest's conditioning column): it grades its own teacher. 'Mean, judges outside its "
        f"family' leaves those judges out; a method without any judge outside its family has no second rank.",
        f"{CURATED_MARK} The method's images are (partly) curated samples, chosen by their authors to be shown "
        "(the manifest's provenance column, or source_repo): its rank is the authors' best case.",
        "Spread: the largest minus the smallest verified rate over the judges. Raw similarities are not comparable "
        "across judges, so the similarity is also given on each judge's own impostor scale: per image the FMR at "
        "which that judge would accept it (fmr_equivalent in its generated_images.csv; a failure counts as 100%), "
        "here the median over the method's images; smaller is better, and with N impostors nothing below 1/N is "
        "resolved (0 means above every impostor)."])


def _rule(thr: dict) -> str:
    n = thr.get("n_impostor")
    return (f"FMR <= {100 * float(thr['fmr_target']):g}% on {n} impostor comparisons" if n is not None else
            str(thr.get("source", "")))


def native_scale(system: dict, thr: dict) -> str:
    """The threshold on the judge's native scale, beside its authors' own rule: dlib's similarity
    s = 1 - d^2/2 is the distance d = sqrt(2 (1 - s)), and dlib's documented rule is d <= 0.6."""
    t = float(thr["threshold"])
    if (system.get("score") or {}).get("metric") == "euclidean":
        d = math.sqrt(max(0.0, 2.0 * (1.0 - t)))
        return (f"Euclidean distance {d:.3f} (match if <=); dlib's own rule is 0.6, which this FMR makes "
                f"{'stricter' if d < 0.6 else 'looser'}")
    return "cosine similarity (match if >=)"


def _kappa(out: Path, j: dict) -> Table:
    k = j["kappa"]

    def cell(x):
        iv = numbers.ci_text(x, lambda v: f"{v:.2f}")
        return f"{_f(x['kappa'], 2)}{' ' + iv if iv else ''}"

    body = [["all judges (Fleiss)", str(k["n_images"]), str(k["n_identities"]), cell(k["fleiss"]), k["fleiss"]["words"]]]
    body += [[f"{c['a']} and {c['b']} (Cohen)", str(k["n_images"]), str(k["n_identities"]), cell(c), c["words"]]
             for c in k["cohen"]]
    return table_file(out, "kappa", ["Judges", "Images", "Identities", "Kappa [95% CI (identities)]", "Landis and Koch"], body,
                      "Agreement on verified / not verified, corrected for chance", [
                          "Kappa: agreement beyond what the judges' own verified rates give by chance (1: perfect, 0: "
                          "chance). Fleiss' kappa over every judge, Cohen's for each pair; 95% percentile bootstrap "
                          "over identities (an identity's images resampled together). Words after Landis and Koch "
                          "(1977): <= 0.20 slight, <= 0.40 fair, <= 0.60 moderate, <= 0.80 substantial, above almost "
                          "perfect.", j.get("verdict", "")])


def _kendall(out: Path, j: dict) -> Table:
    body = [[f"{k['a']} vs {k['b']}", str(k["n_methods"]), _f(k["tau"], 3), _f(k["p_value"], 3, "g"),
             _f(k.get("p_holm", float("nan")), 3, "g")] for k in j["kendall"]]
    return table_file(out, "kendall", ["Judges", "Methods ranked by both", "Kendall's tau", "p-value", "p, Holm-adjusted"],
                      body, "Agreement of the rankings", [
                          "Kendall's tau-b (scipy.stats.kendalltau) between two judges' rankings, over the methods "
                          "both ranked (generated.min_per_method images and report.min_subjects identities); the "
                          "p-values Holm-adjusted over the pairs of judges. With n methods the smallest possible p is "
                          "2/n! (0.33 for 3)."])


def _images(out: Path, j: dict) -> Table:
    im = j["images"]
    body = [["all judges", str(im["n_images"]), _f(100 * im["all_agree"], 1)]]
    body += [[f"{p['a']} and {p['b']}", str(im["n_images"]), _f(100 * p["agree"], 1)] for p in im["pairs"]]
    return table_file(out, "image_agreement", ["Judges", "Images", "Agree on verified / not verified (%)"], body,
                      "Agreement image by image", ["Over the images every judge audited; a failure to acquire "
                                                   "counts as not verified."])


def _headline(j: dict, min_units: int | None = None) -> Table:
    """The real-photo ceiling first (each judge's verified rate on the identities' own held-out photos), then
    every ranked method, best first, then the methods too small to rank, greyed, with why: each with its counts,
    every judge's verified rate and its 95% interval over identities, and the means over the judges."""
    names = list(j["families"])
    ranked = [r for r in j["methods"] if r["rank_all"] is not None]
    apart = [r for r in j["methods"] if r["rank_all"] is None]

    def line(r, rank):
        n, ids = r.get("n", 0), r.get("n_identities", 0)
        rates = [numbers.with_interval(r["verified"][x], r.get("intervals", {}).get(x), n, ids, min_units, "identities") +
                 (OWN if x in r["judged_by_own_family"] else "") if x in r["verified"] else "n/a" for x in names]
        return [rank, r["method"], str(n), str(ids), r["conditioning"], *rates, _f(100 * r["mean_all"], 1),
                _f(100 * r["mean_outside_family"], 1), str(r["rank_outside_family"] or "-"),
                r.get("not_ranked_because", "")]

    body = []
    ceiling = j.get("ceiling") or {}
    if ceiling:
        rates = [numbers.with_interval(ceiling[x]["verified_rate_of_all"], ceiling[x]["interval"], ceiling[x]["n"],
                                 ceiling[x]["n_identities"], min_units, "identities")
                 if x in ceiling else "n/a" for x in names]
        mean = sum(c["verified_rate_of_all"] for c in ceiling.values()) / len(ceiling)

        def counts(key):  # each judge acquires its own reference photos: the counts can differ
            return " / ".join(dict.fromkeys(str(c[key]) for c in ceiling.values()))
        body.append(["ceiling", CEILING, counts("n"), counts("n_identities"), "-", *rates, _f(100 * mean, 1), "-",
                     "-", "the ceiling: the identities' own real photos, each scored against its identity enrolled "
                          "without it"])
    body += [line(r, str(r["rank_all"])) for r in ranked] + [line(r, "not ranked") for r in apart]
    header = ["Rank", "Method", "Images", "Identities", "Conditioned on",
              *[f"Verified of all, {x} (%) [95% CI, identities]" for x in names], "Mean verified, every judge (%)",
              "Mean, judges outside its family (%)", "Rank outside", "Not ranked because"]
    return Table(header, numbers.uniform_digits(header, body),
                 [f"{len(ranked)} methods ranked (each judge's generated.min_per_method images and report.min_subjects "
                  f"identities); {len(apart)} listed after them, not ranked: their intervals are too wide to order "
                  f"them. Means over the judges are the ranking score (each judge's interval is beside it); "
                  f"{OWN}: the judge shares the method's conditioning family."], id="headline")


def _sentences(j: dict, headline: Table | None = None) -> list[str]:
    """The answers box: the verdict, the ceiling (in the headline table's digits), the rankings' and the images'
    agreement, and the methods judged by their own family."""
    out = [j["verdict"]] if j.get("verdict") else []
    ceiling = j.get("ceiling") or {}
    if ceiling and headline is not None and headline.body and headline.body[0][0] == "ceiling":
        def shown(x):  # the headline's own cell, "100 [88, 100]" -> "100% [88, 100]"
            value, _, ci = headline.body[0][headline.header.index(
                f"Verified of all, {x} (%) [95% CI, identities]")].partition(" ")
            return f"{value}% {ci}".rstrip()
        out.append("The ceiling to read the methods against, the identities' own real photos each scored against its "
                   "identity enrolled without it: verified of all " + "; ".join(
                       f"{shown(x)} by {x} ({c['n']} photos of {c['n_identities']} identities)"
                       for x, c in ceiling.items()) + ".")
    out += [f"Kendall's tau between {k['a']} and {k['b']}: {_f(k['tau'], 2)} over {k['n_methods']} methods "
            f"(p = {_f(k['p_value'], 2, 'g')}" + (f"; with {k['n_methods']} methods the smallest possible p is "
                                                  f"{2 / math.factorial(k['n_methods']):.2g}: n too small to test"
                                                  if 1 < k["n_methods"] <= 5 else "") + ")."
            for k in j["kendall"]]
    im = j["images"]
    if im["n_images"]:
        out.append(f"All judges agree on {_f(100 * im['all_agree'], 1)}% of the {im['n_images']} images (raw agreement, "
                   f"not corrected for chance: see the kappas).")
    flagged = [r["method"] for r in j["methods"] if r["judged_by_own_family"]]
    if flagged:
        out.append(f"Judged by a system of their own conditioning family ({OWN}): {', '.join(flagged)}.")
    return out


def _f(x, digits: int, kind: str = "f") -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}{kind}}"


def _copy(out: Path, result):

    copies = {n: r.context.get("copy") or {} for n, r in result.results.items()}
    if not all(c.get("available") for c in copies.values()):
        why = next(c.get("reason", "") for c in copies.values() if not c.get("available"))
        return Text([f"The copy rate could not be computed: {why}."])
    names = list(copies)
    methods = [r["method"] for r in copies[names[0]]["methods"]]
    per = {n: {r["method"]: r for r in c["methods"]} for n, c in copies.items()}
    body = [[m, str(per[names[0]][m]["n_linked"]),
             *[f"{per[n][m]['n_copied']} ({_f(100 * per[n][m]['copy_rate'], 1)}%)" for n in names]] for m in methods]
    return table_file(out, "copy", ["Method", "Images linked to their inputs", *[f"Copies, {n}" for n in names]], body,
                      "Copying the input photos, every judge", [
                          f"{n}: a copy is closer to an input photo than {c['threshold']:.4f}, the "
                          f"{c['percentile']:g}th percentile of its {c['n_real_pairs']} genuine scores between "
                          f"different real photos." for n, c in copies.items()])


def _bars(out: Path, result, config: Config) -> Figure:
    per_panel = 2 * config.report.curves_per_panel
    intervals = {n: {g["value"]: (g["intervals"]["verified_rate_of_all"], g["n"], g["n_identities"])
                     for g in r.groups["method"]} for n, r in result.results.items()}
    plots.plot_judges_bars(result.judges["methods"], list(result.results), out / "judges.png", per_panel, intervals)
    return Figure("judges.png", "Each method's verified rate (of all its images, at each judge's own threshold) under "
                  "every judge, side by side, with its 95% identity-bootstrap interval (whiskers); methods ranked by "
                  "the mean over the judges first, then the unranked ones (too few images or identities) by name; "
                  "under each method its images (n) and identities; hatched: a judge of the family the method was "
                  f"conditioned on. At most {per_panel} methods per panel.")


def _det(out: Path, result, config: Config) -> Figure:
    """One DET panel per judge (each on its own impostor comparisons, the same methods)."""
    names = list(result.results)
    styles = {row["method"]: i for i, row in enumerate(result.judges["methods"])}  # one look per method, every panel
    fig, axes = plots.subplots(len(names), 1, figsize=(9.0, 5.0 * len(names)), squeeze=False)
    for ax, n in zip(axes[:, 0], names):
        r = result.results[n]
        thr = r.context["threshold"]
        ranked = {g["value"] for g in r.groups["method"] if g["rank"] is not None}
        plots.plot_det({k: v for k, v in r.scores.items() if k in ranked},
                       {**r.context, "thresholds": {float(thr["fmr_target"]): {"threshold": thr["threshold"]}}},
                       float(thr["fmr_target"]), None, ax=ax, prefix="", title=f"{n}: ranked methods; open markers at "
                       f"its threshold {thr['threshold']:.4f}", min_false_matches=config.report.min_false_matches,
                       styles=styles)
    fig.tight_layout()
    plots.save(fig, out / "det_judges.png")
    return Figure("det_judges.png", "The DET of each judge's ranked methods (generated images against their enrolment, "
                  "on that judge's own impostor comparisons), one panel per judge with the same methods: curves of "
                  "three judges on one axis would be three times as many lines. A method has the same colour and "
                  "marker in every panel; grey: FMR below report.min_false_matches impostor errors (not supported).")
