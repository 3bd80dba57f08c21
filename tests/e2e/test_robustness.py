"""The outside probe, kept as tests: bad input, faults, interruption and concurrency must give either
the right figures or a clear one-line error; never a traceback, never a silently wrong figure."""
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fr_eval.cli import main
from fr_eval.datasets import load_dataset
from fr_eval.engine import acquire_all
from fr_eval.images import load_image
from fr_eval.store import Store

from conftest import PROJECT, FakeSystem, LFW_SMALL, need
from robustness_corpus import build_corpus
from unit.test_robustness import FlakyRecogniser


FIGURES = ("fta", "fta_transaction", "fnmr", "frr", "threshold", "fmr_achieved", "d_prime", "eer", "n_samples",
           "n_failed", "n_genuine_compared")


def figures(metrics: dict) -> list[dict]:
    return [{k: r[k] for k in FIGURES} for r in metrics["rows"]]


def lfw_faces(n_subjects=8):
    root = need(LFW_SMALL)
    return [sorted(d.glob("*.jpg")) for d in sorted(root.iterdir())[:n_subjects]]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# -- the bad-input corpus ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    root = tmp / "data"
    expect = build_corpus(root, lfw_faces())
    out = tmp / "report"
    code = main(["scenario=[1,2]", "system=sface", "dataset=folder", f"dataset.root={root}", f"out_dir={out}",
                 f"store_dir={tmp / 'store'}", "progress=false", "workers=1", "bootstrap.n_resamples=50"])
    return code, out, expect, tmp


def test_corpus_every_item_acquired_or_failed_with_one_line_reason(corpus_run):
    code, out, expect, _ = corpus_run
    assert code == 0
    samples = [r for r in read_csv(out / "samples.csv") if r["variant"] == "original"]
    by_path = {r["path"][1:] if r["path"].startswith("'=") else r["path"]: r for r in samples}  # see CSV cells
    assert set(by_path) == set(expect["files"])  # every usable file is a sample, and nothing else
    for rel, want in expect["files"].items():
        r = by_path[rel]
        if want == "acquired":
            assert r["acquired"] == "True", (rel, r["reason"])
        else:
            assert r["acquired"] == "False" and r["reason"].startswith(want[5:]) or want[5:] in r["reason"], (rel, r)
            assert r["failure_kind"] == "failure"  # a property of the image, not an error of the machine
        assert "\n" not in r["reason"] and "Traceback" not in r["reason"]
    m = json.loads((out / "metrics.json").read_text())
    n_failed = sum(1 for r in samples if r["acquired"] == "False")
    base = m["rows"][0]
    assert base["n_samples"] == len(samples) and base["n_failed"] == n_failed
    assert base["fta"] == pytest.approx(n_failed / len(samples))
    grey = [r for r in read_csv(out / "samples.csv") if r["variant"] == "greyscale"]
    assert m["rows"][1]["n_failed"] == sum(1 for r in grey if r["acquired"] == "False") + sum(
        1 for r in samples if r["acquired"] == "False" and r["role"] == "reference")
    problems = {p["detail"]: p["kind"] for p in m["dataset"]["problems"] if not p["kind"].startswith("same image")}
    assert problems == expect["problems"]
    copies = sorted(p["detail"].split(" (sha256")[0] for p in m["dataset"]["problems"]
                    if p["kind"] == "same image twice in one subject")
    assert copies == expect["within_subject_copies"]
    assert {e["subject"]: e["reason"][:19] for e in m["dataset"]["excluded"]} == expect["excluded"]


def test_corpus_csv_cells_cannot_be_formulas(corpus_run):
    _, out, _, _ = corpus_run
    text = (out / "samples.csv").read_text(encoding="utf-8")
    rows = read_csv(out / "samples.csv")
    subjects = {r["subject"] for r in rows}
    assert "'=SUM(A1)" in subjects and "=SUM(A1)" not in subjects
    assert any(r["path"] == "'=SUM(A1)/0000.jpg" for r in rows)
    assert all(not c.startswith(("=", "+", "@")) for r in rows for c in r.values())
    assert "names \u00e9\u00fc/Zo\u00eb \u00fc.jpg" in text  # unicode kept as it is
    # numbers that look like formulas (a negative similarity) are left alone in the tables
    from fr_eval.scores import csv_cell
    assert csv_cell("-0.25") == "-0.25" and csv_cell("-cmd") == "'-cmd" and csv_cell(3) == 3


def test_corpus_second_run_reuses_everything(corpus_run):
    code, out, expect, tmp = corpus_run
    out2 = tmp / "report2"
    assert main(["scenario=[1,2]", "system=sface", "dataset=folder", f"dataset.root={tmp / 'data'}",
                 f"out_dir={out2}", f"store_dir={tmp / 'store'}", "progress=false", "workers=1",
                 "bootstrap.n_resamples=50"]) == 0
    m1, m2 = (json.loads((o / "metrics.json").read_text()) for o in (out, out2))
    assert m2["engine"]["computed"] == 0 and figures(m1) == figures(m2)


def test_exif_orientation_and_modes_load_upright():
    faces = lfw_faces(2)
    upright = np.asarray(Image.open(faces[1][1]).convert("RGB"), float)
    import tempfile
    with tempfile.TemporaryDirectory() as t:
        build_corpus(Path(t), lfw_faces())
        for name in ("m_exif6.jpg", "m_exif8.jpg"):
            img = load_image(Path(t) / "modes" / name).astype(float)
            assert np.abs(img - upright).mean() < 4 < np.abs(np.rot90(img) - upright).mean()


# -- configuration: exit code 2, one line, no report folder ------------------------------------
BAD_CONFIG = [
    (["fmr=abc"], "fmr=abc is not valid: give a fraction between 0 and 1"),
    (["fmr=0.1%"], "fmr=0.1% is not valid"),
    (["workers=abc"], "workers=abc is not valid: give auto or a positive integer"),
    (["seed=abc"], "seed=abc is not valid: give an integer"),
    (["batch_size=abc"], "batch_size=abc is not valid"),
    (["batch_size=0"], "batch_size=0 is not valid: give an integer >= 1"),
    (["batch_size=-1"], "batch_size=-1 is not valid"),
    (["dataset.limit_subjects=abc"], "dataset.limit_subjects=abc is not valid"),
    (["dataset.limit_subjects=0"], "dataset.limit_subjects=0 is not valid: give a positive integer, or null"),
    (["system=sface", "system.det_thresh=abc"], "system.det_thresh=abc is not valid: give a number between 0 and 1"),
    (["system.arcface.det_thresh=abc"], "system.arcface.det_thresh=abc is not valid"),
    (["impostors=abc"], "impostors=abc is not valid: give all"),
    (["impostors=-5"], "impostors=-5 is not valid"),
    (["impostors=0"], "impostors=0 is not valid"),
    (["fmr_extra=[0.5,abc]"], "fmr_extra[1]=abc is not valid"),
    (["impostor_scores=foo"], "impostor_scores=foo is not valid: choose from baseline, scenario"),
    (["parallel=foo"], "parallel=foo is not valid: choose from process, thread"),
    (["out_dir="], "out_dir= is not valid: give a folder"),
    (["bootstrap.confidence=95"], "bootstrap.confidence=95 is not valid: give a fraction between 0 and 1"),
    (["report.export_impostors=some"], "report.export_impostors=some is not valid: choose from auto, all, sample, none"),
    (["colourisers.exemplar.samples=abc"], "colourisers.exemplar.samples=abc is not valid: give an integer"),
    (["quality_settings.stability.shift_px=-1"], "quality_settings.stability.shift_px=-1 is not valid"),
    (["system=onnx", "system.recogniser=x.onnx", "system.preprocess.channels=yuv"],
     "system.preprocess.channels=yuv is not valid: choose from rgb, bgr"),
    (["system.sface.face_selection=big"], "system.sface.face_selection=big is not valid: choose from largest"),
    (["scenario=[1,3]", "report.compare=[9:3]"], "report.compare=9:3: 9 is not a row of this run; rows: 1, 3"),
    (["report.compare=[3-4]"], "report.compare=3-4 is not valid: give auto or a:b"),
    (["memory_budget=lots"], "memory_budget=lots is not valid: give a memory size of at least 1MB"),
    (["impostor_keep_all=-1"], "impostor_keep_all=-1 is not valid: give an integer >= 0"),
]


@pytest.mark.parametrize("args, expect", BAD_CONFIG)
def test_bad_value_one_line_no_report(args, expect, capsys, tmp_path):
    out = tmp_path / "r"
    argv = [*args] + ([] if any(a.startswith("out_dir=") for a in args) else [f"out_dir={out}"])
    code = main([*argv, f"store_dir={tmp_path / 's'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and expect in err, err
    assert not out.exists() and not list(tmp_path.glob(".r.partial-*"))


def test_out_dir_or_store_dir_a_file_or_read_only(capsys, tmp_path):
    f = tmp_path / "a_file"
    f.write_text("x")
    for key in ("out_dir", "store_dir"):
        other = "store_dir" if key == "out_dir" else "out_dir"
        assert main([f"{key}={f}", f"{other}={tmp_path / 'o'}"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"error: {key}={f} is not valid: it is a file, not a folder"
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)]).returncode != 0:
            pytest.skip("running as root and no read-only mount can be made: permission bits do not bind root")
    else:
        ro.chmod(0o555)
    try:
        for key in ("out_dir", "store_dir"):
            other = "store_dir" if key == "out_dir" else "out_dir"
            assert main([f"{key}={ro / 'x'}", f"{other}={tmp_path / 'o2'}"]) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and f"{key}={ro / 'x'} is not valid: {ro} is not writable" in err
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)])
    assert not (tmp_path / "o").exists() and not (tmp_path / "o2").exists()


def test_transient_errors_are_reported_and_exit_3(tmp_path, capsys, monkeypatch):
    from fr_eval.stages import acquire
    monkeypatch.setattr(acquire, "build_system", lambda cfg: (FlakyRecogniser(), "test system"))
    FlakyRecogniser.broken, FlakyRecogniser.fail_left = True, 2
    root = need(LFW_SMALL)
    out = tmp_path / "r"
    code = main(["scenario=1", f"dataset.root={root}", "dataset.limit_subjects=3", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "workers=1", "bootstrap.n_resamples=20"])
    err = capsys.readouterr().err
    assert code == 3 and "2 sample(s) failed on errors of the machine" in err
    m = json.loads((out / "metrics.json").read_text())
    assert m["engine"]["transient_errors"] == 2 and m["n_errors_of_the_machine"] == 2
    assert [r["kind"] for r in read_csv(out / "failures.csv")] == ["error", "error"]
    assert "WARNING: 2 sample(s) failed on errors of the machine" in (out / "table3.md").read_text()
    assert "errors of the machine" in (out / "report.html").read_text()
    # the next run, with the machine well again, computes exactly those two and stores them
    FlakyRecogniser.broken = False
    assert main(["scenario=1", f"dataset.root={root}", "dataset.limit_subjects=3", f"out_dir={tmp_path / 'r2'}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "workers=1", "bootstrap.n_resamples=20"]) == 0
    m2 = json.loads((tmp_path / "r2" / "metrics.json").read_text())
    assert m2["engine"]["computed"] == 2 and m2["engine"]["reused"] == 10 and m2["rows"][0]["n_failed"] == 0


# -- processes: concurrency, kill -9, orphans ---------------------------------------------------
def cli(args, **kw):
    return subprocess.Popen([sys.executable, "run_eval.py", *args], cwd=PROJECT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, **kw)


def exemplar_args(out, store, root):
    return ["scenario=4", "colouriser=exemplar", "system=sface", f"dataset.root={root}", "dataset.limit_subjects=15",
            f"out_dir={out}", f"store_dir={store}", "progress=false", "workers=1", "bootstrap.n_resamples=50"]


@pytest.mark.slow
def test_two_runs_sharing_a_store_get_the_solo_figures(tmp_path):
    root = need(LFW_SMALL)
    solo = cli(exemplar_args(tmp_path / "solo", tmp_path / "solo_store", root))
    assert solo.wait(timeout=600) == 0, solo.stderr.read()[-2000:]
    runs = [cli(exemplar_args(tmp_path / f"r{i}", tmp_path / "shared_store", root)) for i in range(2)]
    for p in runs:
        assert p.wait(timeout=600) == 0, p.stderr.read()[-2000:]
    want = figures(json.loads((tmp_path / "solo" / "metrics.json").read_text()))
    for i in range(2):
        assert figures(json.loads((tmp_path / f"r{i}" / "metrics.json").read_text())) == want
        log = (tmp_path / f"r{i}" / "run.log").read_text()
        assert "could not keep the colourised image" not in log and "damaged cached colourisation" not in log
    assert not list((tmp_path / "shared_store").rglob("*.tmp"))
    kept = sorted((tmp_path / "shared_store" / "images").rglob("*.png"))
    assert len(kept) == 60  # 15 subjects x 4 images, each colourised once
    for png in kept:  # each kept colourisation is whole: the same bytes the solo run kept
        assert png.read_bytes() == (tmp_path / "solo_store" / png.relative_to(tmp_path / "shared_store")).read_bytes()


def _wait_for_rows(db: Path, n: int, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as c:
                    if c.execute("SELECT COUNT(*) FROM acquisitions").fetchone()[0] >= n:
                        return True
            except sqlite3.Error:
                continue
    return False


@pytest.mark.slow
def test_kill_during_acquisition_then_rerun_gives_identical_figures(tmp_path):
    root = need(LFW_SMALL)
    base = ["scenario=[1,2]", "system=sface", f"dataset.root={root}", "progress=false", "workers=1", "batch_size=4",
            "bootstrap.n_resamples=50"]
    solo = cli([*base, f"out_dir={tmp_path / 'solo'}", f"store_dir={tmp_path / 'solo_store'}"])
    assert solo.wait(timeout=600) == 0
    p = cli([*base, f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 'store'}"])
    assert _wait_for_rows(tmp_path / "store" / "store.sqlite", 40, p), "the run ended before it could be killed"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    assert not (tmp_path / "r").exists()  # no report at all, rather than half of one
    again = cli([*base, f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 'store'}"])
    assert again.wait(timeout=600) == 0
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["engine"]["reused"] >= 40
    assert figures(m) == figures(json.loads((tmp_path / "solo" / "metrics.json").read_text()))


KILL_IN_REPORT = r"""
import os, signal, sys
import fr_eval.report.scenario as report
real = report.write_csv
def dying(path, *a, **k):
    if path.name == "samples.csv":
        real(path, *a, **k)
        with open(path, "r+b") as f:
            f.truncate(100)
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, *a, **k)
report.write_csv = dying
from fr_eval.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_kill_while_writing_the_report_leaves_no_half_report(tmp_path):
    root = need(LFW_SMALL)
    args = ["scenario=1", "system=sface", f"dataset.root={root}", "dataset.limit_subjects=5", "progress=false",
            "workers=1", f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 's'}", "bootstrap.n_resamples=50"]
    p = subprocess.run([sys.executable, "-c", KILL_IN_REPORT, *args], cwd=PROJECT, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == -signal.SIGKILL
    assert not (tmp_path / "r").exists()
    partial = list(tmp_path.glob(".r.partial-*"))
    assert len(partial) == 1 and (partial[0] / "metrics.json").is_file()  # the half report is hidden away
    assert main(args) == 0
    assert not list(tmp_path.glob(".r.partial-*"))  # cleaned up by the next run
    rows = read_csv(tmp_path / "r" / "samples.csv")
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert len(rows) == m["rows"][0]["n_samples"] == 20 and (tmp_path / "r" / "report.html").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_exit_when_the_main_process_is_killed(sig, tmp_path):
    root = need(LFW_SMALL)
    p = cli(["scenario=[1,2,3]", "system=sface", f"dataset.root={root}", "progress=false", "workers=2",
             "parallel=process", "batch_size=2", f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 's'}"])
    assert _wait_for_rows(tmp_path / "s" / "store.sqlite", 6, p), "the run ended before it could be killed"
    workers = children(p.pid)
    assert len(workers) >= 2
    p.send_signal(sig)
    p.wait(timeout=60)
    deadline = time.time() + 20
    while time.time() < deadline and any(alive(w) for w in workers):
        time.sleep(0.2)
    assert not [w for w in workers if alive(w)]


def children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# -- disk full ----------------------------------------------------------------------------------
def mount_small(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                           capture_output=True).returncode != 0:
        pytest.skip("a small tmpfs cannot be mounted here (needs root and mount rights)")


@pytest.mark.parametrize("where", ["kept images", "database", "report"])
def test_disk_full_one_line_and_no_tmp_files(where, tmp_path, capsys):
    """The disk fills while the store keeps colourised PNGs, while SQLite writes, or while the report
    is written: one line, exit 2, nothing half-written left behind, and what was committed is kept."""
    root = need(LFW_SMALL)
    small = tmp_path / "small"
    mount_small(small, {"kept images": "1m", "database": "96k", "report": "160k"}[where])
    try:
        store, out = (tmp_path / "s", small / "r") if where == "report" else (small / "s", tmp_path / "r")
        scenario = ["scenario=4", "colouriser=exemplar"] if where == "kept images" else ["scenario=1"]
        code = main([*scenario, "system=sface", f"dataset.root={root}", "progress=false", "workers=1",
                     "batch_size=4", f"out_dir={out}", f"store_dir={store}", "bootstrap.n_resamples=20"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and "disk full" in err and "run again" in err, err
        assert not list(small.rglob("*.tmp")) and not out.exists() and not list(out.parent.glob(".r.partial-*"))
        kept = Store(store)  # the store opens, and holds the batches committed before the disk filled
        n = kept.count()
        kept.close()
        assert n > 0 if where != "database" else n >= 0
        if where == "report":
            assert n == 120
    finally:
        subprocess.run(["umount", str(small)])


def test_truncated_kept_colourisations_are_remade_for_the_examples(tmp_path):
    """A kept colourisation cut short (a damaged disk, a copy interrupted) is made again, both when
    the engine needs the image and for the Fig. 2 examples, instead of showing a 'failed' tile."""
    from fr_eval.colourisers import build_colouriser
    from fr_eval.stages.acquire import colourisation_examples
    from fr_eval.variants import Colourised

    ds = load_dataset({"type": "folder", "root": str(need(LFW_SMALL)), "limit_subjects": 4})
    col = build_colouriser("exemplar", {"exemplar": {"type": "exemplar", "seed": 0, "samples": 50, "window": 5}})
    col.prepare(ds)
    v = Colourised(col)
    store = Store(tmp_path / "store")
    acqs, _ = acquire_all([(s, v) for s in ds.references + ds.probes], FakeSystem(), store, progress=False)
    kept = sorted((tmp_path / "store" / "images").rglob("*.png"))
    whole = {p: p.read_bytes() for p in kept}
    for p in kept:
        p.write_bytes(whole[p][: len(whole[p]) // 2])
    rows = colourisation_examples(ds, [v], store, 3)
    assert len(rows) == 6 and all(t.image is not None for _, tiles in rows for t in tiles)
    # each exemplar tile names the subject whose reference gave its colours: the colouriser's own choice
    by_label = {}
    for s in ds.references + ds.probes:  # the examples show each subject's first probe
        by_label.setdefault(f"{s.subject} ({s.role})", s)
    for label, tiles in rows:
        smp = by_label[label]
        assert [t.note for t in tiles[:2]] == ["", ""]
        chosen = col.exemplar_for(smp).subject
        assert tiles[2].note == f"colours of {chosen}" and chosen != smp.subject
    remade = [p for p in kept if p.read_bytes() == whole[p]]
    assert len(remade) == 6  # the examples' six images were made again, whole, and kept
    store.close()


def test_pixel_limit_is_a_setting(tmp_path, capsys):
    from fr_eval.images import DEFAULT_MAX_PIXELS, ImageLoadError, set_max_pixels

    face = sorted(need(LFW_SMALL).rglob("*.jpg"))[0]
    try:
        set_max_pixels(250 * 250 - 1)
        with pytest.raises(ImageLoadError, match=r"image too large \(250\u00d7250 px = 62,500 pixels > "
                                                 r"max_image_pixels=62,499\)"):
            load_image(face)
        set_max_pixels(250 * 250)
        assert load_image(face).shape == (250, 250, 3)
    finally:
        set_max_pixels(DEFAULT_MAX_PIXELS)
    assert main(["max_image_pixels=0", f"out_dir={tmp_path / 'r'}"]) == 2
    assert "max_image_pixels=0 is not valid: give an integer >= 1" in capsys.readouterr().err


def test_bad_manifests_one_line(capsys, tmp_path):
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("path,subject,role\nJos\xe9.jpg,jos\xe9,reference\n".encode("latin-1"))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    for path, expect in ((latin, "is not UTF-8 text (byte 0xe9 at offset 21); save it as UTF-8"),
                         (binary, "is not a text file (it holds NUL bytes")):
        assert main(["dataset=manifest", f"dataset.path={path}", f"out_dir={tmp_path / 'r'}",
                     f"store_dir={tmp_path / 's'}"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and expect in err, err
        assert main(["scenario=generated", f"generated.manifest={path}", f"out_dir={tmp_path / 'r'}",
                     f"store_dir={tmp_path / 's'}"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and expect in err, err
    assert not (tmp_path / "r").exists()
