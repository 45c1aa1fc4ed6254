"""Deletion/insertion curves: endpoints, nesting, normalised areas, and the learned vs uniform twins."""
import csv
from pathlib import Path

import numpy as np
import pytest
import torch

import vtn_core
from tests.official_files import tiny_vit_config
from vtn_core.faithfulness import (
    deletion_insertion,
    descending_order,
    empty_probability,
    masked_probabilities,
    normalised_auc,
    step_masks,
)
from vtn_core.features import extract_features
from vtn_core.model import VTN

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = VTN(tiny_vit_config(num_classes=5, layers=2, window=4)).eval()
    features = torch.randn(9, model.config.hidden_dim) * 3
    positions = np.arange(9) * 4
    return model, features, positions


def test_deleting_every_frame_gives_the_empty_input_probability(tiny):
    model, features, positions = tiny
    curves = deletion_insertion(model, features, positions, np.linspace(1, 0, 9), target=2, seeds=3)
    empty = empty_probability(model, 2)
    with torch.no_grad():
        full = torch.softmax(model.forward_features(features[None], torch.as_tensor(positions)[None]).logits, -1)[0, 2]
    for ordering in ("attention", "gradient", "random"):
        assert curves.deletion[ordering][-1] == pytest.approx(empty, abs=1e-5)
        assert curves.insertion[ordering][0] == pytest.approx(empty, abs=1e-5)
        assert curves.deletion[ordering][0] == pytest.approx(float(full), abs=1e-5)
        assert curves.insertion[ordering][-1] == pytest.approx(float(full), abs=1e-5)
    assert curves.empty_probability == pytest.approx(empty, abs=1e-5)
    # empty = the model with no frame at all, not a coincidence of this target: another class differs
    assert empty != pytest.approx(empty_probability(model, 3), abs=1e-6)


def test_curves_are_monotone_in_frames_processed(tiny):
    model, features, positions = tiny
    order = descending_order(np.random.default_rng(1).random(9))
    deletion, insertion = step_masks(order, insertion=False), step_masks(order, insertion=True)
    assert deletion.shape == insertion.shape == (10, 9)
    assert list(deletion.sum(axis=1)) == list(range(9, -1, -1))
    assert list(insertion.sum(axis=1)) == list(range(10))
    assert (deletion[1:] <= deletion[:-1]).all() and (insertion[1:] >= insertion[:-1]).all()  # nested sets
    for step in range(1, 10):  # step k processes exactly the k-th frame of the ordering
        assert np.flatnonzero(deletion[step - 1] != deletion[step]).tolist() == [order[step - 1]]
    curves = deletion_insertion(model, features, positions, np.arange(9.0), target=0, seeds=2)
    assert np.all(np.diff(curves.fractions) > 0) and curves.fractions[0] == 0 and curves.fractions[-1] == 1
    for auc in list(curves.deletion_auc.values()) + list(curves.insertion_auc.values()):
        assert 0.0 <= auc <= 1.0


def test_masking_a_frame_is_the_same_as_never_giving_it_when_windows_cover_the_clip(tiny):
    model, features, positions = tiny
    keep = np.ones((1, 9), bool)
    keep[0, [2, 5]] = False
    masked = masked_probabilities(model, features, positions, keep, target=1)[0]
    keep_idx = np.flatnonzero(keep[0])
    with torch.no_grad():
        dropped = model.forward_features(features[keep_idx][None], torch.as_tensor(positions[keep_idx])[None]).logits
    # window 4 on 9 frames: neighbours shift when frames are dropped, so only [CLS]'s global row is identical;
    # the prediction reads [CLS], whose first layer sees exactly the kept frames either way
    assert masked == pytest.approx(float(torch.softmax(dropped, -1)[0, 1]), abs=0.05)


def test_normalised_auc():
    assert normalised_auc(np.full(17, 0.3)) == pytest.approx(0.3)
    assert normalised_auc(np.linspace(1, 0, 11)) == pytest.approx(0.5)
    assert normalised_auc(np.array([1.0, 0.0, 0.0, 0.0, 0.0])) == pytest.approx(0.125)


def test_ties_are_broken_at_random_not_by_time():
    ties = np.full(12, 0.25)
    orders = {tuple(descending_order(ties, seed=s)) for s in range(5)}
    assert len(orders) > 1 and tuple(range(12)) not in orders
    assert descending_order(np.array([0.1, 0.5, 0.3])).tolist() == [1, 2, 0]


def demo_clips() -> list[Path]:
    with open(ASSETS / "demo_videos" / "labels.csv", newline="") as handle:
        return [ASSETS / "demo_videos" / row["path"] for row in csv.DictReader(handle)]


def mean_deletion_aucs(checkpoint: str) -> dict[str, float]:
    model = vtn_core.load_checkpoint(ASSETS / "models" / checkpoint, device="cpu")
    rows = []
    for clip in demo_clips():
        feats = extract_features(model, clip)
        target = int(np.argmax(feats.probabilities))
        rows.append(deletion_insertion(model, feats.features, feats.positions, feats.attention(), target).deletion_auc)
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


@pytest.mark.slow
def test_uniform_twins_attention_ordering_is_no_better_than_random_and_the_learned_ones_is():
    uniform = mean_deletion_aucs("vtn_resnet_uniform.safetensors")
    learned = mean_deletion_aucs("vtn_resnet_learned.safetensors")
    assert uniform["attention"] >= 0.9 * uniform["random"], uniform
    assert learned["attention"] <= 0.8 * learned["random"], learned
