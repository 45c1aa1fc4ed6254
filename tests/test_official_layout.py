"""Official-layout checkpoints: a ViT-B-sized VTN saved as .pyth, `module.` prefixes, bare state dicts."""
import numpy as np
import torch

import vtn_core
from tests.official_files import save_official, tiny_vit_config
from vtn_core.config import VTNConfig
from vtn_core.model import VTN


def test_vit_b_sized_official_checkpoint_roundtrip(tmp_path):
    torch.manual_seed(0)
    config = VTNConfig(backbone="vit_base_patch16_224", hidden_dim=768, mlp_dim=768, num_classes=400)
    model = VTN(config).eval()
    path = save_official(model, tmp_path / "VTN_VIT_B_KINETICS.pyth")
    loaded = vtn_core.load_checkpoint(path, device="cpu")
    kwargs = loaded.config.backbone_kwargs
    assert (kwargs["embed_dim"], kwargs["depth"], kwargs["num_heads"], kwargs["patch_size"], kwargs["img_size"]) == (
        768, 12, 12, 16, 224)
    assert loaded.config.num_hidden_layers == 3 and loaded.config.num_attention_heads == 12
    assert len(loaded.class_names) == 400 and loaded.class_names[0] == "abseiling"
    assert loaded.num_parameters() == model.num_parameters()
    frames = torch.randn(1, 3, 3, 224, 224)
    positions = torch.tensor([[0, 100, 249]])
    with torch.inference_mode():
        a = model(frames, positions, output_attentions=True)
        b = loaded(frames, positions, output_attentions=True)
    assert b.logits.shape == (1, 400) and b.cls_attention.shape == (1, 3, 12, 3)
    torch.testing.assert_close(a.logits, b.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.cls_attention, b.cls_attention, atol=1e-6, rtol=0)


def test_module_prefix_is_stripped(tmp_path):
    model = VTN(tiny_vit_config()).eval()
    path = save_official(model, tmp_path / "dp.pth", prefix="module.")
    loaded = vtn_core.load_checkpoint(path, device="cpu")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_bare_state_dict_without_cfg_uses_defaults_and_inferred_dims(tmp_path):
    config = tiny_vit_config(num_classes=7, layers=3, window=18, num_attention_heads=12, hidden_dim=768,
                             backbone_kwargs={"embed_dim": 768, "depth": 1, "num_heads": 12, "patch_size": 16,
                                              "img_size": 32, "mlp_ratio": 4.0}, max_position_embeddings=288,
                             mlp_dim=768, intermediate_size=3072)
    model = VTN(config).eval()
    torch.save(model.state_dict(), tmp_path / "bare.pth")
    # without a cfg, NUM_CLASSES defaults to 400: the head's shape tells the truth and the error says so
    try:
        vtn_core.load_checkpoint(tmp_path / "bare.pth", device="cpu")
    except vtn_core.CheckpointError as exc:
        assert "mlp_head.4.weight" in str(exc) and "[400, 768]" in str(exc) and "[7, 768]" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a bare state dict with 7 classes loaded as 400 classes")


def test_non_kinetics_class_count_gets_generic_names(tmp_path):
    model = VTN(tiny_vit_config(num_classes=3)).eval()
    loaded = vtn_core.load_checkpoint(save_official(model, tmp_path / "m.pyth"), device="cpu")
    assert loaded.class_names == ["class 0", "class 1", "class 2"]
    assert np.isfinite(loaded(torch.randn(1, 3, 4, 32, 32), torch.arange(4)[None]).logits.detach().numpy()).all()
