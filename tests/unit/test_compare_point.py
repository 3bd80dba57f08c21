"""``fr-eval compare``'s operating point: the rule of a run's own paired rows applied to both runs (the
shared FMR where both runs' impostors support it, else the strictest looser target both support, else
the shared FMR with the dagger and no conclusion)."""
from pathlib import Path

import numpy as np
import pytest

from fr_eval.errors import ConfigError
from fr_eval.stages.compare_runs import Run, compare_runs, operating_point


def _run(name: str, supported: dict, shift: float = 0.0, seed: int = 0) -> Run:
    rng = np.random.default_rng(seed)
    n_subjects, per = 12, 4
    keys = np.array([f"r{s}|p{s}_{i}" for s in range(n_subjects) for i in range(per)])
    subj = np.array([f"s{s}" for s in range(n_subjects) for _ in range(per)])
    scores = rng.normal(0.6 + shift, 0.15, keys.size)
    thresholds = {f: 0.5 - 0.1 * k for k, f in enumerate(sorted(supported))}
    return Run(Path(name), name, "toy", 0.001, thresholds, supported, 10, None, (12, 48), ["1"],
               {"1": (keys, scores, subj)}, {"1": None}, {"1": (0.0, 0.01)})


BOOT = {"n_resamples": 200, "confidence": 0.95, "seed": 0}


def test_shared_target_supported_by_both_is_used():
    a = _run("a", {0.001: True, 0.01: True})
    b = _run("b", {0.001: True, 0.01: True})
    assert operating_point(a, b) == (0.001, True)


def test_one_run_short_of_impostors_moves_both_to_the_looser_target():
    a = _run("a", {0.001: True, 0.01: True, 0.1: True})
    b = _run("b", {0.001: False, 0.01: True, 0.1: True})
    assert operating_point(a, b) == (0.01, True)
    (c,) = compare_runs(a, b, BOOT)
    assert c["fmr"] == 0.01 and c["supported"] is True and "FMR<=1%" in c["operating_point"]
    for run, side in ((a, "a"), (b, "b")):  # each run at its own threshold for FMR 1 %, not for 0.1 %
        g = run.genuine["1"][1]
        assert c[f"fnmr_{side}"] == pytest.approx(np.mean(g < run.thresholds[0.01]))
        assert c[f"fnmr_{side}"] != pytest.approx(np.mean(g < run.thresholds[0.001]))


def test_no_supported_target_gives_the_dagger_and_no_conclusion():
    a = _run("a", {0.001: False, 0.01: False})
    b = _run("b", {0.001: False, 0.01: True}, shift=-0.3, seed=1)  # B clearly worse, yet no conclusion
    assert operating_point(a, b) == (0.001, False)
    (c,) = compare_runs(a, b, BOOT)
    assert c["supported"] is False
    assert "\u2020" in c["sentence"] and "no conclusion" in c["sentence"]
    assert "more" not in c["sentence"].split("no conclusion")[0].split("unsupported")[0]


def test_different_targets_are_refused():
    a, b = _run("a", {0.001: True}), _run("b", {0.01: True})
    b.fmr = 0.01
    with pytest.raises(ConfigError, match="different FMR targets"):
        operating_point(a, b)
