"""Face systems, picked by ``system.name`` in the config: arcface, sface, dlib, onnx, plugin or auto."""
from __future__ import annotations

import dataclasses
import logging

from ..errors import ConfigError, ModelFilesMissing
from ..plugins import load
from ..settings import SYSTEMS, ArcFaceSettings, OnnxSettings, SFaceSettings, system_settings
from .arcface import ArcFaceSystem, resolve_model_files
from .base import Acquisition, Detection, FaceSystem, fingerprint
from .onnx import OnnxSystem
from .sface import SFaceSystem

log = logging.getLogger(__name__)


def _arcface(s: ArcFaceSettings, cls=None, **extra):
    det, rec = resolve_model_files(s.pack, s.root, s.detector, s.recogniser, download=s.download, url=s.url,
                                   sha256=s.sha256)
    return (cls or ArcFaceSystem)(det, rec, **extra, det_thresh=s.det_thresh,
                                  det_size=s.det_size if s.det_size == "fit" else list(s.det_size),
                                  max_det_size=s.max_det_size, nms_thresh=s.nms_thresh,
                                  face_selection=s.face_selection, min_face_size=s.min_face_size,
                                  providers=s.providers, threads=s.threads, pack=None if s.detector else s.pack,
                                  retry_scales=s.retry_scales or ())


def _onnx(s: OnnxSettings):
    if not s.recogniser or s.recogniser == "???":
        raise ConfigError("system=onnx needs system.recogniser=<model.onnx> (and its system.preprocess)")
    return _arcface(s, OnnxSystem, preprocess=dataclasses.asdict(s.preprocess))


def _sface(s: SFaceSettings):
    return SFaceSystem(s.detector, s.recogniser, det_thresh=s.det_thresh, nms_thresh=s.nms_thresh,
                       max_det_size=s.max_det_size, face_selection=s.face_selection,
                       min_face_size=s.min_face_size, retry_scales=s.retry_scales or ())


def _dlib(s):
    from .dlib import DlibSystem  # optional heavy dependency (dlib), loaded only when used
    return DlibSystem(s.detector, s.recogniser, det_thresh=s.det_thresh, upsample=s.upsample, jitters=s.jitters,
                      max_det_size=s.max_det_size, face_selection=s.face_selection, min_face_size=s.min_face_size,
                      retry_scales=s.retry_scales or ())


def build_system(settings) -> tuple[FaceSystem, str]:
    """Build the system a config node names (its settings dataclass, or a plain node parsed here);
    returns it and a note on how it was chosen.

    ``auto`` takes ``arcface`` when its model files are present (no download is tried),
    else ``sface``; the choice is logged and recorded in the report.
    """
    s = system_settings(settings)  # a plain node: missing keys take the defaults of fr_eval.settings
    return BUILDERS[s.name](s)


def _plugin(s) -> tuple[FaceSystem, str]:
    plugin = str(s.plugin)
    system = load("fr_eval.systems", plugin, "system.plugin")(dict(s.settings or {}))
    if not isinstance(system, FaceSystem):
        raise ConfigError(f"system.plugin={plugin} did not build a face system (describe() and acquire())")
    return system, f"system=plugin {plugin}"


def _auto(s) -> tuple[FaceSystem, str]:
    try:
        system = _arcface(s.arcface)
        note = f"system=auto chose arcface ({s.arcface.detector and 'system.arcface files' or s.arcface.pack})"
    except ModelFilesMissing as exc:
        system = _sface(s.sface)
        what = "its files are absent" if s.arcface.detector else f"pack {s.arcface.pack} is not in {s.arcface.root}"
        note = f"system=auto: using SFace; ArcFace {what} ({getattr(exc, 'reason', 'not downloaded')})"
    log.info(note)
    return system, note


#: system name -> its builder: settings dataclass (fr_eval.settings.SYSTEMS) -> (system, how it was chosen)
BUILDERS = {"arcface": lambda s: (_arcface(s), "system=arcface"), "sface": lambda s: (_sface(s), "system=sface"),
            "onnx": lambda s: (_onnx(s), "system=onnx"), "dlib": lambda s: (_dlib(s), "system=dlib"),
            "plugin": _plugin, "auto": _auto}


def substitute_warnings(note: str) -> list[str]:
    """What the top of a report says when the face system is a substitute (``system=auto`` fell back to
    SFace because ArcFace's files are absent), from the note :func:`build_system` returned."""
    if note.startswith("system=auto: using SFace"):
        return [f"system=auto fell back to SFace (the OpenCV Zoo int8 model), not ArcFace as the paper ran: {note}. "
                f"Every figure here is SFace's; give system=arcface with a pack or model files to run ArcFace"]
    return []


__all__ = ["BUILDERS", "substitute_warnings", "Acquisition", "Detection", "FaceSystem", "build_system", "fingerprint", "SYSTEMS"]
