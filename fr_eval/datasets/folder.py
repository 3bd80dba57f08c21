"""``<root>/<subject>/<image>``: one folder per identity."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, FrEvalError
from .base import IMAGE_EXTENSIONS, Dataset, Sample


def load_folder(root: str | Path, *, name: str = "folder", references_per_subject: int = 1,
                min_images: int = 2, extensions=IMAGE_EXTENSIONS) -> Dataset:
    """Read a folder-per-identity dataset.

    Each subject's images are sorted by file name; the first ``references_per_subject``
    are references, the rest probes. Subjects with fewer than ``min_images`` images, or
    with no probe left, are excluded and listed in ``Dataset.excluded`` with the reason.
    Files whose extension is not an image extension are listed in ``Dataset.ignored``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FrEvalError(f"dataset.root={root} is not a directory (give dataset.root=<dir>)")
    if references_per_subject < 1:
        raise ConfigError("dataset.references_per_subject must be >= 1")
    exts = tuple(e.lower() for e in extensions)
    refs: list[Sample] = []
    probes: list[Sample] = []
    excluded: list[dict] = []
    ignored: list[dict] = []
    subject_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    for p in sorted(root.iterdir()):
        if p.is_file():
            ignored.append({"path": p.name, "reason": "file at the top level (not in a subject folder)"})
    for sdir in subject_dirs:
        files = []
        for f in sorted(sdir.rglob("*")):
            if not f.is_file():
                continue
            rel = f.relative_to(root).as_posix()
            if f.suffix.lower() in exts:
                files.append((rel, f))
            else:
                ignored.append({"path": rel, "reason": f"extension {f.suffix or '(none)'} is not an image type"})
        subject = sdir.name
        need = max(min_images, references_per_subject + 1)
        if len(files) < need:
            excluded.append({"subject": subject, "images": len(files),
                             "reason": f"fewer than {need} images (needs {references_per_subject} "
                                       f"reference(s) and at least one probe)"})
            continue
        for i, (rel, f) in enumerate(files):
            role = "reference" if i < references_per_subject else "probe"
            (refs if role == "reference" else probes).append(
                Sample(path=f.resolve(), rel=rel, subject=subject, role=role))
    if not refs:
        raise FrEvalError(f"dataset.root={root}: no subject folder has enough images "
                          f"({len(subject_dirs)} folders, {len(excluded)} excluded)")
    return Dataset(name=name, root=root.resolve(), references=refs, probes=probes,
                   excluded=excluded, ignored=ignored,
                   settings={"type": "folder", "references_per_subject": references_per_subject,
                             "min_images": min_images, "reference_rule": "first by sorted file name"})
