"""The paper's three inference modes give the same logits and attention."""
import pytest
import torch

from tests.official_files import tiny_vit_config
from vtn_core.model import VTN


@pytest.mark.parametrize("attention", ["learned", "uniform"])
def test_three_modes_agree(attention):
    torch.manual_seed(0)
    model = VTN(tiny_vit_config(layers=3, window=4)).eval().set_attention(attention)
    frames = torch.randn(1, 3, 29, 32, 32)
    positions = (torch.arange(29) * 7)[None]
    with torch.inference_mode():
        end_to_end = model(frames, positions, output_attentions=True)
        chunked = model(frames, positions, output_attentions=True, chunk_size=4)
        flat = frames.permute(0, 2, 1, 3, 4).reshape(29, 3, 32, 32)
        features = torch.cat([model.encode_frames(c) for c in flat.split(10)])[None]
        precomputed = model.forward_features(features, positions, output_attentions=True)
    for other in (chunked, precomputed):
        torch.testing.assert_close(other.logits, end_to_end.logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(other.cls_attention, end_to_end.cls_attention, atol=1e-5, rtol=0)
        torch.testing.assert_close(other.cls_self_attention, end_to_end.cls_self_attention, atol=1e-5, rtol=0)


def test_bad_shapes_are_refused():
    model = VTN(tiny_vit_config()).eval()
    with pytest.raises(ValueError, match=r"\[B, 3, F, H, W\]"):
        model(torch.randn(3, 4, 32, 32), torch.arange(4)[None])
    with pytest.raises(ValueError, match="positions"):
        model.forward_features(torch.randn(1, 4, 64), torch.arange(5)[None])
