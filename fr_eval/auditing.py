"""The identity-preservation audit of generated images (``scenario=generated``): the thin shell that
composes its stages, as :mod:`fr_eval.runner` composes a scenario run's: plan
(:mod:`fr_eval.stages.audit_plan`) -> acquire and score (:mod:`fr_eval.stages.audit_score`) -> figures
(:mod:`fr_eval.stages.audit_figures`); with several face systems, once per judge and their agreement."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .images import set_max_pixels
from .runner import per_system
from .settings import Config
from .stages.audit_figures import AuditResult, audit_result, judges_figures
from .stages.audit_plan import plan_audit
from .stages.audit_score import score_audit


def run_audit(cfg: Config, *, progress: bool = True) -> AuditResult:
    """plan -> acquire and score -> figures per group, as the scenario runs are composed."""
    t0 = time.perf_counter()
    set_max_pixels(cfg.max_image_pixels)
    plan = plan_audit(cfg)
    result = audit_result(plan, score_audit(plan, cfg, progress), cfg)
    result.context["wall_time_s"] = time.perf_counter() - t0
    return result


@dataclass
class AuditSystemsResult:
    """``system=[a,b,...]`` with scenario=generated: one :class:`AuditResult` per judge and whether they agree."""
    results: dict  # system name -> AuditResult
    configs: dict  # system name -> the run's config with that system
    judges: dict  # rankings' Kendall tau, per-method verified rates and spread, per-image agreement
    context: dict = field(default_factory=dict)


def run_audit_systems(cfg: Config, *, progress: bool = True) -> AuditSystemsResult:
    """The audit once per system of ``cfg.systems``, and the judges' agreement (:mod:`fr_eval.judges`)."""
    results, configs, engine = per_system(cfg, run_audit, progress)
    return AuditSystemsResult(results=results, configs=configs, judges=judges_figures(results, configs, cfg),
                              context={"engine": engine})
