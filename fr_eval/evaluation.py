"""From acquisitions and comparisons to the figures of one scenario row (pure computation)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import metrics as M


@dataclass
class SideData:
    """Acquisitions of all references (or all probes) in one variant, as arrays."""

    ok: np.ndarray  # (n,) bool
    emb: np.ndarray  # (n, d) L2-normalised, zero rows where not ok

    @classmethod
    def from_acquisitions(cls, acqs) -> "SideData":
        ok = np.array([a.ok for a in acqs], dtype=bool)
        dim = next((a.embedding.size for a in acqs if a.ok), 1)
        emb = np.zeros((len(acqs), dim), dtype=np.float32)
        for i, a in enumerate(acqs):
            if a.ok:
                v = a.embedding.astype(np.float32).ravel()
                emb[i] = v / np.linalg.norm(v)
        return cls(ok=ok, emb=emb)


def pair_scores(ref: SideData, probe: SideData, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of each (reference, probe) pair whose two samples were acquired.

    Returns (scores of the compared pairs, boolean mask over ``pairs`` of those compared).
    """
    if len(pairs) == 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    both = ref.ok[pairs[:, 0]] & probe.ok[pairs[:, 1]]
    p = pairs[both]
    scores = np.einsum("ij,ij->i", ref.emb[p[:, 0]], probe.emb[p[:, 1]]).astype(np.float64)
    return scores, both


def evaluate_row(*, ref: SideData, probe: SideData, genuine_pairs: np.ndarray, impostor_scores: np.ndarray,
                 thresholds: dict, fmr_target: float, ref_subject_idx: np.ndarray,
                 probe_subject_idx: np.ndarray, n_subjects: int, bootstrap: dict) -> tuple[dict, np.ndarray]:
    """Figures for one row. ``thresholds`` maps each FMR to the threshold fixed on the baseline.

    Returns (figures, genuine scores of compared pairs).
    """
    gen, compared = pair_scores(ref, probe, genuine_pairs)
    thr = thresholds[fmr_target]
    n_samples = ref.ok.size + probe.ok.size
    n_failed = int((~ref.ok).sum() + (~probe.ok).sum())
    fta = n_failed / n_samples
    n_gen = len(genuine_pairs)
    failed_tx = ~compared
    fnmr = M.fnmr_at(gen, thr)
    fnmr_ = 0.0 if gen.size == 0 else fnmr
    eer, eer_thr = M.eer(gen, impostor_scores) if gen.size and impostor_scores.size else (float("nan"),) * 2

    # per-subject counts for the intervals (subjects are the resampling unit)
    def per_subject(idx, values):
        return np.bincount(idx, weights=values, minlength=n_subjects)

    failed_s = per_subject(ref_subject_idx, ~ref.ok) + per_subject(probe_subject_idx, ~probe.ok)
    samples_s = per_subject(ref_subject_idx, np.ones(ref.ok.size)) + per_subject(probe_subject_idx, np.ones(probe.ok.size))
    gen_subject = probe_subject_idx[genuine_pairs[:, 1]] if n_gen else np.zeros(0, dtype=int)
    attempts_s = np.bincount(gen_subject, minlength=n_subjects).astype(float)
    compared_s = np.bincount(gen_subject[compared], minlength=n_subjects).astype(float)
    fnm_s = np.bincount(gen_subject[compared][gen < thr], minlength=n_subjects).astype(float)
    failed_tx_s = np.bincount(gen_subject[failed_tx], minlength=n_subjects).astype(float)
    kw = dict(n_resamples=bootstrap.get("n_resamples", 1000), confidence=bootstrap.get("confidence", 0.95),
              seed=bootstrap.get("seed", 0))
    row = {
        "n_samples": int(n_samples),
        "n_failed": n_failed,
        "n_failed_references": int((~ref.ok).sum()),
        "n_failed_probes": int((~probe.ok).sum()),
        "fta": fta,
        "fta_transaction": float(failed_tx.mean()) if n_gen else float("nan"),
        "n_genuine": int(n_gen),
        "n_genuine_compared": int(gen.size),
        "n_impostor": int(impostor_scores.size),
        "fmr_target": fmr_target,
        "threshold": thr,
        "fmr_achieved": M.fmr_at(impostor_scores, thr),
        "n_false_non_matches": int((gen < thr).sum()),
        "fnmr": fnmr,
        "frr": M.frr(fta, fnmr_),
        "frr_transaction": float((failed_tx.sum() + (gen < thr).sum()) / n_gen) if n_gen else float("nan"),
        "far": M.far(M.fmr_at(impostor_scores, thr), fta),
        "d_prime": M.d_prime(gen, impostor_scores),
        "eer": eer,
        "eer_threshold": eer_thr,
        "genuine_mean": float(gen.mean()) if gen.size else float("nan"),
        "genuine_std": float(gen.std()) if gen.size else float("nan"),
        "fnmr_at": {str(f): M.fnmr_at(gen, t) for f, t in thresholds.items()},
        "fmr_achieved_at": {str(f): M.fmr_at(impostor_scores, t) for f, t in thresholds.items()},
        "threshold_at": {str(f): t for f, t in thresholds.items()},
        "intervals": {
            "fta": M.rate_interval(failed_s, samples_s, **kw).as_dict(),
            "fta_transaction": M.rate_interval(failed_tx_s, attempts_s, **kw).as_dict(),
            "fnmr": M.rate_interval(fnm_s, compared_s, **kw).as_dict(),
            "frr": M.frr_interval(failed_s, samples_s, fnm_s, compared_s, attempts_s, **kw).as_dict(),
        },
    }
    return row, gen
