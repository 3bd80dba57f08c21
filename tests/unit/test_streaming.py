"""Impostor scores as blocks: the streamed figures equal the in-memory ones on the same scores."""
import os

import numpy as np
import pytest

from fr_eval import metrics
from fr_eval.streaming import ImpostorSummary, count_cross_subject, cross_subject_blocks, summarise


FMRS = (0.01, 0.001, 0.0001, 1e-7)


def unit(rng, n, d):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def subject_embeddings(rng, subjects: int, per_ref: int, per_probe: int, dim: int, noise: float):
    """Unit references and probes near their subject's centre: (ref, ref subjects, probe, probe subjects)."""
    centres = unit(rng, subjects, dim)
    rs, ps = np.repeat(np.arange(subjects), per_ref), np.repeat(np.arange(subjects), per_probe)
    ref = centres[rs] + noise * rng.normal(size=(len(rs), dim)).astype(np.float32)
    probe = centres[ps] + noise * rng.normal(size=(len(ps), dim)).astype(np.float32)
    return (ref / np.linalg.norm(ref, axis=1, keepdims=True), rs,
            probe / np.linalg.norm(probe, axis=1, keepdims=True), ps)


def in_memory(ref, rs, probe, ps, ref_ok, probe_ok):
    """Every cross-subject pair gathered explicitly (the landed path's definition)."""
    i, j = np.meshgrid(np.nonzero(ref_ok)[0], np.nonzero(probe_ok)[0], indexing="ij")
    i, j = i.ravel(), j.ravel()
    keep = rs[i] != ps[j]
    return (ref[i[keep]] @ probe.T)[np.arange(keep.sum()), j[keep]]


@pytest.mark.parametrize("budget", [1 << 12, 1 << 16, 1 << 30])
def test_blocks_hold_every_cross_subject_pair_once(budget):
    rng = np.random.default_rng(1)
    ref, probe = unit(rng, 120, 16), unit(rng, 300, 16)
    rs, ps = rng.integers(0, 40, 120), rng.integers(0, 40, 300)
    ref_ok, probe_ok = rng.random(120) > 0.1, rng.random(300) > 0.05
    blocks = list(cross_subject_blocks(ref, rs, probe, ps, ref_ok=ref_ok, probe_ok=probe_ok, budget_bytes=budget))
    got = np.concatenate([b.impostors() for b in blocks])
    assert sum(b.size for b in blocks) == got.size
    want = in_memory(ref, rs, probe, ps, ref_ok, probe_ok)
    assert got.size == want.size == count_cross_subject(rs, ps, ref_ok, probe_ok)
    np.testing.assert_allclose(np.sort(got), np.sort(want), rtol=0, atol=1e-6)
    assert (len(blocks) > 1) == (budget < 1 << 30)


@pytest.mark.parametrize("ties", [False, True])
def test_streamed_operating_points_equal_the_in_memory_ones(ties):
    rng = np.random.default_rng(2)
    imp = rng.normal(0.0, 0.12, 3_000_000)
    gen = rng.normal(0.6, 0.1, 5000)
    if ties:  # a coarse grid: ties everywhere, also at every threshold
        imp, gen = np.round(imp, 3), np.round(gen, 3)
    # unequal blocks, the highest scores arriving last (the worst case for a tail kept as it comes)
    order = np.argsort(imp, kind="stable")
    blocks = np.array_split(imp[order], [10, 1000, 50_000, 400_000, 2_000_000])
    s = summarise(blocks, total=imp.size, max_fmr=0.01)
    for fmr in FMRS:
        t = s.threshold(fmr)
        assert t == metrics.threshold_at_fmr(imp, fmr)  # to the bit
        assert s.fmr_at(t) == metrics.fmr_at(imp, t) and metrics.fnmr_at(gen, t) == metrics.fnmr_at(gen, metrics.threshold_at_fmr(imp, fmr))
    assert s.d_prime(gen) == pytest.approx(metrics.d_prime(gen, imp), rel=1e-9)
    assert s.n == imp.size and s.hist.sum() == imp.size
    np.testing.assert_array_equal(s.hist, np.histogram(np.clip(imp, -1, 1), bins=s.hist.size, range=(-1, 1))[0])
    assert s.top.size == int(np.floor(0.01 * imp.size + 1e-9)) + 1  # bounded: 1% of the scores here


def test_summary_refuses_what_it_cannot_answer():
    s = ImpostorSummary(total=10, max_fmr=0.1)
    s.add(np.linspace(0, 1, 6))
    with pytest.raises(ValueError, match="incomplete: 6 of 10"):
        s.threshold(0.1)
    s.add(np.zeros(4))
    with pytest.raises(ValueError, match="above the summary's max_fmr"):
        s.threshold(0.5)
    with pytest.raises(ValueError, match="more impostor scores than the 10"):
        s.add([0.5])
    with pytest.raises(ValueError, match="finite"):
        ImpostorSummary(total=3).add([0.1, np.nan, 0.2])
    assert s.threshold(0.1) == metrics.threshold_at_fmr(np.r_[np.linspace(0, 1, 6), np.zeros(4)], 0.1)


def test_real_shaped_embeddings_end_to_end():
    """Subject-structured unit embeddings: streamed blocks vs every pair gathered."""
    rng = np.random.default_rng(3)
    ref, rs, probe, ps = subject_embeddings(rng, 200, 2, 5, 128, 0.05)
    ok_r, ok_p = np.ones(400, bool), np.ones(1000, bool)
    full = in_memory(ref, rs, probe, ps, ok_r, ok_p)
    blocks = list(cross_subject_blocks(ref, rs, probe, ps, budget_bytes=1 << 18))
    same = np.concatenate([b.impostors() for b in blocks]).astype(np.float64)  # the blocks' own scores
    s = summarise(blocks, total=full.size, max_fmr=0.01)
    for fmr in FMRS:
        assert s.threshold(fmr) == metrics.threshold_at_fmr(same, fmr)  # to the bit, on the same products
        assert s.fmr_at(s.threshold(fmr)) == metrics.fmr_at(same, s.threshold(fmr))
        # against the gathered products (other summation order): equal to float32 rounding
        assert s.threshold(fmr) == pytest.approx(metrics.threshold_at_fmr(full, fmr), abs=1e-6)
    gen = rng.normal(0.7, 0.1, 300)
    assert s.d_prime(gen) == pytest.approx(metrics.d_prime(gen, same), rel=1e-9)


def test_parts_merged_equal_one_pass():
    rng = np.random.default_rng(5)
    imp = np.round(rng.normal(0.0, 0.1, 400_000), 4)
    one = summarise(np.array_split(imp, 7), total=imp.size, max_fmr=0.01)
    merged = ImpostorSummary(total=imp.size, max_fmr=0.01)
    for part in np.array_split(imp, 3):
        merged.merge(summarise(np.array_split(part, 4), total=imp.size, max_fmr=0.01))
    for fmr in FMRS:
        assert merged.threshold(fmr) == one.threshold(fmr) == metrics.threshold_at_fmr(imp, fmr)
    assert merged.mean == pytest.approx(one.mean, rel=1e-12) and merged.var == pytest.approx(one.var, rel=1e-12)
    np.testing.assert_array_equal(merged.hist, one.hist)
    with pytest.raises(ValueError, match="different streams"):
        merged.merge(ImpostorSummary(total=5))


def test_eer_and_det_from_the_histogram_and_the_tail():
    rng = np.random.default_rng(8)
    imp, gen = rng.normal(0.0, 0.12, 2_000_000), rng.normal(0.45, 0.12, 20_000)
    s = summarise(np.array_split(imp, 5), total=imp.size, max_fmr=0.01)
    e, e_thr, bound = s.eer(gen)
    want, want_thr = metrics.eer(gen, imp)
    assert abs(e - want) <= bound and bound < 2e-3, (e, want, bound)
    assert abs(e_thr - want_thr) < 2 * s.resolution
    t, fmr, fnmr = s.det_points(gen)
    assert np.all(np.diff(t) > 0) and np.all(np.diff(fmr) <= 0) and np.all(np.diff(fnmr) >= 0)
    tail = t > float(s.top.min())
    for v, f in list(zip(t[tail], fmr[tail]))[::500]:  # the low-FMR end is exact
        assert f == metrics.fmr_at(imp, v)
    np.testing.assert_array_equal(fnmr, np.searchsorted(np.sort(gen), t, side="left") / gen.size)


def test_a_stream_kept_whole_gives_the_in_memory_figures_to_the_bit():
    rng = np.random.default_rng(9)
    imp, gen = rng.normal(0.0, 0.12, 300_000), rng.normal(0.45, 0.12, 3000)
    s = summarise(np.array_split(imp, 4), total=imp.size, max_fmr=0.01, keep_all=imp.size)
    assert s.exact and s.top.size == imp.size
    assert s.mean == pytest.approx(imp.mean(), rel=1e-12) and s.var == pytest.approx(imp.var(), rel=1e-12)
    np.testing.assert_array_equal(np.sort(s.scores), np.sort(imp))
    for fmr in (0.5, *FMRS):  # every target, not only those up to max_fmr
        assert s.threshold(fmr) == metrics.threshold_at_fmr(imp, fmr)
    assert s.d_prime(gen) == metrics.d_prime(gen, imp)
    assert s.eer(gen) == (*metrics.eer(gen, imp), 0.0)
    for a, b in zip(s.det(gen), metrics.det_points(gen, imp)):
        np.testing.assert_array_equal(a, b)
    streamed = summarise(np.array_split(imp, 4), total=imp.size, max_fmr=0.01)
    assert not streamed.exact and streamed.top.size < imp.size
    with pytest.raises(ValueError, match="streamed, not kept"):
        streamed.scores


def test_histogram_bins_are_exact_for_float32_scores():
    """bin = floor((s + 1) * 2**15), in float64: exact for float32 scores, edges included."""
    edges = np.linspace(-1, 1, 65537)[1:-1].astype(np.float32)
    s = np.r_[edges, np.nextafter(edges, np.float32(-2)), np.float32(-1), np.float32(1), np.float32(1.0000001)]
    summ = summarise([s.astype(np.float32)] * 2, total=2 * s.size, max_fmr=1e-6)
    want = np.clip(np.floor((s.astype(np.float64) + 1) * 32768).astype(int), 0, 65535)
    np.testing.assert_array_equal(summ.hist, 2 * np.bincount(want, minlength=65536))


@pytest.mark.parametrize("keep_all,budget", [(0, 1 << 16), (0, 1 << 30), (10 ** 9, 1 << 16)])
def test_the_taps_ride_along_one_scan_with_the_products_scores(keep_all, budget):
    """One pass over the products feeds the summary, the export (all: spilled to a file; a seeded sample) and
    the high cells: each holds the very float32 scores of the blocks, in their order, and the products are
    made once (the counter); the false matches at every threshold the summary fixes are the scan's own."""
    from fr_eval import streaming
    from fr_eval.scan_taps import HighCells, ScoreSample, ScoreSpill
    rng = np.random.default_rng(11)
    ref, rs, probe, ps = subject_embeddings(rng, 60, 2, 3, 32, 0.1)
    ref[5] = ref[7]  # ties among the highest scores
    ref_ok, probe_ok = rng.random(120) > 0.1, rng.random(180) > 0.1
    r_idx, p_idx = np.flatnonzero(ref_ok), np.flatnonzero(probe_ok)
    sides = (r_idx, rs[r_idx], p_idx, ps[p_idx])
    spill, smp, high = ScoreSpill(*sides), ScoreSample(*sides, 500, 3), HighCells(r_idx, p_idx)
    before = dict(streaming.PRODUCTS)
    summary = streaming.summarise_cross_subject(ref, rs, probe, ps, ref_ok=ref_ok, probe_ok=probe_ok, keep_all=keep_all,
                                        budget_bytes=budget, taps=[spill, smp, high])
    assert streaming.products_made(before) == {"cross_subject": int(ref_ok.sum() * probe_ok.sum())}  # made once
    # the same products made again, as the export and the differentials made them before (the reference)
    blocks = [(b.keep_mask(), b.scores.copy()) for b in streaming.products(ref[r_idx], rs[r_idx], probe[p_idx], ps[p_idx],
                                                                   budget)]
    offsets = np.cumsum([0] + [k.size for k, _ in blocks])
    cells = np.concatenate([np.flatnonzero(k) + offsets[i] for i, (k, _) in enumerate(blocks)])
    every = np.concatenate([sc[k] for k, sc in blocks])
    r, c = np.divmod(cells, len(p_idx))
    pairs = np.stack([r_idx[r], p_idx[c]], axis=1)
    rec = spill.record("1")
    got = list(rec.chunks(1000))
    assert len(rec) == summary.n == every.size == count_cross_subject(rs, ps, ref_ok, probe_ok)
    np.testing.assert_array_equal(np.concatenate([p for p, _ in got]), pairs)
    np.testing.assert_array_equal(np.concatenate([x for _, x in got]), every.astype(np.float64))
    assert max(len(x) for _, x in got) <= 1000 and (rs[pairs[:, 0]] != ps[pairs[:, 1]]).all()
    sampled = smp.record("1")
    pick = np.sort(np.random.default_rng(3).choice(every.size, 500, replace=False))
    np.testing.assert_array_equal(sampled.pairs, pairs[pick])  # the same draw as positions in the full list
    np.testing.assert_array_equal(sampled.score, every[pick])
    for fmr in (0.01, 0.001, 0.0001):
        t = summary.threshold(fmr)
        fr, fp = high.at_or_above(t)
        hit = every >= t
        np.testing.assert_array_equal(np.stack([fr, fp], axis=1), pairs[hit])
        assert summary.count_at_or_above(t) == hit.sum()
    if np.isfinite(high.floor):
        assert high.at_or_above(high.floor - 1e-3) is None  # below the floor: not every cell was kept
    path = rec.file.path
    del rec, spill
    import gc
    gc.collect()
    assert not os.path.exists(path)  # the spilled scores go with their last record


def test_the_tail_takes_ascending_scores_in_one_partition(monkeypatch):
    """Scores arriving in ascending order (an imported sorted score file) never raise the tail's bound in time:
    the candidates of one offer are cut to their k highest at once, not a trim per buffer-full (which made
    131,075 trims, 12 s, of the 262,146 scores of the float32 edges test at FMR 1e-6)."""
    from fr_eval.streaming import _Tail
    trims = []
    real = _Tail._trim
    monkeypatch.setattr(_Tail, "_trim", lambda self: (trims.append(1), real(self))[1])
    x = np.sort(np.random.default_rng(3).normal(0, 0.1, 200_000)).astype(np.float32)
    tail = _Tail(3)
    tail.offer(x[:100_000])
    tail.offer(x[100_000:])
    assert sorted(tail.values().tolist()) == x[-3:].tolist() and len(trims) <= 2
    summ = summarise([x[:131_072], x[131_072:]], total=x.size, max_fmr=1e-5)  # k = 3
    from fr_eval.metrics import threshold_at_fmr
    assert summ.threshold(1e-5) == threshold_at_fmr(x.astype(np.float64), 1e-5)


def test_two_runs_on_two_threads_count_their_own_products():
    """products_counted gives each run (here two threads at once, one scanning impostors, one searching a
    gallery on worker threads) exactly its own products, where a difference of the process-wide counter
    mixes them."""
    import threading

    from fr_eval import identification, streaming
    rng = np.random.default_rng(5)
    ref, rs, probe, ps = subject_embeddings(rng, 40, 1, 2, 16, 0.1)
    counts, start = {}, threading.Barrier(2)

    def scan():
        with streaming.products_counted() as made:
            start.wait()
            for _ in range(3):
                streaming.summarise_cross_subject(ref, rs, probe, ps, budget_bytes=1 << 12)
        counts["scan"] = dict(made)

    def search():
        with streaming.products_counted() as made:
            start.wait()
            for _ in range(3):
                identification.search_gallery(probe, ps, ref, rs, k=2, budget_bytes=1 << 14, threads=2)
        counts["search"] = dict(made)

    before = dict(streaming.PRODUCTS)
    threads = [threading.Thread(target=scan), threading.Thread(target=search)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert counts == {"scan": {"cross_subject": 3 * 40 * 80}, "search": {"identification": 3 * 80 * 40}}
    assert streaming.products_made(before) == {"cross_subject": 3 * 40 * 80, "identification": 3 * 80 * 40}
