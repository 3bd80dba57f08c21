"""Several judges of the same generated images: rankings' Kendall tau, per-method rates and spread,
per-image agreement, conditioning flags (fr_eval.judges), and the audit with system=[sface,dlib]."""
import json

import numpy as np
import pytest

from generated_faces import build_manifest


def test_audit_with_two_judges(lfw_small, tmp_path):
    pytest.importorskip("dlib", reason="dlib is not installed (pip install -e '.[dlib]')")
    from fr_eval.cli import main

    manifest, _ = build_manifest(lfw_small, tmp_path)
    out = tmp_path / "r"
    assert main(["scenario=generated", f"generated.manifest={manifest}", "system=[sface,dlib]", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=50",
                 "generated.min_per_method=2", "report.min_subjects=2", "generated.conditioning={photo: sface}"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    subs = {n: json.loads((out / n / "metrics.json").read_text()) for n in ("sface", "dlib")}
    j = doc["judges"]
    rows = {r["method"]: r for r in j["methods"]}
    for n, sub in subs.items():
        for g in sub["groups"]["method"]:
            assert rows[g["value"]]["verified"][n] == pytest.approx(g["verified_rate_of_all"])
    assert rows["photo"]["judged_by_own_family"] == ["sface"]
    assert rows["photo"]["mean_outside_family"] == pytest.approx(rows["photo"]["verified"]["dlib"])
    assert rows["wrong"]["verified"] == {"sface": 0.0, "dlib": 0.0}  # somebody else's photos, for both judges
    assert rows["blank"]["rank_all"] is None  # one image: below generated.min_per_method
    assert [(k["a"], k["b"]) for k in j["kendall"]] == [("sface", "dlib")] and k_ok(j["kendall"][0])
    # chance-corrected agreement and the verdict, on the page
    assert j["kappa"]["n_images"] == j["images"]["n_images"] and j["verdict"].startswith("The judges ")
    assert [c["a"] + c["b"] for c in j["kappa"]["cohen"]] == ["sfacedlib"]
    import html as _html
    html = _html.unescape((out / "report.html").read_text())
    assert j["verdict"].split(":")[0] in html and "kappa.csv" in html
    assert "dlib's own rule is 0.6" in html
    # per image: the judges' own generated_images.csv, compared here
    import csv
    ver = {}
    for n in subs:
        with open(out / n / "generated_images.csv") as f:
            ver[n] = {r["path"]: r["verified"] == "True" for r in csv.DictReader(f)
                      if r["status"] in ("acquired", "failed")}
    common = set(ver["sface"]) & set(ver["dlib"])
    assert j["images"]["n_images"] == len(common)
    assert j["images"]["all_agree"] == pytest.approx(np.mean([ver["sface"][p] == ver["dlib"][p] for p in common]))
    assert "\u2021" in (out / "judges.md").read_text() and (out / "sface" / "report.html").is_file()
    # the curated samples (the photo rows) are marked where the judges rank them, the random ones are not
    lines = {x.split(" | ")[0].strip("| "): x for x in (out / "judges.md").read_text().splitlines() if x.startswith("| ")}
    assert "\u00a7" in lines["photo"] and "\u00a7" not in lines["wrong"]
    with open(out / "dlib" / "generated_images.csv") as f:
        wrong = [1.0 if r["fmr_equivalent"] == "" else float(r["fmr_equivalent"]) for r in csv.DictReader(f)
                 if r["method"] == "wrong" and r["status"] in ("acquired", "failed")]
    assert j["fmr_equivalent"]["dlib"]["wrong"] == pytest.approx(np.median(wrong))
    assert np.median(wrong) > 0.001  # somebody else's photo: not accepted at FMR 0.1%
    with open(out / "sface" / "generated_images.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["fmr_equivalent"] != ""]
    # an image is verified exactly when its score is accepted at an FMR within the target (0.1%)
    assert rows and all((float(r["fmr_equivalent"]) <= 0.001) == (r["verified"] == "True") for r in rows)


def k_ok(k):
    return k["n_methods"] == 3 and -1.0 <= k["tau"] <= 1.0
