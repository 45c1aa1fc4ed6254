"""CI lints: `ruff check` runs in the README's test command (and so in .ci/run), and the whole tree is clean."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def ruff_command() -> list[str]:
    beside = Path(sys.executable).with_name("ruff")
    found = str(beside) if beside.exists() else shutil.which("ruff")
    if not found:
        pytest.fail("ruff is missing: `pip install -r requirements.txt` (it is in the test requirements)")
    return [found]


def test_tree_is_ruff_clean():
    done = subprocess.run([*ruff_command(), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-1000:]


def test_ci_and_the_readme_command_lint():
    assert "scripts/run_tests.sh" in (ROOT / ".ci" / "run").read_text()
    script = (ROOT / "scripts" / "run_tests.sh").read_text()
    assert script.index("ruff check .") < script.index("pytest")
    assert "bash scripts/run_tests.sh" in (ROOT / "README.md").read_text()
