"""GPU decoding: which decoder to use, and a clean fallback to the CPU when the GPU one cannot run.

Chosen: FFmpeg's NVDEC through PyAV's ``hwaccel`` (PyAV's wheels are built with the ``cuda`` device type),
not torchcodec. Reasons (no GPU was available to measure on): it adds no dependency (torchcodec's CUDA
build comes from PyTorch's own package index, not PyPI, and must match the torch build exactly); it keeps
one decoding code path, so seeking, frame indices, timestamps, damaged-packet handling and the exact
colour conversion are the same on both devices (frames come back to host memory as NV12, which the
converter handles); and ``allow_software_fallback`` lets FFmpeg itself decode streams NVDEC cannot.

Selection: "cpu"; "cuda"; "auto" = CUDA when torch sees a GPU and FFmpeg has the cuda device type, else CPU.
Fallback: asking for "cuda" where it is unavailable, a device that fails to open, or a decoder that fails
before its first frame all end on the CPU path, with a notice saying why.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import av

DECODE_DEVICES = ("auto", "cpu", "cuda")


class GpuDecodeFailed(Exception):
    """The GPU decoder failed before producing a frame (the read restarts on the CPU)."""


def ffmpeg_has_cuda() -> bool:
    """Whether this FFmpeg build can create a CUDA (NVDEC) device."""
    try:
        from av.codec.hwaccel import hwdevices_available
    except ImportError:  # PyAV older than 14
        return False
    try:
        return "cuda" in hwdevices_available()
    except (av.FFmpegError, RuntimeError):
        return False


def cuda_present() -> bool:
    """Whether a CUDA GPU is visible (through torch, already a dependency)."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except (ImportError, RuntimeError):
        return False


def gpu_decoding_available() -> bool:
    """A CUDA GPU and an FFmpeg that can decode on it."""
    return cuda_present() and ffmpeg_has_cuda()


def choose_decode_device(requested: str = "auto") -> tuple[str, str | None]:
    """("cpu" or "cuda", a notice when the request could not be honoured)."""
    name = str(requested).strip().lower()
    if name not in DECODE_DEVICES:
        raise ValueError(f"decode device must be one of {DECODE_DEVICES}, got {requested!r}")
    if name == "cpu":
        return "cpu", None
    if gpu_decoding_available():
        return "cuda", None
    if name == "cuda":
        why = "no CUDA GPU is visible" if not cuda_present() else "this FFmpeg build has no CUDA decoder"
        return "cpu", f"GPU decoding asked for, but {why}: decoding on the CPU"
    return "cpu", None


def open_on_gpu(path: Path) -> av.container.InputContainer:
    """``av.open`` with NVDEC; FFmpeg decodes in software what NVDEC cannot (a codec or profile it lacks)."""
    from av.codec.hwaccel import HWAccel

    return av.open(str(path), mode="r", timeout=10.0,
                   hwaccel=HWAccel(device_type="cuda", allow_software_fallback=True))


def open_for_decoding(path: Path, device: str,
                      fallback: Callable[[], av.container.InputContainer]
                      ) -> tuple[av.container.InputContainer, str | None]:
    """(container, notice): on "cuda" the GPU decoder, or ``fallback()`` with a notice when it cannot open."""
    if device == "cuda":
        try:
            return open_on_gpu(path), None
        except (av.FFmpegError, RuntimeError, ValueError, OSError, NotImplementedError) as exc:
            return fallback(), f"GPU decoder could not start ({type(exc).__name__}); decoding on the CPU"
    return fallback(), None
