"""How many of torch's CPU threads the backbone takes while the same process decodes the next frames.

On a CPU, the backbone's OpenMP threads and the decoder's threads (FFmpeg's and the converters, or decode
worker processes) compete for the same cores; an OpenMP team that loses a core to the decoder waits at every
barrier, so the backbone ran 3-5x slower beside decoding than alone (bench ``overhead``, 2 cores). Giving it
the cores the decoder leaves over makes a decode-bound pipeline faster; a backbone-bound one (ViT-B on a CPU)
keeps every thread. torch's intra-op thread count under OpenMP is per calling thread, so a setting made
during one analysis does not touch another session's.
"""
from __future__ import annotations

import os
import weakref

import torch

DECODE_BOUND = 2.0  # the backbone computes a chunk in under this many times its decoding: decode-bound


def backbone_threads(device_type: str, decode_workers: int, cores: int | None = None) -> int | None:
    """Intra-op threads for a CPU backbone beside decoding: the cores the decode workers leave (in-process
    decoding takes half), at least one; ``None`` on a GPU or where torch already uses no more than that."""
    if device_type != "cpu":
        return None
    cores = cores or os.cpu_count() or 1
    share = max(1, cores - decode_workers) if decode_workers > 1 else max(1, cores // 2)
    return share if share < torch.get_num_threads() else None


class BackboneThreads:
    """All of torch's threads for the first chunk; ``backbone_threads`` for the rest when the backbone computed
    that chunk in less than ``DECODE_BOUND`` x the time its frames took to decode (decoding alone, before the
    backbone started), i.e. when decoding sets the pace. A context manager: the thread count is restored.

    ``model``: where the backbone's pace (seconds per frame with every thread, measured on a first chunk) is
    remembered for the next analysis with the same model, which then decides *before* its first chunk: a
    decode-bound backbone no longer spends that chunk with every thread fighting the decoder for the cores.

    Measured on 2 cores: the bundled 48-px model (decode 1.7 ms/frame, backbone 0.4) runs a 250-sample pass in
    0.6 s with one backbone thread instead of 0.77 s with two; ViT-B on the CPU (backbone 250 ms/frame) keeps
    both threads, as one would double its time. Deciding before the first chunk: the bundled pass 1.38x ->
    1.28x its decoding alone (medians of 12, alternated)."""

    def __init__(self, device_type: str, decode_workers: int, model: object | None = None) -> None:
        self.full = torch.get_num_threads()
        self.share = backbone_threads(device_type, decode_workers)
        self.decode_bound: bool | None = None
        self.model = model

    def __enter__(self) -> "BackboneThreads":
        return self

    def before_chunk(self, decode_s: float, frames: int) -> None:
        """Decide from the pace remembered for this model, where there is one, before computing a chunk of
        ``frames`` that took ``decode_s`` to decode."""
        pace = _PACE.get(self.model) if self.model is not None else None
        if self.decode_bound is None and self.share is not None and pace is not None:
            self._decide(decode_s, pace * frames)

    def after_chunk(self, decode_s: float, compute_s: float, frames: int) -> None:
        """Decide once, from the first chunk's decoding and backbone times; remember the pace of every thread
        (measured while the backbone has them all)."""
        if self.share is None or self.decode_bound:
            return
        if self.model is not None and frames > 0:
            _PACE[self.model] = compute_s / frames
        if self.decode_bound is None:
            self._decide(decode_s, compute_s)

    def _decide(self, decode_s: float, compute_s: float) -> None:
        self.decode_bound = compute_s < DECODE_BOUND * decode_s
        if self.decode_bound:
            torch.set_num_threads(self.share)

    def __exit__(self, *exc) -> None:
        if self.decode_bound:
            torch.set_num_threads(self.full)


# seconds per frame of a model's backbone with every thread, from its last first chunk (weak: a model that is
# let go takes its entry with it)
_PACE: "weakref.WeakKeyDictionary[object, float]" = weakref.WeakKeyDictionary()
