"""Paired comparison of two rows on the same genuine attempts: does colourisation help?

Two Table 3 rows of one run (e.g. scenario 3, greyscale, and scenario 4, greyscale then
colourised) score the same genuine attempts (the same reference and probe images, each in the
row's variant) at the same threshold. So their error rates are compared attempt by attempt:

* the difference in FRR (transaction level: an attempt is rejected when a sample failed to acquire
  or its score is below the threshold) and in FNMR (over the attempts compared in both rows), as
  ``rate_b - rate_a`` (fractions), with a percentile bootstrap interval that resamples subjects
  with both rows' counts kept together (paired);
* an exact McNemar test on the discordant attempts (rejected by one row only):
  ``scipy.stats.binomtest(n_b_only, n_a_only + n_b_only, 0.5)``, two-sided;
* the difference in d' (the impostor side held fixed: the baseline's moments), with its paired
  subject-bootstrap interval.

Pure functions on NumPy arrays; the evaluate stage calls :func:`compare_rows`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from . import metrics as M


@dataclass(frozen=True)
class McNemar:
    """Discordant attempts: rejected by row a only, by row b only; the exact two-sided p-value."""

    a_only: int
    b_only: int
    p_value: float


def mcnemar_exact(errors_a, errors_b) -> McNemar:
    """Exact McNemar test of two paired error vectors (one bool per attempt, same attempts)."""
    a, b = np.asarray(errors_a, bool), np.asarray(errors_b, bool)
    if a.shape != b.shape:
        raise ValueError("paired errors must describe the same attempts (equal shapes)")
    a_only, b_only = int((a & ~b).sum()), int((b & ~a).sum())
    n = a_only + b_only
    p = 1.0 if n == 0 else float(stats.binomtest(b_only, n, 0.5).pvalue)
    return McNemar(a_only, b_only, p)


def paired_rate_difference(errors_a, errors_b, subject, n_subjects: int, *, n_resamples=M.N_RESAMPLES,
                           confidence=M.CONFIDENCE, seed=0) -> tuple[float, M.Interval]:
    """``mean(errors_b) - mean(errors_a)`` over the same attempts, and its interval from a subject
    bootstrap (a subject's attempts, in both rows, resampled together). Without a discordant
    attempt the difference is 0 and so is every resample: the interval is [0, 0], method "no
    discordant attempts"."""
    a, b = np.asarray(errors_a, bool), np.asarray(errors_b, bool)
    subject = np.asarray(subject, int)
    if a.size == 0:
        return float("nan"), M.Interval(float("nan"), float("nan"), "none")
    diff = float(b.mean() - a.mean())
    if not (a != b).any():
        return diff, M.Interval(0.0, 0.0, "no discordant attempts")

    def count(x):
        return np.bincount(subject, weights=x.astype(float), minlength=n_subjects)

    lo, hi = M.subject_bootstrap({"ea": count(a), "eb": count(b), "t": count(np.ones(a.size, bool))},
                                 lambda ea, eb, t: (eb.sum(-1) - ea.sum(-1)) / np.maximum(t.sum(-1), 1),
                                 n_resamples=n_resamples, confidence=confidence, seed=seed)
    return diff, M.Interval(lo, hi, "paired_subject_bootstrap")


def paired_d_prime_difference(gen_a, gen_b, subject_a, subject_b, n_subjects: int, impostor_a: tuple,
                              impostor_b: tuple, *, n_resamples=M.N_RESAMPLES, confidence=M.CONFIDENCE,
                              seed=0) -> tuple[float, M.Interval]:
    """d'(b) - d'(a), each row's d' over its own compared genuine scores against its impostors'
    (mean, population variance), with a paired subject-bootstrap interval (per-subject sums of both
    rows resampled together; the impostor side held fixed). Computed from sums (E[x^2] - mean^2),
    which agrees with :func:`fr_eval.metrics.d_prime` to float rounding."""
    def sums(g, s):
        g = np.asarray(g, np.float64)
        return (np.bincount(s, minlength=n_subjects).astype(float), np.bincount(s, g, minlength=n_subjects),
                np.bincount(s, g * g, minlength=n_subjects))

    def d_prime(n, s1, s2, imp):
        n_t = np.maximum(n.sum(-1), 1)
        mean = s1.sum(-1) / n_t
        var = np.maximum(s2.sum(-1) / n_t - mean * mean, 0.0)
        return np.abs(mean - imp[0]) / np.sqrt((var + imp[1]) / 2.0)

    if len(gen_a) == 0 or len(gen_b) == 0:
        return float("nan"), M.Interval(float("nan"), float("nan"), "none")
    ga, gb = sums(gen_a, np.asarray(subject_a, int)), sums(gen_b, np.asarray(subject_b, int))
    diff = float(d_prime(*gb, impostor_b) - d_prime(*ga, impostor_a))  # the rows' d', from their sums
    lo, hi = M.subject_bootstrap({"na": ga[0], "sa": ga[1], "qa": ga[2], "nb": gb[0], "sb": gb[1], "qb": gb[2]},
                                 lambda na, sa, qa, nb, sb, qb: d_prime(nb, sb, qb, impostor_b)
                                 - d_prime(na, sa, qa, impostor_a),
                                 n_resamples=n_resamples, confidence=confidence, seed=seed)
    return diff, M.Interval(lo, hi, "paired_subject_bootstrap")


@dataclass(frozen=True)
class RowComparison:
    """Row b against row a on the same genuine attempts, at the same threshold."""

    a: str
    b: str
    n_attempts: int
    n_compared_both: int
    frr_a: float
    frr_b: float
    frr_difference: float
    frr_interval: dict
    frr_mcnemar: dict
    fnmr_a: float
    fnmr_b: float
    fnmr_difference: float
    fnmr_interval: dict
    fnmr_mcnemar: dict
    d_prime_difference: float
    d_prime_interval: dict
    sentence: str

    def as_dict(self) -> dict:
        return asdict(self)


def compare_rows(a: str, b: str, gen_a, gen_b, subject, n_subjects: int, threshold: float, impostor_a: tuple,
                 impostor_b: tuple, *, bootstrap: dict, threshold_b: float | None = None,
                 noun: str = "scenario ") -> RowComparison:
    """Row ``b`` against row ``a``. ``gen_a`` / ``gen_b``: one score per genuine attempt (the same
    attempts in the same order), NaN where the attempt could not be compared; ``subject``: each
    attempt's subject index; ``impostor_a`` / ``impostor_b``: (mean, variance) of each row's
    impostor scores (for d'). FRR here is the transaction-level one (a failed attempt is rejected).
    ``threshold_b``: row b's own threshold where the rows come from two systems (``fr-eval compare``,
    each at its own operating point); ``noun`` precedes the labels in the sentence."""
    ga, gb = np.asarray(gen_a, np.float64), np.asarray(gen_b, np.float64)
    if ga.shape != gb.shape:
        raise ValueError(f"rows {a} and {b} do not hold the same genuine attempts")
    from .settings import interval_kwargs

    kw = interval_kwargs(bootstrap)
    ok_a, ok_b = np.isfinite(ga), np.isfinite(gb)
    thr_b = threshold if threshold_b is None else threshold_b
    rej_a, rej_b = ~ok_a | (np.where(ok_a, ga, 0) < threshold), ~ok_b | (np.where(ok_b, gb, 0) < thr_b)
    frr_d, frr_i = paired_rate_difference(rej_a, rej_b, subject, n_subjects, **kw)
    both = ok_a & ok_b
    fnm_a, fnm_b = ga[both] < threshold, gb[both] < thr_b
    fnmr_d, fnmr_i = paired_rate_difference(fnm_a, fnm_b, np.asarray(subject)[both], n_subjects, **kw)
    dp_d, dp_i = paired_d_prime_difference(ga[ok_a], gb[ok_b], np.asarray(subject)[ok_a], np.asarray(subject)[ok_b],
                                           n_subjects, impostor_a, impostor_b, **kw)
    frr_m, fnmr_m = mcnemar_exact(rej_a, rej_b), mcnemar_exact(fnm_a, fnm_b)
    return RowComparison(
        a=a, b=b, n_attempts=int(ga.size), n_compared_both=int(both.sum()),
        frr_a=float(rej_a.mean()) if ga.size else float("nan"), frr_b=float(rej_b.mean()) if ga.size else float("nan"),
        frr_difference=frr_d, frr_interval=frr_i.as_dict(), frr_mcnemar=asdict(frr_m),
        fnmr_a=float(fnm_a.mean()) if both.any() else float("nan"),
        fnmr_b=float(fnm_b.mean()) if both.any() else float("nan"),
        fnmr_difference=fnmr_d, fnmr_interval=fnmr_i.as_dict(), fnmr_mcnemar=asdict(fnmr_m),
        d_prime_difference=dp_d, d_prime_interval=dp_i.as_dict(),
        sentence=sentence(a, b, frr_d, frr_i, frr_m, int(ga.size), kw["confidence"], noun, threshold_b is None))


def sentence(a: str, b: str, diff: float, interval: M.Interval, test: McNemar, n: int,
             confidence: float = M.CONFIDENCE, noun: str = "scenario ", same_threshold: bool = True) -> str:
    """One plain sentence: which row rejects more genuine attempts, by how many points, how sure."""
    if not math.isfinite(diff):
        return f"{noun}{b} and {noun}{a} share no genuine attempt to compare"
    pts = 100 * diff
    how = "more" if pts > 0 else "fewer"
    lead = (f"{noun}{b} rejects as many genuine attempts as {noun}{a}" if pts == 0 else
            f"{noun}{b} rejects {abs(pts):.2f} points {how} genuine attempts than {noun}{a}")
    ci = (f"{100 * confidence:g}% CI [{100 * interval.low:.2f}, {100 * interval.high:.2f}]"
          if interval.method != "none" else "no interval")
    at = "the fixed threshold" if same_threshold else "each one's own threshold"
    return (f"{lead} (FRR at {at}, {n} attempts), {ci}, McNemar p = {test.p_value:.2g} "
            f"({test.b_only} rejected by {b} only, {test.a_only} by {a} only)")


@dataclass(frozen=True)
class MethodComparison:
    """Generator method b against method a on the identities both generated (paired by identity)."""

    a: str
    b: str
    n_identities: int
    n_images_a: int
    n_images_b: int
    verified_a: float
    verified_b: float
    verified_difference: float
    verified_interval: dict
    similarity_difference: float
    similarity_interval: dict
    wilcoxon: dict
    sentence: str

    def as_dict(self) -> dict:
        return asdict(self)


def compare_methods(a: str, b: str, identity_a, verified_a, similarity_a, identity_b, verified_b, similarity_b, *,
                    bootstrap: dict) -> MethodComparison:
    """Method ``b`` against method ``a`` over the identities both generated. Per image: its identity,
    whether it was verified (a failure to acquire is not) and its similarity with failures as 0. The
    rates are pooled over each method's images of the shared identities; their difference gets a
    percentile bootstrap interval resampling identities (both methods' images of an identity kept
    together). The test is Wilcoxon's signed-rank test (``scipy.stats.wilcoxon``, two-sided) on the
    per-identity differences of the mean similarity: the methods need not hold the same number of
    images per identity, so there are no paired attempts for McNemar."""
    from .settings import interval_kwargs

    kw = interval_kwargs(bootstrap)
    ia, ib = np.asarray(identity_a), np.asarray(identity_b)
    shared = np.intersect1d(ia, ib)
    if shared.size == 0:
        nan = M.Interval(float("nan"), float("nan"), "none").as_dict()
        return MethodComparison(a, b, 0, 0, 0, *(float("nan"),) * 3, nan, float("nan"), nan,
                                {"statistic": float("nan"), "p_value": float("nan"), "n_nonzero": 0},
                                f"method {b} and method {a} share no identity")

    def per_identity(ids, values):
        keep = np.isin(ids, shared)
        idx = np.searchsorted(shared, ids[keep])
        return (np.bincount(idx, minlength=shared.size).astype(float),
                np.bincount(idx, np.asarray(values, float)[keep], minlength=shared.size))

    na, va = per_identity(ia, verified_a)
    nb, vb = per_identity(ib, verified_b)
    _, sa = per_identity(ia, similarity_a)
    _, sb = per_identity(ib, similarity_b)

    def diff(x_a, n_a, x_b, n_b):
        return x_b.sum(-1) / n_b.sum(-1) - x_a.sum(-1) / n_a.sum(-1)

    per = {"x_a": va, "n_a": na, "x_b": vb, "n_b": nb}
    v_d = float(diff(va, na, vb, nb))
    v_i = M.Interval(*M.subject_bootstrap(per, diff, **kw), "paired_identity_bootstrap")
    s_d = float(diff(sa, na, sb, nb))
    s_i = M.Interval(*M.subject_bootstrap({**per, "x_a": sa, "x_b": sb}, diff, **kw), "paired_identity_bootstrap")
    d = sb / nb - sa / na
    nz = int(np.count_nonzero(d))
    w = (stats.wilcoxon(d, zero_method="wilcox") if nz else None)
    test = {"statistic": float(w.statistic) if w else float("nan"), "p_value": float(w.pvalue) if w else 1.0,
            "n_nonzero": nz}
    pts = 100 * v_d
    lead = (f"method {b} verifies as many of its images as method {a}" if pts == 0 else
            f"method {b} verifies {abs(pts):.1f} points {'more' if pts > 0 else 'fewer'} of its images than "
            f"method {a}")
    ci = (f"{100 * kw['confidence']:g}% CI [{100 * v_i.low:.1f}, {100 * v_i.high:.1f}]" if math.isfinite(v_i.low)
          else "no interval")
    text = (f"{lead} on the {shared.size} identities both generated ({int(na.sum())} and {int(nb.sum())} images), "
            f"{ci}; mean similarity (failures as 0) {s_d:+.3f}, Wilcoxon signed-rank p = {test['p_value']:.2g} over "
            f"{nz} identities that differ")
    return MethodComparison(a, b, int(shared.size), int(na.sum()), int(nb.sum()), float(va.sum() / na.sum()),
                            float(vb.sum() / nb.sum()), v_d, v_i.as_dict(), s_d, s_i.as_dict(), test, text)


def direction(comparison: dict) -> str:
    """``more``, ``fewer`` (row b rejects more / fewer genuine attempts than row a: the paired FRR
    interval excludes 0) or ``unclear`` (it holds 0, or there is none)."""
    iv = comparison["frr_interval"]
    if iv.get("method") in (None, "none") or not math.isfinite(iv["low"]):
        return "unclear"
    return "more" if iv["low"] > 0 else "fewer" if iv["high"] < 0 else "unclear"


def agreement(per_system: dict) -> list[dict]:
    """Whether the systems agree on each compared pair of rows (the same ``report.compare`` pairs in
    every system's run): each system's direction (:func:`direction`) with its FRR difference and
    interval, and one sentence per pair."""
    names = list(per_system)
    out = []
    for i, first in enumerate(per_system[names[0]]):
        cs = {n: per_system[n][i] for n in names}
        dirs = {n: direction(c) for n, c in cs.items()}
        a, b = first["a"], first["b"]
        if len(set(dirs.values())) == 1:
            d = dirs[names[0]]
            what = (f"scenario {b} rejects {d} genuine attempts than scenario {a}" if d != "unclear" else
                    f"no clear difference between scenario {b} and scenario {a}")
            text = f"all {len(names)} systems: {what}" if len(names) > 2 else f"both systems: {what}"
        else:
            each = "; ".join(f"{n}: {dirs[n]} ({100 * cs[n]['frr_difference']:+.2f} points, CI "
                             f"[{100 * cs[n]['frr_interval']['low']:+.2f}, {100 * cs[n]['frr_interval']['high']:+.2f}])"
                             for n in names)
            text = f"the systems disagree on scenario {b} against scenario {a}: {each}"
        out.append({"a": a, "b": b, "agree": len(set(dirs.values())) == 1, "directions": dirs,
                    "frr_difference": {n: c["frr_difference"] for n, c in cs.items()},
                    "frr_interval": {n: c["frr_interval"] for n, c in cs.items()}, "sentence": text})
    return out
