"""``report.html`` of every kind of run, rendered with Jinja2 from one template per page kind
(``templates/scenario.html.j2``, ``audit.html.j2``, ``scores.html.j2``, ``compare.html.j2``, all
extending ``base.html.j2``). The page is self-contained (plots embedded as data URIs) and links
to every file of its folder; the Python side only gathers what each section shows."""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from omegaconf import OmegaConf

from .io import atomic_write, write_table
from .numbers import uniform_digits


@dataclass
class Table:
    header: list
    body: list
    notes: list = field(default_factory=list)
    files: list = field(default_factory=list)  # the table's own files in the folder (CSV, Markdown)
    id: str = ""
    kind: str = "table"


@dataclass
class Figure:
    name: str  # the PNG in the report folder
    caption: str
    label: str = ""  # "Figure 2", set when the page is rendered
    src: str = ""
    pdf: str = ""
    kind: str = "figure"

    @property
    def id(self) -> str:
        return "fig-" + Path(self.name).stem.replace("_", "-")

    @property
    def alt(self) -> str:
        return self.caption.split(".")[0]


@dataclass
class Text:
    paragraphs: list
    kind: str = "text"  # text | list | warning | standin


@dataclass
class Section:
    id: str
    title: str
    items: list = field(default_factory=list)


#: what each file of a report folder holds, for the page's list of files
WHAT = {
    "metrics.json": "every figure as a fraction in [0, 1], with its interval, definitions, the run's context",
    "config.yaml": "the resolved configuration (fr-eval --replay reads it)",
    "provenance.json": "the models' sha256, the software versions",
    "run.log": "the run's log",
    "failures.csv": "every failure to acquire, with its kind and reason",
    "samples.csv": "every sample: acquired or not, detector score, faces found, box",
    "scores.npz": "the genuine scores and the impostor scores (or their summary) of every row",
    "embeddings.npz": "every acquisition's vector (embeddings= re-uses it)",
    "generated_images.csv": "one line per generated image: its similarity, verified or not, best other identity",
}


def table_file(out: Path, stem: str, header, body, title: str, notes: list[str], csv_table=None) -> Table:
    """``<stem>.csv`` and ``<stem>.md`` written (:func:`fr_eval.report.io.write_table`), and the same
    table for the page."""
    body = uniform_digits(header, body)
    write_table(out, stem, header, body, title, notes, csv_table)
    return Table(header, body, notes, [f"{stem}.csv", f"{stem}.md"], id=f"tab-{stem}")


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def folder_files(out: Path) -> list[dict]:
    """Every file of the report folder (and of its ``scores/`` export), for the page's file list."""
    rows = []
    for p in sorted(x for x in out.rglob("*") if x.is_file() and x.name != "report.html"
                    and not x.name.endswith(".tmp")):
        rel = p.relative_to(out).as_posix()
        what = WHAT.get(rel) or {".csv": "table (CSV)", ".md": "table (Markdown)", ".png": "figure (PNG)",
                                 ".pdf": "figure (PDF, vector)", ".parquet": "comparisons (Parquet)",
                                 ".gz": "comparisons (CSV, gzip)", ".txt": "scores (bob / pyeer text format)",
                                 ".json": "JSON"}.get(p.suffix, "")
        size = p.stat().st_size
        rows.append({"name": rel, "size": f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB",
                     "what": what})
    return rows


def _resolve(out: Path, sections: list[Section]) -> list[Section]:
    """Figures get their data URI, PDF link and number; a figure whose PNG was not made is left out,
    and a section left empty with it."""
    n, kept = 0, []
    for s in sections:
        items = []
        for it in s.items:
            if isinstance(it, Figure):
                png = out / it.name
                if not png.is_file():
                    continue
                n += 1
                pdf = png.with_suffix(".pdf")
                it.src, it.pdf, it.label = data_uri(png), pdf.name if pdf.is_file() else "", f"Figure {n}"
            items.append(it)
        if items:
            kept.append(Section(s.id, s.title, items))
    return kept


def environment():

    return jinja2.Environment(loader=jinja2.PackageLoader("fr_eval.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def software_line(env: dict) -> str:
    return (", ".join(f"{k} {v}" for k, v in env["packages"].items()) + f"; Python {env['python']} on "
            f"{env['platform']}" + (f"; fr-eval commit {env['fr_eval_commit']}" + (" (with local changes)"
                                    if env.get("fr_eval_dirty") else "") if env.get("fr_eval_commit") else ""))


def models_table(system: dict) -> Table:
    return Table(["Role", "Path", "Bytes", "sha256"],
                 [[m["role"], m["path"], m["bytes"], m["sha256"]] for m in system.get("models", [])])


def write_page(out: Path, kind: str, *, title: str, sections: list[Section], config: dict, env: dict,
               system: dict, system_note: str = "", **page) -> None:
    """Render ``templates/<kind>.html.j2`` into ``out/report.html``."""
    html = environment().get_template(f"{kind}.html.j2").render(
        title=title, sections=_resolve(out, sections), files=folder_files(out), system_note=system_note,
        models=models_table(system), software=software_line(env), config_yaml=OmegaConf.to_yaml(config), **page)
    atomic_write(out / "report.html", html)


def write_each(out: Path, result, write) -> None:
    """Each system's own report of a several-system run, in ``<system>/``, with the run's command
    and paths."""
    for name, r in result.results.items():
        r.context.setdefault("invocation", result.context.get("invocation"))
        r.context.setdefault("paths", result.context.get("paths"))
        write(out / name, r, result.configs[name])


def models_of(results: dict) -> dict:
    """A system description listing every system's models, each role prefixed with its system."""
    return {"models": [{**m, "role": f"{n}: {m['role']}"} for n, r in results.items()
                       for m in r.context["system"]["models"]]}
