"""Colour FERET (Phillips et al. 1998): ``dvd1|dvd2/data/images/<subject>/<subject>_<yymmdd>_<pose>[_<flag>].ppm[.bz2]``.

Only ``data/images/`` is read, on both DVDs: the DVDs also keep every image downscaled under the
same name in ``data/smaller/`` and ``data/thumbnails/``, the ground truths, the documentation and
(``gray_feret_cd*``) the older greyscale FERET release, none of which may enter the protocol (a
downscaled copy of a reference would become its own genuine probe). What was skipped is counted
by folder in ``Dataset.settings["skipped"]``. A root that is itself a ``data/images`` folder is
read whole.

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
               probe_poses=("fa", "fb"), prefer_other_session: bool = True,
               single_image_subjects: str = "drop") -> Dataset:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FrEvalError(f"dataset.root={root} is not a directory (the colour FERET root with dvd1/, dvd2/)")
    by_subject, ignored, skipped = _scan(root)
    truth = ground_truth(root)
    refs, probes, excluded, alone = [], [], [], []
    for subject, items in sorted(by_subject.items()):
        chosen, why = _choose(items, reference_pose, probe_poses, prefer_other_session)
        if why:
            if chosen:  # a reference and no probe
                alone.append((subject, [_sample(chosen[0], chosen[0], subject, "reference", truth)], len(items),
                              why))
            else:
                excluded.append({"subject": subject, "images": len(items), "reason": why})
            continue
        ref = chosen[0]
        refs.append(_sample(ref, ref, subject, "reference", truth))
        probes += [_sample(t, ref, subject, "probe", truth) for t in chosen[1:]]
    if not refs:
        raise FrEvalError(f"dataset.root={root}: no FERET subject with a reference and a probe "
                          f"({len(by_subject)} subjects seen in data/images, {len(ignored)} files not in the FERET "
                          f"naming, {sum(skipped.values())} files outside data/images skipped)")
    ds = Dataset(name=name, root=root.resolve(), references=refs, probes=probes, excluded=excluded,
                 ignored=ignored,
                 settings={"type": "feret", "reference_pose": reference_pose, "probe_poses": list(probe_poses),
                           "prefer_other_session": prefer_other_session,
                           "single_image_subjects": single_image_subjects,
                           "reference_rule": "earliest regular frontal (fa) image",
                           "image_folders": "data/images/ only (of every DVD)",
                           "skipped": [{"folder": k, "files": n, "reason": GREY_REASON if "gray_feret" in k else
                                        SKIP_REASONS.get(k.rsplit("/", 1)[-1], "not data/images")}
                                       for k, n in sorted(skipped.items())]})
    for subject, references, images, why in alone:
        ds.keep_reference_only(subject, references, images, single_image_subjects, why)
    return ds


def _scan(root: Path) -> tuple[dict, list, dict]:
    """({subject: [(date, pose, flag, rel, path)]}, files ignored with why, {folder: files skipped})."""
    ignored, by_subject, skipped = [], {}, {}
    inside_images = _under_images(root.resolve().parts)
    for f in sorted(root.rglob("*")):
        if not f.is_file():
            continue
        rel = f.relative_to(root).as_posix()
        parts = f.relative_to(root).parts
        if (not inside_images and not _under_images(parts[:-1])) or any(p.startswith("gray_feret") for p in parts):
            folder = _top_folder(parts)
            skipped[folder] = skipped.get(folder, 0) + 1
            continue
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
    return by_subject, ignored, skipped


def _choose(items: list, reference_pose: str, probe_poses, prefer_other_session: bool) -> tuple[list, str]:
    """([reference, probe, ...], "") for one subject, or ([] or [reference] when it has no probe, why the subject
    is excluded)."""
    items.sort(key=lambda t: (t[0], t[2], t[3]))  # date, unflagged first, path
    regular = [t for t in items if t[1] == reference_pose]
    if not regular:
        return [], f"no regular frontal image (pose {reference_pose})"
    ref = regular[0]
    frontal = [t for t in items if t[1] in probe_poses and t is not ref]
    other = [t for t in frontal if t[0] != ref[0]]
    chosen = other if (prefer_other_session and other) else frontal
    if not chosen:
        return [ref], "no frontal probe image"
    return [ref, *chosen], ""


def _sample(t, ref, subject: str, role: str, truth: dict | None = None) -> Sample:
    when, pose, flag, rel, f = t
    meta = (("date", when.strftime("%Y-%m-%d")), ("pose", pose), ("flag", flag),
            ("session_gap_days", str((when - ref[0]).days)), ("same_session", str(when == ref[0]).lower()),
            *sorted((truth or {}).get(subject, {}).items()))
    return Sample(path=f.resolve(), rel=rel, subject=subject, role=role, meta=meta)


#: the subject-level fields of the DVDs' ground truths (``data/ground_truths/name_value/<subject>/*.txt``,
#: ``name=value`` lines), kept in every sample's metadata: groups for report.differentials
TRUTH_FIELDS = ("gender", "race", "yob")


def ground_truth(root: Path) -> dict:
    """{subject: {field: value}} of :data:`TRUTH_FIELDS` from the ground-truth files (the first value a subject's
    files give; the files of one subject agree on the DVDs)."""
    out: dict = {}
    for f in sorted(root.rglob("name_value/*/*.txt")):
        if "ground_truths" not in f.parts:
            continue
        try:
            lines = f.read_text(encoding="latin-1").splitlines()
        except OSError:
            continue
        fields = out.setdefault(f.parent.name, {})
        for line in lines:
            k, sep, v = line.partition("=")
            if sep and k.strip() in TRUTH_FIELDS and v.strip() and k.strip() not in fields:
                fields[k.strip()] = v.strip()
    return {k: v for k, v in out.items() if v}


SKIP_REASONS = {"smaller": "downscaled copies of data/images under the same names",
                "thumbnails": "thumbnail copies of data/images under the same names",
                "ground_truths": "ground-truth files, not images"}
GREY_REASON = "the greyscale FERET release (another collection, other file names)"


def _under_images(parts) -> bool:
    """Whether a path's folders include ``data/images``."""
    return any(a == "data" and b == "images" for a, b in zip(parts, parts[1:]))


def _top_folder(parts) -> str:
    """The folder a skipped file is counted under: ``dvd1/data/smaller``, ``dvd2/gray_feret_cd1``, ..."""
    folders = parts[:-1]
    grey = [i for i, p in enumerate(folders) if p.startswith("gray_feret")]
    if grey:
        return "/".join(folders[:grey[0] + 1])
    if "data" in folders:
        i = folders.index("data")
        return "/".join(folders[:i + 2])
    return "/".join(folders[:2]) or "(root)"
