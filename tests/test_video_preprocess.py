"""preprocess_frames equals PySlowFast's test transform (an independent re-implementation); thumbnails."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.videos import painted_frame, read_index
from vtn_core.config import Preprocessing
from vtn_core.video import make_thumbnails, preprocess_frames


def pyslowfast_reference(frame: np.ndarray, prep: Preprocessing) -> torch.Tensor:
    """One frame through PySlowFast's order: float, /255, -mean, /std, short-side scale, uniform_crop(idx=1)."""
    x = torch.from_numpy(frame.copy()).float()
    x = x / 255.0
    x = x - torch.tensor(prep.mean)
    x = x / torch.tensor(prep.std)
    x = x.permute(2, 0, 1).unsqueeze(0)  # T H W C -> C H W as PySlowFast's tensor_normalize + permute
    height, width = x.shape[2], x.shape[3]
    size = prep.resize_short_side
    if not ((width <= height and width == size) or (height <= width and height == size)):
        if width < height:
            new_width, new_height = size, int(math.floor((float(height) / width) * size))
        else:
            new_height, new_width = size, int(math.floor((float(width) / height) * size))
        x = F.interpolate(x, size=(new_height, new_width), mode="bilinear", align_corners=False)
    height, width = x.shape[2], x.shape[3]
    crop = prep.crop_size
    y_offset = int(math.ceil((height - crop) / 2))
    x_offset = int(math.ceil((width - crop) / 2))
    return x[0, :, y_offset:y_offset + crop, x_offset:x_offset + crop]


def gradient(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    frame = np.stack([xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1), (xx + yy) % 256], -1)
    frame = frame.astype(np.uint8)
    frame[::7, ::5, 2] = rng.integers(0, 256, frame[::7, ::5, 2].shape)  # fine detail the resize must blend
    return frame


@pytest.mark.parametrize("shape", [(240, 320), (320, 240), (256, 300), (300, 256), (720, 1280), (250, 250)])
def test_equals_the_original_recipe(shape):
    frame = gradient(*shape)
    prep = Preprocessing()
    ours = preprocess_frames(frame[None], prep)
    assert ours.shape == (1, 3, 224, 224) and ours.dtype == torch.float32
    torch.testing.assert_close(ours[0], pyslowfast_reference(frame, prep), atol=1e-5, rtol=0)


def test_other_mean_std_and_sizes_batched():
    prep = Preprocessing(resize_short_side=160, crop_size=112, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    frames = np.stack([gradient(120, 200, seed) for seed in range(5)])
    ours = preprocess_frames(frames, prep)
    assert ours.shape == (5, 3, 112, 112)
    for i in range(5):
        torch.testing.assert_close(ours[i], pyslowfast_reference(frames[i], prep), atol=1e-5, rtol=0)


def test_short_side_already_at_size_is_only_cropped():
    frame = gradient(256, 340)
    prep = Preprocessing()
    expected = (torch.from_numpy(frame[16:240, 58:282]).float() / 255 - 0.45) / 0.225
    torch.testing.assert_close(preprocess_frames(frame[None], prep)[0], expected.permute(2, 0, 1), atol=1e-5, rtol=0)


def test_rejects_frames_that_are_not_rgb_batches():
    with pytest.raises(ValueError):
        preprocess_frames(np.zeros((2, 32, 32), np.uint8), Preprocessing())


@pytest.mark.parametrize("size,height,expected", [((120, 160), 96, (96, 128)), ((720, 1280), 96, (96, 171)),
                                                   ((320, 240), 96, (96, 72)), ((48, 64), 96, (96, 128))])
def test_thumbnails_keep_aspect(size, height, expected):
    frames = np.stack([painted_frame(i, *size) for i in (1, 2, 77)])
    thumbs = make_thumbnails(frames, height)
    assert thumbs.shape == (3, *expected, 3) and thumbs.dtype == np.uint8
    if expected[1] >= 64:
        assert [read_index(t) for t in thumbs] == [1, 2, 77]


def test_thumbnails_are_antialiased_area_averages():
    stripes = np.zeros((1, 96, 192, 3), np.uint8)
    stripes[:, :, ::2] = 255  # one-pixel stripes: a point sample would give 0 or 255, an average ~128
    thumb = make_thumbnails(stripes, 48)
    assert thumb.shape == (1, 48, 96, 3) and abs(float(thumb.mean()) - 127.5) < 3 and thumb.std() < 3
