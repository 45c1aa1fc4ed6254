"""Argument helpers shared by the CLI commands."""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

from vtn_core import json_safe, limits, safe_text
from vtn_core.checkpoint import DEFAULT_MAX_CHECKPOINT_BYTES
from vtn_core.errors import VTNError
from vtn_core.hashing import umask_mode
from vtn_core.output_guard import refuse_if_input


def add_checkpoint_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--checkpoint", required=required, type=Path, help="a .pyth/.pth (official) or .safetensors checkpoint")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--max-checkpoint-mb", type=checkpoint_megabytes, default=DEFAULT_MAX_CHECKPOINT_BYTES / 1024**2,
                        help="refuse checkpoints larger than this (default %(default).0f MB, at most that)")


def load_model_from_args(args: argparse.Namespace):
    from vtn_core.checkpoint import load_checkpoint
    return load_checkpoint(args.checkpoint, device=args.device, max_bytes=int(args.max_checkpoint_mb * 1024**2))


def positive_int(text: str) -> int:
    """A whole number from 1 to 10^9 (larger counts are refused by the command's own limits)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {safe_text.terminal(text, 40)!r}") from None
    if not 1 <= value <= 10**9:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1,000,000,000, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0 (``inf`` and ``nan`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {safe_text.terminal(text, 40)!r}") from None
    if not math.isfinite(value) or not value > 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {value}")
    return value


def checkpoint_megabytes(text: str) -> float:
    """``--max-checkpoint-mb``: a finite number of megabytes up to the built-in limit."""
    value = positive_float(text)
    ceiling = limits.MAX_CHECKPOINT_BYTES / 1024**2
    if value > ceiling:
        raise argparse.ArgumentTypeError(f"must be at most {ceiling:.0f} MB, got {value:g}")
    return value


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and rename (no half-written outputs, never over an input)."""
    path = Path(path)
    if str(path).strip() in ("", "."):
        raise VTNError(f"cannot write {str(path)!r}: give a file name")
    if path.is_dir():
        raise VTNError(f"cannot write {path}: it is a folder; give a file name")
    refuse_if_input(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise VTNError(f"cannot write {path}: folder {parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)
    except OSError as exc:
        raise VTNError(f"cannot write {path}: {exc.strerror or 'permission denied'}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except OSError as exc:
        raise VTNError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def emit_json(document: dict, out: Path | None) -> None:
    """Write strict JSON (NaN/inf as null, with a notice) to ``out`` atomically, or to stdout for None/'-'."""
    text, replaced = json_safe.dumps(document, indent=1)
    if replaced:
        sys.stderr.write(f"note: {json_safe.NON_FINITE_NOTICE.format(count=replaced)}\n")
    if out is None or str(out) == "-":
        sys.stdout.write(text + "\n")
    else:
        write_text_atomic(out, text + "\n")


def stderr_progress(enabled: bool = True):
    """A ``progress(stage, done, total)`` callback that draws one updating line per stage on stderr."""
    last: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if not enabled or not sys.stderr.isatty():
            return
        percent = int(100 * done / max(total, 1))
        if last.get(stage) == percent:
            return
        last[stage] = percent
        sys.stderr.write(f"\r{stage:>9}: {done}/{total} ({percent}%)" + ("\n" if done >= total else ""))
        sys.stderr.flush()
    return report
