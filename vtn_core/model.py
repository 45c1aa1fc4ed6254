"""``VTN``: a timm image backbone per frame, a Longformer over the frame sequence with a global [CLS]
token, and an MLP head — parameter names identical to the original PySlowFast implementation.

Three inference modes (the paper's §3) share one code path:
1. ``model(frames, positions)``: the backbone on all frames at once, then the temporal encoder;
2. ``model(frames, positions, chunk_size=n)``: the backbone over frames in chunks of ``n``;
3. ``model.forward_features(features, positions)``: precomputed per-frame features only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn
from transformers import LongformerConfig, LongformerModel
from transformers.utils import ModelOutput
from transformers.utils import logging as transformers_logging

from vtn_core.attention import install_switchable_projections
from vtn_core import dense_longformer, limits
from vtn_core.config import ATTENTION_MODES, VTNConfig


@dataclass
class VTNOutput(ModelOutput):
    """Output of a VTN forward pass.

    logits: [B, num_classes]. cls_attention: [B, layers, heads, F], [CLS]'s attention on each frame
    (its weight on itself excluded; padding carries ~0). cls_self_attention: [B, layers, heads].
    cls_embedding: [B, D], the encoder's [CLS] output the head reads.
    """

    logits: torch.Tensor | None = None
    cls_attention: torch.Tensor | None = None
    cls_self_attention: torch.Tensor | None = None
    cls_embedding: torch.Tensor | None = None


def build_longformer(config: VTNConfig) -> LongformerModel:
    """The temporal encoder as the original builds it: no pooler, word embeddings deleted."""
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # it warns that pad_token_id -1 lies outside the (unused) vocab
    try:
        longformer_config = LongformerConfig(
            vocab_size=1,  # word embeddings are deleted below; inputs are frame features
            hidden_size=config.hidden_dim,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            attention_window=list(config.attention_window),
            max_position_embeddings=config.max_position_embeddings,
            pad_token_id=config.pad_token_id,
            bos_token_id=None,
            eos_token_id=None,
            sep_token_id=None,
            hidden_dropout_prob=config.hidden_dropout_prob,
            attention_probs_dropout_prob=config.attention_probs_dropout_prob,
        )
        encoder = LongformerModel(longformer_config, add_pooling_layer=False)
    finally:
        transformers_logging.set_verbosity(verbosity)
    del encoder.embeddings.word_embeddings
    encoder.embeddings.word_embeddings = None
    return encoder


def estimate_parameters(config: VTNConfig) -> int:
    """Parameters the VTN of ``config`` would have, without allocating them: the backbone is built on the
    meta device (shapes only), the temporal encoder and head are counted from the config."""
    with torch.device("meta"):
        backbone = timm.create_model(config.backbone, pretrained=False, num_classes=0, **config.backbone_kwargs)
    count = sum(p.numel() for p in backbone.parameters())
    return count + limits.temporal_parameters(config.hidden_dim, config.num_hidden_layers, config.intermediate_size,
                                              config.max_position_embeddings, config.mlp_dim, config.num_classes)


class VTN(nn.Module):
    """Video Transformer Network (Neimark et al., 2021) with [CLS] attention outputs."""

    def __init__(self, config: VTNConfig, class_names: list[str] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.config = config
        self.backbone = timm.create_model(config.backbone, pretrained=False, num_classes=0,
                                          **config.backbone_kwargs)
        width = int(getattr(self.backbone, "num_features", config.hidden_dim))
        if width != config.hidden_dim:
            raise ValueError(f"backbone {config.backbone} gives {width}-d features but hidden_dim is {config.hidden_dim}")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.temporal_encoder = build_longformer(config)
        self.mlp_head = nn.Sequential(
            nn.LayerNorm(config.hidden_dim),
            nn.Linear(config.hidden_dim, config.mlp_dim),
            nn.GELU(),
            nn.Dropout(config.dropout_rate),
            nn.Linear(config.mlp_dim, config.num_classes),
        )
        self._score_projections = install_switchable_projections(self.temporal_encoder)
        self.class_names = list(class_names) if class_names else [f"class {i}" for i in range(config.num_classes)]
        if len(self.class_names) != config.num_classes:
            raise ValueError(f"{len(self.class_names)} class names for {config.num_classes} classes")
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.set_attention(config.attention_mode)
        # a convolutional backbone reads its frames channels-last: oneDNN's (and cuDNN's) faster layout, the
        # same values to float rounding (bench: the bundled ResNet 1.5x faster on one CPU thread, 1.6x on two);
        # a ViT has one convolution (its patch embedding) and keeps the layout it is given
        self.channels_last = sum(isinstance(m, nn.Conv2d) for m in self.backbone.modules()) > 1

    # ---- attention mode -------------------------------------------------------------------------
    @property
    def attention_mode(self) -> str:
        """"learned" or "uniform"."""
        return self.config.attention_mode

    def set_attention(self, mode: str) -> "VTN":
        """Switch the temporal encoder between learned and uniform attention (in place); returns self."""
        if mode not in ATTENTION_MODES:
            raise ValueError(f"attention mode must be one of {ATTENTION_MODES}, got {mode!r}")
        for projection in self._score_projections:
            projection.uniform = mode == "uniform"
        self.config.attention_mode = mode
        return self

    # ---- forward ------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """Device of the model's parameters."""
        return self.cls_token.device

    def encode_frames(self, frames: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """Backbone features [N, D] of frames [N, 3, H, W], optionally ``chunk_size`` frames at a time."""
        if chunk_size is None or chunk_size >= frames.shape[0]:
            return self._backbone(frames)
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        return torch.cat([self._backbone(chunk) for chunk in frames.split(chunk_size)], dim=0)

    def _backbone(self, frames: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            frames = frames.contiguous(memory_format=torch.channels_last)
        return self.backbone(frames)

    def forward(self, frames: torch.Tensor, positions: torch.Tensor, output_attentions: bool = False,
                chunk_size: int | None = None) -> VTNOutput:
        """frames: [B, 3, F, H, W] normalised; positions: [B, F] source frame indices."""
        if frames.dim() != 5:
            raise ValueError(f"frames must be [B, 3, F, H, W], got shape {tuple(frames.shape)}")
        batch, channels, num_frames, height, width = frames.shape
        flat = frames.permute(0, 2, 1, 3, 4).reshape(batch * num_frames, channels, height, width)
        features = self.encode_frames(flat, chunk_size).reshape(batch, num_frames, -1)
        return self.forward_features(features, positions, output_attentions=output_attentions)

    def forward_features(self, features: torch.Tensor, positions: torch.Tensor,
                         output_attentions: bool = False, frame_mask: torch.Tensor | None = None,
                         dense_attention: bool = False) -> VTNOutput:
        """The temporal encoder and head on per-frame features [B, F, D] at ``positions`` [B, F].

        ``frame_mask`` [B, F] bool (optional): False leaves that frame out of the temporal encoder (its
        attention mask is 0, as padding), so no token attends to it — how faithfulness curves delete frames.
        ``dense_attention``: the encoder as dense masked attention (``dense_longformer``: the same numbers to
        float rounding, nothing synchronises with the host, so a CUDA graph can capture it) where it supports
        the sequence; transformers' Longformer otherwise.
        """
        if features.dim() != 3 or positions.shape != features.shape[:2]:
            raise ValueError(f"features [B, F, D] and positions [B, F] expected, got "
                             f"{tuple(features.shape)} and {tuple(positions.shape)}")
        if frame_mask is not None and frame_mask.shape != features.shape[:2]:
            raise ValueError(f"frame_mask must be [B, F] = {tuple(features.shape[:2])}, got {tuple(frame_mask.shape)}")
        inputs = self._encoder_inputs(features, positions, frame_mask)
        rows = None
        if dense_attention and dense_longformer.supports(self.temporal_encoder, inputs["attention_mask"].shape[1]):
            hidden, rows = dense_longformer.encode(self.temporal_encoder, **inputs)
        else:
            encoded = self.temporal_encoder(**inputs, output_attentions=output_attentions)
            hidden = encoded.last_hidden_state
            if output_attentions:
                # global_attentions[l]: [B, heads, seq, num_global]; column 0 is [CLS]'s distribution
                rows = torch.stack([layer[..., 0] for layer in encoded.global_attentions], dim=1)
        cls_embedding = hidden[:, 0]
        logits = self.mlp_head(cls_embedding)
        cls_attention = cls_self = None
        if output_attentions:
            num_frames = features.shape[1]
            cls_self = rows[..., 0]
            cls_attention = rows[..., 1:1 + num_frames]
        return VTNOutput(logits=logits, cls_attention=cls_attention, cls_self_attention=cls_self,
                         cls_embedding=cls_embedding)

    def _encoder_inputs(self, features: torch.Tensor, positions: torch.Tensor,
                        frame_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """[CLS] + frames, padded, with the original's mask, token types and position ids."""
        batch, num_frames, _ = features.shape
        device = features.device
        tokens = torch.cat([self.cls_token.expand(batch, -1, -1).to(features.dtype), features], dim=1)
        mask = torch.ones(batch, 1 + num_frames, dtype=torch.long, device=device)
        if frame_mask is not None:
            mask[:, 1:] = frame_mask.to(device=device, dtype=torch.long)
        mask[:, 0] = 2  # global attention for [CLS]
        windows = self.config.attention_window
        multiple = math.lcm(2 * windows[0], max(windows))  # the original pads to 2 * window[0]
        pad = (multiple - (1 + num_frames) % multiple) % multiple
        tokens = F.pad(tokens, (0, 0, 0, pad), value=-1.0)
        mask = F.pad(mask, (0, pad), value=0)
        position_ids = torch.cat([torch.zeros(batch, 1, dtype=torch.long, device=device),
                                  positions.to(device=device, dtype=torch.long)], dim=1)
        position_ids = F.pad(position_ids, (0, pad), value=0)
        max_positions = self.config.max_position_embeddings
        position_ids = position_ids % (max_positions - 2)
        position_ids[:, 0] = max_positions - 2
        position_ids = position_ids.masked_fill(mask == 0, max_positions - 1)  # no boolean indexing: capturable
        token_type_ids = torch.zeros_like(mask)
        token_type_ids[:, 0] = 1
        return {"inputs_embeds": tokens, "attention_mask": mask, "token_type_ids": token_type_ids,
                "position_ids": position_ids}

    def num_parameters(self) -> int:
        """Total parameter count."""
        return sum(p.numel() for p in self.parameters())
