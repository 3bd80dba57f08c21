"""Several people in one generated image (issue 39): the Hungarian matching of faces to the named identities,
swaps, blending, missing and extra faces, by hand on similarity matrices and end to end on two LFW faces pasted
side by side (made here; no image is committed)."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

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


def build_pairs(lfw_small, tmp_path):
    """Four LFW people (two photos each enrolled, one more each as an ordinary generated row) and the rows of
    several people: a and b pasted side by side named a|b (right) and b|a (swapped), a alone named a|b, an
    image with no face, and a pair naming an identity never enrolled."""
    people = sorted(p for p in lfw_small.iterdir() if p.is_dir())[:4]
    photos = {p.name: sorted(p.glob("*.jpg")) for p in people}
    a, b = people[0].name, people[1].name
    rows = ["path,identity,role,method"]
    rows += [f"{f},{n},reference," for n, fs in photos.items() for f in fs[:2]]
    rows += [f"{fs[2]},{n},generated,single" for n, fs in photos.items()]  # the ordinary rows of the audit
    pair = np.hstack([np.asarray(Image.open(photos[x][2]).convert("RGB")) for x in (a, b)])
    for name in ("pair.png", "pair_named_the_other_way.png", "pair_nobody.png"):  # one path per manifest row
        Image.fromarray(pair).save(tmp_path / name)
    Image.open(photos[a][3]).save(tmp_path / "alone.png")
    Image.new("RGB", (200, 200), (128, 128, 128)).save(tmp_path / "empty.png")
    rows += [f"{tmp_path / 'pair.png'},{a}|{b},generated,right", f"{tmp_path / 'pair_named_the_other_way.png'},{b}|{a},generated,swapped",
             f"{tmp_path / 'alone.png'},{a}|{b},generated,alone", f"{tmp_path / 'empty.png'},{a}|{b},generated,alone",
             f"{tmp_path / 'pair_nobody.png'},{a}|nobody,generated,right"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "m.csv"


def test_two_people_pasted_side_by_side(lfw_small, tmp_path):
    from fr_eval.cli import main
    build_pairs(lfw_small, tmp_path)
    people = sorted(p for p in lfw_small.iterdir() if p.is_dir())[:2]
    a, b = people[0].name, people[1].name
    out = tmp_path / "r"
    assert main(["scenario=generated", f"generated.manifest={tmp_path / 'm.csv'}", "generated.allow_outside=true",
                 "system=sface", "progress=false", "bootstrap.n_resamples=50", "generated.min_per_method=1",
                 "report.min_subjects=1", f"out_dir={out}", f"store_dir={tmp_path / 's'}"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["generated"]["multi_person_rows"] == 4  # the row naming an unenrolled identity is set aside
    assert any(p["kind"] == "identity with no reference" and "nobody" in p["detail"] for p in doc["problems"])
    assert {g["value"] for g in doc["groups"]["method"]} == {"single"}  # never pooled with one-person rows
    with open(out / "generated_multi.csv") as f:
        got = {(r["method"], r["path"].rsplit("/", 1)[-1]): r for r in csv.DictReader(f)}
    right, swapped = got[("right", "pair.png")], got[("swapped", "pair_named_the_other_way.png")]
    assert (right["n_faces"], right["n_swaps"], right["n_missing"], right["n_extra"]) == ("2", "0", "0", "0")
    assert (swapped["n_faces"], swapped["n_swaps"]) == ("2", "2")
    assert got[("alone", "alone.png")]["n_missing"] == "1" and got[("alone", "alone.png")]["n_faces"] == "1"
    empty = got[("alone", "empty.png")]
    assert empty["status"] == "failed" and empty["reason"].startswith("no face") and empty["n_missing"] == "2"
    with open(out / "generated_multi_faces.csv") as f:
        faces = [r for r in csv.DictReader(f) if "pair" in r["path"]]
    mine = {(r["method"], r["identity"]): r for r in faces}
    assert all(mine[("right", x)]["verified"] == "True" for x in (a, b))
    assert mine[("right", a)]["face"] == "0" and mine[("right", b)]["face"] == "1"  # a on the left
    assert float(mine[("right", a)]["box_x2"]) <= 250 < float(mine[("right", b)]["box_x1"])
    assert all(mine[("swapped", x)]["swapped"] == "True" for x in (a, b))
    methods = {m["method"]: m for m in doc["multi"]["methods"]}
    assert methods["right"]["swap"] == 0.0 and methods["swapped"]["swap"] == 1.0
    assert methods["alone"]["missing"] == 1.0 and methods["alone"]["verified"] == pytest.approx(1 / 4)
    table = (out / "generated_multi_methods.md").read_text()
    assert "| swapped | 1 | 1 | 0 | 2 / 2 | 100 [0, 100] | 100 [0, 100] | 0 [0, 100] |" in table
    assert table.splitlines()[[x.startswith("| swapped") for x in table.splitlines()].index(True)].endswith(
        "| unknown 1 |")  # the provenance column and "Hungarian assignment" in table
    html = (out / "report.html").read_text()
    assert "Several people" in html and "4 images of several people" in html
