"""Argument helpers shared by the CLI commands."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from vtn_core.checkpoint import DEFAULT_MAX_CHECKPOINT_BYTES
from vtn_core.errors import VTNError
from vtn_core.hashing import umask_mode


def add_checkpoint_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--checkpoint", required=required, type=Path, help="a .pyth/.pth (official) or .safetensors checkpoint")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--max-checkpoint-mb", type=float, default=DEFAULT_MAX_CHECKPOINT_BYTES / 1024**2,
                        help="refuse checkpoints larger than this (default %(default).0f MB)")


def load_model_from_args(args: argparse.Namespace):
    from vtn_core.checkpoint import load_checkpoint
    return load_checkpoint(args.checkpoint, device=args.device, max_bytes=int(args.max_checkpoint_mb * 1024**2))


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file and rename (no half-written outputs)."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise VTNError(f"cannot write {path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def emit_json(document: dict, out: Path | None) -> None:
    """Write JSON to ``out`` atomically, or to stdout when ``out`` is None or '-'."""
    text = json.dumps(document, indent=1)
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
