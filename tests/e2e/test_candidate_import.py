"""Candidate lists in (``fr-eval candidates=<file>``): the identification figures of a 1:N system fr-eval does
not run, from its lists alone: a gallery worked out by hand, every malformed file a one-line error. (The round
trip of a run's own lists to its figures is in tests/test_identification.py.)"""

import pytest

from fr_eval.cli import main
from integration.test_candidate_import import write


@pytest.mark.parametrize("change, says", [
    (lambda s: s.replace(",score", ",value"), "missing column(s) score"),
    (lambda s: s.replace("s1,A,true,E,2,0.3", "s1,A,true,E,3,0.3"), "s1's ranks are [1, 3, 3]: give ranks 1, 2, ..."),
    (lambda s: s.replace("s1,A,true,E,2,0.3", "s1,A,true,E,2,0.95"), "s1's scores rise with rank"),
    (lambda s: s.replace("s1,A,true,E,2,0.3", "s1,A,true,C,2,0.3"), "s1 lists a candidate subject twice"),
    (lambda s: s.replace("s1,A,true,E,2,0.3", "s1,A,true,E,2,inf"), "score='inf' is not a finite number"),
    (lambda s: s.replace("s1,A,true,E,2,0.3", "s1,A,true,E,2,high"), "score='high' is not a number"),
    (lambda s: s.replace("s1,A,true,E,2,0.3", "s1,B,true,E,2,0.3"), "search s1 has another search_subject"),
    (lambda s: s.replace("s4,D,true,,0,", "s4,D,true,,2,"), "a candidate needs a rank >= 1 and a finite score"),
    (lambda s: s.replace("s2,B,true", "s2,,true"), "search s2 is mated but names no search_subject"),
    (lambda s: s.replace("A,true", "P,false").replace("B,true", "Q,false").replace("C,true", "R,false")
     .replace("D,true", "S,false"), "no search is mated; the figures need mated searches"),
])
def test_malformed_lists_are_one_line_errors(tmp_path, capsys, change, says):
    src = write(tmp_path / "lists.csv")
    src.write_text(change(src.read_text()))
    assert main([f"candidates={src}", f"out_dir={tmp_path / 'r'}", "progress=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_candidates_do_not_mix_with_other_inputs(tmp_path, capsys):
    src = write(tmp_path / "lists.csv")
    assert main([f"candidates={src}", "score_kind=distance", f"out_dir={tmp_path / 'r'}"]) == 2
    assert "give distances negated, as similarities" in capsys.readouterr().err
    assert main([f"candidates={src}", f"scores={src}", f"out_dir={tmp_path / 'r'}"]) == 2
    assert "does not combine with scores=" in capsys.readouterr().err


@pytest.mark.parametrize("change, says", [
    (lambda s: s.replace("s5,X,false,B,1,0.8", "s5,X,false,X,1,0.8"),
     "search s5 is non-mated (mated=false), yet its list holds its own subject X at rank 1"),
    (lambda s: "gallery_size," + s.replace("\ns", "\n3,s"), "gallery_size 3, but its lists name 5 different"),
])
def test_lists_that_contradict_themselves(tmp_path, capsys, change, says):
    """A gallery smaller than the subjects its lists name, and a non-mated search whose list holds its own
    subject (so it is enrolled), are one-line errors, not figures."""
    src = write(tmp_path / "lists.csv")
    src.write_text(change(src.read_text()))
    assert main([f"candidates={src}", f"out_dir={tmp_path / 'r'}", "progress=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
