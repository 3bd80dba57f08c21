"""Write the audit's report bundle: metrics.json, the method table, per-image rows, plots, HTML."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .provenance import environment
from .report_io import write_csv
from .report import _atomic_write, _clean, _write_table, machine_notes, run_notes, html_img, html_table, pct, plot_det


def _ci(i: dict, digits=3, scale=1.0) -> str:
    if not i or i.get("low") is None or not math.isfinite(i["low"]):
        return "n/a"
    return f"[{scale * i['low']:.{digits}f}, {scale * i['high']:.{digits}f}]"


def _f(x, digits=3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def group_table(rows: list[dict], key: str, ranked: bool, with_target: bool):
    header = (["Rank"] if ranked else []) + [
        key.capitalize(), "Images", "Identities", "FTA (%)", "Similarity mean", "95% interval", "Median", "Std",
        "Similarity mean, failures as 0", "Verified of acquired (%)", "Verified of all (%)",
        "Verified of all, 95% interval (%)", "FRR (%)",
        "Impersonation (%)", "Rank-1 of acquired (%)"] + (["CSIM", "SSIM"] if with_target else [])
    body = []
    for r in rows:
        ex, z = r["similarity_failures_excluded"], r["similarity_failures_as_zero"]
        line = ([str(r["rank"]) if r["rank"] is not None else "not ranked"] if ranked else []) + [
            str(r["value"]), str(r["n"]), str(r["n_identities"]), pct(r["fta"], 1), _f(ex["mean"]),
            _ci(ex["interval"]), _f(ex["median"]), _f(ex["std"]), _f(z["mean"]), pct(r["verified_rate"], 1),
            pct(r["verified_rate_of_all"], 1), _ci(r["intervals"]["verified_rate_of_all"], 1, 100), pct(r["frr"], 1),
            pct(r["impersonation_rate"], 1),
            pct(r["rank1_accuracy"], 1)]
        if with_target:
            line += [_f(r.get("csim", {}).get("mean")), _f(r.get("ssim", {}).get("mean"))]
        body.append(line)
    return header, body


def write_audit_report(out_dir, result, config: dict) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = result.context
    env = environment()
    thr = ctx["threshold"]
    with_target = ctx["generated"]["with_target"] > 0
    doc = {"units": "every rate is a fraction in [0, 1] (not a percent); similarities are cosine similarities",
           "definitions": ctx["conventions"], "overall": result.overall, "groups": result.groups,
           **{k: v for k, v in ctx.items() if k != "conventions"}, "config": config, "environment": env}
    _atomic_write(out / "metrics.json", json.dumps(_clean(doc), indent=2))
    from omegaconf import OmegaConf
    _atomic_write(out / "config.yaml", "# the resolved configuration of this run\n" + OmegaConf.to_yaml(config))
    notes = [
        f"Threshold {thr['threshold']:.4f} (cosine similarity, accept if >=) from {thr['source']}"
        + (f": {thr['n_impostor']} impostor comparisons, FMR <= {100 * thr['fmr_target']:g}% "
           f"({thr['impostors_allowed']} false matches allowed; achieved {pct(thr['fmr_achieved'], 4)}%)."
           if "n_impostor" in thr else "."),
        f"Similarity: {ctx['conventions']['template']}. 'Similarity mean' leaves out images with no usable face "
        "(their share is the FTA); 'failures as 0' keeps them with a score of 0.",
        "Verified of acquired = 1 - FNMR; verified of all counts failures as not verified; FRR = 1 - verified of "
        "all = FTA + FNMR (1 - FTA). Impersonation: the image matches another enrolled identity at the threshold. "
        "Rank-1: closed-set identification among all enrolled identities. Rates in percent.",
        f"Methods with at least generated.min_per_method={int(config['generated']['min_per_method'])} images ranked by "
        f"verified of all, then by similarity with failures as 0; methods with fewer are listed after them, not "
        f"ranked ({', '.join(r['value'] for r in result.groups['method'] if r['rank'] is None) or 'none'}). "
        f"Intervals: 95%, bootstrap "
        f"over identities. System: {ctx['system']['name']} ({ctx['system_choice']}).",
    ]
    h, b = group_table(result.groups["method"] + [{**result.overall, "value": "(all)", "rank": "-"}], "method",
                       True, with_target)
    notes += machine_notes(ctx["engine"]) + run_notes(ctx)
    _write_table(out, "generated_methods", h, b, "Identity preservation by method", notes)
    for key, rows in result.groups.items():
        if key != "method":
            h2, b2 = group_table(rows, key, False, with_target)
            _write_table(out, f"generated_by_{key}", h2, b2, f"Identity preservation by {key}", notes)
    fields = list(result.images[0].keys()) if result.images else []
    write_csv(out / "generated_images.csv", fields, result.images)
    write_csv(out / "failures.csv", ["role", "identity", "method", "path", "kind", "reason"], result.failures)
    _atomic_write(out / "provenance.json", json.dumps(_clean({"system": ctx["system"], "environment": env}), indent=2))
    plot_similarity_by_method(result, thr["threshold"], out / "similarity_by_method.png")
    for key, rows in result.groups.items():
        if key != "method":
            plot_group_bars(rows, key, out / f"similarity_by_{key}.png")
    few = [r["value"] for r in result.groups["method"] if r["rank"] is None]
    plot_det({k: v for k, v in result.scores.items() if k not in few}, ctx, float(thr["fmr_target"]),
             out / "det_generated.png", prefix="", min_false_matches=int(config["report"]["min_false_matches"]),
             title=f"DET of generated vs enrolment ({ctx['system']['name']}); dotted: the threshold's FMR"
             + (f"\nnot drawn (fewer than generated.min_per_method images): {', '.join(few)}" if few else ""))
    plot_contact_sheet(result.sheet, out / "contact_sheet.png")
    write_audit_html(out, result, config, env, h, b, notes)
    return out


def plot_similarity_by_method(result, threshold: float, path: Path) -> None:
    """Box plots of the acquired images' similarity per method (ranked order), threshold dashed."""
    from . import plotting as plt

    rows = result.groups["method"]
    data = [result.scores[r["value"]]["genuine"] for r in rows]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(rows) + 2), 4.8))
    ax.boxplot([d if d.size else np.array([np.nan]) for d in data], showmeans=True)
    ax.set_xticks(range(1, len(rows) + 1),
                  [f"{r['value']}\n(n={r['n']}, FTA {100 * r['fta']:.0f}%)" for r in rows], rotation=60, ha="right",
                  fontsize=7)
    ax.axhline(threshold, color="red", ls="--", lw=1, label=f"verification threshold {threshold:.3f}")
    ax.set_ylabel("cosine similarity to the identity's enrolment")
    ax.set_title("Identity similarity of generated faces (acquired images; failures are the FTA)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_group_bars(rows, key: str, path: Path) -> None:
    """Mean similarity per group with its 95% interval (both failure conventions side by side)."""
    from . import plotting as plt

    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(rows) + 2), 4.4))
    for off, name, label in ((-0.2, "similarity_failures_excluded", "failures left out"),
                             (0.2, "similarity_failures_as_zero", "failures as 0")):
        m = np.array([r[name]["mean"] for r in rows], float)
        lo = np.array([r[name]["interval"]["low"] if r[name]["interval"]["low"] is not None else np.nan
                       for r in rows], float)
        hi = np.array([r[name]["interval"]["high"] if r[name]["interval"]["high"] is not None else np.nan
                       for r in rows], float)
        err = np.vstack([np.nan_to_num(m - lo), np.nan_to_num(hi - m)])
        ax.bar(x + off, m, width=0.4, yerr=err, capsize=3, label=label)
    ax.set_xticks(x, [f"{r['value']} (n={r['n']})" for r in rows], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("mean cosine similarity (95% interval)")
    ax.set_title(f"Identity similarity by {key}")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_contact_sheet(sheet: dict, path: Path) -> None:
    """The worst- and best-preserved generated faces, each beside its best-matching reference."""
    from . import plotting as plt

    from .images import ImageLoadError, load_image

    rows = [("worst", e) for e in sheet.get("worst", [])] + [("best", e) for e in sheet.get("best", [])]
    if not rows:
        return
    ncol = 4  # two (generated, reference) pairs per line
    nline = math.ceil(len(rows) / 2)
    fig, axes = plt.subplots(nline, ncol, figsize=(2.0 * ncol, 2.25 * nline), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (kind, (gen, ref, caption)) in enumerate(rows):
        r, c = divmod(k, 2)
        for j, (p, title) in enumerate(((gen, f"{kind}: {caption}"), (ref, "best-matching reference"))):
            ax = axes[r][2 * c + j]
            try:
                ax.imshow(load_image(p)) if p is not None else None
            except ImageLoadError:
                ax.text(0.5, 0.5, "unreadable", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(title, fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_audit_html(out: Path, result, config, env, h, b, notes) -> None:
    from collections import Counter
    from html import escape

    ctx = result.context
    table = html_table

    def img(name):
        return html_img(out, name)

    reasons = Counter((f["role"], f["reason"]) for f in result.failures)
    problems = Counter(p["kind"] for p in ctx["problems"])
    others = "".join(f"<h2>By {escape(k)}</h2>" + img(f"similarity_by_{k}.png") for k in result.groups if k != "method")
    models = [[m["role"], m["path"], m["bytes"], m["sha256"]] for m in ctx["system"]["models"]]
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>fr-eval identity audit</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #bbb;padding:3px 6px;font-size:85%}}th{{background:#eee}}img{{max-width:100%}}</style></head><body>
<h1>Identity preservation of generated images: system {escape(ctx['system']['name'])}</h1>
<p>Manifest {escape(ctx['manifest'])}: {ctx['generated']['rows']} generated images, {ctx['generated']['audited']} audited;
enrolment: {escape(ctx['enrolment']['source'])} ({ctx['enrolment']['identities_enrolled']} identities,
{ctx['enrolment']['reference_images_acquired']} of {ctx['enrolment']['reference_images']} reference images acquired).</p>
<h2>Methods, ranked</h2>{table(h, b)}<ul>{''.join(f'<li>{escape(n)}</li>' for n in notes)}</ul>
{img('similarity_by_method.png')}{img('det_generated.png')}{others}
<h2>Worst- and best-preserved faces</h2>{img('contact_sheet.png')}
<h2>Failures to acquire ({len(result.failures)})</h2>
{table(["role", "reason", "count"], [[r, x, n] for (r, x), n in reasons.most_common()])}
<h2>Input problems ({len(ctx['problems'])})</h2>{table(["kind", "count"], [[k, n] for k, n in problems.most_common()])}
<p>Each generated image: <code>generated_images.csv</code>; every problem: <code>metrics.json</code>.</p>
<h2>Models and software</h2>{table(["role", "path", "bytes", "sha256"], models)}
<p>{escape(', '.join(f'{k} {v}' for k, v in env['packages'].items()))}; Python {escape(env['python'])}.</p>
<h2>Configuration</h2><pre>{escape(json.dumps(_clean(config), indent=1))}</pre></body></html>"""
    _atomic_write(out / "report.html", html)
