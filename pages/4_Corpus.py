"""Corpus: a batch run's results — sort and filter every video, accuracy and confusion, where [CLS] attention
looks per class, confidence against attention entropy, two runs compared, any row opened in Explore."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from ui import corpus, handoff, page, views
from vtn_core.corpus import plots
from vtn_core.corpus.queries import OUTCOMES, SORTABLE, Filters
from vtn_core.corpus.runs import RunInfo, find_runs, open_run, runs_dir

TYPE_PATH = "Type a path…"
PAGE_ROWS = 200
NO_SECOND = "(none)"


def run_picker(runs: list[RunInfo], label: str, key: str, allow_none: bool = False) -> RunInfo | None:
    """A run found under the runs folder, or one typed in; ``st.error`` and None when it is not a run."""
    names = [f"{run.path.relative_to(runs_dir()) if run.path.is_relative_to(runs_dir()) else run.path}"
             for run in runs]
    options = ([NO_SECOND] if allow_none else []) + names + [TYPE_PATH]
    choice = st.sidebar.selectbox(label, options, key=key,
                                  help=f"Run folders written by `python -m vtn_core batch` under {runs_dir()} "
                                       "($VTN_RUNS_DIR), or any run folder by path.")
    if choice == NO_SECOND:
        return None
    if choice != TYPE_PATH:
        return runs[names.index(choice)]
    typed = st.sidebar.text_input("Run folder", key=f"{key}_path", placeholder="/path/to/run")
    if not typed:
        st.info("Type the path of a run folder in the sidebar (it holds results.parquet and run.json).")
        return None
    try:
        return open_run(typed)
    except Exception as exc:  # noqa: BLE001 - a VTNError or an OS error: one message, the page goes on
        st.error(f"Not a run: {views.md(exc)}")
        return None


def header(run: RunInfo, info: dict) -> None:
    document = run.document
    checkpoint = (document.get("checkpoint") or {}).get("name") or "unknown checkpoint"
    settings = document.get("settings") or {}
    engine = document.get("engine") or {}
    st.caption(f"{views.md(run.path)} · {views.md(checkpoint)} · {settings.get('num_frames', '?')} frames per video"
               f" · {views.md((document.get('data') or {}).get('format', '?'))} input · "
               f"{views.md(engine.get('name', '?'))} {views.md(engine.get('version', ''))}, "
               f"{engine.get('workers', '?')} workers · status {views.md(document.get('status', 'unknown'))}")
    accuracy = info["accuracy"]
    tiles = [("Videos", f"{info['videos']:,}", None), ("Failed", f"{info['failed']:,}", "Rows with an error"),
             ("Accuracy", "n/a" if accuracy is None else f"{accuracy:.1%}",
              f"{info['correct']:,} of {info['scored']:,} labelled videos that ran"),
             ("Mean confidence", "n/a" if info["mean_prob"] is None else f"{info['mean_prob']:.0%}", None),
             ("Mean entropy", "n/a" if info["mean_entropy"] is None else f"{info['mean_entropy']:.2f}",
              "Normalised attention entropy: 1 = uniform over the sampled frames")]
    for column, (name, value, help_text) in zip(st.columns(len(tiles)), tiles):
        column.metric(name, value, help=help_text)


def _range(label: str, key: str, help_text: str) -> tuple[float, float] | None:
    low, high = st.slider(label, 0.0, 1.0, (0.0, 1.0), 0.01, key=key, help=help_text)
    return None if (low, high) == (0.0, 1.0) else (low, high)


def filters_ui(info: dict) -> Filters:
    """The filter controls; returns the filters they describe."""
    with st.expander("Filters", expanded=True):
        first = st.columns([3, 2, 3])
        classes = first[0].multiselect("Class", info["classes"], key="corpus_classes",
                                       help="True class (the prediction for unlabelled videos)")
        outcome = first[1].selectbox("Outcome", OUTCOMES, key="corpus_outcome", format_func=str.capitalize)
        search = first[2].text_input("Path contains", key="corpus_search", max_chars=200)
        second = st.columns(3)
        with second[0]:
            prob = _range("Confidence", "corpus_prob", "Top-1 probability")
        with second[1]:
            entropy = _range("Attention entropy", "corpus_entropy", "1 = uniform attention, near 0 = one frame")
        with second[2]:
            localization = _range("Localization", "corpus_localization",
                                  "Share of first-layer attention inside the event (labelled events only)") \
                if info["has_localization"] else None
    return Filters(classes=tuple(classes), outcome=outcome, prob=prob, entropy=entropy, localization=localization,
                   search=search.strip())


def table_ui(run: RunInfo, filters: Filters) -> int | None:
    """The sorted, filtered table (one page); returns the row picked to open in Explore."""
    controls = st.columns([2, 1, 1])
    sort = controls[0].selectbox("Sort by", SORTABLE, key="corpus_sort",
                                 format_func=lambda c: {"row": "row (input order)", "prob": "confidence"}.get(c, c))
    descending = controls[1].toggle("Descending", key="corpus_desc")
    path, stamp = corpus.key(run)
    total, _ = corpus.page_of_rows(path, stamp, filters, sort, descending, 1, 0)
    pages = max(1, -(-total // PAGE_ROWS))
    number = controls[2].number_input("Page", 1, pages, 1, key="corpus_page", help=f"{pages} pages of {PAGE_ROWS}")
    _, frame = corpus.page_of_rows(path, stamp, filters, sort, descending, PAGE_ROWS, (number - 1) * PAGE_ROWS)
    st.caption(f"{total:,} videos match · showing {len(frame)} from {(number - 1) * PAGE_ROWS + 1 if total else 0:,}"
               " · select a row to open it in Explore")
    shown = frame.assign(video=frame["path"].map(lambda p: Path(str(p)).name)).drop(columns=["path"])
    shown = shown[["row", "video", "label", "predicted", "prob", "correct", "entropy", "localization", "seconds",
                   "error"]]
    event = st.dataframe(shown, hide_index=True, width="stretch", height=360, key="corpus_table",
                         on_select="rerun", selection_mode="single-row",
                         column_config={"prob": st.column_config.ProgressColumn("confidence", min_value=0, max_value=1,
                                                                                format="percent"),
                                        "entropy": st.column_config.NumberColumn(format="%.3f"),
                                        "localization": st.column_config.NumberColumn(format="%.3f"),
                                        "seconds": st.column_config.NumberColumn(format="%.2f s")})
    rows = frame["row"].astype(int).tolist()
    selected = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if selected and selected[0] < len(rows):
        st.session_state["corpus_open_row"] = rows[selected[0]]
    if not rows:
        return None
    if st.session_state.get("corpus_open_row") not in rows:
        st.session_state["corpus_open_row"] = rows[0]
    names = dict(zip(rows, shown["video"]))
    return st.selectbox("Row to open", rows, key="corpus_open_row",
                        format_func=lambda r: f"row {r} · {names.get(r, '')}")


def open_in_explore(run: RunInfo, number: int | None) -> None:
    """Details of the picked row and the button that hands it to Explore with the run's checkpoint."""
    if number is None:
        return
    record = corpus.row(*corpus.key(run), number)
    if record is None:
        return
    name = Path(str(record["path"])).name
    if record.get("error"):
        st.warning(f"{views.md(name)} failed in this run: {views.md(record['error'])}")
    else:
        st.markdown(f"**{views.md(name)}** · true **{views.md(record.get('label') or '—')}** · predicted "
                    f"**{views.md(record['predicted'])}** ({record['prob']:.0%})")
    checkpoint = run.checkpoint
    problems = []
    if checkpoint is None or not checkpoint.is_file():
        problems.append(f"the run's checkpoint {views.md(checkpoint or '(not recorded)')} is not on this machine")
    if not Path(str(record["path"])).is_file():
        problems.append(f"the video {views.md(record['path'])} is not on this machine")
    if st.button("Open in Explore", key="corpus_open", type="primary", disabled=bool(problems),
                 help="Explore this video with the run's checkpoint"):
        handoff.send(handoff.Handoff(video=Path(str(record["path"])), checkpoint=checkpoint,
                                     source=f"run {run.name}, row {number}", label=record.get("label")))
    if problems:
        st.caption("Cannot open in Explore: " + "; ".join(problems) + ".")


def charts(run: RunInfo, filters: Filters) -> None:
    path, stamp = corpus.key(run)
    confusion_tab, profile_tab, scatter_tab = st.tabs(["Accuracy & confusion", "Attention by class",
                                                       "Confidence vs entropy"])
    with confusion_tab:
        classes, counts = corpus.confusion(path, stamp, filters)
        if not classes:
            st.info("No labelled video that ran matches the filters.")
        else:
            diagonal = np.trace(counts) / max(int(counts.sum()), 1)
            st.caption(f"Accuracy over the filtered, labelled videos: {diagonal:.1%} of {int(counts.sum()):,}")
            st.plotly_chart(plots.confusion_matrix(classes, counts), key="corpus_confusion",
                            config=views.CHART_CONFIG)
    with profile_tab:
        left, right = st.columns(2)
        by = left.radio("Group by", ["label", "predicted"], horizontal=True, key="corpus_profile_by",
                        format_func={"label": "true class", "predicted": "predicted class"}.get)
        bins = right.slider("Time bins", 5, 50, 20, key="corpus_profile_bins")
        centres, profiles, counts_by = corpus.profiles(path, stamp, filters, by, bins)
        if not profiles:
            st.info("No video that ran matches the filters.")
        else:
            st.caption("Each video's [CLS] attention (layer- and head-mean) on a 0–1 time axis, × its frame count "
                       "(1 = uniform), averaged per class. Filter on *Incorrect* to see where failures look.")
            st.plotly_chart(plots.class_profiles(centres, profiles, counts_by), key="corpus_profiles",
                            config=views.CHART_CONFIG)
    with scatter_tab:
        points = corpus.scatter(path, stamp, filters)
        if points.empty:
            st.info("No video that ran matches the filters.")
        else:
            st.caption(f"{len(points):,} videos (an even sample when more than 5,000 match).")
            st.plotly_chart(plots.confidence_vs_entropy(points), key="corpus_scatter", config=views.CHART_CONFIG)


def compare_ui(run: RunInfo, other: RunInfo) -> None:
    st.subheader("Two runs over the same videos")
    result = corpus.agreement(*corpus.key(run), *corpus.key(other))
    st.caption(f"This run vs **{views.md(other.path)}**, matched by video path; videos that failed in either run "
               "are left out.")
    tiles = [("Videos in both", f"{result.shared:,}", None),
             ("Only in one", f"{result.only_a:,} / {result.only_b:,}", "Only in this run / only in the other"),
             ("Agreement", "n/a" if result.agreement is None else f"{result.agreement:.1%}", "Same top-1 class"),
             ("Mean divergence", "n/a" if result.mean_divergence is None else f"{result.mean_divergence:.3f}",
              "Jensen–Shannon divergence of the two attention distributions, bits (0 = same, 1 = disjoint)")]
    for column, (name, value, help_text) in zip(st.columns(4), tiles):
        column.metric(name, value, help=help_text)
    if not result.shared:
        st.info("The two runs share no video that ran in both.")
        return
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Disagreements** ({len(result.disagreements):,} listed, largest divergence first)")
        st.dataframe(result.disagreements.assign(video=result.disagreements["path"].map(lambda p: Path(p).name))
                     [["video", "label", "predicted_a", "prob_a", "predicted_b", "prob_b", "js_divergence"]],
                     hide_index=True, width="stretch", height=300, key="corpus_disagreements")
    with right:
        st.plotly_chart(plots.divergence_histogram(result.divergence["js_divergence"].to_numpy()),
                        key="corpus_divergence", config=views.CHART_CONFIG)
    st.markdown("**Attention divergence per video** (largest first)")
    st.dataframe(result.divergence.assign(video=result.divergence["path"].map(lambda p: Path(p).name))
                 [["video", "label", "predicted_a", "predicted_b", "js_divergence"]],
                 hide_index=True, width="stretch", height=260, key="corpus_divergence_table")


def corpus_page() -> None:
    st.title("Corpus")
    st.markdown("A whole data set through one checkpoint (`python -m vtn_core batch`): which classes fail, where "
                "[CLS] attention looks on the failures, and which videos two checkpoints disagree on.")
    runs = find_runs()
    st.sidebar.subheader("Run")
    run = run_picker(runs, "Run", "corpus_run")
    if not runs and run is None:
        st.info(f"No run found under {views.md(runs_dir())}. Make one with `python -m vtn_core batch --checkpoint "
                f"CKPT --data DIR --out {views.md(runs_dir())}/NAME`, or type a run folder's path in the sidebar.")
        return
    if run is None:
        return
    info = corpus.overview(*corpus.key(run))
    header(run, info)
    filters = filters_ui(info)
    number = table_ui(run, filters)
    open_in_explore(run, number)
    charts(run, filters)
    st.sidebar.subheader("Compare with")
    others = [r for r in runs if r.path != run.path]
    other = run_picker(others, "Second run", "corpus_other", allow_none=True)
    if other is not None:
        compare_ui(run, other)


page.configure("Corpus")
page.guarded(corpus_page)()
