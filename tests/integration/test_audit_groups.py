"""Differentials in the audit (issue 39): the audit's figures per group of identities (skin tone of their
reference photos, a manifest column) equal an audit of that group's identities alone at the same threshold; the
differences between groups with their tests; every identity either in a group or counted as set aside."""
import csv
import json

import pytest



def _manifest(lfw_small, tmp_path, people, name, keep=None):
    """Two reference photos a person, the third as a 'photo' row and the next person's fourth as a 'wrong' row
    (claimed as this person); a column 'half' (first, second); ``keep``: only these people's rows."""
    photos = {p.name: sorted(p.glob("*.jpg")) for p in people}
    names = [p.name for p in people]
    rows = ["path,identity,role,method,half"]
    for k, n in enumerate(names):
        if keep is not None and n not in keep:
            continue
        half = "first" if k < len(names) // 2 else "second"
        rows += [f"{f},{n},reference,,{half}" for f in photos[n][:2]]
        rows += [f"{photos[n][2]},{n},generated,photo,{half}",
                 f"{photos[names[(k + 1) % len(names)]][3]},{n},generated,wrong,{half}"]
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


def _audit(manifest, out, store):
    from fr_eval.cli import main
    assert main(["scenario=generated", f"generated.manifest={manifest}", "generated.allow_outside=true",
                 "system=sface", "progress=false", "bootstrap.n_resamples=100", "generated.min_per_method=1",
                 "report.min_subjects=2", "generated.threshold_from=0.3", "generated.by_attributes=[half]",
                 f"out_dir={out}", f"store_dir={store}"]) == 0
    return json.loads((out / "metrics.json").read_text())


def test_a_group_equals_an_audit_of_its_identities_alone(lfw_small, tmp_path):
    people = sorted(p for p in lfw_small.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 4)[:10]
    assert len(people) == 10
    doc = _audit(_manifest(lfw_small, tmp_path, people, "all.csv"), tmp_path / "all", tmp_path / "s")
    half = doc["differentials"]["half"]
    assert [r["group"] for r in half["rows"]] == ["first", "second"]
    # the group is the claimed identity's (the first half's last "wrong" row shows a person of the second half).
    # An audit of the first five identities alone, at the same threshold:
    alone = _audit(_manifest(lfw_small, tmp_path, people, "first.csv", keep={p.name for p in people[:5]}),
                   tmp_path / "first", tmp_path / "s")
    first = half["rows"][0]
    for key in ("n", "n_identities", "fta", "verified_rate_of_all"):
        assert first[key] == alone["overall"][key], key
    assert first["similarity"] == pytest.approx(alone["overall"]["similarity_failures_excluded"]["mean"])
    mine = {r["method"]: r for r in half["per_method"] if r["group"] == "first"}
    for g in alone["groups"]["method"]:
        assert mine[g["value"]]["verified_rate_of_all"] == g["verified_rate_of_all"]
        assert mine[g["value"]]["n"] == g["n"]
    # between the groups: one comparison per figure, over 5 and 5 identities
    (d,) = half["differences"]["verified_rate_of_all"]
    assert (d["n_units_i"], d["n_units_j"]) == (5, 5) and not d["small_sample"]
    assert d["difference"] == pytest.approx(half["rows"][1]["verified_rate_of_all"] - first["verified_rate_of_all"])
    # skin tone of the reference photos: every identity in a group or set aside, counted, never dropped
    skin = doc["differentials"]["skin_tone"]
    placed = sum(r["n_identities"] for r in skin["rows"])
    aside = sum(len(v) for v in skin["set_aside"].values())
    assert placed + aside == 10 and sum(b["measured"] for b in skin["bins"]) == placed
    # the report: the group table, the differences and the per-method CSV
    table = (tmp_path / "all" / "generated_groups_half.md").read_text()
    assert "| first | 5 | 10 |" in table and "equal an audit of that group's identities alone" in table
    assert "| verified of all | second vs first | 5 / 5 |" in (
        tmp_path / "all" / "generated_group_differences_half.md").read_text()
    with open(tmp_path / "all" / "generated_groups_by_method.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["attribute"] == "half"]
    assert {(r["method"], r["group"]) for r in rows} == {(m, g) for m in ("photo", "wrong") for g in ("first", "second")}
    assert "By group of identities" in (tmp_path / "all" / "report.html").read_text()
