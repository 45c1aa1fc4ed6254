"""Cached access to batch runs for the Corpus page: every query goes to ``vtn_core.corpus`` (DuckDB over the
Parquet file) and is cached per (file, size, mtime, arguments), so a run that is still being written refreshes."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pandas as pd
import streamlit as st

from vtn_core.corpus.pairs import RunAgreement, compare_runs
from vtn_core.corpus.queries import Filters, RunQueries
from vtn_core.corpus.runs import RunInfo


@contextmanager
def _queries(path: str) -> Iterator[RunQueries]:
    """The run's queries, closed afterwards."""
    q = RunQueries(path)
    try:
        yield q
    finally:
        q.close()


@st.cache_data(max_entries=32, show_spinner=False)
def overview(path: str, stamp: tuple[int, int]) -> dict[str, Any]:
    with _queries(path) as q:
        return {**q.overview(), "classes": q.class_names(), "has_localization": q.has_localization()}


@st.cache_data(max_entries=64, show_spinner=False)
def page_of_rows(path: str, stamp: tuple[int, int], filters: Filters, sort: str, descending: bool, limit: int,
                 offset: int) -> tuple[int, pd.DataFrame]:
    with _queries(path) as q:
        return q.count(filters), q.table(filters, sort, descending, limit, offset)


@st.cache_data(max_entries=32, show_spinner=False)
def confusion(path: str, stamp: tuple[int, int], filters: Filters) -> tuple[list[str], np.ndarray]:
    with _queries(path) as q:
        return q.confusion(filters)


@st.cache_data(max_entries=32, show_spinner=False)
def profiles(path: str, stamp: tuple[int, int], filters: Filters, by: str, bins: int):
    with _queries(path) as q:
        return q.class_profiles(filters, bins=bins, by=by)


@st.cache_data(max_entries=32, show_spinner=False)
def scatter(path: str, stamp: tuple[int, int], filters: Filters) -> pd.DataFrame:
    with _queries(path) as q:
        return q.scatter(filters)


@st.cache_data(max_entries=256, show_spinner=False)
def row(path: str, stamp: tuple[int, int], number: int) -> dict[str, Any] | None:
    with _queries(path) as q:
        return q.row(number)


@st.cache_data(max_entries=8, show_spinner=False)
def agreement(path_a: str, stamp_a: tuple[int, int], path_b: str, stamp_b: tuple[int, int]) -> RunAgreement:
    return compare_runs(path_a, path_b)


def key(run: RunInfo) -> tuple[str, tuple[int, int]]:
    """(results path, stamp) for the cached functions."""
    return str(run.results), run.stamp
