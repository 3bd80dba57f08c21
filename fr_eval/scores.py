"""Comparison scores in and out: fr-eval's own table (CSV.gz, Parquet) and the score files of
bob.measure (4 and 5 columns) and pyeer (one file of genuine, one of impostor scores).

A :class:`ScoreTable` holds one comparison per entry: the Table 3 row it belongs to, genuine or
impostor, the two samples' ids and subjects, and the score (NaN: no score, e.g. a sample that
failed to acquire). Formats:

- ``csv`` (``.csv`` or ``.csv.gz``) and ``parquet``: columns ``row, kind, reference, probe,
  reference_subject, probe_subject, score`` (``kind`` = ``genuine`` | ``impostor``).
- ``bob4``: ``claimed_id real_id test_label score`` per line (bob.measure's four-column format:
  the reference's subject, the probe's subject, the probe's id); genuine where the two ids are equal.
- ``bob5``: ``claimed_id model_label real_id test_label score`` (the reference's id as model label).
- ``pyeer``: two files, one score per line: genuine, then impostor.

bob files name one row each (their file stem); ids may not hold whitespace there, so it is written
as ``_``. Distances (``score_kind=distance``) are turned into similarities by negation when read,
and every threshold reported for them is turned back (match if distance <= threshold).
"""
from __future__ import annotations

import contextlib
import functools
import csv
import gzip
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .datasets.base import read_csv_rows, read_text, stripped_columns
from .errors import FrEvalError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """``value`` made safe for a spreadsheet: text starting like a formula gets a leading ``'``.
    Numbers, and text that reads as a number (``-0.25``), are left as they are."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


FORMATS = ("csv", "parquet", "bob4", "bob5", "pyeer")
SCORE_KINDS = ("similarity", "distance")
COLUMNS = ("row", "kind", "reference", "probe", "reference_subject", "probe_subject", "score")
#: the ScoreTable's fields (``kind`` is held as the boolean ``genuine``)
FIELDS = ("row", "genuine", "reference", "probe", "reference_subject", "probe_subject", "score")


@dataclass(frozen=True)
class ScoreTable:
    row: np.ndarray  # (n,) str: the Table 3 row label
    genuine: np.ndarray  # (n,) bool
    reference: np.ndarray  # (n,) str ids
    probe: np.ndarray
    reference_subject: np.ndarray
    probe_subject: np.ndarray
    score: np.ndarray  # (n,) float64 similarities; NaN where there is no score
    #: the files' group columns (``reference_<name>``, ``probe_<name>``): name -> {subject: value}; a property of
    #: the subjects, not of the rows, so it travels unchanged through select() and merges in concat()
    groups: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.score.size)

    @classmethod
    def build(cls, groups: dict | None = None, **cols) -> "ScoreTable":
        n = len(cols["score"])
        out = {k: np.asarray(cols.get(k, [""] * n), dtype=object) for k in COLUMNS if k not in ("kind", "score")}
        return cls(genuine=np.asarray(cols["genuine"], bool), score=np.asarray(cols["score"], np.float64),
                   groups=groups or {}, **out)

    def rows(self) -> list[str]:
        """Row labels in order of first appearance."""
        return list(dict.fromkeys(self.row.tolist()))

    def select(self, mask) -> "ScoreTable":
        return ScoreTable(**{k: getattr(self, k)[mask] for k in FIELDS}, groups=self.groups)

    @staticmethod
    def concat(tables: list["ScoreTable"]) -> "ScoreTable":
        groups: dict = {}
        for t in tables:
            for name, values in t.groups.items():
                groups.setdefault(name, {}).update(values)
        return ScoreTable(**{k: np.concatenate([getattr(t, k) for t in tables]) for k in FIELDS}, groups=groups)


# -- writing -------------------------------------------------------------------------------------
def _chunks(t, size: int = 1 << 16):
    """A table in chunks; an iterable of tables (chunks already) is passed through."""
    if not isinstance(t, ScoreTable):
        yield from t
        return
    for i in range(0, len(t), size):
        yield t.select(slice(i, i + size))


def write_csv(t: ScoreTable, path: Path) -> None:
    """The table as CSV (gzip-compressed, level 6, when the name ends in ``.gz``), written in chunks.

    Written with each distinct id made spreadsheet-safe once (ids repeat across millions of comparisons) and
    each chunk handed to the csv module whole: 25 us a row before, most of an export of 10^6 impostors."""
    opener = functools.partial(gzip.open, compresslevel=6) if str(path).endswith(".gz") else open
    cell = functools.lru_cache(maxsize=1 << 16)(lambda x: csv_cell(str(x)))
    with opener(path, "wt", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for c in _chunks(t):
            kind = np.where(c.genuine, "genuine", "impostor")
            cols = [list(map(cell, x.tolist())) for x in (c.row, kind, c.reference, c.probe, c.reference_subject,
                                                           c.probe_subject)]
            w.writerows(zip(*cols, map(repr, c.score.astype(np.float64).tolist())))


def write_parquet(t: ScoreTable, path: Path) -> None:

    schema = pa.schema([(k, pa.string()) for k in COLUMNS[:6]] + [("score", pa.float64())])
    with pq.ParquetWriter(path, schema) as w:
        for c in _chunks(t):
            w.write_table(pa.table({"row": c.row.astype(str), "kind": np.where(c.genuine, "genuine", "impostor"),
                                    "reference": c.reference.astype(str), "probe": c.probe.astype(str),
                                    "reference_subject": c.reference_subject.astype(str),
                                    "probe_subject": c.probe_subject.astype(str), "score": c.score}, schema=schema))


def _token(x) -> str:
    return "_".join(str(x).split()) or "_"


def write_bob(t: ScoreTable, path: Path, columns: int) -> None:
    """One row's comparisons as a bob.measure score file (4 or 5 columns). A genuine comparison has
    ``claimed_id == real_id`` there, so impostor pairs of the same subject cannot be written. Each distinct id
    is made a token once and a chunk's lines are joined whole (speed: ids repeat across the comparisons)."""
    tok = functools.lru_cache(maxsize=1 << 16)(_token)
    line = "{} {} {} {} {}\n".format if columns == 5 else "{} {} {} {}\n".format
    with open(path, "w", encoding="utf-8") as f:
        for c in _chunks(t):
            claimed, real = (list(map(tok, x.tolist())) for x in (c.reference_subject, c.probe_subject))
            same = np.array([a == b for a, b in zip(claimed, real)], bool)
            bad = np.flatnonzero(np.asarray(c.genuine, bool) != same)
            if bad.size:
                i = bad[0]
                rs, ps = c.reference_subject[i], c.probe_subject[i]
                raise FrEvalError(f"{path.name}: a {'genuine' if c.genuine[i] else 'impostor'} comparison of subjects "
                                  f"{rs!r} and {ps!r} cannot be written in bob's format")
            cols = [claimed] + ([list(map(tok, c.reference.tolist()))] if columns == 5 else [])
            f.writelines(map(line, *cols, real, map(tok, c.probe.tolist()),
                             map(repr, np.asarray(c.score, np.float64).tolist())))


def write_pyeer(t, genuine_path: Path | None, impostor_path: Path | None) -> None:
    """pyeer's two files (a path None: that file is not written); comparisons without a score are left
    out (pyeer has no place for them)."""
    def opened(path):
        return open(path, "w") if path else contextlib.nullcontext()

    with opened(genuine_path) as g, opened(impostor_path) as i:
        for c in _chunks(t):
            for f, mask in ((g, c.genuine), (i, ~c.genuine)):
                if f is None:
                    continue
                s = c.score[mask]
                s = s[np.isfinite(s)].tolist()
                if s:  # one C-level format of the chunk: as np.savetxt(fmt="%.17g") writes it, 10x faster
                    f.write(("%.17g\n" * len(s)) % tuple(s))


@dataclass(frozen=True)
class Comparisons:
    """One row's genuine or impostor comparisons as index pairs into the run's references and
    probes, with their scores (NaN: not compared): ids are looked up only when written."""

    row: str
    genuine: bool
    pairs: np.ndarray  # (n, 2) int
    score: np.ndarray  # (n,) float64

    def __len__(self) -> int:
        return len(self.score)

    def chunks(self, size: int):
        """(pairs, scores) in chunks of ``size``."""
        for i in range(0, len(self.score), size):
            yield self.pairs[i:i + size], self.score[i:i + size]

    def sample(self, n: int, seed: int) -> "Comparisons":
        """A seeded uniform sample of ``n`` of them, in their order."""
        keep = np.sort(np.random.default_rng(seed).choice(len(self), n, replace=False))
        return Comparisons(self.row, self.genuine, self.pairs[keep], self.score[keep])


@dataclass(frozen=True)
class SpilledComparisons:
    """A row's impostor comparisons: every cross-subject pair of the acquired samples, never listed. Their
    scores are the ones the impostor scan made (float32, bit for bit), written to a file as the scan went
    (:class:`fr_eval.scan_taps.ScoreSpill`); the pairs are worked out again from the subjects (no product),
    in the same reference-major order, so the export of 10^9 comparisons streams to disk in bounded memory.
    ``file``: the scores' file (``.path``), removed when no record holds it."""

    row: str
    file: object
    ref_index: np.ndarray  # the acquired references' indices among the run's
    ref_subject: np.ndarray  # their subjects
    probe_index: np.ndarray
    probe_subject: np.ndarray
    n: int
    genuine: bool = False

    def __len__(self) -> int:
        return self.n

    def chunks(self, size: int):
        """(pairs, scores) in chunks of at most ``size``; pairs index the run's references and probes."""
        n_probe = len(self.probe_index)
        step = max(1, size // max(n_probe, 1))
        read = 0
        with open(self.file.path, "rb") as f:
            for start in range(0, len(self.ref_index), step):
                keep = self.ref_subject[start:start + step, None] != self.probe_subject[None, :]
                r, c = np.nonzero(keep)
                score = np.fromfile(f, np.float32, count=r.size).astype(np.float64)
                if score.size != r.size:
                    raise FrEvalError(f"the impostor scores of row {self.row} end after {read + score.size} of "
                                      f"{self.n} (their file {self.file.path} was cut short)")
                read += r.size
                pairs = np.stack([self.ref_index[start + r], self.probe_index[c]], axis=1)
                for i in range(0, r.size, size):
                    yield pairs[i:i + size], score[i:i + size]


def comparison_chunks(records: list, ref_ids, probe_ids, ref_subjects, probe_subjects, size: int = 1 << 16):
    """ScoreTable chunks of the records, ids and subjects filled in (object arrays, indexable)."""
    for rec in records:
        for p, score in rec.chunks(size):
            n = len(p)
            yield ScoreTable.build(row=[rec.row] * n, genuine=[rec.genuine] * n, reference=ref_ids[p[:, 0]],
                                   probe=probe_ids[p[:, 1]], reference_subject=ref_subjects[p[:, 0]],
                                   probe_subject=probe_subjects[p[:, 1]], score=score)


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label).strip("_") or "row"


def export_scores(out: Path, records: list[Comparisons], used_impostors: dict[str, str], ids: tuple) -> list[str]:
    """Every comparison into ``out``: ``comparisons.csv.gz`` and ``comparisons.parquet`` (all rows,
    each impostor comparison once), and per row ``<row>.bob4``, ``<row>.bob5`` and pyeer's
    ``<row>_genuine.txt``. A row whose impostor comparisons are its own (the baseline's; every row's
    with ``impostor_scores=scenario``) also holds them, in its bob files and in ``<row>_impostor.txt``;
    a row that uses another row's impostors (``used_impostors[row]``) holds its genuine comparisons
    only, and ``README.txt`` names the files to read with it (the impostors are written once: a
    report of 62 subjects is not five copies of 180,000 scores). Returns the file names."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(comparison_chunks(records, *ids), out / "comparisons.csv.gz")
    write_parquet(comparison_chunks(records, *ids), out / "comparisons.parquet")
    names = ["comparisons.csv.gz", "comparisons.parquet"]
    guide = ["Score files of this run (fr-eval's export). Each bob file holds its row's genuine comparisons, and the",
             "impostor comparisons where they are the row's own; pyeer's files: <row>_genuine.txt, <row>_impostor.txt.",
             "Rows that use another row's impostors (the paper's protocol: the baseline's) hold their genuine",
             "comparisons only; read them with the files named below (fr-eval: scores=[<impostor file>,<row file>]).", ""]
    files = {}  # an impostor row -> (its bob files' stem, its pyeer file)
    for imp_row in dict.fromkeys(used_impostors.values()):
        imp_slug = _slug(imp_row)
        if imp_row in used_impostors and used_impostors[imp_row] == imp_row:
            files[imp_row] = (imp_slug, f"{imp_slug}_impostor.txt")  # written with that row's own files below
            continue
        only = [r for r in records if not r.genuine and r.row == imp_row]  # a baseline that is not a row here
        for cols in (4, 5):
            write_bob(comparison_chunks(only, *ids), out / f"{imp_slug}_impostors.bob{cols}", cols)
        write_pyeer(comparison_chunks(only, *ids), None, out / f"{imp_slug}_impostor.txt")
        files[imp_row] = (f"{imp_slug}_impostors", f"{imp_slug}_impostor.txt")
        names += [f"{imp_slug}_impostors.bob4", f"{imp_slug}_impostors.bob5", f"{imp_slug}_impostor.txt"]
        guide.append(f"impostors of row {imp_row} (not a row of this report): {imp_slug}_impostors.bob4 / "
                     f"{imp_slug}_impostors.bob5 / {imp_slug}_impostor.txt")
    for row, imp_row in used_impostors.items():
        own = imp_row == row
        mine = [r for r in records if (r.genuine and r.row == row) or (own and not r.genuine and r.row == imp_row)]
        slug = _slug(row)
        for cols in (4, 5):
            write_bob(comparison_chunks(mine, *ids), out / f"{slug}.bob{cols}", cols)
        g_name, (bob_stem, i_name) = f"{slug}_genuine.txt", files[imp_row]
        write_pyeer(comparison_chunks(mine, *ids), out / g_name, out / i_name if own else None)
        names += [f"{slug}.bob4", f"{slug}.bob5", g_name] + ([i_name] if own else [])
        guide.append(f"row {row}: {slug}.bob4 / {slug}.bob5 / {g_name}" + (
            f" (its own impostors inside; pyeer: {i_name})" if own else
            f" (genuine only); impostors: row {imp_row}'s, in {bob_stem}.bob4 / {bob_stem}.bob5 / {i_name}"))
    (out / "README.txt").write_text("\n".join(guide) + "\n", encoding="utf-8")
    return names + ["README.txt"]


# -- reading -------------------------------------------------------------------------------------
def read_scores(paths, fmt: str, score_kind: str = "similarity") -> ScoreTable:
    """A score table from files in one of :data:`FORMATS`; one-line errors for bad input."""
    if fmt not in FORMATS:
        raise FrEvalError(f"format={fmt} is not valid: choose from {', '.join(FORMATS)}")
    if score_kind not in SCORE_KINDS:
        raise FrEvalError(f"score_kind={score_kind} is not valid: choose from {', '.join(SCORE_KINDS)}")
    paths = [Path(p).expanduser() for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if fmt == "pyeer" and len(paths) != 2 or fmt in ("csv", "parquet") and len(paths) != 1 or not paths:
        raise FrEvalError(f"format={fmt} takes " + {"pyeer": "scores=[genuine.txt,impostor.txt]",
                                                    "csv": "one file", "parquet": "one file"}.get(
            fmt, "one file or a list (each file a row)") + f", got {len(paths)}")
    for p in paths:
        if not p.is_file():
            raise FrEvalError(f"scores={p}: no such file")
    t = {"csv": _read_csv, "parquet": _read_parquet,
         "bob4": lambda ps: ScoreTable.concat([_read_bob(q, 4) for q in ps]),
         "bob5": lambda ps: ScoreTable.concat([_read_bob(q, 5) for q in ps]), "pyeer": _read_pyeer}[fmt](paths)
    if score_kind == "distance":
        t = ScoreTable(**{**t.__dict__, "score": -t.score})
    if len(t) == 0:
        raise FrEvalError(f"scores={paths[0]}: no comparison in the file")
    return t


def _groups(data: dict, where: str) -> dict:
    """A score file's group columns (``reference_<name>``, ``probe_<name>``: each the group of that side's subject)
    as ``{name: {subject: value}}``; a subject given two values is a one-line error."""
    out: dict = {}
    for side in ("reference", "probe"):
        for col in (c for c in data if c.startswith(f"{side}_") and c not in COLUMNS):
            name = col[len(side) + 1:]
            seen = out.setdefault(name, {})
            for subject, value in zip(data.get(f"{side}_subject", []), data[col]):
                subject, value = str(subject).strip(), str(value).strip()
                if not subject or not value:
                    continue
                if seen.setdefault(subject, value) != value:
                    raise FrEvalError(f"{where}: subject {subject} has two values of {name} ({seen[subject]} and "
                                      f"{value}); a group column must give one value per subject")
    return out


def repeated_comparisons(t: ScoreTable) -> tuple[np.ndarray, bool]:
    """(a mask of the entries that repeat an earlier one: the same row, kind, reference and probe ids;
    whether the check could be made: every entry names both samples). Files that name no samples
    (pyeer's) cannot be checked."""
    named = bool(len(t)) and all(str(r) != "" for r in t.reference) and all(str(p) != "" for p in t.probe)
    if not named:
        return np.zeros(len(t), bool), False
    seen, rep = set(), np.zeros(len(t), bool)
    for i, key in enumerate(zip(t.row.tolist(), t.genuine.tolist(), t.reference.tolist(), t.probe.tolist())):
        rep[i] = key in seen
        seen.add(key)
    return rep, True


def _float(text: str, where: str) -> float:
    """A score; ``where`` names the file and line. An infinite score is refused as the Python API
    refuses it (a score at the end of the scale is a finite number); an empty cell or ``nan`` is
    "no score" (a comparison that could not be made)."""
    try:
        x = float(text)
    except ValueError:
        hint = (": it has a decimal comma; write the decimal point (0.95, not 0,95)"
                if re.fullmatch(r"\s*[-+]?\d*,\d+\s*", text) else "")
        raise FrEvalError(f"{where}: the score {text!r} is not a number{hint}") from None
    if math.isinf(x):
        raise FrEvalError(f"{where}: the score {text!r} is infinite; give finite scores (the end of your scale, "
                          f"e.g. 1.0), or leave the cell empty where there is no score")
    return x


def _gunzip_text(path: Path) -> str:
    """A ``.gz`` file's text (UTF-8); one line when it is not gzip or not UTF-8 inside."""
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise FrEvalError(f"scores={path} is not a gzip file ({exc}); a plain CSV must not end in .gz") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FrEvalError(f"scores={path}: the text inside is not UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start} of the uncompressed file); save it as UTF-8") from None


def _read_csv(paths) -> ScoreTable:

    path = paths[0]
    text = _gunzip_text(path) if str(path).endswith(".gz") else read_text(path, "scores")
    header, rows = read_csv_rows(path, "scores", text)
    missing = [c for c in ("kind", "score") if c not in header]
    if missing:
        for sep in (";", "\t", "|"):
            if len(header) == 1 and {"kind", "score"} <= {h.strip() for h in header[0].split(sep)}:
                raise FrEvalError(f"scores={path}: the columns are separated by {sep!r}, not commas; save it as "
                                  f"comma-separated CSV (columns: {', '.join(COLUMNS)})")
        raise FrEvalError(f"scores={path}: missing column(s) {', '.join(missing)} (columns: {', '.join(COLUMNS)})")
    extra = [h for h in header if h and h.startswith(("reference_", "probe_")) and h not in COLUMNS]
    cols = {k: [] for k in (*COLUMNS, *extra)}
    lines = []
    for line, r in rows:
        if None in r:  # more cells than the header names: a decimal comma, or a stray separator
            raise FrEvalError(f"{path.name}:{line}: {len(header) + len(r[None])} cells for "
                              f"{len(header)} columns (a decimal comma? write 0.95, not 0,95; quote text "
                              f"that holds commas)")
        lines.append(line)
        for k in cols:
            cols[k].append((r.get(k) or "").strip())
    return _from_columns(cols, path.name, lines, groups=_groups(cols, f"scores={path}"))


def _read_parquet(paths) -> ScoreTable:

    try:
        tab = stripped_columns(pq.read_table(paths[0]).to_pydict(), "scores", paths[0])
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise FrEvalError(f"scores={paths[0]} is not a readable Parquet file ({exc})") from None
    missing = [c for c in ("kind", "score") if c not in tab]
    if missing:
        raise FrEvalError(f"scores={paths[0]}: missing column(s) {', '.join(missing)}")
    n = len(tab["score"])
    cols = {k: [("" if x is None else str(x)) for x in tab.get(k, [""] * n)] for k in COLUMNS}
    cols["score"] = [repr(float(x)) if x is not None else "nan" for x in tab["score"]]
    extra = {k: ["" if x is None else str(x) for x in v] for k, v in tab.items()
             if k.startswith(("reference_", "probe_")) and k not in COLUMNS}
    return _from_columns(cols, str(paths[0].name), None,
                         groups=_groups({**extra, **{k: cols[k] for k in ("reference_subject", "probe_subject")}},
                                        f"scores={paths[0]}"))


def _from_columns(cols: dict, where: str, lines=None, groups: dict | None = None) -> ScoreTable:
    """``lines``: each entry's line in the file (CSV), else entries are named by row number (Parquet)."""
    kinds = set(cols["kind"])
    if not kinds <= {"genuine", "impostor"}:
        raise FrEvalError(f"{where}: kind must be genuine or impostor, found {sorted(kinds - {'genuine', 'impostor'})[:3]}")
    row = [r or "1" for r in cols["row"]]
    at = (lambda i: f"{where}:{lines[i]}") if lines is not None else (lambda i: f"{where}, row {i + 1}")
    return ScoreTable.build(row=row, genuine=[k == "genuine" for k in cols["kind"]],
                            reference=cols["reference"], probe=cols["probe"],
                            reference_subject=cols["reference_subject"], probe_subject=cols["probe_subject"],
                            score=[_float(s or "nan", at(i)) for i, s in enumerate(cols["score"])], groups=groups)


def _read_bob(path: Path, columns: int) -> ScoreTable:

    rows, where = [], []
    for i, line in enumerate(read_text(path, "scores").splitlines(), start=1):
        parts = line.split()
        if not parts or line.lstrip().startswith("#"):
            continue
        if len(parts) != columns:
            raise FrEvalError(f"{path.name}:{i}: {len(parts)} columns, a bob{columns} score file has {columns}")
        rows.append(parts)
        where.append(f"{path.name}:{i}")
    label = path.name.split(".")[0]
    if columns == 4:
        claimed, real, probe, score = (list(c) for c in zip(*rows)) if rows else ([], [], [], [])
        model = claimed
    else:
        claimed, model, real, probe, score = (list(c) for c in zip(*rows)) if rows else ([], [], [], [], [])
    return ScoreTable.build(row=[label] * len(rows), genuine=[c == r for c, r in zip(claimed, real)], reference=model,
                            probe=probe, reference_subject=claimed, probe_subject=real,
                            score=[_float(s, w) for s, w in zip(score, where)])


def _read_pyeer(paths) -> ScoreTable:

    parts = []
    for p, genuine in zip(paths, (True, False)):
        values = [_float(x, f"{p.name}:{i}") for i, line in enumerate(read_text(p, "scores").splitlines(), start=1)
                  for x in line.split()]
        if not values:
            raise FrEvalError(f"scores={p}: the pyeer {'genuine' if genuine else 'impostor'} file holds no score "
                              f"(scores=[genuine.txt,impostor.txt], one score per line)")
        parts.append(ScoreTable.build(row=["1"] * len(values), genuine=[genuine] * len(values), score=values))
    return ScoreTable.concat(parts)
