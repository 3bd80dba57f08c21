"""Biometric performance metrics (ISO/IEC 19795-1), as pure functions on NumPy arrays.

Conventions, used everywhere in fr-eval:

* Scores are **similarities**: higher means more alike (cosine similarity of embeddings).
  A comparison is a *match* when ``score >= threshold``.
* Every rate is a **fraction** in [0, 1], never a percent. Reports convert to percent
  only in the tables that mimic the paper (and say so in the column name).
* ``genuine`` = mated comparisons, ``impostor`` = non-mated comparisons; both only over
  comparisons whose two samples were acquired (failures are counted by the FTA).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.metrics import det_curve, roc_curve

#: the intervals' defaults (the config's ``bootstrap`` node takes them from here)
N_RESAMPLES = 1000
CONFIDENCE = 0.95
#: the highest FMR a streamed impostor summary answers exactly (its tail holds floor(MAX_FMR x N) + 1 scores)
MAX_FMR = 0.01
#: the memory one block of impostor scores may take (float32 products), unless memory_budget says otherwise
BLOCK_BYTES = 1 << 30


def _as_scores(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} scores contain NaN or infinite values")
    return a


def failure_rate(failed) -> float:
    """Fraction of True entries (e.g. failed samples over all samples: the sample-level FTA).

    Parameters
    ----------
    failed : (n,) array of bool
        True where a sample (or an attempt) failed.

    Returns
    -------
    float
        The fraction failed; NaN when ``failed`` is empty.
    """
    f = np.asarray(failed, dtype=bool).ravel()
    if f.size == 0:
        return float("nan")
    return float(f.mean())


def threshold_at_fmr(impostor, fmr: float) -> float:
    """The conservative decision threshold for a target false match rate.

    Returns the smallest threshold ``t`` with ``mean(impostor >= t) <= fmr`` that is either
    an observed impostor score or, when no observed score qualifies (``fmr * N < 1`` or
    ties at the top), the next float above the highest impostor score. The achieved FMR
    is therefore never above the target (as bob.measure's ``far_threshold``); report it
    with :func:`fmr_at`.

    Parameters
    ----------
    impostor : (n_impostor,) array of float
        Impostor comparison scores (similarities).
    fmr : float
        Target false match rate, a fraction.

    Returns
    -------
    float
        The threshold (match if score >= threshold).
    """
    imp = _as_scores(impostor, "impostor")
    if imp.size == 0:
        raise ValueError("no impostor scores: a threshold at a target FMR needs impostors")
    if not 0.0 <= fmr <= 1.0:
        raise ValueError(f"fmr must be a fraction in [0, 1], got {fmr}")
    return threshold_from_sorted(np.sort(imp), fmr, imp.size)


def allowed_false_matches(fmr: float, n: int) -> int:
    """The false matches a target FMR permits among ``n`` impostor scores: floor(fmr * n), with a
    tolerance of 1e-9 so that 0.001 * 1000 is 1 despite binary floating point. The one definition of
    the rule: the threshold, the streamed tail's size, the report's support flag and the audit use it.

    Parameters
    ----------
    fmr : float
        Target false match rate, a fraction (0.001 = 0.1 %).
    n : int
        Number of impostor scores.

    Returns
    -------
    int
        The false matches the target permits.
    """
    return int(np.floor(fmr * n + 1e-9))


def fmr_supported(fmr: float, n: int, min_false_matches: int) -> bool:
    """Whether ``n`` impostor scores support a figure at ``fmr``: the target allows at least
    ``min_false_matches`` false matches (below that, its threshold rests on the top few scores).

    Parameters
    ----------
    fmr : float
        Target false match rate, a fraction.
    n : int
        Number of impostor scores.
    min_false_matches : int
        The fewest false matches that support a figure (report.min_false_matches).

    Returns
    -------
    bool
    """
    return allowed_false_matches(fmr, n) >= min_false_matches


def threshold_from_sorted(top, fmr: float, n: int) -> float:
    """:func:`threshold_at_fmr` from the highest impostor scores, ascending: all ``n`` of them, or at
    least the ``floor(fmr * n) + 1`` highest (a streamed tail: every count the rule needs lies
    inside it, see :mod:`fr_eval.streaming`). The one definition of the rule, for both paths.

    Parameters
    ----------
    top : (k,) array of float
        The highest impostor scores, ascending (all of them, or a streamed tail).
    fmr : float
        Target false match rate, a fraction.
    n : int
        The number of impostor scores in all.

    Returns
    -------
    float
        The threshold, as :func:`threshold_at_fmr` gives it.
    """
    top = np.asarray(top)
    allowed = allowed_false_matches(fmr, n)
    p = top.size - allowed  # the lowest kept score that can qualify: allowed scores at or above it
    if p <= 0:  # every score may match (all n are kept here): the lowest qualifies
        return float(top[0])
    if p >= top.size:  # no false match allowed: just above the highest
        return float(np.nextafter(np.float64(top[-1]), np.inf))
    v = top[p]
    if np.searchsorted(top, v, side="left") == p:  # no tie below it: exactly `allowed` at or above
        return float(v)
    above = int(np.searchsorted(top, v, side="right"))  # ties: the next distinct score up qualifies
    if above < top.size:
        return float(top[above])
    return float(np.nextafter(np.float64(top[-1]), np.inf))


def fmr_at(impostor, threshold: float) -> float:
    """False match rate: fraction of impostor scores ``>= threshold``.

    Parameters
    ----------
    impostor : (n_impostor,) array of float
        Impostor comparison scores (similarities).
    threshold : float
        Match if score >= threshold.

    Returns
    -------
    float
        FMR, a fraction; NaN when there is no impostor score.
    """
    imp = _as_scores(impostor, "impostor")
    return float(np.mean(imp >= threshold)) if imp.size else float("nan")


def fnmr_at(genuine, threshold: float) -> float:
    """False non-match rate: fraction of genuine scores ``< threshold``.

    Parameters
    ----------
    genuine : (n_genuine,) array of float
        Genuine comparison scores (similarities: higher means more alike).
    threshold : float
        Match if score >= threshold.

    Returns
    -------
    float
        FNMR, a fraction; NaN when there is no genuine score.
    """
    gen = _as_scores(genuine, "genuine")
    return float(np.mean(gen < threshold)) if gen.size else float("nan")


def frr(fta: float, fnmr: float) -> float:
    """False reject rate, ISO/IEC 19795-1: ``FTA + FNMR * (1 - FTA)``.

    Parameters
    ----------
    fta : float
        Failure-to-acquire rate (sample level in Table 3), a fraction.
    fnmr : float
        False non-match rate over the compared attempts, a fraction.

    Returns
    -------
    float
        FRR, a fraction.
    """
    return float(fta + fnmr * (1.0 - fta))


def far(fmr: float, fta: float) -> float:
    """False accept rate, ISO/IEC 19795-1: ``FMR * (1 - FTA)``.

    Parameters
    ----------
    fmr : float
        False match rate, a fraction.
    fta : float
        Failure-to-acquire rate, a fraction.

    Returns
    -------
    float
        FAR, a fraction.
    """
    return float(fmr * (1.0 - fta))


def d_prime(genuine, impostor) -> float:
    """Decidability (Daugman): ``|mu_g - mu_i| / sqrt((sigma_g^2 + sigma_i^2) / 2)``.

    Standard deviations are population ones (``ddof=0``).

    Parameters
    ----------
    genuine : (n_genuine,) array of float
        Genuine comparison scores (similarities: higher means more alike).
    impostor : (n_impostor,) array of float
        Impostor comparison scores (similarities).

    Returns
    -------
    float
        d'; NaN when either side is empty.
    """
    gen = _as_scores(genuine, "genuine")
    imp = _as_scores(impostor, "impostor")
    if gen.size == 0 or imp.size == 0:
        return float("nan")
    return d_prime_from_moments(float(gen.mean()), float(gen.var()), float(imp.mean()), float(imp.var()))


def d_prime_from_moments(mean_genuine: float, var_genuine: float, mean_impostor: float,
                         var_impostor: float) -> float:
    """:func:`d_prime` from the two sides' means and population variances (a streamed impostor side
    keeps its moments, not its scores).

    Parameters
    ----------
    mean_genuine, var_genuine : float
        Mean and population variance (``ddof=0``) of the genuine scores.
    mean_impostor, var_impostor : float
        Mean and population variance of the impostor scores.

    Returns
    -------
    float
        d'; inf when both variances are 0 and the means differ, NaN when they are equal too.
    """
    pooled = math.sqrt((var_genuine + var_impostor) / 2.0)
    if pooled == 0:
        return float("inf") if mean_genuine != mean_impostor else float("nan")
    return abs(mean_genuine - mean_impostor) / pooled


def det_points_from_histogram(genuine, hist: np.ndarray, hist_range: tuple, tail: np.ndarray,
                              n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DET points of impostor scores summarised as a histogram and an exact tail (their highest scores):
    at every histogram edge below the tail, and at every distinct tail score, where the FMR is exact.

    Parameters
    ----------
    genuine : (n_genuine,) array of float
        Genuine comparison scores (all kept: the FNMR is exact everywhere).
    hist : (n_bins,) array of int
        Impostor counts per bin of equal width over ``hist_range``.
    hist_range : (2,) tuple of float
        The histogram's lowest and highest edge.
    tail : (k,) array of float, ascending
        The k highest impostor scores (all of them when k == n).
    n : int
        The number of impostor scores summarised.

    Returns
    -------
    thresholds : (m,) ndarray of float
        Ascending thresholds.
    fmr : (m,) ndarray of float
        Fraction of impostors at or above each threshold.
    fnmr : (m,) ndarray of float
        Fraction of genuine scores below each threshold (NaN without genuine scores).
    """
    top = np.asarray(tail)
    gen = np.sort(np.asarray(genuine, np.float64))
    edges = np.linspace(hist_range[0], hist_range[1], len(hist) + 1)[:-1]
    at_or_above = np.cumsum(hist[::-1])[::-1]  # impostors in bins >= i
    distinct = np.unique(top)
    if top.size < n:  # the tail's lowest score may have ties outside it: not exact there
        distinct = distinct[1:]
    lowest = float(distinct[0]) if distinct.size else np.inf
    keep = edges < lowest  # from the tail's scores up, the tail itself is exact
    t = np.r_[edges[keep], distinct]
    fmr = np.r_[at_or_above[keep] / n, (top.size - np.searchsorted(top, distinct, side="left")) / n]
    fnmr = np.searchsorted(gen, t, side="left") / gen.size if gen.size else np.full(t.size, np.nan)
    return t, fmr, fnmr


def eer_from_points(thresholds: np.ndarray, fmr: np.ndarray, fnmr: np.ndarray) -> tuple[float, float, float]:
    """The EER where FNMR and FMR cross on DET points, interpolated linearly between the two bracketing
    points, with its bound (how much either rate changes between them).

    Parameters
    ----------
    thresholds : (m,) array of float, ascending
    fmr : (m,) array of float
        FMR at each threshold (non-increasing).
    fnmr : (m,) array of float
        FNMR at each threshold (non-decreasing).

    Returns
    -------
    eer : float
    threshold : float
        Where the rates cross (interpolated).
    bound : float
        The largest change of either rate between the two bracketing points (the exact EER lies within it).
    """
    t = thresholds
    diff = fnmr - fmr  # increasing with the threshold
    i = int(np.searchsorted(diff, 0.0, side="left"))
    if i == 0 or i == diff.size:
        j = min(max(i, 0), diff.size - 1)
        return float((fmr[j] + fnmr[j]) / 2), float(t[j]), float(abs(fmr[j] - fnmr[j]))
    w = -diff[i - 1] / (diff[i] - diff[i - 1])
    e = float(fmr[i - 1] + w * (fmr[i] - fmr[i - 1]))
    return (e, float(t[i - 1] + w * (t[i] - t[i - 1])), float(max(fmr[i - 1] - fmr[i], fnmr[i] - fnmr[i - 1])))


def _labels(genuine, impostor):
    gen = _as_scores(genuine, "genuine")
    imp = _as_scores(impostor, "impostor")
    y = np.concatenate([np.ones(gen.size, dtype=np.int8), np.zeros(imp.size, dtype=np.int8)])
    return y, np.concatenate([gen, imp])


def eer(genuine, impostor) -> tuple[float, float]:
    """Equal error rate and its threshold, from ``sklearn.metrics.roc_curve``.

    The EER is read where FNMR and FMR cross on the ROC's operating points, interpolating
    linearly between the two points that bracket the crossing.

    Parameters
    ----------
    genuine : (n_genuine,) array of float
        Genuine comparison scores (similarities: higher means more alike).
    impostor : (n_impostor,) array of float
        Impostor comparison scores (similarities).

    Returns
    -------
    eer, threshold : float
        The equal error rate (a fraction) and the threshold where it is read.
    """
    y, s = _labels(genuine, impostor)
    if y.min() == y.max():
        return float("nan"), float("nan")
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    fnr = 1.0 - tpr
    diff = fnr - fpr  # decreasing from 1 (thr=inf) to -1
    i = int(np.nonzero(diff <= 0)[0][0])
    if i == 0 or diff[i] == 0:
        return float((fpr[i] + fnr[i]) / 2.0), float(thr[i])
    w = diff[i - 1] / (diff[i - 1] - diff[i])
    rate = fpr[i - 1] + w * (fpr[i] - fpr[i - 1])
    t_hi = thr[i - 1] if np.isfinite(thr[i - 1]) else thr[i]
    return float(rate), float(t_hi + w * (thr[i] - t_hi))


def det_points(genuine, impostor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FMR, FNMR, thresholds) of the DET curve, from ``sklearn.metrics.det_curve``.

    Parameters
    ----------
    genuine : (n_genuine,) array of float
        Genuine comparison scores (similarities: higher means more alike).
    impostor : (n_impostor,) array of float
        Impostor comparison scores (similarities).

    Returns
    -------
    fmr, fnmr, thresholds : (n_points,) arrays of float
        The DET curve's points, as sklearn.metrics.det_curve gives them.
    """
    y, s = _labels(genuine, impostor)
    fmr_, fnmr_, thr = det_curve(y, s)
    return fmr_, fnmr_, thr


def rule_of_three(n: int) -> float:
    """Approximate 95% upper bound for a rate with zero errors in ``n`` trials: ``3 / n``,
    capped at 1 (a rate cannot exceed 1; below n = 3 the rule says nothing).

    Parameters
    ----------
    n : int
        Trials without an error.

    Returns
    -------
    float
        The upper bound, a fraction (1 when n < 3).
    """
    return float(min(1.0, 3.0 / n)) if n > 0 else float("nan")


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    method: str  # "rule_of_3", "subject_bootstrap" or "none"

    def as_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "method": self.method}


def subject_bootstrap(per_subject: dict[str, np.ndarray], statistic, *, n_resamples: int = N_RESAMPLES,
                      confidence: float = CONFIDENCE, seed: int = 0, with_se: bool = False) -> tuple:
    """Percentile bootstrap interval resampling **subjects** (not comparisons).

    ``per_subject`` maps names to arrays with one entry per subject (counts of errors,
    attempts, ...). ``statistic(**arrays)`` must accept arrays with a trailing resample
    axis and reduce over ``axis=-1``; it is evaluated on each resample of subjects.
    Uses ``scipy.stats.bootstrap`` with ``paired=True`` so that a subject's counts stay together.
    Subjects whose every entry is 0 (no attempt of this figure) are left out before resampling;
    the statistic must be a function of sums over subjects (as every rate here is).

    Parameters
    ----------
    per_subject : dict of (n_subjects,) arrays
        Counts per subject, kept together in a resample.
    statistic : callable
        ``statistic(**arrays)`` on arrays with a trailing resample axis, reducing ``axis=-1``.
    n_resamples, confidence, seed
        The bootstrap's resamples, coverage (a fraction) and seed.

    Returns
    -------
    low, high : float (or arrays, for a statistic with leading axes)
        The percentile interval; NaN with fewer than two subjects.
    se : float, with ``with_se=True`` only
        The standard deviation of the statistic over the resamples (the bootstrap standard error).
    """
    names = list(per_subject)
    data = tuple(np.asarray(per_subject[k], dtype=np.float64) for k in names)
    # a subject with nothing in any array (no attempt of this figure, e.g. a held-out or reference-only
    # subject) is not a unit of this sample: resampling it would only vary how many real units a resample has
    present = np.any([np.any(d.reshape(d.shape[0], -1) != 0, axis=1) for d in data], axis=0)
    if not present.all():
        data = tuple(d[present] for d in data)
    if data[0].shape[0] < 2:
        nan = np.full(data[0].shape[1:], np.nan)
        out = (float("nan"), float("nan")) if data[0].ndim == 1 else (nan, nan.copy())
        return (*out, float("nan") if data[0].ndim == 1 else nan.copy()) if with_se else out

    def stat(*arrays, axis=-1):
        return statistic(**{k: np.moveaxis(a, axis, -1) for k, a in zip(names, arrays)})

    with warnings.catch_warnings():
        # scipy warns "The BCa confidence interval cannot be calculated" whenever the interval holds a NaN (a
        # statistic undefined in some resamples, e.g. a rate over no attempt), whatever the method asked; the
        # percentile interval asked here is then NaN, which the report states as no interval
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(data, stat, paired=True, vectorized=True, n_resamples=n_resamples,
                              confidence_level=confidence, method="percentile", axis=0,
                              random_state=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    out = (float(lo), float(hi)) if np.ndim(lo) == 0 else (np.asarray(lo), np.asarray(hi))
    if with_se:
        se = res.standard_error
        return (*out, float(se) if np.ndim(se) == 0 else np.asarray(se))
    return out


def fnmr_band(genuine, subject, thresholds, *, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise percentile interval of FNMR(t) = fraction of ``genuine`` scores < t at each of
    ``thresholds``, resampling subjects (``subject``: each score's subject index), the same
    resamples at every threshold. The impostor side, and so each threshold's FMR, is held fixed:
    the band is the uncertainty of the FNMR at a given threshold (the DET's vertical spread).

    Parameters
    ----------
    genuine : (n_genuine,) array of float
        Genuine comparison scores (similarities: higher means more alike).
    subject : (n_genuine,) array of int
        Each score's subject index (the unit resampled).
    thresholds : (n_t,) array of float
        Where the band is computed.
    n_resamples, confidence, seed
        The bootstrap's resamples, coverage (a fraction) and seed.

    Returns
    -------
    low, high : (n_t,) arrays of float
        The pointwise interval of the FNMR at each threshold.
    """
    g, s = np.asarray(genuine, np.float64), np.asarray(subject, np.int64)
    t = np.asarray(thresholds, np.float64)
    if g.size == 0:
        return np.full(t.shape, np.nan), np.full(t.shape, np.nan)
    order = np.argsort(t)
    first = np.searchsorted(t[order], g, side="right")  # a score is below the thresholds from here on
    _, subj = np.unique(s, return_inverse=True)
    below = np.zeros((subj.max() + 1, t.size + 1))
    np.add.at(below, (subj, first), 1.0)
    below = np.cumsum(below, axis=1)[:, :-1]  # scores of each subject below each (sorted) threshold
    trials = np.repeat(np.bincount(subj).astype(np.float64)[:, None], t.size, axis=1)
    lo, hi = subject_bootstrap({"e": below, "n": trials}, lambda e, n: e.sum(-1) / n.sum(-1),
                               n_resamples=n_resamples, confidence=confidence, seed=seed)
    out_lo, out_hi = np.empty(t.size), np.empty(t.size)
    out_lo[order], out_hi[order] = lo, hi
    return out_lo, out_hi


def rate_interval(errors: np.ndarray, trials: np.ndarray, *, n_resamples=N_RESAMPLES, confidence=CONFIDENCE,
                  seed=0) -> Interval:
    """95% interval for ``sum(errors) / sum(trials)`` given per-subject counts.

    Zero errors: ``[0, 3/U]`` (rule of 3 over the U subjects with a trial, the independent units, not
    over the trials); every trial an error: ``[1 - 3/U, 1]`` (the same rule
    for the complementary rate; a bootstrap would give the empty-width [1, 1]). Otherwise a
    subject bootstrap.

    Parameters
    ----------
    errors : (n_subjects,) array
        Per subject: errors.
    trials : (n_subjects,) array
        Per subject: trials.
    n_resamples, confidence, seed
        The bootstrap's resamples, coverage (a fraction) and seed.

    Returns
    -------
    Interval
        ``low``, ``high`` (fractions) and the method used (rule of 3 or subject bootstrap).
    """
    errors = np.asarray(errors, dtype=np.float64)
    trials = np.asarray(trials, dtype=np.float64)
    n = int(trials.sum())
    if n == 0:
        return Interval(float("nan"), float("nan"), "none")
    # the rule of 3's N is the independent units (subjects with a trial), never the trials: a subject's
    # attempts are not independent of each other, so they are not separate draws of the rate
    units = int(np.count_nonzero(trials))
    if errors.sum() == 0:
        return Interval(0.0, rule_of_three(units), "rule_of_3")
    if errors.sum() == n:
        return Interval(1.0 - rule_of_three(units), 1.0, "rule_of_3")
    lo, hi = subject_bootstrap(
        {"e": errors, "t": trials},
        lambda e, t: e.sum(-1) / np.maximum(t.sum(-1), 1),
        n_resamples=n_resamples, confidence=confidence, seed=seed)
    return Interval(lo, hi, "subject_bootstrap")


def frr_interval(failed, samples, fnm, compared, attempts, *, n_resamples=N_RESAMPLES, confidence=CONFIDENCE,
                 seed=0) -> Interval:
    """Interval for FRR = FTA + FNMR (1 - FTA) from per-subject counts.

    ``failed``/``samples`` give the sample-level FTA, ``fnm``/``compared`` the FNMR, and
    ``attempts`` (genuine transactions) marks the subjects whose count is the N of the rule of 3 when
    nothing (or everything) was rejected: the independent units, not the attempts.

    Parameters
    ----------
    failed, samples : (n_subjects,) arrays
        Per subject: samples that failed to acquire, and all samples.
    fnm, compared : (n_subjects,) arrays
        Per subject: false non-matches, and attempts compared.
    attempts : (n_subjects,) array
        Per subject: genuine attempts (the subjects with any are the rule of 3's N).
    n_resamples, confidence, seed
        The bootstrap's resamples, coverage (a fraction) and seed.

    Returns
    -------
    Interval
        ``low``, ``high`` (fractions) and the method used.
    """
    failed, samples, fnm, compared = (np.asarray(a, dtype=np.float64)
                                      for a in (failed, samples, fnm, compared))
    # the rule of 3's N: the subjects with a genuine attempt (the independent units), as in rate_interval
    units = int(np.count_nonzero(np.asarray(attempts)))
    if failed.sum() == 0 and fnm.sum() == 0:
        n = units
        return Interval(0.0, rule_of_three(n), "rule_of_3") if n else Interval(
            float("nan"), float("nan"), "none")
    if (samples.sum() > 0 and failed.sum() >= samples.sum()) or (compared.sum() > 0 and fnm.sum() >= compared.sum()):
        # every attempt rejected (FRR = 1): the rule of 3 for the complement, as rate_interval does (a
        # bootstrap would give the empty-width [1, 1])
        n = units
        return Interval(1.0 - rule_of_three(n), 1.0, "rule_of_3") if n else Interval(
            float("nan"), float("nan"), "none")

    def stat(f, s, e, c):
        fta_ = f.sum(-1) / np.maximum(s.sum(-1), 1)
        fnmr_ = e.sum(-1) / np.maximum(c.sum(-1), 1)
        return fta_ + fnmr_ * (1 - fta_)

    lo, hi = subject_bootstrap({"f": failed, "s": samples, "e": fnm, "c": compared}, stat,
                               n_resamples=n_resamples, confidence=confidence, seed=seed)
    return Interval(lo, hi, "subject_bootstrap")


def kfold_verification_accuracy(scores, same, folds) -> dict:
    """LFW View-2 accuracy: for each fold, the threshold that maximises accuracy on the
    other folds (match if ``score >= threshold``) is applied to the fold.

    ``scores`` may hold ``-inf`` for pairs that could not be compared (a failure to acquire
    then counts as a non-match decision). Returns per-fold accuracies and thresholds, the
    mean, the standard deviation over folds (``ddof=1``) and the standard error (sd / sqrt(k)).

    Parameters
    ----------
    scores : (n,) array of float
        Pair scores; -inf where a pair could not be compared.
    same : (n,) array of bool
        True for matched pairs.
    folds : (n,) array of int
        Each pair's fold.

    Returns
    -------
    dict
        ``accuracy`` (mean), ``std``, ``sem``, and per fold its accuracy and threshold.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(same, dtype=bool)
    f = np.asarray(folds)
    ks = np.unique(f)
    accs, thrs = [], []
    for k in ks:
        train = f != k
        t = best_accuracy_threshold(s[train], y[train])
        test = ~train
        accs.append(float(np.mean((s[test] >= t) == y[test])))
        thrs.append(t)
    accs_a = np.array(accs)
    sd = float(accs_a.std(ddof=1)) if len(accs) > 1 else float("nan")
    return {"fold_accuracy": accs, "fold_threshold": thrs, "mean": float(accs_a.mean()), "std": sd,
            "standard_error": sd / np.sqrt(len(accs)) if len(accs) > 1 else float("nan")}


def best_accuracy_threshold(scores, same) -> float:
    """The threshold maximising ``mean((scores >= t) == same)``, placed midway between the
    highest rejected and the lowest accepted score (the lowest such threshold when several
    give the same accuracy). Written out (cumulative counts over sorted scores) because it runs
    once per fold over thousands of candidates.

    Parameters
    ----------
    scores : (n,) array of float
        Comparison scores; -inf for pairs that could not be compared.
    same : (n,) array of bool
        True for matched (same-person) pairs.

    Returns
    -------
    float
        The threshold (match if score >= threshold).
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(same, dtype=bool)
    order = np.argsort(s, kind="stable")
    s, y = s[order], y[order]
    finite = s[np.isfinite(s)]
    if finite.size == 0:
        return float("inf")
    # candidate thresholds: every distinct finite score, and above the maximum
    cand = np.unique(finite)
    # accepted at t = scores >= t: genuine accepted = count of same with s >= t, impostor rejected = s < t
    n_same_below = np.searchsorted(s, cand, side="left")  # index of first score >= t
    cum_same = np.concatenate([[0], np.cumsum(y)])
    same_below = cum_same[n_same_below]
    diff_below = n_same_below - same_below
    correct = (y.sum() - same_below) + diff_below
    above = y.size - y.sum()  # threshold above every score: all rejected, mismatched ones correct
    best = int(np.argmax(correct))
    if above > correct[best]:
        return float(np.nextafter(cand[-1], np.inf))
    return float((cand[best - 1] + cand[best]) / 2) if best > 0 else float(cand[0])


def error_versus_discard(scores, pair_quality, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Error-versus-discard curve (ISO/IEC 29794-1; Schlett et al., 2023) for genuine comparisons.

    Comparisons are discarded from the lowest pair quality up, ties together (a quality level
    is discarded whole), and the FNMR at the fixed ``threshold`` is recomputed on those kept.
    Returns (fraction discarded, FNMR of the rest) at 0 and after each quality level, up to but
    not including discarding everything. NaN qualities count as the lowest.
    Written out (cumulative counts per quality level, :func:`_discard_curve`) rather than by
    refitting per level.

    Parameters
    ----------
    scores : (n,) array of float
        Genuine comparison scores.
    pair_quality : (n,) array of float
        Each comparison's quality (NaN: the lowest).
    threshold : float
        The decision threshold, held fixed.

    Returns
    -------
    discard, fnmr : (n_levels + 1,) arrays of float
        The fraction discarded and the FNMR of the rest, from 0 discarded on.
    """
    s = np.asarray(scores, dtype=np.float64)
    q = np.asarray(pair_quality, dtype=np.float64)
    if s.size == 0:
        return np.zeros(0), np.zeros(0)
    _, level = np.unique(np.where(np.isnan(q), -np.inf, q), return_inverse=True)
    return _discard_curve(np.bincount(level, weights=(s < threshold).astype(np.float64)),
                          np.bincount(level).astype(np.float64))


def _discard_curve(err: np.ndarray, cnt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fraction discarded, FNMR of the rest) from the errors and comparisons per quality level
    (last axis, lowest first; leading axes: e.g. resamples, whose weighted counts need no
    expansion): at 0 and after each level but the last. Where a resample keeps nothing the FNMR
    is NaN."""
    n_tot, e_tot = cnt.sum(-1, keepdims=True), err.sum(-1, keepdims=True)
    zero = np.zeros(cnt.shape[:-1] + (1,))
    gone_n = np.concatenate([zero, np.cumsum(cnt, -1)[..., :-1]], -1)  # discarded before each point
    gone_e = np.concatenate([zero, np.cumsum(err, -1)[..., :-1]], -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return gone_n / n_tot, (e_tot - gone_e) / (n_tot - gone_n)


def kept_after_discard(pair_quality, fraction: float) -> np.ndarray:
    """Which comparisons an error-versus-discard curve keeps at its last point with at most
    ``fraction`` discarded (quality levels are discarded whole, NaN first), as a boolean mask in
    the input's order: the comparisons behind :func:`error_versus_discard`'s FNMR at that point.

    Parameters
    ----------
    pair_quality : (n,) array of float
        Each comparison's quality (NaN: the lowest).
    fraction : float
        The most that may be discarded.

    Returns
    -------
    (n,) array of bool
        True for the comparisons kept.
    """
    q = np.asarray(pair_quality, dtype=np.float64)
    q = np.where(np.isnan(q), -np.inf, q)
    n = q.size
    if n == 0:
        return np.zeros(0, bool)
    sq = np.sort(q, kind="stable")
    ends = np.flatnonzero(np.r_[sq[1:] != sq[:-1], True]) + 1
    ends = ends[(ends < n) & (ends <= fraction * n + 1e-9)]
    return q > sq[ends[-1] - 1] if ends.size else np.ones(n, bool)


def _edc_areas(err: np.ndarray, cnt: np.ndarray, limit: float) -> np.ndarray:
    """(area, area - random-discard area) of EDCs given errors and comparisons per quality level
    (last axis, lowest quality first; leading axes: resamples): :func:`_discard_curve` and
    :func:`edc_area` on counts."""
    d, f = _discard_curve(err, cnt)
    area = edc_area(d, f, limit)
    return np.stack([area, area - f[..., 0] * limit], -1)


def edc_area_interval(scores, pair_quality, threshold: float, subject, limit: float = 0.2, *,
                      n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0) -> dict:
    """95% subject-bootstrap intervals of the EDC area up to ``limit`` discarded and of that area
    minus random discarding's (FNMR at 0 x ``limit``; below 0: the quality measure finds failing
    comparisons better than chance). ``subject``: each genuine comparison's subject index. The
    threshold is held fixed; each resample recomputes the curve (its discard fractions included)
    from the resampled subjects' comparisons. Returns ``{"area": Interval, "area_minus_random":
    Interval}``; method "none" with fewer than two subjects or no false non-match at all (both
    figures are then exactly 0).

    Written out rather than through ``scipy.stats.bootstrap`` (for memory): that resamples rows of
    per-subject arrays, which here would be subjects x quality levels; a resample is drawn instead
    as each subject's multiplicity (subjects drawn with replacement), which weights its comparisons,
    so a batch of resamples costs batch x comparisons. The interval is the percentile one, as
    :func:`subject_bootstrap`'s.

    Parameters
    ----------
    scores : (n,) array of float
        Genuine comparison scores.
    pair_quality : (n,) array of float
        Each comparison's quality (NaN: the lowest).
    threshold : float
        The decision threshold, held fixed.
    subject : (n,) array of int
        Each comparison's subject index (the unit resampled).
    limit : float
        The largest fraction discarded that counts.
    n_resamples, confidence, seed
        The bootstrap's resamples, coverage (a fraction) and seed.

    Returns
    -------
    dict
        {"area": Interval, "area_minus_random": Interval}.
    """
    s = np.asarray(scores, np.float64)
    q = np.asarray(pair_quality, np.float64)
    q = np.where(np.isnan(q), -np.inf, q)
    _, subj = np.unique(np.asarray(subject), return_inverse=True)
    none = {k: Interval(float("nan"), float("nan"), "none") for k in ("area", "area_minus_random")}
    err = s < threshold
    if s.size == 0 or subj.max(initial=0) < 1 or not err.any():
        return none
    order = np.argsort(q, kind="stable")
    starts = np.flatnonzero(np.r_[True, q[order][1:] != q[order][:-1]])  # each quality level's first
    subj_o, err_o = subj[order], err[order].astype(np.float64)
    n_subj, rng = int(subj.max()) + 1, np.random.default_rng(seed)
    batch = max(1, int(4e6 // s.size))  # about 32 MB per (batch x comparisons) array
    out = []
    for done in range(0, n_resamples, batch):
        m = min(batch, n_resamples - done)
        mult = rng.multinomial(n_subj, np.full(n_subj, 1.0 / n_subj), size=m).astype(np.float64)
        w = mult[:, subj_o]  # (resamples, comparisons in quality order)
        out.append(_edc_areas(np.add.reduceat(w * err_o, starts, axis=1), np.add.reduceat(w, starts, axis=1), limit))
    res = np.concatenate(out)
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.nanpercentile(res, tail, axis=0), np.nanpercentile(res, 100 - tail, axis=0)
    return {k: Interval(float(lo[i]), float(hi[i]), "subject_bootstrap")
            for i, k in enumerate(("area", "area_minus_random"))}


def edc_area(discard: np.ndarray, fnmr: np.ndarray, limit: float = 0.2):
    """Area under the EDC's step function (each FNMR holds until the next discard point) over
    [0, limit] of the fraction discarded: a float, or one per curve where the arrays have leading
    axes (the curve on the last). A point of zero width adds nothing, NaN FNMR included.

    Parameters
    ----------
    discard : (..., n_points) array of float
        Fractions discarded, ascending along the last axis.
    fnmr : (..., n_points) array of float
        The FNMR of the comparisons kept at each point.
    limit : float
        The largest fraction discarded that counts.

    Returns
    -------
    float or array
        The area, one per curve when the arrays have leading axes.
    """
    d = np.asarray(discard, float)
    f = np.asarray(fnmr, float)
    if d.shape[-1] == 0:
        return float("nan")
    right = np.minimum(np.concatenate([d[..., 1:], np.full(d.shape[:-1] + (1,), np.inf)], -1), limit)
    width = np.clip(right - d, 0.0, None)
    area = np.where(width > 0, f * width, 0.0).sum(-1)
    return float(area) if area.ndim == 0 else area


def interval_kwargs(bootstrap: dict | None) -> dict:
    """Keyword arguments of the interval functions here (``n_resamples``, ``confidence``, ``seed``) from a
    run's ``bootstrap`` node with its ``seed``; missing keys take the defaults (:data:`N_RESAMPLES`,
    :data:`CONFIDENCE`, seed 0: the same as :class:`fr_eval.settings.Bootstrap`'s).

    Parameters
    ----------
    bootstrap : dict or None
        A run's ``bootstrap`` node, with ``seed``.

    Returns
    -------
    dict
        ``n_resamples``, ``confidence``, ``seed``.
    """
    # N_RESAMPLES and CONFIDENCE are the defaults' one definition (settings.Bootstrap takes them from here)
    b = {"n_resamples": N_RESAMPLES, "confidence": CONFIDENCE, "seed": 0, **(bootstrap or {})}
    return dict(n_resamples=int(b["n_resamples"]), confidence=float(b["confidence"]), seed=int(b["seed"]))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values: the i-th smallest (from 0) times (m - i),
    made monotone, capped at 1; NaN stays NaN and is not counted in m. Written here (a few lines)
    because statsmodels, which has it, is not a dependency.

    Parameters
    ----------
    p_values : (m,) array of p-values of the tests of one family (the comparisons on one page).

    Returns
    -------
    (m,) array of adjusted p-values, in the input's order.
    """
    p = np.asarray(p_values, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    out[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    return out


def paired_permutation_test(counts_a: dict, counts_b: dict, statistic, *, n_resamples: int = 10_000, seed: int = 0,
                            exact_max: int = 16) -> dict:
    """Two-sided paired permutation test whose unit is the **subject**: under the null hypothesis the
    two conditions (rows a and b) are exchangeable within each subject, so each subject's counts of
    a and of b are swapped, or not, at random, and ``statistic`` recomputed on the pooled counts.

    Parameters
    ----------
    counts_a, counts_b : dict of (n_subjects,) arrays, the same keys: per-subject counts of each
        condition (errors, attempts, failed samples, samples...).
    statistic : callable(**sums) -> array; given each key's pooled count as an (n,) array (one entry
        per permutation), returns the rate of one condition. The test statistic is
        ``statistic(b) - statistic(a)``.
    n_resamples : random permutations when the subjects whose counts differ are more than
        ``exact_max`` (else all 2^m swaps are enumerated: an exact p-value).

    Returns
    -------
    dict: ``observed`` (the difference), ``p_value`` (share of permutations at least as extreme in
    absolute value; with random ones (1 + count) / (1 + n_resamples)), ``n_informative`` (subjects
    whose counts differ: the others cannot move the statistic), ``n_permutations``, ``n_extreme``
    (the permutations at least as extreme), ``exact``.

    Written here because ``scipy.stats.permutation_test`` permutes observations, not a subject's
    block of several counts, and would need the statistic on every permutation one at a time.
    """
    keys = list(counts_a)
    A = np.stack([np.asarray(counts_a[k], np.float64) for k in keys])
    B = np.stack([np.asarray(counts_b[k], np.float64) for k in keys])
    sum_a, sum_b = A.sum(axis=1), B.sum(axis=1)

    def diff(sa, sb):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.asarray(statistic(**{k: sb[i] for i, k in enumerate(keys)}), np.float64)
                    - np.asarray(statistic(**{k: sa[i] for i, k in enumerate(keys)}), np.float64))

    observed = float(diff(sum_a[:, None], sum_b[:, None])[0])
    delta = (A - B)[:, np.any(A != B, axis=0)]  # (keys, m): what a swap moves from a's side to b's
    m = delta.shape[1]
    if m == 0 or not np.isfinite(observed):
        return {"observed": observed, "p_value": 1.0 if m == 0 else float("nan"), "n_informative": m,
                "n_permutations": 0, "exact": True}
    exact = m <= exact_max
    if exact:
        flips = ((np.arange(2 ** m)[:, None] >> np.arange(m)) & 1).astype(np.float64)
    else:
        flips = np.random.default_rng(seed).integers(0, 2, (n_resamples, m)).astype(np.float64)
    moved = delta @ flips.T  # (keys, permutations)
    t = diff(sum_a[:, None] - moved, sum_b[:, None] + moved)
    extreme = int(np.sum(np.abs(t) >= abs(observed) - 1e-12))
    p = extreme / flips.shape[0] if exact else (1 + extreme) / (1 + flips.shape[0])
    return {"observed": observed, "p_value": float(min(1.0, p)), "n_informative": m,
            "n_permutations": int(flips.shape[0]), "n_extreme": extreme, "exact": exact}
