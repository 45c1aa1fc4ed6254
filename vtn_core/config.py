"""``VTNConfig``: everything needed to rebuild a VTN and feed it, and its conversion from PySlowFast.

Like timm models carry their pre-processing config, our checkpoints carry this dataclass (as JSON).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

ATTENTION_MODES = ("learned", "uniform")
POSITION_SCHEMES = ("wrap", "rescale")


@dataclass
class Preprocessing:
    """How frames are prepared for a checkpoint: resize short side, centre crop, [0, 1], mean/std, RGB."""

    resize_short_side: int = 256
    crop_size: int = 224
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)

    def __post_init__(self) -> None:
        self.mean = tuple(float(v) for v in self.mean)  # type: ignore[assignment]
        self.std = tuple(float(v) for v in self.std)  # type: ignore[assignment]
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("mean and std need three values (R, G, B)")
        if self.crop_size <= 0 or self.resize_short_side < self.crop_size:
            raise ValueError("need 0 < crop_size <= resize_short_side")


@dataclass
class VTNConfig:
    """Architecture, pre-processing and sampling defaults of one VTN (the official cfg's fields)."""

    # backbone: any timm model name; kwargs override its defaults (embed_dim, depth, img_size, ...)
    backbone: str = "vit_base_patch16_224"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    hidden_dim: int = 768  # VTN.HIDDEN_DIM, the backbone's feature width
    mlp_dim: int = 768  # VTN.MLP_DIM
    num_classes: int = 400  # MODEL.NUM_CLASSES
    dropout_rate: float = 0.5  # MODEL.DROPOUT_RATE (the head's dropout)
    # temporal encoder (transformers LongformerConfig fields)
    max_position_embeddings: int = 288
    num_attention_heads: int = 12
    num_hidden_layers: int = 3
    attention_window: list[int] = field(default_factory=lambda: [18, 18, 18])
    intermediate_size: int = 3072
    pad_token_id: int = -1
    attention_probs_dropout_prob: float = 0.1
    hidden_dropout_prob: float = 0.1
    # the paper's ablation: "learned" or "uniform" temporal attention
    attention_mode: str = "learned"
    # input
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    target_fps: int = 25  # DATA.TARGET_FPS
    eval_full_video: bool = True  # TRAIN.EVAL_FULL_VIDEO
    eval_num_frames: int = 250  # TRAIN.EVAL_NUM_FRAMES
    # "wrap": frame index modulo (P - 2), as the original; "rescale": indices mapped into [0, P - 3]
    position_scheme: str = "wrap"

    def __post_init__(self) -> None:
        if isinstance(self.preprocessing, dict):
            self.preprocessing = Preprocessing(**self.preprocessing)
        self.attention_window = [int(w) for w in self.attention_window]
        if self.attention_mode not in ATTENTION_MODES:
            raise ValueError(f"attention_mode must be one of {ATTENTION_MODES}, got {self.attention_mode!r}")
        if self.position_scheme not in POSITION_SCHEMES:
            raise ValueError(f"position_scheme must be one of {POSITION_SCHEMES}, got {self.position_scheme!r}")
        if len(self.attention_window) != self.num_hidden_layers:
            raise ValueError(
                f"attention_window has {len(self.attention_window)} values for {self.num_hidden_layers} layers"
            )
        if any(w <= 0 or w % 2 for w in self.attention_window):
            raise ValueError(f"attention windows must be positive and even, got {self.attention_window}")
        if self.hidden_dim % self.num_attention_heads:
            raise ValueError(f"hidden_dim {self.hidden_dim} is not divisible by {self.num_attention_heads} heads")
        if self.max_position_embeddings < 3:
            raise ValueError("max_position_embeddings must be at least 3")

    @property
    def max_frame_position(self) -> int:
        """Positions a frame can take before wrapping: P - 2 (P - 2 is [CLS], P - 1 padding)."""
        return self.max_position_embeddings - 2

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """JSON text; ``VTNConfig.from_json`` gives an equal config back."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VTNConfig":
        """Build from a dict, refusing unknown fields (so typos do not pass silently)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown VTNConfig fields: {', '.join(unknown)}")
        data = dict(data)
        if "preprocessing" in data and isinstance(data["preprocessing"], dict):
            data["preprocessing"] = Preprocessing(**data["preprocessing"])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "VTNConfig":
        """Inverse of ``to_json``."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_official_cfg(cls, cfg: dict[str, Any], backbone_kwargs: dict[str, Any] | None = None) -> "VTNConfig":
        """Build from the PySlowFast cfg (a parsed YAML dict) of the original implementation.

        Fields the cfg omits take PySlowFast's defaults (the values in OFFICIAL_VTN.md).
        ``backbone_kwargs`` are the backbone dimensions inferred from the weights.
        """
        model = cfg.get("MODEL", {}) or {}
        vtn = cfg.get("VTN", {}) or {}
        data = cfg.get("DATA", {}) or {}
        train = cfg.get("TRAIN", {}) or {}
        arch = str(model.get("ARCH", "VIT")).upper()
        if arch != "VIT":
            raise ValueError(f"MODEL.ARCH is {arch!r}; only the ViT backbone (VIT) of the released VTN is supported")
        layers = int(vtn.get("NUM_HIDDEN_LAYERS", 3))
        window = vtn.get("ATTENTION_WINDOW", [18] * layers)
        if isinstance(window, int):
            window = [window] * layers
        jitter = data.get("TRAIN_JITTER_SCALES", [256, 320])
        hidden = int(vtn.get("HIDDEN_DIM", 768))
        return cls(
            backbone="vit_base_patch16_224",
            backbone_kwargs=dict(backbone_kwargs or {}),
            hidden_dim=hidden,
            mlp_dim=int(vtn.get("MLP_DIM", 768)),
            num_classes=int(model.get("NUM_CLASSES", 400)),
            dropout_rate=float(model.get("DROPOUT_RATE", 0.5)),
            max_position_embeddings=int(vtn.get("MAX_POSITION_EMBEDDINGS", 288)),
            num_attention_heads=int(vtn.get("NUM_ATTENTION_HEADS", 12)),
            num_hidden_layers=layers,
            attention_window=[int(w) for w in window],
            intermediate_size=int(vtn.get("INTERMEDIATE_SIZE", 3072)),
            pad_token_id=int(vtn.get("PAD_TOKEN_ID", -1)),
            attention_probs_dropout_prob=float(vtn.get("ATTENTION_PROBS_DROPOUT_PROB", 0.1)),
            hidden_dropout_prob=float(vtn.get("HIDDEN_DROPOUT_PROB", 0.1)),
            preprocessing=Preprocessing(
                resize_short_side=int(jitter[0]),
                crop_size=int(data.get("TEST_CROP_SIZE", 224)),
                mean=tuple(data.get("MEAN", [0.45] * 3)),
                std=tuple(data.get("STD", [0.225] * 3)),
            ),
            target_fps=int(data.get("TARGET_FPS", 25)),
            eval_full_video=bool(train.get("EVAL_FULL_VIDEO", True)),
            eval_num_frames=int(train.get("EVAL_NUM_FRAMES", 250)),
            position_scheme="wrap",
        )
