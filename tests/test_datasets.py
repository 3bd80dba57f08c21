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
    assert len(c.genuine) == 6 and len(c.impostor) == 12 and c.impostor_rule == "all"
    ref_s = np.array([s.subject for s in ds.references])
    probe_s = np.array([s.subject for s in ds.probes])
    assert (ref_s[c.genuine[:, 0]] == probe_s[c.genuine[:, 1]]).all()
    assert (ref_s[c.impostor[:, 0]] != probe_s[c.impostor[:, 1]]).all()
    s1 = build_comparisons(ds, 5, seed=7)
    s2 = build_comparisons(ds, 5, seed=7)
    assert s1.impostor_rule == "sample" and len(s1.impostor) == 5
    assert (s1.impostor == s2.impostor).all()
    assert len({tuple(p) for p in s1.impostor}) == 5  # without replacement
    assert build_comparisons(ds, 10**6).impostor_rule == "all"
