"""ArcFace: insightface's SCRFD detector + an ArcFace recogniser (:mod:`.insightface_models`).

Models are chosen by insightface pack name (looked up as insightface does, in
``<root>/models/<pack>/``, root ``~/.insightface`` by default) or by explicit file paths.
Only the detector and the recogniser are loaded (no ``FaceAnalysis`` with its extra models).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..devices import CPU_EP, CUDA_EP, onnx_providers_for
from ..errors import ConfigError, ModelFilesMissing
from ..fetch import DownloadFailed, fetch_archive, offline
from ..provenance import model_file_record
from ..settings import ArcFaceSettings
from .align import norm_crop
from .base import Detection, TwoStageSystem
from .insightface_models import SCRFD, ArcFaceRecogniser, model_task

log = logging.getLogger(__name__)

#: detector and recogniser file of insightface's model packs (as the packs' zips name them)
KNOWN_PACKS = {
    "buffalo_l": ("det_10g.onnx", "w600k_r50.onnx"),
    "buffalo_m": ("det_2.5g.onnx", "w600k_r50.onnx"),
    "buffalo_s": ("det_500m.onnx", "w600k_mbf.onnx"),
    "buffalo_sc": ("det_500m.onnx", "w600k_mbf.onnx"),
    "antelopev2": ("scrfd_10g_bnkps.onnx", "glintr100.onnx"),
}


#: sha256 of the packs' zips as insightface's model zoo serves them (the same figures are published
#: by several independent projects that pin them); a pack not listed downloads only with system.sha256
PACK_SHA256 = {
    "buffalo_l": "80ffe37d8a5940d59a7384c201a2a38d4741f2f3c51eef46ebb28218a7b0ca2f",
    "buffalo_m": "d98264bd8f2dc75cbc2ddce2a14e636e02bb857b3051c234b737bf3b614edca9",
    "buffalo_s": "d85a87f503f691807cd8bb97128bdf7a0660326cd9cd02657127fa978bab8b5e",
    "buffalo_sc": "57d31b56b6ffa911c8a73cfc1707c73cab76efe7f13b675a05223bf42de47c72",
    "antelopev2": "8e182f14fc6e80b3bfa375b33eb6cff7ee05d8ef7633e738d1c89021dcf0c5c5",
}


#: where insightface's own downloader (insightface.utils.storage, 2.1) fetches packs from
MODEL_ZOO_URL = "https://github.com/deepinsight/insightface/releases/download/model-zoo/"


def pack_url(pack: str) -> str:
    return f"{MODEL_ZOO_URL}{pack}.zip"


def pack_dir(pack: str, root: str | Path = "~/.insightface") -> Path:
    return Path(root).expanduser() / "models" / pack


def resolve_model_files(pack: str | None = "buffalo_l", root: str | Path = "~/.insightface",
                        detector: str | None = None, recogniser: str | None = None,
                        download: bool = False, url: str | None = None,
                        sha256: str | None = None) -> tuple[Path, Path]:
    """Paths of the detector and recogniser, or :class:`ModelFilesMissing` naming what is absent.

    Explicit ``detector``/``recogniser`` paths win over the pack. With ``download=True`` a
    missing pack is fetched as insightface's ``FaceAnalysis`` does (its model-zoo URL, unpacked
    into ``<root>/models/<pack>/``), here with a progress bar and the zip's sha256 checked
    (:data:`PACK_SHA256`, or ``sha256``); ``url`` replaces the model zoo's (a mirror).
    """
    if detector and recogniser:
        det, rec = Path(detector).expanduser(), Path(recogniser).expanduser()
        missing = [str(p) for p in (det, rec) if not p.is_file()]
        if missing:
            raise ModelFilesMissing(f"ArcFace model file(s) not found: {', '.join(missing)}")
        return det, rec
    if detector or recogniser:
        raise ConfigError("give both system.detector and system.recogniser, or neither (to use system.pack)")
    if not pack:
        raise ConfigError("system.pack or system.detector + system.recogniser must be set")
    d = pack_dir(pack, root)
    files = _pack_files(pack, d)
    if files is None and download:
        _download_pack(pack, d, url, sha256)
        files = _pack_files(pack, d)
    if files is None:
        names = KNOWN_PACKS.get(pack, ("<detector>.onnx", "<recogniser>.onnx"))
        where = f"{d}/{names[0]} and {d}/{names[1]}"
        hint = (f"download {pack_url(pack)} and unzip it into {d}/"
                if pack in KNOWN_PACKS else f"put the pack's ONNX files into {d}/")
        raise ModelFilesMissing(
            f"ArcFace pack '{pack}' not found: expected {where}. Offline, {hint}; "
            f"or name the files: system.detector=<det.onnx> system.recogniser=<rec.onnx>")
    return files


def _pack_files(pack: str, d: Path) -> tuple[Path, Path] | None:
    if pack in KNOWN_PACKS:
        det, rec = (d / n for n in KNOWN_PACKS[pack])
        return (det, rec) if det.is_file() and rec.is_file() else None
    if not d.is_dir():
        return None
    # an unknown pack: route its files the way insightface does (by the model's outputs/inputs)
    det = rec = None
    for f in sorted(d.glob("*.onnx")):
        task = model_task(f)
        if task == "detection" and det is None:
            det = f
        elif task == "recognition" and rec is None:
            rec = f
    return (det, rec) if det and rec else None


def _download_pack(pack: str, d: Path, url: str | None, sha256: str | None) -> None:
    """Fetch the pack's zip and unpack it into ``d``; a :class:`ModelFilesMissing` of one line when
    that fails (offline, HTTP error, checksum mismatch)."""
    sha256 = sha256 or PACK_SHA256.get(pack)
    if not sha256:
        raise ModelFilesMissing(f"ArcFace pack '{pack}' has no known checksum: give system.sha256=<the zip's "
                                f"sha256> to download it, or put its ONNX files into {d}/")
    if d.is_dir() and not any(d.iterdir()):
        d.rmdir()  # an empty folder left by an interrupted insightface download
    if offline():  # said once, by the caller's note, not as a download that then fails
        err = ModelFilesMissing(f"ArcFace pack '{pack}' is not in {d} and FR_EVAL_OFFLINE is set")
        err.reason = "not downloaded: FR_EVAL_OFFLINE is set"
        raise err
    log.info("downloading insightface pack %s into %s (sha256 %s)", pack, d, sha256[:12])
    try:
        fetch_archive(url or pack_url(pack), d, sha256=sha256, strip=pack)
    except DownloadFailed as exc:
        err = ModelFilesMissing(f"ArcFace pack '{pack}': {exc}")
        err.reason = f"not downloaded: {exc.reason}"
        raise err from exc


def onnx_providers(choice: str | list = "auto") -> list[str]:
    """ONNX Runtime providers: CUDA when present (``auto``), else the CPU."""
    available = ort.get_available_providers()
    if choice == "auto":
        return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    wanted = [choice] if isinstance(choice, str) else list(choice)
    bad = [p for p in wanted if p not in available]
    if bad:
        raise ConfigError(f"system.providers: {', '.join(bad)} not available; "
                          f"choose from auto, {', '.join(available)}")
    return wanted


class ArcFaceSystem(TwoStageSystem):
    """SCRFD + ArcFace, as insightface runs them (boxes, landmarks and embeddings equal to
    insightface 2.1's on the same files: tests/integration/test_insightface_reference.py)."""

    name = "arcface"
    settings_class = ArcFaceSettings
    output_keys = TwoStageSystem.output_keys + ("det_size",)
    #: what describe() records beside the settings: facts of this system that no setting changes
    facts = {"fit_rule": "zero-pad to a multiple of 32; scale down above max_det_size",
             "detections_kept": "finite, non-empty boxes centred in the image",
             "alignment": "5-point similarity onto insightface's ArcFace template (= norm_crop)"}

    def __init__(self, settings: ArcFaceSettings | None = None, *, files: tuple | None = None, **overrides):
        """Built from its settings (:class:`fr_eval.settings.ArcFaceSettings`; keyword ``overrides``
        replace fields, parsed as the config's keys are). The model files are the pack's or the
        settings' (:func:`resolve_model_files`, which may download the pack), or ``files``, the
        (detector, recogniser) already resolved: how a worker process rebuilds the system."""
        s = self._settle(self.settings_class, settings, overrides)
        det, rec = files or resolve_model_files(s.pack, s.root, s.detector, s.recogniser, download=s.download,
                                                url=s.url, sha256=s.sha256)
        self._init_kwargs["files"] = (str(det), str(rec))
        if s.providers == "auto":  # system.device decides (fr_eval.devices); a named provider overrides it
            self.providers, self.device_note = onnx_providers_for(s.device, ort.get_available_providers())
        else:
            self.providers, self.device_note = onnx_providers(s.providers), ""
        # one intra-op thread per session by default: these models are too small to gain from
        # ORT's intra-op parallelism (116 vs 124 img/s here), while the engine's workers running
        # single-threaded sessions side by side gave 179 img/s on 2 cores (benchmarks/)
        self.threads = s.threads
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.det_model = SCRFD(str(det), providers=self.providers, sess_options=opts, det_thresh=s.det_thresh,
                               nms_thresh=s.nms_thresh)
        self._load_recogniser(str(rec), opts)
        self.device_note = self._check_cuda(s.device) or self.device_note
        self.detector_path, self.recogniser_path = Path(det), Path(rec)
        self.pack = None if s.detector else s.pack
        self.det_size = s.det_size if s.det_size == "fit" else tuple(s.det_size)

    def _check_cuda(self, device: str) -> str:
        """ONNX Runtime's GPU build lists CUDA even where it cannot start it, and then runs the session on the CPU
        with only a log line: the session's own providers say where it runs. ``cuda`` not honoured is an error;
        ``auto`` says so."""
        if CUDA_EP not in self.providers or CUDA_EP in self.det_model.session.get_providers():
            return ""
        if device == "cuda":
            raise ConfigError("system.device=cuda: ONNX Runtime lists CUDA but could not start it (no usable GPU or "
                              "CUDA libraries); set system.device=cpu or auto")
        self.providers = [CPU_EP]
        return "system.device=auto: ONNX Runtime could not start CUDA, ran on the CPU"

    def _load_recogniser(self, recogniser, opts) -> None:
        """An ArcFace-style recogniser (input size and normalisation read from the graph)."""
        self.rec_model = ArcFaceRecogniser(recogniser, providers=self.providers, sess_options=opts)
        batch = self.rec_model.session.get_inputs()[0].shape[0]
        self.rec_batched = not isinstance(batch, int) or batch <= 0

    def recogniser_settings(self) -> dict:
        return {"recogniser_input": [int(v) for v in self.rec_model.input_size],
                "recogniser_mean_std": [self.rec_model.input_mean, self.rec_model.input_std]}

    def describe(self) -> dict:
        return {
            "name": self.name,
            "pack": self.pack,
            "models": [model_file_record(self.detector_path, "detector"),
                       model_file_record(self.recogniser_path, "recogniser")],
            "settings": {**self.output_settings(), **self.facts, **self.recogniser_settings()},
            "runtime": {"providers": self.providers, "recogniser_batched": self.rec_batched,
                        "intra_op_threads": self.threads, "device": self.settings.device,
                        "device_note": self.device_note},
        }

    def input_size_for(self, shape) -> tuple[int, int]:
        """Detector input (w, h). ``fit``: the image's own size rounded up to a multiple of 32
        (the image is zero-padded to it, not resampled), or, for images whose longer side
        exceeds ``max_det_size``, scaled down to fit it."""
        if self.det_size != "fit":
            return self.det_size
        h, w = shape[:2]
        s = min(1.0, self.max_det_size / max(h, w))
        return (max(32, 32 * math.ceil(w * s / 32)), max(32, 32 * math.ceil(h * s / 32)))

    def detection_scale(self, shape) -> float:
        h, w = shape[:2]
        if self.det_size == "fit":
            return min(1.0, self.max_det_size / max(h, w))
        return min(self.det_size[0] / w, self.det_size[1] / h)  # insightface's resize keeps the aspect

    def _retry_image(self, bgr, factor):
        if self.det_size == "fit":
            return super()._retry_image(bgr, factor)
        # a fixed input size: insightface resizes every image to fit it (enlarging small ones), so
        # faces are made smaller by zero-padding the image (bottom, right); coordinates are unchanged
        h, w = bgr.shape[:2]
        canvas = np.zeros((math.ceil(h / factor), math.ceil(w / factor), 3), np.uint8)
        canvas[:h, :w] = bgr
        return canvas, 1.0, 1.0

    def detector_input(self, bgr) -> tuple[np.ndarray, tuple[int, int]]:
        """The image handed to SCRFD's ``detect`` and its input size (w, h). With ``fit``, an
        image that fits is zero-padded (bottom, right) to the input instead of being resampled:
        the detector sees the pixels as they are, and the coordinates need no rescaling."""
        w, h = self.input_size_for(bgr.shape)
        if self.det_size == "fit" and w >= bgr.shape[1] and h >= bgr.shape[0]:
            canvas = np.zeros((h, w, 3), np.uint8)
            canvas[:bgr.shape[0], :bgr.shape[1]] = bgr
            return canvas, (w, h)
        return bgr, (w, h)

    def _detect(self, bgr):
        img, size = self.detector_input(bgr)
        det, kps = self.det_model.detect(img, size)
        if kps is None:
            raise ConfigError("the detector gives no landmarks; ArcFace alignment needs 5 points")
        return det[:, :4], det[:, 4], kps

    def _align(self, bgr, det: Detection):
        return norm_crop(bgr, det.landmarks, self.rec_model.input_size[0])

    def _embed(self, crops):
        if self.rec_batched:
            return self.rec_model.get_feat(crops)
        return np.concatenate([self.rec_model.get_feat(c) for c in crops], axis=0)
