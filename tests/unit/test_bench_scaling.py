"""benchmarks/bench_scaling.py (issue 40): the fitted exponents, the limit of one machine, and a small run of the
script end to end (its JSON and plot read back)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))



def test_exponents_and_the_limit_of_one_machine():
    from bench_scaling import fit, limit, predict
    n = np.array([1e2, 1e3, 1e4])
    lin, quad = fit(n, 0.05 * n), fit(n, 2e-7 * n ** 2)
    assert lin["exponent"] == pytest.approx(1.0) and lin["coefficient"] == pytest.approx(0.05)
    assert quad["exponent"] == pytest.approx(2.0) and predict(quad, 1e5) == pytest.approx(2e3)
    flat = {"exponent": 0.0, "coefficient": 1e8}  # 100 MB whatever the size
    lim = limit(lin, quad, flat, budget_s=24 * 3600, ram_bytes=24 * 2 ** 30)
    # 0.05 N + 2e-7 N^2 = 86,400 s at N = 5.44e5, of which acquisition 27,200 s; memory never runs out
    assert lim["images_by_time"] == pytest.approx(5.44e5, rel=0.02) and lim["images_by_memory"] == float("inf")
    assert lim["acquisition_share_at_limit"] == pytest.approx(0.315, abs=0.01)


def test_each_fit_is_drawn_in_its_points_colour():
    from bench_scaling import figure, fits
    runs = {k: [{"images": n, "seconds": c * n ** e, "peak_rss_bytes": 1e8 + n} for n in (100, 1000, 4000)]
            for k, c, e in (("acquisition", 0.05, 1.0), ("comparisons", 1e-6, 2.0))}
    fig = figure({k: fits(r) for k, r in runs.items()})
    for ax in fig.axes:
        lines = ax.get_lines()
        assert len(lines) == 4  # points, fit; points, fit
        assert [line.get_color() for line in lines[::2]] == [line.get_color() for line in lines[1::2]]
        assert lines[0].get_color() != lines[2].get_color()
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["acquisition: N^1.00", "comparisons: N^2.00"]
