"""Ground-truth boxes: ``boxes.csv`` (``path,frame,x0,y0,x1,y1``) — the hero's box in source pixels
(inclusive corners) for every event frame, beside ``labels.csv``."""
from __future__ import annotations

import csv
from pathlib import Path

from vtn_core.errors import DataError

BOX_COLUMNS = ("path", "frame", "x0", "y0", "x1", "y1")
MAX_BOXES_BYTES = 64 * 1024**2

Box = tuple[int, int, int, int]


def boxes_file(data_dir: str | Path) -> Path | None:
    """``data_dir/boxes.csv`` when it exists."""
    path = Path(data_dir)
    path = (path if path.is_dir() else path.parent) / "boxes.csv"
    return path if path.is_file() else None


def read_boxes(path: str | Path) -> dict[str, dict[int, Box]]:
    """{relative video path: {frame index: (x0, y0, x1, y1)}} from a ``boxes.csv``, validated."""
    path = Path(path)
    if path.stat().st_size > MAX_BOXES_BYTES:
        raise DataError(f"{path}: larger than {MAX_BOXES_BYTES // 1024**2} MB; refusing to read it")
    boxes: dict[str, dict[int, Box]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in BOX_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: missing columns {', '.join(missing)}")
            for number, row in enumerate(reader, start=2):
                try:
                    frame = int(row["frame"])
                    x0, y0, x1, y1 = (int(float(row[c])) for c in ("x0", "y0", "x1", "y1"))
                except (TypeError, ValueError):
                    raise DataError(f"{path}, line {number}: frame and box corners must be numbers") from None
                if x1 < x0 or y1 < y0 or frame < 0:
                    raise DataError(f"{path}, line {number}: need frame >= 0, x0 <= x1 and y0 <= y1")
                boxes.setdefault(Path(row["path"] or "").as_posix(), {})[frame] = (x0, y0, x1, y1)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    return boxes


def pointing_margin(width: int, height: int) -> float:
    """The pointing game's tolerance: 15 px on a 224-px frame (Zhang et al., 2016), scaled to this frame."""
    return 15.0 * min(width, height) / 224.0


def point_in_box(point: tuple[int, int] | None, box: Box, margin: float = 0.0) -> bool:
    """Whether source pixel ``point`` (x, y) lies in the inclusive ``box`` grown by ``margin`` pixels."""
    if point is None:
        return False
    x, y = point
    return box[0] - margin <= x <= box[2] + margin and box[1] - margin <= y <= box[3] + margin
