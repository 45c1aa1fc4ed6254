"""Batch inference over a whole corpus on Ray, into a resumable Parquet run folder (see ``run_batch``)."""
from vtn_core.batch.inputs import BatchInput, BatchItem, discover
from vtn_core.batch.ray_engine import EngineOptions
from vtn_core.batch.rows import COLUMNS, SCHEMA
from vtn_core.batch.runner import run_batch

__all__ = ["COLUMNS", "SCHEMA", "BatchInput", "BatchItem", "EngineOptions", "discover", "run_batch"]
