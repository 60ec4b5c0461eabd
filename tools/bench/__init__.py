"""The benchmarks: `python -m tools.bench` (`make bench`), how fast one core turns gzipped log
objects into bulk request bodies, and `python -m tools.bench.search`, `logferry search` over
millions of mail transactions on the local OpenSearch."""
