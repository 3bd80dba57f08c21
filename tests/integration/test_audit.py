"""The generated-image audit end to end, on stand-ins made from LFW: real photos, stylised photos
(the "Style" category), photos of the wrong person labelled with an identity, a blank image."""
import csv
import json

import numpy as np
import pytest

from generated_faces import STYLES, build_manifest


def test_audit_end_to_end(lfw_small, tmp_path, capsys):
    from fr_eval.cli import main
    m, names = build_manifest(lfw_small, tmp_path)
    out = tmp_path / "r"
    assert main(["scenario=generated", f"generated.manifest={m}", "system=sface", "report.min_subjects=2", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=100",
                 "generated.min_per_method=2"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["generated"] == {"rows": 19, "audited": 18, "not_enrolled_identity": 1,
                                "not_enrolled_all_references_failed": 0, "with_target": 1,
                                "video_frames": 0, "video_frames_audited": 0, "videos": 0, "multi_person_rows": 0}
    assert sorted(p["kind"] for p in doc["problems"]) == ["identity with no reference", "missing file",
                                                           "unknown role"]
    thr = doc["threshold"]
    assert thr["n_impostor"] == 6 * 5 and thr["impostors_allowed"] == 0  # 30 comparisons allow no false match
    methods = {g["value"]: g for g in doc["groups"]["method"]}
    # a method with fewer than generated.min_per_method images is listed apart, unranked, after the ranked ones
    assert [(g["value"], g["rank"]) for g in doc["groups"]["method"]][-1] == ("blank", None)
    assert all(g["rank"] is not None and g["n"] >= 2 for g in doc["groups"]["method"][:-1])
    table = (out / "generated_methods.md").read_text()
    assert "| not ranked (n too small) | blank | 1 |" in table
    assert "methods with fewer are listed after them, not ranked, marked 'n too small' (blank)" in table
    blank = methods["blank"]
    assert (blank["n"], blank["fta"], blank["similarity_failures_as_zero"]["mean"]) == (1, 1.0, 0.0)
    assert blank["similarity_failures_excluded"]["n"] == 0 and blank["frr"] == 1.0
    photo = methods["photo"]
    assert photo["n"] == 6 and photo["verified_rate"] == 1.0 and photo["rank1_accuracy"] == 1.0
    assert photo["impersonation_rate"] == 0.0 and photo["csim"]["n"] == 1 and photo["ssim"]["n"] == 1
    assert 0 < photo["ssim"]["mean"] < 1 and 0 < photo["csim"]["mean"] <= 1
    wrong = methods["wrong"]  # real photos of the next person: never verified as the claimed identity
    assert wrong["verified_rate"] == 0.0 and wrong["rank1_accuracy"] == 0.0
    assert wrong["impersonation_rate"] == 1.0  # ...and each one matches the person it really shows
    # the per-image rows agree with the tables
    with open(out / "generated_images.csv") as f:
        images = list(csv.DictReader(f))
    assert len(images) == 18
    for name, g in methods.items():
        rows = [r for r in images if r["method"] == name]
        assert sum(r["verified"] == "True" for r in rows) == g["n_verified"]
        sims = [float(r["similarity"]) for r in rows if r["status"] == "acquired"]
        if sims:
            assert np.mean(sims) == pytest.approx(g["similarity_failures_excluded"]["mean"])
            assert sum(sims) / len(rows) == pytest.approx(g["similarity_failures_as_zero"]["mean"])
    wrong_rows = [r for r in images if r["method"] == "wrong"]
    assert all(r["best_other_identity"] == names[(names.index(r["identity"]) + 1) % 6] for r in wrong_rows)
    # the 1:N search (the identification protocol's code): 6 identities in the gallery, each of the 6 enrolment
    # photos a non-mated search of the other 5; 6 searches allow no false alarm at 0.1% or 1%: flagged
    search = doc["search"]
    assert (search["gallery_size"], search["nonmated_searches"], search["rank_k"]) == (6, 6, 5)
    for t, rec in search["thresholds"].items():
        assert rec["allowed_false_alarms"] == 0 and not rec["supported"] and rec["fpir_achieved"] == 0.0
    assert photo["rank_k_accuracy"] == 1.0 and wrong["rank_k_accuracy"] <= 1.0
    for name, g in methods.items():
        rows = [r for r in images if r["method"] == name]
        got = [r for r in rows if r["status"] == "acquired"]
        assert all((r["identity_rank"] == "1") == (r["rank1_correct"] == "True") for r in rows)
        if got:
            assert g["rank_k_accuracy"] == sum(1 <= int(r["identity_rank"]) <= 5 for r in got) / len(got)
        for t, a in g["fnir_at_fpir"].items():
            T = search["thresholds"][t]["threshold"]
            hits = sum(r["identity_rank"] == "1" and float(r["similarity"]) >= T for r in got)
            assert a["fnir"] == pytest.approx(1 - hits / len(rows)) and a["threshold"] == T
    assert methods["photo"]["fnir_at_fpir"]["0.01"]["fnir"] == 0.0 and methods["wrong"]["fnir_at_fpir"]["0.01"]["fnir"] == 1.0
    header = table.splitlines()[table.splitlines().index(next(x for x in table.splitlines() if x.startswith("| Rank |")))]
    assert "Rank-5 of acquired (%)" in header and "FNIR at T(FPIR<=1%) (%)" in header
    assert "†" in table and "T fixed on 6 non-mated searches" in table
    # skin tone: each face's ITA against its identity's (the median over its references), the shift per method
    measured = [r for r in images if r["ita"] != "" and r["ita_identity"] != ""]
    assert len(measured) >= 12
    for r in measured:
        assert float(r["ita_shift"]) == pytest.approx(float(r["ita"]) - float(r["ita_identity"]), abs=0.011)
    shifts = [float(r["ita_shift"]) for r in measured if r["method"] == "photo"]
    assert methods["photo"]["ita_shift"]["n"] == len(shifts)
    assert methods["photo"]["ita_shift"]["mean"] == pytest.approx(np.mean(shifts), abs=0.01)
    assert "ITA shift (°)" in header
    styles = {g["value"]: g for g in doc["groups"]["category"]}
    assert set(styles) == {"Context", *STYLES} and all(styles[s]["n"] == 1 for s in STYLES)
    for f in ("generated_methods.csv", "generated_methods.md", "generated_by_category.csv", "failures.csv",
              "similarity_by_method.png", "similarity_by_category.png", "contact_sheet.png", "det_generated.png",
              "report.html"):
        assert (out / f).is_file(), f
    assert "blank" in (out / "failures.csv").read_text()
    # prompts: a table per prompt (the manifest has the column); provenance: a table of its own (the images hold
    # curated, random and unknown ones), a count per method, the curated mark where a method is ranked
    prompts = {g["value"]: g for g in doc["groups"]["prompt"]}
    assert prompts[f"a photo of {names[0]}"]["n"] == 1 and "(none)" in prompts  # the blank row has no prompt
    kinds = {g["value"]: g["n"] for g in doc["groups"]["provenance"]}
    assert kinds == {"curated": 6, "random": 6, "unknown": 6}  # 5 styles and the blank image: unknown
    assert photo["provenance"]["counts"] == {"curated": 6} and wrong["provenance"]["counts"] == {"random": 6}
    with open(out / "generated_methods.csv") as f:
        rows = {r["Method"]: r for r in csv.DictReader(f)}
    assert (rows["photo"]["Curated images"], rows["photo"]["Random images"], rows["wrong"]["Random images"],
            rows["style"]["Provenance unknown"]) == ("6", "0", "6", "5")
    body = {line.split(" | ")[1]: line for line in table.splitlines() if line.startswith("| ")}
    assert body["photo"].startswith("| 1 § |") and "| curated 6 |" in body["photo"]
    assert "§" not in body["wrong"].split(" | ")[0] and body["wrong"].endswith("| random 6 |")
    assert "6 of 18 audited images are curated samples" in table
    # provenance carried into the other tables: the method comparisons (a / b)
    paired = (out / "generated_paired.md").read_text()
    assert "| curated 6 / unknown 5 |" in paired and "| curated 6 / random 6 |" in paired
    assert {r["provenance"] for r in images if r["method"] == "wrong"} == {"random"}
    console = capsys.readouterr().out  # a short summary, not the tables (they are in the report)
    assert "identity preservation by method" in console and "  1. photo: verified of all 100.00% [50.0, 100.0] over 6 images" in console
    assert "of 6 identities (all curated samples)" in console
    assert f"every table, interval and plot: {out / 'report.html'}" in console and "|" not in console


def test_audit_enrolment_and_threshold_from_a_dataset(lfw_small, tmp_path, capsys):
    from fr_eval.cli import main
    m, _ = build_manifest(lfw_small, tmp_path)
    out = tmp_path / "r"
    assert main(["scenario=generated", f"generated.manifest={m}", "generated.enrolment=dataset",
                 "generated.threshold_from=dataset", f"dataset.root={lfw_small}", "generated.template=best",
                 "system=sface", f"out_dir={out}", f"store_dir={tmp_path / 's'}", "progress=false",
                 "bootstrap.n_resamples=50", "generated.by=[method,prompt]"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["enrolment"]["identities"] == 30 and doc["enrolment"]["reference_images"] == 120
    assert doc["threshold"]["n_impostor"] == 30 * 90 - 90 and "lfw_small" in doc["threshold"]["source"]
    assert doc["enrolment"]["template"] == "best" and "prompt" in doc["groups"]
    # the "photo" images are enrolment images too (best reference = itself): similarity 1
    photo = next(g for g in doc["groups"]["method"] if g["value"] == "photo")
    assert photo["similarity_failures_excluded"]["min"] == pytest.approx(1.0, abs=1e-5)
    assert main(["scenario=generated", f"out_dir={tmp_path / 'r_no_manifest'}"]) == 2
    assert "scenario=generated needs generated.manifest=<csv>" in capsys.readouterr().err
    assert main(["scenario=generated", f"generated.manifest={m}", "generated.template=median",
                 f"out_dir={out}"]) == 2
    assert "generated.template=median is not valid: choose from mean, best" in capsys.readouterr().err


def paste_manifest(lfw_small, tmp_path):
    """Six LFW people, three reference photos each (each its own group), a 'generator' that returns the first
    one byte for byte (paste) and one that returns a fourth photo (other), both linked to the first."""
    import shutil

    people = sorted(p for p in lfw_small.iterdir() if p.is_dir())[:6]
    rows = ["path,identity,role,method,group"]
    (tmp_path / "gen").mkdir()
    for p in people:
        f = sorted(p.glob("*.jpg"))
        pasted = shutil.copy(f[0], tmp_path / "gen" / f"{p.name}_paste.jpg")  # the input photo, byte for byte
        rows += [f"{x},{p.name},reference,,{p.name}_{k}" for k, x in enumerate(f[:3])]
        rows += [f"{pasted},{p.name},generated,paste,{p.name}_0", f"{f[3]},{p.name},generated,other,{p.name}_0"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "m.csv", rows


def test_copy_rate_of_a_generator_that_pastes_its_input(lfw_small, tmp_path):
    """A 'generator' that returns its input photo is a copy; one that returns another real photo of the
    person is not; without a link column the report says the copy rate could not be computed."""
    from fr_eval.cli import main
    _, rows = paste_manifest(lfw_small, tmp_path)
    out = tmp_path / "r"
    common = ["scenario=generated", "system=sface", f"store_dir={tmp_path / 's'}", "progress=false",
              "generated.allow_outside=true",
              "bootstrap.n_resamples=50", "generated.min_per_method=2"]
    assert main([*common, f"generated.manifest={tmp_path / 'm.csv'}", f"out_dir={out}"]) == 0
    copy = json.loads((out / "metrics.json").read_text())["copy"]
    assert copy["available"] and copy["link"] == "group" and copy["n_real_pairs"] == 18  # 3 photos x 6 people
    by = {r["method"]: r for r in copy["methods"]}
    assert by["paste"]["n_linked"] == 6 and by["paste"]["copy_rate"] == 1.0
    assert by["paste"]["similarity_to_inputs"] == pytest.approx(1.0, abs=1e-5)
    assert by["other"]["copy_rate"] < 0.5 and by["other"]["similarity_to_inputs"] < copy["threshold"] + 0.1
    # the other photos of the identity: the two references that were not the input
    assert by["paste"]["n_with_other_photos"] == 6 and by["paste"]["similarity_to_other_photos"] < 0.99
    with open(out / "generated_images.csv") as f:
        images = list(csv.DictReader(f))
    assert sum(r["copy"] == "True" for r in images if r["method"] == "paste") == 6
    assert "| paste | 6 |" in (out / "generated_copy.md").read_text()
    # the copy sheet: every flagged image beside its input photo (the pasted ones: identity copies), those flagged
    # by the most kinds first; 6 images on 3 rows of two pairs
    flagged = sum(r["copy"] == "True" or r.get("pose_copy") == "True" or r.get("scene_copy") == "True"
                  or r.get("expression_copy") == "True" for r in images)
    shown = min(flagged, 12)
    html = (out / "report.html").read_text()
    assert f"The images flagged as copies ({shown} of {flagged}," in html
    from PIL import Image
    with Image.open(out / "copy_sheet.png") as im:
        assert im.size[0] > 800 and im.size[1] > 2.0 * 110 * ((shown + 1) // 2)
    m, _ = build_manifest(lfw_small, tmp_path)  # no group column
    assert main([*common, f"generated.manifest={m}", f"out_dir={tmp_path / 'r2'}"]) == 0
    assert "The copy rate could not be computed: the manifest has no group or source_reference column" in \
        (tmp_path / "r2" / "report.html").read_text()
    # the grouping in <manifest>_details.csv beside it (../shared's layout) is read, and said
    (tmp_path / "lean.csv").write_text("\n".join(",".join(r.split(",")[:4]) for r in rows) + "\n")
    (tmp_path / "lean_details.csv").write_text("\n".join(rows) + "\n")
    assert main([*common, f"generated.manifest={tmp_path / 'lean.csv'}", f"out_dir={tmp_path / 'r3'}"]) == 0
    lean = json.loads((tmp_path / "r3" / "metrics.json").read_text())["copy"]
    assert lean["link_from"] == "lean_details.csv" and lean["methods"] == copy["methods"]
    assert "the group column of lean_details.csv" in (tmp_path / "r3" / "generated_copy.md").read_text()


def test_a_pasted_input_is_a_pose_and_expression_copy(lfw_small, tmp_path):
    """The input photo itself keeps its pose and expression exactly; another photo of the person is a new pose."""
    pytest.importorskip("dlib", reason="dlib is not installed (head pose needs its 68 landmarks: pip install -e '.[dlib]')")
    from fr_eval.cli import main
    m, _ = paste_manifest(lfw_small, tmp_path)
    out = tmp_path / "r"
    assert main(["scenario=generated", "system=sface", f"store_dir={tmp_path / 's'}", "progress=false",
                 "generated.allow_outside=true", "bootstrap.n_resamples=50", "generated.min_per_method=2",
                 f"generated.manifest={m}", f"out_dir={out}"]) == 0
    with open(out / "generated_images.csv") as f:
        images = list(csv.DictReader(f))
    paste = [r for r in images if r["method"] == "paste" and r["pose_copy"] != ""]
    other = [r for r in images if r["method"] == "other" and r["pose_copy"] != ""]
    assert len(paste) == 6 and all(r["pose_copy"] == "True" and r["expression_copy"] == "True" for r in paste)
    assert all(float(r["pose_to_inputs"]) < 0.5 for r in paste)
    assert len(other) >= 5 and sum(r["pose_copy"] == "True" for r in other) <= 1  # another photo: a new pose
    fits = json.loads((out / "metrics.json").read_text())["copy"]["pose"]["fits"]
    measured = sum(r["pose_reason"] == "" and r["yaw"] != "" for r in images)
    assert fits["generated"]["measured"] == measured and fits["generated"]["faces"] == 12
    assert "acquired generated faces" in (out / "generated_copy.md").read_text()
