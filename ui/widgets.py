"""Controls: each function draws widgets (in the sidebar unless told) and returns the user's choice.

Upload errors are shown with ``st.error`` in the main area (specific message, never a traceback) and the
picker then returns ``None``.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
import torch

import vtn_core
from ui import catalog, state, uploads
from ui.views import md

UPLOAD_VIDEO = "Upload a video…"
UPLOAD_CHECKPOINT = "Upload a checkpoint…"
MAX_UPLOADS_KEPT = 4
MEAN = "mean"


@dataclass(frozen=True)
class VideoChoice:
    """The video to analyse; ``event`` (frame span) and ``label`` only for bundled demo videos."""

    path: Path
    name: str
    label: str | None = None
    event: tuple[int, int] | None = None
    uploaded: bool = False


@dataclass(frozen=True)
class CheckpointChoice:
    """The checkpoint to use and how it is named to the user."""

    path: Path
    name: str
    uploaded: bool = False


# ---- uploads kept for this session (shared by the pages) ------------------------------------------------------
def session_uploads(kind: str) -> OrderedDict[str, uploads.StoredUpload]:
    """This session's accepted uploads of ``kind`` ("video" or "checkpoint"), keyed by uploader file id."""
    return st.session_state.setdefault(f"vtn_uploads_{kind}", OrderedDict())


def _keep(kind: str, file_id: str, stored: uploads.StoredUpload) -> None:
    kept = session_uploads(kind)
    kept[file_id] = stored
    while len(kept) > MAX_UPLOADS_KEPT:
        _, dropped = kept.popitem(last=False)
        uploads.discard(dropped.path)


def _upload_label(stored: uploads.StoredUpload) -> str:
    return f"Uploaded: {stored.display_name} ({stored.path.stem[-6:]})"


def handle_video_upload(file: Any) -> uploads.StoredUpload | None:
    """Store and validate an ``st.file_uploader`` video once per upload; ``st.error`` and None when refused."""
    kept = session_uploads("video")
    if file.file_id in kept and kept[file.file_id].path.is_file():
        return kept[file.file_id]
    try:
        stored = uploads.accept_video(file, file.name, state.session_files().directory)
    except vtn_core.VTNError as exc:
        st.error(f"This video cannot be used: {md(exc)}")
        return None
    _keep("video", file.file_id, stored)
    return stored


def handle_checkpoint_upload(file: Any, device: str) -> uploads.StoredUpload | None:
    """Store and validate (by loading) an uploaded checkpoint; ``st.error`` and None when refused."""
    kept = session_uploads("checkpoint")
    if file.file_id in kept and kept[file.file_id].path.is_file():
        return kept[file.file_id]
    try:
        stored = uploads.accept_checkpoint(file, file.name, state.session_files().directory,
                                           lambda path: state.load_model(path, device=device))
    except vtn_core.VTNError as exc:
        st.error(f"This checkpoint cannot be used: {md(exc)}")
        return None
    _keep("checkpoint", file.file_id, stored)
    return stored


# ---- pickers -----------------------------------------------------------------------------------------------
def video_picker(key: str, label: str = "Video", where: Any = None) -> VideoChoice | None:
    """Bundled demo videos, this session's uploads, or a new upload. Injecting ``st.session_state
    ["vtn_video_override"] = path`` (tests, scripts) selects that file directly."""
    where = where or st.sidebar
    override = st.session_state.get("vtn_video_override")
    if override:
        where.caption(f"Video set by the session: {Path(override).name}")
        return VideoChoice(path=Path(override), name=Path(override).name)
    demos = catalog.demo_videos()
    kept = list(session_uploads("video").values())
    options = [d.name for d in demos] + [_upload_label(s) for s in kept] + [UPLOAD_VIDEO]
    active = st.session_state.get("vtn_active_video")
    index = options.index(active) if active in options else 0
    choice = where.selectbox(label, options, index=index, key=key,
                             help="A bundled demo clip (with its ground-truth event), or your own file.")
    if choice == UPLOAD_VIDEO:
        file = where.file_uploader("Video file", type=list(uploads.VIDEO_TYPES), key=f"{key}_file",
                                   help="mp4, mov, avi, mkv, webm or gif")
        if file is None:
            st.info("Upload a video in the sidebar (mp4, mov, avi, mkv, webm or gif) to analyse it.")
            return None
        stored = handle_video_upload(file)
        if stored is None:
            return None
        st.session_state["vtn_active_video"] = _upload_label(stored)
        return VideoChoice(path=stored.path, name=stored.display_name, uploaded=True)
    st.session_state["vtn_active_video"] = choice
    for demo in demos:
        if demo.name == choice:
            return VideoChoice(path=demo.path, name=demo.name, label=demo.label, event=demo.event)
    stored = next(s for s in kept if _upload_label(s) == choice)
    return VideoChoice(path=stored.path, name=stored.display_name, uploaded=True)


def checkpoint_picker(key: str, device: str, label: str = "Checkpoint", default: int = 0,
                      where: Any = None) -> CheckpointChoice | None:
    """Bundled checkpoints, this session's uploads, or a new upload (validated by loading it)."""
    where = where or st.sidebar
    bundled = catalog.bundled_checkpoints()
    kept = list(session_uploads("checkpoint").values())
    options = [p.name for p in bundled] + [_upload_label(s) for s in kept] + [UPLOAD_CHECKPOINT]
    choice = where.selectbox(label, options, index=min(default, len(options) - 1), key=key,
                             help="A bundled model, or your own .safetensors / official .pyth file.")
    if choice == UPLOAD_CHECKPOINT:
        file = where.file_uploader(f"{label} file", type=list(uploads.CHECKPOINT_TYPES), key=f"{key}_file",
                                   help=".safetensors (this app's format) or an official VTN .pyth/.pth")
        if file is None:
            st.info(f"Upload a checkpoint in the sidebar ({label.lower()}) to use it.")
            return None
        stored = handle_checkpoint_upload(file, device)
        return None if stored is None else CheckpointChoice(stored.path, stored.display_name, uploaded=True)
    for path in bundled:
        if path.name == choice:
            return CheckpointChoice(path, path.name)
    stored = next(s for s in kept if _upload_label(s) == choice)
    return CheckpointChoice(stored.path, stored.display_name, uploaded=True)


def device_picker(key: str = "vtn_device", where: Any = None) -> str:
    """auto / cpu, and cuda only where a GPU is present."""
    where = where or st.sidebar
    options = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    return where.radio("Device", options, key=key, horizontal=True,
                       format_func=lambda d: {"auto": "Auto", "cpu": "CPU", "cuda": "CUDA"}[d])


def attention_picker(native: str, key: str, where: Any = None) -> str:
    """learned (as trained) or uniform as a what-if; defaults to the checkpoint's own mode."""
    where = where or st.sidebar
    options = ["learned", "uniform"]
    names = {"learned": "Learned", "uniform": "Uniform (what-if)"}
    if native == "uniform":
        names = {"learned": "Learned (what-if)", "uniform": "Uniform (as trained)"}
    return where.radio("Attention", options, index=options.index(native) if native in options else 0, key=key,
                       horizontal=True, format_func=names.get,
                       help="Uniform replaces every attention distribution with an even one: the paper's ablation.")


MAX_SAMPLES_UI = 4096  # enough for 2.5 min at 25 fps sampled densely; the strip thins what it shows


def frames_picker(video_frames: int, default: int, key: str, where: Any = None) -> int:
    """How many frames to sample uniformly over the whole video (at most the video's frame count).

    The user's choice is remembered under ``<key>_chosen`` (set by the slider's on_change): the slider's
    identity changes with its maximum, i.e. with the video, and Streamlit drops a changed widget's state,
    which used to reset the choice to 1 on every change of video.
    """
    where = where or st.sidebar
    upper = max(2, min(int(video_frames), MAX_SAMPLES_UI))
    chosen_key = f"{key}_chosen"
    st.session_state[key] = int(min(max(int(st.session_state.get(chosen_key, default)), 1), upper))
    return int(where.slider("Frames to sample", 1, upper, key=key, on_change=_remember_choice,
                            args=(key, chosen_key),
                            help=f"Spread evenly over the whole video ({video_frames} frames)."))


def _remember_choice(key: str, chosen_key: str) -> None:
    st.session_state[chosen_key] = st.session_state[key]


def layer_head_picker(num_layers: int, num_heads: int, key: str, where: Any = None) -> tuple[int | None, int | None]:
    """A layer and a head of the temporal encoder, or their mean (``None``)."""
    where = where or st.sidebar
    columns = where.columns(2)
    layer = columns[0].selectbox("Layer", [MEAN] + list(range(num_layers)), key=f"{key}_layer{num_layers}",
                                 format_func=lambda v: "Mean" if v == MEAN else f"Layer {v}")
    head = columns[1].selectbox("Head", [MEAN] + list(range(num_heads)), key=f"{key}_head{num_heads}",
                                format_func=lambda v: "Mean" if v == MEAN else f"Head {v}")
    return (None if layer == MEAN else int(layer)), (None if head == MEAN else int(head))
