"""Cached access to batch runs for the Corpus page: every query goes to ``vtn_core.corpus`` (DuckDB over the
Parquet file) and is cached per (file, size, mtime, arguments), so a run that is still being written refreshes."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from vtn_core.corpus.pairs import RunAgreement, compare_runs
from vtn_core.corpus.queries import Filters, RunQueries
from vtn_core.corpus.runs import RunInfo


def _queries(path: str) -> RunQueries:
    return RunQueries(path)


@st.cache_data(max_entries=32, show_spinner=False)
def overview(path: str, stamp: tuple[int, int]) -> dict[str, Any]:
    q = _queries(path)
    try:
        return {**q.overview(), "classes": q.class_names(), "has_localization": q.has_localization()}
    finally:
        q.close()


@st.cache_data(max_entries=64, show_spinner=False)
def page_of_rows(path: str, stamp: tuple[int, int], filters: Filters, sort: str, descending: bool, limit: int,
                 offset: int) -> tuple[int, pd.DataFrame]:
    q = _queries(path)
    try:
        return q.count(filters), q.table(filters, sort, descending, limit, offset)
    finally:
        q.close()


@st.cache_data(max_entries=32, show_spinner=False)
def confusion(path: str, stamp: tuple[int, int], filters: Filters) -> tuple[list[str], np.ndarray]:
    q = _queries(path)
    try:
        return q.confusion(filters)
    finally:
        q.close()


@st.cache_data(max_entries=32, show_spinner=False)
def profiles(path: str, stamp: tuple[int, int], filters: Filters, by: str, bins: int):
    q = _queries(path)
    try:
        return q.class_profiles(filters, bins=bins, by=by)
    finally:
        q.close()


@st.cache_data(max_entries=32, show_spinner=False)
def scatter(path: str, stamp: tuple[int, int], filters: Filters) -> pd.DataFrame:
    q = _queries(path)
    try:
        return q.scatter(filters)
    finally:
        q.close()


@st.cache_data(max_entries=256, show_spinner=False)
def row(path: str, stamp: tuple[int, int], number: int) -> dict[str, Any] | None:
    q = _queries(path)
    try:
        return q.row(number)
    finally:
        q.close()


@st.cache_data(max_entries=8, show_spinner=False)
def agreement(path_a: str, stamp_a: tuple[int, int], path_b: str, stamp_b: tuple[int, int]) -> RunAgreement:
    return compare_runs(path_a, path_b)


def key(run: RunInfo) -> tuple[str, tuple[int, int]]:
    """(results path, stamp) for the cached functions."""
    return str(run.results), run.stamp
