"""Identification (1:N): the streamed search and the figures, on a gallery worked out by hand, against the
full score matrix (to the bit), against pyeer's CMC, and against bob.measure's cmc, recognition_rate,
detection_identification_rate and false_alarm_rate on random and on tied scores."""
import re

import numpy as np
import pytest

from fr_eval import identification



# Five enrolled people A-E; the gallery is the identity matrix, so each search's scores are its own row
# as written here (a dot product with a one-hot vector is exact in float32)
GALLERY = ["A", "B", "C", "D", "E"]


ROWS = {  # search: (subject, scores against A..E, acquired)
    "s1": ("A", [0.9, 0.1, 0.2, 0.0, 0.3], True),   # mate first: rank 1
    "s2": ("B", [0.6, 0.5, 0.7, 0.1, 0.0], True),   # two non-mates above: rank 3
    "s3": ("C", [0.4, 0.4, 0.4, 0.1, 0.2], True),   # tied with two non-mates: rank 3 (ties count against)
    "s4": ("D", [0.0, 0.0, 0.0, 0.0, 0.0], False),  # failed to acquire: a miss at every rank
    "s5": ("X", [0.2, 0.8, 0.1, 0.0, 0.1], True),   # not enrolled: top score 0.8
    "s6": ("Y", [0.3, 0.1, 0.35, 0.2, 0.0], True),  # not enrolled: top score 0.35
    "s7": ("Z", [0.0, 0.0, 0.0, 0.0, 0.0], False),  # not enrolled, failed: no candidate
}


def five_people(k=5, budget=1 << 20):
    subj = [v[0] for v in ROWS.values()]
    x = np.array([v[1] for v in ROWS.values()], np.float32)
    ok = np.array([v[2] for v in ROWS.values()])
    return identification.search_gallery(x, subj, np.eye(5, dtype=np.float32), GALLERY, k=k, search_ok=ok, budget_bytes=budget)


@pytest.mark.parametrize("budget", [1, 1 << 20])  # one search per block, and all in one
def test_five_people_worked_by_hand(budget):
    r = five_people(budget=budget)
    assert r.mated.tolist() == [True, True, True, True, False, False, False]
    assert r.mate_rank.tolist() == [1, 3, 3, 0, 0, 0, 0]
    assert np.allclose(r.mate_score[:3], [0.9, 0.5, 0.4]) and np.isnan(r.mate_score[3:]).all()
    assert r.top_entry[2].tolist() == [0, 1, 2, 4, 3]  # the three tied at 0.4 in gallery order, then 0.2, 0.1
    assert r.top_entry[3].tolist() == [-1] * 5 and np.isneginf(r.top_score[3]).all()
    rank, score = r.mated_searches()
    assert identification.cmc(rank, 5).tolist() == [0.25, 0.25, 0.75, 0.75, 0.75]  # s4 (failed) never found
    top1 = r.nonmated_top1()
    assert np.allclose(top1[:2], [0.8, 0.35]) and np.isneginf(top1[2])
    assert identification.fpir(top1, 0.5) == pytest.approx(1 / 3) and identification.fpir(top1, 0.3) == pytest.approx(2 / 3)
    assert identification.fpir(top1, 0.9) == 0.0  # the failed search never alarms, but counts
    assert identification.fnir(rank, score, 1, 0.5) == 0.75  # only s1
    assert identification.fnir(rank, score, 3, 0.45) == 0.5  # s1 and s2 (0.5 at rank 3); s3 below T; s4 failed
    assert identification.fnir(rank, score, 3, -np.inf) == 0.25  # investigation mode: 1 - the rate at rank 3
    # the conservative rule: 1 false alarm allowed among 3 non-mated searches at FPIR 1/3, none at 0.2
    assert identification.threshold_at_fpir(top1, 1 / 3) == float(np.float32(0.8))
    t = identification.threshold_at_fpir(top1, 0.2)
    assert t > float(np.float32(0.8)) and identification.fpir(top1, t) == 0.0
    thr, fp, fn = identification.tradeoff(rank, score, top1, rank=1)
    at = {round(float(a), 4): (b, c) for a, b, c in zip(thr, fp, fn)}
    assert at[0.8] == (pytest.approx(1 / 3), 0.75) and at[0.9] == (0.0, 0.75) and at[0.35] == (pytest.approx(2 / 3), 0.75)


def test_several_entries_of_a_subject_are_one_candidate_scored_by_its_best():
    # gallery entries: A twice (scores 0.2 and 0.7 for the search), B once (0.5), C once (0.6)
    g = np.eye(4, dtype=np.float32)
    x = np.array([[0.2, 0.5, 0.7, 0.6], [0.9, 0.1, 0.0, 0.3]], np.float32)
    r = identification.search_gallery(x, ["B", "Q"], g, ["A", "B", "A", "C"], k=3)
    assert r.gallery_size == 3 and r.subjects.tolist() == ["A", "B", "C"]
    assert r.mate_rank.tolist() == [3, 0]  # B's 0.5 below A (0.7) and C (0.6)
    assert r.top_entry[0].tolist() == [0, 2, 1] and np.allclose(r.top_score[0], [0.7, 0.6, 0.5])
    assert np.allclose(r.top_score[1], [0.9, 0.3, 0.1])  # A by its first entry (0.9)


def test_the_split_is_seeded_and_checked():
    from fr_eval.errors import ConfigError
    from fr_eval.settings import IdentificationSettings
    from fr_eval.stages.plan import split_subjects
    subjects = [f"p{i}" for i in range(10)]
    a = split_subjects(subjects, IdentificationSettings(nonmated_subjects=0.3), seed=4)
    assert a.enrolled.sum() == 7 and set(a.order) == set(np.flatnonzero(a.enrolled))
    assert a.enrolled.tolist() == split_subjects(subjects, IdentificationSettings(nonmated_subjects=3), 4).enrolled.tolist()
    assert a.enrolled.tolist() != split_subjects(subjects, IdentificationSettings(nonmated_subjects=0.3), 5).enrolled.tolist()
    with pytest.raises(ConfigError, match="at least one enrolled and one held-out"):
        split_subjects(subjects, IdentificationSettings(nonmated_subjects=10), 0)
    with pytest.raises(ConfigError, match="gallery_sizes: 8 is more than the 7 subjects enrolled"):
        split_subjects(subjects, IdentificationSettings(nonmated_subjects=3, gallery_sizes=[8]), 0)


def test_non_finite_embeddings_are_refused():
    with pytest.raises(ValueError, match="non-finite"):
        identification.search_gallery(np.array([[np.inf, 0.0]]), ["A"], np.eye(2), ["A", "B"])


def full_matrix(x, subj, g, gsubj, k):
    """The reference: every score held at once, ranks and top candidates read from it."""
    s = identification.score_matrix(x, g)
    assert np.allclose(s, np.asarray(x, np.float64) @ np.asarray(g, np.float64).T, atol=1e-6)
    col = identification.gallery_columns(subj, gsubj)[2]
    rank = np.zeros(len(x), np.int64)
    mate = np.full(len(x), np.nan, np.float32)
    for i, c in enumerate(col):
        if c >= 0:
            mate[i] = s[i, c]
            rank[i] = 1 + int(np.sum(np.delete(s[i], c) >= s[i, c]))
    order = np.array([sorted(range(len(g)), key=lambda j: (-s[i, j], j))[:k] for i in range(len(x))])
    return s, mate, rank, order


@pytest.mark.parametrize("budget", [1, 300_000, 1 << 30])  # 64 searches a block, 128, all in one
def test_streamed_search_equals_the_full_matrix_to_the_bit(budget):
    rng = np.random.default_rng(3)
    g = rng.normal(size=(150, 64)).astype(np.float32)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    gsubj = [f"p{i}" for i in range(150)]
    subj = [f"p{i}" for i in rng.integers(0, 220, 400)]  # about a third not enrolled
    x = (g[np.minimum(np.array([int(s[1:]) for s in subj]), 149)] + rng.normal(0, 0.9, (400, 64))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    r = identification.search_gallery(x, subj, g, gsubj, k=20, budget_bytes=budget)
    s, mate, rank, order = full_matrix(x, subj, g, gsubj, 20)
    assert np.array_equal(r.mate_rank, rank) and np.array_equal(r.mate_score, mate, equal_nan=True)
    assert np.array_equal(r.top_entry, order)
    assert np.array_equal(r.top_score, np.take_along_axis(s, order, axis=1))  # float32, bit for bit
    assert r.mated.sum() > 100 and (~r.mated).sum() > 100 and (rank > 1).sum() > 10


@pytest.mark.parametrize("key, value, says", [
    ("identification.nonmated_subjects", 1.5, "give a fraction between 0 and 1 (0.5: half) or a whole count"),
    ("identification.fpir", [0.001, 2], "identification.fpir[1]=2 is not valid"),
    ("identification.gallery_template", "median", "identification.gallery_template=median is not valid"),
    ("protocol", "search", "protocol=search is not valid"),
    ("scores", "x.bob4", "protocol=identification searches a gallery of embeddings"),
])
def test_identification_keys_are_checked_at_parse_time(key, value, says):
    from fr_eval.errors import ConfigError
    from fr_eval.settings import defaults, validate
    cfg = defaults()
    node, leaf = (cfg["identification"], key.split(".")[1]) if "." in key else (cfg, key)
    node[leaf] = value
    if key == "scores":
        cfg["protocol"] = "identification"
    with pytest.raises(ConfigError, match=re.escape(says)):
        validate(cfg)
