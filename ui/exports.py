"""Download buttons for a results view: attention CSV, full JSON, figures as standalone HTML, and the
attention-burned mp4 (rendered only when its button is pressed, then kept for this session)."""
from __future__ import annotations

import re
import uuid
from functools import partial
from pathlib import Path
from typing import Any, Callable

import plotly.graph_objects as go
import streamlit as st

import vtn_core
from ui import state
from ui.views import md
from vtn_core import json_safe
from vtn_core.export import attention_video, figures_html
from vtn_core.result import Result


def slug(text: str) -> str:
    """A safe file-name stem for downloads."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(text).stem).strip("_")[:60] or "result"


def _html_bytes(figures: dict[str, go.Figure], title: str) -> bytes:
    return figures_html(figures, title=title).encode()


def _json_bytes(payload: Callable[[], dict[str, Any]]) -> bytes:
    return json_safe.dumps(payload(), indent=1)[0].encode()


def export_bar(result: Result, figures: dict[str, go.Figure], key: str, stem: str,
               extra_json: dict[str, Any] | None = None) -> None:
    """CSV, JSON and HTML downloads in one row (JSON and HTML are built when clicked)."""
    columns = st.columns(3)
    columns[0].download_button("Attention CSV", result.attention_table().to_csv(index=False).encode(),
                               file_name=f"{stem}_attention.csv", mime="text/csv", key=f"{key}_csv",
                               on_click="ignore", icon=":material/table:", width="stretch")

    def payload() -> dict[str, Any]:
        document = result.to_json_dict()
        if extra_json:
            document.update(extra_json)
        return document

    columns[1].download_button("Result JSON", partial(_json_bytes, payload), file_name=f"{stem}_result.json",
                               mime="application/json", key=f"{key}_json", on_click="ignore",
                               icon=":material/data_object:", width="stretch")
    columns[2].download_button("Figures (HTML)", partial(_html_bytes, figures, f"VTN attention · {stem}"),
                               file_name=f"{stem}_figures.html", mime="text/html", key=f"{key}_html",
                               on_click="ignore", icon=":material/bar_chart:", width="stretch",
                               help="One self-contained page with every figure; works offline.")


def video_export(result: Result, video: Path, weights: Any, event: tuple[float, float] | None, key: str,
                 stem: str) -> None:
    """A button that renders the video with the attention curve and a moving cursor, then offers it."""
    store: dict[str, str] = st.session_state.setdefault("vtn_rendered_videos", {})
    render_key = repr((key, state.result_key_for(result), [round(float(w), 6) for w in weights], event))
    rendered = store.get(render_key)
    if rendered and not Path(rendered).is_file():
        rendered = None
    if rendered is None:
        if not st.button("Render video with attention (mp4)", key=f"{key}_render", icon=":material/movie:",
                         help="The clip at 270p with the attention curve and a moving cursor burned in."):
            return
        if not video.is_file():
            st.error("The video file is gone (the session's uploads were cleared); choose it again.")
            return
        bar = st.progress(0.0, text="Rendering frames…")
        out = state.session_files().directory / f"render-{uuid.uuid4().hex}.mp4"
        try:
            attention_video(video, result.timestamps_s, weights, out, event_times=event,
                            progress=lambda done, total: bar.progress(min(1.0, done / total),
                                                                      text=f"Rendering frames {done}/{total}"))
        except vtn_core.VTNError as exc:
            st.error(f"Could not render the video: {md(exc)}")
            return
        finally:
            bar.empty()
        rendered = store[render_key] = str(out)
    st.video(rendered)
    st.download_button("Download mp4", Path(rendered).read_bytes(), file_name=f"{stem}_attention.mp4",
                       mime="video/mp4", key=f"{key}_mp4", on_click="ignore", icon=":material/download:")
