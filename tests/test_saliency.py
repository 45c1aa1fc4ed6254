"""Spatial saliency: maps come back in source pixels through resize + centre crop, the cropped-away part marked.

The backbone here has a known response: its only spatial layer is the frame's brightness, its feature the
maximum brightness. The video-level logit's gradient therefore reaches that layer at the brightest pixel with
the sign of d logit / d brightness, and Grad-CAM/Grad-CAM++ of a class with a positive sign is the brightness
map itself — so the map's peak and its bright region must land on the bright square, in source coordinates.
"""
import numpy as np
import pytest
import torch
from torch import nn

import vtn_core
from tests.official_files import tiny_vit_config
from vtn_core.config import Preprocessing
from vtn_core.model import VTN
from vtn_core.saliency import (
    CropGeometry,
    attention_rollout_maps,
    available_methods,
    cam_layer,
    crop_geometry,
    frame_saliency,
    peak_xy,
)

PREP = Preprocessing(resize_short_side=48, crop_size=40)  # 80x60 → 64x48 → crop 40 at top 4, left 12
HEIGHT, WIDTH = 60, 80


class BrightnessBackbone(nn.Module):
    """Spatial layer ``brightness`` = mean of the normalised channels; feature = its maximum, copied D times."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.brightness = nn.Conv2d(3, 1, kernel_size=1, bias=False)
        nn.init.constant_(self.brightness.weight, 1.0 / 3)
        self.expand = nn.Linear(1, width, bias=False)
        nn.init.constant_(self.expand.weight, 1.0)
        self.num_features = width
        self.feature_info = [{"module": "brightness", "reduction": 1, "num_chs": 1}]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(self.brightness(x).amax(dim=(2, 3)))


def brightness_vtn() -> VTN:
    torch.manual_seed(0)
    config = tiny_vit_config(preprocessing=PREP.__dict__)
    model = VTN(config).eval()
    model.backbone = BrightnessBackbone(config.hidden_dim)
    return model


def rising_class(model: VTN, features: torch.Tensor, positions: np.ndarray, slot: int) -> int:
    """A class whose video logit rises with the brightness feature of ``slot`` (so its CAM is not clipped)."""
    feats = features.clone().requires_grad_(True)
    logits = model.forward_features(feats[None], torch.as_tensor(positions)[None]).logits[0]
    slopes = [torch.autograd.grad(logits[c], feats, retain_graph=True)[0][slot].sum().item()
              for c in range(len(logits))]
    assert max(slopes) > 0
    return int(np.argmax(slopes))


def frame_with_squares(squares: list[tuple[int, int, int, int, int]]) -> np.ndarray:
    """A dark 80x60 frame with bright squares (x0, y0, x1, y1 exclusive, value)."""
    frame = np.full((HEIGHT, WIDTH, 3), 20, np.uint8)
    for x0, y0, x1, y1, value in squares:
        frame[y0:y1, x0:x1] = value
    return frame


def explain(frame: np.ndarray, method: str):
    model = brightness_vtn()
    frames = np.stack([np.full_like(frame, 20), frame, np.full_like(frame, 20)])
    with torch.no_grad():
        pixels = vtn_core.video.preprocess_frames(frames, PREP)
        features = model.backbone(pixels)
    positions = np.array([0, 5, 10])
    target = rising_class(model, features, positions, 1)
    return frame_saliency(model, features, positions, [1], frame[None], target, method)[0]


def test_geometry_of_resize_and_centre_crop():
    geometry = crop_geometry(HEIGHT, WIDTH, PREP)
    assert geometry == CropGeometry(height=60, width=80, resized_height=48, resized_width=64, top=4, left=12, crop=40)
    assert geometry.seen_box() == pytest.approx((15.0, 5.0, 65.0, 55.0))
    assert geometry.crop_to_source(20.0, 20.0) == pytest.approx((40.0, 30.0))  # the crop's centre is the frame's


def test_to_source_marks_the_unseen_border_and_places_a_crop_pixel_where_it_came_from():
    geometry = crop_geometry(HEIGHT, WIDTH, PREP)
    crop_map = np.zeros((40, 40), np.float32)
    crop_map[30, 8] = 1.0  # crop pixel (u=8, v=30) = resized (20, 34) covers source x 25..26.25, y 42.5..43.75
    source = geometry.to_source(crop_map)
    assert source.shape == (HEIGHT, WIDTH)
    seen = np.isfinite(source)
    assert not seen[:, :15].any() and not seen[:, 65:].any() and not seen[:5].any() and not seen[55:].any()
    assert seen[5:55, 15:65].all()
    assert peak_xy(source) in {(25, 42), (25, 43), (26, 42), (26, 43)}


@pytest.mark.parametrize("method", ["gradcam++", "gradcam"])
def test_saliency_peak_lands_on_the_bright_square_in_source_pixels(method):
    frame = frame_with_squares([(44, 30, 52, 38, 250)])
    saliency = explain(frame, method)
    x, y = saliency.peak
    assert 44 <= x < 52 and 30 <= y < 38
    hot = np.argwhere(np.nan_to_num(saliency.source_map) > 0.5)
    (y0, x0), (y1, x1) = hot.min(axis=0), hot.max(axis=0)
    assert abs(x0 - 44) <= 2 and abs(x1 - 51) <= 2 and abs(y0 - 30) <= 2 and abs(y1 - 37) <= 2


def test_a_brighter_square_the_crop_cut_away_is_marked_unseen_and_never_the_peak():
    frame = frame_with_squares([(2, 20, 10, 28, 255), (36, 40, 42, 46, 180)])
    saliency = explain(frame, "gradcam++")
    assert np.isnan(saliency.source_map[20:28, 2:10]).all()
    x, y = saliency.peak
    assert 36 <= x < 42 and 40 <= y < 46


def test_flat_map_has_no_peak():
    assert peak_xy(np.zeros((4, 4), np.float32)) is None
    assert peak_xy(np.full((4, 4), np.nan, np.float32)) is None


def test_vit_backbones_offer_rollout_and_cnns_do_not():
    vit = VTN(tiny_vit_config()).eval()
    assert available_methods(vit) == ("gradcam++", "gradcam", "rollout")
    assert cam_layer(vit.backbone, 32).name == "blocks.1.norm1"  # token pooling reads [CLS]
    assert available_methods(brightness_vtn()) == ("gradcam++", "gradcam")
    with pytest.raises(vtn_core.VTNError):
        attention_rollout_maps(brightness_vtn().backbone, torch.zeros(1, 3, 40, 40))


def test_rollout_maps_are_normalised_per_frame():
    torch.manual_seed(0)
    vit = VTN(tiny_vit_config()).eval()
    maps = attention_rollout_maps(vit.backbone, torch.randn(2, 3, 32, 32))
    assert maps.shape == (2, 32, 32)
    assert np.allclose(maps.reshape(2, -1).max(axis=1), 1) and np.allclose(maps.reshape(2, -1).min(axis=1), 0)


def test_the_shared_model_keeps_no_hooks_and_no_gradients():
    torch.manual_seed(0)
    vit = VTN(tiny_vit_config()).eval()
    frames = np.random.default_rng(0).integers(0, 255, (2, 36, 36, 3), dtype=np.uint8)
    with torch.no_grad():
        features = vit.backbone(vtn_core.video.preprocess_frames(frames, vit.config.preprocessing))
    for method in available_methods(vit):
        maps = frame_saliency(vit, features, np.array([0, 3]), [0, 1], frames, 1, method)
        assert [m.source_map.shape for m in maps] == [(36, 36), (36, 36)]
    assert all(p.grad is None for p in vit.parameters())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in vit.modules())
