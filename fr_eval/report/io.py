"""Writing a report folder: CSV cells that no spreadsheet executes, and a folder that appears whole.

A report is written into a hidden staging folder beside its destination and renamed into place
when every file is written (:class:`StagedDir`), so a run killed while writing leaves either the
previous report or none, never a complete-looking ``metrics.json`` beside a truncated CSV.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from ..errors import ConfigError
from ..scores import csv_cell
from ..settings import Config, plain

log = logging.getLogger(__name__)


#: a text cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
#: (OWASP "CSV injection"); it is written with a leading apostrophe
def write_csv(path: Path, header: list[str], rows) -> None:
    """Rows (sequences, or dicts keyed by ``header``) to ``path``, every text cell neutralised."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([csv_cell(h) for h in header])
        for r in rows:
            cells = [r.get(h, "") for h in header] if isinstance(r, dict) else r
            w.writerow([csv_cell(c) for c in cells])


class StagedDir:
    """``with StagedDir(final) as tmp:`` write into ``tmp``; on success it becomes ``final``.

    An existing ``final`` is replaced only once the new folder is complete. On an exception the
    staging folder is removed. Staging folders of processes that no longer exist (a run killed with
    SIGKILL) are removed when the next run writes to the same destination.
    """

    def __init__(self, final: str | Path):
        self.final = Path(final)
        self.tmp = self.final.parent / f".{self.final.name}.partial-{os.getpid()}"

    def __enter__(self) -> Path:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        for old in self.final.parent.glob(f".{self.final.name}.partial-*"):
            pid = old.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir()
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        if self.final.is_dir():
            aside = self.final.parent / f".{self.final.name}.replaced-{os.getpid()}"
            shutil.rmtree(aside, ignore_errors=True)
            os.replace(self.final, aside)
            os.replace(self.tmp, self.final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(self.tmp, self.final)
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def clean(o):
    """JSON-safe: NaN/inf -> None, NumPy scalars -> Python."""
    if isinstance(o, dict):
        return {str(k): clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [clean(v) for v in o]
    if isinstance(o, (np.floating, float)):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    return o


def write_json(path: Path, doc) -> None:
    atomic_write(path, json.dumps(clean(doc), indent=2))


def write_config(out: Path, config: Config) -> None:
    """``config.yaml``: the run's resolved configuration (what ``--replay`` reads)."""
    atomic_write(out / "config.yaml", "# the resolved configuration of this run\n" + OmegaConf.to_yaml(plain(config)))


def write_table(out: Path, stem: str, header, body, title: str, notes: list[str], csv_table=None) -> None:
    """``<stem>.csv`` (``csv_table``'s (header, body) when the CSV has other columns), made one number per cell
    by :func:`machine_table`, and ``<stem>.md`` as people read it."""
    write_csv(out / f"{stem}.csv", *machine_table(*(csv_table or (header, body))))
    md = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in body]
    md += [""] + [f"- {n}" for n in notes]
    atomic_write(out / f"{stem}.md", "\n".join(md) + "\n")


def refuse_filled_out_dir(out: Path, overwrite: bool) -> None:
    """A folder that already holds files is never replaced silently (a past report would be lost). A folder
    that holds only the ``error.log`` of a run that stopped on a fault of fr-eval is no report: a run may
    replace it."""
    if overwrite or not out.is_dir() or {p.name for p in out.iterdir()} <= {"error.log"}:
        return
    what = "a report (metrics.json)" if (out / "metrics.json").is_file() else "files"
    raise ConfigError(f"out_dir={out} already holds {what}; give another out_dir, or overwrite=true to replace it")


# ------------------------------------------------------------------------------ CSVs for machines
# The pages print a figure as people read it ("2.38 [1.47, 3.69]†", "5 (n too small)", "6 / 4"); the CSV
# beside each table holds the same figures one number per cell: value, low and high in their own columns,
# flags and notes in theirs. Written here once for every table (hand-written: no library parses these
# forms), from the very cells the page shows, so the two never disagree.
_NUM = r"[-+\u2212]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_FLAGS = "\u2020\u2021\u00a7*"
_CELL = re.compile(
    rf"^(?:p\s*=?\s*)?(?P<bound>[<>\u2264\u2265~]=?\s*)?(?P<value>{_NUM})?\s*(?P<unit>%|\u00b0|dB|points)?\s*"
    rf"(?:\[\s*(?P<low>{_NUM}),\s*(?P<high>{_NUM})\s*\]|(?P<na>n/a))?\s*(?P<flag>[{_FLAGS}]*)\s*"
    rf"(?:\((?P<note>[^()]*)\))?\s*(?P<flag2>[{_FLAGS}]*)$")
_PAIR = re.compile(rf"^(?P<a>{_NUM})\s*/\s*(?P<b>{_NUM})$")
_TOO_FEW = re.compile(r"\(\d+ \w+: n too small\)")
_EMPTY = ("", "n/a", "-", "\u2013", "\u2014", "none", "nan")


def _number(text: str | None):
    """A printed number as the CSV holds it: its digits as printed, a plain minus, no plus sign."""
    if text is None:
        return None
    t = text.replace("\u2212", "-")
    return t[1:] if t.startswith("+") else t


def _parse(cell) -> dict | None:
    """A cell as {value, low, high, flag, note} (numbers as floats), {"pair": (a, b)}, "empty", or None when it
    is text (a label such as ``4 [exemplar]``)."""
    if cell is None or isinstance(cell, bool):
        return None if isinstance(cell, bool) else "empty"
    if isinstance(cell, (int, float, np.integer, np.floating)):
        return "empty" if not math.isfinite(float(cell)) else {"value": cell}
    text = str(cell).strip()
    if text.lower() in _EMPTY:
        return "empty"
    if text == "(no spread)":  # a zero-width interval, never printed: its bounds are in metrics.json
        return {"value": None, "low": None, "high": None, "flag": "", "note": "no spread"}
    if _TOO_FEW.fullmatch(text):  # an interval not shown over too few units: its count, as a note
        return {"value": None, "low": None, "high": None, "flag": "", "note": text.strip("()")}
    m = _PAIR.match(text)
    if m:
        return {"pair": (_number(m["a"]), _number(m["b"]))}
    m = _CELL.match(text)
    if m is None or (m["value"] is None and m["low"] is None and not m["na"]):
        return None
    na = "no interval" if m["na"] and m["value"] is not None else ""
    note = " ".join(x for x in ((m["bound"] or "").strip(), m["note"] or "", na) if x)
    return {"value": _number(m["value"]), "low": _number(m["low"]), "high": _number(m["high"]),
            "flag": (m["flag"] or "") + (m["flag2"] or ""), "note": note}


def _counts(item: dict) -> dict:
    """A note "k/n" (errors of attempts) as two numbers of its own."""
    m = re.search(r"(?<![\d.])(\d+)\s*/\s*(\d+)(?![\d.])", item.get("note") or "")
    if m is None:
        return item
    rest = " ".join((item["note"][: m.start()] + item["note"][m.end():]).split())
    return {**item, "note": rest, "k": m[1], "n": m[2]}


def _placeholder(cell) -> dict | None:
    """A cell of words alone where a number would stand ("not ranked (n too small)", "light\u2020"): no value,
    the words as a note, a trailing flag apart."""
    text = str(cell).strip()
    if any(ch.isdigit() for ch in text):
        return None
    words = text.rstrip(_FLAGS).strip()
    return {"value": None, "low": None, "high": None, "flag": text[len(words):].strip(), "note": words}


def _pair_names(name: str) -> tuple[str, str]:
    """Two columns from a header "Images a / b" ("Images a", "Images b") or "Rejected by b only / a only"."""
    left, _, right = name.partition(" / ")
    lw, rw = left.split(), right.split()
    return left, " ".join(lw[: max(0, len(lw) - len(rw))] + rw) if right else f"{name} (second)"


def machine_table(header: list, body: list) -> tuple[list, list]:
    """The table one number per cell: a column whose cells are numbers (with intervals, flags, notes, or a pair
    ``a / b``) becomes its value column beside ``<name> low``/``<name> high``, ``<name> flag`` and ``<name>
    note`` columns where any cell has one; a text column keeps its text, its trailing flags moved to a ``<name>
    flag`` column. A column holding only an interval ("95% CI") is named after the column before it."""
    body = [[r.get(h, "") for h in header] if isinstance(r, dict) else list(r) for r in body]
    cols_out, rows_out, previous = [], [[] for _ in body], ""
    for j, name in enumerate(header):
        cells = [r[j] if j < len(r) else "" for r in body]
        parsed = [_parse(c) for c in cells]
        numeric = [p for p in parsed if isinstance(p, dict)]
        if numeric and all(isinstance(p, dict) and "pair" in p for p in numeric) and None not in parsed:
            first, second = _pair_names(str(name))
            cols_out += [first, second]
            previous = str(name)
            for r, p in zip(rows_out, parsed):
                r += list(p["pair"]) if isinstance(p, dict) else ["", ""]
            continue
        words = [_placeholder(c) if p is None else p for c, p in zip(cells, parsed)]
        if not numeric or any(w is None for w in words) or any("pair" in p for p in numeric):
            _text_column(str(name), cells, cols_out, rows_out)
            previous = str(name)
            continue
        items = [_counts(w) if isinstance(w, dict) else {} for w in words]
        has = {k: any(i.get(k) not in (None, "") for i in items) for k in ("value", "low", "flag", "note", "k")}
        base = str(name)
        if not has["value"] and re.fullmatch(r"(95% )?(ci|\[ci\]|interval)( \(\w+\))?", base.strip().lower()) and previous:
            base = previous
        previous = base
        parts = ([("value", base)] if has["value"] else []) + (
            [("low", f"{base} low"), ("high", f"{base} high")] if has["low"] else []) + (
            [("flag", f"{base} flag")] if has["flag"] else []) + ([("note", f"{base} note")] if has["note"] else []) + (
            [("k", f"{base} count"), ("n", f"{base} of")] if has["k"] else [])
        cols_out += [n for _, n in parts]
        for r, i in zip(rows_out, items):
            r += ["" if i.get(k) is None else i.get(k) for k, _ in parts]
    return _unique(cols_out), rows_out


def _text_column(name: str, cells: list, cols_out: list, rows_out: list) -> None:
    flags = [str(c).strip()[len(str(c).strip().rstrip(_FLAGS)):] if c not in (None, "") else "" for c in cells]
    cols_out.append(name)
    for r, c, f in zip(rows_out, cells, flags):
        r.append("" if c is None else (str(c).strip()[: len(str(c).strip()) - len(f)] if f else c))
    if any(flags):
        cols_out.append(f"{name} flag")
        for r, f in zip(rows_out, flags):
            r.append(f)


def _unique(names: list) -> list:
    seen: dict = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out
