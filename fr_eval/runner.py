"""Wire dataset, face system, colourisers, store and metrics into one run (the thin shell)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from .compose import per_system_configs
from .embeddings import acquired_from_embeddings, embeddings_dataset, read_embeddings
from .images import set_max_pixels
from .paired import agreement
from .settings import Config
from .stages.acquire import acquire
from .stages.gather import RunResult, assemble
from .stages.integrity import check_near_duplicates
from .stages.plan import make_plan

log = logging.getLogger(__name__)


def run(cfg: Config, *, progress: bool = True) -> RunResult:
    """Run the configured scenarios: plan, acquire, evaluate, then gather what the report shows."""
    t0 = time.perf_counter()
    set_max_pixels(cfg.max_image_pixels)
    if cfg.embeddings:  # a model fr-eval does not wrap: the vectors come from a file
        cols = read_embeddings(cfg.embeddings)
        plan = make_plan(cfg, embeddings_dataset(cols, cfg.embeddings,
                                                  getattr(cfg.dataset, "single_image_subjects", None) or "drop"),
                         build_colourisers=False)
        acquired = acquired_from_embeddings(plan, cols, cfg.embeddings)
    else:
        plan = make_plan(cfg)
        acquired = acquire(plan, cfg, progress=progress)
        plan = check_near_duplicates(plan, acquired, cfg)
    result = assemble(plan, acquired, cfg, t0)
    if cfg.report.export_embeddings:
        result.embeddings = (acquired.acquisitions, plan.dataset)
    return result


@dataclass
class SystemsResult:
    """``system=[a,b,...]``: one :class:`RunResult` per system (the same plan: dataset, comparisons,
    variants; colourised images made once and shared through the store), and their agreement."""
    results: dict  # system name -> RunResult
    configs: dict  # system name -> the run's config with that system
    agreement: list  # paired.agreement over the systems' row comparisons
    context: dict = field(default_factory=dict)


def per_system(cfg: Config, run_one, progress: bool) -> tuple[dict, dict, dict]:
    """``run_one(config)`` once per system of ``cfg.systems``, in order: (results, configs, the
    engine's counts summed over the systems)."""
    configs = per_system_configs(cfg)
    names, results = list(configs), {}
    # a warning about the data (not the system) is said once, not once per system: a filter per handler
    filters = [(h, _OnceFilter()) for h in logging.getLogger().handlers]
    for h, f in filters:
        h.addFilter(f)
    try:
        for n in names:
            log.info("system %s (%d of %d)", n, len(results) + 1, len(names))
            results[n] = run_one(configs[n], progress=progress)
    finally:
        for h, f in filters:
            h.removeFilter(f)
    engine = {k: sum(r.context["engine"].get(k, 0) for r in results.values())
              for k in ("computed", "reused", "transient_errors", "damaged_rows")}
    return results, configs, engine


class _OnceFilter(logging.Filter):
    """Lets each warning text through once (info lines always)."""

    def __init__(self):
        super().__init__()
        self.seen = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        text = record.getMessage()
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def run_systems(cfg: Config, *, progress: bool = True) -> SystemsResult:
    """Every configured scenario once per system of ``cfg.systems``."""
    results, configs, engine = per_system(cfg, run, progress)
    return SystemsResult(results=results, configs=configs, context={"engine": engine},
                         agreement=agreement({n: r.row_comparisons for n, r in results.items()}))
