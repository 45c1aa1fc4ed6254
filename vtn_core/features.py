"""Per-frame backbone features of one video, kept for explanations.

``run_video`` keeps only what the app draws; saliency and faithfulness need the features themselves
(one temporal pass per question instead of a backbone pass per frame). Same sampling, pre-processing,
chunking and CUDA out-of-memory fallback as ``run_video``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vtn_core.inference import DEFAULT_CHUNK_SIZE, ProgressCallback, _Encoder
from vtn_core.model import VTN
from vtn_core.video import VideoInfo, frame_positions, iter_chunks, probe_video, sample_indices


@dataclass
class VideoFeatures:
    """One video's sampled frames through the backbone, and the full model's answer on them."""

    path: Path
    info: VideoInfo
    features: torch.Tensor  # [F, D] float32 on the CPU, no gradient
    positions: np.ndarray  # [F] int64, position ids given to the model
    frame_indices: np.ndarray  # [F] int64, source frame index of each sample
    timestamps_s: np.ndarray  # [F] float64
    probabilities: np.ndarray  # [C]
    cls_attention: np.ndarray  # [layers, heads, F]
    notices: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return int(self.frame_indices.shape[0])

    def attention(self) -> np.ndarray:
        """[F] [CLS] weights averaged over layers and heads, renormalised (the app's default view)."""
        weights = self.cls_attention.mean(axis=(0, 1)).astype(np.float64)
        total = weights.sum()
        return weights / total if total > 0 else weights


def extract_features(model: VTN, video: str | Path, num_frames: int | None = None,
                     chunk_size: int = DEFAULT_CHUNK_SIZE, progress: ProgressCallback | None = None) -> VideoFeatures:
    """Sample ``num_frames`` (default: the checkpoint's) of ``video``, run the backbone chunk by chunk (fp32)
    and the temporal encoder once; ``progress(stage, done, total)`` as ``run_video``'s."""
    report = progress or (lambda stage, done, total: None)
    video = Path(video)
    report("probe", 0, 1)
    info = probe_video(video)
    sample = sample_indices(info, num_frames=num_frames or model.config.eval_num_frames)
    positions = frame_positions(sample.indices, model.config.position_scheme, info.num_frames,
                                model.config.max_frame_position)
    report("probe", 1, 1)
    total = len(sample.indices)
    encoder = _Encoder(model, "fp32")
    parts, times = [], []
    chunks = iter_chunks(video, sample.indices, model.config.preprocessing, chunk_size, info=info, prefetch=0)
    with torch.no_grad():  # not inference_mode: the features later enter autograd as constants
        for chunk in chunks:
            parts.append(encoder(chunk.pixels).cpu())
            times.append(chunk.timestamps_s)
            report("backbone", chunk.start + chunk.pixels.shape[0], total)
        features = torch.cat(parts)
        position_tensor = torch.as_tensor(np.asarray(positions, dtype=np.int64))
        out = model.forward_features(features[None].to(model.device), position_tensor[None].to(model.device),
                                     output_attentions=True)
    skipped = int(getattr(chunks, "skipped", 0))
    return VideoFeatures(
        path=video, info=info, features=features, positions=np.asarray(positions, dtype=np.int64),
        frame_indices=np.asarray(sample.indices, dtype=np.int64), timestamps_s=np.concatenate(times),
        probabilities=torch.softmax(out.logits[0].float(), -1).cpu().numpy(),
        cls_attention=out.cls_attention[0].float().cpu().numpy(),
        notices=list(encoder.notices) + ([f"{skipped} undecodable frames were skipped"] if skipped else []))
