"""Explanation views: saliency overlays of picked / top-K frames and the "Does the model rely on these frames?"
section. Computation is ``vtn_core.explain``'s (cached per session); this module only draws and asks."""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

import vtn_core
from ui import state
from ui.shared import SharedResults
from ui.views import CHART_CONFIG, md
from vtn_core.result import Result

MAX_EXPLANATIONS = 8
TOP_K = 4
# explanations shared between sessions (``ui.shared``): the demo's default view, opened by several people at once,
# is computed once; each holds its K source frames (~2.7 MB each at 720p) and the run's features
SHARED: SharedResults = SharedResults(max_entries=16)


def _store() -> OrderedDict:
    return st.session_state.setdefault("vtn_explanations", OrderedDict())


def _remember(key: str, value: Any) -> Any:
    store = _store()
    store[key] = value
    store.move_to_end(key)
    while len(store) > MAX_EXPLANATIONS:
        store.popitem(last=False)
    return value


def explanation(model: vtn_core.VTN, result: Result, video: Path, slots: list[int], method: str | None,
                faithfulness: bool, label: str = ""):
    """``explain_video`` for these slots/method (the run's frame count), with a progress bar; None after an
    ``st.error``. Features are extracted once per result and reused for every later question; an explanation
    another session already computed (or is computing) for the same files is shared (``SHARED``)."""
    from vtn_core.explain import explain_video

    base = state.result_key_for(result)
    key = repr((base, tuple(slots), method, faithfulness))
    store = _store()
    if key in store:
        store.move_to_end(key)
        return store[key]
    shared_key = (repr((state.result_key(model, video, result.num_frames), tuple(slots), method, faithfulness))
                  if state.shareable(model.metadata.get("path"), video) else None)
    features = store.get(repr((base, "features")))
    prefix = f"{md(label)}: " if label else ""
    bar = st.progress(0.0, text=f"{prefix}Preparing the explanation…")
    spans = {"probe": (0.0, 0.05), "backbone": (0.05, 0.4), "saliency": (0.4, 0.8), "faithfulness": (0.8, 1.0)}
    texts = {"probe": "Reading the video", "backbone": "Backbone features (cached for later questions)",
             "saliency": "Saliency: backbone passes with gradient", "faithfulness": "Deletion and insertion curves"}

    def report(stage: str, done: int, total: int) -> None:
        start, end = spans.get(stage, (0.0, 1.0))
        bar.progress(min(1.0, start + (end - start) * (done / total if total else 1.0)),
                     text=f"{prefix}{texts.get(stage, stage)}")

    def waiting() -> None:
        bar.progress(0.0, text=f"{prefix}Another session is computing this explanation; it is shared when done…")

    def compute():
        return explain_video(model, video, num_frames=result.num_frames, picked=slots,
                             methods=[method] if method else None, faithfulness=faithfulness,
                             features=features, progress=report)

    try:
        explained = SHARED.get_or_compute(shared_key, compute, waiting) if shared_key else compute()
    except vtn_core.VTNError as exc:
        st.error(f"{prefix}cannot explain this video: {md(exc)}")
        return None
    finally:
        bar.empty()
    _remember(repr((base, "features")), explained.features)
    return _remember(key, explained)


def saliency_controls(model: vtn_core.VTN, key: str) -> tuple[bool, str, float]:
    """Toggle, method and opacity for saliency overlays."""
    from vtn_core.saliency import METHOD_NAMES, available_methods

    methods = list(available_methods(model))
    show = st.toggle("Show saliency (which part of the frame)", value=True, key=f"{key}_show",
                     help="Grad-CAM++ / Grad-CAM of the video-level logit of the predicted class, taken back "
                          "through the temporal encoder into this frame's backbone; ViT backbones also offer "
                          "attention rollout. Grey hatching: the part of the frame the centre crop cut away.")
    columns = st.columns(2)
    method = columns[0].selectbox("Method", methods, format_func=lambda m: METHOD_NAMES.get(m, m), key=f"{key}_method",
                                  disabled=not show)
    opacity = columns[1].slider("Opacity", 0.0, 1.0, 0.5, 0.05, key=f"{key}_opacity", disabled=not show)
    return show, method, opacity


def overlay_of(explained, slot: int, method: str, opacity: float) -> np.ndarray:
    from vtn_core.overlay import overlay_image

    k = explained.slots.index(slot)
    saliency = explained.saliency[method][k]
    return overlay_image(explained.frames[k], saliency.source_map, opacity, saliency.peak)


def picked_frame_saliency(model: vtn_core.VTN, result: Result, video: Path, selected: int, key: str,
                          stem: str) -> None:
    """The picked frame's overlay, the top-K frames' on request, and PNG downloads."""
    from vtn_core.overlay import png_bytes

    show, method, opacity = saliency_controls(model, key)
    if not show:
        return
    weights = result.attention()
    top = [int(s) for s in np.argsort(-weights, kind="stable")[:min(TOP_K, result.num_frames)]]
    with_top = st.checkbox(f"Also show the {len(top)} most attended frames' maps", value=False, key=f"{key}_top")
    slots = list(dict.fromkeys([selected] + (top if with_top else [])))
    explained = explanation(model, result, video, slots, method, faithfulness=False)
    if explained is None:
        return
    image = overlay_of(explained, selected, method, opacity)
    peak = explained.saliency[method][0].peak
    st.image(image, width=360, caption=f"{md(explained.target_label)} · frame {int(result.frame_indices[selected])} · "
                                       f"peak at {'—' if peak is None else f'({peak[0]}, {peak[1]})'} (source pixels)")
    st.download_button("Saliency map (PNG)", png_bytes(image), key=f"{key}_png", on_click="ignore",
                       file_name=f"{stem}_frame{int(result.frame_indices[selected])}_{method.replace('+', 'p')}.png",
                       mime="image/png", icon=":material/image:")
    if with_top:
        columns = st.columns(len(top))
        for column, slot in zip(columns, top):
            column.image(overlay_of(explained, slot, method, opacity), width="stretch",
                         caption=f"#{slot} · {result.timestamps_s[slot]:.2f} s · w {weights[slot]:.3f}")


def faithfulness_figure(explained, title: str = "Does the model rely on these frames?"):
    from vtn_core.faithfulness_plots import faithfulness_curves

    curves = explained.faithfulness
    return faithfulness_curves(curves.fractions, curves.deletion, curves.insertion, curves.deletion_auc,
                               curves.insertion_auc, curves.random_spread, label=explained.target_label, title=title)


def curves_downloads(explained, key: str, stem: str) -> None:
    """CSV and JSON of the curves."""
    import pandas as pd

    curves = explained.faithfulness
    columns = st.columns(2)
    columns[0].download_button("Curves CSV", pd.DataFrame(curves.rows()).to_csv(index=False).encode(),
                               file_name=f"{stem}_faithfulness.csv", mime="text/csv", key=f"{key}_csv",
                               on_click="ignore", icon=":material/table:", width="stretch")
    columns[1].download_button("Curves JSON", json.dumps(curves.to_json_dict(), indent=1).encode(),
                               file_name=f"{stem}_faithfulness.json", mime="application/json", key=f"{key}_json",
                               on_click="ignore", icon=":material/data_object:", width="stretch")


def faithfulness_section(model: vtn_core.VTN, result: Result, video: Path, key: str, stem: str,
                         label: str = "", heading: bool = True):
    """Deletion/insertion curves, their AUCs and a one-line plain reading; returns the figure (or None)."""
    if heading:
        st.subheader("Does the model rely on these frames?")
        st.caption("Frames are removed from (deletion) or added back to (insertion) the temporal encoder in order "
                   "of [CLS] attention, of a gradient attribution, and at random (5 seeds, band ±1 std); the line is "
                   "the predicted class's probability. Areas under the curves are normalised to [0, 1].")
    explained = explanation(model, result, video, [int(np.argmax(result.attention()))], None, faithfulness=True,
                            label=label)
    if explained is None or explained.faithfulness is None:
        return None
    curves = explained.faithfulness
    tiles = st.columns(3)
    tiles[0].metric("Deletion AUC · attention", f"{curves.deletion_auc['attention']:.2f}",
                    delta=f"{curves.deletion_auc['attention'] - curves.deletion_auc['random']:+.2f} vs random",
                    delta_color="inverse", help="Lower is more faithful: the prediction falls as soon as the most "
                                                "attended frames are gone.")
    tiles[1].metric("Insertion AUC · attention", f"{curves.insertion_auc['attention']:.2f}",
                    delta=f"{curves.insertion_auc['attention'] - curves.insertion_auc['random']:+.2f} vs random",
                    help="Higher is more faithful: the most attended frames alone restore the prediction.")
    tiles[2].metric("Empty → full", f"{curves.empty_probability:.0%} → {curves.full_probability:.0%}",
                    help="The predicted class's probability with no frame at all and with every frame.")
    st.markdown(f"**{md(curves.reading())}**")
    figure = faithfulness_figure(explained, title=f"{label} · deletion and insertion" if label else
                                 "Deletion and insertion curves")
    st.plotly_chart(figure, key=f"{key}_chart", config=CHART_CONFIG, theme=None)
    curves_downloads(explained, key, stem)
    return figure
