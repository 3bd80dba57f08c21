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
    assert main(["scenario=generated", f"generated.manifest={m}", "system=sface", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=100",
                 "generated.min_per_method=2"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["generated"] == {"rows": 19, "audited": 18, "not_enrolled_identity": 1,
                                "not_enrolled_all_references_failed": 0, "with_target": 1}
    assert sorted(p["kind"] for p in doc["problems"]) == ["identity with no reference", "missing file",
                                                           "unknown role"]
    thr = doc["threshold"]
    assert thr["n_impostor"] == 6 * 5 and thr["impostors_allowed"] == 0  # 30 comparisons allow no false match
    methods = {g["value"]: g for g in doc["groups"]["method"]}
    # a method with fewer than generated.min_per_method images is listed apart, unranked, after the ranked ones
    assert [(g["value"], g["rank"]) for g in doc["groups"]["method"]][-1] == ("blank", None)
    assert all(g["rank"] is not None and g["n"] >= 2 for g in doc["groups"]["method"][:-1])
    table = (out / "generated_methods.md").read_text()
    assert "| not ranked | blank | 1 |" in table and "methods with fewer are listed after them, not ranked (blank)" in table
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
    styles = {g["value"]: g for g in doc["groups"]["category"]}
    assert set(styles) == {"Context", *STYLES} and all(styles[s]["n"] == 1 for s in STYLES)
    for f in ("generated_methods.csv", "generated_methods.md", "generated_by_category.csv", "failures.csv",
              "similarity_by_method.png", "similarity_by_category.png", "contact_sheet.png", "det_generated.png",
              "report.html"):
        assert (out / f).is_file(), f
    assert "blank" in (out / "failures.csv").read_text()
    table = capsys.readouterr().out
    assert "Identity preservation by method" in table and "| 1 | photo |" in table


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
    assert main(["scenario=generated", f"out_dir={out}"]) == 2
    assert "scenario=generated needs generated.manifest=<csv>" in capsys.readouterr().err
    assert main(["scenario=generated", f"generated.manifest={m}", "generated.template=median",
                 f"out_dir={out}"]) == 2
    assert "generated.template=median is not valid: choose from mean, best" in capsys.readouterr().err
