#!/usr/bin/env python
"""What the store's integrity checks cost: content hashing of image files (cached by
dev/inode/size/mtime/ctime, or every time with ``verify_hashes=true``) and row checksums on
reading stored acquisitions. Prints the figures; asserts nothing.

    python benchmarks/bench_store.py [--data DIR] [--rows N]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from fr_eval.store import Store, row_checksum  # noqa: E402
from fr_eval.systems.base import Acquisition, Detection  # noqa: E402


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(PROJECT.parent / "shared/data/lfw/deepfunneled_min20"))
    ap.add_argument("--rows", type=int, default=20000)
    a = ap.parse_args()
    files = sorted(p for p in Path(a.data).rglob("*") if p.is_file())
    mb = sum(p.stat().st_size for p in files) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        store.file_shas(files)
        cached = best(lambda: store.file_shas(files))
        full = Store(tmp, verify_hashes=True)
        hashed = best(lambda: full.file_shas(files))
        print(f"file hashes, {len(files)} files ({mb:.1f} MB, in the page cache): cached stat check "
              f"{1e6 * cached / len(files):.1f} us/file ({cached:.3f} s); sha256 every time "
              f"{1e6 * hashed / len(files):.1f} us/file ({hashed:.3f} s)")
        rng = np.random.default_rng(0)
        det = Detection(bbox=np.zeros(4, np.float32), score=0.9, landmarks=np.zeros((5, 2), np.float32))
        items = [(f"{i:064x}", "sys", "original", "sha", Acquisition(embedding=rng.normal(size=512).astype(np.float32),
                                                                       detection=det)) for i in range(a.rows)]
        t = time.perf_counter()
        store.put_many(items)
        put = time.perf_counter() - t
        keys = [k for k, *_ in items]
        get = best(lambda: store.get_many(keys))
        emb = np.zeros(512, "<f4").tobytes()
        check = best(lambda: [row_checksum("k" * 64, None, emb, b"x" * 16, b"y" * 40, 0.9, 1)
                              for _ in range(a.rows)])
        print(f"acquisitions, {a.rows} rows of 512-d: put {1e6 * put / a.rows:.1f} us/row, get (checksums "
              f"verified) {1e6 * get / a.rows:.1f} us/row, of which the checksum {1e6 * check / a.rows:.1f} us/row")
        store.close()
        full.close()


if __name__ == "__main__":
    main()
