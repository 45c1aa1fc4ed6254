"""``python -m vtn_core bench``: every figure a ratio of two measurements taken side by side in the same run.

One module per benchmark: overhead, decode, multiview, longvideo, scaling, cachebench, gpu; ``runner.run_all``
runs them, ``table.render`` prints them, ``worker`` hosts the runs that need a fresh process.
"""
from vtn_core.bench.common import BenchOptions
from vtn_core.bench.runner import BENCHMARKS, run_all
from vtn_core.bench.table import render

__all__ = ["BenchOptions", "BENCHMARKS", "run_all", "render"]
