"""The typed configuration: each default defined once (fr_eval.settings), the same in every way in."""
import dataclasses
import inspect

import pytest

from fr_eval import settings
from fr_eval.cli import resolve_config
from fr_eval.colourisers.deoldify import DeOldifyColouriser
from fr_eval.colourisers.exemplar import ExemplarColouriser
from fr_eval.systems.arcface import ArcFaceSystem
from fr_eval.systems.sface import SFaceSystem


def test_composed_config_carries_the_dataclass_defaults(tmp_path):
    cfg = resolve_config([f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 's'}", "system=arcface"])
    want, got = settings.defaults(), settings.plain(cfg)
    for key in ("fmr", "fmr_extra", "batch_size", "workers", "bootstrap", "report", "edc", "generated",
                "colourisers", "quality_settings", "impostors", "seed"):
        assert got[key] == want[key], key
    assert got["system"] == dataclasses.asdict(settings.ArcFaceSettings())
    typed = cfg
    assert isinstance(cfg, settings.Config) and isinstance(cfg.dataset, settings.FolderSettings)
    assert isinstance(typed.bootstrap, settings.Bootstrap) and typed.bootstrap.n_resamples == 1000
    assert isinstance(typed.system, settings.ArcFaceSettings) and typed.system.det_thresh == 0.5
    assert isinstance(typed.colourisers["deoldify-artistic"], settings.DeOldifySettings)
    assert typed.colourisers["deoldify-artistic"].model == "artistic"


def test_no_default_is_repeated_in_the_code():
    """Code reads validated keys as ``cfg[key]``: a ``.get("<key>", <default>)`` of a schema key would be
    a second copy of its default (the bug this schema replaced)."""
    import re
    from pathlib import Path

    import fr_eval
    names = {r[0].rsplit(".", 1)[-1] for cls in (settings.Config, *settings.SYSTEMS.values())
             for r in settings.describe(cls)} - {"name", "type", "root", "seed", "model", "weights", "strict"}
    pattern = re.compile(r'\.get\("(%s)", ' % "|".join(sorted(names)))
    found = [f"{p.name}:{n + 1}: {line.strip()}" for p in Path(fr_eval.__file__).parent.rglob("*.py")
             if p.name not in ("settings.py",) for n, line in enumerate(p.read_text().splitlines())
             if pattern.search(line)]
    assert not found, "\n".join(found)


def test_keyword_defaults_of_the_classes_are_the_configs():
    def kw(cls):
        return {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty}
    arc, sf = dataclasses.asdict(settings.ArcFaceSettings()), dataclasses.asdict(settings.SFaceSettings())
    for k, v in kw(ArcFaceSystem).items():
        if k in arc and k != "pack":
            assert (list(v) if isinstance(v, tuple) else v) == arc[k], k
    for k, v in kw(SFaceSystem).items():
        if k in sf and v is not None:
            assert (list(v) if isinstance(v, tuple) else v) == sf[k], k
    ex = dataclasses.asdict(settings.ExemplarSettings())
    assert {k: v for k, v in kw(ExemplarColouriser).items() if k != "name"} == \
        {k: v for k, v in ex.items() if k != "type"}
    de = dataclasses.asdict(settings.DeOldifySettings())
    for k, v in kw(DeOldifyColouriser).items():
        if k in de and v is not None:
            assert v == de[k], k


def test_validate_fills_what_an_older_saved_config_lacks(tmp_path):
    cfg = settings.plain(resolve_config([f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 's'}", "system=sface"]))
    old = {k: v for k, v in cfg.items() if k not in ("edc", "report", "verify_hashes")}
    old["bootstrap"] = {"n_resamples": 200}
    old["dataset"] = {k: v for k, v in old["dataset"].items() if k not in ("duplicates", "nested")}
    done = settings.validate(old)
    assert done.edc == settings.Edc(max_discard=0.2) and done.report.export_impostors == "auto"
    assert done.verify_hashes is False and done.bootstrap == settings.Bootstrap(n_resamples=200, confidence=0.95)
    assert done.dataset.duplicates == "error" and done.dataset.nested == "refuse"


def test_plugin_entries_outside_the_schema_are_kept(tmp_path):
    cfg = resolve_config([f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 's'}",
                          "+quality_settings.myq={alpha: 3}", "+colourisers.mine={type: myplug, k: 1}"])
    assert cfg.quality_settings["myq"] == {"alpha": 3}
    assert cfg.colourisers["mine"] == {"type": "myplug", "k": 1}
    assert settings.plain(cfg)["colourisers"]["mine"] == {"type": "myplug", "k": 1}


def test_dataset_keys_are_typed_and_an_unknown_one_is_refused_in_one_line():
    s = settings.dataset_settings({"type": "lfw", "root": "/x", "mode": "pairs", "fill_mismatched": "balanced",
                                   "limit_subjects": "7"})
    assert isinstance(s, settings.LfwSettings) and s.name == "lfw" and s.limit_subjects == 7
    assert s.fill_mismatched == "balanced" and s.duplicates == "error" and s.near_duplicates is None
    with pytest.raises(Exception) as err:
        settings.dataset_settings({"type": "folder", "root": "/x", "min_image": 5})
    assert str(err.value).startswith("dataset.min_image is not a key of dataset type folder; its keys: ")
    with pytest.raises(Exception, match="dataset.limit_subjects=0 is not valid: give a positive integer"):
        settings.dataset_settings({"type": "folder", "root": "/x", "limit_subjects": 0})
    with pytest.raises(Exception, match=r"system.det_size=\[600, 640\] is not valid: give fit or \[width, height\] "
                                        r"in multiples of 32"):
        settings.system_settings({"name": "arcface", "det_size": [600, 640], "detector": "/nonexistent.onnx"})
    assert settings.system_settings({"name": "arcface", "det_size": "fit"}).det_size == "fit"
    with pytest.raises(Exception, match="system.det_tresh is not a key of system sface"):
        settings.system_settings({"name": "sface", "det_tresh": 0.5})


def test_the_typed_config_round_trips_through_config_yaml(tmp_path):
    """plain() is what config.yaml holds; parsing it again gives the same Config (what --replay relies on)."""
    cfg = resolve_config([f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 's'}", "system=[sface,dlib]",
                          "+my_note=hello"])
    again = settings.validate(settings.plain(cfg))
    assert again == cfg and again.extra == {"my_note": "hello"}
    assert [s.name for s in cfg.systems] == ["sface", "dlib"] and isinstance(cfg.systems[1], settings.DlibSettings)
