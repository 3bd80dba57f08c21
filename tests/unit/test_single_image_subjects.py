"""Subjects with a reference and no probe (LFW's one-image people): left out and counted
(``dataset.single_image_subjects=drop``), or kept as references only (``impostor``): in impostor comparisons
of verification and in the gallery of identification, never in a genuine attempt or in the FTA."""

import pytest

from fr_eval.datasets import load_dataset


def _files(root, layout):
    for subject, n in layout.items():
        (root / subject).mkdir(parents=True)
        for i in range(n):
            (root / subject / f"{subject}_{i + 1:04d}.jpg").write_bytes(f"{subject}{i}".encode())


@pytest.mark.parametrize("kind", ["folder", "lfw"])
def test_folder_and_lfw_keep_or_drop_them(tmp_path, kind):
    _files(tmp_path, {"Ann": 3, "Bob": 1, "Cy": 2, "Dee": 1})
    drop = load_dataset({"type": kind, "root": str(tmp_path), "min_images": 1})
    assert {e["subject"]: e["reason"] for e in drop.excluded} == {
        "Bob": "no probe left after 1 reference(s) (dataset.single_image_subjects=drop)",
        "Dee": "no probe left after 1 reference(s) (dataset.single_image_subjects=drop)"}
    assert drop.subjects == ["Ann", "Cy"] and not drop.reference_only
    kept = load_dataset({"type": kind, "root": str(tmp_path), "min_images": 1, "single_image_subjects": "impostor"})
    assert kept.subjects == ["Ann", "Bob", "Cy", "Dee"] and kept.reference_only == {"Bob", "Dee"}
    assert [s.rel for s in kept.references] == ["Ann/Ann_0001.jpg", "Bob/Bob_0001.jpg", "Cy/Cy_0001.jpg",
                                                "Dee/Dee_0001.jpg"]
    assert {s.subject for s in kept.probes} == {"Ann", "Cy"} and not kept.excluded
    assert kept.reference_mask().tolist() == [True, False, True, False]
    assert kept.summary()["reference_only_subjects"] == 2
    # min_images stays a count of images: with its default of 2 the one-image people never get this far
    two = load_dataset({"type": kind, "root": str(tmp_path), "single_image_subjects": "impostor"})
    assert two.subjects == ["Ann", "Cy"] and {e["subject"] for e in two.excluded} == {"Bob", "Dee"}


def test_manifest_keeps_reference_only_subjects(tmp_path):
    for n in ("a1", "a2", "b1"):
        (tmp_path / f"{n}.png").write_bytes(n.encode())
    (tmp_path / "m.csv").write_text("path,subject,role\na1.png,A,reference\na2.png,A,probe\nb1.png,B,reference\n")
    ds = load_dataset({"type": "manifest", "path": str(tmp_path / "m.csv"), "single_image_subjects": "impostor"})
    assert ds.reference_only == {"B"} and [s.rel for s in ds.references] == ["a1.png", "b1.png"]
    ds = load_dataset({"type": "manifest", "path": str(tmp_path / "m.csv")})
    assert ds.excluded == [{"subject": "B", "images": 1, "reason": "no probe (dataset.single_image_subjects=drop)"}]


def test_the_setting_is_settled_at_parse_time():
    from fr_eval.errors import ConfigError
    from fr_eval.settings import defaults, validate
    cfg = {**defaults(), "dataset": {"type": "folder", "root": "x"}}
    assert validate(cfg).dataset.single_image_subjects == "drop"
    assert validate({**cfg, "protocol": "identification"}).dataset.single_image_subjects == "impostor"
    given = {**cfg, "protocol": "identification", "dataset": {"type": "folder", "root": "x",
                                                             "single_image_subjects": "drop"}}
    assert validate(given).dataset.single_image_subjects == "drop"
    with pytest.raises(ConfigError, match="single_image_subjects=together is not valid"):
        validate({**cfg, "dataset": {"type": "folder", "root": "x", "single_image_subjects": "together"}})
    with pytest.raises(ConfigError, match="does not apply to dataset.mode=pairs"):
        validate({**cfg, "dataset": {"type": "lfw", "root": "x", "mode": "pairs", "single_image_subjects": "impostor"}})
