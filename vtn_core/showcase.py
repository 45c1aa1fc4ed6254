"""Which demo clip to open a presentation on, chosen from data: the clip where the model's attention best
finds the class-defining event (first-layer, head-averaged [CLS] attention inside the event, as ``evaluate``
measures localization), among clips it classifies correctly."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from vtn_core.result import Result


@dataclass(frozen=True)
class ClipScore:
    """How well one clip shows off a model: localization, the uniform share, confidence, correctness."""

    name: str
    localization: float
    event_fraction: float
    confidence: float
    correct: bool

    @property
    def ratio(self) -> float:
        """Localization over what uniform attention would score on this clip."""
        return self.localization / max(self.event_fraction, 1e-9)


def score_clip(name: str, result: Result, event: tuple[int, int], label: str | None) -> ClipScore:
    """Score one analysed clip with a known event span (inclusive source-frame indices)."""
    inside = (result.frame_indices >= event[0]) & (result.frame_indices <= event[1])
    predicted, confidence = result.top_k(1)[0]
    return ClipScore(name=name, localization=float(result.statistics(layer=0, event=event)["event_mass"]),
                     event_fraction=float(np.mean(inside)) if inside.size else 0.0, confidence=float(confidence),
                     correct=label is None or predicted == label)


def best_clip(scores: Iterable[ClipScore]) -> ClipScore | None:
    """The correctly classified clip with the highest localization (then the higher ratio over uniform, then
    confidence); ``None`` when there are no scores."""
    scores = list(scores)
    if not scores:
        return None
    return max(scores, key=lambda s: (s.correct, round(s.localization, 3), s.ratio, s.confidence))
