"""Work done once per process for every session that asks the same question.

Several people opening the demo at once all ask for the same explanation of the same clip; without this each
session computed it on its own (four sessions: four times the work on the same cores). A question's key names
its files by path, size and modification time, so an upload (stored under a generated name in its session's
private folder) only ever matches itself. Values must not be changed by their users.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")
WAIT_STEP_S = 0.5


class SharedResults(Generic[Value]):
    """An LRU of at most ``max_entries`` values with one computation per key at a time: a caller asking for a
    key another thread is computing waits for that result instead of computing it again (``waiting`` is called
    every ``WAIT_STEP_S`` meanwhile; a Streamlit call there lets a rerun interrupt the wait). When the
    computation fails (or its script run is stopped), the next waiter computes it."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = int(max_entries)
        self._lock = threading.Lock()
        self._values: OrderedDict[Hashable, Value] = OrderedDict()
        self._running: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable) -> Value | None:
        """The value of ``key`` (marked most recent), or None."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        return None

    def get_or_compute(self, key: Hashable, compute: Callable[[], Value],
                       waiting: Callable[[], None] | None = None) -> Value:
        """The value of ``key``, computed by ``compute`` unless present or being computed by another thread."""
        while True:
            with self._lock:
                if key in self._values:
                    self._values.move_to_end(key)
                    return self._values[key]
                running = self._running.setdefault(key, threading.Lock())
            if running.acquire(timeout=WAIT_STEP_S):
                break
            if waiting is not None:
                waiting()
        try:
            found = self.get(key)  # finished while this thread was taking the lock
            if found is not None:
                return found
            value = compute()
            self.put(key, value)
            return value
        finally:
            with self._lock:
                if self._running.get(key) is running:
                    del self._running[key]
            running.release()

    def put(self, key: Hashable, value: Value) -> None:
        """Keep ``value`` for ``key``; the least recently used beyond ``max_entries`` are dropped."""
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.max_entries:
                self._values.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)
