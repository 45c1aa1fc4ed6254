"""GPU decoding: which decoder to use, and a clean fallback to the CPU when the GPU one cannot run.

Built: FFmpeg's NVDEC through PyAV's ``hwaccel`` (PyAV's wheels are built with the ``cuda`` device type),
not torchcodec: it adds no dependency (torchcodec's CUDA build comes from PyTorch's own package index, not
PyPI, so it could not be installed or measured here), it keeps one decoding code path (seeking, frame
indices, timestamps, damaged packets, the exact colour conversion), and ``allow_software_fallback`` lets
FFmpeg decode in software what NVDEC cannot.

Frames: NVDEC hands back NV12 (Y, then U and V interleaved), where the CPU decoder gives planar 4:2:0 for the
same picture, byte for byte. FFmpeg converts NV12 to RGB by another path that interpolates chroma: up to 179
levels away from its planar conversion at colour edges (measured on an H200 and reproduced here). So every GPU
frame is first de-interleaved (``planar_frame``) and the rest of the pipeline, the recipe's conversion
included, sees exactly what the CPU decoder would have given (on the H200: the same model input and
thumbnails, bit for bit).

Picked by measurement (H200 machine, 16 cores, 720p H.264, every frame decoded, nothing converted): NVDEC
needs 0.17-0.19 s to its first frame (a CUDA context and decoder session per video), then runs at
1,330-1,380 frames/s (976-1,004 with 2 cores), each frame copied back to host memory. FFmpeg's CPU decoder
runs at 4,700-5,800 frames/s on 16 cores, 1,900-2,400 on 4 and 1,090-1,320 on 2. So "auto" decodes on the
CPU wherever 2 or more cores are usable (``NVDEC_PAYS_BELOW_CORES``), and "cuda" is there to ask for NVDEC.

Selection: "cpu"; "cuda" = NVDEC when torch sees a GPU and FFmpeg has the cuda device type; "auto" = the
same, only where fewer than 2 cores are usable, else the CPU.
Fallback: asking for "cuda" where it is unavailable, a device that fails to open, or a decoder that fails
before its first frame all end on the CPU path, with a notice saying why.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import av
import numpy as np

from vtn_core.video.yuv_rgb import is_full_range

DECODE_DEVICES = ("auto", "cpu", "cuda")
NVDEC_PAYS_BELOW_CORES = 2  # NVDEC (976-1,380 frames/s) beats FFmpeg's CPU decoder only below 2 cores


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


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def gpu_decoding_available() -> bool:
    """A CUDA GPU and an FFmpeg that can decode on it."""
    return cuda_present() and ffmpeg_has_cuda()


def choose_decode_device(requested: str = "auto") -> tuple[str, str | None]:
    """("cpu" or "cuda", a notice when the request could not be honoured)."""
    name = str(requested).strip().lower()
    if name not in DECODE_DEVICES:
        raise ValueError(f"decode device must be one of {DECODE_DEVICES}, got {requested!r}")
    if name == "cpu" or (name == "auto" and usable_cores() >= NVDEC_PAYS_BELOW_CORES):
        return "cpu", None
    if gpu_decoding_available():
        return "cuda", None
    if name == "cuda":
        why = "no CUDA GPU is visible" if not cuda_present() else "this FFmpeg build has no CUDA decoder"
        return "cpu", f"GPU decoding asked for, but {why}: decoding on the CPU"
    return "cpu", None


def open_on_gpu(path: Path) -> av.container.InputContainer:
    """``av.open`` with NVDEC; FFmpeg decodes in software what NVDEC cannot (a codec or profile it lacks).
    Each video gets its own CUDA context: FFmpeg's ``primary_ctx`` option, which would share torch's, fails
    ("Operation not supported", H200, torch 2.11) once torch holds the primary context with other flags."""
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


def planar_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """An NV12 frame as the planar 4:2:0 frame (``yuv420p``, ``yuvj420p`` at full range) the CPU decoder gives
    for the same picture: the same samples, chroma de-interleaved, timing and colour setup kept."""
    height, width = frame.height, frame.width
    half_h, half_w = (height + 1) // 2, (width + 1) // 2
    out = av.VideoFrame(width, height, "yuvj420p" if is_full_range(frame) else "yuv420p")
    luma, chroma = (np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size) for plane in frame.planes[:2])
    y, u, v = (np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size) for plane in out.planes)
    y[:height, :width] = luma[:height, :width]
    pairs = chroma[:half_h, :2 * half_w]
    u[:half_h, :half_w] = pairs[:, 0::2]
    v[:half_h, :half_w] = pairs[:, 1::2]
    out.pts = frame.pts
    if frame.time_base is not None:
        out.time_base = frame.time_base
    out.colorspace, out.color_range = frame.colorspace, frame.color_range
    return out
