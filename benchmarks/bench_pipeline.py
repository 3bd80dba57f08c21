#!/usr/bin/env python
"""Images per second of fr-eval's detect + align + embed pipeline, against insightface's
FaceAnalysis with the same two model files, and against the bound set by the two ONNX
sessions alone on the same inputs. Prints the figures and the ratios.

    python benchmarks/bench_pipeline.py [--data DIR] [--limit N]

Targets (issue 2): fr-eval >= 1.5x FaceAnalysis, and >= 0.85 of the ONNX-only bound.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
SHARED = PROJECT.parent / "shared"

from fr_eval.datasets import load_dataset  # noqa: E402
from fr_eval.engine import acquire_all  # noqa: E402
from fr_eval.store import Store  # noqa: E402
from fr_eval.systems.arcface import ArcFaceSystem  # noqa: E402
from fr_eval.systems.sface import SFaceSystem  # noqa: E402
from fr_eval.variants import ORIGINAL  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_ours(system, ds):
    samples = ds.references + ds.probes
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        system.acquire([np.zeros((64, 64, 3), np.uint8)])  # warm-up (session initialisation)
        dt, (res, _) = timed(lambda: acquire_all([(s, ORIGINAL) for s in samples], system, store,
                                                 batch_size=32, progress=False))
        store.close()
    return dt, res


def bench_face_analysis(files, det, rec, det_size):
    from insightface.app import FaceAnalysis

    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(det, os.path.join(tmp, Path(det).name))
        os.symlink(rec, os.path.join(tmp, Path(rec).name))
        app = FaceAnalysis(name=tmp, providers=["CPUExecutionProvider"])
        app.prepare(ctx_id=-1, det_size=det_size)
        app.get(cv2.imread(str(files[0])))  # warm-up

        def loop():
            n_faces = failed = 0
            for f in files:
                faces = app.get(cv2.imread(str(f)))
                n_faces += len(faces)
                failed += not faces
            return n_faces, failed

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # norm_crop's deprecated skimage call
            return timed(loop)


def bench_bound(system: ArcFaceSystem, files, results):
    """The detector session on each image's exact detector input, plus the recogniser session
    on each kept face's crop: what remains when decoding, resizing, NMS, alignment and
    bookkeeping cost nothing."""
    det_model, rec_model = system.det_model, system.rec_model
    det_inputs, rec_inputs = [], []
    for f, acq in zip(files, results):
        bgr = cv2.imread(str(f))
        w, h = system.input_size_for(bgr.shape)
        s = min(w / bgr.shape[1], h / bgr.shape[0])
        nw, nh = int(bgr.shape[1] * s), int(bgr.shape[0] * s)
        canvas = np.zeros((h, w, 3), np.uint8)
        canvas[:nh, :nw] = cv2.resize(bgr, (nw, nh))
        sess = det_model._session_for_input_size((w, h))
        det_inputs.append((sess, det_model._prepare_input_blob(canvas, (w, h))))
        if acq.ok:
            crop = system._align(bgr[:, :, ::-1], acq.detection)
            blob = cv2.dnn.blobFromImages([crop], 1.0 / rec_model.input_std, rec_model.input_size,
                                          (rec_model.input_mean,) * 3, swapRB=True)
            rec_inputs.append(blob.astype(np.float32))
    det_in, rec_in = det_model.input_name, rec_model.input_name

    def loop():
        for sess, blob in det_inputs:
            sess.run(det_model.output_names, {det_in: blob})
        for blob in rec_inputs:
            rec_model.session.run(rec_model.output_names, {rec_in: blob})

    return timed(loop)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(SHARED / "data/lfw/deepfunneled_min20"))
    ap.add_argument("--det", default=str(SHARED / "models/det_500m.onnx"))
    ap.add_argument("--rec", default=str(SHARED / "models/mobilefacenet_128d.onnx"))
    ap.add_argument("--limit", type=int, default=0, help="use only the first N subjects' images")
    ap.add_argument("--skip-sface", action="store_true")
    args = ap.parse_args()
    for p in (args.data, args.det, args.rec):
        if not Path(p).exists():
            sys.exit(f"missing: {p} (the benchmark reads ../shared beside the project)")
    ds = load_dataset({"type": "folder", "root": args.data})
    if args.limit:
        keep = set(ds.subjects[:args.limit])
        ds.references = [s for s in ds.references if s.subject in keep]
        ds.probes = [s for s in ds.probes if s.subject in keep]
    samples = ds.references + ds.probes
    files = [s.path for s in samples]
    n = len(files)
    print(f"data: {args.data}: {n} images; CPU threads: {os.cpu_count()}; onnxruntime CPU")

    system = ArcFaceSystem(args.det, args.rec, providers="CPUExecutionProvider")
    t_ours, res = bench_ours(system, ds)
    ours = n / t_ours
    failed = sum(not res[(s.rel, "original")].ok for s in samples)
    print(f"fr-eval arcface (det_size=fit, cold store): {t_ours:7.1f} s  {ours:6.1f} img/s  "
          f"({failed} failures to acquire)")

    t_b = bench_bound(system, files, [res[(s.rel, "original")] for s in samples])
    bound = n / t_b
    print(f"ONNX sessions alone, same inputs (bound): {t_b:7.1f} s  {bound:6.1f} img/s")

    rows = []
    for det_size in [(640, 640), None]:
        t_fa, (n_faces, fa_failed) = bench_face_analysis(files, args.det, args.rec, det_size)
        label = f"det_size={det_size}" if det_size else "det_size=None (insightface 2.1 default: 128 and 640)"
        rows.append((label, n / t_fa))
        print(f"insightface FaceAnalysis, {label}: {t_fa:7.1f} s  {n / t_fa:6.1f} img/s  "
              f"({n_faces} faces embedded, {fa_failed} images without a face)")

    # the same detector input as FaceAnalysis's classic 640 x 640, to separate the two gains
    fixed = ArcFaceSystem(args.det, args.rec, providers="CPUExecutionProvider", det_size=[640, 640])
    t_fixed, res_fixed = bench_ours(fixed, ds)
    failed_fixed = sum(not res_fixed[(s.rel, "original")].ok for s in samples)
    print(f"fr-eval arcface (det_size=[640,640], cold store): {t_fixed:7.1f} s  {n / t_fixed:6.1f} img/s  "
          f"({failed_fixed} failures)")

    if not args.skip_sface:
        t_sf, res_sf = bench_ours(SFaceSystem(), ds)
        sf_failed = sum(not res_sf[(s.rel, "original")].ok for s in samples)
        print(f"fr-eval sface (cold store): {t_sf:7.1f} s  {n / t_sf:6.1f} img/s  ({sf_failed} failures)")

    print()
    print(f"ratio fr-eval / bound: {ours / bound:.3f}   (target >= 0.85)")
    for label, fa in rows:
        print(f"ratio fr-eval / FaceAnalysis {label}: {ours / fa:.2f}x   (target >= 1.5)")
    print(f"ratio fr-eval det_size=[640,640] / FaceAnalysis det_size=(640, 640): {n / t_fixed / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
