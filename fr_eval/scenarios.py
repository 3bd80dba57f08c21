"""Scenario definitions: which image variant the references and the probes are presented in."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from .errors import ConfigError

VARIANT_KINDS = ("original", "greyscale", "colourised")


@dataclass(frozen=True)
class Scenario:
    id: str
    reference: str  # one of VARIANT_KINDS
    probe: str
    description: str = ""

    @property
    def needs_colouriser(self) -> bool:
        return "colourised" in (self.reference, self.probe)


@dataclass(frozen=True)
class ScenarioSet:
    name: str
    baseline: str
    scenarios: dict  # id -> Scenario
    source: str = ""


def scenario_dirs() -> list[Path]:
    """Where ``scenarios=<name>`` is looked up: ``./scenarios`` of the working directory (your own
    sets), then the sets shipped inside the package."""
    return [Path.cwd() / "scenarios", Path(__file__).resolve().parent / "scenario_sets"]


def load_scenario_set(name_or_path: str) -> ScenarioSet:
    p = Path(name_or_path)
    if not p.suffix:
        p = next((d / f"{name_or_path}.yaml" for d in scenario_dirs() if (d / f"{name_or_path}.yaml").is_file()), p)
    if not p.is_file():
        known = sorted({q.stem for d in scenario_dirs() for q in d.glob("*.yaml")})
        raise ConfigError(f"scenarios={name_or_path} not found; choose from {', '.join(known)} or give a YAML path")
    raw = OmegaConf.to_container(OmegaConf.load(p), resolve=True)
    out = {}
    for sid, d in raw["scenarios"].items():
        for side in ("reference", "probe"):
            if d[side] not in VARIANT_KINDS:
                raise ConfigError(f"{p}: scenario {sid} {side}={d[side]}; choose from {', '.join(VARIANT_KINDS)}")
        out[str(sid)] = Scenario(str(sid), d["reference"], d["probe"], d.get("description", ""))
    baseline = str(raw.get("baseline", "1"))
    if baseline not in out or out[baseline].needs_colouriser:
        raise ConfigError(f"{p}: baseline scenario {baseline} must be defined and use no colouriser")
    return ScenarioSet(raw.get("name", p.stem), baseline, out, raw.get("source", ""))


def select(sset: ScenarioSet, choice) -> list[Scenario]:
    """``all``, one id, or a list of ids -> the scenarios, in the set's order."""
    valid = list(sset.scenarios)
    if isinstance(choice, (list, tuple)) or hasattr(choice, "__iter__") and not isinstance(choice, str):
        wanted = [str(c) for c in choice]
    elif str(choice) == "all":
        wanted = valid
    else:
        wanted = [str(choice)]
    bad = [w for w in wanted if w not in valid]
    if bad or not wanted:
        raise ConfigError(f"scenario={','.join(bad) or '(empty)'} is not valid; choose from "
                          f"{', '.join(valid)}, all (or a list such as [1,4])")
    return [sset.scenarios[v] for v in valid if v in wanted]
