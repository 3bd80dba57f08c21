"""``<root>/<subject>/<image>``: one folder per identity."""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from ..errors import FrEvalError
from .base import IMAGE_EXTENSIONS, Dataset, Sample, read_list

#: files a folder holds that are never data: macOS AppleDouble (``._name``) and Finder files, other dot files
HIDDEN_REASON = "hidden file (a dot file such as macOS's ._name AppleDouble or .DS_Store), never an image"
#: a folder fr-eval wrote itself: a report (``metrics.json`` beside ``config.yaml``) or a store
OWN_FOLDER_MARKERS = ((("metrics.json", "config.yaml"), "an fr-eval report folder"),
                      (("store.sqlite",), "an fr-eval store"))


def own_folder(path: Path) -> str | None:
    """What fr-eval folder ``path`` is (a report or a store), or None: such folders are never read as data."""
    for names, what in OWN_FOLDER_MARKERS:
        if all((path / n).is_file() for n in names):
            return what
    return None


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


@dataclass(frozen=True)
class _Rules:
    """Which of a subject's images are references and which are probes."""
    references_per_subject: int
    reference_pattern: str | None
    probe_pattern: str | None
    ref_set: set | None
    probe_set: set | None

    def references(self, files):
        """(the chosen references, the reason when there are none)."""
        if self.ref_set is not None:
            return [t for t in files if t[0] in self.ref_set], "not in dataset.reference_list"
        if self.reference_pattern:
            chosen = [t for t in files if fnmatchcase(t[1].name, self.reference_pattern)]
            return chosen[:self.references_per_subject], \
                f"no file name matches dataset.reference_pattern={self.reference_pattern}"
        return files[:self.references_per_subject], ""

    def probe_refusal(self, rel: str, f: Path) -> str | None:
        """Why a non-reference image is not a probe (None when it is one)."""
        if self.probe_set is not None and rel not in self.probe_set:
            return "not a reference and not in dataset.probe_list"
        if self.probe_pattern and not fnmatchcase(f.name, self.probe_pattern):
            return f"not a reference and not matching dataset.probe_pattern={self.probe_pattern}"
        return None


def load_folder(root: str | Path, *, name: str = "folder", references_per_subject: int = 1,
                min_images: int = 2, reference_pattern: str | None = None, probe_pattern: str | None = None,
                reference_list: str | Path | None = None, probe_list: str | Path | None = None,
                extensions=IMAGE_EXTENSIONS, nested: str = "refuse", exclude=(),
                single_image_subjects: str = "drop") -> Dataset:
    """Read a folder-per-identity dataset.

    Each subject's images are sorted by their path. The references are, by the first rule given:

    - ``reference_list``: the images a text file names (relative paths, one per line);
    - ``reference_pattern``: the first ``references_per_subject`` images whose file name matches
      a glob (``*_0001.jpg``; case-sensitive);
    - else the first ``references_per_subject`` images by sorted path.

    The probes are the subject's other images, restricted to those a ``probe_list`` names or
    whose file name matches ``probe_pattern`` when either is given; the rest are listed in
    ``Dataset.ignored`` with the reason. Subjects with fewer than ``min_images`` images or with no
    reference are excluded and listed in ``Dataset.excluded``; so are subjects with no probe (one
    image), unless ``single_image_subjects="impostor"`` keeps them as references only
    (``Dataset.reference_only``); files with no
    image extension are listed in ``Dataset.ignored``; listed paths that do not exist are
    ``Dataset.problems``.

    Never read as data (each listed in ``Dataset.ignored``): hidden files and folders (``._name``
    AppleDouble files, ``.DS_Store``, a staging ``.<run>.partial-*`` folder), the folders in
    ``exclude`` (the run's own report and store folders) and any fr-eval report or store folder.
    A subject folder whose images lie in sub-folders is refused (``nested="refuse"``, with the
    likely right root named: a root one level too high gives folders of subjects as "subjects"),
    unless ``nested="subject"`` (its sub-folders are the subject's sessions). A subject folder that
    is a symbolic link to another subject's folder is read (the same images under two names: see :mod:`fr_eval.datasets.integrity`).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FrEvalError(f"dataset.root={root} is not a directory (give dataset.root=<dir>)")
    rules = _Rules(references_per_subject, reference_pattern, probe_pattern,
                   set(read_list(reference_list, "dataset.reference_list")) if reference_list else None,
                   set(read_list(probe_list, "dataset.probe_list")) if probe_list else None)
    exts = tuple(e.lower() for e in extensions)
    ds = Dataset(name=name, root=root.resolve(), references=[], probes=[], excluded=[], ignored=[], problems=[],
                 settings={})
    seen: set[str] = set()
    subject_dirs = _subject_dirs(root, ds, {Path(e).expanduser().resolve() for e in exclude})
    if nested == "refuse":
        _refuse_nested(root, subject_dirs, exts)
    ds.ignored += [{"path": p.name, "reason": HIDDEN_REASON if p.name.startswith(".") else
                    "file at the top level (not in a subject folder)"} for p in sorted(root.iterdir()) if p.is_file()]
    for sdir in subject_dirs:
        files = _subject_files(sdir, root, exts, ds, seen)
        _add_subject(ds, sdir.name, files, rules, min_images, single_image_subjects)
    ds.problems += [{"kind": "missing file", "where": what, "detail": f"{rel} is not an image under {root}"}
                    for what, listed in (("dataset.reference_list", rules.ref_set),
                                         ("dataset.probe_list", rules.probe_set))
                    for rel in sorted(listed or ()) if rel not in seen]
    if not ds.probes:
        ex = ds.excluded
        raise FrEvalError(f"dataset.root={root}: no subject folder has a reference and a probe "
                          f"({len(subject_dirs)} folders, {len(ex)} excluded"
                          + (f"; first: {ex[0]['subject']}: {ex[0]['reason']}" if ex else "") + ")")
    ds.settings.update({"type": "folder", "references_per_subject": references_per_subject,
                        "min_images": min_images, "nested": nested,
                        "single_image_subjects": single_image_subjects, **_rule_texts(rules, reference_list, probe_list)})
    return ds


def _subject_dirs(root: Path, ds: Dataset, exclude: set) -> list[Path]:
    """The subject folders under ``root``; hidden folders, the run's own folders (``exclude``) and fr-eval
    report and store folders are listed in ``ds.ignored``, never read. (A symbolic link to another
    subject's folder is read: its images are the same content under two names, which the duplicate
    check of :mod:`fr_eval.datasets.integrity` finds and names.)"""
    dirs = []
    for p in sorted(q for q in root.iterdir() if q.is_dir()):
        why = ("hidden folder" if p.name.startswith(".") else
               "this run's own report or store folder" if p.resolve() in exclude else own_folder(p))
        if why:
            ds.ignored.append({"path": p.name + "/", "reason": f"{why}, never read as data"})
            continue
        dirs.append(p)
    return dirs


def _refuse_nested(root: Path, subject_dirs: list[Path], exts) -> None:
    """One line when a subject folder holds its images in sub-folders: the root is likely one level too
    high (its folders are folders of subjects), or the subjects have session folders (dataset.nested=subject)."""
    for sdir in subject_dirs:
        subs = sorted(d for d in sdir.iterdir() if d.is_dir() and not d.name.startswith(".") and
                      any(f.suffix.lower() in exts and f.is_file() for f in d.rglob("*")))
        if not subs:
            continue
        direct = sum(1 for f in sdir.iterdir() if f.is_file() and f.suffix.lower() in exts)
        where = f"dataset.root={root}: the folder {sdir.name} holds images in {len(subs)} sub-folder(s) ({subs[0].name}/...)"
        if not direct and len(subs) > 1:
            raise FrEvalError(f"{where}: the root looks one level too high; give dataset.root={sdir} (its sub-folders "
                              f"look like subjects), or dataset.nested=subject if they are one subject's sessions")
        raise FrEvalError(f"{where}; give dataset.nested=subject if a subject's sub-folders hold its own images "
                          f"(sessions), else move them out")


def _subject_files(sdir: Path, root: Path, exts, ds: Dataset, seen: set) -> list[tuple[str, Path]]:
    """The subject's image files (relative path, path), sorted; other entries go to ``ds.ignored`` or,
    when they are named like images but unusable, ``ds.problems``."""
    files = []
    for f in sorted(sdir.rglob("*")):
        if any(part.startswith(".") for part in f.relative_to(sdir).parts):
            if f.is_file():
                ds.ignored.append({"path": f.relative_to(root).as_posix(), "reason": HIDDEN_REASON})
            continue
        if not f.is_file():
            trouble = unusable_entry(f, exts)
            if trouble:
                ds.problems.append({"kind": trouble, "where": sdir.name, "detail": f.relative_to(root).as_posix()})
            continue
        rel = f.relative_to(root).as_posix()
        if f.suffix.lower() in exts:
            files.append((rel, f))
            seen.add(rel)
        else:
            ds.ignored.append({"path": rel, "reason": f"extension {f.suffix or '(none)'} is not an image type"})
    return files


def _add_subject(ds: Dataset, subject: str, files, rules: _Rules, min_images: int, single: str) -> None:
    """The subject's references and probes into ``ds``, or the subject into ``ds.excluded`` with why."""
    if len(files) < min_images:
        ds.excluded.append({"subject": subject, "images": len(files),
                            "reason": f"fewer than {min_images} images (dataset.min_images)"})
        return
    chosen, why = rules.references(files)
    if not chosen:
        ds.excluded.append({"subject": subject, "images": len(files), "reason": f"no reference: {why}"})
        return
    chosen_rels, probes = {t[0] for t in chosen}, []
    for rel, f in files:
        if rel in chosen_rels:
            continue
        refusal = rules.probe_refusal(rel, f)
        if refusal:
            ds.ignored.append({"path": rel, "reason": refusal})
        else:
            probes.append((rel, f))
    refs = [Sample(path=f.resolve(), rel=rel, subject=subject, role="reference") for rel, f in chosen]
    if not probes:
        ds.keep_reference_only(subject, refs, len(files), single, f"no probe left after {len(chosen)} reference(s)")
        return
    ds.references += refs
    ds.probes += [Sample(path=f.resolve(), rel=rel, subject=subject, role="probe") for rel, f in probes]


def _rule_texts(rules: _Rules, reference_list, probe_list) -> dict:
    if rules.ref_set is not None:
        reference_rule = f"listed in {reference_list}"
    elif rules.reference_pattern:
        reference_rule = f"first {rules.references_per_subject} matching {rules.reference_pattern} by sorted path"
    else:
        reference_rule = f"first {rules.references_per_subject} by sorted path"
    probe_rule = (f"listed in {probe_list}" if rules.probe_set is not None else
                  f"the others matching {rules.probe_pattern}" if rules.probe_pattern else "all the others")
    return {"reference_rule": reference_rule, "probe_rule": probe_rule}
