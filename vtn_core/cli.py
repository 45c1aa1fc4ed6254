"""The command-line interface: one sub-command per module in ``vtn_core.commands``.

Each command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
A ``VTNError`` (or a bad argument) becomes one line ``error: ...`` on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from vtn_core.errors import VTNError

# name -> module under vtn_core.commands; modules are imported lazily so `--help` stays fast.
COMMANDS: dict[str, str] = {
    "predict": "predict",
    "synth": "synth",
    "train": "train",
    "evaluate": "evaluate",
    "bench": "bench",
    "inspect": "inspect",
    "batch": "batch",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one ``error:`` line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see `python -m vtn_core {self.prog.split()[-1]} --help`)\n")
        raise SystemExit(2)


def _available_commands() -> dict[str, object]:
    modules = {}
    for name, module_name in COMMANDS.items():
        try:
            modules[name] = importlib.import_module(f"vtn_core.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"vtn_core.commands.{module_name}":
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available sub-command."""
    parser = _Parser(prog="vtn_core", description="VTN Attention Explorer command line.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in _available_commands().items():
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._run(args) or 0)
    except VTNError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
