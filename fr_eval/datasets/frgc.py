"""FRGC v2 still images (Phillips et al., CVPR 2005), selected through the experiments' signature sets.

The distribution (``FRGC-2.0-dist``) keeps the still images under ``nd1/``: the validation
semesters ``Fall2003/`` and ``Spring2004/``, and the training data ``Fall2002/<date>/`` and
``Spring2003/``. Beside them, ``BEE_DIST/FRGC2.0/`` (in some copies
``BEE_DIST/linux/FRGC/FRGC2.0/``; bob.db.frgc looks in both) holds the signature-set XML files
(``signature_sets/experiments/*.xml``, namespaced BEE sigsets:
``<biometric-signature name="nd1S04201"><presentation name="nd1R12345" file-name="nd1/Fall2003/04201d302.jpg" .../>``;
the file name may lack its extension, and the file may be ``.JPG``) and the metadata
(``metadata/FRGC_2.0_Metadata.xml``: ``<Recording recording_id="nd1R12345" subject_id="nd1S04201"
capturedate="...">``).

- **Which images**: exactly those the chosen signature sets list; folders are never scanned, so
  the training data and the 3-D scans stay out. Defaults: Experiment 1's target set (16,028
  controlled stills of 466 subjects) as ``controlled`` and Experiment 4's query set (8,014
  uncontrolled stills) as ``uncontrolled``. Listed files that are absent are problems.
- **Subject**: the signature's name (``nd1S04201`` -> ``04201``).
- **Session**: the capture date from the metadata, joined through the recording id; where a
  recording has no parsable date, the image's folder (``Fall2003``...), which is coarser: the
  sample says which (``session_source``) and the loader warns once with the count.
- **Reference**: the subject's first ``reference_condition`` image of its first session (earliest
  date, then lowest recording number). **Probes**: its images from other sessions where there are
  any, else that session's other images, restricted to ``probe_conditions``.
"""
from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from ..errors import FrEvalError
from .base import Dataset, Sample

log = logging.getLogger(__name__)
FRGC_RE = re.compile(r"^(?P<subject>\d{4,6})d(?P<recording>\d+)\.(?:jpg|jpeg)$", re.IGNORECASE)
#: where the distribution's BEE files may sit under the root (bob.db.frgc's two variants)
BEE_DIRS = (Path("BEE_DIST/FRGC2.0"), Path("BEE_DIST/linux/FRGC/FRGC2.0"))
SIGSET_DIR = Path("signature_sets/experiments")
DEFAULT_SETS = {"controlled": ("FRGC_Exp_2.0.1_Target.xml",), "uncontrolled": ("FRGC_Exp_2.0.4_Query.xml",)}
METADATA = Path("metadata/FRGC_2.0_Metadata.xml")
CONDITIONS = ("controlled", "uncontrolled")
#: capture-date formats seen in FRGC metadata and its exports
DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%m/%d/%y", "%Y%m%d", "%m/%d/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
STILL_EXTENSIONS = (".jpg", ".JPG", ".jpeg", ".JPEG")


def _parse_xml(path: Path, what: str):
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise FrEvalError(f"{what}={path} could not be read as XML: {exc}") from exc


def _tag(el) -> str:
    return el.tag.split("}")[-1]  # BEE sigsets are namespaced


def read_signature_set(path: Path) -> list[tuple[str, str, str]]:
    """``[(signature name, recording id, file name)]`` of a signature set, in file order."""
    out = []
    for sig in _parse_xml(path, "signature set").iter():
        if _tag(sig) not in ("biometric-signature", "complex-biometric-signature"):
            continue
        for pres in sig:
            if _tag(pres) == "presentation" and pres.get("file-name"):
                out.append((sig.get("name", ""), pres.get("name", ""), pres.get("file-name").replace("\\", "/")))
    return out


def read_metadata(path: Path) -> dict[str, dict]:
    """``{recording id: attributes}`` of ``FRGC_2.0_Metadata.xml``'s ``Recording`` elements."""
    return {rec.get("recording_id"): dict(rec.attrib)
            for rec in _parse_xml(path, "dataset.metadata").iter() if _tag(rec) == "Recording"
            and rec.get("recording_id")}


def _date(text: str | None):
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime((text or "").strip(), fmt)
        except ValueError:
            continue
    return None


def _find_bee_file(root: Path, rel: Path) -> Path | None:
    return next((root / d / rel for d in BEE_DIRS if (root / d / rel).is_file()), None)


def _sets(root: Path, cond: str, given) -> list[Path]:
    """The signature sets of one condition: those given (relative to ``root`` or absolute), else the
    default looked up under both BEE folders; none found is a one-line error naming where."""
    if given is None:
        found = [_find_bee_file(root, SIGSET_DIR / name) for name in DEFAULT_SETS[cond]]
        if any(f is None for f in found):
            looked = " and ".join(str(root / d / SIGSET_DIR) for d in BEE_DIRS)
            raise FrEvalError(f"dataset {cond} signature set {', '.join(DEFAULT_SETS[cond])} not found under "
                              f"{looked}; give dataset.{cond}=<sigset.xml>")
        return found
    out = []
    for p in ([given] if isinstance(given, (str, Path)) else given):
        full = Path(p).expanduser()
        full = full if full.is_absolute() else root / full
        if not full.is_file():
            raise FrEvalError(f"dataset.{cond}: {full} is not a file")
        out.append(full)
    return out


def _still(root: Path, file_name: str) -> Path | None:
    """The image a signature set names: as written, else with each still extension (bob.db.frgc
    adds ``.jpg`` and falls back to ``.JPG``)."""
    p = root / file_name
    if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file():
        return p
    stem = p.with_suffix("") if p.suffix.lower() in (".jpg", ".jpeg") else p
    return next((c for c in (stem.with_name(stem.name + e) for e in STILL_EXTENSIONS) if c.is_file()), None)


def _listed_images(root: Path, sets: dict[str, list[Path]], recordings: dict, problems: list) -> dict:
    """``{subject: [image record]}`` for every image the signature sets list and that exists."""
    by_subject, seen = {}, {}
    for cond, files in sets.items():
        for f in files:
            for sig, rec, file_name in read_signature_set(f):
                key = file_name.lower().rsplit(".", 1)[0] if file_name.lower().endswith((".jpg", ".jpeg")) \
                    else file_name.lower()
                if key in seen:
                    if seen[key] != cond:
                        problems.append({"kind": "conflicting condition", "where": f.name,
                                         "detail": f"{file_name} is listed as both {seen[key]} and {cond}"})
                    continue
                seen[key] = cond
                path = _still(root, file_name)
                if path is None:
                    problems.append({"kind": "missing file", "where": f.name,
                                     "detail": f"{file_name} ({cond}) is listed but not found under {root}"})
                    continue
                m = FRGC_RE.match(path.name)
                subject = sig[4:] if sig.startswith("nd1S") else (m.group("subject") if m else sig)
                when = _date(recordings.get(rec, {}).get("capturedate"))
                by_subject.setdefault(subject, []).append(
                    {"rel": path.relative_to(root).as_posix(), "path": path, "condition": cond,
                     "recording": int(m.group("recording")) if m else 0, "recording_id": rec, "when": when,
                     "session": when.strftime("%Y-%m-%d") if when else path.parent.name,
                     "session_source": "metadata capturedate" if when else "folder",
                     "attributes": {k: v for k, v in recordings.get(rec, {}).items() if k in SUBJECT_FIELDS and v}})
    return by_subject


def _choose(items: list[dict], reference_condition: str, probe_conditions, prefer_other_session: bool):
    """(reference, probes) of one subject, or (None, reason) without a reference, or (reference, reason)
    without a probe."""
    items.sort(key=lambda t: (t["when"] or datetime.max, t["session"], t["recording"]))
    ref_ok = [t for t in items if t["condition"] == reference_condition]
    if not ref_ok:
        return None, f"no {reference_condition} image for the reference"
    ref = next((t for t in ref_ok if t["session"] == items[0]["session"]), ref_ok[0])
    allowed = [t for t in items if t is not ref and t["condition"] in probe_conditions]
    other = [t for t in allowed if t["session"] != ref["session"]]
    chosen = other if (prefer_other_session and other) else allowed
    return (ref, chosen) if chosen else (ref, "no probe image")


#: subject attributes a Recording element may carry in the metadata (kept in the samples' metadata: groups for
#: report.differentials; FRGC releases differ in what they hold)
SUBJECT_FIELDS = ("gender", "sex", "race", "ethnicity", "yob")


def _sample(t: dict, ref: dict, subject: str, role: str) -> Sample:
    gap = (t["when"] - ref["when"]).days if t["when"] and ref["when"] else ""
    meta = (("session", t["session"]), ("session_source", t["session_source"]), ("condition", t["condition"]),
            ("recording", str(t["recording"])), ("session_gap_days", str(gap)),
            ("same_session", str(t["session"] == ref["session"]).lower()), *sorted(t.get("attributes", {}).items()))
    return Sample(path=t["path"].resolve(), rel=t["rel"], subject=subject, role=role, meta=meta)


def load_frgc(root: str | Path, *, name: str = "frgc", controlled=None, uncontrolled=None, metadata=None,
              reference_condition: str = "controlled", probe_conditions=("controlled", "uncontrolled"),
              prefer_other_session: bool = True, single_image_subjects: str = "drop") -> Dataset:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FrEvalError(f"dataset.root={root} is not a directory (the FRGC v2 root with nd1/ and BEE_DIST/)")
    for c in [reference_condition, *probe_conditions]:
        if c not in CONDITIONS:
            raise FrEvalError(f"condition {c} is not known; choose from {', '.join(CONDITIONS)}")
    sets = {"controlled": _sets(root, "controlled", controlled),
            "uncontrolled": _sets(root, "uncontrolled", uncontrolled)}
    meta_file = _metadata_file(root, metadata)
    recordings = read_metadata(meta_file) if meta_file else {}
    problems: list[dict] = []
    by_subject = _listed_images(root, sets, recordings, problems)
    images = [t for v in by_subject.values() for t in v]
    fallback = sum(1 for t in images if t["when"] is None)
    if fallback:
        unparsed = sum(1 for t in images if t["when"] is None and recordings.get(t["recording_id"], {})
                       .get("capturedate"))
        log.warning("dataset %s: %d of %d images have no usable capture date (%d with a capturedate in no known "
                    "format; metadata %s); their session is their folder (coarser)", name, fallback, len(images),
                    unparsed, meta_file or "not found")
    refs, probes, excluded, alone = [], [], [], []
    for subject, items in sorted(by_subject.items()):
        ref, chosen = _choose(items, reference_condition, probe_conditions, prefer_other_session)
        if isinstance(chosen, str):  # why the subject has no reference, or no probe
            if ref is None:
                excluded.append({"subject": subject, "images": len(items), "reason": chosen})
            else:
                alone.append((subject, [_sample(ref, ref, subject, "reference")], len(items), chosen))
            continue
        refs.append(_sample(ref, ref, subject, "reference"))
        probes += [_sample(t, ref, subject, "probe") for t in chosen]
    if not refs:
        raise FrEvalError(f"dataset.root={root}: no FRGC subject with a reference and a probe ({len(by_subject)} "
                          f"subjects in the signature sets, {len(problems)} problems)")
    ds = Dataset(name=name, root=root.resolve(), references=refs, probes=probes, excluded=excluded,
                 problems=problems,
                 settings={"type": "frgc", "reference_condition": reference_condition,
                           "single_image_subjects": single_image_subjects,
                             "probe_conditions": list(probe_conditions), "prefer_other_session": prefer_other_session,
                             "signature_sets": [f"{c}: {f}" for c, fs in sets.items() for f in fs],
                             "image_selection": "the images the signature sets list (folders are not scanned)",
                             "metadata": str(meta_file) if meta_file else None,
                             "images_listed_present": len(images),
                             "images_with_capture_date": len(images) - fallback,
                             "images_with_folder_session": fallback,
                             "reference_rule": f"first {reference_condition} image of the subject's first session"})
    for subject, references, images, why in alone:
        ds.keep_reference_only(subject, references, images, single_image_subjects, why)
    return ds


def _metadata_file(root: Path, given) -> Path | None:
    if given is None:
        return _find_bee_file(root, METADATA)
    full = Path(given).expanduser()
    full = full if full.is_absolute() else root / full
    if not full.is_file():
        raise FrEvalError(f"dataset.metadata: {full} is not a file")
    return full
