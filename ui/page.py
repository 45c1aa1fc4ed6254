"""Page scaffolding: page config, the links between pages, and a guard that turns bugs into an error box."""
from __future__ import annotations

import functools
import logging
from typing import Callable

import streamlit as st

import vtn_core
from ui.views import md

LOG = logging.getLogger("vtn_explorer")
PAGES = {
    "explore": ("app.py", "Explore", ":material/search:"),
    "compare": ("pages/1_Compare.py", "Compare", ":material/compare_arrows:"),
    "ablation": ("pages/2_Ablation.py", "Ablation", ":material/balance:"),
    "checkpoints": ("pages/3_Checkpoints.py", "Checkpoints", ":material/inventory_2:"),
    "corpus": ("pages/4_Corpus.py", "Corpus", ":material/table_view:"),
}


def configure(title: str) -> None:
    """Wide layout and the tab title (safe to call from every page)."""
    st.set_page_config(page_title=f"{title} · VTN Attention Explorer", page_icon=":material/movie:", layout="wide")
    from ui.state import start_session_reaper

    start_session_reaper()  # closed sessions' memory is released once their reconnect window has passed


def guarded(render: Callable[[], None]) -> Callable[[], None]:
    """Run ``render``; a user error shows its message, anything unexpected a short error (logged in full)."""

    @functools.wraps(render)
    def wrapper() -> None:
        try:
            render()
        except vtn_core.VTNError as exc:
            st.error(md(exc))
        except Exception as exc:  # noqa: BLE001 - the user sees one line; the log keeps the traceback
            LOG.exception("unexpected error on a page")
            st.error(f"Something went wrong ({type(exc).__name__}: {md(str(exc)[:300])}). "
                     "Try other settings; the server log has the details.")

    return wrapper


def link(name: str, label: str | None = None) -> None:
    """A link to another page (when running under the app's navigation; plain text otherwise)."""
    path, title, icon = PAGES[name]
    try:
        st.page_link(path, label=label or title, icon=icon)
    except (st.errors.StreamlitAPIException, KeyError):
        st.markdown(f"{icon} {label or title}")
