"""Stage 1, plan: dataset + scenario set + protocol -> which samples in which variants, which rows
of Table 3, which comparisons. Nothing is read but the dataset's listing and each file's sha256 (the same
image under two names is found here); no image is decoded."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from ..colourisers import build_colouriser
from ..datasets import Dataset, load_dataset
from ..datasets.integrity import apply_duplicates, content_digest, content_duplicates
from ..errors import ConfigError
from ..evaluation import ImpostorStream
from ..protocol import Comparisons, build_comparisons
from ..quality import build_estimators
from ..scenarios import Scenario, ScenarioSet, load_scenario_set, select
from ..settings import Config, IdentificationSettings
from ..store import open_store
from ..variants import GREYSCALE, ORIGINAL, Colourised

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Row:
    """One row of Table 3: a scenario, with the colouriser its colourised side uses (if any)."""

    scenario: Scenario
    colouriser: str | None
    reference_variant: str
    probe_variant: str

    @property
    def label(self) -> str:
        return self.scenario.id if self.colouriser is None else f"{self.scenario.id} [{self.colouriser}]"


@dataclass(frozen=True)
class Plan:
    dataset: Dataset
    scenario_set: ScenarioSet
    rows: tuple[Row, ...]
    comparisons: Comparisons
    #: (role, variant name) pairs the rows need, the baseline's included
    needed: tuple[tuple[str, str], ...]
    fmr: float
    fmrs: tuple[float, ...]
    bootstrap: dict
    per_scenario_impostors: bool
    colourisers: tuple = ()  # built colourisers (empty when the embeddings come from a file)
    variants: dict = field(default_factory=dict)  # variant name -> Variant (what acquire applies)
    estimators: tuple = ()
    breakdown_values: dict = field(default_factory=dict)
    row_pairs: tuple = ()  # (a, b) row labels compared attempt by attempt (report.compare)
    min_subjects: int = 10  # report.min_subjects: fewer subjects and a comparison is flagged, not a finding
    min_false_matches: int = 3  # report.min_false_matches: an FMR target allowing fewer is not supported
    stream: ImpostorStream = ImpostorStream()  # how impostor scores are summarised
    ray: object = None  # executor=ray: where Ray runs (fr_eval.settings.RaySettings)
    identification: "Split | None" = None  # protocol=identification: who is enrolled in the gallery

    @property
    def baseline(self) -> Scenario:
        return self.scenario_set.scenarios[self.scenario_set.baseline]

    @property
    def subjects(self) -> list[str]:
        return self.dataset.subjects

    @cached_property
    def _subject_indices(self) -> dict:  # built once per plan (each row's figures ask for them)
        idx = {s: i for i, s in enumerate(self.subjects)}
        return {role: np.array([idx[s.subject] for s in self.samples(role)], dtype=int)
                for role in ("reference", "probe")}

    @cached_property
    def fta_references(self) -> np.ndarray:
        """Per reference: whether it is a sample of the FTA (False for a reference-only subject's, which takes
        part in impostor comparisons only); built once per plan."""
        return self.dataset.reference_mask()

    def subject_index(self, role: str) -> np.ndarray:
        """Each sample's index in :attr:`subjects`, in the dataset's order of ``role``'s samples."""
        return self._subject_indices[role]

    def samples(self, role: str) -> list:
        return self.dataset.references if role == "reference" else self.dataset.probes

    def requests(self) -> list:
        """(sample, variant) for every sample each needed variant is made of."""
        return [(smp, self.variants[v]) for role, v in self.needed for smp in self.samples(role)]


@dataclass(frozen=True)
class Split:
    """Which subjects are enrolled in the gallery; the others' probes are the non-mated searches."""
    enrolled: np.ndarray  # (n_subjects,) bool, over the plan's subjects
    settings: IdentificationSettings
    seed: int
    order: np.ndarray = None  # the enrolled subjects' indices in the draw's order (nested gallery sizes: the first N)

    def describe(self, subjects: list, reference_only=()) -> dict:
        held = [s for s, e in zip(subjects, self.enrolled) if not e]
        return {"subjects": len(subjects), "enrolled": int(self.enrolled.sum()), "held_out": len(held),
                "enrolled_reference_only": len(set(reference_only)),
                "rule": f"identification.nonmated_subjects={self.settings.nonmated_subjects:g} (a "
                        f"{'fraction' if self.settings.nonmated_subjects < 1 else 'count'} of the subjects with "
                        f"probes, drawn "
                        f"with seed {self.seed})",
                "held_out_subjects": held, "gallery_template": self.settings.gallery_template,
                "max_rank": self.settings.max_rank}


def split_subjects(subjects: list, settings: IdentificationSettings, seed: int, reference_only=()) -> Split:
    """A seeded draw of the held-out subjects (``nonmated_subjects``: a fraction or a count of the subjects
    with probes). Reference-only subjects (``reference_only``: no probe to search with) are always enrolled:
    they are gallery entries that can only be non-mates."""
    n, share = len(subjects), settings.nonmated_subjects
    alone = np.isin(np.asarray(subjects, dtype=object), list(reference_only))
    m = n - int(alone.sum())  # subjects with probes
    held = int(round(share * m)) if share < 1 else int(share)
    if not 1 <= held <= m - 1:
        raise ConfigError(f"identification.nonmated_subjects={share:g} holds out {held} of {m} subjects with probes; "
                          f"identification needs at least one enrolled and one held-out subject")
    draw = np.random.default_rng(seed).permutation(n)
    out = draw[~alone[draw]][:held]  # the first `held` subjects with probes in the draw
    enrolled = np.ones(n, bool)
    enrolled[out] = False
    order = draw[enrolled[draw]]
    too_big = [g for g in settings.gallery_sizes if g > order.size]
    if too_big:
        raise ConfigError(f"identification.gallery_sizes: {too_big[0]} is more than the {order.size} subjects enrolled")
    return Split(enrolled=enrolled, settings=settings, seed=seed, order=order)


def parse_fmrs(cfg: Config) -> tuple[float, list[float]]:
    """The operating point and every FMR reported (descending); each parsed once, by fr_eval.settings."""
    return cfg.fmr, sorted(set([cfg.fmr, *cfg.fmr_extra]), reverse=True)


def as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    if hasattr(x, "__iter__") and not isinstance(x, str):
        return list(x)
    return [x]


def variant_name(kind: str, colouriser: str | None) -> str:
    return kind if kind != "colourised" else f"colourised[{colouriser}]"


def plan_rows(chosen: list[Scenario], colouriser_names: list[str]) -> tuple[Row, ...]:
    """One row per scenario, and per colouriser where the scenario uses one."""
    rows = []
    for s in chosen:
        for c in (colouriser_names if s.needs_colouriser else [None]):
            rows.append(Row(s, c, variant_name(s.reference, c), variant_name(s.probe, c)))
    return tuple(rows)


def plan_comparisons(ds: Dataset, cfg: Config) -> Comparisons:
    """The comparisons of the protocol, checked before any image is processed."""
    impostors = cfg.impostors
    comps = build_comparisons(ds, impostors, cfg.seed)
    if comps.n_impostor == 0:
        if ds.pairs is not None:
            raise ConfigError(f"dataset {ds.name}: none of the protocol's mismatched pairs is present "
                              f"({len(comps.genuine)} matched pairs are), so no threshold can be fixed; "
                              f"dataset.fill_mismatched=balanced (or =N) draws mismatched pairs among the images "
                              f"present, and the report then says the figures are not the protocol's")
        raise ConfigError(f"dataset {ds.name}: no impostor comparison is possible (one subject)")
    if len(comps.genuine) == 0:
        raise ConfigError(f"dataset {ds.name}: no genuine comparison is possible")
    if ds.pairs is not None and impostors != "all":
        log.warning("impostors=%s is ignored: the dataset's pairs protocol names its impostor comparisons", impostors)
    return comps


def make_plan(cfg: Config, dataset: Dataset | None = None, *, build_colourisers: bool = True) -> Plan:
    """The plan of a scenario run. ``dataset``: given (embedding import), else loaded from
    ``cfg.dataset``. ``build_colourisers=False``: colourised variants are only named (their
    embeddings come from elsewhere), so no colouriser is loaded."""
    fmr, fmrs = parse_fmrs(cfg)
    sset = load_scenario_set(cfg.scenarios)
    chosen = select(sset, cfg.scenario)
    uses_colour = any(s.needs_colouriser for s in chosen)
    names = [str(c) for c in as_list(cfg.colouriser)] if uses_colour else []
    if uses_colour and not names:
        raise ConfigError("scenarios 4 and 5 need a colouriser: colouriser=<name> or colouriser=[a,b]; "
                          f"defined: {', '.join(sorted(cfg.colourisers))}")
    colourisers = tuple(build_colouriser(n, cfg.colourisers) for n in names) if build_colourisers else ()
    estimators = tuple(build_estimators(as_list(cfg.quality), cfg.quality_settings))
    if dataset is None:
        ds = load_dataset(cfg.dataset, exclude=(cfg.out_dir, cfg.store_dir))
        check_content(ds, cfg)
    else:
        ds = dataset
    for c in colourisers:
        c.prepare(ds)
    comps = plan_comparisons(ds, cfg)
    breakdown_values = plan_breakdown(ds, comps, cfg)
    rows = plan_rows(chosen, names)
    needed = {("reference", "original"), ("probe", "original")}  # the baseline always runs
    for r in rows:
        needed |= {("reference", r.reference_variant), ("probe", r.probe_variant)}
    variants = {"original": ORIGINAL, "greyscale": GREYSCALE,
                **{f"colourised[{c.name}]": Colourised(c) for c in colourisers}}
    bootstrap = cfg.intervals()
    log.info("dataset %s: %s", ds.name, ds.summary())
    return Plan(dataset=ds, scenario_set=sset, rows=rows, comparisons=comps, needed=tuple(sorted(needed)), fmr=fmr,
                fmrs=tuple(fmrs), bootstrap=bootstrap,
                per_scenario_impostors=cfg.impostor_scores == "scenario",
                colourisers=colourisers, variants=variants, estimators=estimators,
                breakdown_values=breakdown_values,
                row_pairs=row_pairs(rows, as_list(cfg.report.compare)),
                min_subjects=cfg.report.min_subjects, min_false_matches=cfg.report.min_false_matches,
                stream=impostor_stream(cfg, max(fmrs)), ray=cfg.ray,
                identification=split_subjects(ds.subjects, cfg.identification, cfg.seed, ds.reference_only)
                if cfg.protocol == "identification" else None)


def impostor_stream(cfg: Config, max_fmr: float) -> ImpostorStream:
    """How impostor scores are summarised: kept whole up to ``impostor_keep_all``, else streamed in
    blocks of ``memory_budget`` with a tail deep enough for ``max_fmr``."""
    return ImpostorStream(max_fmr=max_fmr, keep_all=cfg.impostor_keep_all, budget_bytes=cfg.memory_budget,
                          executor=cfg.executor)


def plan_breakdown(ds: Dataset, comps: Comparisons, cfg: Config) -> dict:
    """The ``report.breakdown`` fields' value per genuine comparison."""
    bins = dict(cfg.report.breakdown_bins or {})
    return {str(k): metadata_values(ds, comps, str(k), bins.get(str(k))) for k in as_list(cfg.report.breakdown)}


def without_samples(plan: Plan, ds: Dataset, cfg: Config) -> Plan:
    """The plan over ``ds`` (the plan's dataset less some samples): its comparisons planned again."""
    comps = plan_comparisons(ds, cfg)
    return replace(plan, dataset=ds, comparisons=comps, breakdown_values=plan_breakdown(ds, comps, cfg))


def check_content(ds: Dataset, cfg: Config) -> None:
    """The same image under two names (:mod:`fr_eval.datasets.integrity`), found by the files' sha256
    (through the store's hash cache, which the acquire stage then reuses) and handled as
    ``dataset.duplicates`` says, before any image is decoded."""
    store = open_store(cfg)
    try:
        shas = store.file_shas(sorted({s.path for s in ds.references + ds.probes}))
    finally:
        store.close()
    policy = cfg.dataset.duplicates
    ds.settings["duplicates"] = apply_duplicates(ds, content_duplicates(ds, shas), policy)
    ds.settings["content_digest"] = content_digest(ds, shas)


#: report.compare=auto: the paper's question (does colourising help?) and each scenario against the baseline
AUTO_PAIRS = (("3", "4"), ("2", "5"), ("1", "*"))


def row_pairs(rows: tuple[Row, ...], spec: list) -> tuple[tuple[str, str], ...]:
    """The (a, b) row labels that ``report.compare`` names: ``auto``, or ``a:b`` items where a and b
    are row labels or scenario ids (a scenario id stands for each of its rows); checked here,
    before any image is processed."""
    labels = [r.label for r in rows]

    def resolve(x: str, item: str) -> list[str]:
        got = [r.label for r in rows if x in (r.label, r.scenario.id)] if x != "*" else labels
        if not got and item != "auto":
            raise ConfigError(f"report.compare={item}: {x} is not a row of this run; rows: {', '.join(labels)}")
        return got

    out = []
    for item in [str(x) for x in spec]:
        pairs = AUTO_PAIRS if item == "auto" else [tuple(item.split(":", 1))] if ":" in item else None
        if pairs is None:
            raise ConfigError(f"report.compare={item} is not valid: give auto or a:b (two rows, e.g. 3:4)")
        for a, b in pairs:
            out += [(x, y) for x in resolve(a, item) for y in resolve(b, item) if x != y and (x, y) not in out]
    return tuple(out)


def metadata_values(ds, comps, key: str, edges=None) -> np.ndarray:
    """The value of metadata field ``key`` for each genuine comparison: the probe's, else the
    reference's, else "". ``fold`` is the protocol's fold in pairs datasets. With bin ``edges``
    (ascending numbers) a numeric value becomes its interval's label, e.g. ``[30, 365)``."""
    if key == "fold" and comps.genuine_folds is not None:
        return np.array([str(f + 1) for f in comps.genuine_folds], dtype=object)
    if edges is not None:
        return np.array([bin_label(v, [float(e) for e in edges], key)
                         for v in metadata_values(ds, comps, key)], dtype=object)
    probe_meta = [dict(s.meta) for s in ds.probes]
    ref_meta = [dict(s.meta) for s in ds.references]
    known = sorted({k for m in probe_meta + ref_meta for k in m} | ({"fold"} if comps.genuine_folds is not None else set()))
    if key not in known:
        raise ConfigError(f"report.breakdown: {key} is not a metadata field of dataset {ds.name}; "
                          f"its fields: {', '.join(known) or 'none (this dataset keeps no metadata)'}")
    return np.array([probe_meta[p].get(key) or ref_meta[r].get(key) or "" for r, p in comps.genuine], dtype=object)


def bin_label(value: str, edges: list[float], key: str = "") -> str:
    """The half-open interval of ``edges`` that holds ``value`` ("" stays ""), e.g. ``[1, 30)``."""
    if value == "":
        return ""
    if sorted(edges) != edges or len(edges) < 1:
        raise ConfigError(f"report.breakdown_bins.{key} must be ascending numbers, e.g. [0, 1, 30, 365]")
    try:
        x = float(value)
    except ValueError as exc:
        raise ConfigError(f"report.breakdown_bins.{key}: the value {value!r} is not a number") from exc
    fmt = "{:g}".format
    if x < edges[0]:
        return f"< {fmt(edges[0])}"
    for lo, hi in zip(edges, edges[1:]):
        if lo <= x < hi:
            return f"[{fmt(lo)}, {fmt(hi)})"
    return f">= {fmt(edges[-1])}"
