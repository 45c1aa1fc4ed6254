"""``Result``: everything one run of a model over one video produced, as plain arrays and metadata.

Plots, exports and the app read only this. It serialises to a dict of arrays (the disk cache) and to
the JSON/CSV of the CLI contract.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vtn_core import json_safe
from vtn_core.attention import normalized_entropy, span_mass, top_fraction_mass, top_frames


@dataclass
class Result:
    """One video through one model: predictions, [CLS] attention [layers, heads, F] and frame metadata."""

    video: dict[str, Any]  # path, name, duration_s, fps, width, height, num_frames, ...
    checkpoint: dict[str, Any]  # path, name, format, attention, digest
    class_names: list[str]
    probabilities: np.ndarray  # [C] float32
    logits: np.ndarray  # [C] float32
    cls_attention: np.ndarray  # [layers, heads, F] float32
    cls_self_attention: np.ndarray  # [layers, heads] float32
    frame_indices: np.ndarray  # [F] int64, source frame index of each sample
    positions: np.ndarray  # [F] int64, position ids given to the model (before its wrap)
    timestamps_s: np.ndarray  # [F] float64
    thumbnails: np.ndarray  # [F, h, w, 3] uint8
    timings_s: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    settings: dict[str, Any] = field(default_factory=dict)  # sampling, position scheme, chunk size, precision
    skipped_frames: int = 0
    notices: list[str] = field(default_factory=list)
    from_cache: bool = False

    # ---- derived views ----------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        """Number of sampled frames F."""
        return int(self.frame_indices.shape[0])

    @property
    def num_layers(self) -> int:
        return int(self.cls_attention.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.cls_attention.shape[1])

    def top_k(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable classes as (label, probability), best first."""
        order = np.argsort(-self.probabilities, kind="stable")[: min(k, len(self.class_names))]
        return [(self.class_names[i], float(self.probabilities[i])) for i in order]

    @property
    def predicted_label(self) -> str:
        return self.top_k(1)[0][0]

    def attention(self, layer: int | None = None, head: int | None = None) -> np.ndarray:
        """[F] weights of one layer/head; ``None`` averages over that axis (renormalised over frames)."""
        weights = self.cls_attention
        weights = weights.mean(axis=0) if layer is None else weights[layer]
        weights = weights.mean(axis=0) if head is None else weights[head]
        total = weights.sum()
        return (weights / total if total > 0 else weights).astype(np.float64)

    def statistics(self, layer: int | None = None, head: int | None = None,
                   event: tuple[int, int] | None = None) -> dict[str, Any]:
        """Entropy (normalised, 1 = uniform), top frames, top-10% mass, and the mass inside ``event``."""
        weights = self.attention(layer, head)
        top = top_frames(weights, k=5)
        stats: dict[str, Any] = {
            "normalized_entropy": float(normalized_entropy(weights)),
            "top_10pct_mass": top_fraction_mass(weights, 0.1),
            "top_frames": [{"sample": int(i), "frame": int(self.frame_indices[i]),
                            "time_s": float(self.timestamps_s[i]), "weight": float(weights[i])} for i in top],
        }
        if event is not None:
            stats["event_mass"] = span_mass(weights, self.frame_indices, *event)
        return stats

    # ---- exports ----------------------------------------------------------------------------------
    def to_json_dict(self, top_k: int = 5) -> dict[str, Any]:
        """The CLI's JSON document (DESIGN.md contract)."""
        return {
            "video": {key: self.video.get(key) for key in
                      ("path", "duration_s", "fps", "width", "height", "num_frames")} | {
                "variable_fps": self.video.get("variable_fps"), "rotation": self.video.get("rotation"),
                "codec": self.video.get("codec"), "num_frames_exact": self.video.get("num_frames_exact")},
            "checkpoint": {key: self.checkpoint.get(key) for key in ("path", "format", "attention")},
            "frames": [{"index": int(i), "time_s": round(float(t), 6)}
                       for i, t in zip(self.frame_indices, self.timestamps_s)],
            "top_k": [{"label": label, "prob": prob} for label, prob in self.top_k(top_k)],
            "cls_attention": self.cls_attention.astype(float).round(8).tolist(),
            "cls_self_attention": self.cls_self_attention.astype(float).round(8).tolist(),
            "timings_s": {key: round(float(v), 4) for key, v in self.timings_s.items()},
            "device": self.device,
            "settings": self.settings,
            "skipped_frames": self.skipped_frames,
            "notices": list(self.notices),
        }

    def to_json(self, top_k: int = 5) -> str:
        return json_safe.dumps(self.to_json_dict(top_k), indent=1)[0]

    def attention_table(self) -> pd.DataFrame:
        """One row per sampled frame: index, time, per-layer head-mean weight, and every head's weight."""
        table: dict[str, Any] = {"sample": np.arange(self.num_frames), "frame_index": self.frame_indices,
                                 "time_s": np.round(self.timestamps_s, 6)}
        for layer in range(self.num_layers):
            table[f"layer{layer}_mean"] = self.cls_attention[layer].mean(axis=0)
        for layer in range(self.num_layers):
            for head in range(self.num_heads):
                table[f"layer{layer}_head{head}"] = self.cls_attention[layer, head]
        return pd.DataFrame(table)

    # ---- (de)serialisation for the disk cache --------------------------------------------------------
    ARRAYS = ("probabilities", "logits", "cls_attention", "cls_self_attention", "frame_indices", "positions",
              "timestamps_s", "thumbnails")

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays plus one JSON array for the rest; ``from_arrays`` inverts it (no pickle)."""
        meta = {"video": self.video, "checkpoint": self.checkpoint, "class_names": self.class_names,
                "timings_s": self.timings_s, "device": self.device, "settings": self.settings,
                "skipped_frames": self.skipped_frames, "notices": self.notices}
        arrays = {name: np.asarray(getattr(self, name)) for name in self.ARRAYS}
        arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "Result":
        meta = json.loads(bytes(np.asarray(arrays["meta_json"], dtype=np.uint8)).decode())
        return cls(**{name: np.asarray(arrays[name]) for name in cls.ARRAYS}, **meta)
