"""Several people in one generated image (issue 39): the Hungarian matching of faces to the named identities,
swaps, blending, missing and extra faces, by hand on similarity matrices and end to end on two LFW faces pasted
side by side (made here; no image is committed)."""
import csv
import json

import numpy as np
import pytest
from PIL import Image



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
