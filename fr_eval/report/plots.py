"""Every plot of the reports, in one module. Each ``draw_*`` function draws on the caller's ``ax``
(so a user can compose figures of their own); each ``plot_*`` function lays out a figure of such
panels and saves it as PNG and as PDF (vector, for papers) with :func:`save`.

Figures are built without pyplot: fr-eval never switches (or even reads) the user's matplotlib
backend. :func:`subplots` builds a :class:`matplotlib.figure.Figure` directly, which ``savefig``
renders with Agg whatever backend the user has; nothing is registered with pyplot, so nothing
needs closing.

The DET is FNMR against FMR on normal-deviate (probit) axes, as ISO/IEC 19795-1 and bob.measure
draw it, with what a paper needs: axis limits from the data (about 1/N on each axis), a line style
and a marker per row, each row's operating point marked, rows without an error said in the legend
(drawn at the floor, not vanished), optional subject-bootstrap bands, and the FMR target's line
saying when the data do not support it.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy.stats import norm

from .. import metrics
from ..evaluation import as_summary
from ..images import ImageLoadError, load_image
from ..metrics import interval_kwargs
from ..settings import Config
from . import numbers
from .numbers import fmr_label  # noqa: F401  (re-exported: report modules import it from here)
from .tables import axis_score


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, squeeze: bool = True, **kw):

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, **kw)


def own_axes(ax, figsize):
    """``(figure to save or None, axes)``: the caller's ``ax`` (nothing saved), else a new figure."""
    if ax is not None:
        return None, ax
    return subplots(figsize=figsize)


def save(fig, path: Path, dpi: int = 120) -> None:
    """``path`` (PNG) and the same figure as a PDF beside it; legends outside the axes included."""
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    fig.savefig(Path(path).with_suffix(".pdf"), bbox_inches="tight")


def panels(n: int, width: float, height: float, ncol: int = 3):
    """A figure of ``n`` panels, ``ncol`` to a row; the unused ones hidden."""
    ncol = max(1, min(ncol, n))
    nrow = math.ceil(n / ncol)
    fig, axes = subplots(nrow, ncol, figsize=(width * ncol, height * nrow), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()[:n]


def chunks(items: list, size: int) -> list[list]:
    """``items`` in consecutive panels of at most ``size`` (one panel when ``size`` <= 0)."""
    if size <= 0 or len(items) <= size:
        return [items]
    return [items[i:i + size] for i in range(0, len(items), size)]


def legend_label(label: str, ctx: dict) -> str:
    """A row's label in a plot legend: the label alone (a stand-in colouriser is said once per legend, by
    :func:`stand_in_handles`, not repeated in every entry)."""
    return label


def stand_in_handles(ctx: dict, labels) -> list:
    """One legend entry (no line) per colouriser description whose rows the legend shows: "[exemplar]: exemplar
    colour transfer ..., a weight-free stand-in, not DeOldify", said once."""
    return [Line2D([], [], ls="none", label=textwrap.fill(f"[{name}]: {text}", 46, subsequent_indent="  "))
            for name, text in (ctx.get("colouriser_descriptions") or {}).items()
            if any(str(x).rstrip().endswith(f"[{name}]") or f"[{name}]" in str(x) for x in labels)]


#: one (line style, marker) per row, cycled
STYLES = (("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"), ((0, (5, 1)), "v"), ((0, (3, 1, 1, 1)), "P"),
          ((0, (1, 1)), "X"), ((0, (5, 2, 1, 2)), "*"))
TICKS = np.array([1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95])


def floor_of(n: int) -> float:
    """The lowest rate worth an axis over ``n`` attempts: half of one error's step."""
    return float(np.clip(0.5 / max(n, 1), 1e-7, 0.05))


class Curve(NamedTuple):
    """One DET curve: its label, the compared genuine scores, the impostor scores (an
    :class:`~fr_eval.streaming.ImpostorSummary`), the operating point's threshold, each genuine
    score's subject index (for the bootstrap band; None: no band) and the row's transaction-level
    FTA (folded into the FNMR with ``report.det_fta=fold``; None: unknown)."""
    label: str
    genuine: np.ndarray
    impostor: object
    threshold: float | None = None
    subject: np.ndarray | None = None
    fta: float | None = None


def style_of(index: int) -> tuple:
    """(colour, line style, marker) of the ``index``-th row or method of a report: the same in every
    panel, plot and bar chart that shows it."""
    ls, mk = STYLES[index % len(STYLES)]
    return f"C{index % 10}", ls, mk


def fitted_limits(curves: list, lo_x: float, lo_y: float, fold: bool = False, dets: list | None = None
                  ) -> tuple[float, float]:
    """The upper FMR and FNMR limits that hold the data: the FNMR at the lowest FMR drawn (the curves'
    top), doubled, and the FMR where the last curve reaches the FNMR floor, times 5, each kept between
    a decade above its floor and 50 % (FMR) or 95 % (FNMR). ``dets``: each curve's (FMR, FNMR,
    thresholds), when the caller has them already."""
    top_y, right_x = lo_y, lo_x
    for c, (x, y, _) in zip(curves, dets or [c.impostor.det(c.genuine) for c in curves]):
        if fold and c.fta:
            y = c.fta + y * (1 - c.fta)
        if x.size == 0:
            continue
        top_y = max(top_y, float(np.max(y[x >= lo_x])) if np.any(x >= lo_x) else float(y[-1]))
        reached = x[y <= lo_y]
        right_x = max(right_x, float(reached.min()) if reached.size else 0.5)
    return (float(np.clip(5 * right_x, min(0.5, 100 * lo_x), 0.5)), float(np.clip(2 * top_y, min(0.95, 10 * lo_y), 0.95)))


def ticks_between(lo: float, hi: float) -> np.ndarray:
    """The axis ticks in [lo, hi]: the decades and the usual DET values, with 2 and 5 of each decade
    added where fewer than four would show."""
    t = TICKS[(TICKS >= lo) & (TICKS <= hi)]
    if t.size >= 4:
        return t
    more = np.array([m * 10.0 ** e for e in range(-7, 0) for m in (1, 2, 5)] + list(TICKS))
    return np.unique(more[(more >= lo) & (more <= hi)])


#: the most thresholds a band is computed at (spread evenly along the curve)
BAND_POINTS = 200


def det_bands(config: Config) -> dict | None:
    """The DET band's bootstrap settings (:func:`fr_eval.metrics.fnmr_band`'s keywords) when
    ``report.det_bands`` is on, else None."""
    if not config.report.det_bands:
        return None
    return interval_kwargs(config.intervals())


def band_note(bands: dict | None, each: str = "row") -> str:
    """The caption's sentence for the DET bands ("" without them)."""
    return (f" Shaded: each {each}'s pointwise 95% subject-bootstrap band of the FNMR (impostor scores held fixed)."
            if bands else "")


def draw_det(ax, curves: list, fmr: float, *, supported: bool = True, allowed: int | None = None,
             bands: dict | None = None, styles: dict | None = None, min_false_matches: int | None = None,
             fta: str = "exclude", context: dict | None = None) -> dict:
    """Draw ``curves`` (:class:`Curve` or tuples of its fields) on ``ax``.

    ``bands``: the keyword arguments of :func:`fr_eval.metrics.fnmr_band` (n_resamples, confidence,
    seed) to shade each curve's pointwise subject-bootstrap interval of the FNMR where its subjects
    are known. ``styles``: curve label -> its index in the report (:func:`style_of`; default: the
    order here), so a row keeps its colour and marker in every panel. ``min_false_matches``: the FMR
    region below that many impostor errors (FMR < m / N) is shaded and labelled "not supported".
    ``fta="fold"``: the FNMR axis counts failures to acquire as non-matches (FTA + FNMR (1 - FTA),
    the transaction-level FTA of each row), as NIST's report cards do; "exclude" (the default):
    failures are left out, as the paper's FNMR. The axes start at half an error's step (0.5 / N) and
    end where the data do (:func:`fitted_limits`). Returns the limits used."""
    curves = [Curve(*c) for c in curves]
    fold = fta == "fold"
    n_imp = max((c.impostor.n for c in curves), default=1)
    n_gen = max((len(c.genuine) for c in curves), default=1)
    lo_x, lo_y = floor_of(n_imp), floor_of(n_gen)
    dets = [c.impostor.det(c.genuine) for c in curves]  # once per curve: the limits and the lines use them
    hi_x, hi_y = fitted_limits(curves, lo_x, lo_y, fold, dets)
    hi_x = float(min(0.5, max(hi_x, 10 * fmr)))  # the FMR target and a decade beyond it stay in view
    styles = styles or {c.label: i for i, c in enumerate(curves)}

    def px(v):
        return norm.ppf(np.clip(v, lo_x, 0.999))

    def py(v):
        return norm.ppf(np.clip(v, lo_y, 0.999))

    for i, (c, (x, y, t)) in enumerate(zip(curves, dets)):
        colour, ls, mk = style_of(styles.get(c.label, i))
        lift = (lambda v: c.fta + np.asarray(v) * (1 - c.fta)) if fold and c.fta else (lambda v: np.asarray(v))
        no_errors = not np.any(lift(y)[x >= lo_x] > 0)
        text = c.label + f" ({len(c.genuine):,} genuine)" + (
            f": no false non-match at FMR >= {100 * lo_x:.2g}%, drawn at the floor" if no_errors else "") + (
            f"; FTA {100 * c.fta:.2g}% folded in" if fold and c.fta else "")
        text = textwrap.fill(text, 46, subsequent_indent="  ")  # the legend beside the axes stays narrow
        line, = ax.plot(px(x), py(lift(y)), ls=ls, marker=mk, markevery=0.1, ms=4, lw=1.4, label=text, color=colour)
        if bands is not None and c.subject is not None and len(c.genuine) and x.size:
            pick = np.unique(np.linspace(0, x.size - 1, min(BAND_POINTS, x.size)).astype(int))
            lo, hi = metrics.fnmr_band(c.genuine, c.subject, t[pick], **bands)
            ax.fill_between(px(x[pick]), py(lift(lo)), py(lift(hi)), color=colour, alpha=0.15, lw=0)
        if c.threshold is not None:
            op_x, op_y = c.impostor.fmr_at(c.threshold), float(np.mean(np.asarray(c.genuine) < c.threshold))
            ax.plot([px(op_x)], [py(lift(op_y))], marker=mk, ms=10, mfc="none", mew=1.6, color=colour, ls="none")
    if min_false_matches:
        edge = min_false_matches / n_imp
        if edge > lo_x:
            ax.axvspan(norm.ppf(lo_x), norm.ppf(min(edge, hi_x)), color="0.85", alpha=0.6, lw=0, zorder=0,
                       label=f"FMR < {min_false_matches}/{n_imp}: fewer than {min_false_matches} impostor errors, "
                             f"not supported")
    note = "" if supported else f" (not supported: {allowed} false matches allowed)"
    ax.axvline(norm.ppf(fmr), color="grey", ls=":", lw=1, label=f"FMR target {100 * fmr:g}%{note}")
    xt, yt = ticks_between(lo_x, hi_x), ticks_between(lo_y, hi_y)
    ax.set_xticks(norm.ppf(xt), [f"{100 * t:g}" for t in xt])
    ax.set_yticks(norm.ppf(yt), [f"{100 * t:g}" for t in yt])
    ax.set_xlim(norm.ppf(lo_x), norm.ppf(hi_x))
    ax.set_ylim(norm.ppf(lo_y), norm.ppf(hi_y))
    ax.set_xlabel(f"FMR (%), {n_imp} impostor comparisons")
    ax.set_ylabel("FNMR (%), each row's genuine comparisons in the legend"
                  + (", failures to acquire counted" if fold else ""))
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + stand_in_handles(context or {}, [c.label for c in curves]), fontsize=9,
              loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return {"fmr": lo_x, "fnmr": lo_y, "fmr_max": hi_x, "fnmr_max": hi_y}


def det_caption(limits: dict | None, fta: str, min_false_matches: int | None) -> str:
    """The DET caption's sentences on its axes, its shaded region and the failures to acquire."""
    axes = (f" Axes fitted to the data: FMR from {100 * limits['fmr']:.2g}% (half an error's step, 0.5/N) to "
            f"{100 * limits['fmr_max']:.2g}%, FNMR from {100 * limits['fnmr']:.2g}% to {100 * limits['fnmr_max']:.2g}%."
            if limits else "")
    shade = (f" Grey: FMR below {min_false_matches} impostor errors, where the data do not support a figure."
             if min_false_matches else "")
    folded = (" Failures to acquire are folded in: FNMR = FTA + FNMR (1 - FTA), each row's transaction-level FTA "
              "(report.det_fta=fold)." if fta == "fold" else
              " Failures to acquire are left out of the curves (the paper's FNMR; report.det_fta=fold counts them "
              "as non-matches, as NIST's report cards do).")
    return axes + shade + folded


def det_curves(scores: dict, ctx: dict, prefix: str = "scenario ") -> list[Curve]:
    """A :class:`Curve` per row of ``scores`` (row label -> {"genuine", "impostor"[, "subject"]})
    that has scores on both sides; the operating point where ``ctx`` names the threshold."""
    thr = (ctx.get("thresholds") or {}).get(ctx.get("fmr")) or {}
    out = []
    for label, sc in scores.items():
        imp = as_summary(sc["impostor"])  # an array is sorted once
        if sc["genuine"].size and imp.n:
            out.append(Curve(f"{prefix}{legend_label(label, ctx)}", sc["genuine"], imp, thr.get("threshold"),
                             sc.get("subject"), sc.get("fta")))
    return out


def plot_det(scores: dict, ctx: dict, fmr: float, path: Path | None, *, title: str | None = None,
             prefix: str = "scenario ", ax=None, min_false_matches: int | None = None, per_panel: int = 0,
             bands: dict | None = None, styles: dict | None = None, fta: str = "exclude") -> dict | None:
    """DET curves of every row (:func:`draw_det`), saved as PNG and PDF. The operating point is
    marked where ``ctx`` names the threshold at ``fmr``; the FMR target is said to be unsupported
    when fewer than ``min_false_matches`` false matches are allowed at it. More than ``per_panel``
    rows (> 0) are drawn in further panels, one above the other (not on the caller's ``ax``); each
    row keeps its colour and marker in every panel (``styles``: label -> index, else the order of
    ``scores``). Returns the first panel's axis limits (for the caption)."""
    curves = det_curves(scores, {**ctx, "fmr": fmr}, prefix)
    styles = {c.label: (styles or {}).get(c.label[len(prefix):], i) for i, c in enumerate(curves)}
    kw = {"bands": bands, "styles": styles, "min_false_matches": min_false_matches, "fta": fta, "context": ctx}
    n_imp = max((c.impostor.n for c in curves), default=0)
    allowed = numbers.allowed_false_matches(fmr, n_imp)
    ok = min_false_matches is None or allowed >= min_false_matches
    title = title or (f"DET ({ctx['system']['name']}, {ctx['dataset']['name']}); open markers: the operating "
                      f"point at FMR={fmr_label(fmr)}" + ("; shaded: 95% subject-bootstrap band" if bands else ""))
    if ax is not None:
        limits = draw_det(ax, curves, fmr, supported=ok, allowed=allowed, **kw)
        ax.set_title(title, fontsize=9)
        return limits
    groups = chunks(curves, per_panel)
    fig, axes = subplots(len(groups), 1, figsize=(9.0, 5.6 * len(groups)), squeeze=False)
    limits = None
    for k, (a, group) in enumerate(zip(axes[:, 0], groups)):
        got = draw_det(a, group, fmr, supported=ok, allowed=allowed, **kw)
        limits = limits or got
        a.set_title(title if len(groups) == 1 else f"{title}\npanel {k + 1} of {len(groups)}", fontsize=9)
    save(fig, path)
    return limits


def draw_frr_threshold(ax, rows: list[dict], scores: dict, ctx: dict, fmr: float) -> None:
    """FRR (FTA included) of each row against the decision threshold, as the paper's Fig. 4b."""
    grid = np.linspace(-0.2, 1.0, 481)
    for i, row in enumerate(rows):
        gen = np.sort(scores[row["label"]]["genuine"])
        fnmr = np.searchsorted(gen, grid, side="left") / gen.size if gen.size else np.ones_like(grid)
        ls, _ = STYLES[i % len(STYLES)]
        ax.plot(grid, 100 * (row["fta"] + fnmr * (1 - row["fta"])), ls=ls,
                label=textwrap.fill(f"scenario {legend_label(row['label'], ctx)}", 46, subsequent_indent="  "))
    t = ctx["thresholds"][fmr]["threshold"]
    ax.axvline(t, color="grey", ls=":", lw=1, label=f"threshold at FMR={fmr_label(fmr)} ({t:.4f})")
    ax.set_xlabel(f"decision threshold ({axis_score(ctx.get('system') or {})}; match if >=)")
    ax.set_ylabel("FRR (%)")
    ax.set_title("FRR = FTA + FNMR (1 - FTA) against the threshold", fontsize=9)
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + stand_in_handles(ctx, [r["label"] for r in rows]), fontsize=9, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def plot_frr_threshold(result, ctx, fmr, path: Path | None, *, ax=None) -> None:
    fig, ax = own_axes(ax, (7.4, 4.8))
    draw_frr_threshold(ax, result.rows, result.scores, ctx, fmr)
    if fig is not None:
        save(fig, path)


def draw_quality_cdf(ax, q: dict, name: str) -> None:
    """The CDF of one quality estimator per variant (the paper's Fig. 4a for FaceQnet), over the
    central 99% of its values (the extremes are in Table 2)."""
    unit = next((r["unit"] for r in q["table2"] if r["estimator"] == name), "") or "no unit"
    allv = np.concatenate([q["values"][(v, name)] for v in q["variants"]])
    for i, v in enumerate(q["variants"]):
        x = np.sort(q["values"][(v, name)])
        if x.size:
            ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", ls=STYLES[i % len(STYLES)][0],
                    label=f"{v} (n={x.size})")
    if allv.size:
        lo, hi = np.percentile(allv, [0.5, 99.5])
        if hi > lo:
            ax.set_xlim(lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo))
        ax.legend(fontsize=9)
    else:
        ax.text(0.5, 0.5, "no sample has a value", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(name, fontsize=10)
    ax.set_xlabel(f"{name} ({unit})", fontsize=9)
    ax.set_ylabel("fraction of samples <= x", fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)


def plot_quality_cdf(q: dict, path: Path) -> None:
    fig, axes = panels(len(q["names"]), 5.0, 3.8, ncol=2)
    for ax, name in zip(axes, q["names"]):
        draw_quality_cdf(ax, q, name)
    fig.tight_layout()
    save(fig, path)


def draw_edc(ax, q: dict, row: str) -> None:
    """One scenario row's error-versus-discard curves: FNMR against the fraction of genuine
    comparisons discarded, one line per estimator, and the random-discard line to beat."""
    mine = [x for x in q["edc"] if x["row"] == row]
    md = q["max_discard"]
    if mine[0]["fnmr"][0] == 0:  # an empty panel says why
        ax.text(0.5, 0.5, f"scenario {row}: no false non-match\nat the threshold, nothing to discard",
                ha="center", va="center", transform=ax.transAxes, fontsize=9)
    for i, r in enumerate(mine):
        ax.step(r["discard"], 100 * r["fnmr"], where="post", ls=STYLES[i % len(STYLES)][0], label=r["estimator"])
    # discarding at random leaves the FNMR where it was (in expectation): the line to beat
    ax.axhline(100 * mine[0]["fnmr"][0], color="black", ls="--", lw=0.8, label="random discard (expected)")
    ax.axvline(md, color="grey", ls=":", lw=1)
    ax.text(md, 0.98, f" {100 * md:g}% limit (edc.max_discard)", fontsize=7, color="grey", va="top",
            transform=ax.get_xaxis_transform())
    xmax = min(1.0, 2.5 * md)
    ax.set_xlim(0, xmax)
    top = max((float(x.max()) for x in (100 * r["fnmr"][r["discard"] <= xmax] for r in mine) if x.size), default=1.0)
    ax.set_ylim(0, 1.1 * top if top > 0 else 1.0)
    ax.set_title(f"scenario {row} ({mine[0]['n_comparisons']} genuine comparisons)", fontsize=9)
    ax.set_xlabel("fraction of genuine comparisons discarded (lowest quality first)", fontsize=8)
    ax.set_ylabel("FNMR (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)


def plot_edc(q: dict, path: Path) -> None:
    rows = list(dict.fromkeys(r["row"] for r in q["edc"]))
    if not rows:
        return
    fig, axes = panels(len(rows), 5.0, 3.8, ncol=2)
    for ax, row in zip(axes, rows):
        draw_edc(ax, q, row)
    fig.tight_layout()
    save(fig, path)


def draw_tile(ax, img, title: str | None = None, ylabel: str | None = None, fontsize: int = 8,
              note: str = "") -> None:
    """One image panel without ticks; ``None`` is shown as a "failed" tile; ``note`` under it."""
    ax.set_xticks([])
    ax.set_yticks([])
    if img is None:
        ax.text(0.5, 0.5, "failed", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.imshow(img)
    if title:
        ax.set_title(title, fontsize=fontsize)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=fontsize - 1)
    if note:
        ax.set_xlabel(textwrap.fill(note, 26), fontsize=fontsize - 2)


def plot_examples(rows, path: Path) -> None:
    """Original, greyscale and each colourisation of the same faces side by side (before/after, the
    paper's Fig. 2). ``rows``: (row label, tiles), each a :class:`fr_eval.stages.acquire.Tile`."""
    ncol = len(rows[0][1])
    noted = any(t.note for _, tiles in rows for t in tiles)
    fig, axes = subplots(len(rows), ncol, figsize=(1.9 * ncol, (2.25 if noted else 2.0) * len(rows)), squeeze=False)
    for r, (label, tiles) in enumerate(rows):
        for c, t in enumerate(tiles):
            draw_tile(axes[r][c], t.image, t.name if r == 0 else None, label if c == 0 else None, note=t.note)
    fig.tight_layout()
    save(fig, path, dpi=110)


def draw_similarity_box(ax, groups: list[dict], scores: dict, threshold: float, min_n: int,
                        score: str = "cosine similarity") -> None:
    """Box plots of each method's similarities (acquired images), ranked methods first, those below
    ``min_n`` images after a divider and in grey; the threshold dashed."""
    data = [scores[g["value"]]["genuine"] for g in groups]
    few = [g["rank"] is None for g in groups]
    box = ax.boxplot([d if d.size else np.array([np.nan]) for d in data], showmeans=True, patch_artist=True)
    for patch, f in zip(box["boxes"], few):
        patch.set_facecolor("#dddddd" if f else "#cfe0f3")
    if any(few):  # the divider before the first unranked method (at the left edge when all are)
        ax.axvline(few.index(True) + 0.5, color="grey", lw=1)
        video = any(g.get("video_frames") for g in groups if g["rank"] is None)
        # along the divider (turned 90 degrees): it fits the panel's height wherever the divider falls
        ax.text(few.index(True) + 0.55, 0.98, f"not ranked: < {min_n} images\nor identities"
                + (", or video" if video else ""), rotation=90, fontsize=9, color="grey", va="top", ha="left",
                transform=ax.get_xaxis_transform())
    ax.set_xticks(range(1, len(groups) + 1),
                  [f"{g['value']}\n(n={g['n']}, FTA {100 * g['fta']:.0f}%)" for g in groups], rotation=60,
                  ha="right", fontsize=7)
    ax.axhline(threshold, color="red", ls="--", lw=1, label=f"verification threshold {threshold:.3f}")
    ax.set_ylabel(f"{score} to the identity's enrolment")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def plot_similarity_by_method(groups: list[dict], scores: dict, threshold: float, min_n: int, path: Path,
                              per_panel: int = 12, score: str = "cosine similarity") -> None:
    parts = chunks(groups, per_panel)
    fig, axes = subplots(len(parts), 1, figsize=(max(6.0, 0.55 * len(parts[0]) + 3), 4.8 * len(parts)),
                         squeeze=False)
    drawn = [scores[g["value"]]["genuine"] for g in groups if scores[g["value"]]["genuine"].size]
    low = min([0.0] + [float(d.min()) for d in drawn])
    for k, (ax, part) in enumerate(zip(axes[:, 0], parts)):
        draw_similarity_box(ax, part, scores, threshold, min_n, score)
        ax.set_ylim(low - 0.03, 1.0)  # one scale for every panel
        ax.set_title("Identity similarity of generated faces (acquired images; failures are the FTA)"
                     + (f", panel {k + 1} of {len(parts)}" if len(parts) > 1 else ""), fontsize=9)
    fig.tight_layout()
    save(fig, path, dpi=110)


def draw_group_bars(ax, groups: list[dict], key: str, score: str = "cosine similarity") -> None:
    """Mean similarity per group with its 95% interval, both failure conventions side by side."""
    x = np.arange(len(groups))
    for off, name, label in ((-0.2, "similarity_failures_excluded", "failures left out"),
                             (0.2, "similarity_failures_as_zero", "failures as 0")):
        m = np.array([g[name]["mean"] for g in groups], float)
        iv = [g[name]["interval"] for g in groups]
        lo = np.array([np.nan if i["low"] is None else i["low"] for i in iv], float)
        hi = np.array([np.nan if i["high"] is None else i["high"] for i in iv], float)
        ax.bar(x + off, m, width=0.4, yerr=np.vstack([np.nan_to_num(m - lo), np.nan_to_num(hi - m)]), capsize=3,
               label=label)
    ax.set_xticks(x, [f"{g['value']} (n={g['n']})" for g in groups], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(f"mean {score} (95% interval)")
    ax.set_title(f"Identity similarity by {key}", fontsize=9)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def plot_group_bars(groups: list[dict], key: str, path: Path, per_panel: int = 12, score: str = "cosine similarity") -> None:
    parts = chunks(groups, per_panel)
    fig, axes = subplots(len(parts), 1, figsize=(max(6.0, 0.6 * len(parts[0]) + 3), 4.4 * len(parts)),
                         squeeze=False)
    for ax, part in zip(axes[:, 0], parts):
        draw_group_bars(ax, part, key, score)
    fig.tight_layout()
    save(fig, path, dpi=110)


def plot_contact_sheet(sheet: dict, path: Path, partner: str = "best-matching reference") -> None:
    """Generated faces, each beside a real photo (``partner``: what that photo is): by default the worst- and
    best-preserved beside their best-matching reference; any other lists of ``sheet`` (e.g. the flagged copies
    beside their input photo) alike, in order."""
    rows = [(kind, e) for kind, entries in sheet.items() if isinstance(entries, list) for e in entries]
    if not rows:
        return
    fig, axes = subplots(math.ceil(len(rows) / 2), 4, figsize=(8.0, 2.25 * math.ceil(len(rows) / 2)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (kind, (gen, ref, caption)) in enumerate(rows):
        r, c = divmod(k, 2)
        for j, (p, title) in enumerate(((gen, f"{kind}: {caption}"), (ref, partner))):
            ax = axes[r][2 * c + j]
            ax.set_title(title, fontsize=6)
            try:
                ax.imshow(_thumbnail(load_image(p))) if p is not None else None
            except ImageLoadError:
                ax.text(0.5, 0.5, "unreadable", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    save(fig, path, dpi=110)


def _thumbnail(rgb: np.ndarray, side: int = 320) -> np.ndarray:
    """An image no larger than ``side`` pixels a side (a pane of the sheet is about 200 px at its dpi): a
    full-size photo would only slow the drawing and swell the PNG."""
    h, w = rgb.shape[:2]
    f = side / max(h, w)
    return rgb if f >= 1 else cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def draw_judges_bars(ax, rows: list[dict], judges: list[str], intervals: dict | None = None) -> None:
    """Each method's verified rate under each judge, side by side; a hatched bar is a judge of the
    family the method was conditioned on (it grades its own teacher). ``intervals``: judge -> method ->
    (interval dict, images, identities): whiskers and the counts under each method."""
    x = np.arange(len(rows))
    width = 0.8 / max(len(judges), 1)
    handles = []
    for k, j in enumerate(judges):
        vals = np.array([100 * r["verified"].get(j, np.nan) for r in rows], float)
        bars = ax.bar(x - 0.4 + (k + 0.5) * width, np.nan_to_num(vals), width, color=f"C{k % 10}")
        if intervals and j in intervals:
            iv = [intervals[j].get(r["method"], ({},))[0] for r in rows]
            lo = np.array([100 * v.get("low", np.nan) for v in iv], float)
            hi = np.array([100 * v.get("high", np.nan) for v in iv], float)
            ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(vals)
            ax.errorbar((x - 0.4 + (k + 0.5) * width)[ok], vals[ok], yerr=[vals[ok] - lo[ok], hi[ok] - vals[ok]],
                        fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
        handles.append(Patch(facecolor=bars.patches[0].get_facecolor() if bars.patches else None, label=j))
        for bar, r, v in zip(bars, rows, vals):
            if j in r["judged_by_own_family"]:
                bar.set_hatch("///")
                bar.set_edgecolor("black")
            if v == 0:  # a bar of height 0 is said, not left to look like a missing judge
                ax.text(bar.get_x() + bar.get_width() / 2, 1, "0", ha="center", va="bottom", fontsize=6)
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="///", label="judge of the method's own family"))
    first = next(iter((intervals or {}).values()), {})
    counts = [f", n={first[r['method']][1]}, {first[r['method']][2]} id." if r["method"] in first else "" for r in rows]
    ax.set_xticks(x, [f"{r['method']}\n({r['conditioning']}{c})" for r, c in zip(rows, counts)], rotation=60,
                  ha="right", fontsize=7)
    ax.set_ylabel("verified of all images (%)")
    ax.set_ylim(0, 105)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(handles=handles, fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def plot_judges_bars(rows: list[dict], judges: list[str], path: Path, per_panel: int = 12,
                     intervals: dict | None = None) -> None:
    parts = chunks(rows, per_panel)
    fig, axes = subplots(len(parts), 1, figsize=(max(6.0, 0.7 * len(parts[0]) + 3), 4.6 * len(parts)), squeeze=False)
    for k, (ax, part) in enumerate(zip(axes[:, 0], parts)):
        draw_judges_bars(ax, part, judges, intervals)
        ax.set_title("Verified rate per method and judge" + (f", panel {k + 1} of {len(parts)}" if len(parts) > 1
                                                            else ""), fontsize=9)
    fig.tight_layout()
    save(fig, path, dpi=110)
