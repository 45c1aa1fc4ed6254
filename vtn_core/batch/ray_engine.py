"""Everything that touches Ray: start a local Ray (or join a cluster), run the videos through an actor pool
with Ray Data (``map_batches``, the model loaded once per actor, GPU actors when CUDA is present) and hand
each finished block of rows to the caller as it arrives."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from vtn_core.batch.inputs import BatchItem
from vtn_core.batch.rows import DIGEST, INDEX, predict_row, rows_table
from vtn_core.errors import DataError, VTNError

OBJECT_STORE_BYTES = 128 * 1024**2  # rows are small: keep the local object store modest
TASK_RETRIES = 3  # a video whose worker dies this many times becomes an error row instead of a hang
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class EngineOptions:
    """How to run: actors, GPUs per actor (None = 1 when CUDA is present, else 0), cluster address."""

    workers: int | None = None
    gpus_per_worker: float | None = None
    address: str | None = None
    max_checkpoint_bytes: int | None = None


class VideoPredictor:
    """A Ray Data actor: loads the checkpoint once, then turns blocks of videos into blocks of result rows."""

    def __init__(self, checkpoint: str, num_frames: int | None, device: str, max_bytes: int | None) -> None:
        import torch

        from vtn_core.checkpoint import load_checkpoint

        torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS") or 1)))
        kwargs = {"max_bytes": max_bytes} if max_bytes else {}
        self.model = load_checkpoint(checkpoint, device=device, **kwargs)
        self.num_frames = num_frames

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = []
        for record in batch.to_pylist():
            event = None
            if record.get("event_start") is not None and record.get("event_end") is not None:
                event = (int(record["event_start"]), int(record["event_end"]))
            item = BatchItem(Path(record["path"]), record.get("label"), event)
            row = predict_row(self.model, item, self.num_frames)
            row[INDEX], row[DIGEST] = int(record[INDEX]), record[DIGEST]
            rows.append(row)
        return rows_table(rows, transport=True)


@contextlib.contextmanager
def engine_log(path: Path) -> Iterator[TextIO]:
    """Send everything written to file descriptor 2 (Ray's C++ core and worker messages) to ``path``; yields
    a stream on the real stderr for our own progress bar. Leaves stderr alone where it is not a real file."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield sys.stderr
        return
    console = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield console
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            console.close()


def _quiet() -> None:
    for name in ("ray", "ray.data", "ray.data._internal"):
        logging.getLogger(name).setLevel(logging.ERROR)


def start(options: EngineOptions) -> tuple[dict[str, Any], bool]:
    """Connect to ``options.address`` or start a local Ray in-process (explicit CPUs, no dashboard, small
    object store). Returns (engine description, whether we started it and must shut it down)."""
    try:
        import ray
    except ModuleNotFoundError:
        raise VTNError("batch needs Ray, which is not installed: pip install 'vtn-attention-explorer[corpus]' "
                       "(or: pip install 'ray[data]')") from None

    _quiet()
    started = time.perf_counter()
    owned = False
    if not ray.is_initialized():
        _init(ray, options)
        owned = True
    resources = ray.cluster_resources()
    return {"name": "ray", "version": ray.__version__, "address": options.address or "local",
            "cluster_cpus": float(resources.get("CPU", 0)), "cluster_gpus": float(resources.get("GPU", 0)),
            "startup_s": time.perf_counter() - started}, owned


def _init(ray, options: EngineOptions) -> None:
    """``ray.init`` for a cluster address or a local Ray; one retry (a loaded machine can miss Ray's own 30 s
    start-up wait), then a ``VTNError`` instead of a traceback."""
    for attempt in (1, 2):
        try:
            if options.address:
                ray.init(address=options.address, logging_level=logging.ERROR, log_to_driver=False)
            else:
                import torch

                os.environ["PYTHONPATH"] = os.pathsep.join(
                    p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)  # local workers import vtn_core
                gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
                ray.init(num_cpus=options.workers or os.cpu_count() or 1, num_gpus=gpus, include_dashboard=False,
                         object_store_memory=OBJECT_STORE_BYTES, logging_level=logging.ERROR, log_to_driver=False)
            return
        except Exception as exc:  # noqa: BLE001 - Ray raises plain Exception/ConnectionError on start-up failures
            ray.shutdown()
            if attempt == 2 or options.address:
                where = f"the Ray cluster at {options.address}" if options.address else "a local Ray"
                raise VTNError(f"could not start or reach {where}: {str(exc).splitlines()[0][:300]}") from None


def stop() -> None:
    import ray

    ray.shutdown()


def plan_workers(options: EngineOptions, engine: dict[str, Any]) -> tuple[int, float]:
    """(actors, GPUs per actor): GPU actors when the cluster has GPUs, one per GPU by default."""
    gpus = engine["cluster_gpus"]
    per_gpu = options.gpus_per_worker
    if per_gpu is None:
        per_gpu = 1.0 if gpus > 0 else 0.0
    if per_gpu > 0 and gpus <= 0:
        raise DataError(f"--gpus-per-worker {per_gpu:g} but the Ray cluster has no GPU; leave it out to run on CPUs")
    if options.workers:
        return options.workers, per_gpu
    if per_gpu > 0:
        return max(1, int(gpus / per_gpu)), per_gpu
    return max(1, int(engine["cluster_cpus"])), per_gpu


def run(jobs: Sequence[tuple[int, BatchItem, str]], checkpoint: Path, num_frames: int | None, workers: int,
        gpus_per_worker: float, on_rows: Callable[[pa.Table], None], max_bytes: int | None = None) -> None:
    """Run ``jobs`` ((index, item, digest), one video per block) on ``workers`` actors; ``on_rows`` gets each
    finished block (results columns plus ``_index``/``_digest``) as it arrives. Blocks whose worker died
    ``TASK_RETRIES`` times are dropped here; the caller sees them missing."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.max_errored_blocks = -1  # a block that keeps failing is skipped, not fatal (it becomes an error row)
    records = [{INDEX: index, "path": str(item.path), "label": item.label,
                "event_start": item.event[0] if item.event else None,
                "event_end": item.event[1] if item.event else None, DIGEST: digest}
               for index, item, digest in jobs]
    dataset = ray.data.from_items(records, override_num_blocks=len(records))
    device = "cuda" if gpus_per_worker > 0 else "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_task_retries as a remote arg is deprecated from Ray 2.60 on
        dataset = dataset.map_batches(
            VideoPredictor, batch_size=1, batch_format="pyarrow",
            fn_constructor_kwargs={"checkpoint": str(checkpoint), "num_frames": num_frames, "device": device,
                                   "max_bytes": max_bytes},
            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1, num_gpus=gpus_per_worker or None,
            max_task_retries=TASK_RETRIES)
    for block in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
        if block.num_rows:
            on_rows(block)
