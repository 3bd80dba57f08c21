"""``fr-eval key=value ...`` (also ``python -m fr_eval`` and ``python run_eval.py``): Hydra-style
overrides, one-line errors."""
from __future__ import annotations

import logging
import shlex
import sqlite3
import sys
import time
import traceback
from dataclasses import fields
from pathlib import Path

from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .compose import ALLOW_MODEL_CHANGE, _one_line, dataset_names, recorded_config, replay_config, resolve_config
from .errors import ConfigError, FrEvalError
from .provenance import utc_now
from .registry import FAMILIES
from .settings import COLOURISERS, DATASETS, QUALITY, SYSTEMS, Config, DatasetSettings, describe, plain
from .store import is_disk_full

USAGE = """usage: fr-eval [key=value ...] [--cfg]
       fr-eval --replay reports/<run>/config.yaml [key=value ...] [--replay-allow-model-change]
       fr-eval compare reports/<A> reports/<B> [out_dir=...]   two runs (e.g. two systems) on the same attempts

  scenario=1|2|3|4|5|all|[1,4]   which rows of the paper's Table 3 to compute
  scenario=generated generated.manifest=<csv>
                                 identity-preservation audit of generated images
  dataset=<name> dataset.root=<dir>   a dataset config ({datasets}; your own: ./datasets/<name>.yaml)
  system=<name>|[a,b]            face system ({systems}); arcface: system.pack=<name> or
                                 system.detector=<det.onnx> system.recogniser=<rec.onnx>
  colouriser=<name>|[a,b]        colourisers for scenarios 4 and 5 ({colourisers})
  fmr=0.001                      operating point as a fraction (0.001 = 0.1%)
  out_dir=reports/<name>         where the report goes (default ./reports/<date_time>)
  store_dir=<dir>                the store of acquisitions (default $XDG_CACHE_HOME/fr-eval/store)
  --cfg                          print the resolved config as YAML and exit
  --keys                         list every key with its default and meaning (system=<name> for its keys)
  --replay <config.yaml>         run a past run's resolved config again (same figures), with overrides
"""


def entry() -> int:
    """The ``fr-eval`` command (and ``python -m fr_eval``, ``run_eval.py``): :func:`main`, with Ctrl-C
    said in one line and exit status 130. In-process callers of :func:`main` (a notebook, pytest) get
    the KeyboardInterrupt itself, so Ctrl-C stops them too."""
    try:
        return main()
    except KeyboardInterrupt:
        print("interrupted: everything acquired so far is kept in the store; run again to resume",
              file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` in this process; returns the exit status (0 done, 2 a one-line
    error, 3 a fault of fr-eval, its traceback in ``<out_dir>/error.log``, or a report with errors of the
    machine). A KeyboardInterrupt is not caught here (see :func:`entry`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE.format(datasets=", ".join(dataset_names()),
                           systems="|".join(FAMILIES["systems"].builtin() + FAMILIES["systems"].plugins()),
                           colourisers="exemplar, precomputed, deoldify-*, or your own under colourisers.<name>"))
        return 0
    if "--keys" in argv:
        print(keys_text([a for a in argv if a != "--keys"]))
        return 0
    if argv[:1] == ["compare"]:  # fr-eval compare reports/A reports/B
        try:
            from .comparing import main as compare_main  # the pipeline, loaded when a run starts
            return compare_main(argv[1:])
        except FrEvalError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    show_cfg = "--cfg" in argv
    overrides = [a for a in argv if a != "--cfg"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        allow_change = ALLOW_MODEL_CHANGE in overrides
        overrides = [o for o in overrides if o != ALLOW_MODEL_CHANGE]
        if overrides and overrides[0].startswith("--replay"):
            path = overrides[0].split("=", 1)[1] if "=" in overrides[0] else (overrides[1:2] or [""])[0]
            rest = overrides[1:] if "=" in overrides[0] else overrides[2:]
            cfg = replay_config(path, rest, allow_change)
        else:
            cfg = resolve_config(overrides)
    except FrEvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (HydraException, OmegaConfBaseException) as exc:  # composing the user's overrides: their mistake
        print(f"error: {_one_line(exc, overrides)}", file=sys.stderr)
        return 2
    if show_cfg:
        print(OmegaConf.to_yaml(plain(cfg)), end="")
        return 0
    try:
        return run_and_report(cfg, invocation(argv))
    except FrEvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # after composition, only a full disk or a damaged store is the user's to fix
        if is_disk_full(exc):
            print("error: disk full while writing; everything committed to the store before is kept and the report "
                  "was not written; free space and run again to resume", file=sys.stderr)
            return 2
        if isinstance(exc, sqlite3.DatabaseError):
            print(f"error: the store failed ({' '.join(str(exc).split())}); run again: a damaged store is moved "
                  f"aside (kept for inspection) and a new one started", file=sys.stderr)
            return 2
        return report_fault(exc, cfg, argv)


#: exit status of a fault of fr-eval itself (a bug), and of a report with errors of the machine
EXIT_FAULT = 3


def report_fault(exc: BaseException, cfg: Config, argv: list[str]) -> int:
    """An exception that is no known input error is a fault of fr-eval: never printed as the user's
    mistake. Its full traceback goes to ``<out_dir>/error.log`` (the store's folder when the out_dir cannot
    be written), and one line says so, where the log is and what was kept. Exit status 3."""
    text = (f"fr-eval fault, {utc_now()}\ncommand: {invocation(argv)['command']}\ncwd: {Path.cwd()}\n"
            f"python {sys.version.split()[0]} on {sys.platform}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    log_path = None
    for folder in (Path(cfg.out_dir), Path(cfg.store_dir)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "error.log").write_text(text, encoding="utf-8")
            log_path = folder / "error.log"
            break
        except OSError:
            continue
    where = f"the traceback is in {log_path}" if log_path else "the traceback could not be written (below)"
    if log_path is None:
        print(text, file=sys.stderr)
    first = " ".join(str(exc).split())[:200]
    print(f"error: a fault of fr-eval, not of your input ({type(exc).__name__}: {first}); {where}; every "
          f"acquisition committed to the store ({cfg.store_dir}) is kept and no report was written; please report "
          f"it with that file", file=sys.stderr)
    return EXIT_FAULT


def keys_text(argv: list[str]) -> str:
    """Every key of the main config, of the chosen system (``system=<name>``, default auto), of the dataset
    types and of the quality measures, with its default and its doc, from :mod:`fr_eval.settings` (where
    each is defined), and the plug-ins installed in each entry-point group."""
    choice = next((a.split("=", 1)[1] for a in argv if a.startswith("system=")), "auto")
    rows = [r for r in describe(Config) if not r[0].startswith(("system", "dataset"))]
    for kind, cls in COLOURISERS.items():
        rows += [r for r in describe(cls, f"colourisers.<{kind}>.") if not r[0].endswith(".type")]
    rows += describe(SYSTEMS.get(choice, SYSTEMS["auto"]), "system.")
    rows += describe(DatasetSettings, "dataset.")
    for kind, cls in DATASETS.items():
        own = {f.name for f in fields(cls)} - {f.name for f in fields(DatasetSettings)}
        rows += [(f"dataset.{k}", d, f"[type={kind}] {doc}") for k, d, doc in describe(cls) if k in own]
    for name, cls in QUALITY.items():
        rows += describe(cls, f"quality_settings.{name}.")
    for fam in FAMILIES.values():
        rows.append((f"{fam.name} ({fam.chosen_by})", "", f"built in: {', '.join(fam.builtin())}"))
        rows.append((f"plug-ins ({fam.group})", "", ", ".join(fam.plugins()) or "none installed"))
    lines = []
    for k, d, doc in rows:
        head = f"{k}={d}" if d else k
        lines.append(f"  {head:<34} {doc}" if len(head) <= 34 else f"  {head}\n  {'':<34} {doc}")
    return "\n".join(lines)


#: exit status of a run whose report was written but some samples hit errors of the machine
EXIT_TRANSIENT = EXIT_FAULT


def invocation(argv: list[str]) -> dict:
    """How this run was started, for the report: the command line and the working directory."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "fr-eval"
    prog = "python -m fr_eval" if prog == "__main__.py" else ("fr-eval" if prog in ("", "-c") else prog)
    return {"argv": list(argv), "command": " ".join([prog, *(shlex.quote(a) for a in argv)]), "cwd": str(Path.cwd())}


def run_and_report(cfg: Config, how: dict | None = None) -> int:
    """Run and write the report into a staging folder that becomes ``out_dir`` once complete."""
    from .report.console import console_summary, warnings_of  # the pipeline, loaded when a run starts
    from .report.io import StagedDir, refuse_filled_out_dir

    t0 = time.perf_counter()
    out = Path(cfg.out_dir)
    refuse_filled_out_dir(out, cfg.overwrite)
    kind = ("scores" if cfg.scores else "candidates" if cfg.candidates else
            "audit" if str(cfg.scenario) == "generated" else "scenarios")
    with StagedDir(out) as staging:
        handler = logging.FileHandler(staging / "run.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        try:
            result = _run_and_write(cfg, staging, kind, how or invocation([]))
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
    print(console_summary(result, kind, out))
    for w in warnings_of(result):
        print(f"warning: {w}", file=sys.stderr)
    if kind in ("scores", "candidates"):
        print(f"report: {out}  ({time.perf_counter() - t0:.1f} s; from {kind[:-1]} files)")
        return 0
    engine = result.context["engine"]
    print(f"report: {out}  ({time.perf_counter() - t0:.1f} s; {engine['computed']} acquisitions computed, "
          f"{engine['reused']} reused from the store)")
    if engine.get("transient_errors"):
        print(f"warning: {engine['transient_errors']} sample(s) failed on errors of the machine, not of the images "
              f"(kind 'error' in failures.csv); they count as failures to acquire in this report; they were not "
              f"stored, so running again retries them", file=sys.stderr)
        return EXIT_TRANSIENT
    return 0


def _pipeline(kind: str, several: bool):
    """(compute, write) of a run kind. Imported here, when a run starts: the pipeline (the stages, numba,
    matplotlib and the report: about 1 s) is not loaded for --help, --keys, --cfg or a one-line error."""
    if kind == "scores":
        from .report.score_files import write_score_report  # the pipeline, loaded when a run starts
        from .stages.score_import import import_scores
        return import_scores, write_score_report
    if kind == "candidates":
        from .report.candidate_files import write_candidate_report  # the pipeline, loaded when a run starts
        from .stages.candidate_import import import_candidates
        return import_candidates, write_candidate_report
    if kind == "audit":
        from .auditing import run_audit, run_audit_systems  # the pipeline, loaded when a run starts
        from .report.audit import write_audit_report
        from .report.judges import write_audit_systems_report
        return (run_audit_systems, write_audit_systems_report) if several else (run_audit, write_audit_report)
    from .report import write_report  # the pipeline, loaded when a run starts
    from .report.systems import write_systems_report
    from .runner import run, run_systems
    return (run_systems, write_systems_report) if several else (run, write_report)


def _run_and_write(cfg: Config, out: Path, kind: str, how: dict):
    """``kind``: ``scenarios``, ``audit`` (generated images), ``scores`` (score import) or ``candidates``
    (candidate-list import)."""
    if cfg.systems and kind == "scores":
        raise ConfigError("system=[...] does not apply to score files (their scores are one system's already)")
    compute, write = _pipeline(kind, bool(cfg.systems))
    started = utc_now()
    result = compute(cfg, progress=cfg.progress)
    result.context["started"] = started
    result.context["invocation"] = {**how, "replay": f"fr-eval --replay {Path(cfg.out_dir) / 'config.yaml'}"}
    result.context["paths"] = {"out_dir": cfg.out_dir, "store_dir": cfg.store_dir}
    if cfg.replay_model_change:
        result.context["warnings"] = [f"replayed with other model files ({ALLOW_MODEL_CHANGE}): "
                                      f"{cfg.replay_model_change}", *result.context.get("warnings", [])]
    write(out, result, recorded_config(cfg, result))
    return result
