"""The paper's ablation: uniform attention is exactly uniform, ignores query/key weights and trains none of them."""
import pytest
import torch

from tests.official_files import tiny_vit_config
from vtn_core.attention import SCORE_PROJECTIONS
from vtn_core.model import VTN


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return VTN(tiny_vit_config(layers=2, window=4)).eval()


def inputs(num_frames=13, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, num_frames, 32, 32, generator=g), torch.arange(num_frames).repeat(2, 1) * 3


def score_parameters(model):
    for layer in model.temporal_encoder.encoder.layer:
        for name in SCORE_PROJECTIONS:
            yield from getattr(layer.attention.self, name).parameters()


@pytest.mark.parametrize("num_frames", [1, 7, 13, 40])
def test_cls_attention_is_one_over_f_plus_one(model, num_frames):
    frames, positions = inputs(num_frames)
    model.set_attention("uniform")
    with torch.inference_mode():
        out = model(frames, positions, output_attentions=True)
    expected = 1.0 / (num_frames + 1)
    assert out.cls_attention.shape == (2, 2, 2, num_frames)
    torch.testing.assert_close(out.cls_attention, torch.full_like(out.cls_attention, expected), atol=1e-7, rtol=0)
    torch.testing.assert_close(out.cls_self_attention, torch.full_like(out.cls_self_attention, expected), atol=1e-7, rtol=0)


def test_local_windows_are_uniform_over_permitted_positions(model):
    frames, positions = inputs(13)
    model.set_attention("uniform")
    captured = []
    hook = model.temporal_encoder.encoder.layer[0].attention.self.register_forward_hook(
        lambda module, args, output: captured.append(output[1]))
    with torch.inference_mode():
        model(frames, positions, output_attentions=True)
    hook.remove()
    probs = captured[0]  # [B, seq, heads, 1 global + window+1] local rows
    rows = probs[:, 1:14]  # frames (padding rows are all 0, the [CLS] row is replaced by its global row)
    for row in rows.reshape(-1, rows.shape[-1]):
        nonzero = row[row > 0]
        torch.testing.assert_close(nonzero, torch.full_like(nonzero, 1.0 / len(nonzero)), atol=1e-6, rtol=0)
    assert probs[:, 14:].abs().max() == 0  # padding attends to nothing


def test_logits_ignore_query_key_weights(model):
    frames, positions = inputs()
    model.set_attention("uniform")
    with torch.inference_mode():
        before = model(frames, positions).logits.clone()
        for p in score_parameters(model):
            p.add_(torch.randn_like(p))
        after = model(frames, positions).logits
    torch.testing.assert_close(before, after, atol=0, rtol=0)


def test_no_gradient_reaches_query_key(model):
    frames, positions = inputs()
    model.set_attention("uniform").train()
    loss = model(frames, positions).logits.logsumexp(-1).sum()
    loss.backward()
    for p in score_parameters(model):
        assert p.grad is None or p.grad.abs().max() == 0
    value = model.temporal_encoder.encoder.layer[0].attention.self.value.weight
    assert value.grad is not None and value.grad.abs().max() > 0


def test_switching_back_restores_learned_outputs_exactly(model):
    frames, positions = inputs()
    with torch.inference_mode():
        learned = model(frames, positions, output_attentions=True)
        model.set_attention("uniform")
        uniform = model(frames, positions, output_attentions=True)
        model.set_attention("learned")
        again = model(frames, positions, output_attentions=True)
    assert (learned.logits - uniform.logits).abs().max() > 1e-5
    assert torch.equal(learned.logits, again.logits)
    assert torch.equal(learned.cls_attention, again.cls_attention)
    assert model.config.attention_mode == "learned"


def test_mode_is_a_model_property_and_validated(model):
    assert VTN(tiny_vit_config(attention_mode="uniform")).attention_mode == "uniform"
    with pytest.raises(ValueError, match="attention mode"):
        model.set_attention("random")
