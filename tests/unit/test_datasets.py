import numpy as np
import pytest

from fr_eval.datasets import load_dataset
from fr_eval.errors import FrEvalError
from fr_eval.protocol import build_comparisons


def make_tree(root, counts, ext=".png"):
    from PIL import Image
    for subject, n in counts.items():
        d = root / subject
        d.mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 20, 50, 90)).save(d / f"{subject}_{i:04d}{ext}")


def test_folder_split_and_exclusions(tmp_path):
    make_tree(tmp_path, {"a": 3, "b": 1, "c": 2, "d": 4})
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "stray.jpg").write_bytes(b"")
    ds = load_dataset({"type": "folder", "root": str(tmp_path), "name": "t"})
    assert [s.rel for s in ds.references] == ["a/a_0000.png", "c/c_0000.png", "d/d_0000.png"]
    assert len(ds.probes) == 2 + 1 + 3
    assert [e["subject"] for e in ds.excluded] == ["b"]
    reasons = {i["path"]: i["reason"] for i in ds.ignored}
    assert "a/notes.txt" in reasons and "stray.jpg" in reasons
    ds2 = load_dataset({"type": "folder", "root": str(tmp_path), "references_per_subject": 2})
    assert len(ds2.references) == 4  # 2 each for a and d; c (2 images) has no probe left
    assert {e["subject"] for e in ds2.excluded} == {"b", "c"}


def test_folder_errors(tmp_path):
    with pytest.raises(FrEvalError, match="not a directory"):
        load_dataset({"type": "folder", "root": str(tmp_path / "missing")})
    with pytest.raises(FrEvalError):
        load_dataset({"type": "nope", "root": str(tmp_path)})


def test_comparisons_counts_and_sampling(tmp_path):
    make_tree(tmp_path, {"a": 3, "b": 2, "c": 4})
    ds = load_dataset({"type": "folder", "root": str(tmp_path)})
    c = build_comparisons(ds)
    # references a,b,c; probes: a x2, b x1, c x3 -> genuine 6, impostor 3*6 - 6 = 12
    assert len(c.genuine) == 6 and c.n_impostor == 12 and c.impostor_rule == "all"
    assert c.impostor is None  # every cross-subject pair: scored as blocks, never listed
    ref_s = np.array([s.subject for s in ds.references])
    probe_s = np.array([s.subject for s in ds.probes])
    np.testing.assert_array_equal(c.genuine, np.argwhere(ref_s[:, None] == probe_s[None, :]))
    s1 = build_comparisons(ds, 5, seed=7)
    assert (ref_s[s1.impostor[:, 0]] != probe_s[s1.impostor[:, 1]]).all()
    s2 = build_comparisons(ds, 5, seed=7)
    assert s1.impostor_rule == "sample" and len(s1.impostor) == 5
    assert (s1.impostor == s2.impostor).all()
    assert len({tuple(p) for p in s1.impostor}) == 5  # without replacement
    assert build_comparisons(ds, 10**6).impostor_rule == "all"


def test_folder_selection_by_pattern(tmp_path):
    make_tree(tmp_path, {"a": 4, "b": 3})
    (tmp_path / "a" / "a_0002.png").rename(tmp_path / "a" / "a_0002_ref.png")
    (tmp_path / "b" / "b_0001.png").rename(tmp_path / "b" / "b_0001_ref.png")
    ds = load_dataset({"type": "folder", "root": str(tmp_path), "reference_pattern": "*_ref.png",
                       "probe_pattern": "*_000[013].png"})
    assert [s.rel for s in ds.references] == ["a/a_0002_ref.png", "b/b_0001_ref.png"]
    assert [s.rel for s in ds.probes] == ["a/a_0000.png", "a/a_0001.png", "a/a_0003.png", "b/b_0000.png"]
    assert [i["path"] for i in ds.ignored] == ["b/b_0002.png"]  # neither reference nor matching probe
    assert "not matching dataset.probe_pattern" in ds.ignored[0]["reason"]
    # a subject whose files do not match the reference pattern is excluded with the reason
    make_tree(tmp_path, {"c": 2})
    ds = load_dataset({"type": "folder", "root": str(tmp_path), "reference_pattern": "*_ref.png"})
    assert {e["subject"]: e["reason"] for e in ds.excluded} == {
        "c": "no reference: no file name matches dataset.reference_pattern=*_ref.png"}


def test_folder_selection_by_lists(tmp_path):
    make_tree(tmp_path / "d", {"a": 3, "b": 3, "c": 2})
    root = tmp_path / "d"
    (tmp_path / "refs.txt").write_text("# references\na/a_0002.png\nb/b_0000.png\nc/c_0000.png\nz/z_0000.png\n")
    (tmp_path / "probes.txt").write_text("a/a_0000.png\nb/b_0001.png\nb/b_0002.png\n")
    cfg = {"type": "folder", "root": str(root), "reference_list": str(tmp_path / "refs.txt"),
           "probe_list": str(tmp_path / "probes.txt")}
    ds = load_dataset(cfg)
    assert [s.rel for s in ds.references] == ["a/a_0002.png", "b/b_0000.png"]
    assert [s.rel for s in ds.probes] == ["a/a_0000.png", "b/b_0001.png", "b/b_0002.png"]
    assert {e["subject"] for e in ds.excluded} == {"c"}  # its other image is not a listed probe
    assert {i["path"] for i in ds.ignored} == {"a/a_0001.png", "c/c_0001.png"}
    assert [p["detail"] for p in ds.problems] == [f"z/z_0000.png is not an image under {root}"]
    with pytest.raises(FrEvalError, match="1 problem.*1 missing file.*z/z_0000.png"):
        load_dataset({**cfg, "strict": True})
    with pytest.raises(FrEvalError, match="reference_list=.*is not a file"):
        load_dataset({**cfg, "reference_list": str(tmp_path / "nope.txt")})


def test_limit_subjects_is_seeded_and_recorded(tmp_path):
    make_tree(tmp_path, {f"s{i:02d}": 3 for i in range(12)})
    cfg = {"type": "folder", "root": str(tmp_path), "limit_subjects": 5, "seed": 3}
    a, b = load_dataset(cfg), load_dataset(cfg)
    assert len(a.subjects) == 5 and a.subjects == b.subjects
    assert {s.subject for s in a.probes} == set(a.subjects) and len(a.probes) == 10
    assert a.settings["limit_subjects"] == {"n": 5, "seed": 3, "subjects_before": 12, "subjects_after": 5}
    assert load_dataset({**cfg, "seed": 4}).subjects != a.subjects
    assert len(load_dataset({**cfg, "limit_subjects": 50}).subjects) == 12
    c = build_comparisons(a)
    assert len(c.genuine) == 10 and c.n_impostor == 5 * 10 - 10


def test_sampled_impostors_are_the_draws_positions_among_all_cross_subject_pairs():
    """The sample is found without listing every pair: the same pairs as indexing the full list."""
    from fr_eval.protocol import _nth_cross_subject
    from fr_eval.streaming import columns_by_subject
    rng = np.random.default_rng(0)
    for _ in range(30):
        rs, ps = rng.integers(0, 8, 30), rng.integers(0, 8, 50)
        cols = columns_by_subject(ps)
        same = [cols.get(x, np.zeros(0, np.int64)) for x in rs.tolist()]
        cross = len(ps) - np.array([len(c) for c in same])
        every = np.argwhere(rs[:, None] != ps[None, :])
        q = np.sort(rng.choice(len(every), size=min(40, len(every)), replace=False))
        np.testing.assert_array_equal(_nth_cross_subject(q, cross, same), every[q])
