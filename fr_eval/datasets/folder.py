"""``<root>/<subject>/<image>``: one folder per identity."""
from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from ..errors import ConfigError, FrEvalError
from .base import IMAGE_EXTENSIONS, Dataset, Sample, read_list


def unusable_entry(path: Path, exts) -> str | None:
    """Why a path that is not a regular file but is named like an image cannot be used (None when
    it is an ordinary folder or another kind of file)."""
    if path.is_symlink() and not path.exists():
        return "dangling symbolic link"
    if path.is_dir() and path.suffix.lower() in exts:
        return "folder named like an image"
    if path.exists() and not path.is_dir() and path.suffix.lower() in exts:
        return "not a regular file"
    return None


def load_folder(root: str | Path, *, name: str = "folder", references_per_subject: int = 1,
                min_images: int = 2, reference_pattern: str | None = None, probe_pattern: str | None = None,
                reference_list: str | Path | None = None, probe_list: str | Path | None = None,
                extensions=IMAGE_EXTENSIONS) -> Dataset:
    """Read a folder-per-identity dataset.

    Each subject's images are sorted by their path. The references are, by the first rule given:

    - ``reference_list``: the images a text file names (relative paths, one per line);
    - ``reference_pattern``: the first ``references_per_subject`` images whose file name matches
      a glob (``*_0001.jpg``; case-sensitive);
    - else the first ``references_per_subject`` images by sorted path.

    The probes are the subject's other images, restricted to those a ``probe_list`` names or
    whose file name matches ``probe_pattern`` when either is given; the rest are listed in
    ``Dataset.ignored`` with the reason. Subjects with fewer than ``min_images`` images, with no
    reference or with no probe are excluded and listed in ``Dataset.excluded``; files with no
    image extension are listed in ``Dataset.ignored``; listed paths that do not exist are
    ``Dataset.problems``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FrEvalError(f"dataset.root={root} is not a directory (give dataset.root=<dir>)")
    if references_per_subject < 1:
        raise ConfigError("dataset.references_per_subject must be >= 1")
    exts = tuple(e.lower() for e in extensions)
    ref_set = set(read_list(reference_list, "dataset.reference_list")) if reference_list else None
    probe_set = set(read_list(probe_list, "dataset.probe_list")) if probe_list else None
    refs: list[Sample] = []
    probes: list[Sample] = []
    excluded: list[dict] = []
    ignored: list[dict] = []
    seen: set[str] = set()
    subject_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    for p in sorted(root.iterdir()):
        if p.is_file():
            ignored.append({"path": p.name, "reason": "file at the top level (not in a subject folder)"})
    problems: list[dict] = []
    for sdir in subject_dirs:
        files = []
        for f in sorted(sdir.rglob("*")):
            if not f.is_file():
                trouble = unusable_entry(f, exts)
                if trouble:
                    problems.append({"kind": trouble, "where": sdir.name, "detail": f.relative_to(root).as_posix()})
                continue
            rel = f.relative_to(root).as_posix()
            if f.suffix.lower() in exts:
                files.append((rel, f))
                seen.add(rel)
            else:
                ignored.append({"path": rel, "reason": f"extension {f.suffix or '(none)'} is not an image type"})
        subject = sdir.name
        if len(files) < min_images:
            excluded.append({"subject": subject, "images": len(files),
                             "reason": f"fewer than {min_images} images (dataset.min_images)"})
            continue
        if ref_set is not None:
            chosen = [t for t in files if t[0] in ref_set]
            rule = "not in dataset.reference_list"
        elif reference_pattern:
            chosen = [t for t in files if fnmatchcase(t[1].name, reference_pattern)][:references_per_subject]
            rule = f"no file name matches dataset.reference_pattern={reference_pattern}"
        else:
            chosen = files[:references_per_subject]
            rule = ""
        if not chosen:
            excluded.append({"subject": subject, "images": len(files), "reason": f"no reference: {rule}"})
            continue
        chosen_rels = {t[0] for t in chosen}
        rest, subject_probes = [t for t in files if t[0] not in chosen_rels], []
        for rel, f in rest:
            if probe_set is not None and rel not in probe_set:
                ignored.append({"path": rel, "reason": "not a reference and not in dataset.probe_list"})
            elif probe_pattern and not fnmatchcase(f.name, probe_pattern):
                ignored.append({"path": rel, "reason": f"not a reference and not matching "
                                                       f"dataset.probe_pattern={probe_pattern}"})
            else:
                subject_probes.append((rel, f))
        if not subject_probes:
            excluded.append({"subject": subject, "images": len(files),
                             "reason": f"no probe left after {len(chosen)} reference(s)"})
            continue
        refs += [Sample(path=f.resolve(), rel=rel, subject=subject, role="reference") for rel, f in chosen]
        probes += [Sample(path=f.resolve(), rel=rel, subject=subject, role="probe") for rel, f in subject_probes]
    problems += [{"kind": "missing file", "where": what, "detail": f"{rel} is not an image under {root}"}
                 for what, listed in (("dataset.reference_list", ref_set), ("dataset.probe_list", probe_set))
                 for rel in sorted(listed or ()) if rel not in seen]
    if not refs:
        raise FrEvalError(f"dataset.root={root}: no subject folder has a reference and a probe "
                          f"({len(subject_dirs)} folders, {len(excluded)} excluded"
                          + (f"; first: {excluded[0]['subject']}: {excluded[0]['reason']}" if excluded else "") + ")")
    if ref_set is not None:
        reference_rule = f"listed in {reference_list}"
    elif reference_pattern:
        reference_rule = f"first {references_per_subject} matching {reference_pattern} by sorted path"
    else:
        reference_rule = f"first {references_per_subject} by sorted path"
    probe_rule = (f"listed in {probe_list}" if probe_set is not None else
                  f"the others matching {probe_pattern}" if probe_pattern else "all the others")
    return Dataset(name=name, root=root.resolve(), references=refs, probes=probes,
                   excluded=excluded, ignored=ignored, problems=problems,
                   settings={"type": "folder", "references_per_subject": references_per_subject,
                             "min_images": min_images, "reference_rule": reference_rule,
                             "probe_rule": probe_rule})
