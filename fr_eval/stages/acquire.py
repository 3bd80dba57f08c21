"""Stage 2, acquire: every (sample, variant) of a plan through the face system and the store, or
from a file of precomputed embeddings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..engine import EngineStats, acquire_and_score
from ..store import open_store
from ..systems import build_system
from .plan import Plan


@dataclass(frozen=True)
class Acquired:
    #: (sample rel, variant name) -> Acquisition
    acquisitions: dict
    #: (sample rel, variant name) -> {estimator: (value or None, reason or None)}
    quality: dict
    stats: EngineStats
    system: dict  # the face system's description (models with sha256, settings)
    system_note: str  # how it was chosen
    examples: list = field(default_factory=list)  # Fig. 2: (row label, [Tile, ...]) per sample shown


class Tile(NamedTuple):
    """One image of the colourisation examples: the variant's name, the image (None: failed) and a
    note drawn under it (an exemplar colouriser's: whose reference image gave the colours)."""
    name: str
    image: np.ndarray | None
    note: str = ""


def resolve_workers(value) -> int:
    """``auto``: one worker per CPU core this process may use."""
    import os

    if value in (None, "auto"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:
            return max(1, os.cpu_count() or 1)
    return int(value)


def executor(cfg: dict) -> tuple[int, str]:
    """(workers, parallel) for the engine: the local pool's, or Ray's (``executor=ray``: started or
    joined here; ``workers=auto`` is then every CPU of the Ray cluster)."""
    if cfg.get("executor") == "ray":
        from .. import ray_executor
        ray_executor.init(cfg.get("ray"))
        workers = ray_executor.cluster_cpus() if cfg["workers"] == "auto" else int(cfg["workers"])
        return workers, "ray"
    return resolve_workers(cfg["workers"]), str(cfg["parallel"])


def acquire(plan: Plan, cfg: dict, *, progress: bool = True) -> Acquired:
    """Acquire what the plan needs through the store (computing only what is missing)."""
    system, note = build_system(cfg["system"])
    store = open_store(cfg)
    examples = []
    try:
        workers, parallel = executor(cfg)
        acqs, qvals, stats = acquire_and_score(plan.requests(), system, store, estimators=plan.estimators,
                                               batch_size=int(cfg["batch_size"]), workers=workers,
                                               parallel=parallel, progress=progress)
        if plan.colourisers:
            examples = colourisation_examples(plan.dataset, [plan.variants[f"colourised[{c.name}]"]
                                                             for c in plan.colourisers], store,
                                              int(cfg["report"]["examples"]))
    finally:
        store.close()
    return Acquired(acquisitions=acqs, quality=qvals, stats=stats, system=system.describe(), system_note=note,
                    examples=examples)


def exemplar_note(colouriser, sample, grey) -> str:
    """Whose reference image an exemplar colouriser took the colours of for ``sample`` (the same
    choice as when it coloured it: the rule is deterministic in the image and the pool); "" for a
    colouriser without exemplars."""
    from ..colourisers.base import ColourisationFailed

    choose = getattr(colouriser, "exemplar_for", None)
    if choose is None:
        return ""
    try:
        return f"colours of {choose(sample, grey).subject}"
    except ColourisationFailed:
        return ""


def colourisation_examples(ds, colourised, store, n: int) -> list:
    """For the first ``n`` subjects: their reference and first probe as original, greyscale and
    each colourisation (read from the store's kept images), as in the paper's Fig. 2."""
    from ..colourisers.base import ColourisationFailed
    from ..engine import variant_image
    from ..images import ImageLoadError, ImageReadError, greyscale_rec709, load_image

    probes = {}
    for p in ds.probes:
        probes.setdefault(p.subject, p)
    rows, shown = [], set()
    for ref in ds.references:
        if len(shown) >= n:
            break
        if ref.subject not in probes or ref.subject in shown:
            continue
        shown.add(ref.subject)
        for smp in (ref, probes[ref.subject]):
            try:
                rgb = load_image(smp.path)
            except ImageLoadError:
                continue
            sha = store.file_shas([smp.path])[smp.path]
            grey = greyscale_rec709(rgb)
            tiles = [Tile("original", rgb), Tile("greyscale", grey)]
            for v in colourised:
                img = None
                try:  # the kept image; one that is missing or damaged is made again (and kept)
                    img = variant_image(smp, v, v.key(smp), sha, store.dir)
                except (ImageLoadError, ImageReadError, ColourisationFailed):  # shown as a "failed" tile
                    pass
                tiles.append(Tile(v.name, img, exemplar_note(v.colouriser, smp, grey) if img is not None else ""))
            rows.append((f"{smp.subject} ({smp.role})", tiles))
    return rows
