"""Plug-ins through entry points: a package made here registers a face system, a colouriser, a dataset
layout and a quality estimator, and fr-eval runs them by name and lists them in --keys."""
import json
import re
import textwrap

import pytest

from fr_eval.cli import main

from conftest import LFW_SMALL, need

PLUGIN = '''
import numpy as np
from fr_eval.quality import Estimator
from fr_eval.systems.base import TwoStageSystem


class Quadrants(TwoStageSystem):
    """The whole image is the face; the embedding is its mean colour per quadrant and per row band."""
    name = "toy"

    def __init__(self, bands=4):
        self.bands = int(bands)
        self._init_kwargs = {"bands": self.bands}

    def describe(self):
        return {"name": "toy", "models": [], "settings": {"bands": self.bands}}

    def _detect(self, bgr):
        h, w = bgr.shape[:2]
        return np.array([[0, 0, w, h]], float), np.array([1.0]), np.tile([[w / 3, h / 3]], (1, 5, 1))

    def _align(self, bgr, det):
        return bgr

    def _embed(self, crops):
        return np.stack([np.concatenate([b.reshape(-1, 3).mean(0) for b in np.array_split(c, self.bands)]) + 1
                         for c in crops])


def build_system(settings):
    return Quadrants(**settings)


class Tint:
    def __init__(self, name, red):
        self.name, self.red = name, int(red)

    def settings(self):
        return {"red": self.red}

    def prepare(self, dataset):
        pass

    def sample_key(self, sample):
        return ""

    def colourise(self, grey, sample):
        out = grey.astype(np.int16)
        out[..., 0] += self.red
        return np.clip(out, 0, 255).astype(np.uint8)


def build_colouriser(name, cfg):
    return Tint(name, cfg.get("red", 40))


def load_every_other(settings):
    """A dataset layout: fr-eval's folder layout, every other subject (its own key: start)."""
    from fr_eval.datasets.folder import load_folder

    ds = load_folder(settings.root, name=settings.name, min_images=int(settings.settings.get("min_images", 2)))
    ds.restrict_subjects(set(ds.subjects[int(settings.settings.get("start", 0))::2]))
    return ds


class DoubleNorm(Estimator):
    name = "double_norm"
    needs_image = False
    unit = "a.u."

    def value(self, rgb, acq, system):
        return 2.0 * float(np.linalg.norm(acq.embedding))
'''


@pytest.fixture
def plugin_package(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "toyplug").mkdir(parents=True)
    (site / "toyplug" / "__init__.py").write_text(PLUGIN)
    info = site / "toyplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [fr_eval.systems]
        toy = toyplug:build_system
        [fr_eval.colourisers]
        tint = toyplug:build_colouriser
        [fr_eval.datasets]
        every_other = toyplug:load_every_other
        [fr_eval.quality]
        double_norm = toyplug:DoubleNorm
    """))
    monkeypatch.syspath_prepend(str(site))
    return site


def test_plugins_run_by_name(plugin_package, tmp_path):
    out = tmp_path / "r"
    assert main(["system=plugin", "system.plugin=toy", "+system.settings.bands=3", "scenario=[1,4]",
                 "colouriser=[redder]", "+colourisers.redder={type: tint, red: 60}", "quality=[double_norm]",
                 f"dataset.root={need(LFW_SMALL)}", "dataset.limit_subjects=6", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "workers=1", "bootstrap.n_resamples=20"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["system"] == {"name": "toy", "models": [], "settings": {"bands": 3}}
    assert m["system_choice"] == "system=plugin toy"
    assert [r["label"] for r in m["rows"]] == ["1", "4 [redder]"] and m["colourisers"]["redder"] == {"red": 60}
    q = {(r["variant"], r["estimator"]): r for r in m["quality_table2"]}
    assert q[("original", "double_norm")]["n"] == 24 and q[("original", "double_norm")]["mean"] > 0


def test_unknown_plugin_names_the_installed_ones(plugin_package, tmp_path, capsys):
    assert main(["system=plugin", "system.plugin=nope", f"out_dir={tmp_path / 'r'}"]) == 2
    assert main(["quality=[nope]", f"out_dir={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "error: system.plugin=nope is not known; plug-ins in fr_eval.systems: toy"
    assert "or a plug-in (double_norm)" in err[1] and len(err) == 2


def test_dataset_layout_plugin_runs_by_name_and_is_listed(plugin_package, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["dataset.type=every_other", "+dataset.start=1", f"dataset.root={need(LFW_SMALL)}", "scenario=1",
                 "system=plugin", "system.plugin=toy", f"out_dir={out}", f"store_dir={tmp_path / 's'}",
                 "progress=false", "workers=1", "bootstrap.n_resamples=20"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["table1"]["subjects"] == 15 and m["table1"]["probes"] == 45  # 30 subjects, every other from the 2nd
    assert m["config"]["dataset"]["type"] == "every_other" and m["config"]["dataset"]["start"] == 1
    assert main(["--keys"]) == 0
    listed = dict(re.findall(r"plug-ins \((\S+)\)\s+(.+)", capsys.readouterr().out))
    assert listed == {"fr_eval.systems": "toy", "fr_eval.colourisers": "tint", "fr_eval.datasets": "every_other",
                      "fr_eval.quality": "double_norm"}, listed
    assert main(["dataset.type=nope", f"out_dir={tmp_path / 'x'}"]) == 2
    assert capsys.readouterr().err.strip() == ("error: dataset.type=nope is not known; choose from folder, lfw, "
                                               "feret, frgc, manifest or a plug-in (every_other)")
