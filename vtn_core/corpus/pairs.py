"""Two runs over the same videos (matched by path): how often they agree, where they disagree, and how far
their [CLS] attention differs per video (Jensen–Shannon divergence in bits, 0 = identical, 1 = disjoint)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from vtn_core.compare import align, js_divergence


@dataclass(frozen=True)
class RunAgreement:
    """``shared``: videos that ran in both; ``only_a``/``only_b``: in one run only; ``agreement``: share of
    shared videos with the same top-1; ``disagreements`` and ``divergence`` per video (largest first)."""

    shared: int
    only_a: int
    only_b: int
    agreement: float | None
    disagreements: pd.DataFrame
    divergence: pd.DataFrame

    @property
    def mean_divergence(self) -> float | None:
        return float(self.divergence["js_divergence"].mean()) if len(self.divergence) else None


def arrow_table(db: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> pa.Table:
    """The result of a DuckDB query as an Arrow table (the method's name differs across DuckDB versions)."""
    relation = db.sql(query, params=params or None)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    return fetch()


def _lists(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(flat values, offsets) of a list column."""
    array = column.combine_chunks()
    return np.asarray(array.flatten().to_numpy(zero_copy_only=False), float), np.asarray(array.offsets, np.int64)


def divergences(att_a: pa.ChunkedArray, times_a: pa.ChunkedArray, att_b: pa.ChunkedArray,
                times_b: pa.ChunkedArray) -> np.ndarray:
    """Per-row JS divergence of two list columns of attention weights (vectorised where the sample times
    match, as for two checkpoints run with the same frame count; resampled on a common axis otherwise)."""
    wa, oa = _lists(att_a)
    wb, ob = _lists(att_b)
    ta, _ = _lists(times_a)
    tb, _ = _lists(times_b)
    la, lb = np.diff(oa), np.diff(ob)
    out = np.full(len(la), np.nan)
    for length in np.unique(la[la == lb]):
        rows = np.flatnonzero((la == length) & (lb == length))
        if length == 0 or not len(rows):
            continue
        take_a = oa[rows, None] + np.arange(length)
        take_b = ob[rows, None] + np.arange(length)
        same_times = np.all(np.isclose(ta[take_a], tb[take_b]), axis=1)
        p, q = wa[take_a], wb[take_b]
        p = np.clip(p, 0, None) / np.clip(np.clip(p, 0, None).sum(1, keepdims=True), 1e-12, None)
        q = np.clip(q, 0, None) / np.clip(np.clip(q, 0, None).sum(1, keepdims=True), 1e-12, None)
        m = 0.5 * (p + q)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(1)
            kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(1)
        values = np.clip(0.5 * kl_p + 0.5 * kl_q, 0.0, 1.0)
        out[rows[same_times]] = values[same_times]
    for row in np.flatnonzero(np.isnan(out)):
        a, b = wa[oa[row]:oa[row + 1]], wb[ob[row]:ob[row + 1]]
        if a.size and b.size:
            _, pa_, pb_ = align(ta[oa[row]:oa[row + 1]], a, tb[ob[row]:ob[row + 1]], b)
            out[row] = js_divergence(pa_, pb_)
    return out


def compare_runs(results_a: str | Path, results_b: str | Path, max_listed: int = 5000) -> RunAgreement:
    """Join two ``results.parquet`` files on ``path`` and compare predictions and attention."""
    db = duckdb.connect(":memory:")
    try:
        for name, path in (("a", results_a), ("b", results_b)):
            literal = str(path).replace("'", "''")
            db.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{literal}') WHERE error IS NULL")
        only_a, only_b = db.execute(
            "SELECT (SELECT count(*) FROM a ANTI JOIN b USING (path)), "
            "(SELECT count(*) FROM b ANTI JOIN a USING (path))").fetchall()[0]
        joined = arrow_table(db,
            "SELECT a.path, a.label, a.predicted AS predicted_a, a.prob AS prob_a, b.predicted AS predicted_b, "
            "b.prob AS prob_b, a.cls_attention AS att_a, a.timestamps_s AS t_a, b.cls_attention AS att_b, "
            "b.timestamps_s AS t_b FROM a JOIN b USING (path) ORDER BY a.path")
    finally:
        db.close()
    shared = joined.num_rows
    info = joined.select(["path", "label", "predicted_a", "prob_a", "predicted_b", "prob_b"]).to_pandas()
    info["js_divergence"] = divergences(joined["att_a"], joined["t_a"], joined["att_b"], joined["t_b"]) \
        if shared else np.zeros(0)
    same = info["predicted_a"] == info["predicted_b"]
    disagreements = info.loc[~same].sort_values("js_divergence", ascending=False).head(max_listed)
    divergence = info.sort_values("js_divergence", ascending=False).head(max_listed)
    return RunAgreement(shared=shared, only_a=int(only_a), only_b=int(only_b),
                        agreement=float(same.mean()) if shared else None,
                        disagreements=disagreements.reset_index(drop=True), divergence=divergence.reset_index(drop=True))
