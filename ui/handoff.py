"""Hand a video and a checkpoint from one page (Corpus) to Explore, through ``st.session_state`` (server-side:
a URL can never name a file to open). Explore shows where they came from and a way back to its own pickers."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from ui import widgets
from ui.views import md

KEY = "vtn_handoff"
EXPLORE = "app.py"


@dataclass(frozen=True)
class Handoff:
    """What Explore should open: ``source`` says where it came from (e.g. "run r1, row 17")."""

    video: Path
    checkpoint: Path
    source: str
    label: str | None = None


def send(handoff: Handoff) -> None:
    """Store the hand-over and switch to Explore."""
    st.session_state[KEY] = handoff
    st.switch_page(EXPLORE)


def received(where: Any = None) -> tuple[widgets.CheckpointChoice, widgets.VideoChoice] | None:
    """The checkpoint and video handed to Explore, with a note and a 'back' button in ``where``; None when
    nothing was handed over (or the files are gone: then an error box, and the pickers return)."""
    handoff = st.session_state.get(KEY)
    if not isinstance(handoff, Handoff):
        return None
    where = where or st.sidebar
    missing = [str(p) for p in (handoff.video, handoff.checkpoint) if not Path(p).is_file()]
    if missing:
        st.session_state.pop(KEY, None)
        st.error(f"Cannot open what the Corpus page handed over: {md(', '.join(missing))} no longer exists.")
        return None
    where.subheader("Opened from Corpus")
    where.caption(f"{md(handoff.source)}: **{md(handoff.video.name)}** with **{md(handoff.checkpoint.name)}**")
    if where.button("Back to the bundled clips and models", key="handoff_clear"):
        st.session_state.pop(KEY, None)
        st.rerun()
    return (widgets.CheckpointChoice(handoff.checkpoint, handoff.checkpoint.name),
            widgets.VideoChoice(path=handoff.video, name=handoff.video.name, label=handoff.label))
