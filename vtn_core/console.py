"""The ``vtn-explorer`` console command (installed by the package): every ``python -m vtn_core`` sub-command
(``vtn_core.cli.COMMANDS``, ``app`` included) under one name."""
from __future__ import annotations

from typing import Sequence

from vtn_core.cli import main as cli_main


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vtn-explorer``; returns the process exit status."""
    return cli_main(argv, prog="vtn-explorer")


if __name__ == "__main__":
    raise SystemExit(main())
