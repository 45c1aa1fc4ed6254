"""A disk cache of ``Result``s: atomic writes, corrupt entries ignored and rebuilt, LRU size cap."""
from __future__ import annotations

import io
import os
import tempfile
import threading
import zipfile
from pathlib import Path
from time import time_ns

import numpy as np

from vtn_core.hashing import default_cache_dir
from vtn_core.result import Result

CACHE_VERSION = 1
DEFAULT_MAX_BYTES = 512 * 1024**2
_SUFFIX = ".npz"
# how far past the newest entry a stamp goes: 1 ns, then whole seconds where the file system keeps no finer
# times (ext3, FAT: 2 s)
_STAMP_STEPS = (1, 10**9, 2 * 10**9)


class ResultCache:
    """Results on disk under ``directory`` keyed by a hex string, at most ``max_bytes`` in all."""

    def __init__(self, directory: str | Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir() / "results"
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValueError("cache keys are lower-case hex digests")
        return self.directory / f"v{CACHE_VERSION}-{key}{_SUFFIX}"

    def get(self, key: str) -> Result | None:
        """The cached result, or None when absent, stale or corrupt (a corrupt entry is deleted)."""
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            result = Result.from_arrays(arrays)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, UnicodeDecodeError):
            self._discard(path)
            return None
        self._mark_recent(path)
        result.from_cache = True
        return result

    def put(self, key: str, result: Result) -> Path:
        """Store ``result`` atomically (temp file + rename), then evict least-recently-used entries."""
        path = self._path(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, **result.to_arrays())
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=_SUFFIX, dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(buffer.getbuffer())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._mark_recent(path)
        self.evict()
        return path

    def _mark_recent(self, path: Path) -> None:
        """Stamp ``path`` as the most recently used entry: its mtime goes past every other entry's.

        The clock alone is not enough: a wall clock stepped back (NTP, a VM restored from a snapshot) or two
        stamps within one tick of the kernel's coarse clock (or one second, where the file system keeps no finer
        times) would leave a just-used entry looking older than one used before it, and eviction would delete
        the wrong one.
        """
        with self._lock:
            newest = max((stamp for stamp, other in self._stamps() if other != path), default=0)
            for step in _STAMP_STEPS:
                stamp = max(time_ns(), newest + step)
                try:
                    os.utime(path, ns=(stamp, stamp))
                    if path.stat().st_mtime_ns > newest:
                        return
                except OSError:
                    return  # read-only or vanished: the entry keeps its old place in the order

    def entries(self) -> list[Path]:
        """Stored entries, least recently used first."""
        return [path for _, path in sorted(self._stamps())]

    def _stamps(self) -> list[tuple[int, Path]]:
        """(mtime in ns, path) of every stored entry, in no order."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob(f"v*{_SUFFIX}"):
            try:
                found.append((path.stat().st_mtime_ns, path))
            except FileNotFoundError:
                continue
        return found

    def size_bytes(self) -> int:
        total = 0
        for path in self.entries():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                pass
        return total

    def evict(self) -> list[Path]:
        """Delete least-recently-used entries until the cache fits ``max_bytes``; returns those deleted."""
        removed = []
        with self._lock:
            entries = self.entries()
            sizes = {}
            for path in entries:
                try:
                    sizes[path] = path.stat().st_size
                except FileNotFoundError:
                    sizes[path] = 0
            total = sum(sizes.values())
            for path in entries:
                if total <= self.max_bytes:
                    break
                self._discard(path)
                total -= sizes[path]
                removed.append(path)
        return removed

    def clear(self) -> None:
        for path in self.entries():
            self._discard(path)

    @staticmethod
    def _discard(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
