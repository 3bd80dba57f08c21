"""Paired comparison of two rows on the same genuine attempts: does colourisation help?

Two Table 3 rows of one run (e.g. scenario 3, greyscale, and scenario 4, greyscale then
colourised) score the same genuine attempts (the same reference and probe images, each in the
row's variant) at the same threshold. The attempts are clustered in subjects (one failed reference
removes all of its subject's attempts), so every interval and every test here takes the **subject**
as its unit:

* the difference in FRR as Table 3 and the headline define it (the paper's: FTA over the row's
  samples folded in, FRR = FTA + FNMR (1 - FTA)), in the transaction-level FRR (an attempt is
  rejected when a sample failed to acquire or its score is below the threshold) and in FNMR (over
  the attempts compared in both rows), as ``rate_b - rate_a`` (fractions), each with a percentile
  bootstrap interval resampling subjects, both rows' counts of a subject kept together (paired);
* a paired permutation test over subjects (:func:`fr_eval.metrics.paired_permutation_test`: a
  subject's two rows swapped at random) of the FRR and FNMR differences, Holm-adjusted over the
  comparisons of one page (:func:`adjust_family`); the attempts rejected by one row only are
  counted, as a description, not tested attempt by attempt (McNemar would take 2,961 attempts of 62
  subjects as independent);
* the difference in d' (the impostor side held fixed: the baseline's moments), with its paired
  subject-bootstrap interval.

A comparison over fewer than ``min_subjects`` subjects is flagged "n too small" and stated as no
finding; one whose interval holds 0, or whose test over subjects (Holm-adjusted) is not below
1 - confidence, reads "no clear difference", never a direction.

Pure functions on NumPy arrays; the evaluate stage calls :func:`compare_rows`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import stats

from . import metrics
from .metrics import interval_kwargs


def paired_rate_difference(errors_a, errors_b, subject, n_subjects: int, *, n_resamples=metrics.N_RESAMPLES,
                           confidence=metrics.CONFIDENCE, seed=0) -> tuple[float, metrics.Interval]:
    """``mean(errors_b) - mean(errors_a)`` over the same attempts, and its interval from a subject
    bootstrap (a subject's attempts, in both rows, resampled together). Without a discordant
    attempt the difference is 0 and so is every resample: the interval is [0, 0], method "no
    discordant attempts"."""
    a, b = np.asarray(errors_a, bool), np.asarray(errors_b, bool)
    subject = np.asarray(subject, int)
    if a.size == 0:
        return float("nan"), metrics.Interval(float("nan"), float("nan"), "none")
    diff = float(b.mean() - a.mean())
    if not (a != b).any():
        return diff, metrics.Interval(0.0, 0.0, "no discordant attempts")

    def count(x):
        return np.bincount(subject, weights=x.astype(float), minlength=n_subjects)

    lo, hi = metrics.subject_bootstrap({"ea": count(a), "eb": count(b), "t": count(np.ones(a.size, bool))},
                                 lambda ea, eb, t: (eb.sum(-1) - ea.sum(-1)) / np.maximum(t.sum(-1), 1),
                                 n_resamples=n_resamples, confidence=confidence, seed=seed)
    return diff, metrics.Interval(lo, hi, "paired_subject_bootstrap")


def paired_d_prime_difference(gen_a, gen_b, subject_a, subject_b, n_subjects: int, impostor_a: tuple,
                              impostor_b: tuple, *, n_resamples=metrics.N_RESAMPLES, confidence=metrics.CONFIDENCE,
                              seed=0) -> tuple[float, metrics.Interval]:
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
        return float("nan"), metrics.Interval(float("nan"), float("nan"), "none")
    ga, gb = sums(gen_a, np.asarray(subject_a, int)), sums(gen_b, np.asarray(subject_b, int))
    diff = float(d_prime(*gb, impostor_b) - d_prime(*ga, impostor_a))  # the rows' d', from their sums
    lo, hi = metrics.subject_bootstrap({"na": ga[0], "sa": ga[1], "qa": ga[2], "nb": gb[0], "sb": gb[1], "qb": gb[2]},
                                 lambda na, sa, qa, nb, sb, qb: d_prime(nb, sb, qb, impostor_b)
                                 - d_prime(na, sa, qa, impostor_a),
                                 n_resamples=n_resamples, confidence=confidence, seed=seed)
    return diff, metrics.Interval(lo, hi, "paired_subject_bootstrap")


#: the FRR a paired comparison compares: the paper's (Table 3's column, the headline's) where the rows'
#: samples are known, else the transaction-level one (two systems' exports name attempts, not samples)
FRR_DEFINITIONS = {
    "paper": "FRR = FTA + FNMR x (1 - FTA), FTA over the row's samples (Table 3's FRR column)",
    "transaction": "FRR (transaction) = attempts rejected (a sample failed to acquire, or the score is below the "
                   "threshold) / attempts",
}
#: below this many subjects a comparison is shown, flagged "n too small", and never stated as a finding
MIN_SUBJECTS = 10


def paper_frr(failed, samples, fnm, compared):
    """FTA + FNMR (1 - FTA) from pooled counts (arrays: one value per resample or permutation)."""
    fta = np.divide(failed, samples, out=np.full(np.shape(failed), np.nan), where=np.asarray(samples) > 0)
    fnmr = np.divide(fnm, compared, out=np.zeros(np.shape(fnm)), where=np.asarray(compared) > 0)
    return fta + fnmr * (1.0 - fta)


def _ratio(e, t):
    return np.divide(e, t, out=np.full(np.shape(e), np.nan), where=np.asarray(t) > 0)


@dataclass(frozen=True)
class RowComparison:
    """Row b against row a on the same genuine attempts, at the same threshold. Rates are fractions;
    ``frr_*`` follow ``frr_definition`` (:data:`FRR_DEFINITIONS`); every test's unit is the subject."""

    a: str
    b: str
    n_attempts: int
    n_compared_both: int
    n_subjects: int  # subjects with genuine attempts: the unit of the intervals and tests
    frr_definition: str
    frr_a: float
    frr_b: float
    frr_difference: float
    frr_interval: dict
    frr_test: dict  # paired permutation over subjects: p_value (p_holm once the page's family is known)
    frr_transaction_a: float
    frr_transaction_b: float
    frr_transaction_difference: float
    frr_transaction_interval: dict
    discordant: dict  # attempts rejected (transaction level) by a only, by b only: descriptive, not a test
    fnmr_a: float
    fnmr_b: float
    fnmr_difference: float
    fnmr_interval: dict
    fnmr_test: dict
    d_prime_difference: float
    d_prime_interval: dict
    small_sample: bool  # fewer than min_subjects subjects: flagged, never a finding
    min_subjects: int
    sentence: str
    noun: str = "scenario "
    operating_point: str = ""  # e.g. "FMR<=1%": the target whose threshold the rows are compared at
    fmr: float = float("nan")  # that target as a fraction
    supported: bool = True  # whether the impostors support that target (report.min_false_matches false matches)
    same_threshold: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def _paper_counts(samples: tuple, fnm: np.ndarray, compared: np.ndarray) -> dict:
    """Per subject, what the paper's FRR of one row is computed from (:func:`paper_frr`'s keywords):
    its failed samples and samples, and its false non-matches over its compared attempts."""
    return {"failed": np.asarray(samples[0], float), "samples": np.asarray(samples[1], float), "fnm": fnm,
            "compared": compared}


def compare_rows(a: str, b: str, gen_a, gen_b, subject, n_subjects: int, threshold: float, impostor_a: tuple,
                 impostor_b: tuple, *, bootstrap: dict, threshold_b: float | None = None,
                 noun: str = "scenario ", samples_a: tuple | None = None, samples_b: tuple | None = None,
                 min_subjects: int = MIN_SUBJECTS, operating_point: str = "", supported: bool = True,
                 fmr: float = float("nan")) -> RowComparison:
    """Row ``b`` against row ``a``.

    ``gen_a`` / ``gen_b``: one score per genuine attempt (the same attempts in the same order), NaN
    where the attempt could not be compared; ``subject``: each attempt's subject index;
    ``impostor_a`` / ``impostor_b``: (mean, variance) of each row's impostor scores (for d');
    ``samples_a`` / ``samples_b``: each row's (failed samples, samples) per subject, (n_subjects,)
    arrays: the FRR compared is then the paper's (sample-level FTA folded in, Table 3's), else the
    transaction-level one. ``threshold_b``: row b's own threshold where the rows come from two systems
    (``fr-eval compare``); ``noun`` precedes the labels in the sentence.

    Intervals: percentile bootstrap over subjects, both rows' counts of a subject kept together.
    Tests: :func:`fr_eval.metrics.paired_permutation_test` over subjects (swap a subject's two rows).
    """
    ga, gb = np.asarray(gen_a, np.float64), np.asarray(gen_b, np.float64)
    if ga.shape != gb.shape:
        raise ValueError(f"rows {a} and {b} do not hold the same genuine attempts")
    kw = interval_kwargs(bootstrap)
    subject = np.asarray(subject, int)
    ok_a, ok_b = np.isfinite(ga), np.isfinite(gb)
    thr_b = threshold if threshold_b is None else threshold_b
    fnm_a_all, fnm_b_all = ok_a & (np.where(ok_a, ga, 0) < threshold), ok_b & (np.where(ok_b, gb, 0) < thr_b)
    rej_a, rej_b = ~ok_a | fnm_a_all, ~ok_b | fnm_b_all

    def count(x, mask=None):
        x = np.asarray(x, float) if mask is None else np.asarray(x, float)[mask]
        return np.bincount(subject if mask is None else subject[mask], weights=x, minlength=n_subjects)

    attempts = count(np.ones(ga.size))
    n_subj = int(np.count_nonzero(attempts))
    # the transaction-level FRR
    tx_a, tx_b = {"e": count(rej_a), "t": attempts}, {"e": count(rej_b), "t": attempts}
    tx_d, tx_i = paired_rate_difference(rej_a, rej_b, subject, n_subjects, **kw)
    definition, fa, fb, stat = _frr_compared(samples_a, samples_b, (count(fnm_a_all), count(ok_a)),
                                             (count(fnm_b_all), count(ok_b)), tx_a, tx_b)
    frr_a, frr_b = (float(stat(**{k: v.sum() for k, v in f.items()})) for f in (fa, fb))
    frr_i = _difference_interval(fa, fb, stat, kw)
    frr_t = metrics.paired_permutation_test(fa, fb, stat, seed=kw["seed"])
    # FNMR over the attempts compared in both rows
    both = ok_a & ok_b
    na = {"e": count(fnm_a_all, both), "t": count(np.ones(ga.size), both)}
    nb = {"e": count(fnm_b_all, both), "t": na["t"]}
    fnmr_d, fnmr_i = paired_rate_difference(fnm_a_all[both], fnm_b_all[both], subject[both], n_subjects, **kw)
    fnmr_t = metrics.paired_permutation_test(na, nb, _ratio, seed=kw["seed"])
    dp_d, dp_i = paired_d_prime_difference(ga[ok_a], gb[ok_b], subject[ok_a], subject[ok_b], n_subjects,
                                           impostor_a, impostor_b, **kw)
    c = RowComparison(
        a=a, b=b, n_attempts=int(ga.size), n_compared_both=int(both.sum()), n_subjects=n_subj,
        frr_definition=definition, frr_a=frr_a, frr_b=frr_b, frr_difference=frr_b - frr_a, frr_interval=frr_i,
        frr_test={"method": "paired permutation over subjects", **frr_t},
        frr_transaction_a=float(rej_a.mean()) if ga.size else float("nan"),
        frr_transaction_b=float(rej_b.mean()) if ga.size else float("nan"),
        frr_transaction_difference=tx_d, frr_transaction_interval=tx_i.as_dict(),
        discordant={"a_only": int((rej_a & ~rej_b).sum()), "b_only": int((rej_b & ~rej_a).sum())},
        fnmr_a=float(fnm_a_all[both].mean()) if both.any() else float("nan"),
        fnmr_b=float(fnm_b_all[both].mean()) if both.any() else float("nan"),
        fnmr_difference=fnmr_d, fnmr_interval=fnmr_i.as_dict(),
        fnmr_test={"method": "paired permutation over subjects", **fnmr_t},
        d_prime_difference=dp_d, d_prime_interval=dp_i.as_dict(), small_sample=n_subj < min_subjects,
        min_subjects=int(min_subjects), sentence="", noun=noun, same_threshold=threshold_b is None,
        operating_point=operating_point, supported=bool(supported), fmr=float(fmr))
    return replace(c, sentence=sentence(c, kw["confidence"]))


def _frr_compared(samples_a, samples_b, fnm_ok_a: tuple, fnm_ok_b: tuple, tx_a: dict, tx_b: dict) -> tuple:
    """(definition, row a's per-subject counts, row b's, the statistic on them) of the FRR compared: the paper's
    where both rows' samples are known (``samples_*``: failed samples and samples per subject; ``fnm_ok_*``: false
    non-matches and compared attempts per subject), else the transaction-level one (``tx_*``)."""
    if samples_a is None or samples_b is None:
        return "transaction", tx_a, tx_b, _ratio
    return "paper", _paper_counts(samples_a, *fnm_ok_a), _paper_counts(samples_b, *fnm_ok_b), paper_frr


def _difference_interval(fa: dict, fb: dict, stat, kw: dict) -> dict:
    """Percentile subject-bootstrap interval of stat(b) - stat(a), a subject's counts of both rows together."""
    if not any(np.any(fa[k] != fb[k]) for k in fa):
        return metrics.Interval(0.0, 0.0, "no subject differs").as_dict()
    per = {f"a_{k}": v for k, v in fa.items()} | {f"b_{k}": v for k, v in fb.items()}

    def diff(**x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (stat(**{k: x[f"b_{k}"].sum(-1) for k in fb}) - stat(**{k: x[f"a_{k}"].sum(-1) for k in fa}))

    lo, hi = metrics.subject_bootstrap(per, diff, **kw)
    return metrics.Interval(lo, hi, "paired_subject_bootstrap").as_dict()


def adjust_family(comparisons: list) -> list:
    """Holm-adjust the FRR tests of one page's comparisons (one family) and say so in each sentence."""
    if not comparisons:
        return comparisons
    adj = metrics.holm([c.frr_test["p_value"] for c in comparisons])
    out = []
    for c, p in zip(comparisons, adj):
        c = replace(c, frr_test={**c.frr_test, "p_holm": float(p), "family": len(comparisons)})
        out.append(replace(c, sentence=sentence(c)))
    return out


def clear_difference(interval: dict, test: dict, alpha: float = 1 - metrics.CONFIDENCE) -> bool:
    """A direction is stated only when the paired interval excludes 0 and the test over subjects agrees:
    its p (Holm-adjusted once the page's family is known) below ``alpha``."""
    low, high = interval.get("low", float("nan")), interval.get("high", float("nan"))
    if not (math.isfinite(low) and (low > 0 or high < 0)):
        return False
    p = test.get("p_holm", test.get("p_value", float("nan")))
    return math.isfinite(p) and p < alpha


def p_text(t: dict) -> str:
    """A permutation test's p-value as it can be read: below the resolution of random permutations it
    is an upper bound ("p < 0.0001, none of 10,000 random swaps as extreme")."""
    if not math.isfinite(t.get("p_value", float("nan"))):
        return "no test"
    if not t.get("exact", True) and t.get("n_extreme") == 0:
        return f"p < {1 / t['n_permutations']:.1g} (none of {t['n_permutations']:,} random swaps as extreme)"
    return f"p = {t['p_value']:.2g}"


def ci_words(low: float, high: float, confidence: float, fmt=lambda v: f"{100 * v:+.2f}") -> str:
    """"95% CI [a, b]" for a sentence; "no interval" where there is none; "no spread over the units" where it
    has zero width (every unit gave the same difference: a bootstrap over them cannot say how sure it is, and a
    zero-width interval would look surer than any data)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval"
    if fmt(low) == fmt(high):
        return "no spread over the units (every one gave the same difference)"
    return f"{100 * confidence:g}% CI [{fmt(low)}, {fmt(high)}]"


def sentence(c: RowComparison, confidence: float = metrics.CONFIDENCE) -> str:
    """One plain sentence. A direction only where the interval excludes 0 and the sample is large
    enough; else "no clear difference" (or "n too small") with the figures."""
    a, b, noun = c.a, c.b, c.noun
    diff, iv = c.frr_difference, c.frr_interval
    if not math.isfinite(diff):
        return f"{noun}{b} and {noun}{a} share no genuine attempt to compare"
    which = "FRR" if c.frr_definition == "paper" else "FRR (transaction)"
    at = ("the fixed threshold" if c.same_threshold else "each one's own threshold") + (
        f" ({c.operating_point})" if c.operating_point else "")
    ci = ci_words(iv.get("low", float("nan")), iv.get("high", float("nan")), confidence)
    t = c.frr_test
    p = p_text(t)
    if "p_holm" in t and math.isfinite(t["p_holm"]):
        bound = not t.get("exact", True) and t.get("n_extreme") == 0
        p += f", Holm-adjusted over the page's {t['family']} comparisons {'<= ' if bound else ''}{t['p_holm']:.2g}"
    figures = (f"{which} at {at}: {100 * c.frr_a:.2f}% vs {100 * c.frr_b:.2f}%, b - a = {100 * diff:+.2f} points, {ci}; "
               f"paired permutation test over {c.n_subjects} subjects, {p}")
    unsupported = (f"at an unsupported operating point\u2020 ({c.operating_point}: too few impostor comparisons to "
                   f"support it)") if not c.supported else ""
    if c.small_sample:  # the figures without an interval: over so few subjects it would look surer than it is
        return (f"{noun}{b} against {noun}{a}: n too small ({c.n_subjects} subjects < report.min_subjects="
                f"{c.min_subjects}){', ' + unsupported if unsupported else ''}, no conclusion "
                f"({figures.replace(ci + '; ', '')})")
    if unsupported:  # a threshold resting on the top few impostor scores: said, never a finding
        return f"{noun}{b} against {noun}{a} {unsupported}, no conclusion ({figures})"
    if not clear_difference(c.frr_interval, t, 1 - confidence):
        return f"no clear difference between {noun}{b} and {noun}{a} ({figures})"
    how = "more" if diff > 0 else "fewer"
    return f"{noun}{b} rejects {abs(100 * diff):.2f} points {how} genuine attempts than {noun}{a} ({figures})"


#: the powers at which the smallest resolvable difference and the identities needed are given
POWERS = (0.8, 0.95)


def resolvable_difference(se: float, n_units: int, observed: float, *, alpha: float = 1 - metrics.CONFIDENCE,
                          powers: tuple = POWERS) -> dict:
    """How many units a claimed difference needs, from the bootstrap standard error ``se`` of the difference
    over ``n_units`` units (identities): the smallest true difference a two-sided test at level ``alpha``
    detects with each of ``powers`` (the minimum detectable effect, (z_{1-alpha/2} + z_power) x se, the normal
    approximation that the percentile bootstrap's interval also rests on), and the units the ``observed``
    difference would need for that power (se shrinking as 1/sqrt(units): n (z se / |observed|)^2, rounded up).
    Written here because it is two lines of the normal approximation; ``statsmodels``' power classes need an
    effect size in units of a per-unit standard deviation, which a bootstrap over pooled rates does not give.
    A difference of exactly 0 needs no finite number of units (``None``); a zero or undefined spread gives no
    figure (NaN) rather than a resolution that looks perfect."""
    z_a = float(stats.norm.ppf(1 - alpha / 2))
    ok = math.isfinite(se) and se > 0 and n_units > 1
    out = {"se": float(se), "n_units": int(n_units), "alpha": float(alpha), "observed": float(observed),
           "powers": [float(p) for p in powers], "mde": [], "units_needed": []}
    for p in powers:
        z = z_a + float(stats.norm.ppf(p))
        out["mde"].append(z * se if ok else float("nan"))
        if not ok or not math.isfinite(observed):
            out["units_needed"].append(float("nan"))
        elif observed == 0:
            out["units_needed"].append(None)
        else:
            out["units_needed"].append(int(math.ceil(n_units * (z * se / abs(observed)) ** 2)))
    return out


def power_sentence(power: dict, what: str = "verified rate", unit: str = "identities",
                   fmt=lambda v: f"{100 * v:.1f} points") -> str:
    """"with 20 identities, differences under 9.0 points in verified rate cannot be told apart (...)": the
    smallest resolvable difference at each power and the units the observed difference would need."""
    n, mde, need = power["n_units"], power["mde"], power["units_needed"]
    if not mde or not math.isfinite(mde[0]):
        return (f"with {n} {unit}, every one gave the same difference in {what} (or too few were shared), so the "
                f"bootstrap over {unit} has no spread from which to say which smaller differences could be resolved")
    level = f"two-sided test at {100 * power['alpha']:g}%"
    at = "; ".join(f"{fmt(m)} at {100 * p:g}% power" for m, p in zip(mde, power["powers"]))
    obs = power["observed"]
    if need[0] is None:
        tail = f"the observed difference is 0 and no number of {unit} would resolve it"
    elif need[0] <= n:
        tail = (f"the observed {fmt(abs(obs))} is above that bar (it needs about {need[0]:,} {unit} at "
                f"{100 * power['powers'][0]:g}% power)")
    else:
        more = ", ".join(f"{k:,} at {100 * p:g}% power" for k, p in zip(need, power["powers"]))
        tail = f"the observed {fmt(abs(obs))} would need about {more} ({unit})"
    return (f"with {n} {unit}, differences under {fmt(mde[0])} in {what} cannot be told apart ({level}: {at}, "
            f"from the bootstrap spread over {unit}); {tail}")


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
    small_sample: bool = False  # fewer than min_identities shared identities: flagged, never a finding
    power: dict = None  # :func:`resolvable_difference` of the verified-rate difference
    power_sentence: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def compare_methods(a: str, b: str, identity_a, verified_a, similarity_a, identity_b, verified_b, similarity_b, *,
                    bootstrap: dict, min_identities: int = MIN_SUBJECTS) -> MethodComparison:
    """Method ``b`` against method ``a`` over the identities both generated. Per image: its identity,
    whether it was verified (a failure to acquire is not) and its similarity with failures as 0. The
    rates are pooled over each method's images of the shared identities; their difference gets a
    percentile bootstrap interval resampling identities (both methods' images of an identity kept
    together). The test is Wilcoxon's signed-rank test (``scipy.stats.wilcoxon``, two-sided) on the
    per-identity differences of the mean similarity: the methods need not hold the same number of
    images per identity, so there are no paired attempts for McNemar."""
    kw = interval_kwargs(bootstrap)
    ia, ib = np.asarray(identity_a), np.asarray(identity_b)
    shared = np.intersect1d(ia, ib)
    if shared.size == 0:
        nan = metrics.Interval(float("nan"), float("nan"), "none").as_dict()
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
    *v_lh, v_se = metrics.subject_bootstrap(per, diff, **kw, with_se=True)
    v_i = metrics.Interval(*v_lh, "paired_identity_bootstrap")
    power = resolvable_difference(v_se, int(shared.size), v_d, alpha=1 - kw["confidence"])
    s_d = float(diff(sa, na, sb, nb))
    s_i = metrics.Interval(*metrics.subject_bootstrap({**per, "x_a": sa, "x_b": sb}, diff, **kw), "paired_identity_bootstrap")
    d = sb / nb - sa / na
    nz = int(np.count_nonzero(d))
    w = (stats.wilcoxon(d, zero_method="wilcox") if nz else None)
    test = {"statistic": float(w.statistic) if w else float("nan"), "p_value": float(w.pvalue) if w else 1.0,
            "n_nonzero": nz}
    small = int(shared.size) < min_identities
    text = _method_sentence(a, b, v_d, v_i, s_d, test, int(shared.size), (int(na.sum()), int(nb.sum())), small,
                            min_identities, kw["confidence"])
    return MethodComparison(a, b, int(shared.size), int(na.sum()), int(nb.sum()), float(va.sum() / na.sum()),
                            float(vb.sum() / nb.sum()), v_d, v_i.as_dict(), s_d, s_i.as_dict(), test, text, small,
                            power, power_sentence(power))


def _method_sentence(a: str, b: str, v_d: float, v_i: metrics.Interval, s_d: float, test: dict, n_shared: int,
                     images: tuple, small: bool, min_identities: int, confidence: float) -> str:
    """A method comparison in one sentence: a direction only where the identity-bootstrap interval of the
    verified-rate difference excludes 0 and the sample is large enough."""
    pts = 100 * v_d
    lead = (f"method {b} verifies as many of its images as method {a}" if pts == 0 else
            f"method {b} verifies {abs(pts):.1f} points {'more' if pts > 0 else 'fewer'} of its images than "
            f"method {a}")
    ci = ci_words(v_i.low, v_i.high, confidence, lambda v: f"{100 * v:.1f}")
    figures = (f"{n_shared} identities both generated ({images[0]} and {images[1]} images), verified "
               f"b - a = {pts:+.1f} points, {ci}; mean similarity (failures as 0) {s_d:+.3f}, Wilcoxon signed-rank "
               f"p = {test['p_value']:.2g} over {test['n_nonzero']} identities that differ")
    if small:
        return (f"method {b} against method {a}: n too small ({n_shared} identities < report.min_subjects="
                f"{min_identities}), no conclusion ({figures.replace(', ' + ci + ';', ';')})")
    if not (math.isfinite(v_i.low) and (v_i.low > 0 or v_i.high < 0)):
        return f"no clear difference between method {b} and method {a} ({figures})"
    return f"{lead} on the {figures}"


def direction(comparison: dict) -> str:
    """``more``, ``fewer`` (row b rejects more / fewer genuine attempts than row a: the paired FRR
    interval excludes 0 and the test over subjects agrees, :func:`clear_difference`) or ``unclear``."""
    iv = comparison["frr_interval"]
    if comparison.get("small_sample") or iv.get("method") in (None, "none") or not math.isfinite(iv["low"]):
        return "unclear"
    if not clear_difference(iv, comparison.get("frr_test") or {}):
        return "unclear"
    return "more" if iv["low"] > 0 else "fewer"


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
