"""Cached loaders (shared by all sessions) and per-session state (results, uploads, temp files).

A model is loaded once per process per (file, attention mode, device) with ``st.cache_resource``; each
cached object is never mutated afterwards, so sessions can share it. Everything per user lives in
``st.session_state``; no module globals hold user data.
"""
from __future__ import annotations

import contextlib
import gc
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

import vtn_core
from vtn_core.device import resolve_device
from vtn_core.result import Result
from vtn_core.video import probe_video, read_frames
from vtn_core.video.probe import VideoInfo

SESSION_ROOT = Path(tempfile.gettempdir()) / "vtn-explorer-sessions"
STALE_AFTER_S = 12 * 3600
MAX_RESULTS = 16
REAP_EVERY_S = 30.0
_REAPER_STARTED = threading.Event()  # process state only: no user data


# ---- models ------------------------------------------------------------------------------------------
@st.cache_resource(max_entries=12, show_spinner=False)
def _cached_model(path: str, stamp: tuple[int, int], attention: str | None, device: str) -> vtn_core.VTN:
    model = vtn_core.load_checkpoint(path, device=device)
    if attention is not None and attention != model.attention_mode:
        model.set_attention(attention)  # this object is this cache entry's own: never shared across modes
    return model


def resolved_device(device: str) -> str:
    """``auto`` → ``cuda``/``cpu`` (raises ``VTNError`` for CUDA without a GPU)."""
    return str(resolve_device(device))


def load_model(path: str | Path, attention: str | None = None, device: str = "auto") -> vtn_core.VTN:
    """The model of ``path`` with ``attention`` (``None`` = as saved) on ``device``; loaded once per process."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise vtn_core.CheckpointError(f"{path.name}: no such checkpoint file") from None
    stamp = (stat.st_size, stat.st_mtime_ns)
    target = resolved_device(device)
    with st.spinner(f"Loading {path.name}…"):
        native = _cached_model(str(path), stamp, None, target)
        if attention is None or attention == native.attention_mode:
            return native
        return _cached_model(str(path), stamp, attention, target)


@st.cache_data(max_entries=64, show_spinner=False)
def video_info(path: str, stamp: tuple[int, int]) -> VideoInfo:
    """Probe a video once per file version (raises ``VideoError``)."""
    return probe_video(path)


def probe(path: str | Path) -> VideoInfo:
    stat = Path(path).stat()
    return video_info(str(path), (stat.st_size, stat.st_mtime_ns))


@st.cache_data(max_entries=32, show_spinner=False)
def full_frame(path: str, stamp: tuple[int, int], index: int) -> np.ndarray | None:
    """One source frame at full resolution (RGB), or None when it cannot be decoded."""
    try:
        for _, frame, _ in read_frames(path, np.asarray([index], dtype=np.int64)):
            return np.asarray(frame)
    except vtn_core.VTNError:
        return None
    return None


def frame_at(path: str | Path, index: int) -> np.ndarray | None:
    stat = Path(path).stat()
    return full_frame(str(path), (stat.st_size, stat.st_mtime_ns), int(index))


# ---- per-session results ----------------------------------------------------------------------------------
def result_key(model: vtn_core.VTN, video: Path, num_frames: int | None) -> str:
    """What identifies one run in this session: checkpoint file, mode, device, video file and sampling."""
    ckpt = Path(str(model.metadata.get("path") or "model"))
    parts: list[Any] = [str(ckpt), model.attention_mode, str(model.device), str(video), num_frames]
    for path in (ckpt, video):
        try:
            stat = path.stat()
            parts.append((stat.st_size, stat.st_mtime_ns))
        except OSError:
            parts.append(None)
    return repr(parts)


def result_key_for(result: Result) -> str:
    """A key naming a finished result (checkpoint, mode, video, samples) for things derived from it."""
    return repr((result.checkpoint.get("path"), result.checkpoint.get("attention"), result.video.get("path"),
                 result.num_frames, result.device))


def shareable(checkpoint: str | Path | None, video: str | Path | None) -> bool:
    """Whether work on these files may be shared between sessions: both are files, and the video is not an
    upload (uploads live in their session's private folder, and what is derived from them goes with it)."""
    if not checkpoint or not video or not Path(str(checkpoint)).is_file() or not Path(str(video)).is_file():
        return False
    return SESSION_ROOT.resolve() not in Path(str(video)).resolve().parents


def recall(key: str) -> Result | None:
    """This session's result for ``key`` (moved to most recent), or None."""
    store: OrderedDict[str, Result] = st.session_state.setdefault("vtn_results", OrderedDict())
    if key in store:
        store.move_to_end(key)
        return store[key]
    return None


def remember(key: str, result: Result) -> None:
    """Keep ``result`` for this session (the oldest beyond ``MAX_RESULTS`` are dropped)."""
    store: OrderedDict[str, Result] = st.session_state.setdefault("vtn_results", OrderedDict())
    store[key] = result
    store.move_to_end(key)
    while len(store) > MAX_RESULTS:
        store.popitem(last=False)


# ---- per-session files ------------------------------------------------------------------------------------
class SessionFiles:
    """A private temp folder for one browser session, removed when the session's state is discarded
    (the session ended), at interpreter exit, or by a later sweep when the process died."""

    def __init__(self, root: Path = SESSION_ROOT) -> None:
        root.mkdir(parents=True, exist_ok=True)
        sweep_stale(root)
        self.directory = Path(tempfile.mkdtemp(prefix="session-", dir=root))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.directory), True)

    def cleanup(self) -> None:
        self._finalizer()


def session_files() -> SessionFiles:
    """This session's ``SessionFiles`` (created on first use)."""
    files = st.session_state.get("vtn_session_files")
    if files is None or not files.directory.is_dir():
        files = st.session_state["vtn_session_files"] = SessionFiles()
    return files


def sweep_stale(root: Path = SESSION_ROOT, max_age_s: float = STALE_AFTER_S) -> None:
    """Remove session folders untouched for ``max_age_s`` (left behind by a killed process)."""
    now = time.time()
    for folder in root.glob("session-*"):
        try:
            if now - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


# ---- ending sessions ----------------------------------------------------------------------------------------
def reap_expired_sessions(manager: Any = None) -> int:
    """Drop (and shut down) closed sessions whose reconnect window has passed; returns how many.

    Streamlit keeps a closed tab's session for ``server.disconnectedSessionTTL`` so that it can reconnect, but
    its storage only forgets expired sessions on its next write, i.e. when someone else connects: until then
    the session's results, thumbnails and upload folder stay. This expires them now.
    """
    if manager is None:
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return 0
        manager = getattr(Runtime.instance(), "_session_mgr", None)
    storage = getattr(manager, "_session_storage", None)
    expire = getattr(getattr(storage, "_cache", None), "expire", None)
    if expire is None:
        return 0
    with getattr(manager, "_storage_lock", None) or contextlib.nullcontext():
        removed = expire()
    count = len(removed)
    for _, info in removed:
        with contextlib.suppress(Exception):
            info.session.shutdown()
    if count:
        del removed, info
        gc.collect()
    return count


def start_session_reaper(interval_s: float = REAP_EVERY_S) -> None:
    """Once per process: a daemon thread that runs ``reap_expired_sessions`` every ``interval_s``."""
    if _REAPER_STARTED.is_set():
        return
    _REAPER_STARTED.set()

    def loop() -> None:
        while True:
            time.sleep(interval_s)
            with contextlib.suppress(Exception):
                reap_expired_sessions()

    threading.Thread(target=loop, name="vtn-session-reaper", daemon=True).start()
