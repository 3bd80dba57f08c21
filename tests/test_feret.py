"""FERET is licensed: the loader is tested on a synthetic tree in its documented layout,
built here from LFW images (PPM, bz2-compressed like the colour FERET DVDs)."""
import bz2
import io

import numpy as np
from PIL import Image

from fr_eval.datasets import load_dataset
from fr_eval.images import load_image


def put(root, dvd, subject, name, src, compress=True):
    d = root / dvd / "data" / "images" / subject
    d.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.open(src).convert("RGB").save(buf, format="PPM")
    if compress:
        (d / f"{name}.ppm.bz2").write_bytes(bz2.compress(buf.getvalue()))
    else:
        (d / f"{name}.ppm").write_bytes(buf.getvalue())


def test_feret_layout(lfw_small, tmp_path):
    src = sorted(lfw_small.rglob("*.jpg"))
    root = tmp_path / "colorferet"
    # 00001: two sessions -> reference 930831 fa, probes from 940128 only (fa and fb)
    put(root, "dvd1", "00001", "00001_930831_fa", src[0])
    put(root, "dvd1", "00001", "00001_930831_fb", src[1])
    put(root, "dvd1", "00001", "00001_930831_pl", src[1])  # profile: never a probe
    put(root, "dvd2", "00001", "00001_940128_fa_a", src[2], compress=False)
    put(root, "dvd2", "00001", "00001_940128_fb", src[3])
    # 00002: one session -> that session's fb
    put(root, "dvd1", "00002", "00002_930831_fa", src[4])
    put(root, "dvd1", "00002", "00002_930831_fb", src[5])
    # 00003: no fa -> excluded; 00004: only fa -> excluded (no probe)
    put(root, "dvd1", "00003", "00003_930831_fb", src[6])
    put(root, "dvd1", "00004", "00004_930831_fa", src[7])
    (root / "dvd1" / "data" / "images" / "00002" / "notes_fa.ppm").write_bytes(b"x")
    ds = load_dataset({"type": "feret", "root": str(root)})
    assert [s.rel.split("/")[-1] for s in ds.references] == ["00001_930831_fa.ppm.bz2", "00002_930831_fa.ppm.bz2"]
    probes = {s.rel.split("/")[-1]: dict(s.meta) for s in ds.probes}
    assert set(probes) == {"00001_940128_fa_a.ppm", "00001_940128_fb.ppm.bz2", "00002_930831_fb.ppm.bz2"}
    assert probes["00001_940128_fb.ppm.bz2"]["session_gap_days"] == "150"
    assert probes["00002_930831_fb.ppm.bz2"]["same_session"] == "true"
    assert {e["subject"]: e["reason"] for e in ds.excluded} == {
        "00003": "no regular frontal image (pose fa)", "00004": "no frontal probe image"}
    assert [i["path"].split("/")[-1] for i in ds.ignored] == ["notes_fa.ppm"]
    # .bz2 is read transparently, pixel for pixel
    a = load_image(ds.references[0].path)
    assert a.shape[2] == 3 and np.array_equal(a, np.asarray(Image.open(src[0]).convert("RGB")))
