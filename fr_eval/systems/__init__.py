"""Face systems, picked by ``system.name`` in the config: arcface, sface or auto."""
from __future__ import annotations

import logging

from ..errors import ConfigError, ModelFilesMissing
from .base import Acquisition, Detection, FaceSystem, fingerprint

log = logging.getLogger(__name__)
SYSTEMS = ("arcface", "sface", "onnx", "auto", "plugin")


def _arcface(cfg, cls=None, **extra):
    from .arcface import ArcFaceSystem, resolve_model_files
    det, rec = resolve_model_files(cfg.get("pack"), cfg.get("root", "~/.insightface"),
                                   cfg.get("detector"), cfg.get("recogniser"),
                                   download=bool(cfg.get("download", True)))
    det_size = cfg.get("det_size", [640, 640])
    return (cls or ArcFaceSystem)(det, rec, **extra, det_thresh=cfg.get("det_thresh", 0.5),
                         det_size=det_size if det_size == "fit" else list(det_size),
                         max_det_size=cfg.get("max_det_size", 640), nms_thresh=cfg.get("nms_thresh", 0.4),
                         face_selection=cfg.get("face_selection", "largest"),
                         min_face_size=cfg.get("min_face_size", 0.0),
                         providers=cfg.get("providers", "auto"), threads=cfg.get("threads", 1),
                         pack=None if cfg.get("detector") else cfg.get("pack"),
                         retry_scales=cfg.get("retry_scales", [0.5]) or ())


def _onnx(cfg):
    from .onnx import OnnxSystem
    if not cfg.get("recogniser"):
        raise ConfigError("system=onnx needs system.recogniser=<model.onnx> (and its system.preprocess)")
    return _arcface(cfg, OnnxSystem, preprocess=cfg.get("preprocess"))


def _sface(cfg):
    from .sface import SFaceSystem
    return SFaceSystem(cfg.get("detector"), cfg.get("recogniser"), det_thresh=cfg.get("det_thresh", 0.9),
                       nms_thresh=cfg.get("nms_thresh", 0.3), max_det_size=cfg.get("max_det_size", 640),
                       face_selection=cfg.get("face_selection", "largest"),
                       min_face_size=cfg.get("min_face_size", 0.0),
                       retry_scales=cfg.get("retry_scales", [0.5]) or ())


def build_system(cfg) -> tuple[FaceSystem, str]:
    """Build the system a config node names; returns it and a note on how it was chosen.

    ``auto`` takes ``arcface`` when its model files are present (no download is tried),
    else ``sface``; the choice is logged and recorded in the report.
    """
    name = cfg.get("name")
    if name == "arcface":
        return _arcface(cfg), "system=arcface"
    if name == "sface":
        return _sface(cfg), "system=sface"
    if name == "onnx":
        return _onnx(cfg), "system=onnx"
    if name == "plugin":
        from ..plugins import load
        plugin = str(cfg.get("plugin"))
        system = load("fr_eval.systems", plugin, "system.plugin")(dict(cfg.get("settings") or {}))
        if not isinstance(system, FaceSystem):
            raise ConfigError(f"system.plugin={plugin} did not build a face system (describe() and acquire())")
        return system, f"system=plugin {plugin}"
    if name == "auto":
        arc = dict(cfg.get("arcface", {}))
        arc["download"] = False
        try:
            system = _arcface(arc)
            note = "system=auto chose arcface (its model files are present)"
        except ModelFilesMissing as exc:
            system = _sface(dict(cfg.get("sface", {})))
            note = f"system=auto chose sface because arcface is unavailable: {exc}"
        log.info(note)
        return system, note
    raise ConfigError(f"system={name} is not known; choose from {', '.join(SYSTEMS)}")


__all__ = ["Acquisition", "Detection", "FaceSystem", "build_system", "fingerprint", "SYSTEMS"]
