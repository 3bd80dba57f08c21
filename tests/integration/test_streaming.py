"""Impostor scores as blocks: the streamed figures equal the in-memory ones on the same scores."""
import json

import numpy as np
import pytest

from fr_eval import metrics
from fr_eval.streaming import ImpostorSummary, count_cross_subject
from unit.test_streaming import FMRS, subject_embeddings


def test_comparison_blocks_as_ray_tasks_give_the_local_figures():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'; .ci/run installs it)")
    from fr_eval.streaming import summarise_cross_subject
    rng = np.random.default_rng(6)
    ref, rs, probe, ps = subject_embeddings(rng, 300, 2, 4, 64, 0.1)
    ok = rng.random(1200) > 0.02
    local = summarise_cross_subject(ref, rs, probe, ps, probe_ok=ok, budget_bytes=1 << 20)
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    from fr_eval.scan_taps import HighCells, ScoreSpill
    p_idx = np.flatnonzero(ok)
    local_high = HighCells(np.arange(len(ref)), p_idx)
    summarise_cross_subject(ref, rs, probe, ps, probe_ok=ok, budget_bytes=1 << 20, taps=[local_high])
    spill, high = ScoreSpill(np.arange(len(ref)), rs, p_idx, ps[p_idx]), HighCells(np.arange(len(ref)), p_idx)
    try:
        remote = summarise_cross_subject(ref, rs, probe, ps, probe_ok=ok, budget_bytes=1 << 20, executor="ray",
                                         tasks=3, taps=[spill, high])
    finally:
        if started:
            ray.shutdown()
    assert remote.n == local.n == count_cross_subject(rs, ps, None, ok)
    for fmr in FMRS:
        # a Ray worker's BLAS may sum a block's products in another order: float32 scores agree to rounding
        assert remote.threshold(fmr) == pytest.approx(local.threshold(fmr), rel=1e-6, abs=1e-6)
        assert remote.fmr_at(remote.threshold(fmr)) == local.fmr_at(local.threshold(fmr))
    # float32 products summed in another order: the moments agree to float32 rounding of a near-zero mean
    assert remote.mean == pytest.approx(local.mean, rel=1e-5, abs=1e-8) and remote.var == pytest.approx(local.var, rel=1e-6)
    # a score on a bin's edge may fall either side by rounding: the counts are all there, a handful moved one bin
    assert remote.hist.sum() == local.hist.sum()
    assert np.abs(remote.hist.astype(np.int64) - local.hist.astype(np.int64)).sum() <= 1e-4 * local.hist.sum()
    # the taps get a local pass of their own (the blocks were made in the tasks): the local products' cells
    exported = np.concatenate([x for _, x in spill.record("1").chunks(1 << 20)])
    assert exported.size == local.n and np.sort(exported)[-local.tail().size:].tolist() == local.tail().tolist()
    t = local.threshold(0.001)
    for a, b in zip(high.at_or_above(t), local_high.at_or_above(t)):
        np.testing.assert_array_equal(a, b)


def test_streamed_and_in_memory_figures_agree_on_real_lfw_scores(lfw_small, tmp_path):
    """A scenario run on real faces, impostors kept whole vs streamed (keep_all=0): the thresholds,
    achieved FMRs and FNMRs identical, d' to 1e-9 relative, the EER within the stated resolution;
    and the streamed export holds the very scores the threshold was fixed on."""
    import pyarrow.parquet as pq

    import fr_eval
    common = dict(dataset="lfw_small", system="sface", scenario=[1, 2], store_dir=str(tmp_path / "s"),
                  **{"dataset.root": str(lfw_small), "bootstrap.n_resamples": 50})
    whole = fr_eval.evaluate(**common)
    out = tmp_path / "streamed"
    streamed = fr_eval.evaluate(**common, impostor_keep_all=0, memory_budget="1MB",
                                **{"report.export": True, "out_dir": str(out)})
    assert whole.result.context["impostor_scores"]["exact"] is True
    kept = streamed.result.context["impostor_scores"]
    assert kept["exact"] is False and kept["kept"] < kept["n"] == 2610
    assert whole.thresholds == streamed.thresholds
    for a, b in zip(whole.rows, streamed.rows):
        assert a["impostor_scores_kept"] == "all" and b["impostor_scores_kept"] == "tail and histogram"
        for k in ("threshold", "fmr_achieved", "fnmr", "frr", "n_impostor", "fnmr_at", "fmr_achieved_at"):
            assert a[k] == b[k], k
        assert b["d_prime"] == pytest.approx(a["d_prime"], rel=1e-9)
        assert a["eer_resolution"] == 0.0 and abs(a["eer"] - b["eer"]) <= b["eer_resolution"]
    streamed.write_report(out)
    t = pq.read_table(out / "scores" / "comparisons.parquet").to_pydict()
    is_imp = np.array(t["kind"]) == "impostor"
    imp = np.array(t["score"])[is_imp]
    assert imp.size == 2610
    assert (np.array(t["reference_subject"])[is_imp] != np.array(t["probe_subject"])[is_imp]).all()
    for fmr, thr in streamed.thresholds.items():
        assert metrics.threshold_at_fmr(imp, fmr) == thr  # the exported scores are the summarised ones, bit for bit
    npz = np.load(out / "scores.npz")
    assert "1|impostor_tail" in npz and "1|impostor" not in npz
    assert npz["1|impostor_histogram"].sum() == 2610 and npz["1|impostor_moments"][0] == 2610
    np.testing.assert_array_equal(npz["1|impostor_tail"], np.sort(imp)[-npz["1|impostor_tail"].size:])
    # rebuilt from the file, the summary gives the run's own DET and d' (fr-eval compare draws from it)
    run_summary, gen = streamed.result.scores["1"]["impostor"], npz["1|genuine"]
    again = ImpostorSummary.from_parts(*npz["1|impostor_moments"], npz["1|impostor_histogram"],
                                       npz["1|impostor_tail"], npz["1|impostor_histogram_range"])
    for a, b in zip(again.det(gen), run_summary.det(gen)):
        np.testing.assert_array_equal(a, b)
    assert again.d_prime(gen) == run_summary.d_prime(gen) and again.threshold(0.001) == streamed.thresholds[0.001]
    with pytest.raises(ValueError, match="do not describe 2610 impostor scores"):
        ImpostorSummary.from_parts(2610, 0.0, 1.0, npz["1|impostor_histogram"], npz["1|impostor_tail"][:0])
    from fr_eval.cli import main
    whole.write_report(tmp_path / "whole")
    assert main(["compare", str(tmp_path / "whole"), str(out), f"out_dir={tmp_path / 'cmp'}",
                 "bootstrap.n_resamples=50"]) == 0
    cmp = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    assert all(c["frr_b"] == c["frr_a"] for c in cmp["comparisons"])  # the same scores, streamed or not
    # 2,610 impostors allow 2.6 false matches at FMR 0.1 % (< report.min_false_matches = 3): compared at 1 %
    assert {(c["fmr"], c["supported"]) for c in cmp["comparisons"]} == {(0.01, True)}
    page = (tmp_path / "cmp" / "report.html").read_text()
    assert "FMR &lt;= 1% (the runs&#39; FMR 0.1% rests on too few impostor comparisons" in page or \
        "FMR <= 1% (the runs' FMR 0.1% rests on too few impostor comparisons" in page
    assert (tmp_path / "cmp" / "det_compare.pdf").is_file() and "Not drawn" not in (tmp_path / "cmp" / "report.html").read_text()
    # a run without the baseline row still exports the baseline's impostors (those of the thresholds)
    only3 = fr_eval.evaluate(**{**common, "scenario": [3]}, impostor_keep_all=0, **{"report.export": True})
    only3.write_report(tmp_path / "only3")
    t3 = pq.read_table(tmp_path / "only3" / "scores" / "comparisons.parquet").to_pydict()
    imp3 = np.array(t3["score"])[np.array(t3["kind"]) == "impostor"]
    assert set(t3["row"]) == {"3", "1"} and only3.thresholds == streamed.thresholds
    assert metrics.threshold_at_fmr(imp3, 0.001) == only3.thresholds[0.001]
    table3 = (out / "table3.md").read_text()
    assert "Impostor scores streamed in blocks" in table3 and "65536-bin histogram" in table3
    assert "bin width 3.05e-05" in table3


@pytest.mark.slow
def test_a_run_with_differentials_makes_its_impostor_products_once(lfw_small, tmp_path, monkeypatch):
    """scenario=all with report.differentials (impostors per scenario: five pairs of variants scanned): the run's
    timings count every impostor product made once (products == the cells of the distinct pairs of variants), and
    the group figures equal those of the false matches found by making the products again (the path before)."""
    import fr_eval
    from fr_eval.scan_taps import HighCells
    common = dict(dataset="lfw_small", system="sface", scenario="all", store_dir=str(tmp_path / "s"),
                  impostor_scores="scenario", progress=False,
                  **{"dataset.root": str(lfw_small), "bootstrap.n_resamples": 50, "report.differentials": True,
                     "differentials.fidelity": False, "fmr": 0.01})
    one = fr_eval.evaluate(**common)
    t = one.result.context["timings"]
    acquired = {}
    for x in one.result.samples:
        acquired[x["variant"], x["role"]] = acquired.get((x["variant"], x["role"]), 0) + bool(x["acquired"])
    cells = sum(acquired[r["reference_variant"], "reference"] * acquired[r["probe_variant"], "probe"] for r in one.rows)
    assert len(one.rows) == 5 and 4 * 30 * 90 < cells <= 5 * 30 * 90  # the acquired references x probes of each row
    assert t["products"] == {"cross_subject": cells} and t["impostor_products_needed"] == cells
    monkeypatch.setattr(HighCells, "at_or_above", lambda self, threshold: None)  # the false matches made again
    again = fr_eval.evaluate(**common)
    t2 = again.result.context["timings"]
    assert t2["products"]["cross_subject"] > t2["impostor_products_needed"] == t["impostor_products_needed"]
    a, b = one.result.differentials, again.result.differentials
    assert json.dumps(a.rows, default=str, sort_keys=True) == json.dumps(b.rows, default=str, sort_keys=True)
    assert json.dumps(a.colourisation, default=str, sort_keys=True) == json.dumps(b.colourisation, default=str,
                                                                                   sort_keys=True)
    assert sum(g["n_false_matches"] for r in a.rows["skin_tone"] for g in r["groups"]) > 0  # false matches to count
