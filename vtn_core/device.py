"""Choosing the compute device."""
from __future__ import annotations

import torch

from vtn_core.errors import VTNError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when present, else CPU; ``cuda[:n]`` without a GPU is a ``VTNError``."""
    if isinstance(device, torch.device):
        device = str(device)
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise VTNError(f"device '{device}' asked for, but no CUDA GPU is available here; use --device cpu or auto")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise VTNError(f"unknown device '{device}'; choose one of auto, cpu, cuda")
