"""Presentation mode: developer chrome hidden, the best demo clip first, and a three-sentence story.

On with ``vtn-explorer app --present`` (``$VTN_PRESENT=1``; Streamlit's toolbar is then in viewer mode),
``?present=1`` in the URL, or the sidebar toggle (which hides the toolbar with CSS).
"""
from __future__ import annotations

import os

import streamlit as st

from ui import catalog, runner
from ui.views import md
from vtn_core.showcase import ClipScore, best_clip, score_clip

PRESENT_ENV = "VTN_PRESENT"
TOGGLE_KEY = "vtn_present"
CHOSEN_KEY = "vtn_present_clip_chosen"
HIDE_CHROME_CSS = ("<style>[data-testid='stToolbar'], [data-testid='stMainMenu'], [data-testid='stAppDeployButton'],"
                   " .stDeployButton {display: none !important;}</style>")


def requested() -> bool:
    """Presentation mode asked for by the command line or the URL."""
    return os.environ.get(PRESENT_ENV, "") not in ("", "0") or st.query_params.get("present") in ("1", "true")


def toggle() -> bool:
    """The sidebar switch (on by default when requested); hides the developer chrome while on."""
    if TOGGLE_KEY not in st.session_state:
        st.session_state[TOGGLE_KEY] = requested()
    on = st.sidebar.toggle("Presentation mode", key=TOGGLE_KEY,
                           help="For an audience: no developer menu, the clip that shows the model best, and a "
                                "short story above the strip.")
    if on:
        st.markdown(HIDE_CHROME_CSS, unsafe_allow_html=True)
    else:
        st.session_state.pop(CHOSEN_KEY, None)
    return on


def open_on_best_clip(video_key: str, device: str) -> ClipScore | None:
    """Once per presentation: make the clip where the first bundled (learned) model localizes its event best
    the selected video. Clips are analysed through the result cache, so Explore reuses the chosen one."""
    if st.session_state.get(CHOSEN_KEY):
        return None
    st.session_state[CHOSEN_KEY] = True
    checkpoints, demos = catalog.bundled_checkpoints(), [d for d in catalog.demo_videos() if d.event is not None]
    if not checkpoints or not demos:
        return None
    model = runner.open_model(checkpoints[0], checkpoints[0].name, None, device)
    if model is None:
        return None
    scores = []
    for demo in demos:
        info = runner.open_video(demo.path, demo.name)
        if info is None:
            continue
        frames = min(model.config.eval_num_frames, info.num_frames)
        result = runner.analyse(model, demo.path, frames, label=f"Choosing the clip: {demo.name}", video_name=demo.name)
        if result is not None:
            scores.append(score_clip(demo.name, result, demo.event, demo.label))
    best = best_clip(scores)
    if best is not None:
        st.session_state["vtn_active_video"] = best.name
        st.session_state.pop(video_key, None)  # the picker then opens on the active video
    return best


def story(learned_history: list | None, twin_history: list | None) -> None:
    """Three sentences above the strip: what VTN is, what the strip shows, what the uniform twin proves (with
    the twins' own recorded validation accuracy when their checkpoints carry it)."""
    learned_acc, twin_acc = _final_val_acc(learned_history), _final_val_acc(twin_history)
    if learned_acc is not None and twin_acc is not None:
        proof = (f"Its twin, trained identically but forced to spread attention evenly over the frames, reaches "
                 f"{twin_acc:.0%} validation accuracy against {learned_acc:.0%}: finding the moment is what makes "
                 "the model work.")
    else:
        proof = ("Its uniform twin, trained identically but forced to spread attention evenly over the frames, "
                 "shows what the model is worth without finding the moment (see Ablation).")
    st.info("A Video Transformer Network classifies a whole clip in one pass: a 2D backbone describes every sampled "
            "frame and one [CLS] token attends across all of them to decide. "
            "The strip below shows where that token looked — white is no attention, the darkest colour the peak — "
            "with the ground-truth moment that defines the class in green. " + md(proof), icon=":material/movie:")


def _final_val_acc(history: list | None) -> float | None:
    if not isinstance(history, list) or not history or not isinstance(history[-1], dict):
        return None
    value = history[-1].get("val_acc")
    return float(value) if isinstance(value, (int, float)) else None


def twin_histories(device: str) -> tuple[list | None, list | None]:
    """Training histories of the bundled learned model and its uniform twin (``None`` where missing)."""
    pair = catalog.twin_pair(catalog.bundled_checkpoints())
    if pair is None:
        return None, None
    histories = []
    for path in pair:
        model = runner.open_model(path, path.name, None, device)
        histories.append(model.metadata.get("history") if model is not None else None)
    return histories[0], histories[1]
