"""Train a VTN on a labelled video folder: end to end, or fast with a frozen backbone and cached features.

The learned/uniform twins of the ablation differ only in ``attention``: same data split, seed, init
and batch order. Per-epoch train/val loss, accuracy and localization go into the checkpoint's metadata.
"""
from __future__ import annotations

import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from vtn_core import limits
from vtn_core.checkpoint import save_checkpoint
from vtn_core.config import Preprocessing, VTNConfig
from vtn_core.dataset import VideoRecord, class_list, read_labels
from vtn_core.errors import DataError, VTNError
from vtn_core.hashing import default_cache_dir, file_digest, text_digest
from vtn_core.model import VTN
from vtn_core.video import frame_positions, iter_chunks, probe_video, sample_indices


@dataclass
class TrainRecipe:
    """Everything that defines a training run (stored in the checkpoint)."""

    # a small ResNet with global max pooling learns "which vivid object is there" in a few epochs from scratch;
    # a from-scratch ViT (average or token pooling) did not leave chance level in 40 epochs on this data
    backbone: str = "test_resnet"
    backbone_kwargs: dict[str, Any] = field(default_factory=lambda: {"global_pool": "max"})
    attention: str = "learned"
    seed: int = 0
    epochs: int = 10
    lr: float = 2e-3
    weight_decay: float = 0.05
    batch_size: int = 8
    frames: int = 16
    resolution: int = 48
    layers: int = 2
    heads: int = 4
    window: int = 8
    intermediate: int = 192
    mlp_dim: int = 96
    dropout: float = 0.1
    freeze_backbone: bool = False
    init_weights: str | None = None
    # "backbone": take only the backbone from init_weights; "all": every tensor whose name and shape match
    # (temporal encoder and head too: fine-tune a VTN trained on short clips on long videos)
    init_scope: str = "backbone"
    val_fraction: float = 0.2
    pool_factor: int = 3  # frames decoded per video = pool_factor * frames (temporal jitter between epochs)
    # long videos: evaluate (and decode a pool of) this many uniformly spaced frames — the paper's 250 — while
    # each training step sees ``frames`` of them (one random pick per segment); 0 keeps the short-video recipe
    eval_frames: int = 0

    @property
    def pool_size(self) -> int:
        """Frames decoded per video: the evaluation frames, or ``pool_factor * frames``."""
        return self.eval_frames or self.frames * self.pool_factor

    @property
    def test_frames(self) -> int:
        """Frames a validation pass (and the checkpoint's ``eval_num_frames``) uses."""
        return self.eval_frames or self.frames


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(recipe: TrainRecipe, class_names: list[str]) -> VTN:
    """A fresh VTN for ``recipe`` (hidden width = the backbone's feature width)."""
    import timm

    limits.check_backbone(recipe.backbone, recipe.backbone_kwargs)  # local architectures only, before timm sees it
    probe = timm.create_model(recipe.backbone, pretrained=False, num_classes=0, **recipe.backbone_kwargs)
    width = int(probe.num_features)
    del probe
    if width % recipe.heads:
        raise VTNError(f"backbone {recipe.backbone} gives {width}-d features, not divisible by {recipe.heads} heads")
    config = VTNConfig(
        backbone=recipe.backbone, backbone_kwargs=dict(recipe.backbone_kwargs), hidden_dim=width,
        mlp_dim=recipe.mlp_dim, num_classes=len(class_names), dropout_rate=recipe.dropout,
        max_position_embeddings=288, num_attention_heads=recipe.heads, num_hidden_layers=recipe.layers,
        attention_window=[recipe.window] * recipe.layers, intermediate_size=recipe.intermediate,
        attention_probs_dropout_prob=recipe.dropout, hidden_dropout_prob=recipe.dropout,
        attention_mode=recipe.attention,
        preprocessing=Preprocessing(resize_short_side=recipe.resolution, crop_size=recipe.resolution,
                                    mean=(0.45, 0.45, 0.45), std=(0.225, 0.225, 0.225)),
        # "rescale" maps frame indices (thousands in a long video) onto the 286 positions over the whole video:
        # 250 samples keep distinct, ordered positions whatever the length ("wrap" would alias every 286 frames)
        eval_num_frames=recipe.test_frames, position_scheme="rescale",
    )
    model = VTN(config, class_names=class_names)
    if recipe.init_weights:
        load_backbone_weights(model, Path(recipe.init_weights), everything=recipe.init_scope == "all")
    return model


def load_backbone_weights(model: VTN, path: Path, everything: bool = False) -> None:
    """Initialise the backbone (``everything``: every matching tensor of the VTN) from a local file (timm
    state dict or a VTN checkpoint); never downloads."""
    if not path.is_file():
        raise VTNError(f"{path}: backbone weights file not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("model_state", state.get("state_dict", state)) if isinstance(state, dict) else state
    if everything:
        wanted_all = model.state_dict()
        matching = {k: v for k, v in state.items() if k in wanted_all and tuple(v.shape) == tuple(wanted_all[k].shape)}
        if not any(k.startswith("backbone.") for k in matching):
            raise VTNError(f"{path}: no tensor matches this VTN's names and shapes")
        model.load_state_dict(matching, strict=False)
        return
    state = {k[len("backbone."):] if k.startswith("backbone.") else k: v for k, v in state.items()}
    wanted = model.backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in wanted and tuple(v.shape) == tuple(wanted[k].shape)}
    if not usable:
        raise VTNError(f"{path}: no tensor matches the {model.config.backbone} backbone's names and shapes")
    model.backbone.load_state_dict(usable, strict=False)


@dataclass
class _Clip:
    """Pre-processed frames of one video: a pool of evenly spaced frames to sample from each epoch."""

    pixels: torch.Tensor  # [K, 3, S, S] float16
    indices: np.ndarray  # [K] source frame indices
    num_video_frames: int
    label: int
    event: tuple[int, int] | None


def load_clips(records: list[VideoRecord], class_names: list[str], recipe: TrainRecipe, prep: Preprocessing,
               progress: Callable[[int, int], None] | None = None, cache_dir: Path | None = None) -> list[_Clip]:
    """Decode and pre-process each video's frame pool once (reused from ``cache_dir`` when unchanged)."""
    pool_size = recipe.pool_size
    cache_file = None
    if cache_dir is not None:
        key = text_digest([(str(r.path), file_digest(r.path)) for r in records], pool_size, asdict(prep))
        cache_file = Path(cache_dir) / f"pool-{key}.pt"
        if cache_file.is_file():
            try:
                stored = torch.load(cache_file, map_location="cpu", weights_only=True)
                return [_Clip(p, i.numpy(), int(n), class_names.index(r.label), r.event)
                        for p, i, n, r in zip(stored["pixels"], stored["indices"], stored["num_frames"], records)]
            except (RuntimeError, KeyError, ValueError, EOFError, OSError):
                pass  # rebuilt below
    clips = []
    for number, record in enumerate(records):
        info = probe_video(record.path)
        sample = sample_indices(info, num_frames=max(min(info.num_frames, pool_size), 1))
        pixels = torch.cat([chunk.pixels for chunk in iter_chunks(record.path, sample.indices, prep, 64, info=info,
                                                                  thumb_height=8, prefetch=0)])
        clips.append(_Clip(pixels.half(), np.asarray(sample.indices), info.num_frames,
                           class_names.index(record.label), record.event))
        if progress:
            progress(number + 1, len(records))
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        torch.save({"pixels": [c.pixels for c in clips], "indices": [torch.from_numpy(c.indices) for c in clips],
                    "num_frames": [c.num_video_frames for c in clips]}, tmp)
        os.replace(tmp, cache_file)
    return clips


def choose_frames(clip: _Clip, frames: int, rng: np.random.Generator | None) -> np.ndarray:
    """Pool positions of ``frames`` samples: one random pick per segment (training) or evenly spaced (rng None)."""
    size = len(clip.indices)
    if rng is None:
        return np.floor(np.linspace(0, size - 1, frames)).astype(np.int64)
    edges = np.linspace(0, size, frames + 1)
    picks = [int(rng.integers(int(lo), max(int(lo) + 1, int(math.ceil(hi))))) for lo, hi in zip(edges[:-1], edges[1:])]
    return np.clip(np.asarray(picks), 0, size - 1)


def split_train_val(count: int, labels: list[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A stratified split, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in sorted(set(labels)):
        members = [i for i in range(count) if labels[i] == label]
        rng.shuffle(members)
        cut = int(round(len(members) * fraction)) if len(members) > 1 else 0
        val.extend(members[:cut])
        train.extend(members[cut:])
    return sorted(train), sorted(val)


def train(data_dir: str | Path, out: str | Path, recipe: TrainRecipe, command: str | None = None,
          log: Callable[[str], None] | None = None) -> VTN:
    """Train per ``recipe`` on ``data_dir/labels.csv``; writes the native checkpoint ``out``; returns the model."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    started = time.time()
    set_seed(recipe.seed)
    records = read_labels(data_dir)
    class_names = class_list(records)
    if len(class_names) < 2:
        raise DataError(f"{data_dir}: need at least 2 classes to train, found {len(class_names)}")
    model = build_model(recipe, class_names)
    prep = model.config.preprocessing
    log(f"decoding {len(records)} videos ({recipe.pool_size} frames each at {recipe.resolution}px)")
    clips = load_clips(records, class_names, recipe, prep, progress=_bar(log, "decode"),
                       cache_dir=default_cache_dir() / "train-pools")
    train_ids, val_ids = split_train_val(len(clips), [c.label for c in clips], recipe.val_fraction, recipe.seed)
    if not train_ids:
        raise DataError(f"{data_dir}: no videos left for training after the validation split")

    features = None
    if recipe.freeze_backbone:
        model.backbone.eval().requires_grad_(False)
        log("caching per-frame features of the frozen backbone")
        with torch.inference_mode():
            features = [model.encode_frames(c.pixels.float(), chunk_size=256).clone() for c in clips]
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps_per_epoch = math.ceil(len(train_ids) / recipe.batch_size)
    total_steps = max(1, steps_per_epoch * recipe.epochs)
    warmup = max(1, total_steps // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total_steps))))

    history: list[dict[str, float]] = []
    order_rng = np.random.default_rng(recipe.seed + 1)
    for epoch in range(1, recipe.epochs + 1):
        model.train()
        if recipe.freeze_backbone:
            model.backbone.eval()
        order = order_rng.permutation(train_ids)
        losses, correct = [], 0
        for step, start in enumerate(range(0, len(order), recipe.batch_size)):
            batch = [clips[i] for i in order[start:start + recipe.batch_size]]
            picks = [choose_frames(c, recipe.frames, order_rng) for c in batch]
            logits, _ = _forward(model, batch, picks, features, [int(i) for i in order[start:start + recipe.batch_size]])
            targets = torch.tensor([c.label for c in batch])
            loss = F.cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item() * len(batch))
            correct += int((logits.argmax(-1) == targets).sum())
        row = {"epoch": epoch, "train_loss": sum(losses) / len(order), "train_acc": correct / len(order)}
        row.update(_validate(model, clips, val_ids, recipe.test_frames, features))
        if recipe.eval_frames and (epoch % 5 == 0 or epoch == recipe.epochs):
            # training accuracy as a test pass sees it (all eval frames, no dropout): every 5th epoch and the last
            full = _validate(model, clips, train_ids, recipe.test_frames, features)
            row.update({"train_eval_loss": full["val_loss"], "train_eval_acc": full["val_acc"]})
        row["seconds"] = round(time.time() - started, 1)
        history.append(row)
        log(f"epoch {epoch}/{recipe.epochs}  " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()
                                                            if k not in ("epoch", "seconds")) + f"  ({row['seconds']} s)")
    model.eval()
    if recipe.freeze_backbone:
        model.backbone.requires_grad_(True)
    data = {"labels_csv": str(Path(data_dir) / "labels.csv"), "num_videos": len(records),
            "num_train": len(train_ids), "num_val": len(val_ids), "classes": class_names}
    save_checkpoint(model, out, history=history, recipe=asdict(recipe), data=data,
                    command=command or "vtn_core.train.train(...)", train_seconds=round(time.time() - started, 1))
    log(f"saved {out} ({Path(out).stat().st_size / 1024**2:.1f} MB) in {time.time() - started:.0f} s")
    return model


def _forward(model: VTN, batch: list[_Clip], picks: list[np.ndarray], features: list[torch.Tensor] | None,
             ids: list[int], output_attentions: bool = False):
    config = model.config
    positions = torch.from_numpy(np.stack([
        frame_positions(c.indices[p], config.position_scheme, c.num_video_frames, config.max_frame_position)
        for c, p in zip(batch, picks)]))
    if features is not None:
        feats = torch.stack([features[i][torch.from_numpy(p)] for i, p in zip(ids, picks)])
        out = model.forward_features(feats, positions, output_attentions=output_attentions)
    else:
        pixels = torch.stack([c.pixels[torch.from_numpy(p)].float() for c, p in zip(batch, picks)])
        out = model(pixels.permute(0, 2, 1, 3, 4), positions, output_attentions=output_attentions)
    return out.logits, out


def _validate(model: VTN, clips: list[_Clip], val_ids: list[int], frames: int,
              features: list[torch.Tensor] | None) -> dict[str, float]:
    if not val_ids:
        return {}
    model.eval()
    loss_sum, correct, localization, counted = 0.0, 0, 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(val_ids), 16):
            ids = val_ids[start:start + 16]
            batch = [clips[i] for i in ids]
            picks = [choose_frames(c, frames, None) for c in batch]
            logits, out = _forward(model, batch, picks, features, ids, output_attentions=True)
            targets = torch.tensor([c.label for c in batch])
            loss_sum += F.cross_entropy(logits, targets, reduction="sum").item()
            correct += int((logits.argmax(-1) == targets).sum())
            first_layer = out.cls_attention[:, 0].mean(dim=1)  # [B, F] head mean
            for clip, pick, weights in zip(batch, picks, first_layer):
                if clip.event is None:
                    continue
                idx = clip.indices[pick]
                inside = torch.from_numpy((idx >= clip.event[0]) & (idx <= clip.event[1]))
                localization += float(weights[inside].sum() / weights.sum())
                counted += 1
    row = {"val_loss": loss_sum / len(val_ids), "val_acc": correct / len(val_ids)}
    if counted:
        row["val_localization"] = localization / counted
    return row


def _bar(log: Callable[[str], None], name: str) -> Callable[[int, int], None]:
    state = {"last": -1}

    def update(done: int, total: int) -> None:
        percent = int(100 * done / max(total, 1))
        if percent // 10 != state["last"] // 10 or done == total:
            state["last"] = percent
            filled = percent // 5
            log(f"{name} [{'#' * filled}{'.' * (20 - filled)}] {done}/{total}")
    return update
