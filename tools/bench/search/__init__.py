"""The search benchmark, `python -m tools.bench.search`: `logferry search` over millions of
mail transactions, timed on the local OpenSearch."""
