"""The DET plot: limits from the data, a style per row, operating points, rows without errors said."""
import numpy as np
from scipy.stats import norm

from fr_eval.report import plots as plotting
from fr_eval.report.plots import draw_det
from fr_eval.streaming import ImpostorSummary


def test_det_is_drawn_for_a_paper():
    rng = np.random.default_rng(0)
    imp = ImpostorSummary.of(rng.normal(0.0, 0.1, 2610))
    thr = imp.threshold(0.01)
    rows = [(f"scenario {i}", rng.normal(0.3 - 0.05 * i, 0.1, 90), imp, thr) for i in range(3)]
    rows.append(("scenario 9", np.full(90, 0.99), imp, thr))  # no false non-match at all
    fig, ax = plotting.subplots()
    floors = draw_det(ax, rows, 0.001, supported=False, allowed=2)
    assert (floors["fmr"], floors["fnmr"]) == (0.5 / 2610, 0.5 / 90)
    assert floors["fmr_max"] <= 0.5 and floors["fnmr_max"] <= 0.95
    assert ax.get_xlim()[0] == norm.ppf(0.5 / 2610) and ax.get_ylim()[0] == norm.ppf(0.5 / 90)
    curves = [ln for ln in ax.lines if ln.get_label().startswith("scenario")]
    assert len(curves) == 4 and len({str(ln.get_linestyle()) for ln in curves}) == 4
    assert len({ln.get_marker() for ln in curves}) == 4
    markers = [ln for ln in ax.lines if ln.get_label().startswith("_") and ln.get_linestyle() == "None"]
    assert len(markers) == 4  # one operating point per row
    op = markers[0]  # at the row's achieved FMR and FNMR
    assert op.get_xdata()[0] == norm.ppf(max(imp.fmr_at(thr), 0.5 / 2610))
    assert np.isclose(op.get_ydata()[0], norm.ppf(max(np.mean(rows[0][1] < thr), 0.5 / 90)))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    labels = [" ".join(t.split()) for t in labels]  # long labels are wrapped
    assert labels[3].startswith("scenario 9 (90 genuine): no false non-match") and "no false non-match" not in labels[0]
    assert labels[-1] == "FMR target 0.1% (not supported: 2 false matches allowed)"
    assert min(float(t.get_text()) for t in ax.get_xticklabels()) >= 100 * 0.5 / 2610


def test_stand_in_rows_say_so_in_the_legend():
    from fr_eval.report import plot_det
    rng = np.random.default_rng(1)
    scores = {k: {"genuine": rng.normal(0.3, 0.1, 90), "impostor": rng.normal(0, 0.1, 2610)} for k in ("1", "4 [exemplar]")}
    ctx = {"system": {"name": "s"}, "dataset": {"name": "d"},
           "colouriser_descriptions": {"exemplar": "exemplar colour transfer [WAM02], a weight-free stand-in, not DeOldify"}}
    fig, ax = plotting.subplots()
    plot_det(scores, ctx, 0.001, None, ax=ax)
    labels = [" ".join(t.get_text().split()) for t in ax.get_legend().get_texts()]
    # each row named with its own genuine count; the stand-in said once, not in every entry
    assert labels[0] == "scenario 1 (90 genuine)" and labels[1] == "scenario 4 [exemplar] (90 genuine)"
    assert sum("a weight-free stand-in, not DeOldify" in x for x in labels) == 1
    assert "[exemplar]: exemplar colour transfer [WAM02], a weight-free stand-in, not DeOldify" in labels
    assert min(t.get_fontsize() for t in ax.get_legend().get_texts()) >= 9


def test_det_bands_and_panels(tmp_path):
    from matplotlib.collections import PolyCollection
    from PIL import Image

    from fr_eval import metrics
    from fr_eval.report.plots import Curve, plot_det

    rng = np.random.default_rng(2)
    imp = ImpostorSummary.of(rng.normal(0.0, 0.1, 5000))
    subject = np.repeat(np.arange(60), 5)
    gen = rng.normal(0.3, 0.12, 300)
    fig, ax = plotting.subplots()
    draw_det(ax, [Curve("a", gen, imp, imp.threshold(0.01), subject), Curve("b", gen + 0.1, imp)], 0.01,
             bands={"n_resamples": 200, "seed": 0})
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1  # only the curve whose subjects are known gets a band
    x, y, t = imp.det(gen)
    lo, hi = metrics.fnmr_band(gen, subject, t, n_resamples=200, seed=0)
    assert np.all(lo <= y + 1e-12) and np.all(y <= hi + 1e-12) and np.mean(hi - lo) > 0.01
    # five rows at two per panel: three panels one above the other, as PNG and PDF
    scores = {str(k): {"genuine": rng.normal(0.3, 0.1, 90), "impostor": imp} for k in range(5)}
    ctx = {"system": {"name": "s"}, "dataset": {"name": "d"}}
    plot_det(scores, ctx, 0.001, tmp_path / "one.png")
    plot_det(scores, ctx, 0.001, tmp_path / "three.png", per_panel=2)
    h1, h3 = (Image.open(tmp_path / f"{n}.png").size[1] for n in ("one", "three"))
    assert 2.6 < h3 / h1 < 3.2 and (tmp_path / "three.pdf").read_bytes()[:5] == b"%PDF-"


def test_det_axes_fit_the_data_shade_the_unsupported_region_and_fold_the_fta():
    from matplotlib.patches import Polygon, Rectangle

    from fr_eval.report.plots import Curve

    rng = np.random.default_rng(5)
    imp = ImpostorSummary.of(rng.normal(0.0, 0.1, 20000))
    good = rng.normal(0.45, 0.08, 600)  # a good system: FNMR at the lowest FMR is a few percent
    fig, ax = plotting.subplots()
    lim = draw_det(ax, [Curve("a", good, imp, imp.threshold(0.001))], 0.001, min_false_matches=3)
    x, y, _ = imp.det(good)
    top = y[x >= lim["fmr"]].max()
    assert lim["fnmr_max"] == min(max(2 * top, 10 * lim["fnmr"]), 0.95) < 0.5  # not fixed at 95%
    assert ax.get_ylim()[1] == norm.ppf(lim["fnmr_max"])
    shaded = [p for p in ax.patches if isinstance(p, (Polygon, Rectangle))]
    assert len(shaded) == 1 and "fewer than 3 impostor errors" in shaded[0].get_label()
    # folding the FTA lifts the curve: FTA + FNMR (1 - FTA)
    fig2, ax2 = plotting.subplots()
    draw_det(ax2, [Curve("a", good, imp, None, None, 0.2)], 0.001, fta="fold")
    curve = next(ln for ln in ax2.lines if ln.get_label().startswith("a"))
    assert "FTA 20% folded in" in curve.get_label() and norm.cdf(curve.get_ydata()).min() >= 0.2 - 1e-9
    assert "failures to acquire counted" in ax2.get_ylabel()


def test_a_row_keeps_its_colour_and_marker_in_every_panel(tmp_path):
    from fr_eval.report.plots import plot_det

    rng = np.random.default_rng(6)
    imp = rng.normal(0, 0.1, 3000)
    scores = {str(k): {"genuine": rng.normal(0.4, 0.1, 90), "impostor": imp} for k in range(5)}
    ctx = {"system": {"name": "s"}, "dataset": {"name": "d"}}
    styles = {str(k): k for k in range(5)}
    seen = {}
    for order in (["0", "1", "2", "3", "4"], ["3", "4"]):  # the same rows in two figures
        fig, ax = plotting.subplots()
        plot_det({k: scores[k] for k in order}, ctx, 0.01, None, ax=ax, styles=styles)
        for ln in ax.lines:
            if ln.get_label().startswith("scenario"):
                key = ln.get_label().split()[1]
                look = (ln.get_color(), ln.get_marker(), str(ln.get_linestyle()))
                assert seen.setdefault(key, look) == look
    assert seen["3"][0] == "C3" and len({v for v in seen.values()}) == 5
