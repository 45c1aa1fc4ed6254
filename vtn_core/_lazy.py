"""Names a package imports on first use (PEP 562), so a process that needs only part of it (a decode worker:
PyAV and numpy) does not load torch, timm and transformers."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, Sequence


def lazy_exports(package: str, exports: Mapping[str, str],
                 names: Sequence[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(``__getattr__``, ``__dir__``) for ``package``: ``exports`` maps a name to the module (relative to the
    package) that defines it; any other attribute is tried as a submodule (``vtn_core.inference`` after
    ``import vtn_core``)."""
    namespace = importlib.import_module(package).__dict__

    def getattr_(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            namespace[name] = value
            return value
        full = f"{package}.{name}"
        try:
            return importlib.import_module(full)
        except ModuleNotFoundError as exc:
            if exc.name != full:
                raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(names))

    return getattr_, dir_
