"""Hostile inputs, every class of defect (docs/SECURITY.md): seeded generated checkpoints, videos and command
lines run through the real CLI in a fresh process. Each must give exactly one ``error:`` line and exit 2
(or, where the input is usable, exit 0 with every string escaped), never a traceback, never a network
connection, peak memory < 1.5 GB above the idle process, and inputs byte-identical afterwards.

More seeds: ``VTN_HOSTILE_SEEDS=0,1,2,3 pytest tests/test_hostile_inputs.py``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile import FAMILIES, generate

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [int(s) for s in os.environ.get("VTN_HOSTILE_SEEDS", "0").split(",")]
PEAK_LIMIT_MB = 1536  # the bound for a rejected input, above the idle process


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


def run_cases(cases, folder: Path) -> list[dict]:
    """Every case's argv in one fresh worker process; its JSON report."""
    spec = folder / "cases.json"
    spec.write_text(json.dumps([case.argv for case in cases]))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tests.hostile_worker", str(spec)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_hostile_family(family, seed, tmp_path):
    cases = generate(family, seed, tmp_path)
    assert cases
    before = {path: _digest(path) for case in cases for path in case.inputs}
    reports = run_cases(cases, tmp_path)
    problems = []
    for case, report in zip(cases, reports):
        label = f"[{case.family}: {case.name}]"
        lines = report["stderr"].splitlines()
        errors = [line for line in lines if line.startswith("error:")]
        if report["escaped"]:
            problems.append(f"{label} an exception escaped:\n{report['escaped'][-1500:]}")
            continue
        if "Traceback" in report["stderr"] or "Traceback" in report["stdout"]:
            problems.append(f"{label} a traceback was printed: {report['stderr'][-800:]}")
        if report["rc"] != case.rc:
            problems.append(f"{label} exit {report['rc']} (want {case.rc}); stderr {report['stderr'][-400:]!r}")
        if case.rc == 2:
            if len(errors) != 1 or len(lines) != 1:
                problems.append(f"{label} want exactly one 'error:' line, got {lines[:5]!r}")
            elif not re.search(case.message, errors[0], re.IGNORECASE):
                problems.append(f"{label} message {errors[0]!r} does not match {case.message!r}")
        elif not re.search(case.message, report["stdout"], re.IGNORECASE):
            problems.append(f"{label} stdout {report['stdout'][:300]!r} does not match {case.message!r}")
        raw = [c for c in case.stdout_forbidden if c in report["stdout"] or c in report["stderr"]]
        if raw:
            problems.append(f"{label} raw control characters reached the terminal: {raw!r}")
        if report["connections"]:
            problems.append(f"{label} network connections attempted: {report['connections']}")
        if report["peak_mb"] > PEAK_LIMIT_MB:
            problems.append(f"{label} peak RSS {report['peak_mb']:.0f} MB above idle (limit {PEAK_LIMIT_MB} MB)")
    changed = [str(path) for path, digest in before.items() if _digest(path) != digest]
    if changed:
        problems.append(f"inputs changed: {changed}")
    assert not problems, "\n".join(problems)
