"""Checkpoints: what each bundled or uploaded checkpoint is (format, backbone, sizes, classes, attention,
training history), and uploading a new one with validation."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from ui import catalog, inspect, page, state, uploads, views, widgets
from vtn_core import limits, plots, safe_text


def upload_section(device: str) -> None:
    """Upload a checkpoint: stored under a generated name, opened to validate, kept for this session."""
    st.subheader("Upload a checkpoint")
    st.caption("A `.safetensors` file saved by this app, or an official VTN `.pyth`/`.pth` (read weights-only: "
               "files holding arbitrary Python objects are refused). It stays for this session only.")
    file = st.file_uploader("Checkpoint file", type=list(uploads.CHECKPOINT_TYPES), key="checkpoints_upload")
    if file is None:
        return
    stored = widgets.handle_checkpoint_upload(file, device)
    if stored is not None:
        st.success(f"{views.md(stored.display_name)} is a valid VTN checkpoint: it is now listed below and can be "
                   "chosen on every page (“Uploaded: …”).")


def catalog_rows() -> list[tuple[str, Path, str]]:
    """(display name, path, origin) of every bundled and uploaded checkpoint."""
    rows = [(path.name, path, "bundled") for path in catalog.bundled_checkpoints()]
    rows += [(f"{s.display_name} ({s.path.stem[-6:]})", s.path, "uploaded")
             for s in widgets.session_uploads("checkpoint").values() if s.path.is_file()]
    return rows


def checkpoints() -> None:
    st.title("Checkpoints")
    st.markdown("Every model the app can use: what it is, how big, what it predicts and how it was trained.")
    device = widgets.device_picker("checkpoints_device")
    listing = st.container()
    upload_section(device)  # drawn below the listing, handled first so a new upload is listed at once
    with listing:
        listing_section(device)


def listing_section(device: str) -> None:
    """The table of every checkpoint and the details of one."""
    rows = catalog_rows()
    if not rows:
        st.info("No bundled checkpoints yet (assets/models is empty). Upload one below.")
    table, models = [], {}
    for name, path, origin in rows:
        try:
            model = state.load_model(path, device=device)
            row = inspect.summary(model, name, origin)
        except Exception as exc:  # noqa: BLE001 - a broken file is listed with its error, not fatal
            table.append({"checkpoint": name, "origin": origin, "format": f"unreadable: {safe_text.truncate(exc, 300)}"})
            continue
        models[name] = model
        table.append(row)
    if table:
        st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
    if models:
        chosen = st.selectbox("Details of", list(models), key="checkpoints_detail")
        details(chosen, models[chosen])


def class_list(names: list[str]) -> str:
    """The first ``MAX_DISPLAY_ITEMS`` class names as escaped Markdown (each cut for display)."""
    shown = ", ".join(views.md(name, limits.MAX_DISPLAY_CHARS) for name in names[:limits.MAX_DISPLAY_ITEMS])
    more = len(names) - limits.MAX_DISPLAY_ITEMS
    return shown + (f" … and {more} more" if more > 0 else "")


def details(name: str, model) -> None:
    """Classes, architecture, provenance and the training history of one checkpoint."""
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.markdown(f"**Classes ({len(model.class_names)})**")
        st.markdown(class_list(model.class_names))
        st.markdown("**Architecture**")
        st.json(inspect.architecture(model), expanded=False)
    with right:
        st.markdown("**Provenance**")
        info = inspect.provenance(model)
        if info:
            st.json(info, expanded=False)
        else:
            st.caption("The file records no provenance.")
        for warning in model.metadata.get("warnings") or []:
            st.warning(views.md(warning, 300))
    history = model.metadata.get("history")
    if isinstance(history, list) and history:
        st.plotly_chart(plots.training_curves({name: history}, title=f"{safe_text.plotly(name)}: training history"),
                        key="checkpoints_curves", config=views.CHART_CONFIG, theme=None)
    else:
        st.caption("No training history recorded in this file.")


page.configure("Checkpoints")
page.guarded(checkpoints)()
