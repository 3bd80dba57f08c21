import numpy as np
import pytest

from fr_eval import metrics
from fr_eval.datasets.lfw import parse_pairs
from fr_eval.errors import FrEvalError



def test_malformed_pairs_file(tmp_path):
    f = tmp_path / "pairs.txt"
    f.write_text("1\t1\nA\t1\t2\nB\t1\n")
    with pytest.raises(FrEvalError, match="pairs.txt:3"):
        parse_pairs(f)


def test_best_threshold_and_kfold_accuracy():
    assert metrics.best_accuracy_threshold([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    n = 600
    folds = np.repeat(np.arange(10), n // 10)
    same = np.tile([True, False], n // 2)
    scores = np.where(same, rng.normal(0.6, 0.15, n), rng.normal(0.1, 0.15, n))
    scores[5] = -np.inf  # a failed pair counts as a non-match
    r = metrics.kfold_verification_accuracy(scores, same, folds)
    for k in range(10):  # brute force: every candidate threshold on the nine other folds
        tr, te = folds != k, folds == k
        cands = np.append(np.unique(scores[tr][np.isfinite(scores[tr])]), np.inf)
        best = max(np.mean((scores[tr] >= t) == same[tr]) for t in cands)
        t = r["fold_threshold"][k]
        assert np.mean((scores[tr] >= t) == same[tr]) == pytest.approx(best)
        assert r["fold_accuracy"][k] == pytest.approx(np.mean((scores[te] >= t) == same[te]))
    assert r["mean"] == pytest.approx(np.mean(r["fold_accuracy"]))
    assert r["standard_error"] == pytest.approx(np.std(r["fold_accuracy"], ddof=1) / np.sqrt(10))
    sep = metrics.kfold_verification_accuracy([0.9, 0.1] * 10, [1, 0] * 10, np.repeat(np.arange(10), 2))
    assert sep["mean"] == 1.0 and sep["std"] == 0.0
