"""Candidate lists in (``fr-eval candidates=<file>``): the identification figures of a 1:N system fr-eval does
not run, from its lists alone: a gallery worked out by hand, every malformed file a one-line error. (The round
trip of a run's own lists to its figures is in tests/test_identification.py.)"""
import json

import pytest

from fr_eval.cli import main


# search, its subject (empty: not named), mated, its list (candidate, score) in rank order; [] = failed
LISTS = [
    ("s1", "A", True, [("A", .9), ("E", .3), ("C", .2)]),   # mate first: rank 1
    ("s2", "B", True, [("C", .7), ("A", .6), ("B", .5)]),   # two non-mates above: rank 3
    ("s3", "C", True, [("A", .4), ("B", .4), ("C", .4)]),   # tied with two non-mates: rank 3 (ties count against)
    ("s4", "D", True, []),                                  # failed to acquire: a miss at every rank
    ("s5", "X", False, [("B", .8), ("A", .2), ("E", .1)]),  # non-mated: top score 0.8
    ("s6", "", False, [("C", .35), ("A", .3), ("D", .2)]),  # non-mated, its subject not named: top score 0.35
    ("s7", "Z", False, []),                                 # non-mated, failed: no candidate
]


def write(path, lists=LISTS, header="search,search_subject,mated,candidate_subject,rank,score", extra=()):
    lines = [header]
    for sid, subj, mated, cands in lists:
        m = str(mated).lower()
        lines += [f"{sid},{subj},{m},{c},{i + 1},{s}" for i, (c, s) in enumerate(cands)] or [f"{sid},{subj},{m},,0,"]
    path.write_text("\n".join([*lines, *extra]) + "\n")
    return path


def test_figures_from_lists_worked_by_hand(tmp_path):
    src = write(tmp_path / "lists.csv")
    out = tmp_path / "r"
    assert main([f"candidates={src}", f"out_dir={out}", "progress=false", "identification.fpir=[0.34]",
                 "identification.max_rank=5", "bootstrap.n_resamples=50"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    ident = m["identification"]
    row = ident["rows"][0]
    assert (row["mated_searches"], row["nonmated_searches"], row["gallery_size"]) == (4, 3, 5)
    assert row["cmc"] == [0.25, 0.25, 0.75]  # the lists are 3 long: the CMC stops at rank 3, and says so
    assert any("max_rank=5 is more than the lists' 3 candidates" in w for w in m["warnings"])
    assert row["mated_fta"] == 0.25 and row["nonmated_fta"] == pytest.approx(1 / 3)
    # one false alarm of three allowed: T just above 0.35, where only s5 (0.8) alarms; s1's mate (0.9) is found
    t = ident["thresholds"]["0.34"]
    assert 0.35 < t["threshold"] <= 0.8 and t["allowed_false_alarms"] == 1
    a = row["at_fpir"]["0.34"]
    assert (a["fpir"], a["fnir_rank1"]) == (1 / 3, 0.75)
    assert row["fnir_rank3_investigation"] == 0.25  # only the failed search is not in the top 3
    assert ident["split"]["searches_without_subject"] == 1 and ident["split"]["gallery_size_given"] is False
    md = (out / "identification.md").read_text()
    assert "a gallery of 5 subjects (at least: the candidates seen" in md and "| 1 | (from the file) |" in md
    html = (out / "report.html").read_text()
    assert "identification from candidate lists (lists.csv)" in html and "identification_cmc.png" in html
    assert (out / "identification_cmc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # two rows of the same searches are compared pair-wise; a gallery_size column is read
    body = (tmp_path / "lists.csv").read_text().splitlines()[1:]
    better = [ln.replace("s2,B,true,C,1,0.7", "s2,B,true,B,1,0.75").replace("s2,B,true,B,3,0.5", "s2,B,true,C,3,0.5")
              for ln in body]
    (tmp_path / "two.csv").write_text("\n".join(["row,gallery_size,search,search_subject,mated,candidate_subject,"
                                                 "rank,score", *[f"1,9,{x}" for x in body],
                                                 *[f"4,9,{x}" for x in better]]) + "\n")
    out2 = tmp_path / "r2"
    assert main([f"candidates={tmp_path / 'two.csv'}", f"out_dir={out2}", "progress=false", "report.compare=[1:4]",
                 "identification.fpir=[0.34]", "bootstrap.n_resamples=50", "report.min_subjects=2"]) == 0
    m2 = json.loads((out2 / "metrics.json").read_text())["identification"]
    r1, r4 = m2["rows"]
    assert (r1["gallery_size"], r4["gallery_size"]) == (9, 9) and (r1["rank1"], r4["rank1"]) == (0.25, 0.5)
    pair = next(c for c in m2["paired_comparisons"] if c["figure"].startswith("FNIR rank 1 ("))
    assert pair["difference"] == pytest.approx(-0.25) and pair["subjects"] == 4


def test_header_with_spaces_after_commas(tmp_path):
    """Many tools write ', ' between cells: the header's names are read without the spaces (the same figures)."""
    plain, spaced = tmp_path / "a.csv", tmp_path / "b.csv"
    write(plain)
    write(spaced, header="search, search_subject, mated, candidate_subject, rank, score")
    for src, out in ((plain, "ra"), (spaced, "rb")):
        assert main([f"candidates={src}", f"out_dir={tmp_path / out}", "progress=false", "identification.fpir=[0.34]",
                     "bootstrap.n_resamples=20"]) == 0
    a, b = (json.loads((tmp_path / o / "metrics.json").read_text())["identification"]["rows"] for o in ("ra", "rb"))
    assert a == b and a[0]["mated_searches"] == 4


def test_a_tie_at_the_cut_is_said_and_bounded(tmp_path):
    """Lists cut at 2 of a gallery of 4: s2's mate is listed second with the score of the list's last entry, so
    an unlisted candidate may tie with it (ties count against the mate): its rank-2 hit is a best case, and the
    report gives the rate if the tie is lost. Full lists (every enrolled subject) say every rank is known."""
    lists = [("s1", "A", True, [("A", .9), ("B", .3)]),
             ("s2", "B", True, [("C", .7), ("B", .5)]),  # mate at the cut's score: a hidden tie is possible
             ("s3", "C", True, [("C", .8), ("A", .6)]),  # mate above the cut: exact
             ("s4", "X", False, [("B", .8), ("A", .2)])]
    src = tmp_path / "cut.csv"
    write(src, lists, header="gallery_size,search,search_subject,mated,candidate_subject,rank,score")
    src.write_text(src.read_text().replace("\ns", "\n4,s"))
    out = tmp_path / "r"
    assert main([f"candidates={src}", f"out_dir={out}", "progress=false", "identification.max_rank=2",
                 "identification.fpir=[0.5]", "bootstrap.n_resamples=20"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    row = m["identification"]["rows"][0]
    assert row["rank2"] == 1.0 and row["mates_tied_at_cut"] == 1 and row["rank2_if_ties_lose"] == pytest.approx(2 / 3)
    assert any("1 mated search(es) list the mate with the score of the list's last candidate" in w
               for w in m["warnings"])
    assert "A mate not in a list of 2 ranks beyond it" in (out / "identification.md").read_text()
    full = tmp_path / "full.csv"
    write(full, [("s1", "A", True, [("A", .9), ("B", .3)]), ("s2", "B", True, [("B", .7), ("A", .5)]),
                 ("s3", "X", False, [("B", .8), ("A", .2)])])
    assert main([f"candidates={full}", f"out_dir={tmp_path / 'f'}", "progress=false", "identification.max_rank=2",
                 "identification.fpir=[0.5]", "bootstrap.n_resamples=20"]) == 0
    md = (tmp_path / "f" / "identification.md").read_text()
    assert "Every list holds the whole gallery" in md and "ranks beyond it" not in md
