"""What reading a file costs, remembered for the process.

A dense read that measures its decoder (``ChunkStream._retune``: one decoding thread's CPU per frame of the
file, one conversion's CPU per sample of the recipe) leaves both here, so the next read of the same file with
a recipe already measured (another model on the compare page, an explanation, a rerun of the demo) picks its
decoder threads before its first frame instead of measuring and starting over. A file is known by its path,
size, inode and modification time: a file written again is measured again.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Hashable

MAX_REMEMBERED = 256  # per table: ~100 bytes an entry

_lock = threading.Lock()
_decoding: OrderedDict[Hashable, float] = OrderedDict()
_converting: OrderedDict[Hashable, float] = OrderedDict()


def file_key(path: str | Path) -> tuple | None:
    """What identifies this version of a file, or ``None`` where it cannot be read."""
    try:
        status = Path(path).stat()
        return str(Path(path).resolve()), status.st_size, status.st_ino, status.st_mtime_ns
    except OSError:
        return None


def _remember(table: OrderedDict, key: Hashable | None, seconds: float) -> None:
    if key is None or not seconds > 0:
        return
    with _lock:
        table[key] = float(seconds)
        table.move_to_end(key)
        while len(table) > MAX_REMEMBERED:
            table.popitem(last=False)


def _recall(table: OrderedDict, key: Hashable | None) -> float | None:
    if key is None:
        return None
    with _lock:
        return table.get(key)


def remember_decoding(path: str | Path, seconds_per_frame: float) -> None:
    """One decoding thread's CPU seconds per frame of ``path``, as measured."""
    _remember(_decoding, file_key(path), seconds_per_frame)


def decoding(path: str | Path) -> float | None:
    """One decoding thread's CPU seconds per frame of ``path``, where a read of this version measured it."""
    return _recall(_decoding, file_key(path))


def remember_converting(recipe: Hashable, seconds_per_sample: float) -> None:
    """One conversion's CPU seconds per sample for ``recipe`` (frame size, pre-processing, thumbnails, mode)."""
    _remember(_converting, recipe, seconds_per_sample)


def converting(recipe: Hashable) -> float | None:
    """One conversion's CPU seconds per sample for ``recipe``, where a read measured it."""
    return _recall(_converting, recipe)


def forget() -> None:
    """Drop everything remembered (tests)."""
    with _lock:
        _decoding.clear()
        _converting.clear()
