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
    """``<stem>.csv`` (``csv_table``'s (header, body) when the CSV has other columns) and ``<stem>.md``."""
    write_csv(out / f"{stem}.csv", *(csv_table or (header, body)))
    md = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in body]
    md += [""] + [f"- {n}" for n in notes]
    atomic_write(out / f"{stem}.md", "\n".join(md) + "\n")


def refuse_filled_out_dir(out: Path, overwrite: bool) -> None:
    """A folder that already holds files is never replaced silently (a past report would be lost)."""
    if overwrite or not out.is_dir() or not any(out.iterdir()):
        return
    what = "a report (metrics.json)" if (out / "metrics.json").is_file() else "files"
    raise ConfigError(f"out_dir={out} already holds {what}; give another out_dir, or overwrite=true to replace it")
