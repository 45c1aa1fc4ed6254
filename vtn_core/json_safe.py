"""Valid JSON always: NaN and ±Infinity (which ``json.dumps`` writes as bare, invalid tokens) become null."""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

NON_FINITE_NOTICE = "{count} non-finite numbers (NaN or infinity) were written as null"


def finite_or_none(value: Any) -> tuple[Any, int]:
    """``value`` with every non-finite float (also inside lists, tuples, dicts, numpy values) replaced by
    ``None``; returns (cleaned, how many were replaced)."""
    count = 0

    def clean(item: Any) -> Any:
        nonlocal count
        if isinstance(item, (float, np.floating)):
            if math.isfinite(item):
                return float(item)
            count += 1
            return None
        if isinstance(item, np.integer):
            return int(item)
        if isinstance(item, np.ndarray):
            return clean(item.tolist())
        if isinstance(item, dict):
            return {key: clean(v) for key, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(v) for v in item]
        return item

    return clean(value), count


def dumps(document: Any, **kwargs: Any) -> tuple[str, int]:
    """Strict JSON text of ``document`` (non-finite numbers as null, notice added to a top-level dict's
    ``notices`` list); returns (text, how many numbers were replaced)."""
    cleaned, count = finite_or_none(document)
    if count and isinstance(cleaned, dict):
        notices = cleaned.get("notices")
        cleaned["notices"] = (list(notices) if isinstance(notices, list) else []) + [
            NON_FINITE_NOTICE.format(count=count)]
    return json.dumps(cleaned, allow_nan=False, **kwargs), count
