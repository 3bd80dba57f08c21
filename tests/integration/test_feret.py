"""FERET is licensed: the loader is tested on a synthetic tree laid out as the colour FERET DVDs are
(``dvd1``/``dvd2``, each with ``data/images``, ``data/smaller``, ``data/thumbnails``,
``data/ground_truths``, ``doc``; the greyscale release in ``gray_feret_cd1``), built here from LFW
images (PPM, bz2-compressed like the DVDs)."""
import bz2
import io

import numpy as np
from PIL import Image

from fr_eval.datasets import load_dataset
from fr_eval.images import load_image


def ppm_bz2(src, size=None) -> bytes:
    im = Image.open(src).convert("RGB")
    if size:
        im = im.resize(size)
    buf = io.BytesIO()
    im.save(buf, format="PPM")
    return bz2.compress(buf.getvalue())


def put(root, dvd, subject, name, src, compress=True):
    """The image in data/images, and its downscaled copies under the same name in data/smaller and
    data/thumbnails, as on the DVDs."""
    for folder, size in (("images", None), ("smaller", (128, 128)), ("thumbnails", (64, 64))):
        d = root / dvd / "data" / folder / subject
        d.mkdir(parents=True, exist_ok=True)
        if compress:
            (d / f"{name}.ppm.bz2").write_bytes(ppm_bz2(src, size))
        else:
            buf = io.BytesIO()
            Image.open(src).convert("RGB").save(buf, format="PPM")
            (d / f"{name}.ppm").write_bytes(buf.getvalue())


def build(root, src):
    # 00001: two sessions -> reference 930831 fa, probes from 940128 only (fa and fb)
    put(root, "dvd1", "00001", "00001_930831_fa_a", src[0])
    put(root, "dvd1", "00001", "00001_930831_fb_a", src[1])
    put(root, "dvd1", "00001", "00001_930831_pl", src[1])  # profile: never a probe
    put(root, "dvd2", "00001", "00001_940128_fa_a", src[2], compress=False)
    put(root, "dvd2", "00001", "00001_940128_fb_a", src[3])
    # 00002: one session -> that session's one fb, and nothing else (not its own downscaled copies)
    put(root, "dvd1", "00002", "00002_930831_fa_a", src[4])
    put(root, "dvd1", "00002", "00002_930831_fb_a", src[5])
    # 00003: no fa -> excluded; 00004: only fa -> excluded (no probe)
    put(root, "dvd1", "00003", "00003_930831_fb_a", src[6])
    put(root, "dvd1", "00004", "00004_930831_fa_a", src[7])
    (root / "dvd1" / "data" / "images" / "00002" / "notes_fa.ppm").write_bytes(b"x")
    for dvd in ("dvd1", "dvd2"):
        gt = root / dvd / "data" / "ground_truths" / "name_value" / "00001"
        gt.mkdir(parents=True)
        (gt / "00001_930831_fa_a.txt").write_text("id=cfrR00001\ngender=Male\n")
        (root / dvd / "doc" / "partitions").mkdir(parents=True)
        (root / dvd / "doc" / "partitions" / "fa.txt").write_text("00001_930831_fa_a.ppm\n")
    grey = root / "dvd2" / "gray_feret_cd1" / "data" / "images"
    grey.mkdir(parents=True)
    (grey / "00001fa010_930831.tif.bz2").write_bytes(b"")


def test_feret_real_layout(lfw_small, tmp_path):
    src = sorted(lfw_small.rglob("*.jpg"))
    root = tmp_path / "colorferet"
    build(root, src)
    ds = load_dataset({"type": "feret", "root": str(root)})
    assert [s.rel for s in ds.references] == ["dvd1/data/images/00001/00001_930831_fa_a.ppm.bz2",
                                              "dvd1/data/images/00002/00002_930831_fa_a.ppm.bz2"]
    probes = {s.rel: dict(s.meta) for s in ds.probes}
    # each probe once, from data/images only: no copy from data/smaller or data/thumbnails
    assert set(probes) == {"dvd2/data/images/00001/00001_940128_fa_a.ppm",
                           "dvd2/data/images/00001/00001_940128_fb_a.ppm.bz2",
                           "dvd1/data/images/00002/00002_930831_fb_a.ppm.bz2"}
    assert probes["dvd2/data/images/00001/00001_940128_fb_a.ppm.bz2"]["session_gap_days"] == "150"
    assert probes["dvd1/data/images/00002/00002_930831_fb_a.ppm.bz2"]["same_session"] == "true"
    assert {e["subject"]: e["reason"] for e in ds.excluded} == {
        "00003": "no regular frontal image (pose fa)", "00004": "no frontal probe image (dataset.single_image_subjects=drop)"}
    assert [i["path"].split("/")[-1] for i in ds.ignored] == ["notes_fa.ppm"]
    skipped = {s["folder"]: (s["files"], s["reason"]) for s in ds.settings["skipped"]}
    assert skipped["dvd1/data/smaller"] == (7, "downscaled copies of data/images under the same names")
    assert skipped["dvd2/data/thumbnails"] == (2, "thumbnail copies of data/images under the same names")
    assert skipped["dvd1/data/ground_truths"][0] == 1 and skipped["dvd2/gray_feret_cd1"][0] == 1
    assert skipped["dvd1/doc"][0] == 1
    # .bz2 is read transparently, pixel for pixel
    a = load_image(ds.references[0].path)
    assert a.shape[2] == 3 and np.array_equal(a, np.asarray(Image.open(src[0]).convert("RGB")))


def test_feret_root_inside_data_images(lfw_small, tmp_path):
    """A root that is one DVD's data/images folder is read whole."""
    src = sorted(lfw_small.rglob("*.jpg"))
    root = tmp_path / "colorferet"
    build(root, src)
    ds = load_dataset({"type": "feret", "root": str(root / "dvd1" / "data" / "images")})
    assert [s.rel for s in ds.references] == ["00001/00001_930831_fa_a.ppm.bz2", "00002/00002_930831_fa_a.ppm.bz2"]
    assert [s.rel for s in ds.probes] == ["00001/00001_930831_fb_a.ppm.bz2", "00002/00002_930831_fb_a.ppm.bz2"]
    assert ds.settings["skipped"] == []
