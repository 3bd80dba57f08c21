"""Identity preservation of generated images (pure functions on arrays).

Conventions, stated in every report:

- A generated image is compared with its identity's **enrolment**: the L2-normalised mean of the
  identity's reference embeddings (``template="mean"``, the headline), or the best-matching single
  reference (``template="best"``, the maximum cosine similarity over them).
- Images with no usable face (failures to acquire) are reported two ways: scored 0 and kept
  (FastComposer's convention) and left out (Anti-DreamBooth's), with the failure rate beside them.
- Verification uses a threshold fixed on *real* impostor comparisons of the same kind (an
  enrolment photo of one identity against another identity's enrolment), at the target FMR.
"""
from __future__ import annotations

import numpy as np

from . import metrics
from .metrics import interval_kwargs

TEMPLATES = ("mean", "best")


def pairwise_similarity(a: np.ndarray, b: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """``(len(a), len(b))`` similarities: dot products of L2-normalised rows (``cosine``), or
    ``1 - |x - y|^2 / 2`` of raw rows (``euclidean``, dlib's distance made a similarity)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if metric == "cosine":
        return a @ b.T
    sq = np.einsum("ij,ij->i", a, a)[:, None] + np.einsum("ij,ij->i", b, b)[None, :] - 2.0 * (a @ b.T)
    return 1.0 - np.maximum(sq, 0.0) / 2.0


def identity_scores(probe_emb: np.ndarray, ref_emb: np.ndarray, ref_identity: np.ndarray, n_identities: int,
                    template: str = "mean", metric: str = "cosine") -> np.ndarray:
    """``(n_probes, n_identities)`` similarities of probe embeddings to each identity's enrolment,
    built from the reference embeddings ``ref_emb`` of identity ``ref_identity``: with ``cosine``
    the rows are L2-normalised and the mean template is normalised again; with ``euclidean`` the
    rows are raw and the mean template is their plain mean. Identities with no reference get ``nan``."""
    if template not in TEMPLATES:
        raise ValueError(f"template={template}: choose from {', '.join(TEMPLATES)}")
    probe_emb = np.asarray(probe_emb, np.float64)
    ref_emb = np.asarray(ref_emb, np.float64)
    ref_identity = np.asarray(ref_identity, int)
    out = np.full((probe_emb.shape[0], n_identities), np.nan)
    if template == "mean":
        sums = np.zeros((n_identities, ref_emb.shape[1]))
        np.add.at(sums, ref_identity, ref_emb)
        counts = np.bincount(ref_identity, minlength=n_identities)
        has = (counts > 0) & (np.linalg.norm(sums, axis=1) > 0)
        centre = sums[has] / counts[has, None]
        if metric == "cosine":
            centre = centre / np.linalg.norm(centre, axis=1, keepdims=True)
        out[:, has] = pairwise_similarity(probe_emb, centre, metric)
        return out
    sims = pairwise_similarity(probe_emb, ref_emb, metric)
    for k in np.unique(ref_identity):
        out[:, k] = sims[:, ref_identity == k].max(axis=1)
    return out


def enrolment_impostor_scores(ref_emb: np.ndarray, ref_identity: np.ndarray, n_identities: int,
                              template: str = "mean", metric: str = "cosine") -> np.ndarray:
    """Every enrolment photo against every *other* identity's enrolment: the real impostor
    comparisons on which the verification threshold is fixed (the same kind of comparison as a
    generated image against its identity's enrolment)."""
    s = identity_scores(ref_emb, ref_emb, ref_identity, n_identities, template, metric)
    own = np.zeros_like(s, dtype=bool)
    own[np.arange(len(ref_identity)), np.asarray(ref_identity, int)] = True
    return s[~own & np.isfinite(s)]


def _summary(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"n": 0, "mean": float("nan"), "median": float("nan"), "std": float("nan"),
                "min": float("nan"), "max": float("nan")}
    return {"n": int(values.size), "mean": float(values.mean()), "median": float(np.median(values)),
            "std": float(values.std()), "min": float(values.min()), "max": float(values.max())}


def mean_interval(values: np.ndarray, identity: np.ndarray, *, n_resamples=metrics.N_RESAMPLES, confidence=metrics.CONFIDENCE, seed=0):
    """Percentile-bootstrap interval of the mean of ``values``, resampling identities."""
    ids, inv = np.unique(identity, return_inverse=True)
    if values.size == 0 or ids.size < 2:
        return {"low": float("nan"), "high": float("nan"), "method": "none"}
    sums = np.bincount(inv, weights=values, minlength=ids.size)
    counts = np.bincount(inv, minlength=ids.size).astype(float)
    lo, hi = metrics.subject_bootstrap({"s": sums, "n": counts}, lambda s, n: s.sum(-1) / n.sum(-1),
                                 n_resamples=n_resamples, confidence=confidence, seed=seed)
    return {"low": lo, "high": hi, "method": "identity_bootstrap"}


def audit_figures(*, acquired: np.ndarray, own: np.ndarray, other_max: np.ndarray, rank1_correct: np.ndarray,
                  identity: np.ndarray, threshold: float, csim: np.ndarray | None = None,
                  ssim: np.ndarray | None = None, bootstrap: dict | None = None, mate_rank: np.ndarray | None = None,
                  mate_score: np.ndarray | None = None, rank_k: int = 5, fpir_thresholds: dict | None = None,
                  ita_shift: np.ndarray | None = None) -> dict:
    """The figures of one group of generated images.

    ``acquired``: a face was found and embedded; ``own``: similarity to the image's own identity's
    enrolment (ignored where not acquired); ``other_max``: the highest similarity to any *other*
    enrolled identity; ``rank1_correct``: the own identity scored highest of all enrolled ones;
    ``identity``: the resampling unit of the intervals; ``csim``/``ssim``: ``nan`` where absent;
    ``mate_rank``/``mate_score``: the own identity's rank (0: none) and score in the 1:N search
    (:func:`fr_eval.identification.search_gallery`), giving the rank-``rank_k`` accuracy and, at each
    ``fpir_thresholds`` target (``{target: {"threshold": T, ...}}``), FNIR(rank 1, T) over all the
    images (a failure to acquire is a miss, as NIST FRTE counts it); ``ita_shift``: the generated face's
    skin tone (ITA, degrees) minus its identity's (``nan`` where either is missing). All rates are fractions.
    """
    kw = interval_kwargs(bootstrap)
    acquired = np.asarray(acquired, bool)
    own = np.where(acquired, np.asarray(own, float), 0.0)
    identity = np.asarray(identity)
    n, n_ok = int(acquired.size), int(acquired.sum())
    accepted = acquired & (own >= threshold)
    impersonating = acquired & (np.asarray(other_max, float) >= threshold)
    rank1 = acquired & np.asarray(rank1_correct, bool)
    ids, inv = np.unique(identity, return_inverse=True)

    def per_id(mask):
        return np.bincount(inv, weights=np.asarray(mask, float), minlength=ids.size)

    all_ = per_id(np.ones(n))
    ok_ = per_id(acquired)
    out = {
        "n": n, "n_identities": int(ids.size), "n_acquired": n_ok, "n_failed": n - n_ok,
        "fta": (n - n_ok) / n if n else float("nan"),
        "similarity_failures_as_zero": {**_summary(own), "interval": mean_interval(own, identity, **kw)},
        "similarity_failures_excluded": {**_summary(own[acquired]),
                                         "interval": mean_interval(own[acquired], identity[acquired], **kw)},
        "n_verified": int(accepted.sum()),
        "verified_rate": accepted.sum() / n_ok if n_ok else float("nan"),
        "verified_rate_of_all": accepted.sum() / n if n else float("nan"),
        "frr": (n - accepted.sum()) / n if n else float("nan"),
        "n_impersonating": int(impersonating.sum()),
        "impersonation_rate": impersonating.sum() / n_ok if n_ok else float("nan"),
        "rank1_accuracy": rank1.sum() / n_ok if n_ok else float("nan"),
        "rank1_accuracy_of_all": rank1.sum() / n if n else float("nan"),
        "intervals": {
            "fta": metrics.rate_interval(all_ - ok_, all_, **kw).as_dict(),
            "verified_rate": complement_interval(metrics.rate_interval(ok_ - per_id(accepted), ok_, **kw).as_dict()),
            "frr": metrics.rate_interval(all_ - per_id(accepted), all_, **kw).as_dict(),
            "verified_rate_of_all": complement_interval(metrics.rate_interval(all_ - per_id(accepted), all_, **kw).as_dict()),
            "impersonation_rate": metrics.rate_interval(per_id(impersonating), ok_, **kw).as_dict(),
            "rank1_accuracy": complement_interval(metrics.rate_interval(ok_ - per_id(rank1), ok_, **kw).as_dict()),
        },
    }
    if mate_rank is not None:
        out.update(_search_figures(acquired, np.asarray(mate_rank), np.asarray(mate_score, np.float64), rank_k,
                                   fpir_thresholds or {}, per_id, all_, ok_, kw))
    out.update(_optional_means(identity, kw, csim=csim, ssim=ssim, ita_shift=ita_shift))
    return out


def _optional_means(identity: np.ndarray, kw: dict, **arrays) -> dict:
    """Summary and identity-bootstrap interval of each per-image figure given (``nan`` where absent), for
    those with at least one value."""
    out = {}
    for name, arr in arrays.items():
        if arr is not None:
            v = np.asarray(arr, float)
            have = np.isfinite(v)
            if have.any():
                out[name] = {**_summary(v[have]), "interval": mean_interval(v[have], identity[have], **kw)}
    return out


def _search_figures(acquired, rank, score, k: int, thresholds: dict, per_id, all_, ok_, kw) -> dict:
    """Rank-k accuracy (of the acquired images) and FNIR(1, T) at each FPIR threshold (of all images)."""
    n, n_ok = int(acquired.size), int(acquired.sum())
    hit_k = acquired & (rank >= 1) & (rank <= k)
    out = {"rank_k": int(k), "rank_k_accuracy": hit_k.sum() / n_ok if n_ok else float("nan"), "fnir_at_fpir": {}}
    out_iv = complement_interval(metrics.rate_interval(ok_ - per_id(hit_k), ok_, **kw).as_dict())
    for target, rec in thresholds.items():
        miss = ~(acquired & (rank == 1) & (score >= rec["threshold"]))  # nan >= T is False: a miss
        out["fnir_at_fpir"][target] = {"threshold": rec["threshold"], "supported": rec.get("supported", True),
                                       "fnir": miss.sum() / n if n else float("nan"),
                                       "interval": metrics.rate_interval(per_id(miss), all_, **kw).as_dict()}
    return {**out, "rank_k_interval": out_iv}


def complement_interval(interval: dict) -> dict:
    """The interval of 1 - rate from the interval of the rate (errors counted, then turned round)."""
    return {"low": 1 - interval["high"], "high": 1 - interval["low"], "method": interval["method"]}
