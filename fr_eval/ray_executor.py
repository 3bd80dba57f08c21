"""``executor=ray``: the acquisitions computed by Ray actors, on a cluster or a local Ray instance.

Each actor holds the face system, the variants and the quality estimators, rebuilt from their
pickles once (the models load once per actor, as in the local process pool), and computes chunks;
the chunks come back to the driver in order and are committed to the store there, chunk by chunk,
so an interrupted Ray run resumes like a local one. Actors never write the store; the images a
colouriser makes are written under unique temporary names and renamed (engine.save_png_atomic).

Needs the optional extra: ``pip install -e ".[ray]"``. ``ray.address`` in the config joins a cluster
(``ray.init(address=...)``); without it a local Ray instance is started with ``ray.num_cpus``.
"""
from __future__ import annotations

import logging
import warnings
from collections import deque
from pathlib import Path

from .errors import ConfigError
from .images import set_max_pixels
from .settings import RaySettings

log = logging.getLogger(__name__)
#: chunks in flight per actor: one computing, one queued (bounded memory on the driver)
IN_FLIGHT = 2


#: the Ray settings of the run (fr_eval.settings.RaySettings), set by :func:`init`
_SETTINGS = RaySettings()


def init(settings: RaySettings | None = None) -> None:
    """Start or join Ray once (``ray.address``, ``ray.num_cpus``)."""
    global _SETTINGS
    try:
        import ray  # optional heavy dependency (the [ray] extra)
    except ImportError:
        raise ConfigError('executor=ray needs Ray: pip install -e ".[ray]"') from None
    if settings is not None:
        _SETTINGS = settings
    if ray.is_initialized():
        return
    s = _SETTINGS
    kw = {"address": s.address} if s.address else {"num_cpus": s.num_cpus}
    ray.init(**kw, include_dashboard=False, log_to_driver=False, configure_logging=False)
    log.info("Ray: %s", "joined " + s.address if s.address else "a local instance")


def cluster_cpus() -> int:
    import ray  # optional heavy dependency (ray), loaded only when used
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def gpus_per_worker(system, variants: dict, setting="auto") -> float:
    """GPUs each actor asks for: ``setting`` when a number; with ``auto``, 1 when the face system
    runs on CUDA (its ONNX Runtime providers) or a colouriser is set to cuda, else 0."""
    if setting != "auto":
        return float(setting)
    on_cuda = any("CUDA" in str(p) for p in (getattr(system, "providers", None) or []))
    for v in variants.values():
        c = getattr(v, "colouriser", None)
        on_cuda |= str(getattr(c, "device_choice", "")).startswith("cuda")
    return 1.0 if on_cuda else 0.0


def workers_for_gpus(workers: int, gpus: float, cluster_gpus: float) -> int:
    """As many actors as asked, but no more than the cluster's GPUs can hold (an actor Ray cannot
    place would wait for ever)."""
    if gpus <= 0:
        return workers
    fits = int(cluster_gpus // gpus + 1e-9)
    if fits < 1:
        raise ConfigError(f"ray.gpus_per_worker={gpus:g}: the Ray cluster has {cluster_gpus:g} GPU(s); give "
                          "ray.gpus_per_worker=0 to run on CPUs")
    return min(workers, fits)


class RayPool:
    """The :class:`fr_eval.engine.WorkerPool` interface (``map``, ``close``) over Ray actors."""

    parallel = "ray"

    def __init__(self, system, variants: dict, store_dir, workers: int, estimators: dict | None = None,
                 max_pixels: int | None = None, *, compute=None):
        import ray  # optional heavy dependency (ray), loaded only when used

        init()
        gpus = gpus_per_worker(system, variants, _SETTINGS.gpus_per_worker)
        self.workers = workers_for_gpus(max(1, min(int(workers), cluster_cpus())), gpus,
                                        float(ray.cluster_resources().get("GPU", 0)))
        self.gpus_per_worker = gpus
        worker = ray.remote(num_cpus=1, num_gpus=gpus)(_Worker)
        # ``compute``: the chunk function (fr_eval.engine.compute_chunk, pickled by reference), handed over by
        # the engine so that this module never imports it (no import cycle)
        args = (system, variants, str(Path(store_dir)), estimators or {}, max_pixels, compute)
        self._actors = [worker.remote(*args) for _ in range(self.workers)]

    def map(self, chunks):
        """Each chunk's outcome, in the chunks' order, as the actors finish them."""
        import ray  # optional heavy dependency (ray), loaded only when used

        chunks, queue = list(chunks), deque()
        for i, chunk in enumerate(chunks):
            queue.append(self._actors[i % self.workers].compute.remote(chunk))
            if len(queue) >= IN_FLIGHT * self.workers:
                yield ray.get(queue.popleft())
        while queue:
            yield ray.get(queue.popleft())

    def close(self):
        import ray  # optional heavy dependency (ray), loaded only when used
        for a in self._actors:
            ray.kill(a)
        self._actors = []


class _Worker:
    """One Ray actor: the system and variants, rebuilt once, computing chunks."""

    def __init__(self, system, variants, store_dir, estimators, max_pixels, compute):

        warnings.filterwarnings("ignore", category=FutureWarning)
        if max_pixels is not None:
            set_max_pixels(max_pixels)
        self.args = (system, variants, Path(store_dir), estimators)
        self.fn = compute

    def compute(self, chunk):
        return self.fn(chunk, *self.args)
