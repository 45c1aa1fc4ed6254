"""The temporal encoder's forward pass for VTN's layout, as dense masked attention: transformers' LongformerModel
with its own modules and weights, the same masks and the same fp32 softmax, but no operation whose shape or
control flow depends on the data, so the whole pass can be captured as one CUDA graph.

transformers' Longformer synchronises with the host inside its forward (``.item()`` on whether any token is
global, ``nonzero()`` for the global indices, scalars assigned through index tensors), and on a GPU its sliding
chunks are many small launches: 8–13 ms for 250 frames on an H100, after the last frame's features are ready
(docs/BENCHMARKS.md, eleventh pass; 1 ms as a graph). Here each layer's attention is one masked matrix product:

- a frame token (attention mask 1) attends to the frame tokens within its layer's one-sided window
  (``attention_window // 2``) and to [CLS], with the local projections, as Longformer's band plus its global
  key column does (each key once);
- [CLS] (mask 2, position 0: VTN's one global token) attends to every unmasked token with the global
  projections, itself included;
- a masked token (mask 0: padding, a frame left out) is attended to by nothing; its own row is zeroed, as
  Longformer zeroes it.

The scores take S² memory, so this is for VTN's passes of up to ``MAX_TOKENS`` tokens (a 250-frame pass is
252), in eval mode; longer sequences and training keep transformers' linear-memory implementation. On the CPU
the two agree to float rounding (tests: max |Δ| ≤ 1e-5 on the official fixture, uniform attention included).
"""
from __future__ import annotations

import math

import torch
from torch import nn

MAX_TOKENS = 2048  # scores of 12 heads at 2048 tokens: 200 MB in fp32


def supports(encoder: nn.Module, num_tokens: int) -> bool:
    """Whether ``encode`` may run ``encoder`` on ``num_tokens`` tokens (eval mode, at most ``MAX_TOKENS``)."""
    return not encoder.training and 0 < num_tokens <= MAX_TOKENS


def encode(encoder: nn.Module, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor,
           token_type_ids: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Longformer's last hidden state [B, S, D] and [CLS]'s attention rows [B, layers, heads, S] (its weight on
    each token, itself at 0) for VTN's encoder inputs (``VTN._encoder_inputs``: [CLS] at 0 with mask 2, frames
    with mask 1, left-out frames and padding with mask 0)."""
    hidden = encoder.embeddings(input_ids=None, position_ids=position_ids, token_type_ids=token_type_ids,
                                inputs_embeds=inputs_embeds)
    masked = attention_mask == 0  # [B, S]
    local_keys = attention_mask == 1
    global_keys = attention_mask == 2
    offsets = torch.arange(hidden.shape[1], device=hidden.device)
    distance = (offsets[:, None] - offsets[None, :]).abs()  # [S, S]
    rows = []
    for layer in encoder.encoder.layer:
        attention = layer.attention.self
        in_window = distance <= attention.one_sided_attn_window_size
        allowed = (in_window[None] & local_keys[:, None, :]) | global_keys[:, None, :]  # [B, query, key]
        attended, cls_row = _self_attention(attention, hidden, allowed, masked)
        attended = layer.attention.output(attended, hidden)
        hidden = layer.ff_chunk(attended)
        rows.append(cls_row)
    return hidden, torch.stack(rows, dim=1)


def _self_attention(attention: nn.Module, hidden: torch.Tensor, allowed: torch.Tensor,
                    masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One LongformerSelfAttention's output [B, S, D] (row 0 by the global projections) and [CLS]'s weights
    [B, heads, S], in the dtypes Longformer computes them (scores in the projections' dtype, softmax in fp32)."""
    batch, length, width = hidden.shape
    heads, head_dim = attention.num_heads, attention.head_dim
    scale = math.sqrt(head_dim)

    def split(x: torch.Tensor) -> torch.Tensor:  # [B, S, D] -> [B, heads, S, head_dim]
        return x.view(batch, -1, heads, head_dim).transpose(1, 2)

    query = split(attention.query(hidden) / scale)
    scores = query @ split(attention.key(hidden)).transpose(-1, -2)  # [B, heads, S, S]
    scores = scores.masked_fill(~allowed[:, None], torch.finfo(scores.dtype).min)
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).masked_fill(masked[:, None, :, None], 0.0)
    local = probs.to(scores.dtype) @ split(attention.value(hidden))

    cls_query = split(attention.query_global(hidden[:, :1]) / scale)
    cls_scores = cls_query @ split(attention.key_global(hidden)).transpose(-1, -2)  # [B, heads, 1, S]
    cls_scores = cls_scores.masked_fill(masked[:, None, None, :], torch.finfo(cls_scores.dtype).min)
    cls_probs = torch.softmax(cls_scores, dim=-1, dtype=torch.float32).to(cls_scores.dtype)
    cls_output = cls_probs @ split(attention.value_global(hidden))  # [B, heads, 1, head_dim]

    output = torch.cat([cls_output, local[:, :, 1:].to(cls_output.dtype)], dim=2)
    return output.transpose(1, 2).reshape(batch, length, width), cls_probs[:, :, 0]
