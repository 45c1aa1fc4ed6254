"""Run CLI command lines in this fresh process and measure each one's peak memory (tests only).

``python -m tests.hostile_worker CASES.json`` reads a list of argv lists, imports the package once, then
for each: resets the peak-RSS mark (/proc/self/clear_refs 5), runs ``vtn_core.cli.main`` with stdout and
stderr captured and network connections refused (and recorded), and reports rc, output, the peak RSS above
the RSS before the command, and whether an exception escaped. One JSON document on stdout at the end.
"""
from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import traceback
from pathlib import Path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    cases = json.loads(Path(sys.argv[1]).read_text())
    import torch  # noqa: F401 - the idle process holds every library a command uses

    import vtn_core.cli
    from vtn_core.commands import evaluate, inspect, predict  # noqa: F401

    connections: list[str] = []

    def refuse(self, address, *args, **kwargs):
        connections.append(repr(address))
        raise OSError("network access attempted in a test")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    results = []
    for argv in cases:
        Path("/proc/self/clear_refs").write_text("5")
        idle = _status_mb("VmRSS")
        out, err = io.StringIO(), io.StringIO()
        escaped = None
        before = len(connections)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = vtn_core.cli.main(argv)
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else 2
            except BaseException:  # noqa: BLE001 - reported to the test, which fails
                rc, escaped = -1, traceback.format_exc()
        results.append({"argv": argv, "rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue(),
                        "peak_mb": _status_mb("VmHWM") - idle, "escaped": escaped,
                        "connections": connections[before:]})
    sys.stdout.write(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
