"""Model cards: a checkpoint's data, recipe, exact command and measured held-out numbers, as Markdown."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vtn_core.model import VTN


def render_model_card(model: VTN, evaluation: dict[str, Any], heldout_command: str | None = None) -> str:
    """Markdown describing ``model`` (from its metadata) and its ``evaluation`` (from ``evaluate``)."""
    meta, config = model.metadata, model.config
    name = Path(str(meta.get("path", "model"))).name
    history = meta.get("history") or []
    lines = [f"# {name}", "",
             f"A VTN with a `{config.backbone}` backbone ({json.dumps(config.backbone_kwargs)}), "
             f"{config.num_hidden_layers} Longformer layers × {config.num_attention_heads} heads "
             f"(window {config.attention_window[0]}), **{model.attention_mode} attention**, "
             f"{model.num_parameters() / 1e6:.2f} M parameters, {meta.get('file_bytes', 0) / 1024**2:.1f} MB.", "",
             "## Data", ""]
    data = meta.get("data") or {}
    if data:
        lines += [f"- Training set: `{data.get('labels_csv')}` — {data.get('num_videos')} videos "
                  f"({data.get('num_train')} train / {data.get('num_val')} validation), classes: "
                  f"{', '.join(data.get('classes', model.class_names))}."]
    lines += [f"- Input: {config.eval_num_frames} frames sampled uniformly over the whole video, "
              f"{config.preprocessing.crop_size} px, positions scheme `{config.position_scheme}`.", "",
              "## Recipe", "", "```", str(meta.get("command", "(not recorded)")), "```", ""]
    recipe = meta.get("recipe")
    if recipe:
        lines += ["| setting | value |", "| --- | --- |"]
        lines += [f"| {key} | `{json.dumps(value)}` |" for key, value in recipe.items() if value is not None]
        lines += [""]
    if meta.get("train_seconds"):
        lines += [f"Training took {float(meta['train_seconds']) / 60:.1f} min on the machine that made it.", ""]
    if history:
        lines += ["## Training history", "", "| epoch | train loss | train acc | val loss | val acc | val localization "
                  "| train acc, all eval frames |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for row in history:
            lines.append("| {epoch} | {tl:.3f} | {ta:.3f} | {vl:.3f} | {va:.3f} | {vloc} | {tea} |".format(
                epoch=row.get("epoch"), tl=row.get("train_loss", float("nan")), ta=row.get("train_acc", float("nan")),
                vl=row.get("val_loss", float("nan")), va=row.get("val_acc", float("nan")),
                vloc=f"{row['val_localization']:.3f}" if "val_localization" in row else "–",
                tea=f"{row['train_eval_acc']:.3f}" if "train_eval_acc" in row else "–"))
        lines.append("")
    lines += ["## Held-out results", ""]
    if heldout_command:
        lines += ["Held-out set and command:", "", "```", heldout_command, "```", ""]
    lines += [f"- Accuracy: **{evaluation['accuracy']:.3f}** on {evaluation['num_videos']} videos."]
    if "localization" in evaluation:
        lines += [f"- Localization (share of head-averaged first-layer [CLS] attention on the event): "
                  f"**{evaluation['localization']:.3f}**, against an event fraction of "
                  f"{evaluation['event_fraction']:.3f} ({evaluation['localization_ratio']:.1f}×); by layer: "
                  + ", ".join(f"{v:.3f}" for v in evaluation["localization_by_layer"]) + "."]
    return "\n".join(lines) + "\n"


def curves_svg(histories: dict[str, list[dict[str, float]]], metric: str = "val_acc", width: int = 520,
               height: int = 260, title: str | None = None) -> str:
    """A dependency-free SVG line chart of one per-epoch metric for several runs (for READMEs and cards)."""
    palette = ["#d6336c", "#1c7ed6", "#37b24d", "#f59f00"]
    left, right, top, bottom = 48, 150, 30, 36
    epochs = max((len(h) for h in histories.values()), default=1)
    values = [row.get(metric) for h in histories.values() for row in h if row.get(metric) is not None]
    high = max(1.0, max(values, default=1.0))
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(epoch: float) -> float:
        return left + (epoch - 1) / max(epochs - 1, 1) * plot_w

    def y(value: float) -> float:
        return top + (1 - value / high) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
             f'<text x="{left}" y="18" font-size="14">{title or metric}</text>']
    for k in range(5):
        value = high * k / 4
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.2f}</text>')
    for epoch in range(1, epochs + 1):
        parts.append(f'<text x="{x(epoch):.1f}" y="{height - bottom + 16}" text-anchor="middle">{epoch}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">epoch</text>')
    for k, (name, history) in enumerate(histories.items()):
        colour = palette[k % len(palette)]
        points = " ".join(f"{x(row['epoch']):.1f},{y(row[metric]):.1f}" for row in history if row.get(metric) is not None)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        parts.append(f'<text x="{left + plot_w + 10}" y="{top + 16 + 18 * k}" fill="{colour}">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)
