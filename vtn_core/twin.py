"""Private twins of a shared model: what one caller does to a model must never reach another's.

The app loads each checkpoint once and every session uses that one object (``ui.state.load_model``), from
its own thread. Inference only reads it; explanations do more: ``grad-cam`` registers hooks, backward passes
accumulate gradients into every parameter that requires them, ``zero_grad`` clears them, and a GPU out of
memory moves the model to the CPU. Done on the shared object from several threads at once, a backward pass
accumulates into a gradient another thread has just freed: the server crashed (SIGSEGV, heap corruption in
``malloc``) with four sessions explaining at once. A twin takes all of that on itself.
"""
from __future__ import annotations

import copy
from typing import TypeVar

from torch import nn

Module = TypeVar("Module", bound=nn.Module)


def private_twin(module: Module) -> Module:
    """A copy of ``module``'s structure whose parameters and buffers share the original's memory (nothing is
    copied but the module objects): hooks, gradients, ``zero_grad`` and device moves made on the twin stay
    on the twin. Each parameter is a new ``nn.Parameter`` of the same tensor storage (``requires_grad`` kept);
    nothing writes to that storage (no optimiser runs on a twin)."""
    memo: dict[int, object] = {}
    for parameter in module.parameters():
        memo[id(parameter)] = nn.Parameter(parameter.detach(), requires_grad=parameter.requires_grad)
    for buffer in module.buffers():
        memo.setdefault(id(buffer), buffer.detach())
    return copy.deepcopy(module, memo)
