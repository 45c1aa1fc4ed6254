"""A model's backbone replayed as a CUDA graph: one launch per chunk instead of one per kernel.

On a GPU a ViT-B backbone is launch-bound: 32 frames cost 9.3 ms of Python launching kernels for 4.4 ms of GPU
work (H100, bf16), and that Python holds the GIL the decoding thread needs. Captured once per model, chunk
shape and precision, a replay costs 0.2 ms of CPU and gives the same features bit for bit (docs/BENCHMARKS.md).

A chunk smaller than the captured one (the last of a video) is padded: frames go through a backbone one by
one (eval mode: no statistics across the batch), so the padding's rows are computed and dropped. The graph
reads the parameters where they were at capture: a model moved off the GPU and back is captured again. Any
failure to capture (an operation that synchronises, out of memory) leaves that model to eager execution.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import torch

ENABLED = True  # off: eager execution everywhere (the GPU check's A/B)
WARM_UP_RUNS = 3  # eager runs on a side stream before capture (cuBLAS/cuDNN choices, allocator)

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


class GraphedBackbone:
    """Per model: its backbone as captured graphs, by (chunk shape, autocast dtype); ``None`` where a graph
    cannot be used, so the caller runs the backbone eagerly. ``capture`` is ``capture_cuda`` (tests give a
    CPU stand-in to check padding, recapture and fallback without a GPU)."""

    def __init__(self, capture: Capture = capture_cuda) -> None:
        self.capture = capture
        self._graphs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model → {key: _Captured | None}
        self._lock = threading.Lock()

    def run(self, model, pixels: torch.Tensor, batch: int, dtype: torch.dtype | None) -> torch.Tensor | None:
        """Features float32 [N, D] of ``pixels`` [N, 3, H, W] (on the model's device, N <= ``batch``) by the graph
        for ``batch`` frames, or ``None`` (not on CUDA, switched off, capture failed: run it eagerly)."""
        if not ENABLED or pixels.shape[0] > batch or (pixels.device.type != "cuda" and self.capture is capture_cuda):
            return None
        key = (batch, tuple(pixels.shape[1:]), pixels.dtype, dtype, str(pixels.device))
        # one lock over capture and replay: a graph has one static input and output, and the app's sessions may
        # analyse with one model at once (copy, replay and clone are queued in this order on the stream)
        with self._lock:
            graphs = self._graphs.setdefault(model, {})
            captured = graphs.get(key, False)
            fingerprint = parameters_fingerprint(model.backbone)
            if captured is False or (captured is not None and captured.fingerprint != fingerprint):
                captured = graphs[key] = self._capture(model, pixels, batch, dtype, fingerprint)
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

        try:
            replay = self.capture(run, (static_input,))
        except Exception:  # noqa: BLE001 - an uncapturable backbone (or no memory for it) runs eagerly instead
            if pixels.device.type == "cuda":
                torch.cuda.synchronize(pixels.device)
                torch.cuda.empty_cache()
            return None
        return _Captured(fingerprint, (static_input,), replay)


GRAPHS = GraphedBackbone()
