"""The benchmarks: `python -m tools.bench` (`make bench`), how fast one core turns gzipped log
objects into bulk request bodies, and `python -m tools.bench.search`, `logferry search` over
millions of mail transactions on the local OpenSearch.

    cli         the command line of `python -m tools.bench`, and what it measures
    generators  deterministic log objects, one generator per format, cached under bench-data/
    naive       the naive standard-library baselines, line -> document
    workers     one measurement in a fresh process (`python -m tools.bench.workers`)
    report      the measurements' runs, their tables and the JSON report
    peers       the whole path beside `logferry parse`, Vector's VRL (tools/vrl) and gunzip
    hostile     what hostile objects cost the Lambda handler (`--hostile`)
    profiling   where one format's time goes (`--profile`)
    search      the search benchmark (`python -m tools.bench.search`)
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench-data"
MB = 1_000_000
MIB = 1024**2
