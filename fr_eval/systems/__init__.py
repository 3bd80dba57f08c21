"""Face systems, picked by ``system.name`` in the config: arcface, sface, dlib, onnx, plugin or auto."""
from __future__ import annotations

import logging

from ..errors import ConfigError, ModelFilesMissing
from ..plugins import load
from ..settings import SYSTEMS, system_settings
from .arcface import ArcFaceSystem
from .base import Acquisition, Detection, FaceSystem, fingerprint
from .onnx import OnnxSystem
from .sface import SFaceSystem

log = logging.getLogger(__name__)


def _dlib(s):
    from .dlib import DlibSystem  # optional heavy dependency (dlib), loaded only when used
    return DlibSystem(s)


def build_system(settings) -> tuple[FaceSystem, str]:
    """Build the system a config node names (its settings dataclass, or a plain node parsed here);
    returns it and a note on how it was chosen.

    ``auto`` takes ``arcface`` when its model files are present (no download is tried),
    else ``sface``; the choice is logged and recorded in the report.
    """
    s = system_settings(settings)  # a plain node: missing keys take the defaults of fr_eval.settings
    system, note = BUILDERS[s.name](s)
    device = getattr(system, "device_note", "")  # where system.device=auto fell back to the CPU: said in the report
    return system, (f"{note}; {device}" if device else note)


def _plugin(s) -> tuple[FaceSystem, str]:
    plugin = str(s.plugin)
    system = load("fr_eval.systems", plugin, "system.plugin")(dict(s.settings or {}))
    if not isinstance(system, FaceSystem):
        raise ConfigError(f"system.plugin={plugin} did not build a face system (describe() and acquire())")
    return system, f"system=plugin {plugin}"


def _auto(s) -> tuple[FaceSystem, str]:
    try:
        system = ArcFaceSystem(s.arcface)
        note = f"system=auto chose arcface ({s.arcface.detector and 'system.arcface files' or s.arcface.pack})"
    except ModelFilesMissing as exc:
        system = SFaceSystem(s.sface)
        what = "its files are absent" if s.arcface.detector else f"pack {s.arcface.pack} is not in {s.arcface.root}"
        note = f"system=auto: using SFace; ArcFace {what} ({getattr(exc, 'reason', 'not downloaded')})"
    log.info(note)
    return system, note


#: system name -> its builder: settings dataclass (fr_eval.settings.SYSTEMS) -> (system, how it was chosen)
BUILDERS = {"arcface": lambda s: (ArcFaceSystem(s), "system=arcface"), "sface": lambda s: (SFaceSystem(s), "system=sface"),
            "onnx": lambda s: (OnnxSystem(s), "system=onnx"), "dlib": lambda s: (_dlib(s), "system=dlib"),
            "plugin": _plugin, "auto": _auto}


def substitute_warnings(note: str) -> list[str]:
    """What the top of a report says when the face system is a substitute (``system=auto`` fell back to
    SFace because ArcFace's files are absent), from the note :func:`build_system` returned."""
    if note.startswith("system=auto: using SFace"):
        return [f"system=auto fell back to SFace (the OpenCV Zoo int8 model), not ArcFace as the paper ran: {note}. "
                f"Every figure here is SFace's; give system=arcface with a pack or model files to run ArcFace"]
    return []


__all__ = ["BUILDERS", "substitute_warnings", "Acquisition", "Detection", "FaceSystem", "build_system", "fingerprint", "SYSTEMS"]
