"""``run_video``: one model over one whole video in a single pass → ``Result``.

Stages: probe → sample → decode + pre-process (a background thread, chunk by chunk) → backbone per
chunk (inference mode 2) → temporal encoder over all frames at once → Result. Full-resolution frames
are never all held at once. Results are cached on disk by content.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from vtn_core.cache import ResultCache
from vtn_core.cpu_threads import BackboneThreads
from vtn_core.cuda_graphs import GRAPHS, TEMPORAL_GRAPHS
from vtn_core.hashing import file_digest, text_digest
from vtn_core.model import VTN, VTNOutput
from vtn_core.result import Result
from vtn_core.twin import private_twin
from vtn_core.video import frame_positions, iter_chunks, probe_video, sample_indices

ProgressCallback = Callable[[str, int, int], None]
STAGES = ("probe", "decode", "backbone", "temporal")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
RESIZE_MODES = ("exact", "decoder")
DEFAULT_CHUNK_SIZE = 32


@dataclass
class _Encoder:
    """Runs the backbone chunk by chunk, falling back on CUDA out-of-memory: smaller chunks, then CPU. On CUDA
    a chunk of up to ``graph_batch`` frames replays the backbone as a CUDA graph (``cuda_graphs``)."""

    model: VTN
    precision: str
    notices: list[str] = field(default_factory=list)
    graph_batch: int = 0  # 0: eager only

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        chunk = pixels.shape[0]
        while True:
            try:
                return torch.cat([self._encode(part) for part in pixels.split(chunk)])
            except torch.OutOfMemoryError:
                if self.model.device.type != "cuda":
                    raise
                torch.cuda.empty_cache()
                self.graph_batch = 0  # no graph's memory on top of what did not fit
                if chunk > 1:
                    chunk = max(1, chunk // 2)
                    self.notices.append(f"GPU out of memory: retrying with chunks of {chunk} frames")
                else:  # a CPU twin: the model may be shared (the app's sessions) and stays where it is
                    self.model = private_twin(self.model).to("cpu")
                    self.precision = "fp32"
                    self.notices.append("GPU out of memory even one frame at a time: continuing on the CPU")

    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """One chunk through the backbone on the model's device (the seam the OOM tests simulate)."""
        device = self.model.device
        pixels = pixels.to(device, non_blocking=True)
        dtype = _autocast_dtype(self.precision, device)
        if self.graph_batch and device.type == "cuda":
            graphed = GRAPHS.run(self.model, pixels, self.graph_batch, dtype)
            if graphed is not None:
                return graphed
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            return self.model.encode_frames(pixels).float()


def _temporal(encoder: _Encoder, features: torch.Tensor, positions: torch.Tensor) -> VTNOutput:
    """The temporal encoder and head on all features: on CUDA its dense form (``dense_longformer``), replayed as a
    CUDA graph unless the backbone ran out of memory (eager where no graph applies); on the CPU transformers'
    Longformer, whose numbers the golden fixture holds."""
    model = encoder.model
    device = model.device
    dtype = _autocast_dtype(encoder.precision, device)
    on_cuda = device.type == "cuda"
    if on_cuda and encoder.graph_batch:
        graphed = TEMPORAL_GRAPHS.run(model, features, positions, dtype)
        if graphed is not None:
            return graphed
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        return model.forward_features(features, positions, output_attentions=True, dense_attention=on_cuda)


class _Thumbnails:
    """Thumbnails written chunk by chunk into one array sized for every sample: no list-then-concatenate copy
    (for a one-hour video at 1 frame/s that copy alone is ~180 MB at the peak)."""

    def __init__(self, total: int) -> None:
        self.total, self.filled = total, 0
        self.store: np.ndarray | None = None

    def add(self, block: np.ndarray) -> None:
        if self.store is None or self.filled + len(block) > len(self.store):
            grown = np.empty((max(self.total, self.filled + len(block)),) + block.shape[1:], dtype=block.dtype)
            if self.store is not None:
                grown[:self.filled] = self.store[:self.filled]
            self.store = grown
        self.store[self.filled:self.filled + len(block)] = block
        self.filled += len(block)

    def array(self, thumb_height: int) -> np.ndarray:
        if self.store is None:
            return np.zeros((0, thumb_height, 1, 3), np.uint8)
        return self.store if self.filled == len(self.store) else self.store[:self.filled].copy()


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}")
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision in ("auto", "bf16"):
        return torch.bfloat16
    return torch.float16


def checkpoint_digest(model: VTN) -> str:
    """Content hash of the model's checkpoint file (or of its weights when it has none)."""
    path = model.metadata.get("path")
    if path and Path(path).is_file():
        return file_digest(path)
    cached = model.metadata.get("_weights_digest")
    if cached is None:
        parts = [(name, tuple(t.shape), t.detach().float().sum().item(), t.detach().float().abs().sum().item())
                 for name, t in model.state_dict().items()]
        cached = model.metadata["_weights_digest"] = text_digest(model.config.to_json(), parts)
    return cached


def _checkpoint_label(model: VTN) -> dict[str, str | None]:
    """The checkpoint's path and file name as this run knows them."""
    path = model.metadata.get("path")
    return {"path": path, "name": Path(str(path or "model")).name}


def _skip_notices(skipped: int, decode_errors: int) -> list[str]:
    """What to tell about samples that got a neighbouring frame: only packets the decoder rejected are
    "undecodable"; a sample that falls between a sparse stream's timestamps just shows the next frame."""
    if not skipped:
        return []
    if decode_errors:
        return [f"{skipped} undecodable frames were skipped"]
    return [f"{skipped} samples fall between the video's frame timestamps and show the next frame"]


def run_video(
    model: VTN,
    video: str | Path,
    *,
    num_frames: int | None = None,
    fps: float | None = None,
    position_scheme: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    precision: str = "auto",
    progress: ProgressCallback | None = None,
    cache: ResultCache | None | bool = None,
    thumb_height: int = 96,
    prefetch: int = 2,
    decode_workers: int | None = None,
    decode_device: str = "auto",
    resize: str = "exact",
) -> Result:
    """Run ``model`` over the whole of ``video``; returns a ``Result``.

    Sampling: ``num_frames`` spread uniformly (default: the checkpoint's full-video count) or ``fps``
    samples per second. ``position_scheme``: "wrap" (the original) or "rescale" (default: the model's).
    ``cache``: a ``ResultCache``, ``None``/``True`` for the default one, ``False`` for none.
    ``progress(stage, done, total)`` is called per stage and per chunk. ``decode_workers``: decode processes
    (``None``: one for short clips, more for long videos); ``decode_device``: "auto", "cpu" or "cuda"
    (NVDEC, falling back to the CPU; "auto" takes the CPU wherever 2 cores are usable: faster, measured).
    Neither changes the numbers, only the speed. ``resize``: "exact" (the
    official recipe) or "decoder" (opt-in: FFmpeg resizes the whole frame while converting; not the recipe,
    and since the exact path converts only the crop's pixels no longer faster on the CPU: its effect on
    logits, attention and decoding time is in the benchmark).
    """
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    report = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    if num_frames is not None and fps is not None:
        raise ValueError("give num_frames or fps, not both")
    if num_frames is None and fps is None:
        num_frames = model.config.eval_num_frames
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    scheme = position_scheme or model.config.position_scheme
    video = Path(video)

    report("probe", 0, 1)
    info = probe_video(video)
    sample = sample_indices(info, num_frames=num_frames, fps=fps)
    positions = frame_positions(sample.indices, scheme, info.num_frames, model.config.max_frame_position)
    report("probe", 1, 1)
    probe_time = time.perf_counter() - started

    settings = {"num_frames": num_frames, "fps": fps, "position_scheme": scheme, "precision": precision,
                "inference_mode": "chunked-backbone", "attention": model.attention_mode}
    if resize != "exact":
        settings["resize"] = resize  # other numbers: another cache entry (the default keeps its old key)
    store = ResultCache() if cache is None or cache is True else (cache or None)
    key = None
    if store is not None:
        key = text_digest(file_digest(video), checkpoint_digest(model), sorted(settings.items()),
                          model.device.type, thumb_height)
        cached = store.get(key)
        if cached is not None:
            for stage in STAGES:
                report(stage, 1, 1)
            # the same bytes may have been seen under other names (another upload, a copy): label the hit with
            # this run's video and checkpoint, never the first run's
            cached.video.update({"path": str(video), "name": video.name})
            cached.checkpoint.update(_checkpoint_label(model))
            return cached

    prep = model.config.preprocessing
    total = int(len(sample.indices))
    encoder = _Encoder(model, precision, graph_batch=chunk_size)
    features, timestamps = [], []
    thumbnails = _Thumbnails(total)
    decode_time = backbone_time = 0.0
    chunks = iter_chunks(video, sample.indices, prep, chunk_size, info=info, thumb_height=thumb_height,
                         prefetch=prefetch, workers=decode_workers, decode_device=decode_device,
                         conversion="decoder-resize" if resize == "decoder" else "auto",
                         pin_memory=model.device.type == "cuda")
    report("decode", 0, total)
    report("backbone", 0, total)
    with torch.inference_mode():
        waited = time.perf_counter()
        with BackboneThreads(model.device.type, getattr(chunks, "workers", 1), model) as threads:
            for chunk in chunks:
                wait = time.perf_counter() - waited
                decode_time += wait
                frames = chunk.pixels.shape[0]
                done = chunk.start + frames
                report("decode", done, total)
                threads.before_chunk(wait, frames)
                computed = time.perf_counter()
                features.append(encoder(chunk.pixels))
                compute = time.perf_counter() - computed
                backbone_time += compute
                threads.after_chunk(wait, compute, frames)
                thumbnails.add(chunk.thumbnails)
                timestamps.append(chunk.timestamps_s)
                report("backbone", done, total)
                waited = time.perf_counter()
        skipped = int(getattr(chunks, "skipped", 0))
        decode_errors = int(getattr(getattr(chunks, "report", None), "errors", 0) or 0)

        report("temporal", 0, 1)
        computed = time.perf_counter()
        model = encoder.model  # on the CPU after an out-of-memory fallback
        device = model.device
        feature_tensor = torch.cat(features).to(device)[None]
        position_tensor = torch.from_numpy(np.asarray(positions, dtype=np.int64)).to(device)[None]
        out = _temporal(encoder, feature_tensor, position_tensor)
        logits = out.logits[0].float()
        temporal_time = time.perf_counter() - computed
        report("temporal", 1, 1)

    result = Result(
        video={"path": str(video), "name": video.name, "duration_s": info.duration_s, "fps": info.fps,
               "width": info.width, "height": info.height, "num_frames": info.num_frames,
               "num_frames_exact": info.num_frames_exact, "variable_fps": info.variable_fps,
               "rotation": info.rotation, "codec": info.codec, "container": info.container},
        checkpoint={**_checkpoint_label(model), "format": model.metadata.get("format", "in-memory"),
                    "attention": model.attention_mode, "backbone": model.config.backbone},
        class_names=list(model.class_names),
        probabilities=torch.softmax(logits, -1).cpu().numpy().astype(np.float32),
        logits=logits.cpu().numpy().astype(np.float32),
        cls_attention=out.cls_attention[0].float().cpu().numpy(),
        cls_self_attention=out.cls_self_attention[0].float().cpu().numpy(),
        frame_indices=np.asarray(sample.indices, dtype=np.int64),
        positions=np.asarray(positions, dtype=np.int64),
        timestamps_s=np.concatenate(timestamps).astype(np.float64) if timestamps else np.zeros(0),
        thumbnails=thumbnails.array(thumb_height),
        timings_s={"probe": probe_time, "decode": decode_time, "backbone": backbone_time,
                   "temporal": temporal_time, "total": time.perf_counter() - started},
        device=str(model.device),
        settings=settings,
        skipped_frames=skipped,
        notices=list(encoder.notices) + list(getattr(chunks, "notices", [])) + _skip_notices(skipped, decode_errors),
    )
    if store is not None and key is not None:
        store.put(key, result)
    return result
