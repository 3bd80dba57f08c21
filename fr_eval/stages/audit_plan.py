"""The audit's plan stage (``scenario=generated``): the manifest of generated images, the enrolment of
their identities (the manifest's reference rows or a dataset), the grouping and the method pairs to
compare; checked before any image is decoded (a video row's frames are sampled here, kept in the store,
and join the generated images: :mod:`.audit_video`)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..datasets import Sample, load_dataset
from ..datasets.generated import load_generated_manifest
from ..datasets.manifest import problems_message
from ..errors import ConfigError, FrEvalError
from ..settings import Config
from .audit_multi import is_multi, names_of
from .audit_video import expand_videos, frames_dir
from .plan import as_list, parse_fmrs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditPlan:
    """What the audit compares: the manifest, enrolment and grouping (the plan stage)."""

    gset: object
    refs: list
    enrol_source: str
    identities: list
    gen: list  # generated images of enrolled identities
    targets: list
    unenrolled: list
    problems: list
    by: list
    unknown_by: list
    template: str
    fmr: float
    min_per_method: int  # methods with fewer images are listed apart, unranked
    min_identities: int  # report.min_subjects: methods of fewer identities are listed apart, unranked
    compare: tuple  # generated.compare: "auto" and "a:b" items, names checked
    compare_min_identities: int
    rank_k: int = 5  # generated.rank_k
    fpir: tuple = (0.001, 0.01)  # identification.fpir: the audit's FNIR thresholds, on the enrolment's non-mated searches
    min_false_alarms: int = 3  # report.min_false_matches: an FPIR target with fewer allowed false alarms is flagged
    videos: list = field(default_factory=list)  # audit_video.VideoRow per video row (its frames are in gen)
    multi: list = field(default_factory=list)  # rows naming several identities (a|b): stages.audit_multi
    multi_ordered: bool = True  # generated.multi_order=left_to_right


def plan_audit(cfg: Config) -> AuditPlan:
    """The audit's plan: the manifest read and checked, the enrolment, the grouping and the method pairs
    compared, before any image is decoded."""
    g = cfg.generated
    if not g.manifest:
        raise ConfigError("scenario=generated needs generated.manifest=<csv> (columns path,identity,method)")
    fmr, _ = parse_fmrs(cfg)
    gset = load_generated_manifest(g.manifest, root=g.root, strict=g.strict, allow_outside=g.allow_outside)
    gset, videos = expand_videos(gset, g.video, frames_dir(cfg.store_dir))
    refs, enrol_source = _enrolment(cfg, gset)
    identities = sorted({s.subject for s in refs})
    problems = list(gset.problems)
    multi = [s for s in gset.generated if is_multi(s.subject)]  # several people in one image: audit_multi
    unenrolled = [s for s in gset.generated if not is_multi(s.subject) and s.subject not in identities]
    unenrolled += [s for s in multi if any(n not in identities for n in names_of(s.subject))]
    problems += [{"kind": "identity with no reference", "where": s.rel,
                  "detail": f"identity {', '.join(n for n in names_of(s.subject) if n not in identities)} has no "
                            f"enrolment photo"} for s in unenrolled]
    if g.strict and unenrolled:
        raise FrEvalError(f"{gset.path}: {problems_message(problems)} (generated.strict=false skips and lists them)")
    gen = [s for s in gset.generated if s.subject in identities]
    multi = [s for s in multi if all(n in identities for n in names_of(s.subject))]
    if not gen and multi:
        raise FrEvalError(f"{gset.path}: every enrolled row names several identities; the audit needs rows of one "
                          "identity too (its threshold and tables are theirs)")
    if not gen:
        raise FrEvalError(f"no generated image has an enrolled identity ({problems_message(problems)})")
    by = [str(k) for k in as_list(g.by)]
    unknown = [k for k in by if k not in set(gset.columns)]
    by = [k for k in by if k in set(gset.columns)]
    if "method" not in by:
        by.insert(0, "method")
    # a grouping key the manifest lacks is only noted: category and prompt (the defaults) in a sentence of the page,
    # any other (a typo should be seen) here too
    if [k for k in unknown if k not in ("category", "prompt")]:
        log.warning("generated.by: %s not among the manifest's columns (%s)", ", ".join(unknown),
                    ", ".join(sorted(gset.columns)))
    targets = [gset.targets[s.rel] for s in gen if s.rel in gset.targets]
    return AuditPlan(gset=gset, refs=refs, enrol_source=enrol_source, identities=identities, gen=gen,
                     targets=targets, unenrolled=unenrolled, problems=problems, by=by, unknown_by=unknown,
                     template=g.template, fmr=fmr, min_per_method=g.min_per_method,
                     min_identities=cfg.report.min_subjects,
                     compare=_compare_spec(g.compare, {dict(s.meta).get("method", "") for s in gen}),
                     compare_min_identities=g.compare_min_identities, rank_k=g.rank_k,
                     fpir=tuple(cfg.identification.fpir), min_false_alarms=cfg.report.min_false_matches,
                     videos=[v for v in videos if v.subject in identities], multi=multi,
                     multi_ordered=g.multi_order == "left_to_right")


def _compare_spec(spec, methods: set) -> tuple:
    """generated.compare checked before any image is processed: auto, or a:b with both methods in the manifest."""
    items = tuple(str(x) for x in as_list(spec))
    for item in items:
        if item == "auto":
            continue
        a, sep, b = item.partition(":")
        if not sep or not a or not b:
            raise ConfigError(f"generated.compare={item} is not valid: give auto or a:b (two method names)")
        for x in (a, b):
            if x not in methods:
                raise ConfigError(f"generated.compare={item}: {x} is not a method of the manifest; methods: "
                                  f"{', '.join(sorted(methods))}")
    return items


def _enrolment(cfg: Config, gset) -> tuple[list[Sample], str]:
    if cfg.generated.enrolment == "manifest":
        if not gset.references and gset.set_aside_references:
            raise FrEvalError(f"{gset.path}: every row with role=reference was set aside, so no identity can be "
                              f"enrolled: {problems_message(gset.set_aside_references, first=2)}")
        if not gset.references:
            raise FrEvalError(f"{gset.path}: no row with role=reference to enrol the identities; add them, or "
                              f"enrol from a dataset: generated.enrolment=dataset dataset=<name>")
        return gset.references, f"rows with role=reference in {gset.path}"
    ds = load_dataset(cfg.dataset)
    refs = [Sample(path=s.path, rel=s.rel, subject=s.subject, role="reference", meta=s.meta)
            for s in ds.references + ds.probes]
    return refs, f"every image of dataset {ds.name} ({ds.root}), by subject name"
