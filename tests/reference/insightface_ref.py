"""Run by tests/test_insightface_reference.py with .venv-ref's Python, where insightface itself is
installed: insightface's SCRFD detections, norm_crop crops and ArcFace embeddings on the given
images and model files, saved for the test to compare with fr-eval's own implementation.

usage: insightface_ref.py <det.onnx> <rec.onnx> <out.npz> <image> ...
"""
import sys
import warnings

import cv2
import numpy as np
from insightface.model_zoo import get_model
from insightface.utils import face_align

SIZES = [(640, 640), (320, 256)]


def main(det_path, rec_path, out, images):
    det = get_model(det_path, providers=["CPUExecutionProvider"])
    det.prepare(-1, det_thresh=0.5, nms_thresh=0.4)
    rec = get_model(rec_path, providers=["CPUExecutionProvider"])
    rec.prepare(-1)
    res = {"input_mean": rec.input_mean, "input_std": rec.input_std}
    for i, path in enumerate(images):
        img = cv2.imread(path)
        for j, size in enumerate(SIZES):
            boxes, kps = det.detect(img, input_size=size, max_num=0)
            res[f"det_{i}_{j}"], res[f"kps_{i}_{j}"] = boxes, kps
        boxes, kps = res[f"det_{i}_0"], res[f"kps_{i}_0"]
        if len(boxes):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                crop = face_align.norm_crop(img, landmark=kps[0], image_size=112)
            res[f"crop_{i}"], res[f"emb_{i}"] = crop, rec.get_feat(crop)[0]
    # the alignment alone, on smooth ramps and jittered landmarks, at 112 and 128
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:250, 0:250]
    ramp = np.stack([xx, yy, (xx + yy) // 2], axis=2).astype(np.uint8)
    base = np.array([[90, 110], [160, 108], [125, 145], [98, 180], [152, 178]], np.float32)
    for size in (112, 128):
        for k in range(20):
            lmk = base + rng.normal(0, 4, base.shape).astype(np.float32)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res[f"ramp_crop_{size}_{k}"] = face_align.norm_crop(ramp, landmark=lmk, image_size=size)
                res[f"ramp_m_{size}_{k}"] = face_align.estimate_norm(lmk, size)
            res[f"ramp_lmk_{size}_{k}"] = lmk
    np.savez(out, **res)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
