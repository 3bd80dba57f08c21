"""Several people in one generated image (issue 39): the Hungarian matching of faces to the named identities,
swaps, blending, missing and extra faces, by hand on similarity matrices and end to end on two LFW faces pasted
side by side (made here; no image is committed)."""

import numpy as np
import pytest

from fr_eval.stages.audit_multi import match_faces, multi_figures, names_of


def test_matching_by_hand():
    S = np.array([[0.8, 0.1], [0.2, 0.7]])  # face 0 (left) is a, face 1 is b
    ok = match_faces(S, 0.4)
    assert ok["match"] == [0, 1] and ok["n_swaps"] == 0 and ok["verified"] == [True, True]
    assert ok["similarity"] == [0.8, 0.7] and (ok["n_missing"], ok["n_extra"], ok["n_blended"]) == (0, 0, 0)
    # the names given the other way round (b|a): both faces matched to the other position's name
    swapped = match_faces(S[:, ::-1], 0.4)
    assert swapped["match"] == [1, 0] and swapped["n_swaps"] == 2 and swapped["swapped_faces"] == [0, 1]
    # without an order the same image has no swap: each face matches the identity it resembles most
    assert match_faces(S[:, ::-1], 0.4, ordered=False)["n_swaps"] == 0
    # one face for two names: one identity missing (not verified), swaps not assessed by position
    one = match_faces(S[:1], 0.4)
    assert one["face_of"] == [0, -1] and one["n_missing"] == 1 and one["verified"] == [True, False]
    assert not one["swaps_assessed"] and one["n_swaps"] == 0
    # three faces for two names: the assignment keeps the best total, the third face is extra
    three = match_faces(np.array([[0.8, 0.1], [0.3, 0.2], [0.2, 0.7]]), 0.4)
    assert three["match"] == [0, -1, 1] and three["n_extra"] == 1
    # a face verified as both named people: blending; two faces that both resemble a: the unordered swap
    blend = match_faces(np.array([[0.6, 0.5], [0.65, 0.3]]), 0.4, ordered=False)
    assert blend["blended_faces"] == [0] and blend["match"] == [1, 0] and blend["swapped_faces"] == [0]
    assert names_of("a| b") == ["a", "b"]


def test_method_rates_and_their_unit():
    """Rates over rows; the interval's unit is the row's set of identities (rows of the same people together)."""
    def row(method, names, S):
        return {"path": f"{method}{len(names)}", "method": method, "names": names, "n_named": len(names),
                "n_faces": len(S), "status": "acquired", "reason": "", "faces": [], **match_faces(np.array(S), 0.4)}
    rows = [row("m", ["a", "b"], [[0.8, 0.1], [0.2, 0.7]]), row("m", ["b", "a"], [[0.8, 0.1], [0.2, 0.7]]),
            row("m", ["c", "d"], [[0.9, 0.2]])]
    rows.append({**rows[0], "status": "error", "reason": "RuntimeError: boom"})  # the machine's: in no rate
    f = multi_figures(rows, {"n_resamples": 50, "seed": 0})["methods"][0]
    assert (f["n_rows"], f["n_units"], f["n_errors"], f["faces_found"], f["faces_named"]) == (3, 2, 1, 5, 6)
    assert f["verified"] == pytest.approx(5 / 6) and f["missing"] == pytest.approx(1 / 3)
    assert f["swap"] == 0.0 and f["n_swap_assessed"] == 2  # the one-face row cannot be judged by position
