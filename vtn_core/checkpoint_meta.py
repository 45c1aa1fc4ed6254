"""Checks on the plain data a checkpoint carries besides its weights: nesting, class names, training history.

All of it is untrusted: sizes are bounded here (``limits``) and strings are escaped where shown (``safe_text``).
"""
from __future__ import annotations

import math
from typing import Any

from vtn_core import limits

_MAX_TREE_NODES = 200_000  # values visited in one metadata tree (YAML aliases can make a tree look huge)


def check_tree(value: Any, what: str) -> None:
    """Refuse plain data nested deeper than ``limits.MAX_CFG_DEPTH`` or with too many values (``ValueError``)."""
    stack, seen = [(value, 0)], 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > _MAX_TREE_NODES:
            raise ValueError(f"{what} holds more than {_MAX_TREE_NODES:,} values")
        if depth > limits.MAX_CFG_DEPTH:
            raise ValueError(f"{what} is nested more than {limits.MAX_CFG_DEPTH} levels deep")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
            stack.extend((k, depth + 1) for k in item if not isinstance(k, (str, int, float, bool)))
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)


def check_class_names(names: Any) -> None:
    """A list of at most ``MAX_CLASSES`` strings, each valid Unicode and at most ``MAX_CLASS_NAME_CHARS`` long."""
    if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
        raise ValueError("class_names should be a list of strings")
    if len(names) > limits.MAX_CLASSES:
        raise ValueError(f"class_names holds {len(names):,} names; at most {limits.MAX_CLASSES:,}")
    total = sum(len(name) for name in names)
    if total > limits.MAX_CLASS_NAMES_TOTAL_CHARS:
        raise ValueError(f"class_names hold {total:,} characters in all; at most {limits.MAX_CLASS_NAMES_TOTAL_CHARS:,}")
    for number, name in enumerate(names):
        if len(name) > limits.MAX_CLASS_NAME_CHARS:
            raise ValueError(f"class name {number} is {len(name):,} characters long; at most "
                             f"{limits.MAX_CLASS_NAME_CHARS}")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"class name {number} is not valid Unicode text (a lone surrogate)") from None


def clean_history(history: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The training history as a list of rows {metric: finite number or None}; ([], reason) when malformed."""
    if history is None:
        return [], None
    if not isinstance(history, list):
        return [], f"expected a list of epochs, found {type(history).__name__}"
    if len(history) > limits.MAX_HISTORY_EPOCHS:
        return [], f"{len(history):,} epochs; at most {limits.MAX_HISTORY_EPOCHS:,}"
    rows = []
    for number, row in enumerate(history):
        if not isinstance(row, dict) or len(row) > limits.MAX_HISTORY_KEYS:
            return [], f"epoch {number} is not a mapping of at most {limits.MAX_HISTORY_KEYS} metrics"
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if not isinstance(key, str) or len(key) > 64:
                return [], f"epoch {number} has a metric name that is not a short string"
            if value is None:
                clean[key] = None
            elif isinstance(value, int) and not isinstance(value, bool):
                clean[key] = value if abs(value) < 2**53 else None
            elif isinstance(value, float):
                clean[key] = value if math.isfinite(value) else None
            else:
                return [], f"epoch {number}: {key[:40]!r} is not a number"
        rows.append(clean)
    return rows, None
