"""Compute every (sample, variant) acquisition once, through the store."""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import images
from .colourisers.base import ColourisationFailed
from .errors import ConfigError, DiskFull, FrEvalError
from .images import ImageLoadError, ImageReadError, load_image, save_png_atomic, set_max_pixels
from .quality import QualityFailed
from .ray_executor import RayPool
from .store import Store, acquisition_key, image_path, is_disk_full, quality_key
from .systems.base import Acquisition, FaceSystem, error_text, fingerprint
from .variants import Colourised

log = logging.getLogger(__name__)
PARALLEL = ("process", "thread", "ray")
#: the reason of a quality value that an error of the machine prevented: such values are not stored
TRANSIENT = "error (not stored, retried next run): "
#: below this many chunks a pool of processes costs more to start than it saves
MIN_CHUNKS_FOR_PROCESSES = 4


@dataclass
class EngineStats:
    requested: int = 0
    reused: int = 0
    computed: int = 0
    failed: int = 0
    #: failures caused by errors of the machine (not stored; retried on the next run)
    transient_errors: int = 0
    #: stored rows that failed their checksum and were computed again
    damaged_rows: int = 0
    workers: int = 1
    parallel: str = "none"
    quality_computed: int = 0

    def as_dict(self):
        return dict(self.__dict__)


def check_parallel(parallel: str) -> str:
    if parallel not in PARALLEL:
        raise ConfigError(f"parallel={parallel} is not known; choose from {', '.join(PARALLEL)}")
    return parallel


def compute_chunk(chunk, system, variants: dict, store_dir: Path, estimators: dict | None = None):
    """Load, transform, acquire and score one chunk of ``(ident, sample, variant name, key,
    variant key, image sha, stored acquisition or None, quality estimator names)``; returns
    ``[(item, Acquisition, {estimator: (value, reason)})]``. Writes no database (only cached
    images). An item whose acquisition is stored is not acquired again, only scored."""
    estimators = estimators or {}
    images, slots, done = [], [], []
    for t in chunk:
        ident, sample, vname, key, vkey, sha, stored, qnames = t
        need_image = stored is None or (stored.ok and any(estimators[q].needs_image or estimators[q].needs_system
                                                          for q in qnames))
        img = None
        if need_image:
            try:
                img = variant_image(sample, variants[vname], vkey, sha, store_dir)
            except ImageLoadError as exc:  # a property of the file: stored as a failure
                done.append((t, stored or Acquisition.failure(f"unreadable image: {exc}"), img))
                continue
            except ColourisationFailed as exc:
                done.append((t, stored or colourisation_failure(exc), img))
                continue
            except ImageReadError as exc:
                done.append((t, stored or Acquisition.error(f"read error: {exc}"), img))
                continue
            except FrEvalError:  # disk full, ...: ends the run with its one-line message
                raise
            except Exception as exc:  # a transform's crash is the machine's error: retried next run
                log.exception("transform %s failed on %s", vname, sample.rel)
                done.append((t, stored or Acquisition.error(f"{vname} failed: {error_text(exc)}"), img))
                continue
        if stored is None:
            images.append(img)
            slots.append(t)
        else:
            done.append((t, stored, img))
    if images:
        try:
            acquired = system.acquire(images)
        except Exception as exc:  # the whole batch crashed (out of memory...): the machine's error
            log.exception("%s failed on a batch of %d images", system.name, len(images))
            acquired = [Acquisition.error(f"{system.name} failed on the batch: {error_text(exc)}")] * len(images)
        done.extend(zip(slots, acquired, images))
    return [(t, acq, score_quality(img, acq, t[7], estimators, system)) for t, acq, img in done]


def colourisation_failure(exc: ColourisationFailed) -> Acquisition:
    """A colouriser's failure as an acquisition: the machine's error when transient, else the image's."""
    if exc.transient:
        return Acquisition.error(f"colouriser: {exc}")
    return Acquisition.failure(f"colouriser: {exc}", cacheable=exc.cacheable)


def score_quality(img, acq, qnames, estimators: dict, system) -> dict:
    """{estimator: (value, reason)}; nothing to score where no face was acquired."""
    out = {}
    if not qnames or not acq.ok:
        return out
    for q in qnames:
        est = estimators[q]
        if img is None and (est.needs_image or est.needs_system):
            out[q] = (None, "image could not be read again")
            continue
        try:
            v = est.value(img, acq, system)
            out[q] = (v, None) if np.isfinite(v) else (None, "not finite")
        except QualityFailed as exc:
            out[q] = (None, str(exc))
        except Exception as exc:  # an estimator's crash: the machine's error, not stored (see TRANSIENT)
            log.exception("quality %s failed on %s", q, acq)
            out[q] = (None, f"{TRANSIENT}{q} failed: {error_text(exc)}")
    return out


# -- worker processes: each holds its own system and variants, rebuilt from their pickles --
_WORKER: dict = {}


def _init_worker(system, variants, store_dir, estimators=None, max_pixels=None, parent_pid=None):

    warnings.filterwarnings("ignore", category=FutureWarning)
    if max_pixels is not None:
        set_max_pixels(max_pixels)
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    _WORKER.update(system=system, variants=variants, store_dir=store_dir, estimators=estimators or {})


def exit_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """End this worker process as soon as the process that started it is gone.

    A parent killed by SIGKILL/SIGTERM runs no clean-up, and a worker left behind holds its models
    (hundreds of MB) and the resource tracker alive for minutes. A daemon thread watches the parent's
    pid (re-parenting changes ``getppid``). Not ``PR_SET_PDEATHSIG``: Linux sends that when the
    *thread* that started the worker ends, which need not be when the parent process does.
    """
    if os.getppid() != parent_pid:  # the parent died before the watch began
        os._exit(1)

    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="fr-eval-parent-watch", daemon=True).start()


def _compute_in_worker(chunk):
    return compute_chunk(chunk, _WORKER["system"], _WORKER["variants"], _WORKER["store_dir"], _WORKER["estimators"])


def _ready(delay):
    time.sleep(delay)  # keeps each worker busy for a moment so that every worker gets one
    return True


class WorkerPool:
    """Workers that each hold the face system and the variants (processes rebuild them from
    their pickles once, at start) and compute chunks; the caller commits the results."""

    def __init__(self, system, variants: dict, store_dir, workers: int, parallel: str = "process",
                 estimators: dict | None = None):
        self.workers, self.parallel = int(workers), check_parallel(parallel)
        self.system, self.variants, self.store_dir = system, variants, Path(store_dir)
        self.estimators = estimators or {}
        if parallel == "ray":  # Ray actors (fr_eval.ray_executor), on a cluster or a local instance
            self._ex = RayPool(system, variants, store_dir, self.workers, self.estimators, images.MAX_PIXELS,
                               compute=compute_chunk)
            self.workers = self._ex.workers
        elif parallel == "process":
            # spawn, not fork: ONNX Runtime and OpenCV keep thread pools that do not survive a fork
            self._ex = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_init_worker,
                                           initargs=(system, variants, store_dir, self.estimators,
                                                     images.MAX_PIXELS, os.getpid()))
        else:
            self._ex = ThreadPoolExecutor(self.workers, thread_name_prefix="fr-eval")

    def start(self) -> "WorkerPool":
        """Start every worker now (processes load their models) instead of at the first chunk."""
        if self.parallel != "ray":
            list(self._ex.map(_ready, [0.2] * self.workers))
        return self

    def map(self, chunks):
        if self.parallel == "ray":
            return self._ex.map(chunks)
        if self.parallel == "process":
            return self._ex.map(_compute_in_worker, chunks)
        return self._ex.map(lambda c: compute_chunk(c, self.system, self.variants, self.store_dir, self.estimators),
                            chunks)

    def close(self):
        if self.parallel == "ray":
            self._ex.close()
        else:
            self._ex.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def acquire_all(requests, system: FaceSystem, store: Store, *, batch_size: int = 32, workers: int = 1,
                parallel: str = "process", pool: WorkerPool | None = None,
                progress: bool = True) -> tuple[dict, EngineStats]:
    """Acquire each unique ``(sample, variant)`` in ``requests``.

    Returns ``{(sample.rel, variant.name): Acquisition}`` and counts of what was reused
    from the store and what was computed. Chunks of ``batch_size`` images are computed by
    ``workers`` worker processes (``parallel="process"``: each rebuilds the system and the
    colourisers from their pickles; no GIL contention) or threads (``parallel="thread"``),
    and committed chunk by chunk by this process, so an interrupted run keeps everything
    finished before the interruption. A started ``pool`` (with the same system and variants)
    may be passed in; it is then used as it is and left open.
    """
    results, _, stats = acquire_and_score(requests, system, store, batch_size=batch_size, workers=workers,
                                          parallel=parallel, pool=pool, progress=progress)
    return results, stats


def acquire_and_score(requests, system: FaceSystem, store: Store, *, estimators=(), batch_size: int = 32,
                      workers: int = 1, parallel: str = "process", pool: WorkerPool | None = None,
                      progress: bool = True) -> tuple[dict, dict, EngineStats]:
    """:func:`acquire_all`, and each quality estimator's value for every acquired sample.

    Returns (acquisitions, ``{(rel, variant): {estimator: (value or None, reason or None)}}``,
    stats). Quality values are kept in the store like acquisitions (keyed by the acquisition and
    the estimator's settings) and computed only where missing, in the same chunks and workers.
    """
    check_parallel(parallel)
    est = {e.name: e for e in estimators}
    qfp = {name: e.fingerprint() for name, e in est.items()}
    system_fp = fingerprint(system.describe())
    unique = {}
    for sample, variant in requests:
        unique.setdefault((sample.rel, variant.name), (sample, variant))
    variants = {v.name: v for _, v in unique.values()}
    results: dict = {}
    qualities: dict = {}
    stats = EngineStats(requested=len(unique))
    todo = _keyed(unique, system_fp, store, results)
    missing = _not_stored(todo, store, est, qfp, results, qualities, stats)
    chunks = [missing[i:i + batch_size] for i in range(0, len(missing), batch_size)]
    own_pool = None
    if pool is None:
        workers = max(1, min(int(workers), len(chunks) or 1))
        if parallel == "process" and len(chunks) < MIN_CHUNKS_FOR_PROCESSES:
            workers = 1
        if workers > 1 or (parallel == "ray" and chunks):  # Ray was asked for: it computes even one chunk
            pool = own_pool = WorkerPool(system, variants, store.dir, workers, parallel, est)
    if pool is not None:
        outcomes = pool.map(chunks)
        stats.workers, stats.parallel = pool.workers, pool.parallel
    else:
        outcomes = (compute_chunk(c, system, variants, store.dir, est) for c in chunks)
    try:
        _commit(outcomes, len(missing), system, system_fp, store, qfp, results, qualities, stats, progress)
    finally:
        if own_pool is not None:
            own_pool.close()
    stats.failed = sum(1 for a in results.values() if not a.ok)
    stats.transient_errors = sum(1 for a in results.values() if a.transient)
    stats.damaged_rows = store.damaged_rows
    if stats.transient_errors:
        log.warning("%d sample(s) failed on errors of the machine (not of the images); they are not stored and "
                    "are retried on the next run", stats.transient_errors)
    return results, qualities, stats


def _keyed(unique: dict, system_fp: str, store: Store, results: dict) -> list:
    """(id, sample, variant name, store key, variant key, file sha256) of each request whose file and
    variant can be keyed; the others go into ``results`` as failures."""
    shas = store.file_shas(sorted({s.path for s, _ in unique.values()}))
    todo = []
    for ident, (sample, variant) in unique.items():
        sha = shas.get(sample.path)
        if sha is None:
            results[ident] = Acquisition.failure(f"file not found or unreadable: {sample.path}", cacheable=False)
            continue
        try:
            vkey = variant.key(sample)
        except ColourisationFailed as exc:
            results[ident] = colourisation_failure(exc)
            continue
        todo.append((ident, sample, variant.name, acquisition_key(sha, vkey, system_fp), vkey, sha))
    return todo


def _not_stored(todo, store: Store, est: dict, qfp: dict, results: dict, qualities: dict, stats) -> list:
    """What the store already holds goes into ``results``/``qualities``; returns the rest, each
    with its stored acquisition (or None) and the quality measures it still lacks."""
    stored = store.get_many([t[3] for t in todo])
    stored_q = store.get_quality([quality_key(t[3], f) for t in todo for f in qfp.values()]) if est else {}
    missing = []
    for t in todo:
        acq = stored.get(t[3])
        have = {q: stored_q[quality_key(t[3], f)] for q, f in qfp.items() if quality_key(t[3], f) in stored_q}
        qualities[t[0]] = dict(have)
        need_q = tuple(q for q in est if q not in have) if (acq is None or acq.ok) else ()
        if acq is not None:
            results[t[0]] = acq
            stats.reused += 1
            if not need_q:
                continue
        missing.append((*t, acq, need_q))
    return missing


def _commit(outcomes, n: int, system, system_fp: str, store: Store, qfp: dict, results: dict, qualities: dict,
            stats, progress: bool) -> None:
    """Each computed chunk into ``results`` and, in one store transaction, what may be kept (never an
    error of the machine)."""
    with tqdm(total=n, desc=f"acquiring ({system.name})", unit="img", disable=not progress, leave=False) as bar:
        for done in outcomes:  # chunks come back in order; each is committed in one transaction
            new_acq = [(t, a) for t, a, _ in done if t[6] is None]
            for t, acq, q in done:
                results[t[0]] = acq
                qualities[t[0]].update(q)
            store.put_many([(t[3], system_fp, t[4], t[5], a) for t, a in new_acq if a.cacheable])
            if qfp:
                store.put_quality([(quality_key(t[3], qfp[name]), name, v, r) for t, a, q in done
                                   if a.cacheable for name, (v, r) in q.items()
                                   if not (r or "").startswith(TRANSIENT)])
            stats.computed += len(new_acq)
            stats.quality_computed += sum(len(q) for _, _, q in done)
            bar.update(len(done))


def variant_image(sample, variant, vkey, sha, store_dir):
    rgb = load_image(sample.path)
    if not isinstance(variant, Colourised):
        return variant.apply(rgb, sample)
    # colourisations are slow: keep them as files in the store and reuse them
    cached = image_path(store_dir, variant.name, sha, vkey)
    if cached.is_file():
        try:
            return load_image(cached)
        except ImageLoadError:
            log.warning("re-computing a damaged cached colourisation: %s", cached)
    out = variant.apply(rgb, sample)
    try:
        save_png_atomic(out, cached)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFull(f"disk full while keeping a colourised image in the store ({cached.parent}): every "
                           f"batch committed before is kept; free space and run again to resume") from exc
        log.warning("could not keep the colourised image %s (%s); it is used without being kept", cached, exc)
    return out
