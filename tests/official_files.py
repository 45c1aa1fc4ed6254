"""Write checkpoints in the original PySlowFast layout (for tests): a dict with epoch, model_state, cfg."""
from __future__ import annotations

from pathlib import Path

import torch
import yaml

from vtn_core.config import VTNConfig
from vtn_core.model import VTN


def official_cfg(config: VTNConfig) -> dict:
    """The PySlowFast cfg fields VTN reads, as the original YAML would hold them."""
    prep = config.preprocessing
    return {
        "MODEL": {"ARCH": "VIT", "MODEL_NAME": "VTN", "NUM_CLASSES": config.num_classes,
                  "DROPOUT_RATE": config.dropout_rate},
        "VTN": {"HIDDEN_DIM": config.hidden_dim, "MLP_DIM": config.mlp_dim,
                "MAX_POSITION_EMBEDDINGS": config.max_position_embeddings,
                "NUM_ATTENTION_HEADS": config.num_attention_heads, "NUM_HIDDEN_LAYERS": config.num_hidden_layers,
                "ATTENTION_WINDOW": list(config.attention_window), "INTERMEDIATE_SIZE": config.intermediate_size,
                "PAD_TOKEN_ID": config.pad_token_id,
                "ATTENTION_PROBS_DROPOUT_PROB": config.attention_probs_dropout_prob,
                "HIDDEN_DROPOUT_PROB": config.hidden_dropout_prob},
        "DATA": {"MEAN": list(prep.mean), "STD": list(prep.std), "TEST_CROP_SIZE": prep.crop_size,
                 "TRAIN_JITTER_SCALES": [prep.resize_short_side, prep.resize_short_side + 64],
                 "TARGET_FPS": config.target_fps},
        "TRAIN": {"EVAL_FULL_VIDEO": True, "EVAL_NUM_FRAMES": config.eval_num_frames},
    }


def save_official(model: VTN, path: Path, prefix: str = "", epoch: int = 1) -> Path:
    """Save ``model`` as the original code does (optionally with a DataParallel ``module.`` prefix)."""
    state = {prefix + key: value for key, value in model.state_dict().items()}
    torch.save({"epoch": epoch, "model_state": state, "optimizer_state": {},
                "cfg": yaml.safe_dump(official_cfg(model.config))}, path)
    return path


def tiny_vit_config(num_classes: int = 5, layers: int = 2, window: int = 4, **overrides) -> VTNConfig:
    """A small official-layout VTN (ViT width 64, 2 blocks, 32 px) that runs in milliseconds."""
    fields = dict(
        backbone="vit_base_patch16_224",
        backbone_kwargs={"embed_dim": 64, "depth": 2, "num_heads": 1, "patch_size": 16, "img_size": 32,
                         "mlp_ratio": 2.0, "qkv_bias": True},
        hidden_dim=64, mlp_dim=32, num_classes=num_classes, max_position_embeddings=40,
        num_attention_heads=2, num_hidden_layers=layers, attention_window=[window] * layers,
        intermediate_size=128, preprocessing={"resize_short_side": 36, "crop_size": 32},
    )
    fields.update(overrides)
    return VTNConfig(**fields)
