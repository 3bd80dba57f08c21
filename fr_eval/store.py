"""The on-disk store: every acquisition computed once, kept across runs.

An acquisition is keyed by sha256(image content hash | variant key | system fingerprint),
the system fingerprint covering the model files' sha256 and every detection setting.
SQLite (write-ahead log, one transaction per batch) means a run killed mid-write loses at
most the batch in flight; everything committed before is reused by the next run. Several runs
(processes, Ray workers' drivers) may share one store: SQLite serialises their writes, and every
file the store keeps is written under a name of its own and renamed into place.

What the store trusts, and how it checks it:

- **Content hashes of image files** are cached by (device, inode, size, mtime_ns, ctime_ns).
  A file replaced or rewritten in place changes its ctime (which no user call can set back, unlike
  the mtime), so it is hashed again. ``verify_hashes=True`` hashes every file on every run instead
  (``benchmarks/bench_store.py`` measures both).
- **Every row carries a sha256 checksum** of its content. A row whose checksum does not match
  (damaged bytes) is dropped and computed again, and the count is logged and reported.
- **A damaged database file** (truncated, overwritten, "database disk image is malformed") is
  moved aside as ``store.sqlite.damaged-<time>`` (kept for inspection) and a new store is started.
- **Disk full** while writing raises :class:`~fr_eval.errors.DiskFull` with a one-line message;
  every batch committed before is kept.
Colourised images are kept as PNG files under ``images/`` so that a user can open them.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import sqlite3
import struct
import time
from pathlib import Path

import numpy as np

from .errors import DiskFull, FrEvalError
from .systems.base import Acquisition, Detection

log = logging.getLogger(__name__)
SCHEMA_VERSION = 2
DB_NAME = "store.sqlite"


def acquisition_key(image_sha: str, variant_key: str, system_fp: str) -> str:
    return hashlib.sha256(f"{image_sha}|{variant_key}|{system_fp}".encode()).hexdigest()


def quality_key(acq_key: str, estimator_fp: str) -> str:
    """A quality value depends on the acquisition (image, variant, system) and the estimator."""
    return hashlib.sha256(f"{acq_key}|quality|{estimator_fp}".encode()).hexdigest()


def _blob(x) -> bytes:
    return b"\0" if x is None else b"\1" + bytes(x)


def _num(x) -> bytes:
    return b"\0" if x is None else b"\1" + struct.pack("<d", float(x))


def row_checksum(key, reason, embedding, bbox, landmarks, det_score, n_faces) -> str:
    """sha256 over a row's content, each field length-prefixed (NULL distinct from empty)."""
    h = hashlib.sha256()
    for part in (key.encode(), _blob(None if reason is None else reason.encode()), _blob(embedding), _blob(bbox),
                 _blob(landmarks), _num(det_score), _num(n_faces)):
        h.update(struct.pack("<Q", len(part)))
        h.update(part)
    return h.hexdigest()


def quality_checksum(key, estimator, value, reason) -> str:
    return row_checksum(key, reason, estimator.encode(), None, None, value, None)


def is_corrupt(exc: BaseException) -> bool:
    """Whether an SQLite error says the database file is damaged (not locked, not read-only)."""
    text = str(exc).lower()
    return any(w in text for w in ("malformed", "not a database", "integrity check", "encrypted"))


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower()


class Store:
    """The acquisitions, quality values and file hashes of every run that used ``directory``.

    ``verify_hashes``: hash every image file on every run instead of trusting the cached hash of an
    unchanged file (see the module docstring for what "unchanged" means).
    """

    def __init__(self, directory: str | Path, *, verify_hashes: bool = False):
        self.dir = Path(directory).expanduser()
        self.verify_hashes = bool(verify_hashes)
        self.damaged_rows = 0  # rows whose checksum did not match, dropped and recomputed
        self.moved_aside: Path | None = None  # a damaged database file kept under this name
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FrEvalError(f"store_dir={self.dir} cannot be created: {exc.strerror or exc}") from exc
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc):
                raise DiskFull(f"disk full while creating the store {self.dir}; free space and run again") from exc
            if not is_corrupt(exc):
                raise FrEvalError(f"store_dir={self.dir} cannot be used: {' '.join(str(exc).split())}") from exc
            self.moved_aside = self._move_aside(exc)
            self.db = self._open()

    # -- opening, checking, recovering --------------------------------------------------------
    def _open(self, patience: float = 120.0) -> sqlite3.Connection:
        """Connect, switch to WAL and check; a store that another process is creating or switching
        at the same moment answers "locked" without waiting for its busy timeout, so try again."""
        deadline = time.monotonic() + patience
        while True:
            try:
                return self._connect()
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05 + 0.1 * np.random.default_rng().random())

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.dir / DB_NAME, timeout=120)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            (ok,) = db.execute("PRAGMA quick_check").fetchone()
            if ok != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {ok}")
            with db:
                db.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)")
                db.execute("INSERT OR IGNORE INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),))
            (v,) = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if int(v) == 1:
                self._upgrade_from_1(db)
            elif int(v) != SCHEMA_VERSION:
                raise FrEvalError(f"store {self.dir} has schema {v}, this fr-eval expects {SCHEMA_VERSION}; "
                                  f"give another store_dir=<dir>")
            with db:
                db.execute("""CREATE TABLE IF NOT EXISTS acquisitions(
                    key TEXT PRIMARY KEY, system TEXT, variant TEXT, image_sha TEXT, reason TEXT,
                    embedding BLOB, bbox BLOB, landmarks BLOB, det_score REAL, n_faces INTEGER,
                    created REAL, checksum TEXT)""")
                db.execute("""CREATE TABLE IF NOT EXISTS quality(
                    key TEXT PRIMARY KEY, estimator TEXT, value REAL, reason TEXT, created REAL, checksum TEXT)""")
                db.execute("""CREATE TABLE IF NOT EXISTS file_hashes(
                    path TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,
                    ctime_ns INTEGER, sha256 TEXT)""")
        except BaseException:
            db.close()
            raise
        return db

    def _upgrade_from_1(self, db) -> None:
        """Schema 1 had no row checksums and keyed file hashes by (size, mtime) only: its rows are
        kept but, having no checksum, are computed again once; its file hashes are dropped."""
        log.warning("store %s: upgrading from schema 1; its rows carry no checksum and are computed again", self.dir)
        with db:
            for table in ("acquisitions", "quality"):
                cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
                if cols and "checksum" not in cols:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN checksum TEXT")
            db.execute("DROP TABLE IF EXISTS file_hashes")
            db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))

    def _move_aside(self, exc: Exception) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.dir / f"{DB_NAME}.damaged-{stamp}-{os.getpid()}"
        for suffix in ("", "-wal", "-shm"):
            src = self.dir / (DB_NAME + suffix)
            if src.exists():
                os.replace(src, Path(str(target) + suffix))
        log.warning("store %s was damaged (%s); moved it aside as %s and started a new store (nothing in it is "
                    "reused; the damaged file is kept for inspection)", self.dir, str(exc).splitlines()[0], target)
        return target

    def close(self):
        self.db.close()

    def _write(self, sql: str, rows: list, what: str) -> None:
        try:
            with self.db:
                self.db.executemany(sql, rows)
        except (sqlite3.OperationalError, OSError) as exc:
            if is_disk_full(exc):
                raise DiskFull(f"disk full while writing {what} to the store {self.dir}: every batch committed "
                               f"before is kept; free space and run again to resume") from exc
            raise

    def _select(self, sql: str, keys: list):
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            yield from self.db.execute(sql.format(",".join("?" * len(chunk))), chunk)

    # -- file hashes -------------------------------------------------------------------
    def file_shas(self, paths: list[Path]) -> dict[Path, str | None]:
        """Content sha256 of each file (None if it is missing or unreadable)."""
        cached = {} if self.verify_hashes else {
            p: tuple(rest) for p, *rest in self._select(
                "SELECT path, dev, ino, size, mtime_ns, ctime_ns, sha256 FROM file_hashes WHERE path IN ({})",
                [str(p) for p in paths])}
        out: dict[Path, str | None] = {}
        new = []
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                out[path] = None
                continue
            stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            c = cached.get(str(path))
            if c and c[:5] == stamp:
                out[path] = c[5]
                continue
            out[path] = sha256_file(path)
            if out[path] is not None:
                new.append((str(path), *stamp, out[path]))
        if new:
            self._write("INSERT OR REPLACE INTO file_hashes VALUES(?,?,?,?,?,?,?)", new, "file hashes")
        return out

    # -- acquisitions ------------------------------------------------------------------
    def get_many(self, keys: list[str]) -> dict[str, Acquisition]:
        """The stored acquisitions among ``keys``; rows whose checksum fails are left out (and
        counted in ``damaged_rows``), so that they are computed again."""
        out, bad = {}, []
        for row in self._select("SELECT key, reason, embedding, bbox, landmarks, det_score, n_faces, checksum "
                                "FROM acquisitions WHERE key IN ({})", keys):
            if row[7] != row_checksum(*row[:7]):
                bad.append(row[0])
                continue
            out[row[0]] = _decode(row[1:7])
        self._dropped(bad, "acquisitions")
        return out

    def _dropped(self, bad: list[str], table: str) -> None:
        if not bad:
            return
        self.damaged_rows += len(bad)
        log.warning("store %s: %d %s row(s) failed their checksum (damaged); computing them again",
                    self.dir, len(bad), table)
        self._write(f"DELETE FROM {table} WHERE key=?", [(k,) for k in bad], "deletions")

    def put_many(self, items: list[tuple[str, str, str, str, Acquisition]]) -> None:
        """Insert (key, system_fp, variant_key, image_sha, acquisition) rows in one transaction."""
        rows = []
        now = time.time()
        for key, system_fp, variant_key, image_sha, a in items:
            d = a.detection
            content = (key, a.reason,
                       None if a.embedding is None else np.asarray(a.embedding, "<f4").tobytes(),
                       None if d is None else np.asarray(d.bbox, "<f4").tobytes(),
                       None if d is None else np.asarray(d.landmarks, "<f4").tobytes(),
                       None if d is None else float(d.score), None if d is None else int(d.n_faces))
            rows.append((key, system_fp, variant_key, image_sha, *content[1:], now, row_checksum(*content)))
        self._write("INSERT OR REPLACE INTO acquisitions(key, system, variant, image_sha, reason, embedding, bbox, "
                    "landmarks, det_score, n_faces, created, checksum) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", rows,
                    "acquisitions")

    # -- quality values ------------------------------------------------------------------
    def get_quality(self, keys: list[str]) -> dict[str, tuple[float | None, str | None]]:
        out, bad = {}, []
        for key, est, value, reason, checksum in self._select(
                "SELECT key, estimator, value, reason, checksum FROM quality WHERE key IN ({})", keys):
            if checksum != quality_checksum(key, est, value, reason):
                bad.append(key)
                continue
            out[key] = (value, reason)
        self._dropped(bad, "quality")
        return out

    def put_quality(self, rows: list[tuple[str, str, float | None, str | None]]) -> None:
        """Insert (key, estimator, value, reason) rows in one transaction."""
        now = time.time()
        self._write("INSERT OR REPLACE INTO quality(key, estimator, value, reason, created, checksum) "
                    "VALUES(?,?,?,?,?,?)",
                    [(k, e, v, r, now, quality_checksum(k, e, v, r)) for k, e, v, r in rows], "quality values")

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM acquisitions").fetchone()[0]

    # -- transformed images --------------------------------------------------------------
    def image_path(self, variant_name: str, image_sha: str, variant_key: str) -> Path:
        return image_path(self.dir, variant_name, image_sha, variant_key)


def open_store(cfg) -> Store:
    """The store a run's config (:class:`fr_eval.settings.Config`) names (``store_dir``, ``verify_hashes``)."""
    return Store(cfg.store_dir, verify_hashes=cfg.verify_hashes)


def sha256_file(path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


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
