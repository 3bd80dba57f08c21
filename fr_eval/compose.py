"""The parsing layer: the command line's ``key=value`` overrides (Hydra), ``--replay``'s saved
``config.yaml`` and :func:`fr_eval.evaluate`'s keywords become one typed :class:`~fr_eval.settings.Config`
here, checked once, paths resolved; nothing after this module reads the configuration as a dict.
Also the way back: :func:`recorded_config` is the config a report records."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from . import config as parsers
from .errors import ConfigError
from .fetch import cache_dir
from .settings import SYSTEMS, Bootstrap, Config, defaults, validate
from .systems import build_system

CONF_DIR = Path(__file__).resolve().parent / "conf"
#: the checkout fr-eval runs from, if it runs from one (relative dataset roots are also tried there)
CHECKOUT = Path(__file__).resolve().parents[1]
if not (CHECKOUT / "pyproject.toml").is_file():
    CHECKOUT = None


def user_datasets_dir() -> Path:
    """Your own dataset configs: ``./datasets/*.yaml`` of the working directory."""
    return Path.cwd() / "datasets"


def dataset_names() -> list[str]:
    shipped = {p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")}
    return sorted(shipped | {p.stem for p in user_datasets_dir().glob("*.yaml")})


def _register_datasets():
    """Your own dataset configs join the shipped ones (a shipped name wins; see datasets/README.md)."""
    cs = ConfigStore.instance()
    shipped = {p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")}
    for f in sorted(user_datasets_dir().glob("*.yaml")):
        if f.stem not in shipped:
            cs.store(group="dataset", name=f.stem, node=OmegaConf.load(f))


def _unparsable(overrides) -> str | None:
    """The first override Hydra's grammar cannot read, with how to quote it; None if all parse."""
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
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    try:
        cfg = compose([o for o in overrides if o.split("=", 1)[0] in ("dataset", "system")])
        node = OmegaConf.select(cfg, parent) if parent else cfg
    except Exception:
        return ["(see fr-eval --cfg)"]
    if not isinstance(node, DictConfig):
        return ["(see fr-eval --cfg)"]
    return [f"{parent}.{k}" if parent else k for k in node.keys()]


def register() -> None:
    """Store the defaults of :mod:`fr_eval.settings` in Hydra's ConfigStore: ``fr_eval_defaults`` and
    ``system/<name>``."""
    cs = ConfigStore.instance()
    cs.store(name="fr_eval_defaults", node=defaults())
    for name, cls in SYSTEMS.items():
        cs.store(group="system", name=name, node=dataclasses.asdict(cls()))


def compose(overrides: list[str]):
    OmegaConf.register_new_resolver("fr_eval.cache", cache_dir, replace=True)
    register()
    _register_datasets()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=overrides)


def system_list(overrides: list[str]) -> tuple[list[str] | None, list[str]]:
    """``system=[a,b,...]`` among the overrides: (the names, the other overrides); (None, all) without one."""
    lists = [o for o in overrides if o.startswith("system=[")]
    if not lists:
        return None, overrides
    names = [n.strip() for n in lists[-1][len("system=["):].rstrip("]").split(",") if n.strip()]
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"{lists[-1]}: give distinct system names, e.g. system=[arcface,sface,dlib]")
    return names, [o for o in overrides if o not in lists]


def resolve_config(overrides: list[str]) -> Config:
    """Compose the config from overrides into :class:`Config`, paths resolved. With ``system=[a,b]``
    each system is composed on its own (``system.<name>.<key>=value`` are its keys) and the config
    holds them all under ``systems``, the first also under ``system``."""
    names, rest = system_list(overrides)
    if names is None:
        return finish(_resolve_one(overrides))
    bare = [o for o in rest if o.startswith("system.") and o.split("=", 1)[0].split(".")[1] not in names]
    if bare:
        raise ConfigError(f"{bare[0]}: with system=[{','.join(names)}] give each system's keys as "
                          f"system.<name>.<key>=value (e.g. system.{names[0]}.det_thresh=0.5)")
    common = [o for o in rest if not o.startswith("system.")]
    per = {}
    for n in names:
        own = [f"system.{o[len(f'system.{n}.'):]}" for o in rest if o.startswith(f"system.{n}.")]
        per[n] = _resolve_one(common + [f"system={n}"] + own)
    values = per[names[0]]
    values["systems"] = [per[n]["system"] for n in names]
    return finish(values)


def _resolve_one(overrides: list[str]) -> dict:
    composed = compose(overrides)
    try:
        return OmegaConf.to_container(composed, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{key} must be given, e.g. {key}=<value>") from exc


def finish(values: dict) -> Config:
    """A plain config's paths made absolute (dataset paths relative to the working directory, else to
    the checkout when fr-eval runs from one), then parsed into :class:`Config`."""
    ds = values.get("dataset") or {}
    for key in ("root", "path", "local"):
        value = ds.get(key)
        if value and not Path(value).expanduser().is_absolute() and not Path(value).exists() \
                and CHECKOUT is not None and (CHECKOUT / value).exists():
            ds[key] = str((CHECKOUT / value).resolve())
    config = validate(values)
    return dataclasses.replace(config, out_dir=str(Path(config.out_dir).expanduser().resolve()),
                               store_dir=str(Path(config.store_dir).expanduser().resolve()))


#: lets a replay run although its model files' sha256 differ from the recorded ones (the report says so)
ALLOW_MODEL_CHANGE = "--replay-allow-model-change"


def replay_config(path: str, overrides: list[str], allow_model_change: bool = False) -> Config:
    """A past run's resolved ``config.yaml`` with ``key=value`` overrides; a new ``out_dir`` unless
    one is given, so the past report is never overwritten. The face system is the one the run used
    (``system=auto`` was recorded as what it resolved to); when its model files' sha256 differ from
    those the run recorded, the replay stops, unless ``allow_model_change`` (then the report says so)."""
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
        values = OmegaConf.to_container(merged, resolve=True)
    except Exception as exc:  # yaml's and OmegaConf's errors for a damaged file are of many types
        first = " ".join(str(exc).split())[:200]
        raise ConfigError(f"--replay {p}: not a readable fr-eval config.yaml ({type(exc).__name__}: {first})") from None
    if not any(o.startswith("out_dir=") for o in overrides):
        values["out_dir"] = str(Path("reports") / time.strftime("%Y-%m-%d_%H-%M-%S"))
    config = finish(values)
    if not any(o.startswith("system.") for o in overrides):  # a system key overridden: a change asked for
        config = check_recorded_models(config, allow_model_change)
    return config


def recorded_config(config: Config, result) -> Config:
    """The configuration as ``config.yaml`` keeps it: ``system=auto`` replaced by the system it resolved
    to (the choice kept in ``system_resolved_from``), and each system's model files under
    ``recorded_models`` (role, path, sha256), so that ``--replay`` runs the same system or says why not."""
    runs = result.results if hasattr(result, "results") else {None: result}
    recorded = {}
    for name, r in runs.items():
        desc = r.context.get("system") if hasattr(r, "context") else None
        if not isinstance(desc, dict) or not desc.get("models"):
            continue
        recorded[str(desc.get("name", name))] = [{"role": m.get("role"), "path": m.get("path"), "sha256": m.get("sha256")}
                                                 for m in desc["models"]]
    used = next((n for n in recorded if n in ("arcface", "sface")), None)
    resolved_from = config.system_resolved_from

    def resolved(node):
        nonlocal resolved_from
        if getattr(node, "name", None) == "auto" and used:
            resolved_from = "auto"
            return getattr(node, used)
        return node

    systems = [resolved(n) for n in config.systems] if config.systems else None
    system = systems[0] if systems else resolved(config.system)
    return dataclasses.replace(config, system=system, systems=systems, system_resolved_from=resolved_from,
                               recorded_models=recorded or config.recorded_models)


def check_recorded_models(config: Config, allow: bool) -> Config:
    """Stop (one line) when a system's model files differ from those the replayed run recorded; with
    ``allow``, the config that says so (``replay_model_change``)."""
    recorded = config.recorded_models or {}
    if not recorded or config.scores or config.embeddings:
        return config

    changes = []
    for node in config.systems or [config.system]:
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
        return config
    if not allow:
        raise ConfigError(f"--replay: the model files differ from the run's, so the figures would too: "
                          f"{'; '.join(changes)}; give {ALLOW_MODEL_CHANGE} to run anyway (the report says so)")
    return dataclasses.replace(config, replay_model_change="; ".join(changes))


def per_system_configs(config: Config) -> dict:
    """``system=[a,b,...]``: system name -> the config of a run with that one system."""
    return {str(node.name): dataclasses.replace(config, system=node, systems=None) for node in config.systems}


#: ``fr-eval compare``'s keys (its own small command line: two report folders and these)
COMPARE_KEYS = ("out_dir", "bootstrap.n_resamples", "bootstrap.confidence", "seed", "report.det_bands",
                "allow_different_data", "overwrite")


@dataclasses.dataclass(frozen=True)
class CompareOptions:
    """What ``fr-eval compare A B [key=value ...]`` was given, parsed once (:func:`compare_options`)."""
    command: str
    a: str
    b: str
    out_dir: str
    bootstrap: dict  # n_resamples, confidence, seed: fr_eval.metrics.interval_kwargs's keywords
    det_bands: bool
    allow_different_data: bool
    overwrite: bool
    data: str = ""  # set once the reports are read: whether they hold the same images

    def record(self) -> dict:
        """What the comparison's metrics.json and page record of how it was made."""
        return {"command": self.command, "a": self.a, "b": self.b, "out_dir": self.out_dir,
                "bootstrap": self.bootstrap, "data": self.data, "det_bands": self.det_bands}


def compare_options(args: list[str]) -> CompareOptions:
    """``fr-eval compare``'s arguments parsed (one-line errors, the usage on a wrong shape)."""
    folders = [x for x in args if "=" not in x]
    opts = dict(x.split("=", 1) for x in args if "=" in x)
    unknown = sorted(set(opts) - set(COMPARE_KEYS))
    if len(folders) != 2 or unknown:
        raise ConfigError("usage: fr-eval compare <report A> <report B> [out_dir=...] [bootstrap.n_resamples=N] "
                          "[bootstrap.confidence=0.95] [seed=0] [report.det_bands=true] [allow_different_data=true] "
                          "[overwrite=true]" + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    defaults = Bootstrap()
    bootstrap = {"n_resamples": parsers.integer("bootstrap.n_resamples", opts.get("bootstrap.n_resamples",
                                                                           defaults.n_resamples), 1),
                 "confidence": parsers.fraction("bootstrap.confidence", opts.get("bootstrap.confidence", defaults.confidence)),
                 "seed": parsers.integer("seed", opts.get("seed", 0))}
    out = opts.get("out_dir") or str(Path("reports") / f"compare_{time.strftime('%Y-%m-%d_%H-%M-%S')}")
    return CompareOptions(command="fr-eval compare " + " ".join(args), a=folders[0], b=folders[1], out_dir=str(out),
                          bootstrap=bootstrap, det_bands=parsers.boolean("report.det_bands", opts.get("report.det_bands", "false")),
                          allow_different_data=parsers.boolean("allow_different_data", opts.get("allow_different_data") or "false"),
                          overwrite=parsers.boolean("overwrite", opts.get("overwrite") or "false"))
