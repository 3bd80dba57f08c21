"""Stage 3c, differentials (``report.differentials=true``): who pays for colourisation?

Each subject gets its groups (its skin tone, measured as the ITA of its colour photos; the dataset's
metadata; the columns of ``dataset.attributes``); each scenario row's figures are then counted per group at
the baseline's threshold (:mod:`fr_eval.differentials`), the colourised rows are compared with their
greyscale counterparts group by group, and each colouriser's colours are measured against the originals
(:func:`fr_eval.colour.fidelity`). Every figure is computed here; the report only renders it."""
from __future__ import annotations

import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from .. import colour
from .. import differentials as fr_differentials
from ..datasets.base import read_csv_rows
from ..errors import ConfigError
from ..evaluation import SideData, pair_scores
from ..identity import mean_interval
from ..images import ImageLoadError, load_image
from ..metrics import interval_kwargs, rate_interval
from ..store import open_store
from ..streaming import _cpus, products
from ..systems.align import norm_crop
from ..systems.base import metric_of
from .acquire import Acquired
from .evaluate import compared_fmr
from .plan import Plan

SKIN = "skin_tone"
#: the figures of the colour-fidelity table (per image, then per colouriser and group)
FIDELITY = ("delta_e_skin", "delta_e_image", "ita_shift", "chroma_skin_original", "chroma_skin_colourised",
            "colourfulness_original", "colourfulness_colourised", "psnr_ab", "ssim_ab")


@dataclass
class Differentials:
    attributes: dict  # attribute -> {"groups": [...], "subjects": {group: n}, "unassigned": n, "source": ...}
    skin: dict  # the ITA measurement: per subject and per image, uncertain subjects, spread, settings
    rows: dict  # attribute -> [{"label", "groups": group_figures, "indices": summary_indices, "between": ...}]
    colourisation: dict  # attribute -> [{"a", "b", "fnmr": effect_by_group, "frr": effect_by_group}]
    fidelity: dict = field(default_factory=dict)  # {"images": [...], "table": [...]} or {"reason": ...}
    agreement: dict = field(default_factory=dict)  # label attribute -> contingency table with the ITA groups
    sheet: list = field(default_factory=list)  # (caption, the aligned face with its skin pixels marked)
    threshold: float = float("nan")
    settings: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)  # what a reader must know before any group figure (console and page)


def differentials(plan: Plan, acquired: Acquired, scores: dict, threshold: float, cfg,
                  high: dict | None = None) -> Differentials:
    """Every group figure of the run at ``threshold`` (the baseline's at the run's FMR target). ``scores``:
    the evaluate stage's (row label -> genuine scores and their subjects); ``high``: its scans' high cells
    (pair of variants -> :class:`fr_eval.scan_taps.HighCells`), the false matches without a second product."""
    settings = cfg.differentials
    skin = measure_skin(plan, acquired, settings, plan.bootstrap)
    attrs, notes = subject_groups(plan, skin, settings, cfg.dataset.attributes)
    if SKIN in attrs:
        skin.sheet = skin_sheet(skin, settings)
    codes = {a: (np.array([v["groups"].index(x) if x in v["groups"] else -1 for x in v["values"]]), v["groups"])
             for a, v in attrs.items()}
    metric = metric_of(acquired.system)
    cache: dict = {}  # the impostors' false matches, per pair of variants (the baseline's serve every row)
    counts = {r.label: row_counts(plan, acquired, r, scores[r.label], threshold, metric, cache, high)
              for r in plan.rows}
    rows, effects = {}, {}
    for a, (code, names) in codes.items():
        rows[a], effects[a] = group_rows(counts, code, names, colourisation_pairs(plan), settings.alpha,
                                         plan.bootstrap, plan.min_subjects)
    out = Differentials(attributes={a: {k: v for k, v in x.items() if k != "values"} for a, x in attrs.items()},
                        skin=skin.describe(plan.subjects, skin.bins), rows=rows, colourisation=effects,
                        threshold=threshold, agreement=agreement(attrs), sheet=skin.sheet, notes=notes,
                        settings={"by": list(settings.by), "ita_groups": settings.ita_groups,
                                  "skin_scale": settings.skin_scale, "white_balance": settings.white_balance,
                                  "min_group_confidence": settings.min_group_confidence,
                                  "min_fit_photos": settings.min_fit_photos, "alpha": settings.alpha,
                                  "min_false_matches": cfg.report.min_false_matches})
    if cfg.embeddings:  # vectors read from a file: no image behind them to measure
        out.skin["why_none"] = f"embeddings={cfg.embeddings} carries no images (skin tone needs the photos)"
        out.fidelity = {"reason": f"embeddings={cfg.embeddings} carries no images (no colourised image to compare)"}
    elif settings.fidelity:
        store = open_store(cfg)
        try:
            out.fidelity = colour_fidelity(plan, acquired, attrs.get(SKIN), store, plan.bootstrap)
        finally:
            store.close()
    return out


def group_rows(counts: dict, code: np.ndarray, names: list, pairs: list, alpha: float, bootstrap,
               min_subjects: int) -> tuple[list, list]:
    """One attribute's figures: per row (``counts``: label -> :class:`RowCounts`, in the rows' order) the groups'
    rates, GARBE/FDR and FMR between groups; per (greyscale, colourised) pair of rows the effect per group."""
    rows = []
    for label, rc in counts.items():
        c = rc.per_group(code, len(names))
        figures = fr_differentials.group_figures(c, code, names, bootstrap=bootstrap)
        for g in figures:  # too few subjects to support a figure: shown flagged, never ranked
            g["too_small"] = g["n_subjects"] < min_subjects
        rows.append({"label": label, "groups": figures, "between": rc.between(code, len(names), bootstrap),
                     "indices": fr_differentials.summary_indices(c, code, names, alpha=alpha, bootstrap=bootstrap)})
    effects = [{"a": x, "b": y, **{rate: flag_small(fr_differentials.effect_by_group(
        counts[x].per_group(code, len(names)), counts[y].per_group(code, len(names)), code, names, rate,
        bootstrap=bootstrap), min_subjects) for rate in ("fnmr", "frr")}} for x, y in pairs]
    return rows, effects


def flag_small(effect: dict, min_subjects: int) -> dict:
    """Marks the groups, and the pairs of groups, with fewer than ``min_subjects`` subjects (report.min_subjects):
    their intervals and p-values rest on too few units to support a finding."""
    size = {g["group"]: g["n_subjects"] for g in effect["groups"]}
    for g in effect["groups"]:
        g["too_small"] = g["n_subjects"] < min_subjects
    for p in effect["pairs"]:
        p["too_small"] = min(size[p["group_i"]], size[p["group_j"]]) < min_subjects
    return effect


# ------------------------------------------------------------------------------------------- skin tone
#: the readings of a subject's skin, each the median over its fit photos with a bootstrap interval over them
READINGS = ("ita", "L", "hue")


@dataclass
class Skin:
    """Per photo its readings (ITA, L*, h*, C*) and whether it was fit to measure; per subject the median of each
    reading over its fit photos with a 95% bootstrap interval over them, and the resampled medians (kept for the
    confidence of its group, not written)."""

    images: list  # {"path", "subject", "ita", "L", "hue", "chroma", "pixels", "fit", "reason"}
    per_subject: dict  # subject -> {"n_photos", "n_fit", <reading>, <reading>_low/_high, "status", "group", ...}
    resampled: dict  # subject -> {reading: (n_resamples,) medians}
    faces: dict  # path -> (Sample, landmarks): to draw the contact sheet of the subjects chosen after grouping
    white_balance: str
    sheet: list = field(default_factory=list)
    bins: list = field(default_factory=list)  # skin_groups(): per bin of the scale, subjects measured and set aside

    def describe(self, subjects: list, bins: list) -> dict:
        status = [self.per_subject.get(s, {}).get("status", "no colour photo") for s in subjects]
        spreads = [v["ita_iqr"] for v in self.per_subject.values() if v["n_fit"] >= 2]
        ranges = [v["ita_range"] for v in self.per_subject.values() if v["n_fit"] >= 2]
        unfit: dict = {}
        for x in self.images:
            if not x["fit"]:
                unfit[x["kind"]] = unfit.get(x["kind"], 0) + 1
        return {"white_balance": self.white_balance, "fit_rules": dict(colour.FIT),
                "n_images": len(self.images), "n_images_measured": int(sum(x["fit"] for x in self.images)),
                "unfit_reasons": dict(sorted(unfit.items(), key=lambda kv: -kv[1])),
                "n_subjects": len(subjects), "measured": status.count("measured"),
                "uncertain": sorted(s for s, v in self.per_subject.items() if v["status"] == "uncertain"),
                "too_few_fit_photos": sorted(s for s, v in self.per_subject.items()
                                             if v["status"] == "too few fit photos"),
                "no_colour_photo": [s for s, st in zip(subjects, status) if st == "no colour photo"],
                "bins": bins,
                "median_iqr": float(np.median(spreads)) if spreads else float("nan"),
                "median_range": float(np.median(ranges)) if ranges else float("nan"),
                "max_range": float(np.max(ranges)) if ranges else float("nan"),
                "subjects": self.per_subject, "images": self.images,
                "region": {k: list(v) for k, v in colour.REGIONS.items()}, "skin_range": colour.SKIN_RANGE}


def measure_skin(plan: Plan, acquired: Acquired, settings, bootstrap: dict | None = None) -> Skin:
    """Every acquired colour photo's skin readings (:func:`fr_eval.colour.skin_reading`, original variant:
    references and probes), and per subject the median of each reading over its *fit* photos with a 95%
    percentile bootstrap interval over those photos (``scipy.stats.bootstrap``): a subject with fewer than
    ``min_fit_photos`` fit photos has none ("too few fit photos")."""
    samples = list({s.rel: s for s in plan.dataset.references + plan.dataset.probes}.values())
    return skin_of(samples, lambda s: acquired.acquisitions.get((s.rel, "original")), settings, bootstrap)


def skin_of(samples: list, acquisition_of, settings, bootstrap: dict | None = None) -> Skin:
    """:func:`measure_skin` on any photos (``acquisition_of(sample)``: its original acquisition, or None): the
    audit reads its identities' reference photos with it."""
    todo = [(s, acquisition_of(s)) for s in samples]
    todo = [(s, a) for s, a in todo if a is not None and a.ok and a.detection is not None]

    def one(item):
        s, a = item
        try:
            rgb = load_image(s.path)
        except ImageLoadError as exc:
            return s, a, {"ita": float("nan"), "L": float("nan"), "hue": float("nan"), "chroma": float("nan"),
                          "pixels": 0, "fit": False, "kind": "unreadable", "reason": f"unreadable: {exc}"}
        return s, a, colour.skin_reading(rgb, a.detection.landmarks, settings.white_balance)

    with ThreadPoolExecutor(_cpus()) as pool:  # image decoding and the CIELAB conversion release the GIL
        done = list(pool.map(one, todo))
    images, fit, faces, seen, coloured = [], {}, {}, {}, set()
    for s, a, r in done:
        images.append({"path": s.rel, "subject": s.subject, **r})
        faces[s.rel] = (s, a.detection.landmarks)
        seen[s.subject] = seen.get(s.subject, 0) + 1
        if r["kind"] not in ("greyscale", "unreadable"):
            coloured.add(s.subject)
        if r["fit"]:
            fit.setdefault(s.subject, []).append(tuple(r[k] for k in READINGS))
    per_subject, resampled = {}, {}
    kw = interval_kwargs(bootstrap)
    for subj, n in seen.items():
        v = np.asarray(fit.get(subj, []), float).reshape(-1, len(READINGS))
        rec = {"n_photos": n, "n_fit": int(len(v)), "group": "", "confidence": float("nan")}
        if len(v) < max(settings.min_fit_photos, 2):  # a bootstrap over one photo would claim certainty
            rec.update({k: float(np.median(v[:, i])) if len(v) else float("nan") for i, k in enumerate(READINGS)})
            rec.update(status="too few fit photos" if subj in coloured else "no colour photo",
                       reason=f"{len(v)} fit photo(s) of {n} (at least {max(settings.min_fit_photos, 2)} needed)")
        else:
            resampled[subj] = {}
            for i, k in enumerate(READINGS):
                res = _median_bootstrap(v[:, i], kw)
                resampled[subj][k] = res.bootstrap_distribution
                rec.update({k: float(np.median(v[:, i])), f"{k}_low": float(res.confidence_interval.low),
                            f"{k}_high": float(res.confidence_interval.high)})
            q = np.percentile(v[:, 0], [5, 25, 75, 95])
            rec.update(ita_p5=float(q[0]), ita_p95=float(q[3]), ita_iqr=float(q[2] - q[1]),
                       ita_range=float(np.ptp(v[:, 0])), status="measured", reason="")
        per_subject[subj] = rec
    for rec in per_subject.values():
        rec.setdefault("ita_iqr", float("nan"))
        rec.setdefault("ita_range", float("nan"))
    return Skin(images, per_subject, resampled, faces, settings.white_balance)


def _median_bootstrap(values: np.ndarray, kw: dict):
    """The percentile bootstrap of a median over a subject's photos (``scipy.stats.bootstrap``); its resampled
    medians say how sure the subject's group is. Photos that all read alike give a zero-width interval and
    scipy's warning about it, which is the answer here, not a problem: silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return stats.bootstrap((values,), np.median, n_resamples=kw["n_resamples"], confidence_level=kw["confidence"],
                               method="percentile", vectorized=True, axis=-1,
                               random_state=np.random.default_rng(kw["seed"]))


def sheet_subjects(skin: Skin, key: str) -> list[tuple[str, str]]:
    """Who the contact sheet shows, each with why: each group's most typical subject (its median nearest the
    group's median of medians), the lightest and the darkest subject read, and every uncertain subject."""
    chosen: dict = {}
    placed = {s: v for s, v in skin.per_subject.items() if v.get("bin")}
    for g in dict.fromkeys(v["group"] for v in placed.values() if v["group"]):
        members = {s: v[key] for s, v in placed.items() if v["group"] == g}
        centre = float(np.median(list(members.values())))
        chosen.setdefault(min(members, key=lambda s: (abs(members[s] - centre), s)), f"typical of {g}")
    if placed:
        chosen.setdefault(max(placed, key=lambda s: (placed[s][key], s)), "the lightest read")
        chosen.setdefault(min(placed, key=lambda s: (placed[s][key], s)), "the darkest read")
    for s in sorted(s for s, v in placed.items() if v["status"] == "uncertain"):
        chosen.setdefault(s, "uncertain")
    return list(chosen.items())


def _deg(x: float) -> str:
    """A reading in whole units, never "-0"."""
    return str(int(round(x))) if np.isfinite(x) else "n/a"


def skin_sheet(skin: Skin, settings) -> list[dict]:
    """The contact sheet's rows (:func:`sheet_subjects`): per subject its reading and up to
    ``settings.contact_sheet`` of its photos, the fit ones spread over its range of ITA and then the unfit ones,
    each with its reading or the reason it was not used, its skin pixels marked."""
    if settings.contact_sheet <= 0:
        return []
    key = "L" if settings.skin_scale == "lightness" else "ita"
    rows = []
    for subj, why in sheet_subjects(skin, key):
        rec = skin.per_subject[subj]
        mine = [x for x in skin.images if x["subject"] == subj]
        fit = sorted((x for x in mine if x["fit"]), key=lambda x: x["ita"])
        unfit = [x for x in mine if not x["fit"]][:max(1, settings.contact_sheet // 3)]
        n_fit = max(settings.contact_sheet - len(unfit), 0)
        picks = [fit[int(i)] for i in np.unique(np.linspace(0, len(fit) - 1, min(n_fit, len(fit))).round())] \
            if fit and n_fit else []
        tiles = []
        for x in picks + unfit:
            s, landmarks = skin.faces[x["path"]]
            try:
                face = marked_face(load_image(s.path), landmarks, settings.white_balance)
            except ImageLoadError:
                continue
            tiles.append((f"ITA {_deg(x['ita'])}°, L* {_deg(x['L'])}" if x["fit"] else f"not used: {x['reason']}", face))
        head = (f"{subj}: {why}; {rec['status']}" + (f" ({rec['group']})" if rec["group"] else
                                                     f" (median in {rec['bin']})") +
                f"; ITA {_deg(rec['ita'])}° [{_deg(rec['ita_low'])}, {_deg(rec['ita_high'])}], L* {_deg(rec['L'])}; "
                f"{rec['n_fit']} of {rec['n_photos']} photos fit; {100 * rec['confidence']:.0f}% in its bin")
        rows.append({"subject": subj, "why": why, "label": head, "tiles": tiles})
    return rows


def marked_face(rgb, landmarks, white_balance: str) -> np.ndarray:
    """The aligned face with its measured skin pixels tinted green and the region's outline kept visible."""
    lab, mask = colour.face_skin(rgb, landmarks, white_balance)
    face = norm_crop(rgb, np.asarray(landmarks, np.float32).reshape(5, 2)).astype(np.float64)
    face[mask] = 0.55 * face[mask] + 0.45 * np.array([0.0, 255.0, 0.0])
    edge = colour.region_mask() & ~mask
    face[edge] = 0.7 * face[edge] + 0.3 * np.array([255.0, 0.0, 255.0])  # in the region, not skin: magenta
    return face.clip(0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------- groups
def subject_groups(plan: Plan, skin: Skin, settings, attributes_file) -> tuple[dict, list[str]]:
    """(attribute -> {"values": per subject (in plan.subjects' order; "" = no group), "groups": ordered names,
    "subjects": {group: count}, "unassigned": count, "source": where it came from}; the attributes file's
    notes)."""
    subjects = plan.subjects
    file_attrs, notes = read_attributes(attributes_file, subjects) if attributes_file else ({}, [])
    meta = subject_metadata(plan)
    out = {}
    for a in settings.by:
        if a == SKIN:
            values, groups, source = skin_groups(subjects, skin, settings)
        elif a in file_attrs:
            values, source = file_attrs[a], f"dataset.attributes ({attributes_file})"
            groups = sorted(set(values) - {""})
        elif a in meta:
            values, source = meta[a], f"the dataset's metadata ({plan.dataset.name})"
            groups = sorted(set(values) - {""})
        else:
            known = sorted({SKIN, *file_attrs, *meta})
            raise ConfigError(f"differentials.by: {a} is not an attribute of this run; known: {', '.join(known)}")
        groups = [g for g in groups if g in set(values)]
        out[a] = {"values": values, "groups": groups, "source": source,
                  "subjects": {g: int(sum(v == g for v in values)) for g in groups},
                  "unassigned": int(sum(v == "" for v in values))}
    return out, notes


def skin_groups(subjects: list, skin: Skin, settings) -> tuple[list, list, str]:
    """Each subject's skin-tone group: the bin of the scale (``settings.skin_scale``: the ITA in Chardon's
    categories or K quantile groups, or K quantile groups of L*) its median falls in, kept when at least
    ``settings.min_group_confidence`` of its bootstrap medians fall in the same bin, else set aside as uncertain.
    Sets each subject's ``group``, ``bin`` (where its median falls, set aside or not), ``confidence`` and
    ``status``; returns (groups per subject, "" where none; the bins lightest first; where they come from), and
    leaves the count of every bin, measured and set aside, in ``skin.bins``."""
    rule, key = settings.ita_groups, ("L" if settings.skin_scale == "lightness" else "ita")
    if key == "L" and rule == "chardon":
        raise ConfigError("differentials.skin_scale=lightness groups subjects by quantiles of L*: set "
                          "differentials.ita_groups=K (e.g. 3); Chardon's categories are bins of the ITA")
    median = {s: v[key] for s, v in skin.per_subject.items() if s in skin.resampled}
    if rule == "chardon":
        names = colour.chardon_order()  # lightest first; index 0 = very light

        def bin_of(x):
            x = np.asarray(x, float)
            return np.where(np.isfinite(x), np.sum(x[..., None] <= np.array([b for _, b in colour.CHARDON[:-1]]), -1), -1)
        ranges = [f"ITA > {low:g}°" if i == 0 else f"ITA {low:g}° to {colour.CHARDON[i - 1][1]:g}°" if np.isfinite(low)
                  else f"ITA <= {colour.CHARDON[i - 1][1]:g}°" for i, (_, low) in enumerate(colour.CHARDON)]
        source = "ITA (median over each subject's fit colour photos), Chardon's categories"
    else:
        k = int(rule)
        values = np.array(list(median.values()), float)
        edges = np.percentile(values, np.linspace(0, 100, k + 1)) if values.size else np.zeros(k + 1)
        unit = "L*" if key == "L" else "ITA"
        low_first = [f"Q{i + 1} {unit} [{edges[i]:.0f}, {edges[i + 1]:.0f}]" for i in range(k)]
        names = low_first[::-1]  # Q1 is the lowest (darkest); listed lightest first as Chardon's categories are
        ranges = [n.split(" ", 1)[1] for n in names]

        def bin_of(x):
            x = np.asarray(x, float)
            low = np.clip(np.searchsorted(edges[1:-1], x, side="right"), 0, k - 1)
            return np.where(np.isfinite(x), k - 1 - low, -1)
        source = (f"{'L* (perceptual lightness)' if key == 'L' else 'ITA'} (median over each subject's fit colour "
                  f"photos), {k} quantile groups of the subjects")
    counts = {n: {"measured": 0, "uncertain": 0} for n in names}
    for subj, m in median.items():
        rec, b = skin.per_subject[subj], int(bin_of(m))
        share = float(np.mean(bin_of(skin.resampled[subj][key]) == b))
        rec.update(bin=names[b], confidence=share)
        if share >= settings.min_group_confidence:
            rec.update(group=names[b], status="measured")
            counts[names[b]]["measured"] += 1
        else:
            rec.update(group="", status="uncertain",
                       reason=f"{100 * share:.0f}% of its bootstrap medians in {names[b]} (at least "
                              f"{100 * settings.min_group_confidence:g}% needed)")
            counts[names[b]]["uncertain"] += 1
    skin.bins = [{"bin": n, "range": r, **counts[n]} for n, r in zip(names, ranges)]
    return [skin.per_subject.get(s, {}).get("group", "") for s in subjects], names, source


def subject_metadata(plan: Plan) -> dict:
    """field -> per subject value: the single value its samples' metadata give ("" when none or conflicting)."""
    by: dict = {}
    for s in plan.dataset.references + plan.dataset.probes:
        for k, v in s.meta:
            if v not in ("", None):
                by.setdefault(k, {}).setdefault(s.subject, set()).add(str(v))
    return {k: [next(iter(d[s])) if len(d.get(s, ())) == 1 else "" for s in plan.subjects] for k, d in by.items()
            if all(len(x) == 1 for x in d.values())}  # per-image fields (date, pose) are not subject groups


def _name_key(name: str) -> str:
    """A subject name as the attributes file is matched on it when the exact name is absent: runs of spaces and
    underscores alike (LFW's folders are ``Aaron_Peirsol``, people write ``Aaron Peirsol``)."""
    return re.sub(r"[\s_]+", " ", name).strip()


def read_attributes(path, subjects: list) -> tuple[dict, list[str]]:
    """dataset.attributes: (column -> per subject value, "" for a subject the file does not name; the notes a
    reader needs: subjects matched only with spaces and underscores alike, subjects of the run the file does
    not name, names of the file that are no subject of the run). A file that names none of the run's subjects
    is a one-line error."""
    header, rows = read_csv_rows(path, "dataset.attributes")
    if not rows or "subject" not in header:
        raise ConfigError(f"dataset.attributes={path}: needs a header with a 'subject' column and at least one row")
    table: dict = {}
    for line, r in rows:
        r = {(k or "").strip(): (v or "").strip() for k, v in r.items() if k is not None}
        if r.get("subject", "") in table:
            raise ConfigError(f"dataset.attributes={path}, line {line}: subject {r['subject']} is listed twice")
        table[r.get("subject", "")] = r
    loose: dict = {}
    for name in table:
        loose.setdefault(_name_key(name), []).append(name)
    found, loosely = {}, []
    for s in subjects:
        if s in table:
            found[s] = table[s]
        elif len(loose.get(_name_key(s), ())) == 1:
            found[s] = table[loose[_name_key(s)][0]]
            loosely.append((loose[_name_key(s)][0], s))
    if not found:
        raise ConfigError(f"dataset.attributes={path} names none of the run's {len(subjects)} subjects (the file: "
                          f"{', '.join(repr(x) for x in list(table)[:3])}; the run: "
                          f"{', '.join(repr(x) for x in subjects[:3])}); the subject column must hold the run's "
                          f"subject names (folder names)")
    notes = []
    if loosely:
        notes.append(f"dataset.attributes: {len(loosely)} subject name(s) matched with spaces and underscores taken "
                     f"alike (e.g. {loosely[0][0]!r} as the subject {loosely[0][1]})")
    missing = [s for s in subjects if s not in found]
    if missing:
        notes.append(f"dataset.attributes names {len(found)} of the run's {len(subjects)} subjects; the other "
                     f"{len(missing)} are in no group and left out of every per-group figure ("
                     f"{', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})")
    used = {id(r) for r in found.values()}
    extra = [n for n, r in table.items() if id(r) not in used]
    if extra:
        notes.append(f"dataset.attributes: {len(extra)} subject(s) of the file are not in this run (ignored: "
                     f"{', '.join(extra[:5])}{', ...' if len(extra) > 5 else ''})")
    cols = [c for c in header if c != "subject"]
    return {c: [found.get(s, {}).get(c, "") for s in subjects] for c in cols}, notes


def agreement(attrs: dict) -> dict:
    """For each labelled attribute: how its groups and the measured skin-tone groups agree (counts of subjects)."""
    if SKIN not in attrs:
        return {}
    skin = attrs[SKIN]
    out = {}
    for a, x in attrs.items():
        if a == SKIN:
            continue
        table = {g: {t: int(sum(1 for u, v in zip(x["values"], skin["values"]) if u == g and v == t))
                     for t in skin["groups"] + [""]} for g in x["groups"]}
        out[a] = {"rows": x["groups"], "columns": skin["groups"] + ["(no skin-tone group)"],
                  "counts": [[table[g][t] for t in skin["groups"] + [""]] for g in x["groups"]],
                  **label_agreement(x["values"], skin["values"], skin["groups"])}
    return out


def label_agreement(labels: list, measured: list, bins: list) -> dict:
    """How far the measured groups agree with labels, over the subjects that have both: Cohen's kappa
    (``sklearn.metrics.cohen_kappa_score``) where the labels are bins of the same scale (a user's skin-tone
    labels), else Cramer's V of the contingency table (``scipy.stats.contingency.association``: labels such as
    race are not skin-tone bins, so agreement beyond chance is the association, not kappa)."""
    both = [(u, v) for u, v in zip(labels, measured) if u and v]
    if len(both) < 2 or len({u for u, _ in both}) < 2 or len({v for _, v in both}) < 2:
        return {"statistic": "none", "value": float("nan"), "n_subjects": len(both),
                "why": "fewer than two labels or two measured groups among the subjects with both"}
    if {u for u, _ in both} <= set(bins):
        return {"statistic": "cohen_kappa", "value": float(cohen_kappa_score(*zip(*both))), "n_subjects": len(both)}
    rows, cols = sorted({u for u, _ in both}), sorted({v for _, v in both})
    table = np.array([[sum(1 for u, v in both if u == r and v == c) for c in cols] for r in rows])
    return {"statistic": "cramers_v", "value": float(stats.contingency.association(table, method="cramer")),
            "n_subjects": len(both)}


# ------------------------------------------------------------------------------------------- counts
@dataclass
class RowCounts:
    """A row's per-subject counts at the threshold, before any grouping: samples and failures (FTA),
    genuine attempts compared and false non-matches (FNMR), acquired references and probes per subject
    (how many impostor comparisons any grouping has), and the false matches as subject pairs."""

    base: dict  # failed, samples, fnm, compared, attempts: (n_subjects,)
    refs_ok: np.ndarray  # acquired references per subject (the impostor side)
    probes_ok: np.ndarray
    fm_pairs: np.ndarray  # (m, 3): reference subject, probe subject, false matches between them
    listed: np.ndarray | None = None  # listed impostor pairs: (k, 2) reference subject, probe subject (compared)

    def _pairs_counts(self, code: np.ndarray):
        """(reference group, probe subject) counts of impostor comparisons and of false matches."""
        n = len(self.refs_ok)
        if self.listed is not None:
            cmp = self.listed
            within = code[cmp[:, 0]] == code[cmp[:, 1]]
            imp = np.bincount(cmp[within, 1], minlength=n).astype(float)
        else:
            g = max(int(code.max()) + 1, 1) if code.size else 1
            refs_in = np.bincount(code[code >= 0], weights=self.refs_ok[code >= 0], minlength=g)
            imp = np.where(code >= 0, self.probes_ok * (refs_in[np.maximum(code, 0)] - self.refs_ok), 0.0)
        fm = self.fm_pairs
        same = code[fm[:, 0]] == code[fm[:, 1]] if len(fm) else np.zeros(0, bool)
        fmc = np.bincount(fm[same, 1], weights=fm[same, 2], minlength=n) if len(fm) else np.zeros(n)
        return imp, fmc

    def per_group(self, code: np.ndarray, n_groups: int) -> dict:
        """:data:`fr_eval.differentials.COUNTS` with the impostors counted within each subject's group."""
        imp, fm = self._pairs_counts(code)
        return {**self.base, "impostor": np.where(code >= 0, imp, 0.0), "fm": np.where(code >= 0, fm, 0.0)}

    def between(self, code: np.ndarray, n_groups: int, bootstrap: dict | None = None) -> dict:
        """FMR between groups: (reference group x probe group) impostor comparisons and false matches, each
        cell's 95% interval over its probe subjects (the unit of an FMR here, as within a group: rule of 3 over
        them at zero false matches, else their bootstrap) and the subjects on each side."""
        n = len(self.refs_ok)
        # per (reference group, probe subject): comparisons and false matches
        cmp_s, fm_s = np.zeros((n_groups, n)), np.zeros((n_groups, n))
        ok = code >= 0
        if self.listed is not None:
            c = self.listed[ok[self.listed[:, 0]] & ok[self.listed[:, 1]]]
            np.add.at(cmp_s, (code[c[:, 0]], c[:, 1]), 1.0)
        else:
            r = np.bincount(code[ok], weights=self.refs_ok[ok], minlength=n_groups)
            own = np.zeros((n_groups, n))  # a probe is never compared with its own subject's references
            own[code[ok], np.flatnonzero(ok)] = self.refs_ok[ok]
            cmp_s = np.where(ok, self.probes_ok * (r[:, None] - own), 0.0)
        fm = self.fm_pairs
        if len(fm):
            f = fm[ok[fm[:, 0]] & ok[fm[:, 1]]]
            np.add.at(fm_s, (code[f[:, 0]], f[:, 1]), f[:, 2])
        cmp, fmm = np.zeros((n_groups, n_groups)), np.zeros((n_groups, n_groups))
        low, high = np.full((n_groups, n_groups), np.nan), np.full((n_groups, n_groups), np.nan)
        for j in range(n_groups):
            probes = code == j
            cmp[:, j], fmm[:, j] = cmp_s[:, probes].sum(1), fm_s[:, probes].sum(1)
            for i in range(n_groups):
                iv = rate_interval(fm_s[i, probes], cmp_s[i, probes], **interval_kwargs(bootstrap))
                low[i, j], high[i, j] = iv.low, iv.high
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(cmp > 0, fmm / np.maximum(cmp, 1), np.nan)
        subjects = np.bincount(code[ok], minlength=n_groups)
        return {"comparisons": cmp.tolist(), "false_matches": fmm.tolist(), "fmr": rate.tolist(),
                "low": low.tolist(), "high": high.tolist(), "subjects": subjects.tolist()}


def row_counts(plan: Plan, acquired: Acquired, row, genuine: dict, threshold: float, metric: str,
               cache: dict | None = None, high: dict | None = None) -> RowCounts:
    """One row's :class:`RowCounts` at ``threshold``; its impostors are the row's own variants' when the run
    compares impostors per scenario, else the baseline's (as the row's FMR is; counted once, kept in ``cache``;
    from the evaluate stage's high cells of that pair of variants, ``high``, where it kept them)."""
    n = len(plan.subjects)
    rs, ps = plan.subject_index("reference"), plan.subject_index("probe")
    acqs = acquired.acquisitions

    def side(role, variant):
        return SideData.from_acquisitions([acqs[(s.rel, variant)] for s in plan.samples(role)], metric, role)

    ref, probe = side("reference", row.reference_variant), side("probe", row.probe_variant)
    in_fta = plan.fta_references
    failed = np.bincount(rs[in_fta], (~ref.ok[in_fta]).astype(float), n) + np.bincount(ps, (~probe.ok).astype(float), n)
    samples = (np.bincount(rs[in_fta], minlength=n) + np.bincount(ps, minlength=n)).astype(float)
    subj, gen = np.asarray(genuine["subject"]), np.asarray(genuine["genuine"])
    base = {"failed": failed, "samples": samples, "fnm": np.bincount(subj[gen < threshold], minlength=n).astype(float),
            "compared": np.bincount(subj, minlength=n).astype(float),
            "attempts": np.bincount(ps[plan.comparisons.genuine[:, 1]], minlength=n).astype(float)}
    key = (row.reference_variant, row.probe_variant) if plan.per_scenario_impostors else ("original", "original")
    cache = {} if cache is None else cache
    if key not in cache:
        cache[key] = impostor_counts(plan, side("reference", key[0]), side("probe", key[1]), threshold,
                                     (high or {}).get(key))
    return RowCounts(base, *cache[key])


def impostor_counts(plan: Plan, ref: SideData, probe: SideData, threshold: float, high=None) -> tuple:
    """(acquired references per subject, acquired probes per subject, false-match subject pairs, the listed
    impostor pairs' subjects or None) of one pair of variants at ``threshold``. The false matches come from
    ``high`` (the scan's :class:`fr_eval.scan_taps.HighCells`) when it holds every cell at ``threshold``, else
    from a scan of the products made again."""
    n = len(plan.subjects)
    rs, ps = plan.subject_index("reference"), plan.subject_index("probe")
    comps = plan.comparisons
    if comps.impostor is not None:  # listed impostor pairs (pairs protocols, a sampled set): the row's own scores
        s, both = pair_scores(ref, probe, comps.impostor)
        pairs = comps.impostor[both]
        hit = pairs[s >= threshold]
        return (np.zeros(n), np.zeros(n), _pair_counts(rs[hit[:, 0]], ps[hit[:, 1]]),
                np.column_stack([rs[pairs[:, 0]], ps[pairs[:, 1]]]))
    found = high.at_or_above(threshold) if high is not None else None
    fm = (false_match_pairs(ref, probe, rs, ps, threshold, plan.stream.budget_bytes) if found is None else
          _pair_counts(rs[found[0]], ps[found[1]]))
    return np.bincount(rs, ref.ok.astype(float), n), np.bincount(ps, probe.ok.astype(float), n), fm, None


def false_match_pairs(ref: SideData, probe: SideData, rs, ps, threshold: float, budget: int) -> np.ndarray:
    """Every cross-subject (reference, probe) score at or above ``threshold``, as (reference subject, probe
    subject, count) rows: the blocked products of the impostor scan (never every score at once)."""
    r_idx, p_idx = np.flatnonzero(ref.ok), np.flatnonzero(probe.ok)
    found_r, found_p = [], []
    step_rows = 0
    for block in products(ref.emb[r_idx], rs[r_idx], probe.emb[p_idx], ps[p_idx], budget):
        i, j = block.cells_at_or_above(threshold)
        found_r.append(rs[r_idx[step_rows + i]])
        found_p.append(ps[p_idx[j]])
        step_rows += block.scores.shape[0]
    return _pair_counts(np.concatenate(found_r or [_NONE]), np.concatenate(found_p or [_NONE]))


_NONE = np.zeros(0, np.int64)


def _pair_counts(ref_subjects, probe_subjects) -> np.ndarray:
    """(reference subject, probe subject, count) rows, each subject pair once with its number of cells."""
    pairs = np.column_stack([np.asarray(ref_subjects, np.int64), np.asarray(probe_subjects, np.int64)])
    if len(pairs) == 0:
        return np.zeros((0, 3), np.int64)
    keys, counts = np.unique(pairs, axis=0, return_counts=True)
    return np.column_stack([keys, counts]).astype(np.int64)


def colourisation_pairs(plan: Plan) -> list[tuple[str, str]]:
    """(greyscale row, colourised row) on the same sides: each row with a colourised variant against the row
    with greyscale in its place (scenario 4 against 3, 5 against 2)."""
    by_variants = {(r.reference_variant, r.probe_variant): r.label for r in plan.rows}
    out = []
    for r in plan.rows:
        if "colourised" not in r.reference_variant + r.probe_variant:
            continue
        grey = tuple("greyscale" if v.startswith("colourised") else v for v in (r.reference_variant, r.probe_variant))
        if grey in by_variants:
            out.append((by_variants[grey], r.label))
    return out


# ------------------------------------------------------------------------------------------- colour fidelity
def colour_fidelity(plan: Plan, acquired: Acquired, skin_attr: dict | None, store, bootstrap) -> dict:
    """Each colourised image kept in the store against its original: :func:`fr_eval.colour.fidelity` per
    image; per colouriser (and per skin-tone group) the mean of each figure with a subject-bootstrap interval."""
    variants = [v for name, v in plan.variants.items() if name.startswith("colourised")]
    if not variants:
        return {"reason": "no colourised variant in this run (scenarios 4 and 5 make them)"}
    samples = list({s.rel: s for s in plan.dataset.references + plan.dataset.probes}.values())
    shas = store.file_shas([s.path for s in samples])
    group_of = dict(zip(plan.subjects, skin_attr["values"])) if skin_attr else {}
    work = []
    for v in variants:
        for s in samples:
            a = acquired.acquisitions.get((s.rel, "original"))
            sha = shas.get(s.path)
            if a is None or not a.ok or sha is None:
                continue
            work.append((v, s, a, store.image_path(v.name, sha, v.key(s))))

    def one(item):
        v, s, a, kept = item
        if not kept.is_file():
            return None
        try:
            o, c = load_image(s.path), load_image(kept)
        except ImageLoadError:
            return None
        if colour.is_grey(o) or o.shape != c.shape:
            return None
        return {"colouriser": v.colouriser.name, "path": s.rel, "subject": s.subject,
                "skin_tone": group_of.get(s.subject, ""), **colour.fidelity(o, c, a.detection.landmarks)}

    with ThreadPoolExecutor(_cpus()) as pool:
        images = [x for x in pool.map(one, work) if x is not None]
    return {"images": images, "table": fidelity_table(images, bootstrap),
            "not_measured": len(work) - len(images),
            "not_measured_why": "the colourised image is not kept in the store, or its original is greyscale or "
                                "unreadable"}


def fidelity_table(images: list, bootstrap) -> list[dict]:
    """Per colouriser, then per (colouriser, skin-tone group): n images and subjects, and each figure's mean
    with its 95% subject-bootstrap interval."""
    out = []
    keys = sorted({(x["colouriser"], "(all)") for x in images} | {(x["colouriser"], x["skin_tone"]) for x in images
                                                                  if x["skin_tone"]})
    for col, grp in keys:
        sel = [x for x in images if x["colouriser"] == col and (grp == "(all)" or x["skin_tone"] == grp)]
        subj = np.array([x["subject"] for x in sel], dtype=object)
        row = {"colouriser": col, "skin_tone": grp, "n_images": len(sel), "n_subjects": int(len(set(subj)))}
        for f in FIDELITY:
            v = np.array([x[f] for x in sel], float)
            ok = np.isfinite(v)
            row[f] = float(v[ok].mean()) if ok.any() else float("nan")
            row[f"{f}_interval"] = mean_interval(v[ok], subj[ok], **interval_kwargs(bootstrap))
        out.append(row)
    return out


# ------------------------------------------------------------------------------------------- score files
#: the paper's colourised scenarios and their greyscale counterparts, by scenario id (score files name rows only)
PAPER_PAIRS = {"4": "3", "5": "2"}


def score_differentials(table, ev, cfg) -> Differentials:
    """report.differentials for score files: the groups of ``dataset.attributes`` (joined on the files'
    subject columns), each row counted per subject at the baseline's threshold as a scenario run counts it
    (transaction level: a genuine comparison without a score failed to acquire; impostors within a group:
    both subjects in it), and rows "4 [x]"/"5 [x]" against "3"/"2" where the files have them. Skin tone
    and colour fidelity need images: they are said to be absent."""
    settings = cfg.differentials
    names = sorted({str(x) for x in np.concatenate([table.reference_subject, table.probe_subject])} - {""})
    idx = {x: i for i, x in enumerate(names)}
    file_attrs = {a: [m.get(x, "") for x in names] for a, m in table.groups.items()}
    notes = []
    source = {a: "the score files' group columns (reference_<name>, probe_<name>)" for a in file_attrs}
    if cfg.dataset.attributes:
        given, notes = read_attributes(cfg.dataset.attributes, names)
        file_attrs.update(given)
        source.update({a: f"dataset.attributes ({cfg.dataset.attributes})" for a in given})
    if not file_attrs:
        raise ConfigError("report.differentials on score files needs group columns in the file (reference_<name>, "
                          "probe_<name>) or dataset.attributes=<csv> (subject plus group columns): the files carry "
                          "no images to measure skin tone on")
    by = [a for a in settings.by if a != SKIN] or sorted(file_attrs)
    base = next(r for r in ev.rows if r["label"] == ev.baseline)
    fmr, ok = compared_fmr(cfg.fmr, list(ev.thresholds), int(base["n_impostor"]), cfg.report.min_false_matches)
    t = ev.thresholds[fmr]
    unknown = [a for a in by if a not in file_attrs]
    if unknown:
        raise ConfigError(f"differentials.by: {', '.join(unknown)} cannot be grouped by on these score files; their "
                          f"groups: {', '.join(sorted(file_attrs))}")
    bootstrap, labels = cfg.intervals(), [r["label"] for r in ev.rows]
    counts = {r: _score_counts(table, r, ev.baseline, t, idx) for r in labels}
    pairs = [(f"{PAPER_PAIRS[x.split()[0]]}", x) for x in labels if x.split()[0] in PAPER_PAIRS
             and PAPER_PAIRS[x.split()[0]] in labels]
    attrs, rows, effects = {}, {}, {}
    for a in by:
        values = file_attrs[a]
        groups = sorted(set(values) - {""})
        code = np.array([groups.index(v) if v else -1 for v in values])
        attrs[a] = {"groups": groups, "source": source[a],
                    "subjects": {g: int(sum(v == g for v in values)) for g in groups},
                    "unassigned": int(sum(v == "" for v in values))}
        rows[a], effects[a] = group_rows(counts, code, groups, pairs, settings.alpha, bootstrap,
                                         cfg.report.min_subjects)
    return Differentials(attributes=attrs, skin={}, rows=rows, colourisation=effects, threshold=t,
                         fidelity={"reason": "score files carry no images (no colourised image to compare)"},
                         settings={"by": by, "alpha": settings.alpha, "source": "score files",
                                   "operating_point": f"FMR<={100 * fmr:g}%", "fmr": fmr, "supported": ok,
                                   "min_false_matches": cfg.report.min_false_matches},
                         notes=notes)


def _score_counts(table, row: str, baseline: str, threshold: float, idx: dict) -> RowCounts:
    """One score-file row's :class:`RowCounts`: genuine comparisons by probe subject (no score: failed), and its
    impostor comparisons (the baseline's where the row has none) as listed subject pairs."""
    n = len(idx)
    gen = (table.row == row) & table.genuine
    ps = np.array([idx.get(str(x), -1) for x in table.probe_subject[gen]])
    s = table.score[gen]
    named = ps >= 0
    ok = np.isfinite(s)

    def count(mask):
        return np.bincount(ps[named & mask], minlength=n).astype(float)

    base = {"failed": count(~ok), "samples": count(np.ones_like(ok)), "fnm": count(ok & (s < threshold)),
            "compared": count(ok), "attempts": count(np.ones_like(ok))}
    imp = (table.row == row) & ~table.genuine
    if not imp.any():
        imp = (table.row == baseline) & ~table.genuine
    r = np.array([idx.get(str(x), -1) for x in table.reference_subject[imp]])
    p = np.array([idx.get(str(x), -1) for x in table.probe_subject[imp]])
    keep = (r >= 0) & (p >= 0) & np.isfinite(table.score[imp])
    hit = keep & (table.score[imp] >= threshold)
    return RowCounts(base, np.zeros(n), np.zeros(n), _pair_counts(r[hit], p[hit]),
                     listed=np.column_stack([r[keep], p[keep]]))
