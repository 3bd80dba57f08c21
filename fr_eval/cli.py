"""``python run_eval.py key=value ...``: Hydra-style overrides, one-line errors."""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
CONF_DIR = Path(__file__).resolve().parent / "conf"
DATASETS_DIR = PROJECT / "datasets"

USAGE = """usage: python run_eval.py [key=value ...] [--cfg]

  scenario=1|2|3|4|5|all|[1,4]   which rows of the paper's Table 3 to compute
  scenario=generated generated.manifest=<csv>
                                 identity-preservation audit of generated images
  dataset=<name> dataset.root=<dir>   a config in datasets/ ({datasets})
  system=arcface|sface|auto      face system; arcface: system.pack=<name> or
                                 system.detector=<det.onnx> system.recogniser=<rec.onnx>
  colouriser=<name>|[a,b]        colourisers for scenarios 4 and 5 ({colourisers})
  fmr=0.001                      operating point as a fraction (0.001 = 0.1%)
  out_dir=reports/<name>         where the report goes
  --cfg                          print the resolved config and exit
"""


def _register_datasets():
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    cs = ConfigStore.instance()
    for f in sorted(DATASETS_DIR.glob("*.yaml")):
        cs.store(group="dataset", name=f.stem, node=OmegaConf.load(f))


def _one_line(exc: Exception, overrides: list[str] = ()) -> str:
    from hydra.errors import MissingConfigException

    if isinstance(exc, MissingConfigException) and getattr(exc, "options", None):
        group = str(exc.missing_cfg_file).split("/")[0] if exc.missing_cfg_file else "value"
        wanted = str(exc.missing_cfg_file).split("/")[-1] if exc.missing_cfg_file else "?"
        return f"{group}={wanted} is not valid; choose from {', '.join(sorted(exc.options))}"
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if first.startswith("Could not override '"):
        key = first.split("'")[1]
        valid = _valid_keys(key, overrides)
        if key in valid:  # the key exists: the value could not be set
            why = next((t.strip() for t in text[1:] if t.strip() and not t.startswith("Key:")), "")
            return f"could not set {key}: {why}".rstrip(": ")
        return f"unknown key '{key}'; valid keys: {', '.join(valid)} (add a new one with +{key}=...)"
    return first


def _valid_keys(key: str, overrides) -> list[str]:
    """Keys of the node that ``key`` addresses (composed with the group choices only)."""
    from omegaconf import DictConfig, OmegaConf

    parent = key.rsplit(".", 1)[0] if "." in key else ""
    try:
        cfg = compose([o for o in overrides if o.split("=", 1)[0] in ("dataset", "system")])
        node = OmegaConf.select(cfg, parent) if parent else cfg
    except Exception:
        return ["(see fr_eval/conf/config.yaml)"]
    if not isinstance(node, DictConfig):
        return ["(see fr_eval/conf/config.yaml)"]
    return [f"{parent}.{k}" if parent else k for k in node.keys()]


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    _register_datasets()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def resolve_config(overrides: list[str]) -> dict:
    """Compose the config from overrides and return it as plain containers, paths resolved."""
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue

    from .errors import ConfigError

    cfg = compose(overrides)
    try:
        plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{key} must be given, e.g. {key}=<value>") from exc
    from .config import validate
    validate(plain)
    ds = plain["dataset"]
    for key in ("root", "path"):
        value = ds.get(key)
        if value and not Path(value).expanduser().is_absolute() and not Path(value).exists() \
                and (PROJECT / value).exists():
            ds[key] = str((PROJECT / value).resolve())  # relative to the project when not to the cwd
    return plain


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from .errors import FrEvalError

    if any(a in ("-h", "--help") for a in argv):
        print(USAGE.format(datasets=", ".join(sorted(p.stem for p in DATASETS_DIR.glob("*.yaml"))),
                           colourisers="exemplar, precomputed, or your own under colourisers.<name>"))
        return 0
    show_cfg = "--cfg" in argv
    overrides = [a for a in argv if a != "--cfg"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = resolve_config(overrides)
        if show_cfg:
            print(json.dumps(cfg, indent=2))
            return 0
        return run_and_report(cfg)
    except FrEvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: everything acquired so far is kept in the store; run again to resume",
              file=sys.stderr)
        return 130
    except Exception as exc:  # Hydra's composition errors
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        from .store import is_disk_full

        if isinstance(exc, (HydraException, OmegaConfBaseException)):
            print(f"error: {_one_line(exc, overrides)}", file=sys.stderr)
            return 2
        if is_disk_full(exc):
            print("error: disk full while writing; everything committed to the store before is kept and the report "
                  "was not written; free space and run again to resume", file=sys.stderr)
            return 2
        import sqlite3
        if isinstance(exc, sqlite3.DatabaseError):
            print(f"error: the store failed ({' '.join(str(exc).split())}); run again: a damaged store is moved "
                  f"aside (kept for inspection) and a new one started", file=sys.stderr)
            return 2
        raise


#: exit status of a run whose report was written but some samples hit errors of the machine
EXIT_TRANSIENT = 3


def run_and_report(cfg: dict) -> int:
    """Run and write the report into a staging folder that becomes ``out_dir`` once complete."""
    from .report_io import StagedDir

    t0 = time.perf_counter()
    out = Path(cfg["out_dir"])
    audit = str(cfg.get("scenario")) == "generated"
    with StagedDir(out) as staging:
        handler = logging.FileHandler(staging / "run.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        try:
            result = _run_and_write(cfg, staging, audit)
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
    print((out / ("generated_methods.md" if audit else "table3.md")).read_text())
    engine = result.context["engine"]
    print(f"report: {out}  ({time.perf_counter() - t0:.1f} s; {engine['computed']} acquisitions computed, "
          f"{engine['reused']} reused from the store)")
    if engine.get("transient_errors"):
        print(f"warning: {engine['transient_errors']} sample(s) failed on errors of the machine, not of the images "
              f"(kind 'error' in failures.csv); they count as failures to acquire in this report; they were not "
              f"stored, so running again retries them", file=sys.stderr)
        return EXIT_TRANSIENT
    return 0


def _run_and_write(cfg: dict, out: Path, audit: bool):
    if audit:
        from .audit import run_audit
        from .report_audit import write_audit_report
        result = run_audit(cfg, progress=bool(cfg.get("progress", True)))
        write_audit_report(out, result, cfg)
    else:
        from .report import write_report
        from .runner import run
        result = run(cfg, progress=bool(cfg.get("progress", True)))
        write_report(out, result, cfg)
    return result
