"""DuckDB queries over one run's ``results.parquet``: the filtered, sorted table, accuracy, the confusion
matrix, per-class attention profiles over normalised time and the confidence/entropy cloud.

Everything is computed inside DuckDB straight from the Parquet file (no full load into Python), so a run of
100,000 videos stays interactive. Sort columns come from a fixed list; filter values are bound parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from vtn_core.corpus.pairs import arrow_table

OUTCOMES = ("all", "correct", "incorrect", "failed", "unlabelled")
SORTABLE = ("row", "path", "label", "predicted", "prob", "correct", "entropy", "localization", "seconds",
            "duration_s")
TABLE_COLUMNS = ("row", "path", "label", "predicted", "prob", "correct", "entropy", "localization", "seconds",
                 "error")
MAX_PAGE_ROWS = 5000


@dataclass(frozen=True)
class Filters:
    """What to show: classes (true label, or the prediction when unlabelled), outcome, value ranges
    (``None`` = no bound; rows without the value are dropped only when a range is set), a path substring."""

    classes: tuple[str, ...] = ()
    outcome: str = "all"
    prob: tuple[float, float] | None = None
    entropy: tuple[float, float] | None = None
    localization: tuple[float, float] | None = None
    search: str = ""

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition and its parameters."""
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        terms, params = ["TRUE"], []
        if self.classes:
            terms.append(f"coalesce(label, predicted) IN ({', '.join('?' for _ in self.classes)})")
            params += list(self.classes)
        terms.append({"all": "TRUE", "correct": "error IS NULL AND correct",
                      "incorrect": "error IS NULL AND NOT correct", "failed": "error IS NOT NULL",
                      "unlabelled": "label IS NULL"}[self.outcome])
        for column in ("prob", "entropy", "localization"):
            bounds = getattr(self, column)
            if bounds is not None:
                terms.append(f"{column} BETWEEN ? AND ?")
                params += [float(bounds[0]), float(bounds[1])]
        if self.search:
            terms.append("contains(lower(path), ?)")
            params.append(self.search.lower())
        return " AND ".join(f"({term})" for term in terms), params


def time_bins(frames: int, bins: int) -> np.ndarray:
    """[bins, frames] linear map from a video's per-frame values (frame i at normalised time (i + 0.5) / F)
    to time bins: the mean of the frames inside each bin when F >= bins, linear interpolation otherwise."""
    times = (np.arange(frames) + 0.5) / frames
    if frames >= bins:
        member = np.minimum((times * bins).astype(np.int64), bins - 1)
        matrix = np.zeros((bins, frames))
        matrix[member, np.arange(frames)] = 1.0
        return matrix / np.clip(matrix.sum(axis=1, keepdims=True), 1, None)
    centres = (np.arange(bins) + 0.5) / bins
    return np.stack([np.interp(centres, times, column) for column in np.eye(frames)], axis=1)


class RunQueries:
    """Queries over one ``results.parquet`` (rows numbered by their position in the file: ``row``)."""

    def __init__(self, results: str | Path) -> None:
        self.path = Path(results)
        self.db = duckdb.connect(":memory:")
        literal = str(self.path).replace("'", "''")
        self.db.execute(f"CREATE VIEW results AS SELECT file_row_number AS row, * "
                        f"FROM read_parquet('{literal}', file_row_number = true)")

    def close(self) -> None:
        self.db.close()

    def _frame(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        return self.db.execute(sql, params or []).df()

    def overview(self) -> dict[str, Any]:
        """Videos, failures, labelled and scored counts, accuracy (over labelled videos that ran)."""
        videos, failed, labelled, scored, correct, mean_prob, mean_entropy = self.db.execute(
            "SELECT count(*), count(error), count(label), count(*) FILTER (error IS NULL AND label IS NOT NULL), "
            "count(*) FILTER (error IS NULL AND correct), avg(prob), avg(entropy) FROM results").fetchall()[0]
        return {"videos": videos, "failed": failed, "labelled": labelled, "scored": scored, "correct": correct,
                "accuracy": correct / scored if scored else None, "mean_prob": mean_prob,
                "mean_entropy": mean_entropy}

    def class_names(self) -> list[str]:
        """Every class that occurs as a label or a prediction, sorted."""
        rows = self.db.execute("SELECT DISTINCT c FROM (SELECT label AS c FROM results UNION ALL "
                               "SELECT predicted FROM results) WHERE c IS NOT NULL ORDER BY c").fetchall()
        return [r[0] for r in rows]

    def has_localization(self) -> bool:
        return bool(self.db.execute("SELECT count(localization) FROM results").fetchall()[0][0])

    def count(self, filters: Filters = Filters()) -> int:
        where, params = filters.where()
        return int(self.db.execute(f"SELECT count(*) FROM results WHERE {where}", params).fetchall()[0][0])

    def table(self, filters: Filters = Filters(), sort: str = "row", descending: bool = False,
              limit: int = 200, offset: int = 0) -> pd.DataFrame:
        """One page of the filtered rows, sorted by ``sort`` (one of ``SORTABLE``; nulls last, then by row)."""
        if sort not in SORTABLE:
            raise ValueError(f"sort must be one of {SORTABLE}")
        where, params = filters.where()
        limit = max(1, min(int(limit), MAX_PAGE_ROWS))
        order = f"{sort} {'DESC' if descending else 'ASC'} NULLS LAST, row"
        return self._frame(f"SELECT {', '.join(TABLE_COLUMNS)} FROM results WHERE {where} ORDER BY {order} "
                           "LIMIT ? OFFSET ?", [*params, limit, max(0, int(offset))])

    def row(self, row: int) -> dict[str, Any] | None:
        """Every column of one row (lists as Python lists), or None."""
        frame = self._frame("SELECT * FROM results WHERE row = ?", [int(row)])
        if frame.empty:
            return None
        record = frame.iloc[0].to_dict()
        for key in ("cls_attention", "timestamps_s", "top5"):
            value = record.get(key)
            record[key] = None if value is None else list(value)
        return record

    def confusion(self, filters: Filters = Filters()) -> tuple[list[str], np.ndarray]:
        """(classes, counts[true, predicted]) over labelled videos that ran."""
        where, params = filters.where()
        frame = self._frame(f"SELECT label, predicted, count(*) AS n FROM results WHERE {where} AND error IS NULL "
                            "AND label IS NOT NULL GROUP BY ALL", params)
        classes = sorted(set(frame["label"]) | set(frame["predicted"]))
        index = {name: i for i, name in enumerate(classes)}
        matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
        for label, predicted, n in frame.itertuples(index=False):
            matrix[index[label], index[predicted]] += int(n)
        return classes, matrix

    def class_profiles(self, filters: Filters = Filters(), bins: int = 20,
                       by: str = "label") -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int]]:
        """Per-class mean [CLS] attention over normalised time (0 = start, 1 = end of the sampled frames).

        Frame i of F sits at time (i + 0.5) / F; each video's weights are scaled by F (uniform attention = 1
        everywhere) and averaged per time bin (interpolated when F < bins, see ``time_bins``), then the
        class's videos are averaged (each counts once). ``by``: "label" or "predicted".
        Returns (bin centres, class → profile, class → videos). DuckDB selects; numpy bins.
        """
        if by not in ("label", "predicted"):
            raise ValueError("by must be 'label' or 'predicted'")
        bins = max(2, min(int(bins), 200))
        where, params = filters.where()
        table = arrow_table(self.db,
            f"SELECT {by} AS cls, cls_attention FROM results WHERE {where} AND error IS NULL AND {by} IS NOT NULL "
            "AND len(cls_attention) > 0", params)
        centres = (np.arange(bins) + 0.5) / bins
        if not table.num_rows:
            return centres, {}, {}
        column = table["cls_attention"].combine_chunks()
        weights = np.asarray(column.flatten().to_numpy(zero_copy_only=False), float)
        offsets = np.asarray(column.offsets, np.int64)
        lengths = np.diff(offsets)
        per_video = np.empty((len(lengths), bins))
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            frames = weights[offsets[rows, None] + np.arange(length)] * length
            per_video[rows] = frames @ time_bins(int(length), bins).T
        classes = np.asarray(table["cls"].to_pylist(), dtype=object)
        profiles, counts = {}, {}
        for name in sorted(set(classes)):
            members = classes == name
            profiles[str(name)] = per_video[members].mean(axis=0)
            counts[str(name)] = int(members.sum())
        return centres, profiles, counts

    def scatter(self, filters: Filters = Filters(), limit: int = 5000) -> pd.DataFrame:
        """Confidence vs attention entropy of (at most ``limit``, an even sample of) the videos that ran."""
        where, params = filters.where()
        total = self.db.execute(f"SELECT count(*) FROM results WHERE {where} AND error IS NULL", params).fetchall()[0][0]
        step = max(1, -(-int(total) // max(1, int(limit))))
        return self._frame(f"""SELECT row, path, label, predicted, prob, entropy, correct FROM (
                                   SELECT *, row_number() OVER (ORDER BY row) AS k FROM results
                                   WHERE {where} AND error IS NULL) WHERE (k - 1) % ? = 0 ORDER BY row""",
                           [*params, step])
