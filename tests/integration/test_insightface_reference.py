"""fr-eval runs insightface's SCRFD and ArcFace models itself (fr_eval/systems/insightface_models.py,
so that only one OpenCV distribution is installed); this checks it against insightface 2.1, run in
a venv of its own (.venv-ref, made by .ci/run: insightface requires opencv-python), on the same
files: every detection's box, score and landmarks, the aligned crops and the embeddings."""
import subprocess

import cv2
import numpy as np
import pytest
from skimage.transform import SimilarityTransform

from fr_eval.systems.align import norm_crop, similarity_matrix, template_for
from fr_eval.systems.insightface_models import SCRFD, ArcFaceRecogniser

from conftest import DET_500M, LFW_SMALL, MOBILEFACENET, PROJECT, need

REF = PROJECT / ".venv-ref" / "bin" / "python"
SIZES = [(640, 640), (320, 256)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    if not REF.exists():
        pytest.skip(f"{REF} is absent: .ci/run makes it (python3 -m venv .venv-ref && "
                    f".venv-ref/bin/pip install insightface==2.1)")
    images = sorted(str(p) for p in need(LFW_SMALL).glob("*/*.jpg"))[::3]  # 40 of the 120
    out = tmp_path_factory.mktemp("ref") / "ref.npz"
    subprocess.run([str(REF), str(PROJECT / "tests/reference/insightface_ref.py"), str(need(DET_500M)),
                    str(need(MOBILEFACENET)), str(out), *images], check=True, capture_output=True, timeout=600)
    return images, dict(np.load(out))


def test_scrfd_detections_equal_insightface(reference):
    images, ref = reference
    det = SCRFD(DET_500M, providers=["CPUExecutionProvider"])
    n = 0
    for i, path in enumerate(images):
        img = cv2.imread(path)
        for j, size in enumerate(SIZES):
            boxes, kps = det.detect(img, size)
            assert boxes.shape == ref[f"det_{i}_{j}"].shape, (path, size)
            np.testing.assert_allclose(boxes[:, :4], ref[f"det_{i}_{j}"][:, :4], rtol=0, atol=1e-3)
            np.testing.assert_allclose(boxes[:, 4], ref[f"det_{i}_{j}"][:, 4], rtol=0, atol=1e-6)
            np.testing.assert_allclose(kps, ref[f"kps_{i}_{j}"], rtol=0, atol=1e-3)
            n += len(boxes)
    assert n >= len(images) * len(SIZES)  # every image has its face found at both sizes


def test_arcface_crops_and_embeddings_equal_insightface(reference):
    images, ref = reference
    rec = ArcFaceRecogniser(MOBILEFACENET, providers=["CPUExecutionProvider"])
    assert (rec.input_mean, rec.input_std) == (float(ref["input_mean"]), float(ref["input_std"]))
    worst = 1.0
    for i, path in enumerate(images):
        crop = norm_crop(cv2.imread(path), ref[f"kps_{i}_0"][0], 112)
        # opencv-python (insightface's) and opencv-python-headless (ours) of one version pick their SIMD paths per
        # CPU: on an AVX2-only AMD EPYC a few pixels differ by 2 levels; on average the crops must still agree
        d = np.abs(crop.astype(int) - ref[f"crop_{i}"].astype(int))
        assert d.max() <= 2 and d.mean() <= 0.05, (path, d.max(), d.mean())
        a, b = rec.get_feat(ref[f"crop_{i}"])[0], ref[f"emb_{i}"]
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)
        worst = min(worst, float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    assert worst > 0.999999


def test_alignment_equals_insightface_norm_crop(reference):
    _, ref = reference
    yy, xx = np.mgrid[0:250, 0:250]
    ramp = np.stack([xx, yy, (xx + yy) // 2], axis=2).astype(np.uint8)
    for size in (112, 128):
        for k in range(20):
            lmk = ref[f"ramp_lmk_{size}_{k}"]
            np.testing.assert_allclose(similarity_matrix(lmk, size), ref[f"ramp_m_{size}_{k}"], atol=1e-4)
            sk = SimilarityTransform.from_estimate(lmk.astype(np.float64), template_for(size)).params[:2]
            np.testing.assert_allclose(similarity_matrix(lmk, size), sk, rtol=0, atol=1e-5)  # pixels
            ours = norm_crop(ramp, lmk, size)
            assert ours.shape == (size, size, 3)
            assert np.abs(ours.astype(int) - ref[f"ramp_crop_{size}_{k}"].astype(int)).max() <= 1
