"""The report of a run with several face systems (``system=[a,b,...]``): each system's full report in
``<system>/`` (the same files as a one-system run), and at the top Table 3 with a system column,
the agreement between the systems on each compared pair of rows, a DET panel per system, and
``report.html`` (``templates/systems.html.j2``) linking to each system's own page.

The DET gives each system a panel of its own, one above the other with the same axis limits: five
rows of three systems on one axis are fifteen curves, which no line style keeps apart, while rows
within one system are what the paired comparisons contrast."""
from __future__ import annotations

from pathlib import Path

from ..provenance import environment, run_date
from ..settings import Config, plain
from . import plots
from .html import Figure, Section, Table, models_of, table_file, write_each, write_page
from .io import clean, write_config, write_json
from .scenario import write_report
from .tables import as_sentence, colouriser_notes, data_notes, machine_notes, score_name, table3_notes, table3_rows


def write_systems_report(out_dir: str | Path, result, config: Config) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env, fmr = environment(), config.fmr
    mfm = config.report.min_false_matches
    write_each(out, result, write_report)
    write_json(out / "metrics.json", {
        "units": "every rate is a fraction in [0, 1] (not a percent); each system's scores as its own report says",
        "systems": {name: {"report": f"{name}/metrics.json", "system": r.context["system"], "table1": r.table1,
                           "thresholds": r.context["thresholds"], "rows": r.rows,
                           "paired_comparisons": r.row_comparisons}
                    for name, r in result.results.items()},
        "agreement": result.agreement, "config": plain(config), "environment": env})
    write_config(out, config)
    t3 = _table3(out, result, fmr, mfm)
    agree = _agreement_table(out, result)
    bands = plots.det_bands(config)
    _plot_det(out, result, fmr, mfm, bands)
    sections = [Section("table3", "Table 3: every system", [t3]),
                Section("agreement", "Do the systems agree?", [agree]),
                Section("det", "DET curves, one panel per system", [Figure(
                    "det.png", "DET curves of every row, one panel per system (the same axes), each system at "
                    f"its own threshold for FMR <= {100 * fmr:g}% (open markers). One panel per system: fifteen "
                    "curves on one axis cannot be told apart, and the rows within a system are what the paired "
                    "comparisons contrast." + plots.band_note(bands))]),
                Section("systems", "Each system's own report", [Table(
                    ["System", "Report", "Score", "Threshold"],
                    [[n, f"{n}/report.html", score_name(r.context["system"]),
                      f"{r.context['thresholds'][fmr]['threshold']:.4f}"] for n, r in result.results.items()],
                    ["Each folder holds the full report of that system (tables, plots, scores, failures)."],
                    [f"{n}/report.html" for n in result.results])])]
    first = next(iter(result.results.values()))
    how = result.context.get("invocation") or {}
    t1 = first.table1
    run = [("Command", how.get("command", "(a library call)")), ("Date", run_date(result.context, env)),
           ("Dataset", f"{t1['dataset']}: {t1['subjects']} subjects, {t1['references']} references, {t1['probes']} "
                       f"probes, {t1['genuine']} genuine and {t1['impostor']} impostor comparisons"),
           ("Systems", ", ".join(result.results)), ("Units", "rates in percent in this page; metrics.json holds fractions")]
    notes = [n for r in result.results.values() for n in machine_notes(r.context["engine"])]
    notes += [f"{name}: {n}" for name, r in result.results.items() for n in data_notes(r.context)]
    write_page(out, "systems", title=f"fr-eval report: {t1['dataset']}, systems {', '.join(result.results)}",
               sections=sections, config=plain(config), env=env, system=models_of(result.results),
               run=run, warnings=notes, headline=Table(t3.header[:6], [row[:6] for row in t3.body], id="headline"),
               answers=[as_sentence(a["sentence"]) for a in result.agreement])
    return out


def _table3(out: Path, result, fmr: float, mfm: int) -> Table:
    header, body, csv_body, notes = None, [], [], []
    for name, r in result.results.items():
        rows = clean(r.rows)
        h, b = table3_rows(rows, fmr, mfm, "Threshold")
        hc, bc = table3_rows(rows, fmr, mfm, "Threshold", csv=True)
        header, csv_header = ["System", *h], ["System", *hc]
        body += [[name, *line] for line in b]
        csv_body += [[name, *line] for line in bc]
        notes.append(f"{name}: threshold {r.context['thresholds'][fmr]['threshold']:.4f} "
                     f"({score_name(r.context['system'])}, match if >=), fixed on its own baseline impostors.")
    first = next(iter(result.results.values()))
    notes = colouriser_notes(clean(first.rows), first.context.get("colouriser_descriptions")) + notes
    notes += table3_notes(clean(first.rows), fmr, mfm)
    return table_file(out, "table3", header, body, "Table 3: biometric performance, every system", notes,
                      csv_table=(csv_header, csv_body))


def _agreement_table(out: Path, result) -> Table:
    names = list(result.results)
    header = ["Row b vs row a", "All agree", *[f"{n}: b - a (points) [CI]" for n in names]]
    body = [[f"{a['b']} vs {a['a']}", "yes" if a["agree"] else "no",
             *[f"{a['directions'][n]}: {100 * a['frr_difference'][n]:+.2f} [{100 * a['frr_interval'][n]['low']:+.2f}, "
               f"{100 * a['frr_interval'][n]['high']:+.2f}]" for n in names]] for a in result.agreement]
    notes = ["Each system's paired comparison of the two rows (FRR at its own threshold, transaction level, paired "
             "subject-bootstrap 95% interval, as in its paired.csv). Direction: 'more' or 'fewer' when the interval "
             "excludes 0, else 'unclear'; the systems agree when every direction is the same."]
    notes += [as_sentence(a["sentence"]) for a in result.agreement]
    return table_file(out, "agreement", header, body, "Agreement between the systems", notes)


def _plot_det(out: Path, result, fmr: float, mfm: int, bands: dict | None) -> None:
    n = len(result.results)
    fig, axes = plots.subplots(n, 1, figsize=(9.0, 5.0 * n), squeeze=False)
    for ax, (name, r) in zip(axes[:, 0], result.results.items()):
        plots.plot_det(r.scores, r.context, fmr, None, ax=ax, min_false_matches=mfm, bands=bands,
                       title=f"{name}: open markers, the operating point at FMR={100 * fmr:g}%",
                       styles={x["label"]: i for i, x in enumerate(r.rows)})  # a row looks the same in each panel
    fig.tight_layout()
    plots.save(fig, out / "det.png")
