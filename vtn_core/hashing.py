"""Content hashes of files (videos, checkpoints) for cache keys, memoised by (path, size, mtime)."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

_CHUNK = 4 * 1024 * 1024
_memo: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def file_digest(path: str | Path) -> str:
    """BLAKE2b-128 hex digest of a file's bytes; repeated calls on an unchanged file are free."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _memo:
            return _memo[key]
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    value = digest.hexdigest()
    with _lock:
        _memo[key] = value
    return value


def text_digest(*parts: object) -> str:
    """BLAKE2b-128 hex digest of the parts' text forms (for composing cache keys)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """``$VTN_CACHE_DIR`` or ``$XDG_CACHE_HOME/vtn-explorer`` or ``~/.cache/vtn-explorer``."""
    if os.environ.get("VTN_CACHE_DIR"):
        return Path(os.environ["VTN_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "vtn-explorer"


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` as the process umask leaves it (temp files from ``mkstemp`` are 0600 otherwise)."""
    current = os.umask(0)
    os.umask(current)
    return mode & ~current
