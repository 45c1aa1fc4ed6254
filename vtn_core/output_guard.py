"""Outputs never overwrite inputs: a command's output paths are checked against its input paths first.

``guard_outputs(args)`` splits a parsed command line's path arguments into outputs (names in
``OUTPUT_ARGUMENTS``, or a command's own ``OUTPUTS``) and inputs (every other path), refuses an output that
is an input file, the folder of an input or a file inside an input folder, and remembers the inputs so that
``refuse_if_input`` (called by every writer) refuses them even for commands added later.
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from pathlib import Path

from vtn_core.errors import VTNError

OUTPUT_ARGUMENTS = frozenset({"json", "csv", "card", "out", "output", "html", "mp4", "report", "out_dir"})
_PROTECTED: set[Path] = set()


def _resolved(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return Path(os.path.abspath(path))


def _paths(value: object) -> Iterable[Path]:
    if isinstance(value, Path):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, Path):
                yield item


def split_paths(args: argparse.Namespace, outputs: Iterable[str] = ()) -> tuple[list[tuple[str, Path]], list[Path]]:
    """(output (option, path) pairs, input paths) of a parsed command line; '-' (stdout) is not a path."""
    names = OUTPUT_ARGUMENTS | set(outputs)
    out, inputs = [], []
    for name, value in vars(args).items():
        for path in _paths(value):
            if name in names:
                if str(path) != "-":
                    out.append((name, path))
            else:
                inputs.append(path)
    return out, inputs


def guard_outputs(args: argparse.Namespace, outputs: Iterable[str] = ()) -> None:
    """Refuse any output that would overwrite or land inside an input (``VTNError``); protect the inputs."""
    out, inputs = split_paths(args, outputs)
    protect(inputs)
    for name, path in out:
        option = "--" + name.replace("_", "-")
        if str(path).strip() in ("", "."):
            raise VTNError(f"{option}: give a file name (got {str(path)!r})")
        refuse_if_input(path, option)


def protect(paths: Iterable[Path]) -> None:
    """Remember ``paths`` as inputs of this process: ``refuse_if_input`` refuses to write over them."""
    for path in paths:
        if path.exists():
            _PROTECTED.add(_resolved(path))


def refuse_if_input(path: Path, what: str = "output") -> None:
    """``VTNError`` when ``path`` is (or lies inside a folder that is) an input of this process."""
    target = _resolved(Path(path))
    for source in _PROTECTED:
        if target == source:
            raise VTNError(f"{what} {path} is one of the inputs; refusing to overwrite it (choose another file)")
        if source.is_dir() and source in target.parents and target.exists():
            raise VTNError(f"{what} {path} is a file inside the input folder {source.name}; refusing to overwrite it")
        if target.is_dir() and target in source.parents:
            raise VTNError(f"{what} {path} is a folder holding the input {source.name}; choose a file name")


def clear() -> None:
    """Forget the protected inputs (between in-process CLI calls, e.g. in tests)."""
    _PROTECTED.clear()
