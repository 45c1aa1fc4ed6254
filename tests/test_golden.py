"""The golden test: the official fixture's logits and [CLS] attention, reproduced through the public API."""
from pathlib import Path

import numpy as np
import pytest
import torch

import vtn_core

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def official_tiny():
    return vtn_core.load_checkpoint(FIXTURES / "vtn_official_tiny.pyth", device="cpu")


@pytest.fixture(scope="module")
def expected():
    return np.load(FIXTURES / "vtn_official_tiny_expected.npz")


def normalised_frames(frames_uint8: np.ndarray, model: vtn_core.VTN) -> torch.Tensor:
    prep = model.config.preprocessing
    x = torch.from_numpy(frames_uint8).float().div(255)
    x = (x - torch.tensor(prep.mean)) / torch.tensor(prep.std)
    return x.permute(3, 0, 1, 2)[None]  # [1, 3, F, H, W]


@pytest.mark.parametrize("case", ["case0", "case1"])
def test_fixture_logits_and_attention(official_tiny, expected, case):
    frames = normalised_frames(expected[f"{case}_frames_uint8"], official_tiny)
    positions = torch.from_numpy(expected[f"{case}_positions"])[None]
    with torch.inference_mode():
        out = official_tiny(frames, positions, output_attentions=True)
    np.testing.assert_allclose(out.logits[0].numpy(), expected[f"{case}_logits"], atol=1e-4, rtol=0)
    attention = torch.cat([out.cls_self_attention[..., None], out.cls_attention], dim=-1)[0].numpy()
    np.testing.assert_allclose(attention, expected[f"{case}_cls_attention"], atol=1e-5, rtol=0)
    # the frames' share is everything but [CLS]'s own weight and the padding's (≈0) share
    padded = expected[f"{case}_cls_attention_padded_mass"]
    np.testing.assert_allclose(attention.sum(-1), 1.0 - padded, atol=1e-5)


def test_fixture_config_read_from_cfg(official_tiny):
    config = official_tiny.config
    assert config.hidden_dim == 192 and config.num_classes == 10 and config.num_attention_heads == 3
    assert config.attention_window == [18, 18, 18] and config.max_position_embeddings == 288
    assert config.backbone_kwargs["depth"] == 2 and config.backbone_kwargs["img_size"] == 224
    assert config.preprocessing.resize_short_side == 256 and config.preprocessing.crop_size == 224
    assert official_tiny.class_names == [f"class {i}" for i in range(10)]
    assert official_tiny.metadata["format"] == "official" and official_tiny.metadata["epoch"] == 24
    assert not official_tiny.training


def test_case1_positions_wrap(official_tiny, expected):
    """Positions ≥ P-2 wrap modulo P-2, as the original: shifting every position by P-2 changes nothing."""
    frames = normalised_frames(expected["case1_frames_uint8"], official_tiny)
    positions = torch.from_numpy(expected["case1_positions"])[None]
    shifted = positions + official_tiny.config.max_frame_position
    with torch.inference_mode():
        a = official_tiny(frames, positions).logits
        b = official_tiny(frames, shifted).logits
        c = official_tiny(frames, torch.zeros_like(positions)).logits
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert (a - c).abs().max() > 1e-4  # positions do matter
