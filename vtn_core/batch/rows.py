"""One row of ``results.parquet`` per video: the schema (a contract, see DESIGN.md), and how a row is built
from a ``Result`` or from a failure."""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa

from vtn_core.attention import normalized_entropy, span_mass
from vtn_core.batch.inputs import BatchItem
from vtn_core.result import Result

TOP_K = 5
MAX_ERROR_CHARS = 500

SCHEMA = pa.schema([
    ("path", pa.string()),
    ("label", pa.string()),
    ("predicted", pa.string()),
    ("prob", pa.float64()),
    ("top5", pa.list_(pa.struct([("label", pa.string()), ("prob", pa.float64())]))),
    ("correct", pa.bool_()),
    ("entropy", pa.float64()),
    ("localization", pa.float64()),
    ("num_frames", pa.int64()),
    ("duration_s", pa.float64()),
    ("cls_attention", pa.list_(pa.float32())),
    ("timestamps_s", pa.list_(pa.float64())),
    ("seconds", pa.float64()),
    ("error", pa.string()),
])
COLUMNS = tuple(SCHEMA.names)
# bookkeeping carried beside a row between the workers and the writer (never written to results.parquet)
INDEX, DIGEST = "_index", "_digest"
TRANSPORT_SCHEMA = SCHEMA.append(pa.field(INDEX, pa.int64())).append(pa.field(DIGEST, pa.string()))


def result_row(result: Result, item: BatchItem, seconds: float) -> dict[str, Any]:
    """The row of one successful run: top-5, [CLS] attention (layer- and head-mean) and its statistics.

    ``entropy``: normalised entropy of that mean attention (1 = uniform); ``localization``: share of the
    head-averaged first-layer attention inside the event (as ``evaluate``), null without an event;
    ``num_frames``/``duration_s``: of the source video.
    """
    top = result.top_k(TOP_K)
    weights = result.attention()
    localization = None
    if item.event is not None:
        localization = span_mass(result.attention(layer=0), result.frame_indices, *item.event)
    predicted, prob = top[0]
    return {
        "path": str(item.path), "label": item.label, "predicted": predicted, "prob": float(prob),
        "top5": [{"label": label, "prob": float(p)} for label, p in top],
        "correct": None if item.label is None else predicted == item.label,
        "entropy": float(normalized_entropy(weights)) if weights.size > 1 else 0.0,
        "localization": localization,
        "num_frames": int(result.video.get("num_frames") or 0),
        "duration_s": float(result.video.get("duration_s") or 0.0),
        "cls_attention": np.asarray(weights, dtype=np.float32).tolist(),
        "timestamps_s": np.asarray(result.timestamps_s, dtype=np.float64).tolist(),
        "seconds": float(seconds), "error": None,
    }


def error_row(item: BatchItem, error: str, seconds: float = 0.0) -> dict[str, Any]:
    """The row of a video that could not be run: everything null but its path, label, time and ``error``."""
    row: dict[str, Any] = {name: None for name in COLUMNS}
    row.update({"path": str(item.path), "label": item.label, "seconds": float(seconds),
                "error": (error or "unknown error")[:MAX_ERROR_CHARS]})
    return row


def predict_row(model, item: BatchItem, num_frames: int | None) -> dict[str, Any]:
    """Run ``model`` over one video (no result cache) → its row; any failure becomes an error row."""
    from vtn_core.inference import run_video

    started = time.perf_counter()
    try:
        result = run_video(model, item.path, num_frames=num_frames, cache=False, prefetch=0, thumb_height=8)
    except Exception as exc:  # noqa: BLE001 - a broken video is a row with its error; the job goes on
        return error_row(item, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
    return result_row(result, item, time.perf_counter() - started)


def rows_table(rows: list[dict[str, Any]], transport: bool = False) -> pa.Table:
    """Rows as an Arrow table with the results schema (plus ``_index``/``_digest`` when ``transport``)."""
    schema = TRANSPORT_SCHEMA if transport else SCHEMA
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)
