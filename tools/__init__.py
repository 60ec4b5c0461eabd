"""The project's own tools around the package `logferry`: the demo (`python -m tools.demo`),
the benchmarks (`python -m tools.bench`, `python -m tools.bench.search`) and the local
stand-ins for AWS they share with the tests (`tools.localaws`).

Installed with the project (`pip install -e .`, which `make` runs), so they import `logferry`
as installed; they are not part of the Lambda layer.
"""
