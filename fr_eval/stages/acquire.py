"""Stage 2, acquire: every (sample, variant) of a plan through the face system and the store, or
from a file of precomputed embeddings."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .. import ray_executor
from ..colourisers.base import ColourisationFailed
from ..engine import EngineStats, acquire_and_score, variant_image
from ..images import ImageLoadError, ImageReadError, greyscale_rec709, load_image
from ..settings import Config
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
    #: Fig. 5: per colouriser, the samples greyscale lost and colourisation recovered, and the reverse
    #: ({"colouriser", "recovered", "lost"} counts) and their tiles ((row label, [Tile, ...]))
    changes: dict = field(default_factory=dict)


class Tile(NamedTuple):
    """One image of the colourisation examples: the variant's name, the image (None: failed) and a
    note drawn under it (an exemplar colouriser's: whose reference image gave the colours)."""
    name: str
    image: np.ndarray | None
    note: str = ""


def resolve_workers(value) -> int:
    """``auto``: one worker per CPU core this process may use."""
    if value in (None, "auto"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:
            return max(1, os.cpu_count() or 1)
    return int(value)


def executor(cfg: Config) -> tuple[int, str]:
    """(workers, parallel) for the engine: the local pool's, or Ray's (``executor=ray``: started or
    joined here; ``workers=auto`` is then every CPU of the Ray cluster)."""
    if cfg.executor == "ray":
        ray_executor.init(cfg.ray)
        workers = ray_executor.cluster_cpus() if cfg.workers == "auto" else int(cfg.workers)
        return workers, "ray"
    return resolve_workers(cfg.workers), cfg.parallel


class Session:
    """What every acquisition of a run shares: the face system built from the config, the store, the
    executor. The scenario runs and the generator audit acquire through it (:func:`session`), so both
    reuse and fill the same store the same way."""

    def __init__(self, cfg: Config, progress: bool = True):
        self.cfg, self.progress = cfg, progress
        self.system, self.note = build_system(cfg.system)
        self.store = open_store(cfg)
        try:
            self.workers, self.parallel = executor(cfg)
        except BaseException:
            self.store.close()
            raise

    def acquire(self, requests, estimators=()) -> tuple[dict, dict, EngineStats]:
        """Each unique (sample, variant) of ``requests`` acquired (and each estimator's value): from the
        store, or computed and stored; ``({(rel, variant): Acquisition}, quality values, stats)``."""
        return acquire_and_score(requests, self.system, self.store, estimators=estimators,
                                 batch_size=self.cfg.batch_size, workers=self.workers, parallel=self.parallel,
                                 progress=self.progress)

    def close(self) -> None:
        self.store.close()


@contextmanager
def session(cfg: Config, progress: bool = True):
    s = Session(cfg, progress)
    try:
        yield s
    finally:
        s.close()


def acquire(plan: Plan, cfg: Config, *, progress: bool = True) -> Acquired:
    """Acquire what the plan needs through the store (computing only what is missing)."""
    examples, changes = [], {}
    with session(cfg, progress) as run:
        acqs, qvals, stats = run.acquire(plan.requests(), plan.estimators)
        if plan.colourisers:
            colourised = [plan.variants[f"colourised[{c.name}]"] for c in plan.colourisers]
            examples = colourisation_examples(plan.dataset, colourised, run.store, cfg.report.examples)
            changes = acquisition_changes(plan, acqs, colourised, run.store, cfg.report.examples)
    return Acquired(acquisitions=acqs, quality=qvals, stats=stats, system=run.system.describe(),
                    system_note=run.note, examples=examples, changes=changes)


def acquisition_changes(plan: Plan, acqs: dict, colourised: list, store, n: int) -> dict:
    """The paper's Fig. 5: per colouriser, the samples whose greyscale version failed to acquire and
    whose colourised version was acquired (recovered), and the reverse (lost), counted over every
    sample the run acquired in both variants, with up to ``n`` of each shown (original, greyscale,
    colourised). Returns {"counts": [...], "rows": [(label, tiles), ...]}."""
    grey_name = "greyscale"
    samples = list({s.rel: s for s in plan.dataset.references + plan.dataset.probes}.values())
    counts, rows = [], []
    for v in colourised:
        have = [s for s in samples if (s.rel, grey_name) in acqs and (s.rel, v.name) in acqs]
        recovered = [s for s in have if not acqs[(s.rel, grey_name)].ok and acqs[(s.rel, v.name)].ok]
        lost = [s for s in have if acqs[(s.rel, grey_name)].ok and not acqs[(s.rel, v.name)].ok]
        counts.append({"colouriser": v.colouriser.name, "samples": len(have), "recovered": len(recovered),
                       "lost": len(lost), "recovered_paths": [s.rel for s in recovered],
                       "lost_paths": [s.rel for s in lost]})
        for what, chosen in (("recovered by", recovered), ("lost by", lost)):
            for smp in chosen[:n]:
                tiles = sample_tiles(smp, [v], store)
                if tiles:
                    status = {"original": acqs.get((smp.rel, "original")), grey_name: acqs[(smp.rel, grey_name)],
                              v.name: acqs[(smp.rel, v.name)]}
                    tiles = [t._replace(note=(t.note + "; " if t.note else "") + (
                        "acquired" if status.get(t.name) is not None and status[t.name].ok else "not acquired"))
                             for t in tiles]
                    rows.append((f"{what} {v.colouriser.name}: {smp.subject}", tiles))
    return {"counts": counts, "rows": rows} if counts else {}


def exemplar_note(colouriser, sample, grey) -> str:
    """Whose reference image an exemplar colouriser took the colours of for ``sample`` (the same
    choice as when it coloured it: the rule is deterministic in the image and the pool); "" for a
    colouriser without exemplars."""
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
            tiles = sample_tiles(smp, colourised, store)
            if tiles:
                rows.append((f"{smp.subject} ({smp.role})", tiles))
    return rows


def sample_tiles(smp, colourised: list, store) -> list:
    """One sample as original, greyscale and each colourisation (the kept image, made again when it is
    missing or damaged); [] when the file cannot be read."""
    try:
        rgb = load_image(smp.path)
    except ImageLoadError:
        return []
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
    return tiles
