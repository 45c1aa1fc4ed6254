"""Run folders written by ``batch``: where they live (``$VTN_RUNS_DIR``, default ``runs/``) and what they hold."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from vtn_core.batch.rows import COLUMNS
from vtn_core.batch.store import RESULTS, RUN_JSON
from vtn_core.errors import DataError

RUNS_ENV = "VTN_RUNS_DIR"
MAX_RUN_JSON_BYTES = 8 * 1024**2
SEARCH_DEPTH = 3


@dataclass(frozen=True)
class RunInfo:
    """One run folder: its results file, row count and run.json (``{}`` when missing or unreadable)."""

    path: Path
    rows: int
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def results(self) -> Path:
        return self.path / RESULTS

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def checkpoint(self) -> Path | None:
        """The checkpoint file the run used, when run.json names one."""
        path = (self.document.get("checkpoint") or {}).get("path")
        return Path(path) if isinstance(path, str) and path else None

    @property
    def stamp(self) -> tuple[int, int]:
        """(size, mtime) of the results file: a cache key that changes when a running batch rewrites it."""
        stat = self.results.stat()
        return stat.st_size, stat.st_mtime_ns


def runs_dir() -> Path:
    """``$VTN_RUNS_DIR`` or ``runs/``."""
    return Path(os.environ.get(RUNS_ENV) or "runs")


def open_run(path: str | Path) -> RunInfo:
    """The run in folder ``path`` (or whose ``results.parquet`` is ``path``); ``DataError`` when it is not one."""
    path = Path(path).expanduser()
    if path.is_file() and path.name == RESULTS:
        path = path.parent
    results = path / RESULTS
    if not results.is_file():
        raise DataError(f"{path}: no {RESULTS} here; give a run folder written by `python -m vtn_core batch`")
    try:
        schema = pq.read_schema(results)
        rows = pq.read_metadata(results).num_rows
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise DataError(f"{results}: not a readable Parquet file ({type(exc).__name__})") from None
    missing = [c for c in COLUMNS if c not in schema.names]
    if missing:
        raise DataError(f"{results}: not a batch results file (missing columns {', '.join(missing)})")
    return RunInfo(path, rows, _read_document(path / RUN_JSON))


def _read_document(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_RUN_JSON_BYTES:
            return {}
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def find_runs(root: str | Path | None = None) -> list[RunInfo]:
    """Run folders under ``root`` (default ``runs_dir()``), up to ``SEARCH_DEPTH`` levels down, newest first."""
    root = Path(root) if root is not None else runs_dir()
    if not root.is_dir():
        return []
    found = []
    for depth in range(SEARCH_DEPTH + 1):
        for results in root.glob("/".join(["*"] * depth + [RESULTS])):
            try:
                found.append(open_run(results.parent))
            except DataError:
                continue
    return sorted(found, key=lambda run: run.results.stat().st_mtime_ns, reverse=True)
