"""Ablation: learned vs uniform attention — training curves, strips on one clip, localization, and the
what-if of running a learned model with uniform attention."""
from __future__ import annotations

import html

import streamlit as st

from ui import catalog, explain_views, exports, page, runner, views, widgets
from vtn_core import plots, safe_text
from vtn_core.compare import prediction_change
from vtn_core.result import Result


def pair_defaults() -> tuple[int, int]:
    """Indices of the learned/uniform twins among the bundled checkpoints (else the first two)."""
    bundled = catalog.bundled_checkpoints()
    pair = catalog.twin_pair(bundled)
    if pair is not None:
        return bundled.index(pair[0]), bundled.index(pair[1])
    return 0, 1 if len(bundled) > 1 else 0


def curves_section(models: dict[str, object]) -> object | None:
    """Per-epoch training/validation curves from each checkpoint's metadata."""
    st.subheader("Training and validation, per epoch")
    histories = {name: model.metadata.get("history") for name, model in models.items()}
    histories = {name: rows for name, rows in histories.items() if isinstance(rows, list) and rows}
    if not histories:
        st.info("These checkpoints carry no training history (official files and hand-made ones have none).")
        return None
    missing = [name for name in models if name not in histories]
    if missing:
        st.caption(f"No training history in {', '.join(missing)}.")
    figure = plots.training_curves(histories, title="Loss, accuracy and localization (train dashed, validation solid)")
    st.plotly_chart(figure, key="ablation_curves", config=views.CHART_CONFIG, theme=None)
    return figure


def localization_section(results: dict[str, Result], event: tuple[int, int] | None) -> object | None:
    """Share of attention inside the ground-truth event, per layer, against the event's share of frames."""
    st.subheader("Localization: attention on the ground-truth event")
    if event is None:
        st.info("The event of this clip is unknown: pick a bundled demo clip to see localization.")
        return None
    masses = {name: [r.statistics(layer=n, event=event)["event_mass"] for n in range(r.num_layers)]
              for name, r in results.items()}
    first = next(iter(results.values()))
    baseline = float(((first.frame_indices >= event[0]) & (first.frame_indices <= event[1])).mean())
    figure = plots.localization_bars(masses, baseline)
    st.plotly_chart(figure, key="ablation_localization", config=views.CHART_CONFIG, theme=None)
    st.caption("Uniform attention puts exactly the event's share of frames on it (the dashed line); "
               "a model that localizes the moment that defines the class rises above it.")
    return figure


def faithfulness_section(results: dict[str, Result], models: dict[str, object], video) -> dict[str, object]:
    """Deletion/insertion curves of each twin on this clip, side by side; returns the figures by name."""
    st.subheader("Does each model rely on the frames it attends to?")
    st.caption("Frames removed from (deletion) or added back to (insertion) the temporal encoder in order of each "
               "model's [CLS] attention, of a gradient attribution, and at random. A faithful attention's deletion "
               "curve falls first; uniform attention orders nothing, so it can do no better than random.")
    figures = {}
    for number, (name, result) in enumerate(results.items()):
        st.markdown(f"**{views.md(html.unescape(name))}**")
        figure = explain_views.faithfulness_section(models[name], result, video.path, key=f"ablation_faith{number}",
                                                    stem=exports.slug(f"ablation_{video.name}_{number}"),
                                                    label=html.unescape(name), heading=False)
        if figure is not None:
            figures[f"Faithfulness · {name}"] = figure
    return figures


def what_if_section(path, name: str, device: str, video, frames: int, event) -> tuple[object, dict] | None:
    """One learned model re-run with uniform attention: how its predictions change."""
    st.subheader("What if attention were uniform?")
    learned = runner.open_model(path, name, "learned", device)
    uniform = runner.open_model(path, name, "uniform", device)
    if learned is None or uniform is None:
        return None
    before = runner.analyse(learned, video.path, frames, label=f"{name} (learned)", video_name=video.name)
    after = runner.analyse(uniform, video.path, frames, label=f"{name} (uniform what-if)", video_name=video.name)
    if before is None or after is None:
        return None
    rows = prediction_change(before, after)
    top_before, top_after = before.top_k(1)[0], after.top_k(1)[0]
    same = top_before[0] == top_after[0]
    st.markdown(f"**{views.md(name)}** predicts **{views.md(top_before[0])}** ({top_before[1]:.0%}) with its learned attention and "
                f"**{views.md(top_after[0])}** ({top_after[1]:.0%}) when every frame is weighted equally — "
                + ("the decision holds." if same else "**the decision changes**."))
    figure = plots.prediction_change_bars(rows, before="learned attention", after="uniform attention",
                                          title=f"{safe_text.plotly(name)}: class probabilities, learned vs uniform attention")
    st.plotly_chart(figure, key="ablation_whatif", config=views.CHART_CONFIG, theme=None)
    table = [{"class": r["class"], "learned": f"{r['before']:.1%}", "uniform": f"{r['after']:.1%}",
              "change": f"{r['change']:+.1%}"} for r in rows]
    st.dataframe(table, hide_index=True, width="stretch")
    return figure, {"what_if": {"checkpoint": name, "rows": rows, "same_top1": same}}


def ablation() -> None:
    st.title("Ablation: learned vs uniform attention")
    st.markdown("The paper's ablation: twins trained identically except that one's temporal attention is forced "
                "to be **uniform**. Does learned attention train better, and does it find the moment that matters?")
    device = widgets.device_picker("ablation_device", where=st.sidebar.container())
    st.sidebar.subheader("Models")
    first_index, second_index = pair_defaults()
    first = widgets.checkpoint_picker("ablation_a", device, label="Learned model", default=first_index)
    second = widgets.checkpoint_picker("ablation_b", device, label="Uniform twin (or any model)", default=second_index)
    st.sidebar.subheader("Video")
    video = widgets.video_picker("ablation_video")
    if not catalog.bundled_checkpoints() and first is None:
        st.info("No bundled model yet: upload checkpoints in the sidebar.")
        return
    if first is None or second is None:
        return
    model_a = runner.open_model(first.path, first.name, None, device)
    model_b = runner.open_model(second.path, second.name, None, device)
    if model_a is None or model_b is None:
        return
    names = {f"{safe_text.plotly(first.name)} ({model_a.attention_mode})": model_a,
             f"{safe_text.plotly(second.name)} ({model_b.attention_mode})": model_b}
    if first.path == second.path:
        names = {safe_text.plotly(first.name): model_a}
    curves = curves_section(names)
    if video is None:
        return
    info = runner.open_video(video.path, video.name)
    if info is None:
        return
    st.sidebar.subheader("Analysis")
    frames = widgets.frames_picker(info.num_frames,
                                   min(model_a.config.eval_num_frames, model_b.config.eval_num_frames),
                                   key="ablation_frames")
    results: dict[str, Result] = {}
    for name, model in names.items():
        result = runner.analyse(model, video.path, frames, label=name, video_name=video.name)
        if result is None:
            return
        results[name] = result
    event = views.event_times(next(iter(results.values())), video.event)
    st.subheader("The same clip, one strip above the other")
    st.caption(f"Clip: {views.md(video.name)} · mean over layers and heads · one colour scale")
    zmax = max(float(r.attention().max()) for r in results.values())
    for number, (name, result) in enumerate(results.items()):
        views.attention_strip(result, None, None, event, key=f"ablation_strip{number}", zmax=zmax,
                                             interactive=False, title=f"{name} · predicts {safe_text.plotly(result.predicted_label)} "
                                                                      f"({result.top_k(1)[0][1]:.0%})")
    localization = localization_section(results, video.event)
    faithfulness = faithfulness_section(results, names, video)
    learned_choice = first if model_a.attention_mode == "learned" else second
    what_if = what_if_section(learned_choice.path, learned_choice.name, device, video, frames, video.event)

    st.subheader("Export")
    figures = {name: plots.attention_strip(r.attention(), r.timestamps_s, r.frame_indices, r.thumbnails,
                                           event_times=event, zmax=zmax, title=name) for name, r in results.items()}
    if curves is not None:
        figures["Training curves"] = curves
    if localization is not None:
        figures["Localization"] = localization
    figures.update(faithfulness)
    extra: dict = {"ablation": {name: r.to_json_dict() for name, r in results.items()}}
    if what_if is not None:
        figures["What-if"] = what_if[0]
        extra.update(what_if[1])
    first_result = next(iter(results.values()))
    exports.export_bar(first_result, figures, key="ablation_export", stem=exports.slug(f"ablation_{video.name}"),
                       extra_json=extra)


page.configure("Ablation")
page.guarded(ablation)()
