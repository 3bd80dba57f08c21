"""The README's quick check (`pytest tests/unit`), run as the README writes it: the unit tier passes on its own,
in a fresh process, and touches neither the whole run's list of skipped tests nor ../shared."""
import re
import subprocess
import sys

import pytest

from conftest import PROJECT, SKIPPED

pytestmark = pytest.mark.slow


def quick_check_command() -> list[str]:
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^\.venv/bin/python (-m pytest tests/unit\b.*)$", text, re.M).group(1)
    return [sys.executable, *line.split()]


def test_the_unit_tier_runs_alone():
    before = SKIPPED.read_bytes() if SKIPPED.is_file() else None
    run = subprocess.run(quick_check_command(), cwd=PROJECT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    last = run.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", last).group(1))
    # every unit test ran (those of an absent optional part, PyTorch's, skip with their reason)
    assert passed >= 150 and "failed" not in last and "error" not in last, last
    assert (SKIPPED.read_bytes() if SKIPPED.is_file() else None) == before  # a tier's run says nothing of a whole run's skips
