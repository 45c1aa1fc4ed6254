"""What a batch run reads: a ``labels.csv`` folder, a plain folder of videos, or a PySlowFast dataset CSV.

Every input becomes a list of ``BatchItem`` (path, label or None, event span or None). A listed video that
is missing is kept (it becomes an error row, the job goes on); a malformed list is a ``DataError``.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vtn_core.errors import DataError

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif", ".m4v", ".mpg", ".mpeg")
MAX_LIST_BYTES = 256 * 1024**2  # a labels / PySlowFast CSV larger than this is refused before reading
MAX_VIDEOS = 2_000_000
FORMATS = ("labels", "folder", "pyslowfast")


@dataclass(frozen=True)
class BatchItem:
    """One video to run; ``event`` is the inclusive frame span of the class-defining moment, if known."""

    path: Path
    label: str | None = None
    event: tuple[int, int] | None = None


@dataclass(frozen=True)
class BatchInput:
    """The videos of one input and the format they were read from (one of ``FORMATS``)."""

    items: list[BatchItem]
    format: str
    source: Path


def discover(data: str | Path, class_names: Sequence[str]) -> BatchInput:
    """Read ``data`` in whichever supported format it is; ``class_names`` maps PySlowFast label indices."""
    data = Path(data)
    if data.is_dir():
        labels = data / "labels.csv"
        if labels.is_file():
            return BatchInput(read_labels_csv(labels), "labels", labels)
        return BatchInput(scan_folder(data), "folder", data)
    if not data.is_file():
        raise DataError(f"--data {data}: no such file or folder; give a folder of videos, a folder with "
                        "labels.csv, or a PySlowFast CSV (path label_index per line)")
    text = _read_list(data)
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    if "," in first and {"path", "label"} <= {c.strip() for c in first.split(",")}:
        return BatchInput(read_labels_csv(data, text), "labels", data)
    return BatchInput(read_pyslowfast_csv(data, class_names, text), "pyslowfast", data)


def _read_list(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_LIST_BYTES:
        raise DataError(f"{path}: {size / 1024**2:.0f} MB is larger than the {MAX_LIST_BYTES // 1024**2} MB "
                        "limit for a video list")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file; expected labels.csv or a PySlowFast CSV") from None


def _check_count(items: list[BatchItem], where: Path) -> list[BatchItem]:
    if not items:
        raise DataError(f"{where}: lists no videos")
    if len(items) > MAX_VIDEOS:
        raise DataError(f"{where}: {len(items)} videos is more than the limit of {MAX_VIDEOS}")
    return items


def _resolve(root: Path, text: str) -> Path:
    path = Path(text)
    return path if path.is_absolute() else root / path


def read_labels_csv(labels: Path, text: str | None = None) -> list[BatchItem]:
    """``labels.csv`` (columns path,label[,event_start,event_end]; paths relative to its folder)."""
    text = _read_list(labels) if text is None else text
    try:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        columns = [c.strip() for c in reader.fieldnames or []]
        if "path" not in columns:
            raise DataError(f"{labels}: missing column path; found {', '.join(columns) or 'none'}")
        rows = list(reader)
    except csv.Error as exc:
        raise DataError(f"{labels}: not a readable CSV file: {exc}") from None
    items = []
    for number, row in enumerate(rows, start=2):
        name = (row.get("path") or "").strip()
        if not name:
            raise DataError(f"{labels}, line {number}: empty path")
        label = (row.get("label") or "").strip() or None
        event = None
        if (row.get("event_start") or "").strip() and (row.get("event_end") or "").strip():
            try:
                event = (int(row["event_start"]), int(row["event_end"]))
            except ValueError:
                raise DataError(f"{labels}, line {number}: event_start/event_end must be integers") from None
        items.append(BatchItem(_resolve(labels.parent, name), label, event))
    return _check_count(items, labels)


def read_pyslowfast_csv(csv_path: Path, class_names: Sequence[str], text: str | None = None) -> list[BatchItem]:
    """PySlowFast's dataset CSV: ``path label_index`` per line, space-separated (paths may hold spaces:
    the index is the last field); relative paths are relative to the CSV's folder; names from the model."""
    text = _read_list(csv_path) if text is None else text
    items = []
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2:
            raise DataError(f"{csv_path}, line {number}: expected 'path label_index' separated by a space")
        try:
            index = int(parts[1])
        except ValueError:
            raise DataError(f"{csv_path}, line {number}: label index {parts[1][:40]!r} is not a whole number "
                            "(expected PySlowFast's 'path label_index')") from None
        if not 0 <= index < len(class_names):
            raise DataError(f"{csv_path}, line {number}: label index {index} is outside the model's "
                            f"{len(class_names)} classes")
        items.append(BatchItem(_resolve(csv_path.parent, parts[0]), class_names[index]))
    return _check_count(items, csv_path)


def scan_folder(folder: Path) -> list[BatchItem]:
    """Every video file under ``folder`` (recursively, sorted by path), unlabelled."""
    items = [BatchItem(path) for path in sorted(folder.rglob("*"))
             if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file()]
    if not items:
        raise DataError(f"{folder}: no videos found ({', '.join(VIDEO_SUFFIXES)}) and no labels.csv")
    return _check_count(items, folder)


def unknown_labels(items: Sequence[BatchItem], class_names: Sequence[str]) -> list[str]:
    """Labels of ``items`` that are not classes of the model (sorted)."""
    return sorted({item.label for item in items if item.label is not None} - set(class_names))
