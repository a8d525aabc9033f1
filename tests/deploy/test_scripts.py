"""scripts/test's promises: slow profiles only on request, and a run that ran no test fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.tools import ROOT

SLOW_TEST = """
import pytest

@pytest.mark.slow
def test_long_profile():
    pass

def test_quick():
    pass
"""


def run_pytest_with_plugin(tmp_path: Path, **env: str) -> str:
    test_file = tmp_path / "test_profiles.py"
    test_file.write_text(SLOW_TEST)
    args = ["-p", "tests.slow_marker", "-c", "pyproject.toml", "--rootdir", str(ROOT), "-q", "-rs"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args, str(test_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "BOXOFFICE_SLOW"}, **env},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_slow_profiles_are_skipped_with_the_reason_by_default(tmp_path):
    out = run_pytest_with_plugin(tmp_path)
    assert "1 passed, 1 skipped" in out
    assert "BOXOFFICE_SLOW=1" in out


def test_slow_profiles_run_with_boxoffice_slow(tmp_path):
    assert "2 passed" in run_pytest_with_plugin(tmp_path, BOXOFFICE_SLOW="1")


@pytest.mark.timeout(600)
def test_a_run_that_selects_no_test_fails():
    result = subprocess.run(
        [str(ROOT / "scripts/test"), __file__, "-k", "no_test_is_named_like_this_at_all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=580,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "FAILED  pytest (no test ran: exit code 5)" in result.stdout
