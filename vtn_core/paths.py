"""Where the app and its bundled assets live: the source checkout, or the installed wheel.

In a checkout, ``app.py``, ``pages/``, ``ui/`` and ``assets/`` sit beside ``vtn_core/``. The wheel carries
them as ``vtn_explorer_app/`` beside ``vtn_core/`` in site-packages (see ``pyproject.toml``).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_PARENT = Path(__file__).resolve().parent.parent
INSTALLED_APP = "vtn_explorer_app"
ASSETS_ENV = "VTN_ASSETS_DIR"


def app_dir() -> Path:
    """The folder holding ``app.py`` (the checkout's root, else the installed ``vtn_explorer_app``)."""
    for candidate in (PACKAGE_PARENT, PACKAGE_PARENT / INSTALLED_APP):
        if (candidate / "app.py").is_file():
            return candidate
    return PACKAGE_PARENT / INSTALLED_APP


def bundled_assets_dir() -> Path:
    """The shipped ``assets/`` (models, demo clips, class lists), ignoring ``$VTN_ASSETS_DIR``."""
    return app_dir() / "assets"


def assets_dir() -> Path:
    """``$VTN_ASSETS_DIR`` when set, else the shipped ``assets/``."""
    return Path(os.environ.get(ASSETS_ENV) or bundled_assets_dir())
