"""Run a model over a video with a visible progress bar, once per session and settings.

Results come from this session's memory first, then from the runs shared between sessions (one run for all the
sessions asking for it at once), then ``run_video``'s disk cache, then a real run.
A bad video or setting is shown with ``st.error`` (its specific message) and returns ``None``.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

import vtn_core
from ui import state
from ui.shared import SharedResults
from ui.views import md
from vtn_core.inference import run_video
from vtn_core.result import Result

STAGE_TEXT = {"probe": "Reading the video", "decode": "Decoding frames", "backbone": "Backbone (per frame)",
              "temporal": "Temporal encoder ([CLS] over all frames)"}
STAGE_SPAN = {"probe": (0.0, 0.03), "decode": (0.03, 0.45), "backbone": (0.45, 0.93), "temporal": (0.93, 1.0)}
# results shared between sessions (``ui.shared``; the key names the files by path, size and mtime): sessions
# asking for the same run at once wait for one; each holds its thumbnails (~12 MB for 250 samples at 96 px)
SHARED: SharedResults[Result] = SharedResults(max_entries=8)


def stage_fraction(stage: str, done: int, total: int) -> float:
    """Overall progress (0..1) of ``done``/``total`` within ``stage``."""
    start, end = STAGE_SPAN.get(stage, (0.0, 1.0))
    return start + (end - start) * (done / total if total else 1.0)


def thumbnail_height(num_frames: int | None) -> int:
    """Thumbnail height for a run: 96 px, 48 px past 600 samples (3,600 thumbnails stay ~45 MB, not ~180)."""
    return 48 if num_frames and num_frames > 600 else 96


def analyse(model: vtn_core.VTN, video: Path, num_frames: int | None, label: str = "",
            video_name: str | None = None) -> Result | None:
    """``run_video`` with an ``st.progress`` bar; ``None`` (after ``st.error``) when the video is unusable."""
    key = state.result_key(model, video, num_frames)
    cached = state.recall(key)
    if cached is not None:
        return cached
    prefix = f"{md(label)}: " if label else ""
    bar = st.progress(0.0, text=f"{prefix}{STAGE_TEXT['probe']}…")
    decoded = [0]

    def report(stage: str, done: int, total: int) -> None:
        if stage == "decode":
            decoded[0] = done
        counts = f" {done}/{total} frames" if stage in ("decode", "backbone") and total > 1 else ""
        bar.progress(min(1.0, stage_fraction(stage, done, total)), text=f"{prefix}{STAGE_TEXT.get(stage, stage)}{counts}")

    def waiting() -> None:
        bar.progress(0.0, text=f"{prefix}Another session is analysing this video with this model; sharing its result…")

    def compute() -> Result:
        return run_video(model, video, num_frames=num_frames, progress=report, thumb_height=thumbnail_height(num_frames))

    try:
        shared = state.shareable(model.metadata.get("path"), video)
        result = SHARED.get_or_compute(key, compute, waiting) if shared else compute()
    except vtn_core.VTNError as exc:
        st.error(f"{prefix}cannot analyse this video: {md(_named(exc, video, video_name))}")
        return None
    except ValueError as exc:
        st.error(f"{prefix}invalid settings: {md(exc)}")
        return None
    finally:
        bar.empty()
    state.remember(key, result)
    return result


def open_model(path: Path, name: str, attention: str | None, device: str) -> vtn_core.VTN | None:
    """The cached model, or ``None`` after an ``st.error`` naming what is wrong with the checkpoint."""
    try:
        return state.load_model(path, attention, device)
    except vtn_core.VTNError as exc:
        st.error(f"Cannot open the checkpoint {md(name)}: {md(exc)}")
        return None


def open_video(path: Path, name: str):
    """The probed ``VideoInfo``, or ``None`` after an ``st.error`` naming what is wrong with the video."""
    try:
        return state.probe(path)
    except vtn_core.VTNError as exc:
        st.error(f"Cannot read the video {md(name)}: {md(_named(exc, path, name))}")
    except OSError as exc:
        st.error(f"Cannot read the video {md(name)}: {md(exc.strerror or exc)}")
    return None


def _named(exc: BaseException, path: Path, name: str | None) -> str:
    """The error message with a stored upload's generated file name replaced by the user's name."""
    text = str(exc)
    return text.replace(str(path), name).replace(path.name, name) if name else text
