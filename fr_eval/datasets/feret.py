"""Colour FERET (Phillips et al. 1998): ``dvd1|dvd2/data/images/<subject>/<subject>_<yymmdd>_<pose>[_<flag>].ppm[.bz2]``.

Reference: the subject's earliest regular frontal image (pose ``fa``). Probes: frontal images
(``fa``, ``fb``) from other acquisition dates where the subject has any, else that session's
other frontal images (the paper: "probe images from a different acquisition session were
preferentially chosen"). Each sample keeps its date, pose, flag and the session gap in days.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from ..errors import FrEvalError
from .base import Dataset, Sample

FERET_RE = re.compile(r"^(?P<subject>\d{5})_(?P<date>\d{6})_(?P<pose>[a-z]{2})(?:_(?P<flag>[a-z0-9]+))?"
                      r"\.ppm(?:\.bz2)?$")


def _date(yymmdd: str) -> datetime:
    return datetime.strptime(yymmdd, "%y%m%d")


def load_feret(root: str | Path, *, name: str = "feret", reference_pose: str = "fa",
               probe_poses=("fa", "fb"), prefer_other_session: bool = True) -> Dataset:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FrEvalError(f"dataset.root={root} is not a directory (the colour FERET root with dvd1/, dvd2/)")
    ignored, by_subject = [], {}
    for f in sorted(root.rglob("*")):
        if not f.is_file():
            continue
        rel = f.relative_to(root).as_posix()
        m = FERET_RE.match(f.name)
        if not m:
            if ".ppm" in f.name or f.suffix in (".bz2", ".jpg", ".png"):
                ignored.append({"path": rel, "reason": "not named <subject>_<yymmdd>_<pose>[_<flag>].ppm[.bz2]"})
            continue
        try:
            when = _date(m.group("date"))
        except ValueError:
            ignored.append({"path": rel, "reason": f"invalid date {m.group('date')}"})
            continue
        by_subject.setdefault(m.group("subject"), []).append(
            (when, m.group("pose"), m.group("flag") or "", rel, f))
    refs, probes, excluded = [], [], []
    for subject, items in sorted(by_subject.items()):
        items.sort(key=lambda t: (t[0], t[2], t[3]))  # date, unflagged first, path
        regular = [t for t in items if t[1] == reference_pose]
        if not regular:
            excluded.append({"subject": subject, "images": len(items),
                             "reason": f"no regular frontal image (pose {reference_pose})"})
            continue
        ref = regular[0]
        frontal = [t for t in items if t[1] in probe_poses and t is not ref]
        other = [t for t in frontal if t[0] != ref[0]]
        chosen = other if (prefer_other_session and other) else frontal
        if not chosen:
            excluded.append({"subject": subject, "images": len(items), "reason": "no frontal probe image"})
            continue

        def sample(t, role):
            when, pose, flag, rel, f = t
            meta = (("date", when.strftime("%Y-%m-%d")), ("pose", pose), ("flag", flag),
                    ("session_gap_days", str((when - ref[0]).days)),
                    ("same_session", str(when == ref[0]).lower()))
            return Sample(path=f.resolve(), rel=rel, subject=subject, role=role, meta=meta)

        refs.append(sample(ref, "reference"))
        probes += [sample(t, "probe") for t in chosen]
    if not refs:
        raise FrEvalError(f"dataset.root={root}: no FERET subject with a reference and a probe "
                          f"({len(by_subject)} subjects seen, {len(ignored)} files not in the FERET naming)")
    return Dataset(name=name, root=root.resolve(), references=refs, probes=probes, excluded=excluded,
                   ignored=ignored,
                   settings={"type": "feret", "reference_pose": reference_pose, "probe_poses": list(probe_poses),
                             "prefer_other_session": prefer_other_session,
                             "reference_rule": "earliest regular frontal (fa) image"})
