"""Browse batch runs: find run folders, query ``results.parquet`` with DuckDB, compare two runs, draw them."""
