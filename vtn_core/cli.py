"""The command-line interface: one sub-command per module in ``vtn_core.commands``.

Each command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``
(optionally ``OUTPUTS``: names of its output path arguments beyond ``output_guard.OUTPUT_ARGUMENTS``).

One error path for every command, present and future: ``main`` checks the output paths against the
inputs, runs the command, and turns any failure into exactly one line ``error: ...`` on stderr (control
characters shown visibly) and exit status 2. A ``VTNError`` carries its own message; anything else is a
bug: the last-resort handler logs its traceback at debug level (``VTN_DEBUG=1`` shows it) and still
prints one line.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

from vtn_core import output_guard, safe_text
from vtn_core.errors import VTNError

log = logging.getLogger("vtn_core.cli")
MAX_ERROR_CHARS = 600

# name -> module under vtn_core.commands; modules are imported lazily so `--help` stays fast.
COMMANDS: dict[str, str] = {
    "predict": "predict",
    "synth": "synth",
    "train": "train",
    "evaluate": "evaluate",
    "bench": "bench",
    "inspect": "inspect",
    "app": "app",
    "explain": "explain",
    "batch": "batch",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one ``error:`` line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _error_line(f"{message} (see `{self.prog} --help`)")
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


def build_parser(prog: str = "python -m vtn_core") -> argparse.ArgumentParser:
    """The full argument parser with every available sub-command."""
    parser = _Parser(prog=prog, description="VTN Attention Explorer command line.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in _available_commands().items():
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run, _outputs=tuple(getattr(module, "OUTPUTS", ())))
    return parser


def _error_line(message: object) -> None:
    """Exactly one line ``error: ...`` on stderr, whatever the message holds."""
    try:
        sys.stderr.write(f"error: {safe_text.terminal(message, MAX_ERROR_CHARS)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _describe(exc: BaseException) -> str:
    """A one-line description of an unexpected exception (file names only, never a traceback)."""
    if isinstance(exc, MemoryError):
        return "out of memory: the input asks for more memory than this machine has"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to process"
    if isinstance(exc, OSError):
        where = f" ({os.path.basename(str(exc.filename))})" if exc.filename else ""
        return f"{exc.strerror or type(exc).__name__}{where}"
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"internal error ({type(exc).__name__}{': ' + detail[:200] if detail else ''}); rerun with VTN_DEBUG=1 " \
           "for the traceback and report it"


def _run_command(args: argparse.Namespace) -> int:
    """The one error path: every failure becomes one ``error:`` line and exit status 2."""
    try:
        output_guard.guard_outputs(args, getattr(args, "_outputs", ()))
        return int(args._run(args) or 0)
    except VTNError as exc:
        _error_line(exc)
        return 2
    except KeyboardInterrupt:
        _error_line("interrupted")
        return 130
    except BrokenPipeError:
        try:  # the reader went away (``| head``): nothing more to say
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's exit flush quiet
        except OSError:
            pass
        return 0
    except Exception as exc:  # the last line of defence, not the first
        log.debug("unexpected failure in %s", getattr(args, "command", "?"), exc_info=True)
        _error_line(_describe(exc))
        return 2
    finally:
        output_guard.clear()


def main(argv: Sequence[str] | None = None, prog: str = "python -m vtn_core") -> int:
    """Run the CLI; returns the process exit status."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    if os.environ.get("VTN_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    return _run_command(args)
