"""Curves for the README (docs/ablation_*.svg) from the checkpoints' own histories: the bundled models and, when
present, the design-B runs in runs/ (see README). Run: PYTHONPATH=. python scripts/make_ablation_curves.py"""
from pathlib import Path

from vtn_core.checkpoint import load_checkpoint
from vtn_core.model_card import curves_svg

names = {"ResNet learned (D)": "assets/models/vtn_resnet_learned.safetensors",
         "ResNet uniform (D)": "assets/models/vtn_resnet_uniform.safetensors",
         "ViT learned": "assets/models/vtn_vit_learned.safetensors"}
extra = {"ResNet uniform (B)": "runs/r_uniform_b.safetensors", "ResNet learned (B)": "runs/r_learned_b2.safetensors"}
names.update({k: v for k, v in extra.items() if Path(v).is_file()})
hist = {k: load_checkpoint(v, device="cpu").metadata["history"] for k, v in names.items()}
for metric, title in (("train_acc", "Training accuracy per epoch (32-frame training samples)"),
                      ("val_acc", "Validation accuracy per epoch (250 frames)"),
                      ("val_loss", "Validation loss per epoch (250 frames)")):
    Path(f"docs/ablation_{metric}.svg").write_text(curves_svg(hist, metric, width=660, title=title))
print("ok", list(hist))
