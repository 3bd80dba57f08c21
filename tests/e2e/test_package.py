"""fr-eval as an installed package: the command, ``python -m fr_eval``, replay, defaults that work
from any directory, and a wheel that runs without the checkout."""
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from fr_eval.cli import main
from fr_eval.fetch import cache_dir

from conftest import LFW_SMALL, PROJECT, need


FIGURES = ("fta", "fnmr", "frr", "threshold", "fmr_achieved", "d_prime", "eer", "n_samples", "n_genuine_compared")


def figures(out: Path) -> list[dict]:
    return [{k: r[k] for k in FIGURES} for r in json.loads((out / "metrics.json").read_text())["rows"]]


def test_own_dataset_and_scenario_configs_in_the_working_directory(tmp_path, monkeypatch, capsys):
    root = need(LFW_SMALL)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mine.yaml").write_text(f"name: mine\ntype: folder\nroot: {root}\nlimit_subjects: 4\n"
                                                      "seed: ${seed}\n")
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "two.yaml").write_text(
        'name: two\nbaseline: "1"\nscenarios:\n  "1": {reference: original, probe: original}\n'
        '  "9": {reference: greyscale, probe: original}\n')
    assert main(["--help"]) == 0 and "mine" in capsys.readouterr().out
    out = tmp_path / "r"
    assert main(["dataset=mine", "scenarios=two", "scenario=all", "system=sface", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=20"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert [r["label"] for r in m["rows"]] == ["1", "9"] and m["table1"]["subjects"] == 4


def test_replay_gives_the_same_figures_and_records_how(tmp_path, capsys):
    root = need(LFW_SMALL)
    out = tmp_path / "first"
    args = ["scenario=[1,3]", "system=sface", f"dataset.root={root}", "dataset.limit_subjects=6", f"out_dir={out}",
            f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=30"]
    assert main(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["invocation"]["argv"] == args and m["invocation"]["cwd"] == os.getcwd()
    assert m["invocation"]["replay"] == f"fr-eval --replay {out / 'config.yaml'}"
    assert m["paths"] == {"out_dir": str(out), "store_dir": str(tmp_path / "s")}
    notes = (out / "table3.md").read_text()
    assert f"Store: {tmp_path / 's'}; this report: {out}." in notes and "--replay" in notes
    capsys.readouterr()
    again = tmp_path / "again"
    assert main(["--replay", str(out / "config.yaml"), f"out_dir={again}", f"store_dir={tmp_path / 's2'}"]) == 0
    assert figures(again) == figures(out)
    assert json.loads((again / "metrics.json").read_text())["config"]["dataset"]["limit_subjects"] == 6
    # overrides apply; group choices cannot change under a replay; a missing file is one line
    assert main(["--replay", str(out / "config.yaml"), "scenario=1", f"out_dir={tmp_path / 'one'}"]) == 0
    assert [r["label"] for r in json.loads((tmp_path / "one" / "metrics.json").read_text())["rows"]] == ["1"]
    capsys.readouterr()
    assert main(["--replay", str(out / "config.yaml"), "system=arcface"]) == 2
    assert main(["--replay", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "group choices" in err[0] and "no such file" in err[1]


def test_python_m_fr_eval_and_the_shim_are_the_command(tmp_path):
    for cmd in ([sys.executable, "-m", "fr_eval", "--help"], [sys.executable, str(PROJECT / "run_eval.py"), "--help"]):
        r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout.startswith("usage: fr-eval"), r.stderr


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    """Build the wheel, install it into a fresh venv, and run ``fr-eval`` from an empty folder. The
    venv takes fr-eval from the wheel alone; its third-party dependencies come from this test
    environment's site-packages (a path in a .pth file: no editable fr-eval comes with it), so the
    test needs no network and checks what the wheel itself carries."""
    import shutil

    root = need(LFW_SMALL)
    src = tmp_path / "src"  # a copy, so that setuptools' build/ folder never lands in the checkout
    shutil.copytree(PROJECT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "reports", ".store",
                                                                "*.egg-info", "__pycache__", ".pytest_cache"))
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(wheels), str(src)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    wheel = next(wheels.glob("fr_eval-*.whl"))
    import zipfile
    names = zipfile.ZipFile(wheel).namelist()
    assert "fr_eval/conf/dataset/lfw_small.yaml" in names and "fr_eval/scenario_sets/paper.yaml" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": ""}
    r = subprocess.run([str(venv / "bin" / "fr-eval"), "scenario=1", f"dataset.root={root}", "system=sface",
                        "progress=false", "bootstrap.n_resamples=20"], cwd=work, capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    reports = list((work / "reports").iterdir())
    assert len(reports) == 1
    m = json.loads((reports[0] / "metrics.json").read_text())
    assert m["rows"][0]["n_samples"] == 120 and m["paths"]["store_dir"] == str(tmp_path / "cache/fr-eval/store")
    imported = subprocess.run([str(py), "-c", "import fr_eval; print(fr_eval.__file__)"], cwd=work,
                              capture_output=True, text=True, env=env).stdout
    assert imported.startswith(site)  # the wheel's copy, not the checkout
    # no dataset.root and no ../shared beside the working folder: LFW would be fetched; offline
    # (the suite sets FR_EVAL_OFFLINE), one line says how to point at local data, and no report
    r = subprocess.run([str(venv / "bin" / "fr-eval"), "scenario=1", "system=sface", "progress=false",
                        "out_dir=nothing"], cwd=work, capture_output=True, text=True, timeout=600, env=env)
    err = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2 and len(err) == 1, r.stderr[-3000:]
    assert "no local copy" in err[0] and "FR_EVAL_OFFLINE is set" in err[0] and "dataset.root=" in err[0]
    assert not (work / "nothing").exists()


def test_cfg_prints_yaml_and_defaults_work_from_any_directory(tmp_path, monkeypatch, capsys):
    import yaml

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["--cfg", "scenario=4"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["scenario"] == 4 and cfg["store_dir"] == str(tmp_path / "cache" / "fr-eval" / "store")
    assert Path(cfg["out_dir"]).parent == tmp_path / "reports"
    assert cfg["dataset"]["name"] == "lfw_small" and cfg["scenarios"] == "paper"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/not/allowed")  # the XDG rule: only absolute paths count
    assert cache_dir("store") == str(Path.home() / ".cache" / "fr-eval" / "store")
