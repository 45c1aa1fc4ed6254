"""Our .safetensors format: identical outputs after a round trip, metadata kept, config JSON round trip."""
import json

import pytest
import torch
from safetensors import safe_open

import vtn_core
from tests.official_files import tiny_vit_config
from vtn_core.config import VTNConfig
from vtn_core.model import VTN


def test_config_json_roundtrip():
    config = tiny_vit_config(attention_mode="uniform", position_scheme="rescale")
    again = VTNConfig.from_json(config.to_json())
    assert again == config
    with pytest.raises(ValueError, match="unknown VTNConfig fields: colour"):
        VTNConfig.from_dict({**config.to_dict(), "colour": "red"})


@pytest.mark.parametrize("attention", ["learned", "uniform"])
def test_native_roundtrip_identical_outputs(tmp_path, attention):
    torch.manual_seed(0)
    model = VTN(tiny_vit_config(num_classes=3), class_names=["falling", "rising", "spinning"]).eval()
    model.set_attention(attention)
    history = [{"epoch": 1, "train_loss": 1.1, "val_loss": 1.0, "train_acc": 0.4, "val_acc": 0.5}]
    path = vtn_core.save_checkpoint(model, tmp_path / "m.safetensors", history=history, command="python -m vtn_core train x",
                                    data={"name": "synthetic", "seed": 3})
    loaded = vtn_core.load_checkpoint(path, device="cpu")
    assert loaded.attention_mode == attention and loaded.class_names == ["falling", "rising", "spinning"]
    assert loaded.metadata["history"] == history and loaded.metadata["data"]["seed"] == 3
    assert loaded.metadata["command"] == "python -m vtn_core train x" and loaded.metadata["format"] == "native"
    assert loaded.config == model.config
    frames, positions = torch.randn(2, 3, 9, 32, 32), torch.arange(9).repeat(2, 1)
    with torch.inference_mode():
        a, b = model(frames, positions, output_attentions=True), loaded(frames, positions, output_attentions=True)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.cls_attention, b.cls_attention)
    with safe_open(str(path), framework="pt") as handle:
        header = handle.metadata()
    assert header["format"] == "vtn-explorer" and header["format_version"] == "1"
    assert json.loads(header["preprocessing"])["crop_size"] == 32 and header["attention_mode"] == attention


def test_official_to_native_conversion_keeps_outputs(tmp_path):
    from pathlib import Path
    fixture = Path(__file__).parent / "fixtures" / "vtn_official_tiny.pyth"
    official = vtn_core.load_checkpoint(fixture, device="cpu")
    native = vtn_core.load_checkpoint(vtn_core.save_checkpoint(official, tmp_path / "c.safetensors"), device="cpu")
    frames = torch.randn(1, 3, 5, 224, 224)
    with torch.inference_mode():
        assert torch.equal(official(frames, torch.arange(5)[None]).logits, native(frames, torch.arange(5)[None]).logits)
    assert native.metadata["epoch"] == 24
