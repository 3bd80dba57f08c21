"""``fr-eval key=value ...`` (also ``python -m fr_eval`` and ``python run_eval.py``): Hydra-style
overrides, one-line errors."""
from __future__ import annotations

import logging
import shlex
import sys
import time
from pathlib import Path

from .fetch import cache_dir  # noqa: F401  (the ${fr_eval.cache:...} resolver; re-exported)

CONF_DIR = Path(__file__).resolve().parent / "conf"
#: the checkout fr-eval runs from, if it runs from one (relative dataset roots are also tried there)
CHECKOUT = Path(__file__).resolve().parents[1]
if not (CHECKOUT / "pyproject.toml").is_file():
    CHECKOUT = None

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


def user_datasets_dir() -> Path:
    """Your own dataset configs: ``./datasets/*.yaml`` of the working directory."""
    return Path.cwd() / "datasets"


def dataset_names() -> list[str]:
    shipped = {p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")}
    return sorted(shipped | {p.stem for p in user_datasets_dir().glob("*.yaml")})


def _register_datasets():
    """Your own dataset configs join the shipped ones (a shipped name wins; see datasets/README.md)."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    cs = ConfigStore.instance()
    shipped = {p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")}
    for f in sorted(user_datasets_dir().glob("*.yaml")):
        if f.stem not in shipped:
            cs.store(group="dataset", name=f.stem, node=OmegaConf.load(f))


def _unparsable(overrides) -> str | None:
    """The first override Hydra's grammar cannot read, with how to quote it; None if all parse."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for o in overrides:
        try:
            parser.parse_overrides([o])
        except OverrideParseException:
            key, _, value = o.partition("=")
            quoted = value.replace("'", "\\'")
            return (f"{o}: Hydra cannot read this value (characters such as ( ) [ ] {{ }} , : = spaces and non-ASCII "
                    f"letters need quoting); quote it: \"{key}='{quoted}'\" (the double quotes keep the single ones "
                    f"from the shell)")
    return None


def _one_line(exc: Exception, overrides: list[str] = ()) -> str:
    from hydra.errors import MissingConfigException, OverrideParseException

    if isinstance(exc, OverrideParseException) or type(exc).__name__.endswith("ParseException"):
        found = _unparsable(overrides)
        if found:
            return found
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
        return ["(see fr-eval --cfg)"]
    if not isinstance(node, DictConfig):
        return ["(see fr-eval --cfg)"]
    return [f"{parent}.{k}" if parent else k for k in node.keys()]


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from .settings import register

    OmegaConf.register_new_resolver("fr_eval.cache", cache_dir, replace=True)
    register()
    _register_datasets()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def system_list(overrides: list[str]) -> tuple[list[str] | None, list[str]]:
    """``system=[a,b,...]`` among the overrides: (the names, the other overrides); (None, all) without one."""
    from .errors import ConfigError

    lists = [o for o in overrides if o.startswith("system=[")]
    if not lists:
        return None, overrides
    names = [n.strip() for n in lists[-1][len("system=["):].rstrip("]").split(",") if n.strip()]
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"{lists[-1]}: give distinct system names, e.g. system=[arcface,sface,dlib]")
    return names, [o for o in overrides if o not in lists]


def resolve_config(overrides: list[str]) -> dict:
    """Compose the config from overrides and return it as plain containers, paths resolved. With
    ``system=[a,b]`` each system is composed on its own (``system.<name>.<key>=value`` are its keys)
    and the config holds them all under ``systems``, the first also under ``system``."""
    from .errors import ConfigError

    names, rest = system_list(overrides)
    if names is None:
        return _resolve_one(overrides)
    bare = [o for o in rest if o.startswith("system.") and o.split("=", 1)[0].split(".")[1] not in names]
    if bare:
        raise ConfigError(f"{bare[0]}: with system=[{','.join(names)}] give each system's keys as "
                          f"system.<name>.<key>=value (e.g. system.{names[0]}.det_thresh=0.5)")
    common = [o for o in rest if not o.startswith("system.")]
    per = {}
    for n in names:
        own = [f"system.{o[len(f'system.{n}.'):]}" for o in rest if o.startswith(f"system.{n}.")]
        per[n] = _resolve_one(common + [f"system={n}"] + own)
    cfg = per[names[0]]
    cfg["systems"] = [per[n]["system"] for n in names]
    return cfg


def _resolve_one(overrides: list[str]) -> dict:
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue

    from .errors import ConfigError

    cfg = compose(overrides)
    try:
        plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{key} must be given, e.g. {key}=<value>") from exc
    return finish(plain)


def finish(plain: dict) -> dict:
    """Validate a plain config and make its paths absolute (dataset paths relative to the working
    directory, else to the checkout when fr-eval runs from one)."""
    from .settings import validate

    validate(plain)
    ds = plain["dataset"]
    for key in ("root", "path", "local"):
        value = ds.get(key)
        if value and not Path(value).expanduser().is_absolute() and not Path(value).exists() \
                and CHECKOUT is not None and (CHECKOUT / value).exists():
            ds[key] = str((CHECKOUT / value).resolve())
    for key in ("out_dir", "store_dir"):
        plain[key] = str(Path(plain[key]).expanduser().resolve())
    return plain


#: lets a replay run although its model files' sha256 differ from the recorded ones (the report says so)
ALLOW_MODEL_CHANGE = "--replay-allow-model-change"


def replay_config(path: str, overrides: list[str], allow_model_change: bool = False) -> dict:
    """A past run's resolved ``config.yaml`` with ``key=value`` overrides; a new ``out_dir`` unless
    one is given, so the past report is never overwritten. The face system is the one the run used
    (``system=auto`` was recorded as what it resolved to); when its model files' sha256 differ from
    those the run recorded, the replay stops, unless ``allow_model_change`` (then the report says so)."""
    from omegaconf import DictConfig, OmegaConf

    from .errors import ConfigError

    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"--replay {path}: no such file (give a report's config.yaml)")
    bad = [o for o in overrides if "=" not in o or o.split("=", 1)[0] in ("dataset", "system")]
    if bad:
        raise ConfigError(f"--replay takes key=value overrides of the saved config, not {bad[0]} (group choices "
                          f"are fixed by the run being replayed)")
    try:
        base = OmegaConf.load(p)
        if not isinstance(base, DictConfig) or "dataset" not in base or "system" not in base:
            raise ValueError("it holds no dataset and system (truncated, or not a report's config.yaml?)")
        merged = OmegaConf.merge(base, OmegaConf.from_dotlist(overrides))
        plain = OmegaConf.to_container(merged, resolve=True)
    except Exception as exc:  # yaml's and OmegaConf's errors for a damaged file are of many types
        first = " ".join(str(exc).split())[:200]
        raise ConfigError(f"--replay {p}: not a readable fr-eval config.yaml ({type(exc).__name__}: {first})") from None
    if not any(o.startswith("out_dir=") for o in overrides):
        plain["out_dir"] = str(Path("reports") / time.strftime("%Y-%m-%d_%H-%M-%S"))
    plain = finish(plain)
    if not any(o.startswith("system.") for o in overrides):  # a system key overridden: a change asked for
        check_recorded_models(plain, allow_model_change)
    return plain


def recorded_config(cfg: dict, result) -> dict:
    """The configuration as ``config.yaml`` keeps it: ``system=auto`` replaced by the system it resolved
    to (the choice kept in ``system_resolved_from``), and each system's model files under
    ``recorded_models`` (role, path, sha256), so that ``--replay`` runs the same system or says why not."""
    import copy

    out = copy.deepcopy(cfg)
    runs = result.results if hasattr(result, "results") else {None: result}
    recorded = {}
    for name, r in runs.items():
        desc = r.context.get("system") if hasattr(r, "context") else None
        if not isinstance(desc, dict) or not desc.get("models"):
            continue
        recorded[str(desc.get("name", name))] = [{"role": m.get("role"), "path": m.get("path"), "sha256": m.get("sha256")}
                                                 for m in desc["models"]]
    nodes = out.get("systems") or [out.get("system")]
    for node in nodes:
        if isinstance(node, dict) and node.get("name") == "auto":
            used = next((n for n in recorded if n in ("arcface", "sface")), None)
            if used:
                resolved = {**node[used], "name": used}
                node.clear()
                node.update(resolved)
                out["system_resolved_from"] = "auto"
    if out.get("systems"):
        out["system"] = out["systems"][0]
    if recorded:
        out["recorded_models"] = recorded
    return out


def check_recorded_models(cfg: dict, allow: bool) -> None:
    """Stop (one line) when a system's model files differ from those the replayed run recorded."""
    from .errors import ConfigError

    recorded = cfg.get("recorded_models") or {}
    if not recorded or cfg.get("scores") or cfg.get("embeddings"):
        return
    from .systems import build_system

    changes = []
    for node in cfg.get("systems") or [cfg["system"]]:
        system, _ = build_system(node)
        desc = system.describe()
        was = {m["role"]: m for m in recorded.get(str(desc.get("name")), [])}
        for m in desc.get("models") or []:
            old = was.get(m.get("role"))
            if old and old.get("sha256") != m.get("sha256"):
                moved = f", was {old.get('path')}" if old.get("path") != m.get("path") else ""
                changes.append(f"{desc.get('name')} {m['role']} {m.get('path')}: sha256 {str(m.get('sha256'))[:12]}... "
                               f"now, {str(old.get('sha256'))[:12]}... recorded{moved}")
    if not changes:
        return
    if not allow:
        raise ConfigError(f"--replay: the model files differ from the run's, so the figures would too: "
                          f"{'; '.join(changes)}; give {ALLOW_MODEL_CHANGE} to run anyway (the report says so)")
    cfg["replay_model_change"] = "; ".join(changes)


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
    error, 3 a report with errors of the machine). A KeyboardInterrupt is not caught here (see :func:`entry`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from .errors import FrEvalError

    if any(a in ("-h", "--help") for a in argv):
        from .settings import SYSTEMS
        print(USAGE.format(datasets=", ".join(dataset_names()), systems="|".join(SYSTEMS),
                           colourisers="exemplar, precomputed, deoldify-*, or your own under colourisers.<name>"))
        return 0
    if "--keys" in argv:
        print(keys_text([a for a in argv if a != "--keys"]))
        return 0
    if argv[:1] == ["compare"]:  # fr-eval compare reports/A reports/B
        from .report.compare import main as compare_main
        try:
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
        if show_cfg:
            from omegaconf import OmegaConf
            print(OmegaConf.to_yaml(cfg), end="")
            return 0
        return run_and_report(cfg, invocation(argv))
    except FrEvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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


def keys_text(argv: list[str]) -> str:
    """Every key of the main config and of the chosen system (``system=<name>``, default auto), with its
    default and its doc, from :mod:`fr_eval.settings` (where each is defined)."""
    from .settings import COLOURISERS, SYSTEMS, Config, describe

    choice = next((a.split("=", 1)[1] for a in argv if a.startswith("system=")), "auto")
    rows = [r for r in describe(Config) if not r[0].startswith(("system", "dataset"))]
    for kind, cls in COLOURISERS.items():
        rows += [r for r in describe(cls, f"colourisers.<{kind}>.") if not r[0].endswith(".type")]
    rows += describe(SYSTEMS.get(choice, SYSTEMS["auto"]), "system.")
    rows.append(("dataset.*", "", "the chosen dataset config's own keys: fr-eval dataset=<name> --cfg"))
    lines = []
    for k, d, doc in rows:
        head = f"{k}={d}" if d else k
        lines.append(f"  {head:<34} {doc}" if len(head) <= 34 else f"  {head}\n  {'':<34} {doc}")
    return "\n".join(lines)


#: exit status of a run whose report was written but some samples hit errors of the machine
EXIT_TRANSIENT = 3


def invocation(argv: list[str]) -> dict:
    """How this run was started, for the report: the command line and the working directory."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "fr-eval"
    prog = "python -m fr_eval" if prog == "__main__.py" else ("fr-eval" if prog in ("", "-c") else prog)
    return {"argv": list(argv), "command": " ".join([prog, *(shlex.quote(a) for a in argv)]), "cwd": str(Path.cwd())}


def run_and_report(cfg: dict, how: dict | None = None) -> int:
    """Run and write the report into a staging folder that becomes ``out_dir`` once complete."""
    from .report.io import StagedDir

    t0 = time.perf_counter()
    out = Path(cfg["out_dir"])
    from .report.io import refuse_filled_out_dir
    refuse_filled_out_dir(out, bool(cfg.get("overwrite")))
    kind = "scores" if cfg.get("scores") else "audit" if str(cfg.get("scenario")) == "generated" else "scenarios"
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
    for w in _warnings_of(result):
        print(f"warning: {w}", file=sys.stderr)
    if kind == "scores":
        print(f"report: {out}  ({time.perf_counter() - t0:.1f} s; from score files)")
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


def console_summary(result, kind: str, out: Path, top: int = 5) -> str:
    """A few lines for the console (the tables are in the report): each row's headline figures, or the
    audit's best-ranked methods and its judges' verdict."""
    def pct(x):
        return "n/a" if x is None or x != x else f"{100 * x:.2f}%"

    lines = []
    runs = result.results if hasattr(result, "results") else {"": result}
    for name, r in runs.items():
        tag = f"{name}: " if name else ""
        if kind == "audit":
            ranked = [g for g in r.groups["method"] if g.get("rank") is not None]
            lines.append(f"{tag}identity preservation by method ({len(ranked)} ranked of {len(r.groups['method'])}; "
                         f"overall FTA {pct(r.overall['fta'])}, verified of all {pct(r.overall['verified_rate_of_all'])})")
            lines += [f"  {g['rank']}. {g['value']}: verified of all {pct(g['verified_rate_of_all'])} over {g['n']} "
                      f"images of {g['n_identities']} identities" for g in ranked[:top]]
            if len(ranked) > top:
                lines.append(f"  ... {len(ranked) - top} more ranked, and the unranked ones, in the report")
        else:
            rows = r.rows if hasattr(r, "rows") else r.evaluation.rows
            lines.append(f"{tag}Table 3 (FRR = FTA + FNMR x (1 - FTA) at the operating point; d'):")
            lines += [f"  {x['label']}: FRR {pct(x['frr'])}, FTA {pct(x['fta'])}, FNMR {pct(x['fnmr'])}, "
                      f"d' {x['d_prime']:.3f}" for x in rows]
    verdict = getattr(result, "judges", {}).get("verdict") if hasattr(result, "judges") else None
    if verdict:
        lines.append(verdict)
    lines.append(f"every table, interval and plot: {out / 'report.html'}")
    return "\n".join(lines)


def _warnings_of(result) -> list[str]:
    """The run's warnings about its data (one system's, or each system's, named)."""
    if hasattr(result, "results"):
        return [f"{n}: {w}" for n, r in result.results.items() for w in r.context.get("warnings") or []]
    return list(result.context.get("warnings") or [])


def _run_and_write(cfg: dict, out: Path, kind: str, how: dict):
    """``kind``: ``scenarios``, ``audit`` (generated images) or ``scores`` (score import)."""
    if cfg.get("systems") and kind == "scores":
        from .errors import ConfigError
        raise ConfigError("system=[...] does not apply to score files (their scores are one system's already)")
    if kind == "scores":
        from .report.score_files import import_scores as compute, write_score_report as write
    elif kind == "audit" and cfg.get("systems"):
        from .auditing import run_audit_systems as compute
        from .report.judges import write_audit_systems_report as write
    elif kind == "audit":
        from .auditing import run_audit as compute
        from .report.audit import write_audit_report as write
    elif cfg.get("systems"):
        from .report.systems import write_systems_report as write
        from .runner import run_systems as compute
    else:
        from .report import write_report as write
        from .runner import run as compute
    from .provenance import utc_now
    started = utc_now()
    result = compute(cfg, progress=bool(cfg["progress"]))
    result.context["started"] = started
    result.context["invocation"] = {**how, "replay": f"fr-eval --replay {Path(cfg['out_dir']) / 'config.yaml'}"}
    result.context["paths"] = {"out_dir": cfg["out_dir"], "store_dir": cfg["store_dir"]}
    if cfg.get("replay_model_change"):
        result.context["warnings"] = [f"replayed with other model files ({ALLOW_MODEL_CHANGE}): "
                                      f"{cfg['replay_model_change']}", *result.context.get("warnings", [])]
    write(out, result, recorded_config(cfg, result))
    return result
