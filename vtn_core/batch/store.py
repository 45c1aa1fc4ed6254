"""A run folder on disk: ``results.parquet`` (rewritten atomically as rows arrive) and ``run.json``.

Resume bookkeeping lives inside the Parquet file itself (its key-value metadata holds the settings digest
and each row's video content digest), so the rows and what they stand for are replaced in one rename: a
run killed at any moment leaves a readable file of what finished, and a rerun knows exactly what is done.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vtn_core.batch.rows import COLUMNS, DIGEST, INDEX, SCHEMA, TRANSPORT_SCHEMA
from vtn_core.errors import DataError
from vtn_core.hashing import text_digest, umask_mode

RESULTS = "results.parquet"
RUN_JSON = "run.json"
META_KEY = b"vtn_batch"
MIN_FLUSH_INTERVAL_S = 1.0
FLUSH_COST_SHARE = 0.1  # at most ~10% of the wall time goes to rewriting results.parquet


def settings_digest(checkpoint_digest: str, settings: dict[str, Any]) -> str:
    """What makes two runs' rows interchangeable: the checkpoint's content and the inference settings."""
    return text_digest(checkpoint_digest, sorted(settings.items()))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync and rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    write_bytes_atomic(path, (json.dumps(document, indent=1) + "\n").encode())


def read_done(run_dir: Path, digest: str) -> pa.Table | None:
    """The finished rows of an earlier run with the same settings digest (with their ``_digest`` column),
    None when there is none; a run folder of other settings is a ``DataError`` (never overwritten)."""
    run_json, results = run_dir / RUN_JSON, run_dir / RESULTS
    if run_json.is_file():
        try:
            earlier = json.loads(run_json.read_text(encoding="utf-8")).get("settings_digest")
        except (OSError, ValueError, AttributeError):
            earlier = None
        if earlier != digest:
            raise DataError(f"--out {run_dir} holds a run with another checkpoint or other settings; "
                            "choose a new --out folder (a rerun resumes only with the same ones)")
    if not results.is_file():
        return None
    try:
        table = pq.read_table(results)
        meta = json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise DataError(f"{results}: not a readable results file ({exc}); choose a new --out folder") from None
    if meta.get("settings_digest") != digest:
        raise DataError(f"{results} was written with another checkpoint or other settings; "
                        "choose a new --out folder")
    digests = meta.get("digests") or []
    if len(digests) != table.num_rows or list(table.column_names) != list(COLUMNS):
        raise DataError(f"{results}: its bookkeeping does not match its rows; choose a new --out folder")
    return table.append_column(DIGEST, pa.array(digests, pa.string()))


class ResultsWriter:
    """Collects rows (Arrow tables with ``_index`` and ``_digest``) and rewrites ``results.parquet`` in input
    order, atomically, at most every ``MIN_FLUSH_INTERVAL_S`` and keeping rewrites to a small share of the run."""

    def __init__(self, run_dir: Path, digest: str) -> None:
        self.path = Path(run_dir) / RESULTS
        self.digest = digest
        self.tables: list[pa.Table] = []
        self.rows = 0
        self.written_rows = -1
        self.last_flush = time.perf_counter()
        self.interval = MIN_FLUSH_INTERVAL_S

    def add(self, table: pa.Table) -> None:
        table = table.select(TRANSPORT_SCHEMA.names).cast(TRANSPORT_SCHEMA)
        self.tables.append(table)
        self.rows += table.num_rows

    def maybe_flush(self) -> None:
        if time.perf_counter() - self.last_flush >= self.interval:
            self.flush()

    def table(self) -> pa.Table:
        """Every row so far, in input order, with the results schema and its bookkeeping metadata."""
        merged = pa.concat_tables(self.tables) if self.tables else TRANSPORT_SCHEMA.empty_table()
        merged = merged.sort_by(INDEX)
        digests = merged.column(DIGEST).to_pylist()
        meta = {META_KEY: json.dumps({"settings_digest": self.digest, "digests": digests}).encode()}
        return merged.select(list(COLUMNS)).cast(SCHEMA).replace_schema_metadata(meta)

    def flush(self) -> None:
        if self.rows == self.written_rows:
            return
        started = time.perf_counter()
        self.tables = [pa.concat_tables(self.tables)] if len(self.tables) > 1 else self.tables
        sink = pa.BufferOutputStream()
        pq.write_table(self.table(), sink, compression="zstd")
        write_bytes_atomic(self.path, sink.getvalue().to_pybytes())
        self.written_rows = self.rows
        cost = time.perf_counter() - started
        self.last_flush = time.perf_counter()
        self.interval = max(MIN_FLUSH_INTERVAL_S, cost / FLUSH_COST_SHARE)
