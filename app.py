"""VTN Attention Explorer — the entry point and its Explore page.

Explore opens on the first bundled demo video and the learned model and shows, without a click, what the
VTN predicts and which moments its [CLS] token attended to. The other pages (Compare, Ablation,
Checkpoints) are registered here in the navigation.
"""
from __future__ import annotations

import streamlit as st

from ui import catalog, explain_views, exports, handoff, page, present, runner, views, widgets
from vtn_core import plots


def sidebar_choices(presenting: bool = False) -> tuple[widgets.CheckpointChoice | None, widgets.VideoChoice | None, str]:
    """Checkpoint, video and device from the sidebar (device drawn last but read first); when presenting, the
    video opens on the demo clip that shows the learned model best."""
    model_box, video_box, compute_box = st.sidebar.container(), st.sidebar.container(), st.sidebar.container()
    device = widgets.device_picker("explore_device", where=compute_box)
    handed = handoff.received(where=model_box)  # a row opened from the Corpus page
    if handed is not None:
        return handed[0], handed[1], device
    model_box.subheader("Model")
    checkpoint = widgets.checkpoint_picker("explore_checkpoint", device, where=model_box)
    if presenting:
        present.open_on_best_clip("explore_video", device)
    video_box.subheader("Video")
    video = widgets.video_picker("explore_video", where=video_box)
    return checkpoint, video, device


def headline(result, video: widgets.VideoChoice) -> None:
    """The predicted class in large type, checked against the clip's label when it has one."""
    label, prob = result.top_k(1)[0]
    verdict = ""
    if video.label:
        verdict = (" · :material/check_circle: matches the clip's label" if label == video.label
                   else f" · :material/cancel: the clip is labelled “{views.md(video.label)}”")
    st.markdown(f"### Prediction: **{views.md(label)}** · {prob:.0%}")
    st.caption(f"{views.md(result.checkpoint.get('name'))} ({result.checkpoint.get('attention')} attention) on "
               f"{views.md(video.name)}{verdict}")


def explore() -> None:
    """The Explore page."""
    st.title("VTN Attention Explorer")
    st.markdown("A Video Transformer Network classifies a whole clip in one pass; its global **[CLS]** token "
                "attends over every sampled frame. The strip below shows **which moments drove the decision**.")
    links = st.columns(3)
    with links[0]:
        page.link("compare", "Compare two models on one clip")
    with links[1]:
        page.link("ablation", "Ablation: learned vs uniform attention")
    with links[2]:
        page.link("checkpoints", "Inspect or upload checkpoints")

    presenting = present.toggle()
    checkpoint, video, device = sidebar_choices(presenting)
    if not catalog.bundled_checkpoints() and checkpoint is None:
        st.info("No bundled model yet: upload a checkpoint in the sidebar, or train one with "
                "`python -m vtn_core train`.")
        return
    if checkpoint is None or video is None:
        return
    native = runner.open_model(checkpoint.path, checkpoint.name, None, device)
    if native is None:
        return
    st.sidebar.subheader("Analysis")
    attention = widgets.attention_picker(native.attention_mode, key="explore_attention")
    model = runner.open_model(checkpoint.path, checkpoint.name, attention, device)
    info = runner.open_video(video.path, video.name)
    if model is None or info is None:
        return
    frames = widgets.frames_picker(info.num_frames, model.config.eval_num_frames, key="explore_frames")
    result = runner.analyse(model, video.path, frames, video_name=video.name)
    if result is None:
        return
    layer, head = widgets.layer_head_picker(result.num_layers, result.num_heads, key="explore")
    show_result(result, video, layer, head, model=model,
                story=present.twin_histories(device) if presenting else None)


def show_result(result, video: widgets.VideoChoice, layer: int | None, head: int | None, model=None,
                story: tuple[list | None, list | None] | None = None) -> None:
    """Prediction, player, the attention strip with a picked frame (and its saliency when ``model`` is given),
    stats, grid, faithfulness and exports; ``story`` (the twins' histories) puts presentation mode's three
    sentences above the strip."""
    event = views.event_times(result, video.event)
    top, side = st.columns([3, 2], gap="large")
    with top:
        headline(result, video)
        stats = views.statistics(result, layer, head, video.event)
        views.top_k_chart(result, key="explore_topk")
    st.subheader("Where the [CLS] token looked")
    if story is not None:
        present.story(*story)
    if event is None and not video.uploaded and video.event is None:
        st.caption("No ground-truth event is known for this clip.")
    elif event is not None:
        st.caption("Green band: the ground-truth event of this clip.")
    selected = views.attention_strip(result, layer, head, event, key="explore_strip")
    with side:
        views.player(video.path, float(result.timestamps_s[selected]))
        views.notices(result)
    picked, table = st.columns([1, 1], gap="large")
    with picked:
        st.markdown("**Picked frame**")
        views.frame_viewer(result, video.path, selected, layer, head)
    with table:
        st.markdown("**Most attended frames**")
        views.top_frames_table(stats)
    stem = exports.slug(f"{video.name}_{result.checkpoint.get('name')}")
    faithfulness = explanation_sections(model, result, video, selected, stem) if model is not None else None
    st.subheader("Every layer and head")
    st.caption("One strip per attention head of each temporal layer (one colour scale): heads often specialise.")
    views.head_grid(result, key="explore_grid", event=event)
    st.subheader("Export")
    weights = result.attention(layer, head)
    figures = {"Top predictions": plots.top_k_bars(*zip(*result.top_k(5))),
               "Attention strip": plots.attention_strip(weights, result.timestamps_s, result.frame_indices,
                                                        result.thumbnails, event_times=event),
               "Every layer and head": plots.head_grid(result.cls_attention, result.timestamps_s, event_times=event)}
    if faithfulness is not None:
        figures["Does the model rely on these frames?"] = faithfulness
    exports.export_bar(result, figures, key="explore_export", stem=stem)
    exports.video_export(result, video.path, weights, event, key="explore_video_export", stem=stem)


def explanation_sections(model, result, video: widgets.VideoChoice, selected: int, stem: str):
    """Saliency of the picked (and top-K) frames, then the faithfulness curves; returns their figure."""
    st.subheader("Which part of the frame?")
    explain_views.picked_frame_saliency(model, result, video.path, selected, key="explore_saliency", stem=stem)
    return explain_views.faithfulness_section(model, result, video.path, key="explore_faith", stem=stem)


def main() -> None:
    page.configure("Explore")
    pages = [st.Page(page.guarded(explore), title="Explore", icon=":material/search:", default=True)]
    pages += [st.Page(path, title=title, icon=icon) for key, (path, title, icon) in page.PAGES.items()
              if key != "explore"]
    st.navigation(pages).run()


main()
