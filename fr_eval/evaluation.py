"""From acquisitions and comparisons to the figures of one scenario row (pure computation)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import differentials
from . import metrics
from .errors import FrEvalError
from .metrics import interval_kwargs
from .streaming import ImpostorSummary, summarise_cross_subject

#: how a face system's embeddings are compared: ``cosine`` (of L2-normalised vectors; every system
#: but dlib) or ``euclidean`` (dlib: s = 1 - d^2/2 for the Euclidean distance d of the raw vectors)
METRICS = ("cosine", "euclidean")
SIDES = ("reference", "probe", "template")


def score_vectors(raw: np.ndarray, metric: str = "cosine", side: str = "reference") -> np.ndarray:
    """Rows whose dot products are the scores: L2-normalised for ``cosine``. For ``euclidean`` the
    reference side gets ``[a, 1 - |a|^2/2, 1]`` and the probe side ``[b, 1, -|b|^2/2]``, so that a
    reference row times a probe row is exactly ``1 - |a - b|^2 / 2`` (one matrix product still
    scores a block); ``template`` keeps the raw vectors (:func:`fr_eval.identity.pairwise_similarity`
    compares them)."""
    raw = np.asarray(raw, np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return (raw / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    if metric != "euclidean" or side not in SIDES:
        raise ValueError(f"metric={metric}, side={side}: choose from {METRICS} and {SIDES}")
    if side == "template":
        return raw.astype(np.float32)
    half, one = 0.5 * np.einsum("ij,ij->i", raw, raw)[:, None], np.ones((raw.shape[0], 1))
    extra = [1.0 - half, one] if side == "reference" else [one, -half]
    return np.hstack([raw, *extra]).astype(np.float32)


def gallery_templates(raw, subjects, template: str = "mean", metric: str = "cosine") -> tuple[np.ndarray, list]:
    """A 1:N gallery from enrolment embeddings: (entries' score vectors, their subjects).

    ``mean``: one template per subject (cosine: the mean of its unit embeddings, normalised again;
    euclidean: the plain mean, as :func:`fr_eval.identity.identity_scores`); ``best``: every
    embedding an entry, a subject scored by its best one. The entries are reference-side rows of
    :func:`score_vectors` (a search's probe-side row times an entry is the score).
    """
    raw, subjects = np.asarray(raw), list(subjects)
    if not subjects:
        return np.zeros((0, 0), np.float32), []
    if template == "best":
        return score_vectors(raw, metric, "reference"), subjects
    by_subject: dict = {}
    for v, s in zip(raw, subjects):
        v = v.astype(np.float64).ravel()
        by_subject.setdefault(s, []).append(v / np.linalg.norm(v) if metric == "cosine" else v)
    names = list(by_subject)
    mean = np.stack([np.mean(by_subject[s], axis=0) for s in names])
    if metric == "cosine":
        return (mean / np.linalg.norm(mean, axis=1, keepdims=True)).astype(np.float32), names
    return score_vectors(mean, metric, "reference"), names


@dataclass
class SideData:
    """Acquisitions of all references (or all probes) in one variant, as arrays."""

    ok: np.ndarray  # (n,) bool
    emb: np.ndarray  # (n, d) score vectors (:func:`score_vectors`), zero rows where not ok

    @classmethod
    def from_acquisitions(cls, acqs, metric: str = "cosine", side: str = "reference",
                          dim: int | None = None) -> "SideData":
        """``dim``: the embeddings' length, for a side where nothing was acquired (its rows are then
        zeros of the length the other side's products need); else taken from the first acquired."""
        ok = np.array([a.ok for a in acqs], dtype=bool)
        dim = next((a.embedding.size for a in acqs if a.ok), dim or 1)
        if metric == "cosine":  # row by row in float32, as every earlier run normalised them
            emb = np.zeros((len(acqs), dim), dtype=np.float32)
            for i, a in enumerate(acqs):
                if a.ok:
                    v = a.embedding.astype(np.float32).ravel()
                    emb[i] = v / np.linalg.norm(v)
            return cls(ok=ok, emb=emb)
        raw = np.zeros((len(acqs), dim), dtype=np.float64)
        for i, a in enumerate(acqs):
            if a.ok:
                raw[i] = a.embedding.astype(np.float64).ravel()
        emb = score_vectors(raw, metric, side)
        emb[~ok] = 0.0
        return cls(ok=ok, emb=emb)


def compared_mask(ref: SideData, probe: SideData, pairs: np.ndarray) -> np.ndarray:
    """Which (reference, probe) pairs can be compared: both samples acquired."""
    if len(pairs) == 0:
        return np.zeros(0, dtype=bool)
    return ref.ok[pairs[:, 0]] & probe.ok[pairs[:, 1]]


def pair_scores(ref: SideData, probe: SideData, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of each (reference, probe) pair whose two samples were acquired.

    Returns (scores of the compared pairs, boolean mask over ``pairs`` of those compared).
    """
    if len(pairs) == 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    both = compared_mask(ref, probe, pairs)
    p = pairs[both]
    scores = np.einsum("ij,ij->i", ref.emb[p[:, 0]], probe.emb[p[:, 1]]).astype(np.float64)
    return scores, both


@dataclass(frozen=True)
class ImpostorStream:
    """How impostor scores are summarised: kept whole up to ``keep_all`` scores, else streamed in
    blocks of at most ``budget_bytes`` (see :mod:`fr_eval.streaming`), here or as Ray tasks."""

    max_fmr: float = metrics.MAX_FMR
    keep_all: int = 5_000_000
    budget_bytes: int = metrics.BLOCK_BYTES
    executor: str = "local"


def impostor_summary(ref: SideData, probe: SideData, comps, ref_subject: np.ndarray, probe_subject: np.ndarray,
                     stream: ImpostorStream, taps=()) -> ImpostorSummary:
    """The impostor scores of one (reference variant, probe variant) pair, summarised. Every
    cross-subject pair (``comps.impostor is None``) comes as blocks of a matrix product over the
    acquired samples; listed pairs (a sample, a pairs protocol) are gathered. Pairs with a failed
    sample are not compared (the FTA counts them). ``taps``: what rides along the scan of a product
    (:mod:`fr_eval.scan_taps`)."""
    if comps.impostor is None:
        return summarise_cross_subject(ref.emb, ref_subject, probe.emb, probe_subject, ref_ok=ref.ok, probe_ok=probe.ok,
                                       max_fmr=stream.max_fmr, keep_all=stream.keep_all,
                                       budget_bytes=stream.budget_bytes, executor=stream.executor, taps=taps)
    scores, _ = pair_scores(ref, probe, comps.impostor)
    out = ImpostorSummary(total=scores.size, max_fmr=stream.max_fmr, keep_all=stream.keep_all)
    out.add(scores)
    return out


def fixed_threshold(impostor, fmr: float) -> dict:
    """The threshold fixed on impostor scores (an array kept whole, or an :class:`ImpostorSummary`) for a
    target FMR by the conservative rule (:func:`fr_eval.metrics.threshold_at_fmr`: achieved FMR <= target),
    with what a report states beside it: the impostors, the achieved FMR and the false matches the target
    allows. The one place a stage fixes a threshold and describes it (scenario runs, the audit)."""
    if isinstance(impostor, ImpostorSummary):
        t, n = impostor.threshold(fmr), impostor.n
        achieved = impostor.fmr_at(t)
    else:
        scores = np.asarray(impostor, np.float64)
        t, n = metrics.threshold_at_fmr(scores, fmr), scores.size
        achieved = metrics.fmr_at(scores, t)
    return {"threshold": t, "n_impostor": int(n), "fmr_achieved": achieved,
            "impostors_allowed": metrics.allowed_false_matches(fmr, n)}


def as_summary(impostor) -> ImpostorSummary:
    """An :class:`ImpostorSummary` as it is, or an array of impostor scores kept whole."""
    if isinstance(impostor, ImpostorSummary):
        return impostor
    return ImpostorSummary.of(np.asarray(impostor, np.float64))


@dataclass(frozen=True)
class RowScores:
    """Everything one Table 3 row's figures are computed from: the evaluate stage's input.

    ``genuine``: one score per genuine attempt, NaN where the attempt could not be compared (a
    sample failed to acquire, or a score file has no score for it). ``attempt_subject``: the
    subject index of each attempt (None when unknown: intervals are then not given).
    ``sample_failed`` / ``sample_subject`` / ``sample_is_reference``: one entry per sample of the
    row (None when only scores are known: the FTA is then the transaction-level one); the references
    of reference-only subjects (impostor comparisons only) are not among them.
    ``impostor``: the impostor scores the row's FMR figures use (the baseline's, as the paper): an
    :class:`~fr_eval.streaming.ImpostorSummary`, or an array (kept whole).
    """

    genuine: np.ndarray
    impostor: object
    n_subjects: int = 0
    attempt_subject: np.ndarray | None = None
    sample_failed: np.ndarray | None = None
    sample_subject: np.ndarray | None = None
    sample_is_reference: np.ndarray | None = None

    @classmethod
    def from_sides(cls, ref: SideData, probe: SideData, genuine_pairs: np.ndarray, impostor: np.ndarray,
                   ref_subject_idx: np.ndarray, probe_subject_idx: np.ndarray, n_subjects: int,
                   reference_used: np.ndarray | None = None) -> "RowScores":
        """``reference_used``: per reference, whether it is a sample of the row's FTA (False for a
        reference-only subject's: it takes part in impostor comparisons only); None: all."""
        n_gen = len(genuine_pairs)
        used = np.ones(ref.ok.size, bool) if reference_used is None else np.asarray(reference_used, bool)
        return cls(genuine=scores_or_nan(ref, probe, genuine_pairs), impostor=impostor,
                   n_subjects=n_subjects,
                   attempt_subject=probe_subject_idx[genuine_pairs[:, 1]] if n_gen else np.zeros(0, dtype=int),
                   sample_failed=np.concatenate([~ref.ok[used], ~probe.ok]),
                   sample_subject=np.concatenate([ref_subject_idx[used], probe_subject_idx]),
                   sample_is_reference=np.concatenate([np.ones(int(used.sum()), bool), np.zeros(probe.ok.size, bool)]))


def evaluate_row(*, ref: SideData, probe: SideData, genuine_pairs: np.ndarray, impostor_scores: np.ndarray,
                 thresholds: dict, fmr_target: float, ref_subject_idx: np.ndarray,
                 probe_subject_idx: np.ndarray, n_subjects: int, bootstrap: dict) -> tuple[dict, np.ndarray]:
    """Figures for one row from acquisitions (see :func:`row_figures`)."""
    rs = RowScores.from_sides(ref, probe, genuine_pairs, impostor_scores, ref_subject_idx, probe_subject_idx,
                              n_subjects)
    return row_figures(rs, thresholds=thresholds, fmr_target=fmr_target, bootstrap=bootstrap)


def _interval_kw(bootstrap: dict) -> dict:
    return interval_kwargs(bootstrap)


def row_figures(rs: RowScores, *, thresholds: dict, fmr_target: float, bootstrap: dict) -> tuple[dict, np.ndarray]:
    """Figures for one row. ``thresholds`` maps each FMR to the threshold fixed on the baseline.

    Returns (figures, genuine scores of the compared attempts).
    """
    if np.isinf(rs.genuine).any():  # NaN is "no score" (a failed attempt); an infinite score is neither
        raise ValueError("genuine scores must be finite, or NaN where an attempt has no score (infinite found)")
    compared = np.isfinite(rs.genuine)
    gen = rs.genuine[compared]
    imp = as_summary(rs.impostor)
    thr = thresholds[fmr_target]
    n_gen = rs.genuine.size
    failed_tx = ~compared
    fta_tx = float(failed_tx.mean()) if n_gen else float("nan")
    known_samples = rs.sample_failed is not None
    if known_samples:
        n_samples, n_failed = int(rs.sample_failed.size), int(rs.sample_failed.sum())
        fta = n_failed / n_samples
    else:  # scores only: the share of genuine attempts without a score
        n_samples, n_failed, fta = None, int(failed_tx.sum()), fta_tx
    fnmr = metrics.fnmr_at(gen, thr)
    n_fnm = int((gen < thr).sum())
    eer, eer_thr, eer_bound = imp.eer(gen) if gen.size and imp.n else (float("nan"),) * 3
    row = {
        "n_samples": n_samples,
        "n_failed": n_failed,
        "n_failed_references": int(rs.sample_failed[rs.sample_is_reference].sum()) if known_samples else None,
        "n_failed_probes": int(rs.sample_failed[~rs.sample_is_reference].sum()) if known_samples else None,
        "fta": fta,
        "fta_level": "sample" if known_samples else "transaction",
        "fta_transaction": fta_tx,
        "n_genuine": int(n_gen),
        "n_genuine_compared": int(gen.size),
        "n_impostor": int(imp.n),
        "fmr_target": fmr_target,
        "threshold": thr,
        "fmr_achieved": imp.fmr_at(thr),
        "fmr_achieved_exact": imp.is_exact_at(thr),
        "n_false_non_matches": n_fnm,
        "fnmr": fnmr,
        "frr": metrics.frr(fta, 0.0 if gen.size == 0 else fnmr),
        "frr_transaction": float((failed_tx.sum() + n_fnm) / n_gen) if n_gen else float("nan"),
        "far": metrics.far(imp.fmr_at(thr), fta),
        "d_prime": imp.d_prime(gen),
        "eer": eer,
        "eer_threshold": eer_thr,
        "eer_resolution": eer_bound,
        "impostor_scores_kept": "all" if imp.exact else "tail and histogram",
        "genuine_mean": float(gen.mean()) if gen.size else float("nan"),
        "genuine_std": float(gen.std()) if gen.size else float("nan"),
        "impostor_mean": float(imp.mean) if imp.n else float("nan"),
        "fnmr_at": {f: metrics.fnmr_at(gen, t) for f, t in thresholds.items()},
        "fmr_achieved_at": {f: imp.fmr_at(t) for f, t in thresholds.items()},
        "threshold_at": {f: t for f, t in thresholds.items()},
        "intervals": row_intervals(rs, compared, gen < thr, _interval_kw(bootstrap)),
    }
    return row, gen


def row_intervals(rs: RowScores, compared: np.ndarray, fnm: np.ndarray, kw: dict) -> dict:
    """95% intervals of a row's rates, resampling subjects (none where subjects are unknown)."""
    none = metrics.Interval(float("nan"), float("nan"), "none (subjects unknown)").as_dict()
    if rs.attempt_subject is None:
        return {"fta": none, "fta_transaction": none, "fnmr": none, "frr": none, "frr_transaction": none}
    n = rs.n_subjects
    subj = rs.attempt_subject
    named = subj >= 0  # an attempt whose subject is unknown (-1) is left out of the intervals
    if not named.all():
        fnm_all = np.zeros(compared.size, bool)
        fnm_all[np.flatnonzero(compared)] = fnm
        subj, compared = subj[named], compared[named]
        fnm = fnm_all[named][compared]

    def count(idx, weights=None):
        return np.bincount(idx, weights=weights, minlength=n).astype(float)

    attempts_s, compared_s = count(subj), count(subj[compared])
    fnm_s, failed_tx_s = count(subj[compared][fnm]), count(subj[~compared])
    if rs.sample_failed is not None:
        failed_s, samples_s = count(rs.sample_subject, rs.sample_failed), count(rs.sample_subject)
    else:
        failed_s, samples_s = failed_tx_s, attempts_s
    return {
        "fta": metrics.rate_interval(failed_s, samples_s, **kw).as_dict(),
        "fta_transaction": metrics.rate_interval(failed_tx_s, attempts_s, **kw).as_dict(),
        "fnmr": metrics.rate_interval(fnm_s, compared_s, **kw).as_dict(),
        "frr": metrics.frr_interval(failed_s, samples_s, fnm_s, compared_s, attempts_s, **kw).as_dict(),
        "frr_transaction": metrics.rate_interval(failed_tx_s + fnm_s, attempts_s, **kw).as_dict(),
    }


def scores_or_nan(ref: SideData, probe: SideData, pairs: np.ndarray) -> np.ndarray:
    """A score per pair, NaN where a sample failed to acquire."""
    return scores_or_fail(ref, probe, pairs, fill=np.nan)


def scores_or_fail(ref: SideData, probe: SideData, pairs: np.ndarray, fill: float = -np.inf) -> np.ndarray:
    """A score per pair, ``fill`` where a sample failed to acquire (``-inf``: a failed pair never matches)."""
    out = np.full(len(pairs), fill)
    s, both = pair_scores(ref, probe, pairs)
    out[both] = s
    return out


def pairs_accuracy(ref: SideData, probe: SideData, comps) -> dict:
    """Verification accuracy over a pairs protocol's folds (LFW View 2): per fold, the
    threshold maximising accuracy on the other folds is applied to it. Pairs with a failed
    sample are kept and count as non-matches (they are errors for matched pairs)."""
    gen = scores_or_fail(ref, probe, comps.genuine)
    imp = scores_or_fail(ref, probe, comps.impostor)
    base = {"n_pairs": int(gen.size + imp.size), "n_matched": int(gen.size), "n_mismatched": int(imp.size),
            "n_mismatched_filled": int(comps.impostor_filled.sum()) if comps.impostor_filled is not None else 0,
            "n_failed_pairs": int((~np.isfinite(gen)).sum() + (~np.isfinite(imp)).sum())}
    folds = np.concatenate([comps.genuine_folds, comps.impostor_folds])
    if gen.size == 0 or imp.size == 0:
        return {**base, "available": False,
                "reason": f"accuracy needs matched and mismatched pairs; present: {gen.size} matched, "
                          f"{imp.size} mismatched"}
    if len(np.unique(folds)) < 2:
        return {**base, "available": False, "reason": "accuracy needs pairs in at least two folds"}
    r = metrics.kfold_verification_accuracy(np.concatenate([gen, imp]),
                                      np.concatenate([np.ones(gen.size, bool), np.zeros(imp.size, bool)]), folds)
    return {**base, "available": True, **r}


def breakdown(*, values: np.ndarray, ref: SideData, probe: SideData, genuine_pairs: np.ndarray, threshold: float,
              probe_subject_idx: np.ndarray, n_subjects: int, bootstrap: dict) -> list[dict]:
    """FNMR and FRR per value of a metadata field (one value per genuine attempt), at the
    transaction level: an attempt fails to acquire when either of its samples did.

    For each value: attempts, subjects, FTA (transaction), FNMR over the attempts compared,
    FRR = (failed attempts + false non-matches) / attempts, each with its 95% interval.
    """
    scores = scores_or_fail(ref, probe, genuine_pairs)
    compared = np.isfinite(scores)
    fnm = compared & (scores < threshold)
    subj = probe_subject_idx[genuine_pairs[:, 1]] if len(genuine_pairs) else np.zeros(0, dtype=int)
    kw = _interval_kw(bootstrap)

    def count(mask):
        return np.bincount(subj[mask], minlength=n_subjects).astype(float)

    out = []
    distinct = set(values.tolist())

    def numeric(x):  # also orders bin labels: "< 1", "[1, 30)", ">= 365"
        t = x.lstrip("<>=[ ").split(",")[0].strip()
        try:
            return float(t) + (0.5 if x.startswith(">=") else -0.5 if x.startswith("<") else 0.0)
        except (TypeError, ValueError):
            return None

    as_num = all(numeric(v) is not None for v in distinct - {""})
    for v in sorted(distinct, key=lambda x: (x == "", numeric(x) if as_num and x != "" else 0, x)):
        m = values == v
        n, n_cmp = int(m.sum()), int((m & compared).sum())
        failed, errors = int((m & ~compared).sum()), int((m & fnm).sum())
        # the value's attempts as one group of the differentials' code (transaction level: an attempt is the
        # sample, so its FRR = FTA + FNMR (1 - FTA) = (failed + false non-matches) / attempts)
        counts = {"failed": count(m & ~compared), "samples": count(m), "fnm": count(m & fnm),
                  "compared": count(m & compared), "attempts": count(m), "fm": np.zeros(n_subjects),
                  "impostor": np.zeros(n_subjects)}
        (g,) = differentials.group_figures(counts, np.zeros(n_subjects, int), [v], bootstrap=kw)
        out.append({
            "value": v if v != "" else "(none)", "n_attempts": n, "n_subjects": int(len(np.unique(subj[m]))),
            "n_compared": n_cmp, "n_failed_to_acquire": failed, "n_false_non_matches": errors,
            "fta_transaction": g["fta"], "fnmr": g["fnmr"], "frr_transaction": g["frr"],
            "intervals": {"fta_transaction": g["intervals"]["fta"], "fnmr": g["intervals"]["fnmr"],
                          "frr_transaction": g["intervals"]["frr"]},
        })
    return out


#: below this d' genuine and impostor scores barely separate: a run says so (a wrong file, a distance read
#: as a similarity, embeddings that carry no identity)
LOW_D_PRIME = 0.5


def separation_warnings(rows: list, hint: str) -> list[str]:
    """One sentence per row whose genuine scores lie below its impostor scores on average, or whose
    d' is below :data:`LOW_D_PRIME`; ``hint`` says what to check."""
    out = []
    for r in rows:
        gm, im, d = r.get("genuine_mean"), r.get("impostor_mean"), r.get("d_prime")
        label = r.get("label", "?")
        if gm is not None and im is not None and np.isfinite(gm) and np.isfinite(im) and gm < im:
            out.append(f"row {label}: the genuine scores' mean ({gm:.4f}) is below the impostors' ({im:.4f}): "
                       f"the scores look reversed; {hint}")
        elif d is not None and np.isfinite(d) and d < LOW_D_PRIME:
            out.append(f"row {label}: d' = {d:.3f} < {LOW_D_PRIME}: genuine and impostor scores barely separate; "
                       f"{hint}")
    return out


@dataclass(frozen=True)
class TableEvaluation:
    """Table 3 from a score table (score import): one figures dict per row, the thresholds fixed on
    the baseline row's impostors, and each row's compared genuine and impostor scores (for the DET;
    ``"subject"``: each compared genuine score's subject index, where every probe's subject is known)."""

    rows: list
    baseline: str
    thresholds: dict
    scores: dict
    subjects_known: bool  # some genuine comparisons name their probe's subject: intervals over those
    n_genuine_without_subject: int = 0  # genuine comparisons left out of the intervals (no subject named)


def evaluate_table(table, *, fmr: float, fmrs: list[float], bootstrap: dict,
                   baseline: str | None = None) -> TableEvaluation:
    """The figures of every row of a :class:`~fr_eval.scores.ScoreTable`.

    Thresholds are fixed on the impostor scores of ``baseline`` (default: the first row that has
    impostor comparisons) and used unchanged in every row, as in the paper; a row without impostor
    comparisons of its own uses the baseline's. Genuine comparisons without a score count as
    attempts that failed to acquire (the FTA is then transaction-level); impostor comparisons
    without a score are left out and counted. Intervals resample subjects when every genuine
    comparison names its probe's subject.
    """
    labels = table.rows()
    if not table.genuine.any():
        raise FrEvalError("the scores hold no genuine comparison (kind=genuine, or a bob line whose two ids are "
                          "equal), so no FNMR can be computed")
    imp_of = {r: table.score[(table.row == r) & ~table.genuine] for r in labels}
    with_imp = [r for r in labels if imp_of[r].size]
    if baseline is None:
        if not with_imp:
            raise FrEvalError("the scores hold no impostor comparison, so no threshold can be fixed")
        baseline = with_imp[0]
    if baseline not in labels or not imp_of[baseline].size:
        raise FrEvalError(f"score_baseline={baseline} is not a row with impostor comparisons; rows: {', '.join(labels)}")
    base_imp = imp_of[baseline][np.isfinite(imp_of[baseline])]
    thresholds = {f: metrics.threshold_at_fmr(base_imp, f) for f in fmrs}
    gen_mask = table.genuine
    named = np.array([str(s) != "" for s in table.probe_subject], bool)
    known = bool((gen_mask & named).any())  # intervals over the genuine comparisons that name a subject
    n_unnamed = int((gen_mask & ~named).sum())
    subjects = sorted({str(s) for s in table.probe_subject[gen_mask & named]}) if known else []
    sidx = {s: i for i, s in enumerate(subjects)}
    rows, scores = [], {}
    for r in labels:
        m = (table.row == r) & gen_mask
        if not m.any():  # impostor comparisons only (a baseline's): no Table 3 row of its own
            continue
        own = imp_of[r] if imp_of[r].size else imp_of[baseline]
        imp = own[np.isfinite(own)]
        rs = RowScores(genuine=table.score[m], impostor=imp, n_subjects=len(subjects),
                       attempt_subject=np.array([sidx.get(str(s), -1) for s in table.probe_subject[m]], dtype=int)
                       if known else None)
        figures, gen = row_figures(rs, thresholds=thresholds, fmr_target=fmr, bootstrap=bootstrap)
        figures.update(label=r, scenario=r, colouriser=None, n_impostor_without_score=int(own.size - imp.size),
                       impostor_scores_from="this row" if imp_of[r].size else f"row {baseline} (baseline)",
                       n_genuine_without_subject=int((table.probe_subject[m] == "").sum()))
        rows.append(figures)
        scores[r] = {"genuine": gen, "impostor": imp, **({"subject": rs.attempt_subject[np.isfinite(rs.genuine)]}
                                                          if known and not n_unnamed else {})}
    return TableEvaluation(rows=rows, baseline=baseline, thresholds=thresholds, scores=scores, subjects_known=known,
                           n_genuine_without_subject=n_unnamed)
