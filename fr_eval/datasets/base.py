"""The structure every dataset yields: subjects -> reference and probe samples."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FrEvalError

#: File extensions read as images by the folder-style loaders.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp",
                    ".gif")


@dataclass(frozen=True)
class Sample:
    """One stored image with its role in the protocol."""

    path: Path  # absolute path
    rel: str  # path relative to the dataset root (POSIX separators); mirrors precomputed dirs
    subject: str
    role: str  # "reference" or "probe"
    meta: tuple = ()  # extra (key, value) pairs, e.g. session, condition

    @property
    def id(self) -> str:
        return self.rel


@dataclass(frozen=True)
class ProtocolPair:
    """A comparison a protocol prescribes (LFW's pairs.txt): two images by ``rel`` path."""

    rel1: str  # compared as the reference side
    rel2: str  # compared as the probe side
    same: bool  # matched (same person) or mismatched pair
    fold: int
    origin: str = "protocol"  # "protocol", or "filled" for mismatched pairs fr-eval added (not the protocol's)


@dataclass
class Dataset:
    name: str
    root: Path
    references: list[Sample]
    probes: list[Sample]
    #: subjects left out of the protocol, with the reason and how many images they had
    excluded: list[dict] = field(default_factory=list)
    #: files seen but not used (wrong extension, ...), with the reason
    ignored: list[dict] = field(default_factory=list)
    #: problems found in the input (missing files, bad rows...): each {kind, where, detail}
    problems: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    #: explicit comparisons (pairs protocols); None: every reference x every probe
    pairs: list[ProtocolPair] | None = None
    #: subjects kept with references and no probe (``dataset.single_image_subjects=impostor``): impostor-only
    #: references in verification, gallery entries in identification; never in a genuine attempt
    reference_only: set = field(default_factory=set)

    def keep_reference_only(self, subject: str, references: list, images: int, policy: str, why: str) -> None:
        """A subject with references and no probe: kept as references only (``policy`` impostor) or excluded
        with ``why`` (drop)."""
        if policy == "impostor" and references:
            self.references += references
            self.reference_only.add(subject)
        else:
            self.excluded.append({"subject": subject, "images": images,
                                  "reason": f"{why} (dataset.single_image_subjects=drop)"})

    def keep_reference_only_samples(self, references: list, policy: str, why: str) -> None:
        """:meth:`keep_reference_only` for each subject of ``references`` (samples of subjects with no probe)."""
        by_subject: dict = {}
        for s in references:
            by_subject.setdefault(s.subject, []).append(s)
        for subject in sorted(by_subject):
            mine = by_subject[subject]
            self.keep_reference_only(subject, mine, len(mine), policy, why)

    def reference_mask(self) -> np.ndarray:
        """Per reference: whether its subject has probes (False for :attr:`reference_only` subjects)."""
        return np.array([s.subject not in self.reference_only for s in self.references], dtype=bool)

    @property
    def subjects(self) -> list[str]:
        return sorted({s.subject for s in self.references} | {s.subject for s in self.probes})

    def summary(self) -> dict:
        return {
            "name": self.name,
            "root": str(self.root),
            "subjects": len(self.subjects),
            "references": len(self.references),
            "probes": len(self.probes),
            "excluded_subjects": len(self.excluded),
            "ignored_files": len(self.ignored),
            "problems": len(self.problems),
            **({"reference_only_subjects": len(self.reference_only)} if self.reference_only else {}),
            **({} if self.pairs is None else {"pairs": len(self.pairs)}),
        }

    def restrict_subjects(self, keep: set[str]) -> None:
        """Keep only these subjects' samples (and pairs whose two images are both kept)."""
        self.references = [s for s in self.references if s.subject in keep]
        self.probes = [s for s in self.probes if s.subject in keep]
        self.reference_only &= {s.subject for s in self.references}
        if self.pairs is not None:
            rels = {s.rel for s in self.references} | {s.rel for s in self.probes}
            self.pairs = [p for p in self.pairs if p.rel1 in rels and p.rel2 in rels]


def read_text(path: str | Path, what: str) -> str:
    """A text file's content as UTF-8 (a BOM is dropped); a binary file or another encoding is a
    one-line :class:`~fr_eval.errors.FrEvalError` naming the file and the first offending byte."""
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise FrEvalError(f"{what}={path} cannot be read: {exc.strerror or exc}") from exc
    if b"\0" in data[:65536]:
        raise FrEvalError(f"{what}={path} is not a text file (it holds NUL bytes: binary data?)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FrEvalError(f"{what}={path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                          f"save it as UTF-8") from exc


def read_csv_rows(path: str | Path, what: str, text: str | None = None):
    """(header, [(line number, row dict)]) of a UTF-8 CSV file (``text``: its content, already read): the one
    CSV reader of every file fr-eval takes (score, candidate, attribute, manifest files).

    Header names are stripped of surrounding spaces, in the header and in every row's keys alike (many tools
    write ``", "`` between cells: ``row,kind, score`` names the column ``score``); a name given twice after
    that is a one-line error. A row with more cells than the header keeps the extra ones under the key
    ``None`` (as :class:`csv.DictReader` does), a shorter one has ``None`` for the missing cells; blank lines
    are skipped. Malformed CSV is a one-line error."""
    reader = csv.reader(io.StringIO(read_text(path, what) if text is None else text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        twice = sorted({h for h in header if h and header.count(h) > 1})
        if twice:
            raise FrEvalError(f"{what}={path}: the header names column {twice[0]!r} twice (names are compared "
                              f"without surrounding spaces)")
        rows = []
        for cells in reader:
            if not cells:
                continue
            row = dict(zip(header, cells))
            if len(cells) > len(header):
                row[None] = cells[len(header):]
            for h in header[len(cells):]:
                row[h] = None
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise FrEvalError(f"{what}={path} is not a readable CSV file (line {reader.line_num}: {exc})") from exc
    return header, rows


def stripped_columns(cols: dict, what: str, path) -> dict:
    """A Parquet (or NumPy) file's columns keyed by their names stripped of surrounding spaces, as
    :func:`read_csv_rows` reads a CSV header; a name given twice after that is a one-line error."""
    out = {}
    for k, v in cols.items():
        name = str(k).strip()
        if name in out:
            raise FrEvalError(f"{what}={path}: column {name!r} is given twice (names are compared without "
                              f"surrounding spaces)")
        out[name] = v
    return out


def read_list(path: str | Path, what: str) -> list[str]:
    """A text file of relative paths, one per line (blank lines and ``#`` comments skipped)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FrEvalError(f"{what}={p} is not a file (one relative path per line)")
    out = []
    for line in read_text(p, what).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line.replace("\\", "/"))
    return out
