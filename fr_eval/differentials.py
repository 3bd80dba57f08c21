"""Demographic differentials (ISO/IEC 19795-10; NIST IR 8280), as pure functions of per-subject counts.

Every figure of a group is computed at one threshold fixed beforehand (the baseline's, at the run's FMR
target) from counts kept **per subject** (the independent unit): samples and failed samples (FTA),
genuine attempts compared and false non-matches (FNMR), impostor comparisons and false matches (FMR; an
impostor comparison is counted under its probe's subject). So a group's figure equals the figure of a run
on that group's subjects alone at the same threshold, and its interval resamples the group's subjects.

* **FRR** = FTA + FNMR (1 - FTA) (ISO/IEC 19795-1), per group.
* **Ratios** (NIST IR 8280): each group's FMR and FNMR over the lowest group's and over the geometric mean
  of the groups' (undefined, ``nan``, where the divisor is 0).
* **GARBE** (Howard, Laird, Rubin, Sirotin, Tipton and Vemury, 2022): α·G(FMR) + (1 - α)·G(FNMR), G the
  Gini coefficient of the groups' rates with the small-sample correction n/(n - 1); 0 = equal rates.
* **FDR**, the Fairness Discrepancy Rate (de Freitas Pereira and Marcel, 2021): 1 - (α·max|FMR_i - FMR_j|
  + (1 - α)·max|FNMR_i - FNMR_j|); 1 = equal rates.

Intervals of the differences between groups resample subjects **within each group** (a stratified
bootstrap); those of GARBE and FDR resample subjects **across all groups together** (how many subjects a
group gets varies as it would in another sample) and, in each resample, draw every group's FMR and FNMR from
its Jeffreys posterior Beta(errors + 1/2, trials - errors + 1/2): a group with no error could never make one
in a resample, so a bootstrap alone would print [0.500, 0.500] for a GARBE resting on one group's five errors.
Written here because ``scipy.stats.bootstrap`` neither stratifies nor draws posteriors. Every rate is a
fraction.
"""
from __future__ import annotations

import numpy as np

from . import metrics

#: per-subject count arrays a group's figures need
COUNTS = ("failed", "samples", "fnm", "compared", "attempts", "fm", "impostor")


def _rates(c: dict) -> dict:
    """FTA, FNMR, FRR, FMR from summed counts (scalars, or arrays with a trailing resample axis)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        fta = np.where(c["samples"] > 0, c["failed"] / np.maximum(c["samples"], 1), np.nan)
        fnmr = np.where(c["compared"] > 0, c["fnm"] / np.maximum(c["compared"], 1), np.nan)
        fmr = np.where(c["impostor"] > 0, c["fm"] / np.maximum(c["impostor"], 1), np.nan)
    return {"fta": fta, "fnmr": fnmr, "frr": fta + np.nan_to_num(fnmr) * (1 - fta), "fmr": fmr}


def group_figures(counts: dict, group: np.ndarray, names: list, *, bootstrap: dict | None = None) -> list[dict]:
    """Per group: subjects, samples, attempts and impostor comparisons, and FTA, FNMR, FRR and FMR with
    their 95% intervals (subject bootstrap within the group; rule of 3 at zero errors).

    Parameters
    ----------
    counts : dict of (n_subjects,) arrays
        :data:`COUNTS`: ``failed``/``samples`` (FTA), ``fnm``/``compared`` (FNMR), ``attempts`` (genuine
        attempts, the rule of 3's N for the FRR), ``fm``/``impostor`` (FMR, under the probe's subject).
    group : (n_subjects,) array of int
        Each subject's group (an index of ``names``; -1: in no group).
    names : list of str
        The groups.
    """
    kw = metrics.interval_kwargs(bootstrap)
    c = {k: np.asarray(counts[k], np.float64) for k in COUNTS}
    out = []
    for g, name in enumerate(names):
        m = np.asarray(group) == g
        s = {k: c[k][m] for k in COUNTS}
        rates = {k: float(v) for k, v in _rates({k: v.sum() for k, v in s.items()}).items()}
        out.append({"group": name, "n_subjects": int(m.sum()), "n_samples": int(s["samples"].sum()),
                    "n_compared": int(s["compared"].sum()), "n_false_non_matches": int(s["fnm"].sum()),
                    "n_impostor": int(s["impostor"].sum()), "n_false_matches": int(s["fm"].sum()), **rates,
                    "intervals": {
                        "fta": metrics.rate_interval(s["failed"], s["samples"], **kw).as_dict(),
                        "fnmr": metrics.rate_interval(s["fnm"], s["compared"], **kw).as_dict(),
                        "frr": metrics.frr_interval(s["failed"], s["samples"], s["fnm"], s["compared"], s["attempts"],
                                              **kw).as_dict(),
                        "fmr": metrics.rate_interval(s["fm"], s["impostor"], **kw).as_dict()}})
    return out


def ratios(rates) -> dict:
    """Each group's rate over the lowest group's and over the groups' geometric mean (NIST IR 8280);
    ``nan`` where the divisor is 0 (a group with no error: the ratio is unbounded), with the reason."""
    r = np.asarray(rates, np.float64)
    ok = np.isfinite(r)
    lowest = float(r[ok].min()) if ok.any() else float("nan")
    geo = float(np.exp(np.log(r[ok]).mean())) if ok.any() and (r[ok] > 0).all() else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"over_lowest": np.where(lowest > 0, r / lowest, np.nan), "lowest": lowest,
                "over_geometric_mean": np.where(geo > 0, r / geo, np.nan), "geometric_mean": geo,
                "undefined": "" if lowest > 0 else "the lowest group's rate is 0: ratios to it (and to the "
                                                   "geometric mean) are unbounded"}


def gini(x, axis: int = -1) -> np.ndarray:
    """The Gini coefficient with GARBE's small-sample correction: n/(n-1) · Σ|x_i - x_j| / (2 n² mean)
    (0 when all are equal; nan for a zero mean or fewer than two values)."""
    x = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    n = x.shape[-1]
    if n < 2:
        return np.full(x.shape[:-1], np.nan)
    mad = np.abs(x[..., :, None] - x[..., None, :]).sum(axis=(-1, -2))
    mean = x.mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):  # all rates 0 (rates are >= 0): equal, G = 0
        return np.where(mean > 0, n / (n - 1) * mad / (2 * n * n * mean), np.where(mean == 0, 0.0, np.nan))


def garbe(fmr, fnmr, alpha: float = 0.5) -> np.ndarray:
    """GARBE = α G(FMR) + (1 - α) G(FNMR) over the groups (last axis)."""
    return alpha * gini(fmr) + (1 - alpha) * gini(fnmr)


def fdr(fmr, fnmr, alpha: float = 0.5) -> np.ndarray:
    """FDR = 1 - (α max|ΔFMR| + (1 - α) max|ΔFNMR|) over the groups (last axis)."""
    fmr, fnmr = np.asarray(fmr, np.float64), np.asarray(fnmr, np.float64)
    spread = lambda x: x.max(axis=-1) - x.min(axis=-1)  # noqa: E731 - max |x_i - x_j|
    return 1.0 - (alpha * spread(fmr) + (1 - alpha) * spread(fnmr))


def stratified_sums(counts: dict, group: np.ndarray, n_groups: int, *, n_resamples: int, seed: int) -> dict:
    """Per count: (n_groups, n_resamples) sums over subjects drawn with replacement within each group
    (each group keeps its number of subjects)."""
    rng = np.random.default_rng(seed)
    group = np.asarray(group)
    out = {k: np.zeros((n_groups, n_resamples)) for k in counts}
    for g in range(n_groups):
        idx = np.flatnonzero(group == g)
        if idx.size == 0:
            continue
        draw = idx[rng.integers(0, idx.size, (n_resamples, idx.size))]
        for k, v in counts.items():
            out[k][g] = np.asarray(v, np.float64)[draw].sum(axis=1)
    return out


def summary_indices(counts: dict, group: np.ndarray, names: list, *, alpha: float = 0.5,
                    bootstrap: dict | None = None) -> dict:
    """GARBE and FDR of the groups' FMR and FNMR, with 95% stratified-bootstrap intervals, and the ratios."""
    kw = metrics.interval_kwargs(bootstrap)
    group = np.asarray(group)
    c = {k: np.asarray(counts[k], np.float64) for k in COUNTS}
    point = [_rates({k: v[group == g].sum() for k, v in c.items()}) for g in range(len(names))]
    usable = [g for g, p in enumerate(point) if np.isfinite(p["fmr"]) and np.isfinite(p["fnmr"])]
    left_out = [names[g] for g in range(len(names)) if g not in usable]
    if len(usable) < 2:  # no differential to measure: nothing to compare a group with
        return {"alpha": alpha, "groups": [names[g] for g in usable], "groups_left_out": left_out,
                "garbe": float("nan"), "fdr": float("nan"), "fmr_ratios": _plain(ratios([])),
                "fnmr_ratios": _plain(ratios([])), "intervals": {},
                "note": f"{len(usable)} group(s) with both an FMR and an FNMR: GARBE and FDR need two"}
    if len(usable) < len(names):  # a group with no within-group impostor (one subject) or no genuine attempt
        remap = np.full(len(names) + 1, -1)
        remap[usable] = np.arange(len(usable))
        return {**summary_indices(c, remap[np.where(group >= 0, group, len(names))], [names[g] for g in usable],
                                  alpha=alpha, bootstrap=bootstrap),
                "groups_left_out": left_out,
                "left_out_why": "no within-group impostor comparison or no genuine attempt (FMR or FNMR undefined)"}
    fmr, fnmr = (np.array([float(p[k]) for p in point]) for k in ("fmr", "fnmr"))
    out = {"alpha": alpha, "groups": list(names), "groups_left_out": [], "garbe": float(garbe(fmr, fnmr, alpha)),
           "fdr": float(fdr(fmr, fnmr, alpha)),
           "fmr_ratios": _plain(ratios(fmr)), "fnmr_ratios": _plain(ratios(fnmr))}
    inside = group >= 0
    out["errors"] = {"fnm": int(c["fnm"][inside].sum()), "fm": int(c["fm"][inside].sum())}
    sums, empty = pooled_sums({k: v[inside] for k, v in c.items()}, group[inside], len(names),
                              n_resamples=kw["n_resamples"], seed=kw["seed"])
    rng = np.random.default_rng(kw["seed"] + 1)
    drawn = {rate: rng.beta(sums[e] + 0.5, np.maximum(sums[n] - sums[e], 0) + 0.5)  # Jeffreys, (groups, resamples)
             for rate, e, n in (("fmr", "fm", "impostor"), ("fnmr", "fnm", "compared"))}
    keep = ~empty
    q = (100 * (1 - kw["confidence"]) / 2, 100 * (1 + kw["confidence"]) / 2)
    for name, values in (("garbe", garbe(drawn["fmr"].T, drawn["fnmr"].T, alpha)),
                         ("fdr", fdr(drawn["fmr"].T, drawn["fnmr"].T, alpha))):
        v = values[keep & np.isfinite(values)]
        lo, hi = np.percentile(v, q) if v.size else (np.nan, np.nan)
        out.setdefault("intervals", {})[name] = {
            "low": float(lo), "high": float(hi), "median": float(np.median(v)) if v.size else float("nan"),
            "method": "pooled_subject_bootstrap_jeffreys",
            "resamples_with_an_empty_group": int(empty.sum())}
    return out


def pooled_sums(counts: dict, group: np.ndarray, n_groups: int, *, n_resamples: int, seed: int) -> tuple[dict, np.ndarray]:
    """Per count: (n_groups, n_resamples) sums over the subjects of each resample of **all** subjects together
    (each keeps its group, so a group's size varies between resamples); and which resamples left a group with no
    genuine attempt or no within-group impostor comparison (its rates undefined: those resamples are dropped)."""
    rng = np.random.default_rng(seed)
    group = np.asarray(group)
    draw = rng.integers(0, group.size, (n_resamples, group.size))
    out = {k: np.zeros((n_groups, n_resamples)) for k in counts}
    for g in range(n_groups):
        w = (group[draw] == g)  # (resamples, subjects drawn)
        for k, v in counts.items():
            out[k][g] = (np.asarray(v, np.float64)[draw] * w).sum(axis=1)
    empty = ((out["compared"] <= 0) | (out["impostor"] <= 0)).any(axis=0)
    return out, empty


def _plain(r: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in r.items()}


def effect_by_group(a: dict, b: dict, group: np.ndarray, names: list, rate: str = "fnmr", *,
                    bootstrap: dict | None = None, n_permutations: int = 10_000) -> dict:
    """Does a change of condition (row a -> row b on the same subjects: colourised against greyscale
    probes) move ``rate`` (``fnmr`` or ``frr``) by the same amount in every group?

    Per group: the difference b - a with a paired subject-bootstrap interval (a subject's counts in both
    rows kept together) and the paired permutation test's p (:func:`fr_eval.metrics.paired_permutation_test`),
    Holm-adjusted over the groups.
    Per pair of groups (i, j): the difference of the differences (j's minus i's) with a stratified-bootstrap
    interval, and a permutation test of the group labels among the two groups' subjects (under the null
    hypothesis the effect does not depend on the group); p Holm-adjusted over the pairs.

    Parameters
    ----------
    a, b : dict of (n_subjects,) arrays
        :data:`COUNTS` of the two rows.
    """
    kw = metrics.interval_kwargs(bootstrap)
    group = np.asarray(group)
    A = {k: np.asarray(a[k], np.float64) for k in COUNTS}
    B = {k: np.asarray(b[k], np.float64) for k in COUNTS}

    def rate_of(c):
        return _rates(c)[rate]

    per_group = []
    for g, name in enumerate(names):
        m = group == g
        sa, sb = ({k: v[m] for k, v in X.items()} for X in (A, B))
        diff = float(rate_of({k: v.sum() for k, v in sb.items()}) - rate_of({k: v.sum() for k, v in sa.items()}))
        both = {**{f"a_{k}": sa[k] for k in COUNTS}, **{f"b_{k}": sb[k] for k in COUNTS}}
        lo, hi = metrics.subject_bootstrap(both, lambda **x: rate_of({k: x[f"b_{k}"].sum(-1) for k in COUNTS})
                                     - rate_of({k: x[f"a_{k}"].sum(-1) for k in COUNTS}), **kw)
        test = metrics.paired_permutation_test(sa, sb, lambda **s: rate_of(s), n_resamples=n_permutations,
                                         seed=kw["seed"])
        per_group.append({"group": name, "n_subjects": int(m.sum()), "a": float(rate_of({k: v.sum() for k, v in sa.items()})),
                          "b": float(rate_of({k: v.sum() for k, v in sb.items()})), "difference": diff,
                          "interval": {"low": lo, "high": hi, "method": "paired_subject_bootstrap"},
                          "p_value": test["p_value"], "test": "paired permutation test (subjects' rows swapped)"})
    for g, adj in zip(per_group, metrics.holm([g["p_value"] for g in per_group]) if per_group else []):
        g["p_holm"] = float(adj)  # the groups' tests are one family
    pairs = _group_pairs(A, B, group, names, rate_of, kw, n_permutations)
    p_adj = metrics.holm([p["p_value"] for p in pairs]) if pairs else []
    for p, adj in zip(pairs, p_adj):
        p["p_holm"] = float(adj)
    return {"rate": rate, "groups": per_group, "pairs": pairs}


def _group_pairs(A, B, group, names, rate_of, kw, n_permutations) -> list[dict]:
    """The difference of the groups' differences for every pair of groups, its interval and p."""
    rng = np.random.default_rng(kw["seed"])
    out = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            m = (group == i) | (group == j)
            if (group == i).sum() < 2 or (group == j).sum() < 2:
                continue
            counts = {f"{r}_{k}": X[k][m] for r, X in ((0, A), (1, B)) for k in COUNTS}

            def effect(s):  # a group's summed counts -> its effect, row b's rate minus row a's
                return rate_of({k: s[f"1_{k}"] for k in COUNTS}) - rate_of({k: s[f"0_{k}"] for k in COUNTS})

            observed, p, lo, hi = _two_group_test(counts, group[m] == j, lambda g0, g1: effect(g1) - effect(g0),
                                                  kw, n_permutations, rng)
            out.append({"group_i": names[i], "group_j": names[j], "difference_of_differences": observed,
                        "interval": {"low": lo, "high": hi, "method": "stratified_subject_bootstrap"},
                        "p_value": p, "n_permutations": n_permutations,
                        "test": "permutation of the group labels among the two groups' subjects"})
    return out


def _two_group_test(counts: dict, lab: np.ndarray, stat, kw: dict, n_permutations: int, rng) -> tuple:
    """A statistic of two groups of units, ``stat(sums of group 0, sums of group 1)`` (dicts of summed per-unit
    ``counts``; arrays with a trailing axis of permutations or resamples): its observed value, the p of a
    permutation test of the labels ``lab`` (True = group 1) among the units, and its 95% interval from a bootstrap
    resampling units within each group (:func:`stratified_sums`). Written here because ``scipy.stats`` has
    neither a stratified bootstrap nor a label permutation over summed counts."""
    def sums(assign):  # assign: (..., units) bool, True = group 1
        return ({k: (~assign * v).sum(-1) for k, v in counts.items()}, {k: (assign * v).sum(-1) for k, v in counts.items()})

    with np.errstate(divide="ignore", invalid="ignore"):
        observed = float(stat(*sums(lab)))
        perms = np.stack([rng.permutation(lab) for _ in range(n_permutations)])
        t = stat(*sums(perms))
        p = (1 + int(np.sum(np.abs(t) >= abs(observed) - 1e-12))) / (1 + n_permutations)
        boot = stratified_sums(counts, lab.astype(int), 2, n_resamples=kw["n_resamples"], seed=kw["seed"])
        d = stat({k: v[0] for k, v in boot.items()}, {k: v[1] for k, v in boot.items()})
    d = d[np.isfinite(d)]
    q = (100 * (1 - kw["confidence"]) / 2, 100 * (1 + kw["confidence"]) / 2)
    lo, hi = np.percentile(d, q) if d.size else (np.nan, np.nan)
    return observed, float(p), float(lo), float(hi)


def group_differences(hits, trials, group: np.ndarray, names: list, *, bootstrap: dict | None = None,
                      n_permutations: int = 10_000, min_units: int = 2) -> list[dict]:
    """Between groups of independent units (identities, each in one group): for every pair of groups (i, j) with
    at least ``min_units`` units each, the difference of their pooled ratio sum(hits) / sum(trials) (j's minus
    i's) with a 95% stratified-bootstrap interval (units resampled within each group), and a permutation test of
    the group labels among the two groups' units (under the null hypothesis the ratio does not depend on the
    group); the p-values Holm-adjusted over the pairs. ``hits`` may be any per-unit sum (verified images, failed
    acquisitions, a sum of similarities) over ``trials`` (images, acquired images)."""
    kw = metrics.interval_kwargs(bootstrap)
    h, t, group = np.asarray(hits, np.float64), np.asarray(trials, np.float64), np.asarray(group)
    rng = np.random.default_rng(kw["seed"])
    out = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            mi, mj = (group == i) & (t > 0), (group == j) & (t > 0)
            if mi.sum() < min_units or mj.sum() < min_units:
                continue
            m = mi | mj
            observed, p, lo, hi = _two_group_test({"h": h[m], "t": t[m]}, group[m] == j,
                                                  lambda g0, g1: g1["h"] / g1["t"] - g0["h"] / g0["t"], kw,
                                                  n_permutations, rng)
            out.append({"group_i": names[i], "group_j": names[j], "n_units_i": int(mi.sum()),
                        "n_units_j": int(mj.sum()), "value_i": float(h[mi].sum() / t[mi].sum()),
                        "value_j": float(h[mj].sum() / t[mj].sum()), "difference": observed,
                        "interval": {"low": lo, "high": hi, "method": "stratified_unit_bootstrap"},
                        "p_value": p, "n_permutations": n_permutations,
                        "test": "permutation of the group labels among the two groups' units"})
    for r, adj in zip(out, metrics.holm([r["p_value"] for r in out]) if out else []):
        r["p_holm"] = float(adj)
    return out
