"""Safe handling of uploaded files: validated extension, generated name, size limit, validation, cleanup.

The user's file name is never used on disk: an upload is stored as ``<kind>-<random hex><ext>`` in the
session's private folder, with ``ext`` taken from a fixed allow-list. A file that fails validation is
deleted at once. The user's name is kept only as a display label.
"""
from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import vtn_core
from vtn_core.checkpoint import DEFAULT_MAX_CHECKPOINT_BYTES, human_bytes
from vtn_core.video import probe_video

VIDEO_TYPES = ("mp4", "mov", "avi", "mkv", "webm", "gif")
CHECKPOINT_TYPES = ("safetensors", "pyth", "pth")
MAX_VIDEO_BYTES = 2 * 1024**3  # = server.maxUploadSize in .streamlit/config.toml
MAX_CHECKPOINT_BYTES = DEFAULT_MAX_CHECKPOINT_BYTES  # the CLI's --max-checkpoint-mb default
_COPY_CHUNK = 4 * 1024 * 1024


class UploadError(vtn_core.VTNError):
    """An upload was refused (type, size, empty); the message says why."""


@dataclass(frozen=True)
class StoredUpload:
    """An accepted upload: where it lives now and the name the user gave it (for display only)."""

    path: Path
    display_name: str
    size: int


def display_name(name: str, limit: int = 60) -> str:
    """The user's file name as a display label: base name only, printable characters, bounded length.
    (Pages escape it before putting it into Markdown: see ``ui.views.md``.)"""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if c.isprintable()).strip() or "upload"
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def checked_extension(name: str, allowed: tuple[str, ...]) -> str:
    """The lower-case extension of ``name`` when it is in ``allowed``; else ``UploadError``."""
    suffix = Path(name.replace("\\", "/")).suffix.lower().lstrip(".")
    if suffix not in allowed:
        found = f".{suffix}" if suffix else "no extension"
        raise UploadError(f"{display_name(name)}: unsupported file type ({found}); "
                          f"upload one of {', '.join('.' + a for a in allowed)}")
    return suffix


def store_upload(source: BinaryIO | bytes, name: str, directory: Path, kind: str, allowed: tuple[str, ...],
                 max_bytes: int) -> StoredUpload:
    """Copy an upload into ``directory`` under a generated name; refuses bad types, empty and oversize files."""
    extension = checked_extension(name, allowed)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{kind}-{uuid.uuid4().hex}.{extension}"
    size = 0
    try:
        with open(target, "xb") as handle:
            if isinstance(source, (bytes, bytearray, memoryview)):
                handle.write(source)
                size = len(source)
            else:
                if hasattr(source, "seek"):
                    source.seek(0)
                while block := source.read(_COPY_CHUNK):
                    size += len(block)
                    if size > max_bytes:
                        raise UploadError(f"{display_name(name)}: larger than the {human_bytes(max_bytes)} limit")
                    handle.write(block)
        if size > max_bytes:
            raise UploadError(f"{display_name(name)}: {human_bytes(size)} is over the {human_bytes(max_bytes)} limit")
        if size == 0:
            raise UploadError(f"{display_name(name)}: the file is empty (0 bytes)")
    except BaseException:
        discard(target)
        raise
    return StoredUpload(path=target, display_name=display_name(name), size=size)


def accept(source: BinaryIO | bytes, name: str, directory: Path, kind: str, allowed: tuple[str, ...],
           max_bytes: int, validate: Callable[[Path], object]) -> StoredUpload:
    """Store an upload, then ``validate(path)``; on any failure the stored file is deleted and the error
    re-raised (``VTNError`` subclasses carry the message; the generated name is replaced by the user's)."""
    stored = store_upload(source, name, directory, kind, allowed, max_bytes)
    try:
        validate(stored.path)
    except vtn_core.VTNError as exc:
        discard(stored.path)
        message = str(exc).replace(stored.path.name, stored.display_name).replace(str(stored.path), stored.display_name)
        raise type(exc)(message) from None
    except BaseException:
        discard(stored.path)
        raise
    return stored


def accept_video(source: BinaryIO | bytes, name: str, directory: Path,
                 max_bytes: int = MAX_VIDEO_BYTES) -> StoredUpload:
    """An uploaded video, stored and probed (``VideoError`` when it is not a readable video)."""
    return accept(source, name, directory, "video", VIDEO_TYPES, max_bytes, probe_video)


def accept_checkpoint(source: BinaryIO | bytes, name: str, directory: Path, load: Callable[[Path], object],
                      max_bytes: int = MAX_CHECKPOINT_BYTES) -> StoredUpload:
    """An uploaded checkpoint, stored and opened with ``load`` (``CheckpointError`` when it is not one)."""
    return accept(source, name, directory, "checkpoint", CHECKPOINT_TYPES, max_bytes, load)


def discard(path: Path | str | None) -> None:
    """Delete a stored upload (a file or folder); missing is fine."""
    if not path:
        return
    path = Path(path)
    try:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        pass
