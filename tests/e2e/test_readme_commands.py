"""Every command the README shows runs. The example commands (lines of its ```bash blocks that start with
``python run_eval.py``, ``fr-eval`` or ``python -m fr_eval``) are read from README.md itself and run here on
small data: the shared small LFW set, the shared generated manifest, reports, score files and a video made
from them in the test's own working folder. Only paths are substituted (``../shared/`` made absolute, the
placeholders ``/data/my_faces``, ``/data/my_faces_deoldify`` and ``reports/<run>``, ``dataset.root`` of the
small set for ``dataset=lfw_min20``) and ``progress=false`` added. Each run must exit 0 and write a
``metrics.json`` (``--cfg``, ``--keys`` and ``--help`` print instead, and are checked on what they print). A
command whose README comment says it downloads cannot run here (no network): it is run offline and must stop
with exit status 2 and one line naming what it needs (the weights, or PyTorch where it is not installed), never
a traceback; tests/test_kelley.py runs the same DeOldify command end to end with random weights in the cache.
(A skip would be a hole: CI's second pass fails on any test that skips again.)"""
import csv
import json
import shlex
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import LFW_SMALL, PROJECT, SHARED, need

pytestmark = pytest.mark.slow

DOORS = ("python run_eval.py ", "fr-eval ", "python -m fr_eval ")


def readme_commands() -> list[tuple[int, str, str]]:
    """(line, command, its comment) of every example command in README.md, continuation lines joined."""
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    out, line_no, in_block, pending = [], 0, False, None
    for i, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            in_block = line.startswith("```bash")
            continue
        if not in_block:
            continue
        if pending is not None:
            pending += " " + line.strip()
        elif line.startswith(DOORS):
            pending, line_no = line.strip(), i
        if pending is not None and pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        if pending is not None:
            command, _, comment = pending.partition(" # ")
            out.append((line_no, command.strip(), comment.strip()))
            pending = None
    return out


COMMANDS = readme_commands()


def test_the_readme_has_its_commands():
    """The reader above finds the README's examples (a change of its layout must not empty this test)."""
    found = [c for _, c, _ in COMMANDS]
    assert len(found) >= 20 and "python run_eval.py scenario=all" in found
    assert any(c.startswith("fr-eval compare ") for c in found) and any("--replay" in c for c in found)


def _wait_for_next_second():
    """Runs without out_dir name their report by the second they start: two in one second would share it."""
    time.sleep(1.05 - (time.time() % 1.0))


def _main(argv: list[str]) -> int:
    from fr_eval.cli import main
    _wait_for_next_second()
    return main(argv)


def _make_video(path: Path, frames: list, fps: int = 8) -> None:
    av = pytest.importorskip("av", reason="PyAV is not installed (a dependency of fr-eval: pip install -e .)")
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for img in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The working folder the README's commands run in, with what they name: a store of its own, the
    reports reports/run, reports/sface_run and reports/arcface_run, my_scores.txt (bob 4-column), genuine.txt
    and impostor.txt (pyeer, distances), videos.csv (a video made from two LFW photos, and references), and
    a folder of 'precomputed' colourisations (the small set's own colour photos, in its layout)."""
    from PIL import Image
    small = need(LFW_SMALL)
    need(SHARED / "models/det_500m.onnx")
    work = tmp_path_factory.mktemp("readme")
    mp = pytest.MonkeyPatch()
    mp.chdir(work)
    mp.setenv("XDG_CACHE_HOME", str(work / "cache"))
    mp.setenv("FR_EVAL_OFFLINE", "1")
    base = ["progress=false", "bootstrap.n_resamples=100", f"dataset.root={small}"]
    assert _main(["scenario=[1,4]", "system=sface", "out_dir=reports/run", *base]) == 0
    shutil.copytree(work / "reports/run", work / "reports/sface_run")
    assert _main(["scenario=[1,4]", "system=arcface", f"system.detector={SHARED / 'models/det_500m.onnx'}",
                  f"system.recogniser={SHARED / 'models/mobilefacenet_128d.onnx'}", "out_dir=reports/arcface_run",
                  *base]) == 0
    shutil.copy(work / "reports/run/scores/1.bob4", work / "my_scores.txt")
    for kind in ("genuine", "impostor"):  # pyeer files of distances: 1 - cosine similarity
        sims = np.loadtxt(work / f"reports/run/scores/1_{kind}.txt", ndmin=1)
        np.savetxt(work / f"{kind}.txt", 1.0 - sims, fmt="%.6f")
    shutil.copytree(small, work / "precomputed")  # also the photos videos.csv enrols, inside its folder
    people = sorted(p.name for p in small.iterdir() if p.is_dir())[:4]
    frames = [np.asarray(Image.open(f).convert("RGB").resize((256, 256)))
              for f in sorted((small / people[0]).glob("*.jpg"))[2:4] for _ in range(8)]
    _make_video(work / "talking.mp4", frames)
    rows = ["path,identity,role,method"] + [f"precomputed/{n}/{f.name},{n},reference," for n in people
                                             for f in sorted((small / n).glob("*.jpg"))[:2]]
    rows.append(f"talking.mp4,{people[0]},generated,video_method")
    (work / "videos.csv").write_text("\n".join(rows) + "\n")
    yield {"work": work, "small": small, "precomputed": work / "precomputed"}
    mp.undo()


def substituted(command: str, ws: dict) -> list[str]:
    """The command's arguments with the README's paths pointed at the workspace (nothing else changed)."""
    text = command.replace("../shared/", f"{SHARED}/")
    text = text.replace("/data/my_faces_deoldify", str(ws["precomputed"])).replace("/data/my_faces", str(ws["small"]))
    text = text.replace("reports/<run>", "reports/run")
    args = shlex.split(text)
    door = 2 if args[0] == "python" and args[1] == "run_eval.py" else 3 if args[:3] == ["python", "-m", "fr_eval"] else 1
    args = args[door:]
    if "dataset=lfw_min20" in args:  # the small set in lfw_min20's place: the same layout, 30 x 4 images
        args.append(f"dataset.root={ws['small']}")
    if args[:1] != ["compare"]:  # compare reads two reports: it shows no progress
        args.append("progress=false")
    return args


@pytest.mark.parametrize("line, command, comment", COMMANDS, ids=[f"README:{n}" for n, _, _ in COMMANDS])
def test_readme_command_runs(line, command, comment, workspace, capsys):
    args = substituted(command, workspace)
    if "downloads" in comment:  # no network here: offline, the command must say in one line what it needs
        code = _main(args)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "Traceback" not in err[0], (line, err)
        assert any(w in err[0] for w in ("weights", "PyTorch", "torch")), err[0]
        return
    if any("dlib" in a for a in args if a.startswith("system=")):
        pytest.importorskip("dlib", reason="dlib is not installed (pip install -e '.[dlib]')")
    reports = workspace["work"] / "reports"
    before = {p for p in reports.glob("*") if p.is_dir()}
    code = _main(args)
    out = capsys.readouterr()
    assert code == 0, f"README:{line} {command}\n{out.err[-2000:]}"
    if "--help" in args:
        assert out.out.startswith("usage: fr-eval") and "scenario=1|2|3|4|5|all" in out.out
        return
    if "--keys" in args:
        assert "system.detector" in out.out and "fmr=0.001" in out.out
        return
    if "--cfg" in args:
        assert "scenario: 4" in out.out and "colouriser:" in out.out
        return
    new = sorted((p for p in reports.glob("*") if p.is_dir() and p not in before), key=lambda p: p.stat().st_mtime)
    assert new, f"README:{line} wrote no report folder under {reports}"
    doc = json.loads((new[-1] / "metrics.json").read_text())
    assert doc, f"README:{line}: an empty metrics.json"
    if args[0].startswith("scores="):
        with open(new[-1] / "table3.csv", newline="") as f:
            assert list(csv.DictReader(f)), f"README:{line}: an empty Table 3"
