"""A manifest of generated images for the identity-preservation audit.

One row per image: ``path,identity,method`` and optionally ``role`` (``generated``, the default,
or ``reference`` for an enrolment photo of the identity), ``prompt``, ``category``, ``seed``,
``target`` (the path of a ground-truth frame, for reenactment models) and any further columns,
kept as metadata. Relative paths (``target`` too) resolve against ``root`` when given, else the
manifest's folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, FrEvalError
from ..video import is_video
from .base import Sample, read_csv_rows
from .manifest import outside, problems_message, relative_to, row_file

REQUIRED = ("path", "identity")
ROLES = ("generated", "reference")
#: columns that link a generated image to the photos it was made from (the copy rate needs one)
LINKS = ("group", "source_reference")
#: a file beside the manifest that may hold those columns, joined on ``path`` (../shared's layout)
DETAILS = "{stem}_details.csv"


@dataclass
class GeneratedSet:
    generated: list[Sample]  # role "generated"; meta holds method, prompt, category, ... as given
    references: list[Sample]  # role "reference" rows of the manifest (enrolment photos)
    targets: dict[str, Sample]  # generated rel -> its target frame (role "target")
    problems: list[dict] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    root: Path | None = None
    path: Path | None = None
    details: str = ""  # where link columns the manifest lacks were read from (manifest_details.csv), if anywhere
    set_aside_references: list = field(default_factory=list)  # the problems of role=reference rows not enrolled


def _target(row: dict, base: Path, allow_outside: bool, where: str, problems: list) -> Sample | None:
    """A row's target frame (talking heads: the frame it should match), or None with the problem listed."""
    t = Path(row["target"]).expanduser()
    t = t if t.is_absolute() else base / t
    if not allow_outside and outside(t, base):
        problems.append({"kind": "path outside the manifest's folder", "where": where,
                         "detail": f"target {row['target']} lies outside {base} (never opened; "
                                   f"generated.allow_outside=true allows it)"})
        return None
    if not t.is_file():
        problems.append({"kind": "missing target", "where": where, "detail": str(t)})
        return None
    return Sample(path=t.resolve(), rel=relative_to(t, base, row["target"]), subject=row["identity"], role="target")


def load_generated_manifest(path: str | Path, *, root: str | Path | None = None, strict: bool = False,
                            allow_outside: bool = False) -> GeneratedSet:
    """Read the manifest; problems (bad rows, unknown roles, missing files or targets, duplicate
    paths, paths outside the root unless ``allow_outside``) are collected: ``strict`` stops with all
    of them counted, otherwise the rows are skipped and listed in ``GeneratedSet.problems``."""
    mpath = Path(path).expanduser()
    if not mpath.is_file():
        raise FrEvalError(f"generated.manifest={mpath} is not a file (a CSV with columns path,identity,method)")
    base = (Path(root).expanduser() if root else mpath.parent).absolute()  # named whole in every problem
    problems, generated, references, targets, seen, set_aside = [], [], [], {}, {}, []
    header, raw_rows = read_csv_rows(mpath, "generated.manifest")
    missing = [c for c in (*REQUIRED, "method") if c not in header]
    if missing:
        raise ConfigError(f"{mpath}: missing column(s) {', '.join(missing)}; the header must have "
                          f"path,identity,method (found: {', '.join(header) or 'nothing'})")
    extra = [h for h in header if h not in ("path", "identity", "role")]
    links, details = _details_links(mpath, header)
    if links:
        extra += [c for c in LINKS if c in next(iter(links.values()), {}) and c not in extra]
    for line, raw in raw_rows:
        where = f"{mpath.name}:{line}"
        row, role, problem = _checked_row(raw, links, where)
        if problem:
            problems.append(problem)
            continue
        before = len(problems)
        found = row_file(row, base, seen, line, where, problems, extra, allow_outside, "generated.allow_outside")
        if found is None:
            if role == "reference":
                set_aside += problems[before:]
            continue
        full, rel, meta = found
        if role == "reference" and is_video(full):
            problems.append(_video_reference(rel, where))
            set_aside.append(problems[-1])
            continue
        if role == "reference":
            references.append(Sample(path=full, rel=rel, subject=row["identity"], role="reference",
                                     meta=meta))
            continue
        if row.get("target"):
            target = _target(row, base, allow_outside, where, problems)
            if target is None:
                continue
            targets[rel] = target
        generated.append(Sample(path=full, rel=rel, subject=row["identity"], role="generated",
                                meta=meta))
    if strict and problems:
        raise FrEvalError(f"{mpath}: {problems_message(problems)} (generated.strict=false skips and lists them)")
    if not generated:
        raise FrEvalError(f"{mpath}: no generated image to audit"
                          + (f" ({problems_message(problems)})" if problems else ""))
    return GeneratedSet(generated=generated, references=references, targets=targets, problems=problems,
                        columns=extra, root=base.resolve(), path=mpath.resolve(), details=details,
                        set_aside_references=set_aside)


def _checked_row(raw: dict, links: dict, where: str) -> tuple[dict, str, dict | None]:
    """(row, role, None) of a manifest line (link columns from the details file joined), or the problem that
    sets it aside."""
    if None in raw:
        return {}, "", {"kind": "malformed row", "where": where, "detail": "more fields than columns"}
    row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
    row = {**links.get(row.get("path", ""), {}), **row}
    role = (row.get("role") or "generated").lower()
    if role not in ROLES:
        return row, role, {"kind": "unknown role", "where": where,
                           "detail": f"role={row.get('role')} (use {' or '.join(ROLES)})"}
    empty = [c for c in (REQUIRED if role == "reference" else (*REQUIRED, "method")) if not row.get(c)]
    if empty:
        return row, role, {"kind": "malformed row", "where": where, "detail": f"empty {', '.join(empty)}"}
    return row, role, None


def _video_reference(rel: str, where: str) -> dict:
    return {"kind": "video as reference", "where": where,
            "detail": f"{rel} is a video: references are enrolled from still photos (a video's frames are read only "
                      f"as generated rows); give frames as images with role=reference"}


def _details_links(mpath: Path, header: list[str]) -> tuple[dict, str]:
    """When the manifest has no link column (:data:`LINKS`) and ``<stem>_details.csv`` beside it has one:
    path -> {link column: value} from that file, and its name; else ({}, "")."""
    if any(c in header for c in LINKS):
        return {}, ""
    d = mpath.with_name(DETAILS.format(stem=mpath.stem))
    if not d.is_file():
        return {}, ""
    dheader, rows = read_csv_rows(d, "generated.manifest details")
    cols = [c for c in LINKS if c in dheader]
    if "path" not in dheader or not cols:
        return {}, ""
    return {(r.get("path") or "").strip(): {c: (r.get(c) or "").strip() for c in cols} for _, r in rows}, d.name
