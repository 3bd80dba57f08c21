"""The report's rules for a figure that claims more than its data (issue 37), on hand-made figures: the
small-sample rule (below report.min_subjects units a figure shows its count and "n too small"; a zero-width
interval is never printed), the unsupported-operating-point rule (a comparison at an FPIR target the non-mated
searches cannot support draws no conclusion and says so; the first screen compares at a supported target), and
the styles of the identification plots (each row as in the DET; one marker shape per FPIR target)."""
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fr_eval.report import numbers


# -- small samples ---------------------------------------------------------------------------------------------------
def test_one_unit_with_an_error_shows_its_count_not_an_interval():
    assert numbers.with_interval(0.25, {"low": 0.25, "high": 0.25, "method": "subject_bootstrap"}, 4, units=1,
                           min_units=10, unit="subjects") == "25 (1 subject: n too small)"


def test_one_unit_without_an_error_is_not_given_rule_of_three_as_if_it_were_many():
    assert numbers.with_interval(0.0, {"low": 0.0, "high": 0.75, "method": "rule_of_3"}, 4, units=1, min_units=10,
                           unit="identities") == "0 (1 identity: n too small)"


def test_two_units_are_too_few_and_enough_units_keep_their_interval():
    iv = {"low": 0.92, "high": 1.0, "method": "identity_bootstrap"}
    assert numbers.with_interval(0.94, iv, 50, units=2, min_units=10, unit="identities") == "94.0 (2 identities: n too small)"
    assert numbers.with_interval(0.94, iv, 50, units=12, min_units=10, unit="identities") == "94.0 [92.0, 100.0]"
    assert numbers.with_interval(0.94, iv, 50) == "94.0 [92.0, 100.0]"  # no unit count given: the interval as before


def test_a_zero_width_interval_is_never_printed():
    same = {"low": -1.0, "high": -1.0, "method": "paired_identity_bootstrap"}
    assert numbers.ci_text(same, lambda v: f"{100 * v:.1f}") == "(no spread)"
    assert numbers.with_interval(0.0, {"low": 0.0, "high": 0.0, "method": "subject_bootstrap"}, 90) == "0.0 (no spread)"
    assert numbers.ci_text(None) == "" and numbers.ci_text({"low": float("nan"), "high": 1.0, "method": "x"}) == ""
    from fr_eval.paired import ci_words
    assert ci_words(-1.0, -1.0, 0.95) == "no spread over the units (every one gave the same difference)"
    assert ci_words(-0.5, 0.25, 0.95) == "95% CI [-50.00, +25.00]" and ci_words(np.nan, 1, 0.95) == "no interval"


# -- unsupported operating points ------------------------------------------------------------------------------------
THRESHOLDS = {0.001: {"threshold": 0.62, "supported": False, "n_nonmated": 120},
              0.01: {"threshold": 0.48, "supported": True, "n_nonmated": 120}}


def test_comparisons_are_made_at_the_first_supported_target():
    from fr_eval.stages.identify import compared_target
    assert compared_target(THRESHOLDS, [0.001, 0.01]) == 0.01
    assert compared_target({0.001: {"supported": False}}, [0.001]) == 0.001  # none supported: the first, flagged


def test_a_comparison_at_an_unsupported_target_draws_no_conclusion():
    from fr_eval.stages.identify import paired_searches
    subject = np.repeat(np.arange(20), 3)
    a = np.zeros(60, bool)
    b = np.ones(60, bool)  # every search missed in b: a clear difference, were the point supported
    misses = {"a": {"rank 1 at T(FPIR<=0.1%)": a, "rank 1 at T(FPIR<=1%)": a},
              "b": {"rank 1 at T(FPIR<=0.1%)": b, "rank 1 at T(FPIR<=1%)": b}}
    out = paired_searches([("a", "b")], misses, subject, 20, {"n_resamples": 200, "seed": 0}, 10, THRESHOLDS)
    by = {c["figure"]: c for c in out}
    bad, good = by["FNIR rank 1 at T(FPIR<=0.1%) (miss rate of mated searches)"], \
        by["FNIR rank 1 at T(FPIR<=1%) (miss rate of mated searches)"]
    assert bad["supported"] is False and "unsupported operating point\u2020" in bad["sentence"]
    assert "no conclusion" in bad["sentence"] and "misses" not in bad["sentence"].split("(")[0]
    assert good["supported"] is True and good["sentence"].startswith("search in b misses 100.00 points more")


# -- the identification plots ------------------------------------------------------------------------------------------
def _ident(n_rows=4, targets=(0.001, 0.01)):
    rows, curves = [], {}
    for i in range(n_rows):
        cmc = np.minimum(1.0, 0.8 + 0.02 * i + 0.01 * np.arange(20))
        fpir = np.array([0.0, 0.01, 0.05, 0.2, 1.0])
        curves[f"row{i}"] = {"cmc": cmc, "tradeoff": (np.linspace(1, 0, 5), fpir, np.array([.3, .2, .1, .05, 0.]))}
        rows.append({"label": f"row{i}", "gallery_size": 15, "nonmated_searches": 100,
                     "at_fpir": {t: {"fpir": 0.0 if t < 0.005 else 0.01, "fnir_rank1": 0.2} for t in targets}})
    th = {t: {"threshold": 0.5, "supported": t >= 0.01, "n_nonmated": 100} for t in targets}
    return SimpleNamespace(rows=rows, curves=curves, thresholds=th)


@pytest.fixture
def drawn(monkeypatch):
    import fr_eval.report.identification as ident_report
    figures = []
    monkeypatch.setattr(ident_report, "save", lambda fig, path: figures.append(fig))
    return ident_report, figures


def test_cmc_rows_keep_their_det_style_at_integer_ranks_within_the_gallery(drawn):
    from fr_eval.report.plots import style_of
    module, figures = drawn
    module._plot_cmc(_ident(), None)
    ax = figures[0].axes[0]
    lines = [ln for ln in ax.lines if not ln.get_label().startswith("_")]
    assert [(ln.get_color(), ln.get_linestyle(), ln.get_marker()) for ln in lines] == [
        (c, ls, mk) for c, ls, mk in (style_of(i) for i in range(4))]
    assert max(ln.get_xdata().max() for ln in lines) == 15  # the gallery's 15 subjects, not the 20 ranks asked
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 15]
    assert ticks and all(float(t).is_integer() for t in ticks)
    legend = ax.get_legend()
    assert min(t.get_fontsize() for t in legend.get_texts()) >= 9


def test_tradeoff_in_one_unit_with_a_marker_per_target(drawn):
    from fr_eval.report.plots import style_of
    module, figures = drawn
    module._plot_tradeoff(_ident(), None)
    ax = figures[0].axes[0]
    assert "(%)" in ax.get_xlabel() and "(%)" in ax.get_ylabel()
    steps = [ln for ln in ax.lines if ln.get_label().startswith("row")]
    assert [(ln.get_color(), ln.get_linestyle()) for ln in steps] == [(c, ls) for c, ls, _ in (style_of(i) for i in range(4))]
    points = [ln for ln in ax.lines if ln.get_linestyle() == "None"]
    assert len({ln.get_marker() for ln in points}) == 2  # one shape per FPIR target
    assert all(ln.get_xdata()[0] == pytest.approx(100 * 0.5 / 100) for ln in points if ln.get_marker() == "o")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "T(FPIR<=0.1%)\u2020 unsupported" in labels and "T(FPIR<=1%)" in labels
    assert min(t.get_fontsize() for t in ax.get_legend().get_texts()) >= 9


# -- the audit's real-photo ceiling -----------------------------------------------------------------------------------
def test_real_photo_ceiling_leaves_each_photo_out_of_its_own_enrolment():
    """Three identities on a circle (2-D embeddings): identity 0 has photos at 0 and 20 degrees, identity 1 at 90
    and 100, identity 2 one photo at 200 (too few to leave one out). Photo 0 against identity 0 enrolled from the
    photo at 20 alone scores cos 20 deg; its best other identity is 1 (mean of 90 and 100: cos 95 deg)."""
    from fr_eval.evaluation import SideData
    from fr_eval.stages.audit_score import real_photo_ceiling

    def at(deg):
        return [np.cos(np.radians(deg)), np.sin(np.radians(deg))]

    emb = np.array([at(0), at(20), at(90), at(100), at(200)], np.float32)
    side = SimpleNamespace(emb=emb, ok=np.array([True, True, True, True, True]))
    c = real_photo_ceiling(side, np.array([0, 0, 1, 1, 2]), 3, "mean", "cosine")
    assert c["identity"].tolist() == [0, 0, 1, 1]  # identity 2 has one photo: none to leave out
    assert c["own"][0] == pytest.approx(np.cos(np.radians(20)), abs=1e-6)
    assert c["other_max"][0] == pytest.approx(np.cos(np.radians(95)), abs=1e-6)
    assert c["mate_rank"].tolist() == [1, 1, 1, 1]
    failed = SimpleNamespace(emb=emb, ok=np.array([True, False, True, True, True]))
    c = real_photo_ceiling(failed, np.array([0, 0, 1, 1, 2]), 3, "mean", "cosine")
    assert c["identity"].tolist() == [1, 1]  # identity 0 has one acquired photo left
    assert SideData  # the stage's own side type carries the same two fields


def test_the_ceilings_skin_tone_shift_is_each_photo_against_its_identitys_others():
    """Identity 0: photos at ITA 40, 50 and 10 degrees; identity 1: one measured photo (30) and one grey (nan)."""
    from fr_eval.stages.audit_score import left_out_shift
    ita = np.array([40.0, 50.0, 10.0, 30.0, np.nan])
    ref_id = np.array([0, 0, 0, 1, 1])
    shift = left_out_shift(ita, ref_id, np.array([0, 1, 2, 3, 4]))
    # 40 - median(50, 10); 50 - median(40, 10); 10 - median(40, 50); identity 1: no other measured photo / no ITA
    assert shift[:3].tolist() == [40 - 30, 50 - 25, 10 - 45] and np.isnan(shift[3]) and np.isnan(shift[4])


# -- labels that do not overlap ----------------------------------------------------------------------------------------
def overlapping_texts(fig) -> list:
    """Pairs of drawn, non-empty, unrotated texts of a figure (the tick labels matplotlib draws, titles, axis
    labels, legend entries, notes) whose boxes overlap: what a reader could not read. (Rotated labels are left
    out: the box of a rotated text is not its outline.)"""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)  # the report's figures are drawn without pyplot: give this one a canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis) if ax.axison else ():  # an axes turned off draws no tick or axis label
            texts += [t.label1 for t in axis._update_ticks() if t.label1.get_visible()]
            texts.append(axis.label)
        texts += [ax.title, *ax.texts]
        if ax.get_legend() is not None:
            texts += [*ax.get_legend().get_texts(), ax.get_legend().get_title()]
    seen, boxes = set(), []
    for t in texts:
        if id(t) in seen or not t.get_visible() or not str(t.get_text()).strip() or t.get_rotation() not in (0, 90):
            continue
        seen.add(id(t))
        boxes.append((t.get_text(), t.get_window_extent(renderer).expanded(0.98, 0.9)))
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:] if ba.overlaps(bb)]


def test_identification_plots_have_no_overlapping_labels(drawn):
    module, figures = drawn
    module._plot_cmc(_ident(6), None)
    module._plot_tradeoff(_ident(6), None)
    for fig in figures:
        assert overlapping_texts(fig) == []


def test_the_dot_plot_labels_are_off_the_frame_and_apart(monkeypatch):
    """The differentials dot plot: group labels and the legend readable (its outer groups off the frame's edge)."""
    import fr_eval.report.differentials as diff_report
    figures = []
    monkeypatch.setattr(diff_report, "save", lambda fig, path: figures.append(fig))
    iv = {"low": 0.0, "high": 0.05}
    rows = [{"label": f"{k}", "groups": [{"group": g, "fnmr": 0.02, "fmr": 0.001,
                                          "intervals": {"fnmr": iv, "fmr": iv}} for g in ("light", "tan", "dark")]}
            for k in (1, 3, 4)]
    assert diff_report._plot_groups("skin_tone", rows, None)
    assert overlapping_texts(figures[0]) == []
    for ax in figures[0].axes:  # half a group of room above the first group and below the last
        lo, hi = sorted(ax.get_ylim())
        assert lo <= -0.5 + 1e-9 and hi >= 2.5 - 1e-9


def test_console_summary_follows_the_verification_first_screen():
    """The console of a verification run: Table 3's figures, then the first answers of the page's box."""
    from fr_eval.report.console import console_summary
    rows = [{"label": k, "frr": f, "fta": 0.01, "fnmr": 0.02, "d_prime": 5.0} for k, f in (("1", 0.004), ("3", 0.025))]
    said = ["scenario 4 rejects 3.48 points more", "scenario 5 rejects 3.09 points more", "scenario 2 rejects 1.96"]
    r = SimpleNamespace(rows=rows, identification=None, row_comparisons=[{"sentence": s} for s in said])
    lines = console_summary(r, "scenario", Path("/r")).splitlines()
    assert lines[1:3] == ["  1: FRR 0.40%, FTA 1.00%, FNMR 2.00%, d' 5.000", "  3: FRR 2.50%, FTA 1.00%, FNMR 2.00%, d' 5.000"]
    assert lines[3:6] == [f"  {said[0]}", f"  {said[1]}", "  ... 1 more comparisons in the report"]
    assert lines[-1] == "every table, interval and plot: /r/report.html"


def rotated_outlines(fig) -> list:
    """Each drawn, non-empty, rotated tick label of a figure as its outline, the rectangle its text fills turned by
    its angle (matplotlib centres that rectangle in the axis-aligned box it reports), with its text."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.path import Path as Outline
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    out = []
    for ax in fig.axes:
        for t in ax.get_xticklabels():
            if not t.get_visible() or not t.get_text().strip() or t.get_rotation() in (0, 90):
                continue
            box = t.get_window_extent(renderer)
            angle = t.get_rotation()
            t.set_rotation(0)
            flat = t.get_window_extent(renderer)
            t.set_rotation(angle)
            a = np.radians(angle)
            turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
            corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [flat.width / 2, flat.height / 2] * 0.97
            out.append((t.get_text(), Outline((corners @ turn.T) + [box.x0 + box.width / 2, box.y0 + box.height / 2],
                                              closed=False)))
    return out


def test_rotated_method_labels_do_not_overlap(monkeypatch):
    """The audit's box plot and bars and the judges' bars name each method under its own bar at an angle: the
    labels' outlines (not their axis-aligned boxes) must not overlap, with 12 methods of long names per panel."""
    import fr_eval.report.plots as plots
    figures = []
    monkeypatch.setattr(plots, "save", lambda fig, path, **kw: figures.append(fig))
    rng = np.random.default_rng(0)
    names = [f"ipadapter_plus_face_sdxl_{k}" for k in range(12)]
    iv = {"low": 0.4, "high": 0.6}
    groups = [{"value": n, "n": 20 + k, "n_identities": 10, "fta": 0.05, "rank": k + 1 if k < 8 else None,
               "similarity_failures_excluded": {"mean": 0.5, "interval": iv},
               "similarity_failures_as_zero": {"mean": 0.45, "interval": iv}} for k, n in enumerate(names)]
    scores = {n: {"genuine": rng.uniform(0.2, 0.8, 20)} for n in names}
    plots.plot_similarity_by_method(groups, scores, 0.38, 10, None)
    plots.plot_group_bars(groups, "method", None)
    rows = [{"method": n, "conditioning": "arcface", "verified": {"sface": 0.5, "dlib": 0.7},
             "judged_by_own_family": []} for n in names]
    plots.plot_judges_bars(rows, ["sface", "dlib"], None,
                           intervals={"sface": {n: (iv, 20, 10) for n in names},
                                      "dlib": {n: ({"low": 0.6, "high": 0.8}, 20, 10) for n in names}})
    assert len(figures) == 3
    for fig in figures:
        outlines = rotated_outlines(fig)
        assert len(outlines) == 12
        touching = [(a, b) for i, (a, pa) in enumerate(outlines) for b, pb in outlines[i + 1:]
                    if pa.intersects_path(pb, filled=True)]
        assert touching == []
        assert overlapping_texts(fig) == []
