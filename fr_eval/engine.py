"""Compute every (sample, variant) acquisition once, through the store."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tqdm import tqdm

from .colourisers.base import ColourisationFailed
from .images import ImageLoadError, load_image, save_png_atomic
from .store import Store, acquisition_key
from .systems.base import Acquisition, FaceSystem, fingerprint
from .variants import Colourised

log = logging.getLogger(__name__)


@dataclass
class EngineStats:
    requested: int = 0
    reused: int = 0
    computed: int = 0
    failed: int = 0

    def as_dict(self):
        return dict(self.__dict__)


def acquire_all(requests, system: FaceSystem, store: Store, *, batch_size: int = 32, workers: int = 1,
                progress: bool = True) -> tuple[dict, EngineStats]:
    """Acquire each unique ``(sample, variant)`` in ``requests``.

    Returns ``{(sample.rel, variant.name): Acquisition}`` and counts of what was reused
    from the store and what was computed. Chunks of ``batch_size`` images are computed by
    ``workers`` threads (image decoding, colourisers and ONNX Runtime release the GIL) and
    committed chunk by chunk, so an interrupted run keeps everything finished before the
    interruption.
    """
    system_fp = fingerprint(system.describe())
    unique = {}
    for sample, variant in requests:
        unique.setdefault((sample.rel, variant.name), (sample, variant))
    shas = store.file_shas(sorted({s.path for s, _ in unique.values()}))
    results: dict = {}
    todo = []  # (id, sample, variant, key, variant_key, sha)
    for ident, (sample, variant) in unique.items():
        sha = shas.get(sample.path)
        if sha is None:
            results[ident] = Acquisition.failure(f"file not found or unreadable: {sample.path}", cacheable=False)
            continue
        try:
            vkey = variant.key(sample)
        except ColourisationFailed as exc:
            results[ident] = Acquisition.failure(f"colouriser: {exc}", cacheable=exc.cacheable)
            continue
        todo.append((ident, sample, variant, acquisition_key(sha, vkey, system_fp), vkey, sha))
    stored = store.get_many([t[3] for t in todo])
    stats = EngineStats(requested=len(unique))
    missing = []
    for t in todo:
        if t[3] in stored:
            results[t[0]] = stored[t[3]]
            stats.reused += 1
        else:
            missing.append(t)
    def compute(chunk):
        """Load, transform and acquire one chunk (runs in a worker thread; no store writes)."""
        images, slots, done = [], [], []
        for t in chunk:
            ident, sample, variant, key, vkey, sha = t
            try:
                img = _variant_image(sample, variant, vkey, sha, store)
            except (ImageLoadError, ColourisationFailed) as exc:
                cacheable = getattr(exc, "cacheable", True)
                prefix = "colouriser: " if isinstance(exc, ColourisationFailed) else "unreadable image: "
                done.append((t, Acquisition.failure(prefix + str(exc), cacheable=cacheable)))
                continue
            images.append(img)
            slots.append(t)
        if images:
            done.extend(zip(slots, system.acquire(images)))
        return done

    chunks = [missing[i:i + batch_size] for i in range(0, len(missing), batch_size)]
    workers = max(1, min(int(workers), len(chunks) or 1))
    bar = tqdm(total=len(missing), desc=f"acquiring ({system.name})", unit="img", disable=not progress,
               leave=False)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="fr-eval") if workers > 1 else None
    try:
        # chunks finish in order; each is committed in one transaction by this (the main) thread
        outcomes = pool.map(compute, chunks) if pool else map(compute, chunks)
        for done in outcomes:
            for t, acq in done:
                results[t[0]] = acq
            store.put_many([(t[3], system_fp, t[4], t[5], a) for t, a in done if a.cacheable])
            stats.computed += len(done)
            bar.update(len(done))
    finally:
        bar.close()
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)
    stats.failed = sum(1 for a in results.values() if not a.ok)
    return results, stats


def _variant_image(sample, variant, vkey, sha, store: Store):
    rgb = load_image(sample.path)
    if not isinstance(variant, Colourised):
        return variant.apply(rgb, sample)
    # colourisations are slow: keep them as files in the store and reuse them
    cached = store.image_path(variant.name, sha, vkey)
    if cached.is_file():
        try:
            return load_image(cached)
        except ImageLoadError:
            log.warning("re-computing a damaged cached colourisation: %s", cached)
    out = variant.apply(rgb, sample)
    save_png_atomic(out, cached)
    return out
