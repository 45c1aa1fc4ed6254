"""What ships in ``assets/``: bundled checkpoints and demo videos with their ground-truth event spans.

``VTN_ASSETS_DIR`` points the app at another folder (the tests use a tiny one). A missing folder or a
malformed ``labels.csv`` yields an empty or partial catalog, never an error.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

ASSETS_ENV = "VTN_ASSETS_DIR"
REPO_ASSETS = Path(__file__).resolve().parent.parent / "assets"
CHECKPOINT_SUFFIXES = (".safetensors", ".pyth", ".pth")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif")


@dataclass(frozen=True)
class DemoVideo:
    """A bundled video; ``event`` is the inclusive frame span of the class-defining moment when known."""

    path: Path
    label: str | None = None
    event: tuple[int, int] | None = None
    fps: float | None = None

    @property
    def name(self) -> str:
        return self.path.name


def assets_dir() -> Path:
    """``$VTN_ASSETS_DIR`` or the repository's ``assets/``."""
    return Path(os.environ.get(ASSETS_ENV) or REPO_ASSETS)


def bundled_checkpoints() -> list[Path]:
    """Checkpoints under ``assets/models``, learned models first, then by name."""
    folder = assets_dir() / "models"
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in CHECKPOINT_SUFFIXES]
    return sorted(found, key=lambda p: ("learned" not in p.name.lower(), p.name.lower()))


def demo_videos() -> list[DemoVideo]:
    """Demo videos: those listed in ``labels.csv`` (in its order, with labels and events), then the rest."""
    folder = assets_dir() / "demo_videos"
    if not folder.is_dir():
        return []
    listed = _read_labels(folder)
    seen = {video.path.resolve() for video in listed}
    others = sorted(p for p in folder.iterdir()
                    if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and p.resolve() not in seen)
    return listed + [DemoVideo(path=p) for p in others]


def _read_labels(folder: Path) -> list[DemoVideo]:
    labels = folder / "labels.csv"
    if not labels.is_file():
        return []
    videos = []
    try:
        with open(labels, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                path = folder / (row.get("path") or "")
                if not row.get("path") or not path.is_file() or path.suffix.lower() not in VIDEO_SUFFIXES:
                    continue
                videos.append(DemoVideo(path=path, label=(row.get("label") or "").strip() or None,
                                        event=_event(row), fps=_number(row.get("fps"))))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    return videos


def _event(row: dict[str, str | None]) -> tuple[int, int] | None:
    start, end = _number(row.get("event_start")), _number(row.get("event_end"))
    if start is None or end is None or end < start:
        return None
    return int(start), int(end)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def twin_pair(paths: list[Path]) -> tuple[Path, Path] | None:
    """A learned/uniform pair among ``paths`` by name (``…learned…`` and the same name with ``uniform``)."""
    by_name = {p.name: p for p in paths}
    for path in paths:
        if "learned" in path.name:
            twin = by_name.get(path.name.replace("learned", "uniform"))
            if twin is not None:
                return path, twin
    return None
