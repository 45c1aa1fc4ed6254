"""``explain_video``: which part of which frame drove a video's class, and does the model rely on those frames?

One backbone pass over the sampled frames (no gradient, features kept), then Grad-CAM (and, for ViT backbones,
attention rollout) on only the frames asked for — the top-K attended or picked ones — and deletion/insertion
curves over the cached features.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vtn_core.errors import VTNError
from vtn_core.faithfulness import DEFAULT_SEEDS, Faithfulness, deletion_insertion
from vtn_core.features import VideoFeatures, extract_features
from vtn_core.model import VTN
from vtn_core.saliency import DEFAULT_METHOD, FrameSaliency, available_methods, frame_saliency
from vtn_core.video import VideoInfo, read_frames

ProgressCallback = Callable[[str, int, int], None]
MAX_EXPLAINED_FRAMES = 64  # each one costs a backbone pass with gradient


@dataclass
class Explanation:
    """Saliency maps of the explained frames and the faithfulness of the temporal attention, for one target."""

    features: VideoFeatures
    checkpoint: dict[str, Any]
    class_names: list[str]
    target: int
    slots: list[int]  # explained samples, most attended first (or as picked)
    frames: np.ndarray  # [K, H, W, 3] uint8 source frames of the explained samples
    saliency: dict[str, list[FrameSaliency]]  # method -> one map per explained sample
    faithfulness: Faithfulness | None
    notices: list[str] = field(default_factory=list)

    @property
    def target_label(self) -> str:
        return self.class_names[self.target]

    @property
    def target_probability(self) -> float:
        return float(self.features.probabilities[self.target])

    def to_json_dict(self) -> dict[str, Any]:
        """The ``explain`` CLI document (DESIGN.md contract)."""
        info, feats = self.features.info, self.features
        attention = feats.attention()
        primary = DEFAULT_METHOD if DEFAULT_METHOD in self.saliency else next(iter(self.saliency))
        frames = []
        for k, slot in enumerate(self.slots):
            maps = {method: entries[k] for method, entries in self.saliency.items()}
            entry: dict[str, Any] = {
                "index": int(feats.frame_indices[slot]), "sample": int(slot),
                "time_s": round(float(feats.timestamps_s[slot]), 6), "attention": round(float(attention[slot]), 8),
                "saliency_peak": list(maps[primary].peak) if maps[primary].peak else None, "method": primary}
            others = {m: (list(s.peak) if s.peak else None) for m, s in maps.items() if m != primary}
            if others:
                entry["other_methods"] = others
            frames.append(entry)
        seen = next(iter(self.saliency.values()))[0].geometry.seen_box() if self.slots else None
        return {
            "video": {"path": str(feats.path), "duration_s": info.duration_s, "fps": info.fps, "width": info.width,
                      "height": info.height, "num_frames": info.num_frames},
            "checkpoint": {key: self.checkpoint.get(key) for key in ("path", "format", "attention")},
            "target": {"label": self.target_label, "prob": round(self.target_probability, 6),
                       "predicted": self.class_names[int(np.argmax(feats.probabilities))]},
            "sampled_frames": feats.num_frames,
            "seen_region": [round(v, 3) for v in seen] if seen else None,
            "frames": frames,
            "faithfulness": self.faithfulness.to_json_dict() if self.faithfulness else None,
            "notices": list(self.notices),
        }


def resolve_target(model: VTN, probabilities: np.ndarray, class_name: str | None) -> int:
    """Index of ``class_name`` (exact, then case-insensitive), or of the predicted class when None."""
    if class_name is None:
        return int(np.argmax(probabilities))
    if class_name in model.class_names:
        return model.class_names.index(class_name)
    folded = [name.lower() for name in model.class_names]
    if class_name.strip().lower() in folded:
        return folded.index(class_name.strip().lower())
    shown = ", ".join(model.class_names[:12]) + (" …" if len(model.class_names) > 12 else "")
    raise VTNError(f"class {class_name!r} is not one of this model's classes ({shown})")


def choose_slots(attention: np.ndarray, top: int | None, picked: Sequence[int] | None) -> list[int]:
    """The picked samples (validated), else the ``top`` most attended ones, most attended first."""
    count = len(attention)
    if picked:
        bad = [p for p in picked if not 0 <= int(p) < count]
        if bad:
            raise VTNError(f"frame sample {bad[0]} is out of range: this run has samples 0..{count - 1}")
        return list(dict.fromkeys(int(p) for p in picked))
    top = int(top or 3)
    if top < 1:
        raise VTNError("--top must be at least 1")
    if top > MAX_EXPLAINED_FRAMES:
        raise VTNError(f"--top {top} is more than {MAX_EXPLAINED_FRAMES} frames to explain")
    order = np.argsort(-np.asarray(attention), kind="stable")
    return [int(s) for s in order[:min(top, count)]]


def decode_source_frames(path: Path, indices: np.ndarray, info: VideoInfo) -> np.ndarray:
    """uint8 [K, H, W, 3]: the source frames at ``indices`` (any order, repeats allowed), in that order."""
    indices = np.asarray(indices, dtype=np.int64)
    unique = np.unique(indices)
    decoded: dict[int, np.ndarray] = {}
    for k, image, _ in read_frames(path, unique, info):
        decoded[int(unique[k])] = image
    missing = [int(i) for i in unique if int(i) not in decoded]
    if missing:
        raise VTNError(f"{path}: frame {missing[0]} could not be decoded for its saliency map")
    return np.stack([decoded[int(i)] for i in indices])


def explain_video(model: VTN, video: str | Path, *, num_frames: int | None = None, top: int | None = 3,
                  picked: Sequence[int] | None = None, class_name: str | None = None,
                  methods: Sequence[str] | None = None, seeds: int = DEFAULT_SEEDS, faithfulness: bool = True,
                  features: VideoFeatures | None = None, progress: ProgressCallback | None = None) -> Explanation:
    """Explain ``video``: saliency of the ``top`` most attended (or ``picked``) samples for ``class_name``
    (default: the predicted class), and deletion/insertion curves. ``features`` reuses an earlier extraction."""
    report = progress or (lambda stage, done, total: None)
    video = Path(video)
    feats = features or extract_features(model, video, num_frames=num_frames, progress=report)
    target = resolve_target(model, feats.probabilities, class_name)
    slots = choose_slots(feats.attention(), top, picked)
    wanted = list(methods) if methods else list(available_methods(model))
    notices = list(feats.notices)
    report("saliency", 0, len(slots) + 1)
    frames = decode_source_frames(video, feats.frame_indices[slots], feats.info)
    report("saliency", 1, len(slots) + 1)
    saliency = {method: frame_saliency(model, feats.features, feats.positions, slots, frames, target, method,
                                       notices=notices) for method in wanted}
    report("saliency", len(slots) + 1, len(slots) + 1)
    curves = None
    if faithfulness:
        curves = deletion_insertion(model, feats.features, feats.positions, feats.attention(), target, seeds=seeds,
                                    progress=lambda done, total: report("faithfulness", done, total))
    checkpoint = {"path": model.metadata.get("path"), "format": model.metadata.get("format", "in-memory"),
                  "attention": model.attention_mode, "name": Path(str(model.metadata.get("path") or "model")).name}
    return Explanation(features=feats, checkpoint=checkpoint, class_names=list(model.class_names), target=target,
                       slots=slots, frames=frames, saliency=saliency, faithfulness=curves, notices=notices)
