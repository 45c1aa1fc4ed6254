"""A model's backbone and its temporal encoder replayed as CUDA graphs: one launch instead of one per kernel.

On a GPU a ViT-B backbone is launch-bound: 32 frames cost 9.3 ms of Python launching kernels for 4.4 ms of GPU
work (H100, bf16), and that Python holds the GIL the decoding thread needs. Captured once per model, chunk
shape and precision, a replay costs 0.2 ms of CPU and gives the same features bit for bit (docs/BENCHMARKS.md).

A chunk smaller than the captured one (the last of a video) is padded: frames go through a backbone one by
one (eval mode: no statistics across the batch), so the padding's rows are computed and dropped. The graph
reads the parameters where they were at capture: a model moved off the GPU and back is captured again. Any
failure to capture (an operation that synchronises, out of memory) leaves that model to eager execution.

The temporal encoder runs after the last chunk, so its whole time adds to a video's. transformers' Longformer
cannot be captured (it synchronises with the host); its dense equivalent (``dense_longformer``) can. A sequence
is padded to the next multiple of ``TEMPORAL_BUCKET`` frames with frames left out (attention mask 0: nothing
attends to them), so one graph serves every length in its bucket, up to ``TEMPORAL_MAX_FRAMES``.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import torch

from vtn_core import dense_longformer
from vtn_core.model import VTNOutput

ENABLED = True  # off: eager execution everywhere (the GPU check's A/B)
WARM_UP_RUNS = 3  # eager runs on a side stream before capture (cuBLAS/cuDNN choices, allocator)
TEMPORAL_BUCKET = 128  # frames: a temporal graph serves every sequence length up to its bucket's
TEMPORAL_MAX_FRAMES = 512  # longer passes run eagerly: at most 4 temporal graphs per model, precision and mode,
# an estimated 100 MB of GPU memory in all at fp32 (their score tensors; these grow with the square of the length)

Capture = Callable[[Callable[..., Any], tuple[torch.Tensor, ...]], Callable[[], Any]]


@dataclass
class _Captured:
    fingerprint: tuple[int, ...]
    static_inputs: tuple[torch.Tensor, ...]
    replay: Callable[[], Any]


def parameters_fingerprint(module: torch.nn.Module) -> tuple[int, ...]:
    """Where every parameter and buffer lives: a graph replays those addresses, so a change means recapture."""
    return tuple(t.data_ptr() for t in (*module.parameters(), *module.buffers()))


def capture_cuda(run: Callable[..., Any], static_inputs: tuple[torch.Tensor, ...]) -> Callable[[], Any]:
    """``run(*static_inputs)`` captured as a CUDA graph after ``WARM_UP_RUNS`` eager runs on a side stream; the
    returned function replays it and returns the (static) output."""
    device = static_inputs[0].device
    side = torch.cuda.Stream(device=device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(WARM_UP_RUNS):
            run(*static_inputs)
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    # thread-local: the decoding thread may allocate page-locked chunks meanwhile, which a global capture forbids
    with torch.cuda.graph(graph, capture_error_mode="thread_local"):
        output = run(*static_inputs)

    def replay() -> Any:
        graph.replay()
        return output

    return replay


class _GraphCache:
    """Captured graphs per model (weakly held) and key; ``None`` remembers a capture that failed. One lock over
    capture and replay: a graph has one static input and output, and the app's sessions share models."""

    def __init__(self, capture: Capture = capture_cuda) -> None:
        self.capture = capture
        self._graphs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model → {key: _Captured | None}
        self._lock = threading.Lock()

    def _usable(self, device: torch.device) -> bool:
        return ENABLED and (device.type == "cuda" or self.capture is not capture_cuda)

    def _lookup(self, model, key: tuple, fingerprint: tuple[int, ...],
                make: Callable[[], _Captured | None]) -> _Captured | None:
        """The graph for ``key``, captured by ``make`` when missing or when the parameters moved (hold the lock)."""
        graphs = self._graphs.setdefault(model, {})
        captured = graphs.get(key, False)
        if captured is False or (captured is not None and captured.fingerprint != fingerprint):
            captured = graphs[key] = make()
        return captured

    def _try_capture(self, run: Callable[..., Any], static_inputs: tuple[torch.Tensor, ...],
                     fingerprint: tuple[int, ...]) -> _Captured | None:
        try:
            replay = self.capture(run, static_inputs)
        except Exception:  # noqa: BLE001 - an uncapturable module (or no memory for it) runs eagerly instead
            device = static_inputs[0].device
            if device.type == "cuda":
                torch.cuda.synchronize(device)
                torch.cuda.empty_cache()
            return None
        return _Captured(fingerprint, static_inputs, replay)


class GraphedBackbone(_GraphCache):
    """Per model: its backbone as captured graphs, by (chunk shape, autocast dtype); ``None`` where a graph
    cannot be used, so the caller runs the backbone eagerly. ``capture`` is ``capture_cuda`` (tests give a
    CPU stand-in to check padding, recapture and fallback without a GPU)."""

    def run(self, model, pixels: torch.Tensor, batch: int, dtype: torch.dtype | None) -> torch.Tensor | None:
        """Features float32 [N, D] of ``pixels`` [N, 3, H, W] (on the model's device, N <= ``batch``) by the graph
        for ``batch`` frames, or ``None`` (not on CUDA, switched off, capture failed: run it eagerly)."""
        if not self._usable(pixels.device) or pixels.shape[0] > batch:
            return None
        key = (batch, tuple(pixels.shape[1:]), pixels.dtype, dtype, str(pixels.device))
        with self._lock:  # copy, replay and clone are queued in this order on the stream
            fingerprint = parameters_fingerprint(model.backbone)
            captured = self._lookup(model, key, fingerprint,
                                    lambda: self._capture(model, pixels, batch, dtype, fingerprint))
            if captured is None:
                return None
            count = pixels.shape[0]
            captured.static_inputs[0][:count].copy_(pixels)
            return captured.replay()[:count].clone()

    def _capture(self, model, pixels: torch.Tensor, batch: int, dtype: torch.dtype | None,
                 fingerprint: tuple[int, ...]) -> _Captured | None:
        static_input = torch.zeros((batch, *pixels.shape[1:]), dtype=pixels.dtype, device=pixels.device)

        def run(frames: torch.Tensor) -> torch.Tensor:
            # autocast's weight cache would keep casts made during capture: off, as torch's graph notes ask
            with torch.autocast(frames.device.type, dtype=dtype, enabled=dtype is not None, cache_enabled=False):
                return model.encode_frames(frames).float()

        return self._try_capture(run, (static_input,), fingerprint)


class GraphedTemporal(_GraphCache):
    """Per model: its temporal encoder and head (``forward_features`` with dense attention) as captured graphs,
    by (batch, bucket of frames, feature shape and dtype, autocast dtype, attention mode)."""

    def run(self, model, features: torch.Tensor, positions: torch.Tensor,
            dtype: torch.dtype | None) -> VTNOutput | None:
        """``model.forward_features(features, positions, output_attentions=True)``'s output (a ``VTNOutput``) by a
        graph, or ``None`` (not on CUDA, switched off, training, too long, capture failed: run it eagerly)."""
        batch, frames, width = features.shape
        bucket = -(-frames // TEMPORAL_BUCKET) * TEMPORAL_BUCKET
        if (not self._usable(features.device) or frames == 0 or frames > TEMPORAL_MAX_FRAMES
                or not dense_longformer.supports(model.temporal_encoder, bucket + 1)):
            return None
        key = (batch, bucket, width, features.dtype, dtype, model.attention_mode, str(features.device))
        with self._lock:
            fingerprint = (*parameters_fingerprint(model.temporal_encoder), model.cls_token.data_ptr(),
                           *parameters_fingerprint(model.mlp_head))
            captured = self._lookup(model, key, fingerprint,
                                    lambda: self._capture(model, features, bucket, dtype, fingerprint))
            if captured is None:
                return None
            static_features, static_positions, static_mask = captured.static_inputs
            static_features[:, :frames].copy_(features)
            static_features[:, frames:].zero_()  # left-out frames: never attended, but finite
            static_positions[:, :frames].copy_(positions)
            static_positions[:, frames:].zero_()
            static_mask[:, :frames].fill_(True)
            static_mask[:, frames:].fill_(False)
            logits, cls_attention, cls_self, cls_embedding = captured.replay()
            return VTNOutput(logits=logits.clone(), cls_attention=cls_attention[..., :frames].clone(),
                             cls_self_attention=cls_self.clone(), cls_embedding=cls_embedding.clone())

    def _capture(self, model, features: torch.Tensor, bucket: int, dtype: torch.dtype | None,
                 fingerprint: tuple[int, ...]) -> _Captured | None:
        batch, _, width = features.shape
        device = features.device
        static_inputs = (torch.zeros((batch, bucket, width), dtype=features.dtype, device=device),
                         torch.zeros((batch, bucket), dtype=torch.long, device=device),
                         torch.zeros((batch, bucket), dtype=torch.bool, device=device))

        def run(sequence: torch.Tensor, positions: torch.Tensor, frame_mask: torch.Tensor) -> tuple:
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None, cache_enabled=False):
                out = model.forward_features(sequence, positions, output_attentions=True, frame_mask=frame_mask,
                                             dense_attention=True)
            return out.logits, out.cls_attention, out.cls_self_attention, out.cls_embedding

        return self._try_capture(run, static_inputs, fingerprint)


GRAPHS = GraphedBackbone()
TEMPORAL_GRAPHS = GraphedTemporal()
