"""Labelled video datasets: ``labels.csv`` (path,label[,event_start,event_end,num_frames,fps]) beside the videos."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from vtn_core.errors import DataError

REQUIRED_COLUMNS = ("path", "label")


@dataclass(frozen=True)
class VideoRecord:
    """One labelled video; ``event`` is the inclusive frame span of the class-defining moment, if known."""

    path: Path
    label: str
    event: tuple[int, int] | None = None


def read_labels(data_dir: str | Path) -> list[VideoRecord]:
    """Records of ``data_dir/labels.csv`` (paths relative to ``data_dir``), validated."""
    data_dir = Path(data_dir)
    labels = data_dir / "labels.csv" if data_dir.is_dir() else data_dir
    if not labels.is_file():
        raise DataError(f"{data_dir}: no labels.csv found; expected a folder with labels.csv (columns path,label)")
    root = labels.parent
    try:
        with open(labels, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise DataError(f"{labels}: missing columns {', '.join(missing)}; found {', '.join(columns) or 'none'}")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{labels}: not a readable CSV file: {exc}") from None
    records = []
    for number, row in enumerate(rows, start=2):
        path = root / (row.get("path") or "")
        if not row.get("path") or not path.is_file():
            raise DataError(f"{labels}, line {number}: video {row.get('path')!r} not found under {root}")
        label = (row.get("label") or "").strip()
        if not label:
            raise DataError(f"{labels}, line {number}: empty label")
        event = None
        if row.get("event_start") not in (None, "") and row.get("event_end") not in (None, ""):
            try:
                event = (int(row["event_start"]), int(row["event_end"]))
            except ValueError:
                raise DataError(f"{labels}, line {number}: event_start/event_end must be integers") from None
        records.append(VideoRecord(path=path, label=label, event=event))
    if not records:
        raise DataError(f"{labels}: lists no videos")
    return records


def class_list(records: list[VideoRecord]) -> list[str]:
    """Sorted distinct labels (class index = position)."""
    return sorted({r.label for r in records})
