"""The generated-image audit end to end, on stand-ins made from LFW: real photos, stylised photos
(the "Style" category), photos of the wrong person labelled with an identity, a blank image."""
import csv
import json

import cv2
import numpy as np
import pytest

from fr_eval.images import load_image

STYLES = {
    "stylization": lambda im: cv2.stylization(im, sigma_s=60, sigma_r=0.45),
    "sketch": lambda im: cv2.pencilSketch(im, sigma_s=60, sigma_r=0.07, shade_factor=0.05)[1],
    "quantised": lambda im: (im // 64) * 64 + 32,
    "blur": lambda im: cv2.GaussianBlur(im, (0, 0), 6),
    "greyscale": lambda im: cv2.cvtColor(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB),
}


def save(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))


def build_manifest(lfw_small, tmp_path):
    people = sorted(p for p in lfw_small.iterdir() if p.is_dir())[:6]
    files = {p.name: sorted(p.glob("*.jpg")) for p in people}
    names = [p.name for p in people]
    root = tmp_path / "gen"
    rows = ["path,identity,role,method,category,prompt,target"]
    for n in names:
        rows.append(f"{files[n][0]},{n},reference,,,,")
        rows.append(f"{files[n][1]},{n},generated,photo,Context,a photo of {n},"
                    + (str(files[n][3]) if n == names[0] else ""))
    for (style, fn), n in zip(STYLES.items(), names):
        out = root / "style" / f"{n}_{style}.png"
        save(out, fn(load_image(files[n][1])))
        rows.append(f"{out},{n},generated,style,{style},a {style} portrait of {n},")
    for k, n in enumerate(names):  # somebody else's photo, labelled as n
        other = names[(k + 1) % len(names)]
        rows.append(f"{files[other][2]},{n},generated,wrong,Context,{n} at the beach,")
    save(root / "blank.png", np.zeros((64, 64, 3), np.uint8))
    rows.append(f"{root / 'blank.png'},{names[0]},generated,blank,Context,,")
    rows.append(f"{files[names[2]][3]},nobody,generated,photo,Context,,")  # identity never enrolled
    rows.append(f"{root / 'gone.png'},{names[1]},generated,photo,Context,,")  # missing file
    rows.append(f"{files[names[1]][3]},{names[1]},portrait,photo,Context,,")  # unknown role
    m = tmp_path / "generated.csv"
    m.write_text("\n".join(rows) + "\n")
    return m, names


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
