"""The on-disk store: every acquisition computed once, kept across runs.

An acquisition is keyed by sha256(image content hash | variant key | system fingerprint),
the system fingerprint covering the model files' sha256 and every detection setting.
SQLite (write-ahead log, one transaction per batch) means a run killed mid-write loses at
most the batch in flight; everything committed before is reused by the next run.
Colourised images are kept as PNG files under ``images/`` so that a user can open them.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from .systems.base import Acquisition, Detection

SCHEMA_VERSION = 1


def acquisition_key(image_sha: str, variant_key: str, system_fp: str) -> str:
    return hashlib.sha256(f"{image_sha}|{variant_key}|{system_fp}".encode()).hexdigest()


def quality_key(acq_key: str, estimator_fp: str) -> str:
    """A quality value depends on the acquisition (image, variant, system) and the estimator."""
    return hashlib.sha256(f"{acq_key}|quality|{estimator_fp}".encode()).hexdigest()


class Store:
    def __init__(self, directory: str | Path):
        self.dir = Path(directory).expanduser()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.dir / "store.sqlite", timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        with self.db:
            self.db.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)")
            self.db.execute("INSERT OR IGNORE INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
            self.db.execute("""CREATE TABLE IF NOT EXISTS acquisitions(
                key TEXT PRIMARY KEY, system TEXT, variant TEXT, image_sha TEXT, reason TEXT,
                embedding BLOB, bbox BLOB, landmarks BLOB, det_score REAL, n_faces INTEGER,
                created REAL)""")
            self.db.execute("""CREATE TABLE IF NOT EXISTS quality(
                key TEXT PRIMARY KEY, estimator TEXT, value REAL, reason TEXT, created REAL)""")
            self.db.execute("""CREATE TABLE IF NOT EXISTS file_hashes(
                path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT)""")
        (v,) = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if int(v) != SCHEMA_VERSION:
            raise RuntimeError(f"store {self.dir} has schema {v}, this fr-eval expects {SCHEMA_VERSION}")

    def close(self):
        self.db.close()

    # -- file hashes -------------------------------------------------------------------
    def file_shas(self, paths: list[Path]) -> dict[Path, str | None]:
        """Content sha256 of each file (None if it is missing), cached by path, size and mtime."""
        out: dict[Path, str | None] = {}
        cached = {}
        keys = [str(p) for p in paths]
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = ",".join("?" * len(chunk))
            for p, size, mtime, sha in self.db.execute(
                    f"SELECT path, size, mtime_ns, sha256 FROM file_hashes WHERE path IN ({q})", chunk):
                cached[p] = (size, mtime, sha)
        new = []
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                out[path] = None
                continue
            c = cached.get(str(path))
            if c and c[0] == st.st_size and c[1] == st.st_mtime_ns:
                out[path] = c[2]
                continue
            h = hashlib.sha256()
            try:
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            except OSError:
                out[path] = None
                continue
            out[path] = h.hexdigest()
            new.append((str(path), st.st_size, st.st_mtime_ns, out[path]))
        if new:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO file_hashes VALUES(?,?,?,?)", new)
        return out

    # -- acquisitions ------------------------------------------------------------------
    def get_many(self, keys: list[str]) -> dict[str, Acquisition]:
        out = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT key, reason, embedding, bbox, landmarks, det_score, n_faces "
                                       f"FROM acquisitions WHERE key IN ({q})", chunk):
                out[row[0]] = _decode(row[1:])
        return out

    def put_many(self, items: list[tuple[str, str, str, str, Acquisition]]) -> None:
        """Insert (key, system_fp, variant_key, image_sha, acquisition) rows in one transaction."""
        rows = []
        now = time.time()
        for key, system_fp, variant_key, image_sha, a in items:
            d = a.detection
            rows.append((key, system_fp, variant_key, image_sha, a.reason,
                         None if a.embedding is None else np.asarray(a.embedding, "<f4").tobytes(),
                         None if d is None else np.asarray(d.bbox, "<f4").tobytes(),
                         None if d is None else np.asarray(d.landmarks, "<f4").tobytes(),
                         None if d is None else float(d.score), None if d is None else int(d.n_faces),
                         now))
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO acquisitions VALUES(?,?,?,?,?,?,?,?,?,?,?)", rows)

    # -- quality values ------------------------------------------------------------------
    def get_quality(self, keys: list[str]) -> dict[str, tuple[float | None, str | None]]:
        out = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = ",".join("?" * len(chunk))
            for key, value, reason in self.db.execute(f"SELECT key, value, reason FROM quality WHERE key IN ({q})",
                                                      chunk):
                out[key] = (value, reason)
        return out

    def put_quality(self, rows: list[tuple[str, str, float | None, str | None]]) -> None:
        """Insert (key, estimator, value, reason) rows in one transaction."""
        now = time.time()
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO quality VALUES(?,?,?,?,?)",
                                [(k, e, v, r, now) for k, e, v, r in rows])

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM acquisitions").fetchone()[0]

    # -- transformed images --------------------------------------------------------------
    def image_path(self, variant_name: str, image_sha: str, variant_key: str) -> Path:
        return image_path(self.dir, variant_name, image_sha, variant_key)


def image_path(store_dir: Path, variant_name: str, image_sha: str, variant_key: str) -> Path:
    """Where a transformed image (a colourisation) is kept; needs no database connection."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in variant_name)
    h = hashlib.sha256(f"{image_sha}|{variant_key}".encode()).hexdigest()
    return Path(store_dir) / "images" / safe / h[:2] / f"{h}.png"


def _decode(row) -> Acquisition:
    reason, emb, bbox, lmk, score, n = row
    det = None
    if bbox is not None:
        det = Detection(bbox=np.frombuffer(bbox, "<f4").copy(), score=float(score),
                        landmarks=np.frombuffer(lmk, "<f4").reshape(5, 2).copy(), n_faces=int(n))
    if emb is None:
        return Acquisition.failure(reason or "unknown failure", detection=det)
    return Acquisition(embedding=np.frombuffer(emb, "<f4").copy(), detection=det)
