"""Does the model rely on the frames it attends to? Deletion and insertion curves over cached frame features.

Frames are removed from (deletion) or added back to (insertion) the temporal encoder one at a time, in the
order of an *ordering* — [CLS] attention, a gradient attribution (the magnitude of Captum's input × gradient on
the frame features), or random (averaged over seeds) — and the predicted class's probability is read after each step.
"Removed" means masked out of the Longformer (attention mask 0: no token attends to it), so deleting every frame
leaves [CLS] alone: the model's empty-input probability. Curves are drawn over the fraction of frames
processed, 0..1 in F steps, so their areas lie in [0, 1]. A faithful attention deletes the evidence first:
its deletion AUC is lower than random's, its insertion AUC higher.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from captum.attr import InputXGradient

from vtn_core.model import VTN
from vtn_core.twin import private_twin

ORDERINGS = ("attention", "gradient", "random")
DEFAULT_SEEDS = 5
MAX_BATCH = 64  # masked sequences per temporal forward
MAX_STEPS = 64  # longer sequences are processed in this many equal steps (bounded cost and memory)


@dataclass
class Faithfulness:
    """Deletion and insertion curves per ordering, and their normalised areas."""

    target: int  # class index whose probability is tracked
    fractions: np.ndarray  # [S + 1] share of frames processed (0 .. 1); S = F up to MAX_STEPS
    deletion: dict[str, np.ndarray]  # ordering -> [F + 1] probability after deleting the first k frames
    insertion: dict[str, np.ndarray]  # ordering -> [F + 1] probability with only the first k frames present
    orders: dict[str, np.ndarray]  # ordering -> [F] sample indices, first processed first (random: seed 0)
    full_probability: float
    empty_probability: float
    seeds: int = DEFAULT_SEEDS
    random_spread: dict[str, np.ndarray] = field(default_factory=dict)  # "deletion"/"insertion" -> [F + 1] std

    @property
    def deletion_auc(self) -> dict[str, float]:
        return {name: normalised_auc(curve) for name, curve in self.deletion.items()}

    @property
    def insertion_auc(self) -> dict[str, float]:
        return {name: normalised_auc(curve) for name, curve in self.insertion.items()}

    def to_json_dict(self) -> dict[str, Any]:
        """AUCs (the CLI contract) plus the curves themselves."""
        return {"deletion_auc": {k: round(v, 6) for k, v in self.deletion_auc.items()},
                "insertion_auc": {k: round(v, 6) for k, v in self.insertion_auc.items()},
                "target_index": self.target, "random_seeds": self.seeds,
                "full_probability": round(self.full_probability, 6),
                "empty_probability": round(self.empty_probability, 6),
                "fractions": [round(float(v), 6) for v in self.fractions],
                "deletion": {k: [round(float(p), 6) for p in v] for k, v in self.deletion.items()},
                "insertion": {k: [round(float(p), 6) for p in v] for k, v in self.insertion.items()}}

    def rows(self) -> list[dict[str, Any]]:
        """Long table: one row per (curve, ordering, step) — for CSV exports."""
        out = []
        for kind, curves in (("deletion", self.deletion), ("insertion", self.insertion)):
            for name, curve in curves.items():
                for step, (fraction, prob) in enumerate(zip(self.fractions, curve)):
                    out.append({"curve": kind, "ordering": name, "step": step, "fraction": float(fraction),
                                "probability": float(prob)})
        return out

    def reading(self) -> str:
        """One plain sentence: does the model rely on the frames it attends to?"""
        attention, random = self.deletion_auc["attention"], self.deletion_auc["random"]
        if random <= 1e-6 or self.full_probability - self.empty_probability < 0.05:
            return ("Removing frames barely changes the prediction here, so this clip cannot tell whether the "
                    "model relies on the frames it attends to.")
        ratio = attention / random
        if ratio <= 0.8:
            return (f"Yes: deleting the most attended frames first lowers the prediction much faster than random "
                    f"order (deletion AUC {attention:.2f} vs {random:.2f}), so the attention points at the evidence.")
        if ratio < 1.0:
            return (f"Partly: deleting the most attended frames first hurts a little more than random order "
                    f"(deletion AUC {attention:.2f} vs {random:.2f}).")
        return (f"No: deleting the most attended frames first hurts no more than random order (deletion AUC "
                f"{attention:.2f} vs {random:.2f}); the attention does not single out the evidence.")


def normalised_auc(curve: np.ndarray) -> float:
    """Trapezoid area of a curve sampled at equal steps over [0, 1] (probabilities in [0, 1] → AUC in [0, 1])."""
    y = np.asarray(curve, dtype=np.float64)
    if y.size < 2:
        return float(y[0]) if y.size else 0.0
    return float(((y[1:] + y[:-1]) / 2).sum() / (y.size - 1))


def descending_order(scores: np.ndarray, seed: int = 0) -> np.ndarray:
    """Indices by decreasing score; ties broken at random (seeded), never by position in time."""
    scores = np.asarray(scores, dtype=np.float64)
    shuffle = np.random.default_rng(seed).permutation(scores.size)
    return shuffle[np.argsort(-scores[shuffle], kind="stable")]


def gradient_attribution(model: VTN, features: torch.Tensor, positions: np.ndarray, target: int) -> np.ndarray:
    """[F] magnitude of gradient × feature of the target logit per frame: |sum over the frame's feature of
    Captum's ``InputXGradient``|.

    The magnitude, not the sign: frames interact through the attention softmax, so a first-order sign says
    little about what deleting a whole frame does (on the bundled demo clips the signed ordering deletes the
    evidence late — deletion AUC 0.39 and 0.83 — while the magnitude's is 0.17 and 0.13, random's 0.66)."""
    device = model.device
    position_tensor = torch.as_tensor(np.asarray(positions), dtype=torch.long, device=device)[None]
    twin = private_twin(model)  # any gradient lands on the twin, never on the shared model (``vtn_core.twin``)

    def logits(sequence: torch.Tensor) -> torch.Tensor:
        return twin.forward_features(sequence, position_tensor.expand(sequence.shape[0], -1)).logits

    inputs = features.detach().float().to(device)[None].requires_grad_(True)
    with torch.enable_grad():
        attribution = InputXGradient(logits).attribute(inputs, target=int(target))
    return attribution[0].sum(dim=-1).abs().detach().float().cpu().numpy()


def masked_probabilities(model: VTN, features: torch.Tensor, positions: np.ndarray, keep: np.ndarray,
                         target: int, batch_size: int = MAX_BATCH) -> np.ndarray:
    """[S] probability of ``target`` with only the frames ``keep`` [S, F] (bool) visible to the temporal encoder."""
    device = model.device
    keep_tensor = torch.as_tensor(np.asarray(keep, dtype=bool))
    sequence = features.detach().float().to(device)[None]
    position_tensor = torch.as_tensor(np.asarray(positions), dtype=torch.long, device=device)[None]
    out = []
    with torch.no_grad():
        for part in keep_tensor.split(batch_size):
            count = part.shape[0]
            logits = model.forward_features(sequence.expand(count, -1, -1), position_tensor.expand(count, -1),
                                            frame_mask=part.to(device)).logits
            out.append(torch.softmax(logits.float(), -1)[:, target].cpu())
    return torch.cat(out).numpy().astype(np.float64)


def step_counts(count: int, max_steps: int = MAX_STEPS) -> np.ndarray:
    """Frames processed after each step: 0, 1, ..., F when F <= ``max_steps``, else ``max_steps`` equal steps."""
    steps = min(count, max_steps)
    return np.round(np.arange(steps + 1) * count / max(steps, 1)).astype(np.int64)


def step_masks(order: np.ndarray, insertion: bool, max_steps: int = MAX_STEPS) -> np.ndarray:
    """[S + 1, F] bool: which frames are visible after each step (deletion removes the first k of ``order``;
    insertion shows only them), k = ``step_counts``. The sets are nested; each step processes the next frames."""
    count = len(order)
    rank = np.empty(count, dtype=np.int64)
    rank[np.asarray(order)] = np.arange(count)
    processed = rank[None, :] < step_counts(count, max_steps)[:, None]
    return processed if insertion else ~processed


def empty_probability(model: VTN, target: int, feature_dim: int | None = None) -> float:
    """The target's probability when the temporal encoder sees no frame at all ([CLS] alone)."""
    dim = feature_dim or model.config.hidden_dim
    with torch.no_grad():
        logits = model.forward_features(torch.zeros(1, 0, dim, device=model.device),
                                        torch.zeros(1, 0, dtype=torch.long, device=model.device)).logits
    return float(torch.softmax(logits.float(), -1)[0, target])


def deletion_insertion(model: VTN, features: torch.Tensor, positions: np.ndarray, attention: np.ndarray,
                       target: int, seeds: int = DEFAULT_SEEDS,
                       progress: Callable[[int, int], None] | None = None) -> Faithfulness:
    """Deletion and insertion curves of ``target`` for the attention, gradient and random orderings.

    ``features`` [F, D] cached backbone features, ``attention`` [F] [CLS] weights (any aggregate). All
    (2 + seeds) x 2 x (F + 1) masked sequences run batched through the temporal encoder only.
    """
    count = int(features.shape[0])
    if count == 0:
        raise ValueError("no frames to order")
    seeds = max(1, int(seeds))
    report = progress or (lambda done, total: None)
    report(0, 3)
    gradient = gradient_attribution(model, features, positions, target)
    report(1, 3)
    orders = {"attention": descending_order(attention, seed=0), "gradient": descending_order(gradient, seed=0)}
    random_orders = [np.random.default_rng(seed).permutation(count) for seed in range(seeds)]
    plans = [(name, order) for name, order in orders.items()] + [("random", order) for order in random_orders]
    masks = np.concatenate([step_masks(order, insertion) for _, order in plans for insertion in (False, True)])
    probabilities = masked_probabilities(model, features, positions, masks, target)
    report(2, 3)
    counts = step_counts(count)
    curves = probabilities.reshape(len(plans), 2, len(counts))
    deletion = {name: curves[k, 0] for k, (name, _) in enumerate(plans[:2])}
    insertion = {name: curves[k, 1] for k, (name, _) in enumerate(plans[:2])}
    deletion["random"], insertion["random"] = curves[2:, 0].mean(axis=0), curves[2:, 1].mean(axis=0)
    result = Faithfulness(
        target=int(target), fractions=counts / count, deletion=deletion, insertion=insertion,
        orders={**orders, "random": random_orders[0]}, full_probability=float(curves[0, 0, 0]),
        empty_probability=float(curves[0, 0, -1]), seeds=seeds,
        random_spread={"deletion": curves[2:, 0].std(axis=0), "insertion": curves[2:, 1].std(axis=0)})
    report(3, 3)
    return result
