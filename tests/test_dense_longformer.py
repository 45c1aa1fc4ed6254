"""The temporal encoder as dense masked attention (``dense_longformer``) against transformers' Longformer: the
official fixture's numbers, random models with unequal windows, frames left out, uniform attention, bf16, and
that it holds no operation a CUDA graph cannot capture (it runs on the meta device, where Longformer cannot)."""
from pathlib import Path

import numpy as np
import pytest
import torch

import vtn_core
from tests.official_files import tiny_vit_config
from tests.test_golden import normalised_frames
from vtn_core import dense_longformer
from vtn_core.model import VTN

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def official_tiny():
    return vtn_core.load_checkpoint(FIXTURES / "vtn_official_tiny.pyth", device="cpu")


def _both(model: VTN, features, positions, frame_mask=None):
    with torch.inference_mode():
        return [model.forward_features(features, positions, output_attentions=True, frame_mask=frame_mask,
                                       dense_attention=dense) for dense in (False, True)]


def assert_same_outputs(longformer, dense, atol: float) -> None:
    """Logits, [CLS] attention and embedding of two ``VTNOutput``s: same shapes and dtypes, values within ``atol``."""
    for name in ("logits", "cls_attention", "cls_self_attention", "cls_embedding"):
        expected, actual = getattr(longformer, name), getattr(dense, name)
        assert actual.shape == expected.shape and actual.dtype == expected.dtype, name
        torch.testing.assert_close(actual.float(), expected.float(), atol=atol, rtol=0, msg=name)


@pytest.mark.parametrize("case", ["case0", "case1"])
def test_the_official_fixture_is_reproduced(official_tiny, case):
    expected = np.load(FIXTURES / "vtn_official_tiny_expected.npz")
    frames = normalised_frames(expected[f"{case}_frames_uint8"], official_tiny)
    positions = torch.from_numpy(expected[f"{case}_positions"])[None]
    with torch.inference_mode():
        features = official_tiny.encode_frames(frames[0].transpose(0, 1))[None]
        out = official_tiny.forward_features(features, positions, output_attentions=True, dense_attention=True)
    np.testing.assert_allclose(out.logits[0].numpy(), expected[f"{case}_logits"], atol=1e-4, rtol=0)
    attention = torch.cat([out.cls_self_attention[..., None], out.cls_attention], dim=-1)[0].numpy()
    np.testing.assert_allclose(attention, expected[f"{case}_cls_attention"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("frames", [1, 7, 23, 250])
@pytest.mark.parametrize("mode", ["learned", "uniform"])
def test_random_models_match_longformer(frames, mode):
    torch.manual_seed(frames)
    model = VTN(tiny_vit_config(layers=3, attention_window=[4, 8, 16])).eval()  # a window per layer
    model.set_attention(mode)
    features = torch.randn(2, frames, model.config.hidden_dim) * 3
    positions = torch.arange(frames)[None].expand(2, -1) * 5
    frame_mask = torch.rand(2, frames, generator=torch.Generator().manual_seed(1)) > 0.3
    frame_mask[:, 0] = True
    for mask in (None, frame_mask):
        assert_same_outputs(*_both(model, features, positions, mask), atol=1e-5)


def test_a_frame_left_out_changes_nothing_else(official_tiny):
    """A frame with mask 0 is attended to by no one: its features, however large, change no output."""
    torch.manual_seed(3)
    features, positions = torch.randn(1, 40, 192), torch.arange(40)[None] * 2
    keep = torch.ones(1, 40, dtype=torch.bool)
    keep[0, 10] = False
    other = features.clone()
    other[0, 10] = torch.randn(192) * 1000
    with torch.inference_mode():
        left_out, other_left_out = (
            official_tiny.forward_features(sequence, positions, output_attentions=True, frame_mask=keep,
                                           dense_attention=True) for sequence in (features, other))
    assert float(left_out.cls_attention[0, :, :, 10].abs().max()) == 0.0
    assert_same_outputs(left_out, other_left_out, atol=0.0)


def test_bf16_autocast_computes_in_longformer_dtypes(official_tiny):
    torch.manual_seed(4)
    features, positions = torch.randn(1, 100, 192), torch.arange(100)[None]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        longformer, dense = _both(official_tiny, features, positions)
    assert dense.cls_attention.dtype == longformer.cls_attention.dtype == torch.bfloat16
    assert_same_outputs(longformer, dense, atol=2e-2)  # bf16 rounds at 2^-8; the sums run in another order
    assert int(dense.logits.argmax()) == int(longformer.logits.argmax())


def test_no_operation_depends_on_the_data():
    """The meta device has shapes but no values: anything that reads a value (``.item()``, ``nonzero()``,
    boolean indexing), which a CUDA graph cannot capture either, fails there."""
    model = VTN(tiny_vit_config(layers=2, window=4)).eval().to("meta")
    features = torch.empty(1, 30, model.config.hidden_dim, device="meta")
    positions = torch.empty(1, 30, dtype=torch.long, device="meta")
    frame_mask = torch.empty(1, 30, dtype=torch.bool, device="meta")
    with torch.inference_mode():
        out = model.forward_features(features, positions, output_attentions=True, frame_mask=frame_mask,
                                     dense_attention=True)
        assert out.logits.shape == (1, 5) and out.cls_attention.shape == (1, 2, 2, 30)
        with pytest.raises((RuntimeError, NotImplementedError)):  # Longformer reads `.item()`
            model.forward_features(features, positions, output_attentions=True, frame_mask=frame_mask)


def test_training_and_long_sequences_keep_longformer(official_tiny, monkeypatch):
    encoder = official_tiny.temporal_encoder
    assert dense_longformer.supports(encoder, dense_longformer.MAX_TOKENS)
    assert not dense_longformer.supports(encoder, dense_longformer.MAX_TOKENS + 1)
    assert not dense_longformer.supports(encoder, 0)

    def refuse(*args, **kwargs):
        raise AssertionError("dense form used where it does not apply")

    monkeypatch.setattr(dense_longformer, "encode", refuse)
    frames = dense_longformer.MAX_TOKENS  # + [CLS] and padding: past the limit
    with torch.inference_mode():
        out = official_tiny.forward_features(torch.randn(1, frames, 192), torch.arange(frames)[None],
                                             output_attentions=True, dense_attention=True)
    assert out.cls_attention.shape[-1] == frames
    official_tiny.train()
    try:
        official_tiny.forward_features(torch.randn(1, 8, 192), torch.arange(8)[None], dense_attention=True)
    finally:
        official_tiny.eval()
