"""Compare: two checkpoints on one video — side by side, overlaid on one time axis, and how far they agree."""
from __future__ import annotations


import numpy as np
import pandas as pd
import streamlit as st

from ui import catalog, exports, page, runner, views, widgets
from vtn_core import plots, safe_text
from vtn_core.compare import Agreement, compare_results
from vtn_core.result import Result


def agreement_tiles(agreement: Agreement) -> None:
    """Same top-1, top-5 overlap, overlap of the most attended frames, peak distance, Jensen–Shannon divergence."""
    overlap = "n/a" if np.isnan(agreement.attended_overlap) else f"{agreement.attended_overlap:.0%}"
    distance = "n/a" if np.isnan(agreement.peak_distance_s) else f"{agreement.peak_distance_s:.2f} s"
    k = agreement.top_k
    tiles = [("Same top-1", "Yes" if agreement.same_top1 else "No", f"A: {views.md(agreement.top1_a)} · B: {views.md(agreement.top1_b)}"),
             ("Top-5 overlap", f"{agreement.top5_overlap:.0%}", "Share of A's top-5 classes also in B's top-5"),
             (f"Top-{k} frames shared", overlap, f"Share of the {k} most attended frames (top 10%) the two models "
                                                 "have in common: 100% = the same moments, 0% = none"),
             ("Peak distance", distance, "Time between the two models' most attended frames; n/a when one "
                                         "attention is flat (uniform attention has no peak)"),
             ("JS divergence", f"{agreement.js_divergence:.3f}", "Jensen–Shannon divergence of the two attention "
                                                                  "distributions in bits: 0 = identical, 1 = disjoint")]
    for column, (label, value, help_text) in zip(st.columns(len(tiles)), tiles):
        column.metric(label, value, help=help_text)


def aligned_table(agreement: Agreement, names: tuple[str, str]) -> pd.DataFrame:
    """The two attention curves on the shared time axis (the comparison CSV)."""
    return pd.DataFrame({"time_s": np.round(agreement.times, 6), f"{names[0]}": agreement.weights_a,
                         f"{names[1]}": agreement.weights_b})


def side(result: Result, label: str, layer: int | None, head: int | None, event, zmax: float, key: str) -> None:
    """One model's column: its top-k and its strip (same colour scale as the other side)."""
    st.markdown(f"#### {label}: {views.md(result.checkpoint.get('name'))}")
    st.caption(f"{result.checkpoint.get('backbone')} · {result.checkpoint.get('attention')} attention · "
               f"predicts **{views.md(result.predicted_label)}** ({result.top_k(1)[0][1]:.0%})")
    views.top_k_chart(result, key=f"{key}_topk", title="Top-5")
    layer = None if layer is None else min(layer, result.num_layers - 1)
    head = None if head is None else min(head, result.num_heads - 1)
    views.attention_strip(result, layer, head, event, key=f"{key}_strip", zmax=zmax, interactive=False, max_thumbnails=8,
                          title=f"[CLS] attention · {views.layer_head_text(layer, head)}")


def compare() -> None:
    st.title("Compare two models")
    st.markdown("Two checkpoints on **the same clip**: do they predict the same class, and do they look at the "
                "same moments? A lead's view of two training runs or backbones.")
    device = widgets.device_picker("compare_device", where=st.sidebar.container())
    st.sidebar.subheader("Models")
    count = len(catalog.bundled_checkpoints())
    first = widgets.checkpoint_picker("compare_a", device, label="Model A", default=0)
    second = widgets.checkpoint_picker("compare_b", device, label="Model B", default=1 if count > 1 else 0)
    st.sidebar.subheader("Video")
    video = widgets.video_picker("compare_video")
    if count == 0 and first is None:
        st.info("No bundled model yet: upload checkpoints in the sidebar.")
        return
    if first is None or second is None or video is None:
        return
    model_a = runner.open_model(first.path, first.name, None, device)
    model_b = runner.open_model(second.path, second.name, None, device)
    info = runner.open_video(video.path, video.name)
    if model_a is None or model_b is None or info is None:
        return
    st.sidebar.subheader("Analysis")
    default_frames = min(model_a.config.eval_num_frames, model_b.config.eval_num_frames)
    frames = widgets.frames_picker(info.num_frames, default_frames, key="compare_frames")
    result_a = runner.analyse(model_a, video.path, frames, label="Model A", video_name=video.name)
    result_b = runner.analyse(model_b, video.path, frames, label="Model B", video_name=video.name)
    if result_a is None or result_b is None:
        return
    layer, head = widgets.layer_head_picker(max(result_a.num_layers, result_b.num_layers),
                                            max(result_a.num_heads, result_b.num_heads), key="compare")
    agreement = compare_results(result_a, result_b, layer, head)
    event = views.event_times(result_a, video.event)

    st.caption(f"Clip: {views.md(video.name)} · {frames} frames sampled"
               + (f" · labelled “{views.md(video.label)}”" if video.label else ""))
    agreement_tiles(agreement)
    names = (f"A: {safe_text.plotly(first.name)}", f"B: {safe_text.plotly(second.name)}")
    overlay = plots.overlay_strips({names[0]: (agreement.times, agreement.weights_a),
                                    names[1]: (agreement.times, agreement.weights_b)}, event_times=event,
                                   title="Both models' attention on one time axis")
    st.plotly_chart(overlay, key="compare_overlay", config=views.CHART_CONFIG, theme=None)
    zmax = float(max(agreement.weights_a.max(initial=0), agreement.weights_b.max(initial=0)))
    left, right = st.columns(2, gap="large")
    with left:
        side(result_a, "A", layer, head, event, zmax, "compare_a")
    with right:
        side(result_b, "B", layer, head, event, zmax, "compare_b")

    st.subheader("Export")
    stem = exports.slug(f"compare_{video.name}")
    figures = {"Overlay": overlay,
               "Model A strip": plots.attention_strip(result_a.attention(), result_a.timestamps_s,
                                                      result_a.frame_indices, result_a.thumbnails, event_times=event),
               "Model B strip": plots.attention_strip(result_b.attention(), result_b.timestamps_s,
                                                      result_b.frame_indices, result_b.thumbnails, event_times=event)}
    extra = {"comparison": {"model_a": result_a.checkpoint, "model_b": result_b.checkpoint,
                            "layer": layer, "head": head, **agreement.to_dict()},
             "model_b_result": result_b.to_json_dict()}
    exports.export_bar(result_a, figures, key="compare_export", stem=stem, extra_json=extra)
    st.download_button("Aligned attention CSV (A and B)", aligned_table(agreement, names).to_csv(index=False).encode(),
                       file_name=f"{stem}_aligned.csv", mime="text/csv", key="compare_aligned_csv", on_click="ignore",
                       icon=":material/table:")


page.configure("Compare")
page.guarded(compare)()
