"""report.differentials end to end on LFW (deepfunneled_small) with the sface system: skin tone measured,
groups from a file of attributes, each group's figures equal to a run on that group's subjects alone at the
same threshold, the colourisation effect per group, the colourisers' colour fidelity; FERET's ground truth
(race, gender) as groups."""
import csv
import json
import re

import numpy as np
import pytest
from PIL import Image

from integration.test_feret import put

pytestmark = pytest.mark.slow


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run(args):
    from fr_eval.cli import main
    assert main(args) == 0


def test_differentials_on_lfw(lfw_small, tmp_path):
    people = sorted(p.name for p in lfw_small.iterdir() if p.is_dir())
    team = {p: "a" if i % 3 else "b" for i, p in enumerate(people)}  # 20 in a, 10 in b
    (tmp_path / "attrs.csv").write_text("subject,team\n" + "".join(f"{p},{t}\n" for p, t in team.items()))
    common = ["system=sface", f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=200", "fmr=0.05"]
    out = tmp_path / "r"
    run(["scenario=all", f"dataset.root={lfw_small}", "report.differentials=true", f"dataset.attributes={tmp_path / 'attrs.csv'}",
         "differentials.by=[skin_tone,team]", "differentials.ita_groups=2", f"out_dir={out}",
         "report.export_embeddings=true", *common])
    doc = json.loads((out / "metrics.json").read_text())["differentials"]
    T = doc["threshold"]
    assert doc["attributes"]["team"]["subjects"] == {"a": 20, "b": 10}
    skin = doc["attributes"]["skin_tone"]
    assert len(skin["groups"]) == 2 and skin["groups"][0].startswith("Q2")  # lightest first
    per_subject = {r["subject"]: r for r in rows_of(out / "skin_tone.csv")}
    assert len(per_subject) == 30 and sum(r["status"] == "uncertain" for r in per_subject.values()) == len(
        doc["skin_tone"]["uncertain"]) == skin["unassigned"]
    assert all(r["group"] == "" for r in per_subject.values() if r["status"] == "uncertain")
    assert sum(skin["subjects"].values()) + skin["unassigned"] == 30
    # a group's figures equal those of a run on its subjects alone at the same threshold (rows 1-3: no colouriser,
    # whose exemplar pool would change with the dataset)
    alone = tmp_path / "team_b"
    alone.mkdir()
    for p in (p for p, t in team.items() if t == "b"):
        (alone / p).symlink_to(lfw_small / p)
    run(["scenario=[1,2,3]", f"dataset.root={alone}", f"out_dir={tmp_path / 'b'}", *common])
    b_doc = json.loads((tmp_path / "b" / "metrics.json").read_text())
    z = np.load(tmp_path / "b" / "scores.npz")
    imp = z["1|impostor"]
    team_rows = {r["label"]: next(g for g in r["groups"] if g["group"] == "b") for r in doc["rows"]["team"]}
    for row in b_doc["rows"]:
        g, gen = team_rows[row["label"]], z[f"{row['label']}|genuine"]
        assert (g["n_compared"], g["n_false_non_matches"]) == (gen.size, int((gen < T).sum()))
        assert (g["n_samples"], g["fta"]) == (row["n_samples"], row["fta"])
        assert (g["n_impostor"], g["n_false_matches"]) == (imp.size, int((imp >= T).sum()))
        assert g["frr"] == pytest.approx(row["fta"] + (gen < T).mean() * (1 - row["fta"]))
    assert team_rows["1"]["n_false_matches"] > 0 and team_rows["1"]["fmr"] == pytest.approx((imp >= T).mean())
    # the colourisation effect per group: colourised minus greyscale rows, as the group rows give it
    effects = {(e["a"], e["b"]): e for e in doc["colourisation"]["team"]}
    assert set(effects) == {("3", "4 [exemplar]"), ("2", "5 [exemplar]")}
    e = effects[("3", "4 [exemplar]")]["fnmr"]
    rows = {r["label"]: {g["group"]: g for g in r["groups"]} for r in doc["rows"]["team"]}
    for g in e["groups"]:
        assert g["difference"] == pytest.approx(rows["4 [exemplar]"][g["group"]]["fnmr"] - rows["3"][g["group"]]["fnmr"])
    (pair,) = e["pairs"]
    assert pair["difference_of_differences"] == pytest.approx(e["groups"][1]["difference"] - e["groups"][0]["difference"])
    assert 0 < pair["p_value"] <= 1 and pair["p_holm"] == pair["p_value"]
    table = (out / "differentials_team_colourisation.md").read_text()
    assert "| 4 [exemplar] vs 3 | FNMR | a |" in table and "| 5 [exemplar] vs 2 | FRR | b |" in table
    # GARBE and FDR of the team groups, recomputed from the group rows
    r1 = next(r for r in doc["rows"]["team"] if r["label"] == "1")
    fmr = np.array([g["fmr"] for g in r1["groups"]])
    fnmr = np.array([g["fnmr"] for g in r1["groups"]])
    assert r1["indices"]["fdr"] == pytest.approx(1 - 0.5 * np.ptp(fmr) - 0.5 * np.ptp(fnmr))
    # its embeddings read back (embeddings=): the same team figures; skin tone and colour fidelity said absent
    run(["scenario=all", f"embeddings={out / 'embeddings.npz'}", "report.differentials=true", "differentials.by=[team]",
         f"dataset.attributes={tmp_path / 'attrs.csv'}", f"out_dir={tmp_path / 'e'}", *common[2:]])
    emb = json.loads((tmp_path / "e" / "metrics.json").read_text())["differentials"]
    assert emb["rows"]["team"] == doc["rows"]["team"] and "carries no images" in emb["colour_fidelity"]["reason"]
    # the run's own score export read back (score files with dataset.attributes): the same threshold, and per
    # group the same genuine comparisons, false non-matches, within-group impostors and false matches
    run([f"scores={out / 'scores' / 'comparisons.csv.gz'}", "report.differentials=true", "differentials.by=[team]",
         f"dataset.attributes={tmp_path / 'attrs.csv'}", f"out_dir={tmp_path / 'sc'}", *common[2:]])
    back = json.loads((tmp_path / "sc" / "metrics.json").read_text())["differentials"]
    assert back["threshold"] == T and back["attributes"]["team"]["subjects"] == {"a": 20, "b": 10}
    keys = ("n_compared", "n_false_non_matches", "n_impostor", "n_false_matches", "fnmr", "fmr")
    for r_img, r_sc in zip(doc["rows"]["team"], back["rows"]["team"]):
        assert r_img["label"] == r_sc["label"]
        for g_img, g_sc in zip(r_img["groups"], r_sc["groups"]):
            assert {k: g_img[k] for k in keys} == {k: g_sc[k] for k in keys}
    assert [(e["a"], e["b"]) for e in back["colourisation"]["team"]] == [("3", "4 [exemplar]"), ("2", "5 [exemplar]")]
    assert "Differentials" in (tmp_path / "sc" / "report.html").read_text()
    # the same groups carried by the score file itself (reference_team, probe_team), no attributes file
    import pandas as pd
    table = pd.read_csv(out / "scores" / "comparisons.csv.gz")
    table["reference_team"], table["probe_team"] = table["reference_subject"].map(team), table["probe_subject"].map(team)
    table.to_csv(tmp_path / "with_groups.csv", index=False)
    run([f"scores={tmp_path / 'with_groups.csv'}", "report.differentials=true", "differentials.by=[team]",
         f"out_dir={tmp_path / 'sc2'}", *common[2:]])
    cols = json.loads((tmp_path / "sc2" / "metrics.json").read_text())["differentials"]
    assert cols["rows"]["team"] == back["rows"]["team"] and "group columns" in cols["attributes"]["team"]["source"]
    table.loc[0, "probe_team"] = "c" if table.loc[0, "probe_team"] != "c" else "a"  # one subject, two groups
    table.to_csv(tmp_path / "conflict.csv", index=False)
    from fr_eval.cli import main
    assert main([f"scores={tmp_path / 'conflict.csv'}", "report.differentials=true", f"out_dir={tmp_path / 'sc3'}",
                 *common[2:]]) == 2
    # listed impostor pairs (a seeded sample): the within-group FMR counts the listed pairs of two team-b subjects
    run(["scenario=1", f"dataset.root={lfw_small}", "report.differentials=true", "impostors=800",
         f"dataset.attributes={tmp_path / 'attrs.csv'}", "differentials.by=[team]", f"out_dir={tmp_path / 'l'}",
         "differentials.fidelity=false", *common])
    listed = json.loads((tmp_path / "l" / "metrics.json").read_text())["differentials"]
    comps = pd.read_csv(tmp_path / "l" / "scores" / "comparisons.csv.gz")
    imp = comps[(comps["kind"] == "impostor") & comps["score"].notna()]
    both_b = imp[imp["reference_subject"].map(team).eq("b") & imp["probe_subject"].map(team).eq("b")]
    gb = next(g for g in listed["rows"]["team"][0]["groups"] if g["group"] == "b")
    assert len(imp) <= 800 and gb["n_impostor"] > 20 and (gb["n_impostor"], gb["n_false_matches"]) == (
        len(both_b), int((both_b["score"] >= listed["threshold"]).sum()))
    # colour fidelity: every colourised image of scenario 4 against its original
    images = rows_of(out / "colour_fidelity_images.csv")
    assert len(images) == 120 and {r["colouriser"] for r in images} == {"exemplar"}
    for r in images:
        assert float(r["delta_e_skin"]) > 0 and float(r["delta_e_image"]) > 0
        if r["ita_shift"] not in ("", "nan"):
            assert float(r["ita_shift"]) == pytest.approx(float(r["ita_colourised"]) - float(r["ita_original"]))
    summary = rows_of(out / "colour_fidelity.csv")
    allrow = next(r for r in summary if r["Skin tone"] == "(all)")
    assert allrow["Images"] == "120" and float(allrow["ΔE00 skin"].split()[0]) == pytest.approx(
        np.mean([float(r["delta_e_skin"]) for r in images]), abs=0.006)
    html = (out / "report.html").read_text()
    assert "Differentials: who pays for colourisation?" in html and "colour_fidelity_ita.png" in html
    sheet = np.asarray(Image.open(out / "skin_regions.png").convert("RGB")).astype(int)
    greenish = (sheet[..., 1] > sheet[..., 0] + 40) & (sheet[..., 1] > sheet[..., 2] + 40)
    assert greenish.sum() > 2000  # the measured skin pixels, tinted green


def test_feret_ground_truth_groups(lfw_small, tmp_path):
    people = sorted(p for p in lfw_small.iterdir() if p.is_dir())[:8]
    root = tmp_path / "colorferet"
    truth = {}
    for i, p in enumerate(people):
        sid = f"{i + 1:05d}"
        src = sorted(p.glob("*.jpg"))
        if i == 7:  # the last subject's photos in greyscale: no colour to measure
            for k in (0, 1):
                Image.open(src[k]).convert("L").save(tmp_path / f"grey{k}.png")
            src = [tmp_path / "grey0.png", tmp_path / "grey1.png"]
        put(root, "dvd1", sid, f"{sid}_930831_fa_a", src[0])
        put(root, "dvd1", sid, f"{sid}_940128_fb_a", src[1])
        truth[sid] = ("White" if i < 5 else "Black-or-African-American", "Male" if i % 2 else "Female")
        gt = root / "dvd1" / "data" / "ground_truths" / "name_value" / sid
        gt.mkdir(parents=True)
        (gt / f"{sid}_930831_fa_a.txt").write_text(f"id=cfrS{sid}\ngender={truth[sid][1]}\nyob=1960\n"
                                                   f"race={truth[sid][0]}\n")
    out = tmp_path / "r"
    run(["scenario=[1,2]", "dataset=feret", f"dataset.root={root}", "system=sface", f"store_dir={tmp_path / 's'}",
         "progress=false", "bootstrap.n_resamples=100", "report.differentials=true", "fmr=0.1",
         "differentials.by=[race,gender,skin_tone]", f"out_dir={out}"])
    doc = json.loads((out / "metrics.json").read_text())["differentials"]
    assert doc["attributes"]["race"]["subjects"] == {"Black-or-African-American": 3, "White": 5}
    assert doc["attributes"]["gender"]["subjects"] == {"Female": 4, "Male": 4}
    g = {x["group"]: x for x in doc["rows"]["race"][0]["groups"]}
    assert g["White"]["n_samples"] == 10 and g["White"]["n_impostor"] == 5 * 4  # 5 references x 4 other probes
    table = (out / "differentials_race.md").read_text()
    assert "| 1 | White† | 5 |" in table  # fewer than report.min_subjects=10: flagged
    # FMR between groups: the counts, and 'n too small' instead of an interval (both groups under 10 subjects)
    b = doc["rows"]["race"][0]["between"]
    assert b["subjects"] == [3, 5] and b["comparisons"][1][1] == 5 * 4 and b["comparisons"][0][1] == 3 * 5
    between = {(r["Reference group"], r["Probe group"]): r for r in rows_of(out / "differentials_race_between.csv")}
    ww = between[("White", "White")]
    assert (ww["Reference subjects"], ww["Probe subjects"], ww["Comparisons"]) == ("5", "5", "20")
    assert float(ww["FMR (%)"]) == pytest.approx(100 * b["fmr"][1][1], abs=0.05) and ww["False matches"] == \
        str(int(b["false_matches"][1][1]))
    assert (ww["FMR low (%)"], ww["FMR high (%)"], ww["Note"]) == ("", "", "n too small") and len(between) == 4
    md = (out / "differentials_race_between.md").read_text()
    assert f"(3 subjects: n too small) ({int(b['false_matches'][1][0])}/15)" in md
    assert "| White (5 subjects) |" in md and not re.search(r"\[\d", md)  # no interval on 3 or 5 subjects
    agree = doc["agreement"]["race"]
    assert agree["rows"] == ["Black-or-African-American", "White"] and sum(map(sum, agree["counts"])) == 8
    assert (out / "skin_tone_vs_race.md").is_file() and "White" in (out / "skin_tone_vs_race.md").read_text()
    # a subject without a colour photo gets no skin-tone group: counted, named, and each photo says why
    assert doc["skin_tone"]["no_colour_photo"] == ["00008"] and doc["attributes"]["skin_tone"]["unassigned"] >= 1
    grey = [r for r in rows_of(out / "skin_tone_images.csv") if r["subject"] == "00008"]
    assert len(grey) == 2 and all(r["reason"] == "a greyscale photo (no colour to measure)" for r in grey)
    # listed with its photos counted, none fit, and in no group
    listed = {r["subject"]: r for r in rows_of(out / "skin_tone.csv")}["00008"]
    assert (listed["n_photos"], listed["n_fit"], listed["status"], listed["group"]) == ("2", "0", "no colour photo", "")
    assert listed["unfit_reasons"] == "greyscale: 2"


def test_unknown_attribute_is_a_one_line_error(lfw_small, tmp_path, capsys):
    from fr_eval.cli import main
    assert main(["scenario=1", f"dataset.root={lfw_small}", "system=sface", f"store_dir={tmp_path / 's'}",
                 "progress=false", "report.differentials=true", "differentials.by=[ethnicity]",
                 f"out_dir={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: differentials.by: ethnicity is not an attribute of this run; known: ")
    assert main(["scenario=generated", "generated.manifest=x.csv", "report.differentials=true"]) == 2
    assert "report.differentials counts verification figures" in capsys.readouterr().err
