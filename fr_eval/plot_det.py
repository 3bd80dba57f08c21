"""The DET plot: FNMR against FMR on normal-deviate (probit) axes, as ISO/IEC 19795-1 and
bob.measure draw them, with what a paper needs: axis limits from the data (about 1/N on each
axis), a line style and a marker per row, each row's operating point marked, rows without an
error said in the legend (drawn at the floor, not vanished), and the FMR target's line saying
when the data do not support it. Draws on the caller's ``ax``."""
from __future__ import annotations

import textwrap

import numpy as np
from scipy.stats import norm

#: one (line style, marker) per row, cycled
STYLES = (("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"), ((0, (5, 1)), "v"), ((0, (3, 1, 1, 1)), "P"),
          ((0, (1, 1)), "X"), ((0, (5, 2, 1, 2)), "*"))
TICKS = np.array([1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95])


def floor_of(n: int) -> float:
    """The lowest rate worth an axis over ``n`` attempts: half of one error's step."""
    return float(np.clip(0.5 / max(n, 1), 1e-7, 0.05))


def draw_det(ax, curves: list[tuple], fmr: float, *, supported: bool = True, allowed: int | None = None) -> dict:
    """Draw ``curves``: (label, genuine scores, impostor summary, threshold or None) per row. Returns
    the axis floors used ({"fmr": ..., "fnmr": ...})."""
    n_imp = max((imp.n for _, _, imp, _ in curves), default=1)
    n_gen = max((len(g) for _, g, _, _ in curves), default=1)
    lo_x, lo_y = floor_of(n_imp), floor_of(n_gen)
    for i, (label, gen, imp, thr) in enumerate(curves):
        ls, mk = STYLES[i % len(STYLES)]
        x, y, _ = imp.det(gen)
        shown = x >= lo_x
        no_errors = not np.any(y[shown] > 0)
        text = label + (f" (no false non-match in {len(gen)} at FMR >= {100 * lo_x:.2g}%: drawn at the floor)"
                        if no_errors else "")
        text = textwrap.fill(text, 46, subsequent_indent="  ")  # the legend beside the axes stays narrow
        line, = ax.plot(norm.ppf(np.clip(x, lo_x, 0.999)), norm.ppf(np.clip(y, lo_y, 0.999)), ls=ls, marker=mk,
                        markevery=0.1, ms=4, lw=1.4, label=text)  # evenly spaced along the drawn line
        if thr is not None:
            op_x, op_y = imp.fmr_at(thr), float(np.mean(np.asarray(gen) < thr))
            ax.plot([norm.ppf(np.clip(op_x, lo_x, 0.999))], [norm.ppf(np.clip(op_y, lo_y, 0.999))], marker=mk, ms=10,
                    mfc="none", mew=1.6, color=line.get_color(), ls="none")
    note = "" if supported else f" (not supported: {allowed} false matches allowed)"
    ax.axvline(norm.ppf(fmr), color="grey", ls=":", lw=1, label=f"FMR target {100 * fmr:g}%{note}")
    xt, yt = TICKS[(TICKS >= lo_x) & (TICKS <= 0.5)], TICKS[(TICKS >= lo_y) & (TICKS <= 0.95)]
    ax.set_xticks(norm.ppf(xt), [f"{100 * t:g}" for t in xt])
    ax.set_yticks(norm.ppf(yt), [f"{100 * t:g}" for t in yt])
    ax.set_xlim(norm.ppf(lo_x), norm.ppf(0.5))
    ax.set_ylim(norm.ppf(lo_y), norm.ppf(0.95))
    ax.set_xlabel(f"FMR (%), {n_imp} impostor comparisons")
    ax.set_ylabel(f"FNMR (%), {n_gen} genuine comparisons")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return {"fmr": lo_x, "fnmr": lo_y}
