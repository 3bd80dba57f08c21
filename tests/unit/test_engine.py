import shutil

import numpy as np
import pytest
from PIL import Image

from fr_eval.colourisers import build_colouriser
from fr_eval.datasets import load_dataset
from fr_eval.engine import acquire_all
from fr_eval.store import Store
from fr_eval.variants import GREYSCALE, ORIGINAL, Colourised

from conftest import FakeSystem, WholeImageSystem





def requests_for(ds, variants):
    return [(s, v) for v in variants for s in ds.references + ds.probes]


def test_computed_once_then_reused(tree, tmp_path):
    ds = load_dataset({"type": "folder", "root": str(tree)})
    store = Store(tmp_path / "store")
    sys1 = FakeSystem()
    reqs = requests_for(ds, [ORIGINAL, GREYSCALE]) * 2  # duplicates are computed once
    res, st = acquire_all(reqs, sys1, store, batch_size=4, progress=False)
    n = len(ds.references) + len(ds.probes)
    assert st.requested == 2 * n and st.computed == 2 * n and st.reused == 0
    assert sys1.calls == 2 * (n - 1)  # the unreadable file never reaches the system
    broken = res[("s2/9_broken.png", "original")]
    assert not broken.ok and broken.reason.startswith("unreadable image")
    black = res[("s3/3_black.png", "greyscale")]
    assert not black.ok and "no face" in black.reason
    sys2 = FakeSystem()
    res2, st2 = acquire_all(reqs, sys2, store, batch_size=4, progress=False)
    assert st2.reused == 2 * n and st2.computed == 0 and sys2.calls == 0
    for k, a in res.items():
        b = res2[k]
        assert a.ok == b.ok and a.reason == b.reason
        if a.ok:
            np.testing.assert_array_equal(a.embedding, b.embedding)
    store.close()


def test_interrupted_run_keeps_finished_batches(tree, tmp_path):
    ds = load_dataset({"type": "folder", "root": str(tree)})
    store = Store(tmp_path / "store")
    reqs = requests_for(ds, [ORIGINAL])
    with pytest.raises(KeyboardInterrupt):
        acquire_all(reqs, FakeSystem(fail_after=6), store, batch_size=3, progress=False)
    kept = store.count()
    assert kept >= 6  # two full batches were committed before the interruption
    store.close()
    store = Store(tmp_path / "store")  # a new process opening the same store
    sys2 = FakeSystem()
    _, st = acquire_all(reqs, sys2, store, batch_size=3, progress=False)
    assert st.reused == kept and st.computed == len(reqs) - kept
    store.close()


def test_store_key_changes_with_content(tree, tmp_path):
    ds = load_dataset({"type": "folder", "root": str(tree)})
    store = Store(tmp_path / "store")
    reqs = requests_for(ds, [ORIGINAL])
    acquire_all(reqs, FakeSystem(), store, progress=False)
    target = tree / "s0" / "1.png"
    Image.new("RGB", (16, 16), (9, 9, 9)).save(target)  # same path, new content
    sys2 = FakeSystem()
    _, st = acquire_all(reqs, sys2, store, progress=False)
    assert st.computed == 1 and sys2.calls == 1
    store.close()


def test_precomputed_colouriser(tree, tmp_path):
    ds = load_dataset({"type": "folder", "root": str(tree)})
    pre = tmp_path / "pre"
    shutil.copytree(tree, pre)
    (pre / "s0" / "1.png").rename(pre / "s0" / "1.jpg")  # another extension is found too
    (pre / "s1" / "2.png").unlink()  # missing
    col = build_colouriser("precomputed", {"precomputed": {"type": "precomputed", "root": str(pre)}})
    v = Colourised(col)
    store = Store(tmp_path / "store")
    res, _ = acquire_all(requests_for(ds, [v]), FakeSystem(), store, progress=False)
    assert res[("s0/1.png", v.name)].ok
    miss = res[("s1/2.png", v.name)]
    assert not miss.ok and "precomputed colourisation missing" in miss.reason
    # the missing file is not cached as a failure: once it appears it is used
    shutil.copy(tree / "s1" / "2.png", pre / "s1" / "2.png")
    res2, st = acquire_all(requests_for(ds, [v]), FakeSystem(), store, progress=False)
    assert res2[("s1/2.png", v.name)].ok and st.computed == 1
    # colourised images are kept as files in the store
    assert list((tmp_path / "store" / "images").rglob("*.png"))
    store.close()


def test_unexpected_errors_become_failures(tree, tmp_path):
    """A colouriser raising an unexpected error, or a recogniser failing on one crop, fails
    those samples with a reason; the run goes on."""
    class Broken:
        name = "broken"

        def settings(self):
            return {}

        def prepare(self, ds):
            pass

        def sample_key(self, s):
            return ""

        def colourise(self, grey, s):
            if s.subject == "s1":
                raise ValueError("boom")
            return grey

    class Picky(WholeImageSystem):
        def _embed(self, crops):
            if any(c.mean() > 200 for c in crops):
                raise RuntimeError("cannot embed")
            return super()._embed(crops)

    ds = load_dataset({"type": "folder", "root": str(tree)})
    Image.new("RGB", (16, 16), (250, 250, 250)).save(tree / "s0" / "5_white.png")
    ds = load_dataset({"type": "folder", "root": str(tree)})
    v = Colourised(Broken())
    res, _ = acquire_all([(s, v) for s in ds.references + ds.probes], Picky(), Store(tmp_path / "st"),
                         progress=False)
    assert "boom" in res[("s1/0.png", v.name)].reason
    assert "recogniser error" in res[("s0/5_white.png", v.name)].reason
    assert res[("s0/0.png", v.name)].ok  # same chunk as the failing crop, still acquired
