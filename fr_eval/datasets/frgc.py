"""FRGC v2 still images (Phillips et al., CVPR 2005): ``<subject>d<recording>.jpg``.

The distribution keeps the images under ``nd1/<Fall2003|Spring2003|Spring2004>/`` and, under
``BEE_DIST/FRGC2.0/``, the signature-set XML files (``signature_sets/experiments/*.xml``:
``<biometric-signature name="nd1S04201"><presentation name="nd1R12345" file-name="nd1/Spring2003/04201d302.jpg" .../>``)
and the metadata (``metadata/FRGC_2.0_Metadata.xml``: ``<Recording recording_id="nd1R12345"
subject_id="nd1S04201" capturedate="...">``), as bob.db.frgc reads them.

- Subject: from the file name (``04201``).
- Condition: ``controlled`` for images listed in the ``controlled`` signature sets (by default
  Experiment 1's target set, all controlled stills), ``uncontrolled`` for those in the
  ``uncontrolled`` sets (Experiment 4's query set), else ``unknown``.
- Session: the capture date from the metadata (joined to files through the signature sets'
  recording ids); where there is none, the collection folder (``Spring2003``...), which is
  coarser, and the sample says which (``session_source``).
- Reference: the subject's first controlled image of its first session (earliest date, then
  lowest recording number); ``unknown`` condition is accepted when no image of the subject has a
  known one. Probes: the subject's images from other sessions when there are any, else the
  same session's other images; conditions restricted by ``probe_conditions``.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from ..errors import FrEvalError
from .base import Dataset, Sample

FRGC_RE = re.compile(r"^(?P<subject>\d{4,6})d(?P<recording>\d+)\.(?:jpg|jpeg)$", re.IGNORECASE)
BEE = Path("BEE_DIST/FRGC2.0")
DEFAULT_CONTROLLED = (BEE / "signature_sets/experiments/FRGC_Exp_2.0.1_Target.xml",)
DEFAULT_UNCONTROLLED = (BEE / "signature_sets/experiments/FRGC_Exp_2.0.4_Query.xml",)
DEFAULT_METADATA = BEE / "metadata/FRGC_2.0_Metadata.xml"
CONDITIONS = ("controlled", "uncontrolled", "unknown")
#: capture-date formats seen in FRGC metadata and its exports
DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%m/%d/%y", "%Y%m%d", "%m/%d/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def _parse_xml(path: Path, what: str):
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise FrEvalError(f"{what}={path} could not be read as XML: {exc}") from exc


def read_signature_set(path: Path) -> dict[str, tuple[str, str]]:
    """``{file name (lower case, no extension): (subject id, recording id)}`` of a signature set."""
    out = {}
    for sig in _parse_xml(path, "signature set").iter():
        if sig.tag.split("}")[-1] not in ("biometric-signature", "complex-biometric-signature"):
            continue
        for pres in sig:
            if pres.tag.split("}")[-1] == "presentation" and pres.get("file-name"):
                out[_key(pres.get("file-name"))] = (sig.get("name", ""), pres.get("name", ""))
    return out


def read_metadata(path: Path) -> dict[str, dict]:
    """``{recording id: attributes}`` of ``FRGC_2.0_Metadata.xml``'s ``Recording`` elements."""
    return {rec.get("recording_id"): dict(rec.attrib)
            for rec in _parse_xml(path, "dataset.metadata").iter() if rec.tag.split("}")[-1] == "Recording"
            and rec.get("recording_id")}


def _key(file_name: str) -> str:
    return Path(file_name.replace("\\", "/")).stem.lower()


def _date(text: str | None):
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime((text or "").strip(), fmt)
        except ValueError:
            continue
    return None


def _resolve(root: Path, paths, defaults, what: str) -> list[Path]:
    """Given paths (relative to ``root`` or absolute) must exist; defaults are used when present."""
    if paths is None:
        return [root / d for d in defaults if (root / d).is_file()]
    out = []
    for p in ([paths] if isinstance(paths, (str, Path)) else paths):
        full = Path(p).expanduser()
        full = full if full.is_absolute() else root / full
        if not full.is_file():
            raise FrEvalError(f"{what}: {full} is not a file")
        out.append(full)
    return out


def load_frgc(root: str | Path, *, name: str = "frgc", controlled=None, uncontrolled=None, metadata=None,
              reference_condition: str = "controlled", probe_conditions=("controlled", "uncontrolled"),
              prefer_other_session: bool = True) -> Dataset:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FrEvalError(f"dataset.root={root} is not a directory (the FRGC v2 root with nd1/ and BEE_DIST/)")
    for c in [reference_condition, *probe_conditions]:
        if c not in CONDITIONS:
            raise FrEvalError(f"condition {c} is not known; choose from {', '.join(CONDITIONS)}")
    condition_of, recording_of, problems, sig_files = {}, {}, [], []
    for cond, paths, defaults in (("controlled", controlled, DEFAULT_CONTROLLED),
                                  ("uncontrolled", uncontrolled, DEFAULT_UNCONTROLLED)):
        for f in _resolve(root, paths, defaults, f"dataset.{cond}"):
            sig_files.append(f"{cond}: {f}")
            for key, (_, rec) in read_signature_set(f).items():
                if condition_of.get(key, cond) != cond:
                    problems.append({"kind": "conflicting condition", "where": f.name,
                                     "detail": f"{key} is listed as both controlled and uncontrolled"})
                condition_of[key] = cond
                recording_of[key] = rec
    meta_files = _resolve(root, metadata, (DEFAULT_METADATA,), "dataset.metadata")
    recordings = read_metadata(meta_files[0]) if meta_files else {}

    ignored, by_subject, seen_keys = [], {}, set()
    for f in sorted(root.rglob("*")):
        if not f.is_file() or "BEE_DIST" in f.relative_to(root).parts:
            continue
        rel = f.relative_to(root).as_posix()
        m = FRGC_RE.match(f.name)
        if not m:
            if f.suffix.lower() in (".jpg", ".jpeg", ".png"):
                ignored.append({"path": rel, "reason": "not named <subject>d<recording>.jpg"})
            continue
        key = _key(f.name)
        seen_keys.add(key)
        rec = recordings.get(recording_of.get(key, ""), {})
        when = _date(rec.get("capturedate"))
        if when is not None:
            session, source = when.strftime("%Y-%m-%d"), "metadata capturedate"
        else:
            session, source = f.parent.name, "folder"
        by_subject.setdefault(m.group("subject"), []).append(
            {"rel": rel, "path": f, "recording": int(m.group("recording")), "when": when, "session": session,
             "session_source": source, "condition": condition_of.get(key, "unknown")})
    for key in sorted(set(condition_of) - seen_keys):
        problems.append({"kind": "missing file", "where": "signature sets",
                         "detail": f"{key} ({condition_of[key]}) is listed but not found under {root}"})

    refs, probes, excluded = [], [], []
    for subject, items in sorted(by_subject.items()):
        items.sort(key=lambda t: (t["when"] or datetime.max, t["session"], t["recording"]))
        known = any(t["condition"] != "unknown" for t in items)
        ref_ok = [t for t in items if t["condition"] == reference_condition
                  or (not known and t["condition"] == "unknown")]
        if not ref_ok:
            excluded.append({"subject": subject, "images": len(items),
                             "reason": f"no {reference_condition} image for the reference"})
            continue
        first_session = items[0]["session"]
        ref = next((t for t in ref_ok if t["session"] == first_session), ref_ok[0])
        allowed = [t for t in items if t is not ref and (t["condition"] in probe_conditions
                                                         or (not known and t["condition"] == "unknown"))]
        other = [t for t in allowed if t["session"] != ref["session"]]
        chosen = other if (prefer_other_session and other) else allowed
        if not chosen:
            excluded.append({"subject": subject, "images": len(items), "reason": "no probe image"})
            continue

        def sample(t, role):
            gap = (t["when"] - ref["when"]).days if t["when"] and ref["when"] else ""
            meta = (("session", t["session"]), ("session_source", t["session_source"]),
                    ("condition", t["condition"]), ("recording", str(t["recording"])),
                    ("session_gap_days", str(gap)), ("same_session", str(t["session"] == ref["session"]).lower()))
            return Sample(path=t["path"].resolve(), rel=t["rel"], subject=subject, role=role, meta=meta)

        refs.append(sample(ref, "reference"))
        probes += [sample(t, "probe") for t in chosen]
    if not refs:
        raise FrEvalError(f"dataset.root={root}: no FRGC subject with a reference and a probe "
                          f"({len(by_subject)} subjects seen, {len(ignored)} image files not in the FRGC naming)")
    return Dataset(name=name, root=root.resolve(), references=refs, probes=probes, excluded=excluded,
                   ignored=ignored, problems=problems,
                   settings={"type": "frgc", "reference_condition": reference_condition,
                             "probe_conditions": list(probe_conditions), "prefer_other_session": prefer_other_session,
                             "signature_sets": sig_files,
                             "metadata": str(meta_files[0]) if meta_files else None,
                             "images_with_condition": sum(1 for v in by_subject.values() for t in v
                                                          if t["condition"] != "unknown"),
                             "images_with_capture_date": sum(1 for v in by_subject.values() for t in v if t["when"]),
                             "reference_rule": f"first {reference_condition} image of the subject's first session"})
