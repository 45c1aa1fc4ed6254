"""``run_batch``: a checkpoint over a whole corpus into a run folder — discover, skip what is done, run the
rest on Ray, write as rows arrive, summarise. The Ray-specific part is ``ray_engine``; the rest is plain."""
from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from vtn_core.batch import ray_engine
from vtn_core.batch.inputs import BatchItem, discover, unknown_labels
from vtn_core.batch.progress import ProgressBar
from vtn_core.batch.ray_engine import EngineOptions
from vtn_core.batch.rows import DIGEST, INDEX, error_row, rows_table
from vtn_core.batch.store import RUN_JSON, ResultsWriter, read_done, settings_digest, write_json_atomic
from vtn_core.errors import DataError
from vtn_core.hashing import file_digest


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def reuse_done(done: pa.Table | None, items: list[BatchItem], digests: list[str | None],
               retry_errors: bool = False) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of earlier runs that stand for the current items (matched by content digest, path and label
    updated to the current input) and the indices of the items still to run."""
    by_digest: dict[str, dict[str, Any]] = {}
    if done is not None:
        for row in done.to_pylist():
            if retry_errors and row.get("error"):
                continue
            by_digest.setdefault(row[DIGEST], row)
    reused, todo = [], []
    for index, (item, digest) in enumerate(zip(items, digests)):
        row = by_digest.get(digest) if digest else None
        if row is None:
            todo.append(index)
            continue
        row = dict(row, path=str(item.path), label=item.label, **{INDEX: index, DIGEST: digest})
        if row.get("error") is None:
            row["correct"] = None if item.label is None else row["predicted"] == item.label
        reused.append(row)
    return reused, todo


def summarise(table: pa.Table) -> dict[str, Any]:
    """Counts and accuracy of a results table (accuracy over labelled videos that ran, as ``evaluate``)."""
    rows = table.select(["label", "correct", "error"]).to_pylist()
    failed = sum(1 for r in rows if r["error"] is not None)
    scored = [r["correct"] for r in rows if r["error"] is None and r["label"] is not None]
    return {"counts": {"videos": len(rows), "failed": failed, "labelled": sum(r["label"] is not None for r in rows),
                       "scored": len(scored), "correct": int(sum(bool(c) for c in scored))},
            "accuracy": (sum(bool(c) for c in scored) / len(scored)) if scored else None}


def _run_jobs(jobs, checkpoint: Path, frames: int, options: EngineOptions, writer: ResultsWriter, bar: ProgressBar,
              arrived: set[int], save_document, document: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Start (or join) Ray, run the jobs, feed the writer and the bar; returns (engine description, seconds)."""
    engine, owned = ray_engine.start(options)
    failed = 0
    began = time.perf_counter()
    try:
        workers, gpus = ray_engine.plan_workers(options, engine)
        engine.update(workers=workers, gpus_per_worker=gpus)
        document["engine"].update(engine)
        save_document()
        bar.restart_clock()
        bar.update(0)
        began = time.perf_counter()

        def on_rows(block: pa.Table) -> None:
            nonlocal failed
            writer.add(block)
            arrived.update(block.column(INDEX).to_pylist())
            failed += sum(e is not None for e in block.column("error").to_pylist())
            bar.update(len(arrived), failed)
            writer.maybe_flush()

        try:
            ray_engine.run(jobs, checkpoint, frames, workers, gpus, on_rows, options.max_checkpoint_bytes)
        finally:
            writer.flush()
    finally:
        if owned:
            ray_engine.stop()
    return engine, time.perf_counter() - began


def _earlier_document(out: Path) -> dict[str, Any]:
    """The run.json of an earlier run in ``out`` (already checked to have the same settings), or {}."""
    try:
        document = json.loads((out / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def run_batch(checkpoint: str | Path, data: str | Path, out: str | Path, *, num_frames: int | None = None,
              options: EngineOptions | None = None, retry_errors: bool = False, show_progress: bool = True,
              stream: TextIO | None = None) -> dict[str, Any]:
    """Run ``checkpoint`` over every video of ``data`` into ``out`` (``results.parquet`` + ``run.json``);
    resumes a run with the same checkpoint and settings. Returns the run summary (run.json's content)."""
    from vtn_core.checkpoint import load_checkpoint

    wall = time.perf_counter()
    options = options or EngineOptions()
    checkpoint, out = Path(checkpoint), Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} exists and is not a folder; give a run folder (created if missing)")
    kwargs = {"max_bytes": options.max_checkpoint_bytes} if options.max_checkpoint_bytes else {}
    model = load_checkpoint(checkpoint, device="cpu", **kwargs)
    source = discover(data, model.class_names)
    unknown = unknown_labels(source.items, model.class_names)
    if unknown:
        raise DataError(f"{source.source}: labels {', '.join(unknown[:8])} are not classes of this model "
                        f"({', '.join(model.class_names[:8])}{'…' if len(model.class_names) > 8 else ''})")
    frames = num_frames or model.config.eval_num_frames
    settings = {"num_frames": frames, "attention": model.attention_mode,
                "position_scheme": model.config.position_scheme, "batch_schema": 1}
    checkpoint_digest = file_digest(checkpoint)
    digest = settings_digest(checkpoint_digest, settings)
    items = source.items
    digests = [file_digest(item.path) if item.path.is_file() else None for item in items]
    out.mkdir(parents=True, exist_ok=True)
    done = read_done(out, digest)
    reused, todo = reuse_done(done, items, digests, retry_errors)

    earlier = _earlier_document(out)
    document: dict[str, Any] = {
        "status": "running", "started": _now(),
        "checkpoint": {"path": str(checkpoint.resolve()), "digest": checkpoint_digest, "name": checkpoint.name,
                       "format": model.metadata.get("format"), "attention": model.attention_mode,
                       "classes": len(model.class_names)},
        "data": {"path": str(Path(data).resolve()), "format": source.format},
        "settings": settings, "settings_digest": digest,
        "engine": earlier.get("engine") or {"name": "ray", "address": options.address or "local"},
        "history": list(earlier.get("history") or []),
    }
    write_json_atomic(out / RUN_JSON, document)
    writer = ResultsWriter(out, digest)
    missing = [i for i in todo if digests[i] is None]
    jobs = [(i, items[i], digests[i]) for i in todo if digests[i] is not None]
    first_rows = reused + [dict(error_row(items[i], f"FileNotFoundError: {items[i].path} does not exist or is not "
                                          "a file"), **{INDEX: i, DIGEST: None}) for i in missing]
    if first_rows:
        writer.add(rows_table(first_rows, transport=True))
    writer.flush()

    arrived: set[int] = set()
    engine: dict[str, Any] = {}
    run_s = 0.0
    if jobs:
        with ray_engine.engine_log(out / "engine.log") as console:
            bar = ProgressBar(len(jobs), stream=stream or console, enabled=show_progress)
            engine, run_s = _run_jobs(jobs, checkpoint, frames, options, writer, bar, arrived,
                                      lambda: write_json_atomic(out / RUN_JSON, document), document)
        lost = [(i, items[i], d) for i, _, d in jobs if i not in arrived]
        if lost:
            writer.add(rows_table([dict(error_row(item, f"WorkerCrashedError: the worker process died "
                                                  f"{ray_engine.TASK_RETRIES + 1} times on this video"),
                                        **{INDEX: i, DIGEST: d}) for i, item, d in lost], transport=True))
            writer.flush()

    table = writer.table()
    document.update(summarise(table))
    document["counts"].update({"resumed": len(reused), "run": len(jobs)})
    timings = {"wall_s": time.perf_counter() - wall, "engine_startup_s": engine.get("startup_s", 0.0),
               "videos_s": run_s, "videos_per_s": (len(jobs) / run_s) if run_s > 0 else None}
    document.update({"status": "complete", "finished": _now(), "timings": timings})
    document["history"].append({"started": document["started"], "finished": document["finished"],
                                "run": len(jobs), "resumed": len(reused), "failed": document["counts"]["failed"],
                                "timings": timings, "engine": engine or None})
    write_json_atomic(out / RUN_JSON, document)
    return document
