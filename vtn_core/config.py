"""``VTNConfig``: everything needed to rebuild a VTN and feed it, and its conversion from PySlowFast.

Like timm models carry their pre-processing config, our checkpoints carry this dataclass (as JSON).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from vtn_core import limits

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
        if not isinstance(self.mean, (list, tuple)) or not isinstance(self.std, (list, tuple)) \
                or len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("mean and std need three values (R, G, B)")
        self.mean = tuple(limits.as_float("preprocessing mean", v, -1e3, 1e3) for v in self.mean)  # type: ignore[assignment]
        self.std = tuple(limits.as_float("preprocessing std", v, 1e-6, 1e3) for v in self.std)  # type: ignore[assignment]
        self.crop_size = limits.check_count("crop_size", self.crop_size, 1, limits.MAX_CROP_SIZE)
        self.resize_short_side = limits.check_count("resize_short_side", self.resize_short_side, 1,
                                                    limits.MAX_RESIZE_SHORT_SIDE)
        if self.crop_size <= 0 or self.resize_short_side < self.crop_size:
            raise ValueError("need 0 < crop_size <= resize_short_side")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Preprocessing":
        """Build from a dict, refusing unknown fields."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k)[:40] for k in set(data) - known)
        if unknown:
            raise ValueError(f"unknown preprocessing fields: {', '.join(unknown)}")
        return cls(**data)


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
        self._check_sizes()
        if isinstance(self.preprocessing, Mapping):
            self.preprocessing = Preprocessing.from_dict(self.preprocessing)
        if not isinstance(self.preprocessing, Preprocessing):
            raise ValueError(f"preprocessing must be a mapping, found {type(self.preprocessing).__name__}")
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

    def _check_sizes(self) -> None:
        """Types and limits of every size field (``limits``), before anything is built from them."""
        limits.check_backbone(self.backbone, self.backbone_kwargs)
        self.backbone_kwargs = dict(self.backbone_kwargs)
        sizes = {"hidden_dim": limits.MAX_HIDDEN_DIM, "mlp_dim": limits.MAX_MLP_DIM, "num_classes": limits.MAX_CLASSES,
                 "max_position_embeddings": limits.MAX_POSITION_EMBEDDINGS, "num_attention_heads": limits.MAX_HEADS,
                 "num_hidden_layers": limits.MAX_LAYERS, "intermediate_size": limits.MAX_INTERMEDIATE_SIZE,
                 "target_fps": limits.MAX_TARGET_FPS, "eval_num_frames": limits.MAX_SAMPLED_FRAMES}
        for name, high in sizes.items():
            setattr(self, name, limits.check_count(name, getattr(self, name), 1, high))
        self.pad_token_id = limits.as_int("pad_token_id", self.pad_token_id)
        for name in ("dropout_rate", "attention_probs_dropout_prob", "hidden_dropout_prob"):
            setattr(self, name, limits.as_float(name, getattr(self, name), 0.0, 1.0))
        if not isinstance(self.eval_full_video, bool):
            raise ValueError(f"eval_full_video must be true or false, found {type(self.eval_full_video).__name__}")
        if not isinstance(self.attention_window, (list, tuple)) or len(self.attention_window) > limits.MAX_LAYERS:
            raise ValueError(f"attention_window must be a list of at most {limits.MAX_LAYERS} numbers")
        self.attention_window = [limits.check_count("attention_window", w, 1, limits.MAX_ATTENTION_WINDOW)
                                 for w in self.attention_window]
        for name in ("attention_mode", "position_scheme"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string, found {type(getattr(self, name)).__name__}")
        count = limits.temporal_parameters(self.hidden_dim, self.num_hidden_layers, self.intermediate_size,
                                           self.max_position_embeddings, self.mlp_dim, self.num_classes)
        if count > limits.MAX_PARAMETERS:
            raise limits.LimitError(f"the temporal encoder and head this config describes have {count / 1e6:,.0f} M "
                                    f"parameters; at most {limits.MAX_PARAMETERS / 1e6:,.0f} M")

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
        unknown = sorted(str(k)[:40] for k in set(data) - known)
        if unknown:
            raise ValueError(f"unknown VTNConfig fields: {', '.join(unknown)}")
        data = dict(data)
        if "preprocessing" in data and isinstance(data["preprocessing"], Mapping):
            data["preprocessing"] = Preprocessing.from_dict(data["preprocessing"])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "VTNConfig":
        """Inverse of ``to_json``."""
        data = json.loads(text)
        if not isinstance(data, Mapping):
            raise ValueError(f"a config must be a JSON object, found {type(data).__name__}")
        return cls.from_dict(data)

    @classmethod
    def from_official_cfg(cls, cfg: dict[str, Any], backbone_kwargs: dict[str, Any] | None = None) -> "VTNConfig":
        """Build from the PySlowFast cfg (a parsed YAML dict) of the original implementation.

        Fields the cfg omits take PySlowFast's defaults (the values in OFFICIAL_VTN.md).
        ``backbone_kwargs`` are the backbone dimensions inferred from the weights.
        """
        model, vtn, data, train = (_section(cfg, name) for name in ("MODEL", "VTN", "DATA", "TRAIN"))
        arch = model.get("ARCH", "VIT")
        if not isinstance(arch, str) or arch.upper() != "VIT":
            raise ValueError(f"MODEL.ARCH is {str(arch)[:40]!r}; only the ViT backbone (VIT) of the released VTN is "
                             "supported")
        layers = limits.check_count("VTN.NUM_HIDDEN_LAYERS", vtn.get("NUM_HIDDEN_LAYERS", 3), 1, limits.MAX_LAYERS)
        window = vtn.get("ATTENTION_WINDOW", [18] * layers)
        if not isinstance(window, list):
            window = [window] * layers
        jitter = data.get("TRAIN_JITTER_SCALES", [256, 320])
        if not isinstance(jitter, list) or not jitter:
            raise ValueError("DATA.TRAIN_JITTER_SCALES must be a list of sizes")
        return cls(
            backbone="vit_base_patch16_224",
            backbone_kwargs=dict(backbone_kwargs or {}),
            hidden_dim=vtn.get("HIDDEN_DIM", 768),
            mlp_dim=vtn.get("MLP_DIM", 768),
            num_classes=model.get("NUM_CLASSES", 400),
            dropout_rate=model.get("DROPOUT_RATE", 0.5),
            max_position_embeddings=vtn.get("MAX_POSITION_EMBEDDINGS", 288),
            num_attention_heads=vtn.get("NUM_ATTENTION_HEADS", 12),
            num_hidden_layers=layers,
            attention_window=window,
            intermediate_size=vtn.get("INTERMEDIATE_SIZE", 3072),
            pad_token_id=vtn.get("PAD_TOKEN_ID", -1),
            attention_probs_dropout_prob=vtn.get("ATTENTION_PROBS_DROPOUT_PROB", 0.1),
            hidden_dropout_prob=vtn.get("HIDDEN_DROPOUT_PROB", 0.1),
            preprocessing=Preprocessing(
                resize_short_side=jitter[0],
                crop_size=data.get("TEST_CROP_SIZE", 224),
                mean=data.get("MEAN", [0.45] * 3),
                std=data.get("STD", [0.225] * 3),
            ),
            target_fps=data.get("TARGET_FPS", 25),
            eval_full_video=bool(train.get("EVAL_FULL_VIDEO", True)),
            eval_num_frames=train.get("EVAL_NUM_FRAMES", 250),
            position_scheme="wrap",
        )


def _section(cfg: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """One top-level section of a PySlowFast cfg (absent or null = empty); anything but a mapping is refused."""
    value = cfg.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"cfg section {name} must be a mapping of fields, found {type(value).__name__}")
    return value
