"""A CSV manifest: ``path,subject,role`` and any other columns, kept as metadata.

The most general way to bring a dataset: one row per image, ``role`` = ``reference`` or
``probe``, optional ``session`` and ``condition`` and any further columns (kept on each sample,
for breakdowns). Relative paths resolve against ``root`` when given, else the manifest's folder.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, FrEvalError
from .base import Dataset, Sample, read_csv_rows

REQUIRED = ("path", "subject", "role")
ROLES = ("reference", "probe")


def problems_message(problems: list[dict], first: int = 5) -> str:
    kinds: dict[str, int] = {}
    for p in problems:
        kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
    counts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    examples = "; ".join(f"{p['where']}: {p['detail']}" for p in problems[:first])
    return f"{len(problems)} problem(s) ({counts}); first: {examples}"


def outside(full: Path, base: Path) -> bool:
    """Whether ``full`` lies outside the folder ``base``, by its written path (``..`` resolved, links
    inside ``base`` not followed: a link the user put in their own folder is theirs)."""
    b, f = os.path.normpath(os.path.abspath(base)), os.path.normpath(os.path.abspath(full))
    return os.path.commonpath([b, f]) != b


def resolve_row_path(value: str, base: Path, seen: dict, line: int, where: str,
                     problems: list, allow_outside: bool = False, key: str = "allow_outside") -> tuple[Path, str] | None:
    """A manifest row's file, absolute or relative to ``base``, as (resolved path, path relative
    to ``base``). A path seen on an earlier line, a missing file, or (unless ``allow_outside``) a
    path outside ``base`` (``../../etc/passwd``, ``/etc/passwd``) is recorded in ``problems`` (and None
    returned, the file never opened); ``seen`` maps resolved paths to their first line."""
    p = Path(value).expanduser()
    full = p if p.is_absolute() else base / p
    if not allow_outside and outside(full, base):
        problems.append({"kind": "path outside the manifest's folder", "where": where,
                         "detail": f"{value} lies outside {base} (never opened; {key}=true allows it)"})
        return None
    key = str(full.resolve())
    if key in seen:
        problems.append({"kind": "duplicate path", "where": where, "detail": f"{value} already on line {seen[key]}"})
        return None
    seen[key] = line
    if not full.is_file():
        problems.append({"kind": "missing file", "where": where, "detail": str(full)})
        return None
    return full.resolve(), relative_to(full, base, value)


def row_file(row: dict, base: Path, seen: dict, line: int, where: str, problems: list,
             extra: list[str], allow_outside: bool = False, key: str = "allow_outside") -> tuple[Path, str, tuple] | None:
    """A manifest row's (resolved path, relative path, metadata pairs of the ``extra`` columns), or
    None with the problem recorded (see :func:`resolve_row_path`)."""
    found = resolve_row_path(row["path"], base, seen, line, where, problems, allow_outside, key)
    if found is None:
        return None
    return (*found, tuple((c, row.get(c, "")) for c in extra))


def relative_to(full: Path, base: Path, given: str | None = None) -> str:
    """``full`` relative to ``base`` (POSIX separators); outside it, the path as the manifest ``given`` it
    (``..`` and ``.`` steps folded, links not followed: the reports name a file as its user wrote it), else
    its absolute path."""
    try:
        return full.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        if given:
            return Path(os.path.normpath(given)).as_posix()
        return full.resolve().as_posix()


def _samples(raw_rows, mpath: Path, base: Path, extra: list, allow_outside: bool, problems: list) -> list[Sample]:
    """The manifest's rows as samples; a malformed row, an unknown role or a file that cannot be used goes
    to ``problems`` with its line."""
    rows, seen = [], {}
    for line, raw in raw_rows:
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        where = f"{mpath.name}:{line}"
        if None in raw:  # more fields than the header names
            problems.append({"kind": "malformed row", "where": where, "detail": "more fields than columns"})
            continue
        empty = [c for c in REQUIRED if not row.get(c)]
        if empty:
            problems.append({"kind": "malformed row", "where": where, "detail": f"empty {', '.join(empty)}"})
            continue
        role = row["role"].lower()
        if role not in ROLES:
            problems.append({"kind": "unknown role", "where": where,
                             "detail": f"role={row['role']} (use {' or '.join(ROLES)})"})
            continue
        found = row_file(row, base, seen, line, where, problems, extra, allow_outside, "dataset.allow_outside")
        if found is not None:
            full, rel, meta = found
            rows.append(Sample(path=full, rel=rel, subject=row["subject"], role=role, meta=meta))
    return rows


def load_manifest(path: str | Path, *, root: str | Path | None = None, name: str = "manifest",
                  strict: bool = False, allow_outside: bool = False, single_image_subjects: str = "drop") -> Dataset:
    """Read a manifest. Problems (malformed rows, unknown roles, missing files, duplicate
    paths, subjects with probes but no reference) are collected: ``strict=True`` stops with
    all of them counted; otherwise the items are skipped and listed in ``Dataset.problems``.
    Subjects with references and no probe are excluded, or kept as references only
    (``single_image_subjects="impostor"``, :attr:`Dataset.reference_only`)."""
    mpath = Path(path).expanduser()
    if not mpath.is_file():
        raise FrEvalError(f"dataset.path={mpath} is not a file (a CSV with columns {', '.join(REQUIRED)})")
    base = (Path(root).expanduser() if root else mpath.parent).absolute()  # named whole in every problem
    problems: list[dict] = []
    header, raw_rows = read_csv_rows(mpath, "dataset.path")
    missing_cols = [c for c in REQUIRED if c not in header]
    if missing_cols:
        raise ConfigError(f"{mpath}: missing column(s) {', '.join(missing_cols)}; the header must have "
                          f"{', '.join(REQUIRED)} (found: {', '.join(header) or 'nothing'})")
    extra = [h for h in header if h not in REQUIRED]
    rows = _samples(raw_rows, mpath, base, extra, allow_outside, problems)
    with_ref = {s.subject for s in rows if s.role == "reference"}
    for s in rows:
        if s.role == "probe" and s.subject not in with_ref:
            problems.append({"kind": "probe without reference", "where": s.rel,
                             "detail": f"subject {s.subject} has no reference"})
    if strict and problems:
        raise FrEvalError(f"{mpath}: {problems_message(problems)} (dataset.strict=false skips and lists them)")
    with_probe = {s.subject for s in rows if s.role == "probe" and s.subject in with_ref}
    refs = [s for s in rows if s.role == "reference" and s.subject in with_probe]
    probes = [s for s in rows if s.role == "probe" and s.subject in with_ref]
    excluded = [{"subject": subj, "images": sum(1 for s in rows if s.subject == subj), "reason": "no reference"}
                for subj in sorted({s.subject for s in rows} - with_ref)]
    if not refs:
        raise FrEvalError(f"{mpath}: no subject has both a reference and a probe"
                          + (f" ({problems_message(problems)})" if problems else ""))
    ds = Dataset(name=name, root=base.resolve(), references=refs, probes=probes, excluded=excluded,
                 problems=problems,
                 settings={"type": "manifest", "path": str(mpath.resolve()), "strict": strict,
                           "metadata_columns": extra, "single_image_subjects": single_image_subjects})
    ds.keep_reference_only_samples([s for s in rows if s.subject in with_ref - with_probe], single_image_subjects,
                                   "no probe")
    return ds
