"""Cold first result on the app's default demo clip: a fresh process, model load, then probe → Result, no cache."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from vtn_core.bench.common import run_worker

REPO_ASSETS = Path(__file__).resolve().parents[2] / "assets"


def default_demo_clip(assets: Path = REPO_ASSETS) -> Path | None:
    """The clip Explore opens on: the first row of ``assets/demo_videos/labels.csv``."""
    import csv

    labels = assets / "demo_videos" / "labels.csv"
    if not labels.is_file():
        return None
    with open(labels, newline="", encoding="utf-8") as handle:
        first = next(csv.DictReader(handle), None)
    path = assets / "demo_videos" / first["path"] if first and first.get("path") else None
    return path if path is not None and path.is_file() else None


def bench_demo_first(checkpoint: Path | None, frames: int) -> dict[str, Any]:
    """Seconds from probe to Result (and for loading the model) in a fresh process."""
    from vtn_core.bench.common import BUNDLED_CHECKPOINT

    clip = default_demo_clip()
    checkpoint = Path(checkpoint) if checkpoint else BUNDLED_CHECKPOINT
    if clip is None or not checkpoint.is_file():
        return {"skipped": "no bundled demo clip or checkpoint"}
    return run_worker("first", "--video", str(clip), "--checkpoint", str(checkpoint), "--frames", str(frames))
