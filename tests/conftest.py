import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fr_eval.systems.base import Acquisition, Detection, TwoStageSystem

# the unit tier's rule (tests/unit reads no face data and no model), checked as each of its tests runs
pytest_plugins = ["tiers"]

# no test reaches the network: downloads are tested against a local server (the `server` fixture below),
# which lifts this for itself; subprocesses inherit it
os.environ["FR_EVAL_OFFLINE"] = "1"

PROJECT = Path(__file__).resolve().parents[1]
SHARED = (PROJECT.parent / "shared").resolve()
LFW_SMALL = SHARED / "data/lfw/deepfunneled_small"
DET_500M = SHARED / "models/det_500m.onnx"
MOBILEFACENET = SHARED / "models/mobilefacenet_128d.onnx"


def need(path: Path):
    if not path.exists():
        pytest.skip(f"{path} is absent (tests read face data and models from ../shared beside the project)")
    return path


@pytest.fixture
def lfw_small():
    return need(LFW_SMALL)


@pytest.fixture
def shared_arcface_files():
    return need(DET_500M), need(MOBILEFACENET)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serve tmp_path/www on 127.0.0.1 (an ephemeral port); yields (folder, base URL)."""
    monkeypatch.delenv("FR_EVAL_OFFLINE", raising=False)
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(www), **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def tree(tmp_path):
    """A folder dataset of 4 subjects x 3 random 16x16 PNGs, one all-black ('no face') and one unreadable file."""
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for s in range(4):
        d = root / f"s{s}"
        d.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(1, 255, (16, 16, 3), dtype=np.uint8)).save(d / f"{i}.png")
    Image.new("RGB", (16, 16)).save(root / "s3" / "3_black.png")  # a 'no face' image
    (root / "s2" / "9_broken.png").write_bytes(b"garbage")  # unreadable
    return root


def changed_fraction(png_a: Path, png_b: Path) -> float:
    """The fraction of pixels two same-sized PNGs differ in (e.g. a DET with and without its bands)."""
    from PIL import Image
    a, b = (np.asarray(Image.open(p).convert("RGB"), dtype=np.int16) for p in (png_a, png_b))
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.mean(np.abs(a - b).max(axis=2) > 8))


def find_imagemagick():
    """The real ImageMagick (a stand-in `convert` may shadow it on PATH)."""
    for name in ("magick", "convert-im6.q16", "convert-im6", "convert"):
        exe = shutil.which(name)
        if not exe:
            continue
        try:
            out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "ImageMagick" in out:
            return exe
    return None


class WholeImageSystem(TwoStageSystem):
    """A two-stage system whose 'face' is the whole image and whose embedding is its mean colour;
    tests subclass it to make the recogniser fail in chosen ways."""

    name = "whole-image"

    def describe(self):
        return {"name": self.name, "models": [], "settings": {}}

    def _detect(self, bgr):
        h, w = bgr.shape[:2]
        return np.array([[0, 0, w, h]], float), np.array([1.0]), np.zeros((1, 5, 2))

    def _align(self, bgr, det):
        return bgr

    def _embed(self, crops):
        return np.stack([c.reshape(-1, 3).mean(0) + 1 for c in crops])


class FakeSystem:
    """A deterministic stand-in face system: the embedding is the image's mean colour per
    quadrant; an all-black image has 'no face'. Counts how many images it was given."""

    name = "fake"

    def __init__(self, fail_after=None):
        self.calls = 0
        self.fail_after = fail_after

    def describe(self):
        return {"name": "fake", "models": [], "settings": {"v": 1}}

    def acquire(self, images):
        out = []
        for img in images:
            if self.fail_after is not None and self.calls >= self.fail_after:
                raise KeyboardInterrupt
            self.calls += 1
            if img.max() == 0:
                out.append(Acquisition.failure("no face detected (fake)"))
                continue
            h, w = img.shape[:2]
            q = [img[:h // 2, :w // 2], img[:h // 2, w // 2:], img[h // 2:, :w // 2], img[h // 2:, w // 2:]]
            emb = np.concatenate([x.reshape(-1, 3).mean(0) for x in q]).astype(np.float32) + 1.0
            det = Detection(bbox=np.array([0, 0, w, h], np.float32), score=1.0,
                            landmarks=np.zeros((5, 2), np.float32), n_faces=1)
            out.append(Acquisition(embedding=emb, detection=det))
        return out


# -- the README's test command, then CI's second pass --------------------------------------------------
# `python -m pytest -q` (the README's command) runs on a plain install and skips, with a reason, what an
# absent extra would need; every run writes the skipped tests' ids to SKIPPED. CI then installs every extra
# and runs `pytest --only-skipped`: just those tests, and a test that skips again fails the run (a skip CI
# should have run is a hole).
SKIPPED = PROJECT / ".pytest_cache" / "fr_eval_skipped.txt"


def pytest_addoption(parser):
    parser.addoption("--only-skipped", action="store_true",
                     help=f"run only the tests the last run skipped ({SKIPPED}); any skip then fails the run")


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--only-skipped"):
        return
    wanted = set(SKIPPED.read_text().split("\n")) - {""} if SKIPPED.is_file() else set()
    modules = tuple(f"{w}::" for w in wanted if "::" not in w)  # a module skipped whole (importorskip)

    def chosen(item):
        return item.nodeid in wanted or item.nodeid.startswith(modules)

    config.hook.pytest_deselected(items=[i for i in items if not chosen(i)])
    items[:] = [i for i in items if chosen(i)]


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [r.nodeid for r in (reporter.stats.get("skipped", []) if reporter else []) if hasattr(r, "nodeid")]
    if session.config.getoption("--only-skipped"):
        if skipped:
            print(f"\n--only-skipped: {len(skipped)} test(s) skipped again: " + "; ".join(skipped[:5]))
            session.exitstatus = 1
        return
    if getattr(session.config.option, "keyword", "") or getattr(session.config.option, "markexpr", ""):
        return  # a partial run says nothing of what a whole run skips
    if any(Path(a.split("::")[0]).resolve() != PROJECT / "tests" for a in session.config.args):
        return  # nor does a run of one tier or one file (`pytest tests/unit`)
    SKIPPED.parent.mkdir(exist_ok=True)
    SKIPPED.write_text("".join(f"{n}\n" for n in sorted(set(skipped))))
