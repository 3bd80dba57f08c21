"""The outside probe, kept as tests: bad input, faults, interruption and concurrency must give either
the right figures or a clear one-line error; never a traceback, never a silently wrong figure."""
import os
import sqlite3

import numpy as np
import pytest
from PIL import Image

from fr_eval.datasets import load_dataset
from fr_eval.engine import acquire_all
from fr_eval.store import Store
from fr_eval.variants import ORIGINAL

from conftest import FakeSystem, WholeImageSystem


# -- the store ---------------------------------------------------------------------------------
@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for s in range(4):
        (root / f"s{s}").mkdir(parents=True)
        for i in range(3):  # BMP: the same size for every image of the same shape
            Image.fromarray(rng.integers(1, 255, (20, 20, 3), dtype=np.uint8)).save(root / f"s{s}" / f"{i}.bmp")
    return root


def reqs(root):
    ds = load_dataset({"type": "folder", "root": str(root)})
    return [(s, ORIGINAL) for s in ds.references + ds.probes]


def test_replaced_image_with_restored_mtime_is_hashed_again(tree, tmp_path):
    store = Store(tmp_path / "store")
    first, _ = acquire_all(reqs(tree), FakeSystem(), store, progress=False)
    target = tree / "s0" / "1.bmp"
    st = os.stat(target)
    Image.fromarray(np.full((20, 20, 3), 7, np.uint8)).save(target)  # another image, the same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime put back as it was
    assert os.stat(target).st_size == st.st_size and os.stat(target).st_mtime_ns == st.st_mtime_ns
    sys2 = FakeSystem()
    again, stats = acquire_all(reqs(tree), sys2, store, progress=False)
    assert stats.computed == 1 and sys2.calls == 1
    assert not np.array_equal(again[("s0/1.bmp", "original")].embedding, first[("s0/1.bmp", "original")].embedding)
    store.close()
    # verify_hashes=true hashes every file every time (and finds nothing new here)
    store = Store(tmp_path / "store", verify_hashes=True)
    _, stats = acquire_all(reqs(tree), FakeSystem(), store, progress=False)
    assert stats.computed == 0
    store.close()


def test_damaged_row_is_detected_and_recomputed(tree, tmp_path):
    store = Store(tmp_path / "store")
    first, _ = acquire_all(reqs(tree), FakeSystem(), store, progress=False)
    store.close()
    with sqlite3.connect(tmp_path / "store" / "store.sqlite") as db:  # flip bytes of one stored embedding
        key, emb = db.execute("SELECT key, embedding FROM acquisitions WHERE embedding IS NOT NULL LIMIT 1").fetchone()
        db.execute("UPDATE acquisitions SET embedding=? WHERE key=?", (bytes(b ^ 0xFF for b in emb[:8]) + emb[8:], key))
    store = Store(tmp_path / "store")
    sys2 = FakeSystem()
    again, stats = acquire_all(reqs(tree), sys2, store, progress=False)
    assert stats.damaged_rows == 1 and stats.computed == 1 and sys2.calls == 1
    for k, a in first.items():
        np.testing.assert_array_equal(a.embedding, again[k].embedding)
    store.close()


def test_truncated_store_file_is_moved_aside(tree, tmp_path, caplog):
    store = Store(tmp_path / "store")
    acquire_all(reqs(tree), FakeSystem(), store, progress=False)
    store.close()
    db = tmp_path / "store" / "store.sqlite"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    store = Store(tmp_path / "store")
    assert store.moved_aside is not None and store.moved_aside.read_bytes() == data[: len(data) // 2]
    assert "was damaged" in caplog.text and "started a new store" in caplog.text
    _, stats = acquire_all(reqs(tree), FakeSystem(), store, progress=False)
    assert stats.reused == 0 and stats.computed == 12
    store.close()


class FlakyRecogniser(WholeImageSystem):
    """While ``broken`` (class-wide), fails with an out-of-memory error on every batch and on the
    next ``fail_left`` single crops (the engine retries a failed batch crop by crop)."""
    name = "flaky"
    broken = True
    fail_left = 10 ** 9

    def _embed(self, crops):
        if FlakyRecogniser.broken and (len(crops) > 1 or FlakyRecogniser.fail_left > 0):
            FlakyRecogniser.fail_left -= len(crops) == 1
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\n(more lines of the library)")
        return super()._embed(crops)


def test_transient_recogniser_error_is_not_cached(tree, tmp_path):
    store = Store(tmp_path / "store")
    FlakyRecogniser.broken, FlakyRecogniser.fail_left = True, 10 ** 9
    res, stats = acquire_all(reqs(tree), FlakyRecogniser(), store, progress=False)
    assert stats.transient_errors == 12 and store.count() == 0
    a = res[("s0/0.bmp", "original")]
    assert a.kind == "error" and "\n" not in a.reason and a.reason.startswith("recogniser error: RuntimeError: CUDA")
    FlakyRecogniser.broken = False
    res2, stats2 = acquire_all(reqs(tree), FlakyRecogniser(), store, progress=False)
    assert stats2.reused == 0 and stats2.computed == 12 and all(a.ok for a in res2.values())
    store.close()
