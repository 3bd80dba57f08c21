"""Face-image quality figures (after the evaluate stage): Table 2 per variant and estimator, and per
scenario row and estimator the error-versus-discard curve (EDC) of its genuine comparisons at the
baseline's threshold, with subject-bootstrap intervals."""
from __future__ import annotations

import numpy as np

from .. import metrics
from ..metrics import interval_kwargs


def kept_fnmr_interval(genuine, subject, kept, threshold: float, bootstrap: dict | None) -> dict:
    """95% interval of the FNMR of the ``kept`` genuine scores (all when None) at the fixed threshold, from
    per-subject counts (:func:`fr_eval.metrics.rate_interval`); the discard level is held fixed, as the
    threshold is. No interval (method "none") when the scores' subjects are unknown."""
    if subject is None:
        return metrics.Interval(float("nan"), float("nan"), "none").as_dict()
    keep = np.ones(len(genuine), bool) if kept is None else kept
    _, subj = np.unique(np.asarray(subject), return_inverse=True)
    n = int(subj.max()) + 1 if subj.size else 0
    err = (np.asarray(genuine) < threshold) & keep
    return metrics.rate_interval(np.bincount(subj, weights=err, minlength=n), np.bincount(subj, weights=keep, minlength=n),
                           **interval_kwargs(bootstrap)).as_dict()


def quality_figures(ds, estimators, qvals, needed, scores, compared, threshold: float, max_discard: float,
                    bootstrap: dict | None = None) -> dict:
    """Table 2 (per variant and estimator, over the samples acquired in that variant), the values
    themselves (for the CDF), and per scenario row and estimator the error-versus-discard curve
    of its genuine comparisons (pair quality = the lower of the two samples' utilities).
    ``scores[row]["genuine"]`` are the row's genuine scores (``["subject"]``: each one's subject
    index, for the FNMRs' subject-bootstrap intervals), ``compared[row]`` its (reference variant,
    probe variant, the (reference, probe) index pairs of those scores)."""
    names = [e.name for e in estimators]
    variants = sorted({v for _, v in needed}, key=lambda v: (v != "original", v != "greyscale", v))
    values, table2 = {}, []
    for v in variants:
        used = (ds.references if ("reference", v) in needed else []) + (ds.probes if ("probe", v) in needed else [])
        smp = {s.rel: s for s in used}.values()  # the samples this variant was made of; an image counts once
        for e in estimators:
            got = [qvals.get((s.rel, v), {}).get(e.name, (None, "not acquired")) for s in smp]
            x = np.array([g[0] for g in got if g[0] is not None], dtype=float)
            values[(v, e.name)] = x
            table2.append({"variant": v, "estimator": e.name, "unit": e.unit, "n_samples": len(got),
                           "n": int(x.size), "n_undefined": len(got) - int(x.size),
                           **({"mean": float(x.mean()), "median": float(np.median(x)), "std": float(x.std()),
                               "min": float(x.min()), "max": float(x.max())} if x.size else
                              {k: float("nan") for k in ("mean", "median", "std", "min", "max")})})

    edc = edc_rows(ds, estimators, qvals, scores, compared, threshold, max_discard, bootstrap)
    return {"table2": table2, "values": values, "edc": edc, "max_discard": max_discard, "names": names,
            "variants": variants}


def edc_rows(ds, estimators, qvals, scores, compared, threshold: float, max_discard: float,
             bootstrap: dict | None) -> list[dict]:
    """Per scenario row and estimator, the error-versus-discard curve of the row's genuine comparisons
    (pair quality = the lower of the two samples' utilities), its FNMRs at 0 and at ``max_discard``
    and its areas, each with its interval where the scores' subjects are known."""
    def utilities(samples, variant, e):  # one per sample; -inf where undefined (discarded first)
        raw = np.array([qvals.get((s.rel, variant), {}).get(e.name, (None, None))[0] for s in samples], dtype=float)
        return np.where(np.isnan(raw), -np.inf, e.utility(raw))

    edc, at_key = [], f"fnmr_at_{max_discard:g}"
    for label, (rv, pv, pairs) in compared.items():
        gen, subject = scores[label]["genuine"], scores[label].get("subject")
        if gen.size == 0:
            continue
        at_0 = kept_fnmr_interval(gen, subject, None, threshold, bootstrap)  # the same for every estimator
        for e in estimators:
            pair_q = np.fmin(utilities(ds.references, rv, e)[pairs[:, 0]], utilities(ds.probes, pv, e)[pairs[:, 1]])
            d, f = metrics.error_versus_discard(gen, pair_q, threshold)
            area, random_area = metrics.edc_area(d, f, max_discard), f[0] * max_discard
            kept = metrics.kept_after_discard(pair_q, max_discard)
            areas = ({k: v.as_dict() for k, v in metrics.edc_area_interval(
                gen, pair_q, threshold, subject, max_discard, **interval_kwargs(bootstrap)).items()}
                     if subject is not None else {})
            edc.append({"row": label, "estimator": e.name, "n_comparisons": int(gen.size),
                        "fnmr_at_0": float(f[0]), at_key: float(f[np.searchsorted(d, max_discard, side="right") - 1]),
                        "n_kept": int(kept.sum()), "intervals": {
                            "fnmr_at_0": at_0, at_key: kept_fnmr_interval(gen, subject, kept, threshold, bootstrap),
                            **areas},
                        "area": area, "area_minus_random": area - random_area, "area_random_discard": random_area,
                        "area_relative_to_random": area / random_area if random_area > 0 else float("nan"),
                        "discard": d, "fnmr": f})
    return edc
