"""One measurement in a fresh process: `python -m tools.bench.workers KIND PATH [options]`
prints one JSON line (lines, documents, bytes, CPU and wall seconds, peak RSS); `worker()`
starts it and reads it back, so each run's peak RSS and heap are its own.

Kinds: `pipeline` (the path the Lambda runs, `Pipeline` and the real `BulkSink`, through a
transport that only counts the bodies), `naive` (the standard-library baseline), `gunzip` and
`reader` (the floor under every row), `e2e` (into the local OpenSearch) and `ceiling`
(OpenSearch's own bulk rate on pre-built bodies). `--variant` swaps one library or setting for
the standard library or the former one: what each buys.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from logferry.config import Settings
from logferry.formats import FORMATS
from logferry.ingest import reader as reader_module
from logferry.ingest.deadletter import StreamDeadLetters
from logferry.ingest.heap import keep_freed_memory
from logferry.ingest.objects import LocalFiles
from logferry.ingest.pipeline import Pipeline
from logferry.model import ObjectRef
from logferry.output.sink import BulkSink, BulkTransport
from tools.bench import MIB
from tools.bench.enriching import settings_of, warm
from tools.bench.generators import DAYS_BACK
from tools.bench.naive import NAIVE

# -- measuring devices -------------------------------------------------------------------


class DiscardingTransport(BulkTransport):
    """Counts the bodies and drops them; answers like OpenSearch when no item failed."""

    def __init__(self) -> None:
        super().__init__(None)
        self.requests = 0
        self.bytes = 0

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        self.requests += 1
        self.bytes += len(body)
        return {"errors": False}


class RecordingTransport(DiscardingTransport):
    """Keeps the bodies: the ready-made requests of the OpenSearch ceiling run."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        self.bodies.append(body)
        return super().bulk(body)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _pipeline(sink: BulkSink, fmt: str, prefix: str = "bench", variant: str = "") -> Pipeline:
    """Without enrichment or rules, unless `variant` asks for them (tools.bench.enriching)."""
    settings = Settings(
        index_prefix=prefix, accept_days_back=DAYS_BACK, **settings_of(variant, fmt)
    )
    pipeline = Pipeline(settings, LocalFiles(), sink, StreamDeadLetters(), fmt)
    warm(pipeline)  # what a container does once (loading rules) is not a line's cost
    return pipeline


# -- the naive path: the gzip module, a naive parser, json.dumps -------------------------


def _bulk_line(index: str, doc_id: str, doc: dict[str, Any]) -> str:
    action = json.dumps({"index": {"_index": index, "_id": doc_id}})
    return f"{action}\n{json.dumps(doc)}\n"


def run_naive(fmt: str, path: Path) -> dict[str, Any]:
    parse = NAIVE[fmt]
    identity = ObjectRef("", str(path)).identity
    lines = docs = size = 0
    body: list[str] = []
    body_bytes = 0
    cpu, wall = _cpu(), time.perf_counter()
    with gzip.open(path, "rb") as stream:
        for lineno, raw in enumerate(stream, 1):
            lines += 1
            size += len(raw)
            doc = parse(raw.decode("utf-8").rstrip("\n"))
            if doc is None:
                continue
            ts = doc["@timestamp"]
            index = f"bench-{fmt}-{ts[0:4]}.{ts[5:7]}.{ts[8:10]}"
            body.append(_bulk_line(index, f"{identity}-{lineno}", doc))
            body_bytes += len(body[-1])
            docs += 1
            if len(body) >= 5000 or body_bytes >= 5 * MIB:
                "".join(body).encode()  # the request body; sent nowhere
                body.clear()
                body_bytes = 0
    "".join(body).encode()
    return {
        "lines": lines,
        "documents": docs,
        "bytes": size,
        "cpu": _cpu() - cpu,
        "wall": time.perf_counter() - wall,
    }


# -- the pipeline, its parts, and OpenSearch ---------------------------------------------


class _JsonShim:
    """orjson's `dumps` done by the standard library: what orjson buys, measured."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


def run_pipeline(fmt: str, path: Path, variant: str = "") -> dict[str, Any]:
    if variant == "zlib":
        reader_module._zlib = zlib
    elif variant == "no-fast":  # every line through the Python parsers (compiled by mypyc)
        from logferry.formats import fast

        fast.disable()
    elif variant == "json":  # both loops: documents' (pipeline) and send_lines' (linewise)
        import logferry.ingest.linewise
        import logferry.ingest.pipeline

        logferry.ingest.pipeline.orjson = _JsonShim  # type: ignore[attr-defined,assignment]
        logferry.ingest.linewise.orjson = _JsonShim  # type: ignore[attr-defined,assignment]
    transport = DiscardingTransport()
    sink = BulkSink(transport)
    pipeline = _pipeline(sink, fmt, variant=variant)
    if variant == "enriched-again":  # the same clients' first object, off the clock
        pipeline.ingest(ObjectRef("", str(path)))
    cpu, wall = _cpu(), time.perf_counter()
    result = pipeline.ingest(ObjectRef("", str(path)))
    parser_file = str(sys.modules[type(FORMATS[fmt]).__module__].__file__)
    return {
        "compiled": not parser_file.endswith(".py"),
        "lines": result.lines,
        "documents": result.documents,
        "rejected": result.rejected,
        "outcome": result.outcome,
        "bytes": result.bytes_out,
        "body_bytes": transport.bytes,
        "requests": transport.requests,
        "cpu": _cpu() - cpu,
        "wall": time.perf_counter() - wall,
    }


def run_gunzip(path: Path, variant: str) -> dict[str, Any]:
    """Decompression alone, as the reader does it (isal or zlib): the floor under every row."""
    if variant == "zlib":
        reader_module._zlib = zlib
    cpu, wall = _cpu(), time.perf_counter()
    with open(path, "rb") as stream:
        reader = reader_module.LineReader(stream)
        size = sum(len(chunk) for chunk in reader.chunks())
    return {"lines": 0, "bytes": size, "cpu": _cpu() - cpu, "wall": time.perf_counter() - wall}


def run_reader(path: Path, variant: str) -> dict[str, Any]:
    """Numbered lines out of the reader, nothing parsed; "big-steps" reads and inflates in the
    former 1 MiB / 4 MiB steps instead of 128 KiB / 1 MiB."""
    if variant == "big-steps":
        reader_module.READ_SIZE, reader_module.INFLATE_STEP = 1 << 20, 4 << 20
    cpu, wall = _cpu(), time.perf_counter()
    with open(path, "rb") as stream:
        reader = reader_module.LineReader(stream)
        for _ in reader:
            pass
    return {
        "lines": reader.lines_read,
        "bytes": reader.bytes_out,
        "cpu": _cpu() - cpu,
        "wall": time.perf_counter() - wall,
    }


def opensearch_client(url: str | None = None) -> Any:
    """A client of `url`, else of OPENSEARCH_URL, else of the local single node."""
    from logferry.output.client import make_client

    return make_client(url or os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200"))


def run_e2e(fmt: str, path: Path, prefix: str) -> dict[str, Any]:
    """The real pipeline and the real sink into the local OpenSearch, with the Lambda's
    requests in flight (LOGFERRY_BULK_CONCURRENCY, else its default)."""
    concurrency = Settings.from_env().bulk_concurrency
    sink = BulkSink(BulkTransport(opensearch_client()), concurrency=concurrency)
    pipeline = _pipeline(sink, fmt, prefix)
    cpu, wall = _cpu(), time.perf_counter()
    result = pipeline.ingest(ObjectRef("", str(path)))
    return {
        "lines": result.lines,
        "documents": result.documents,
        "rejected": result.rejected,
        "failed": sink.stats.failed,
        "concurrency": concurrency,
        "cpu": _cpu() - cpu,
        "wall": time.perf_counter() - wall,
    }


def run_ceiling(fmt: str, path: Path, prefix: str, clients: int) -> dict[str, Any]:
    """OpenSearch's own bulk rate: the same bodies, built beforehand, sent concurrently."""
    recorder = RecordingTransport()
    sink = BulkSink(recorder)
    result = _pipeline(sink, fmt, prefix).ingest(ObjectRef("", str(path)))
    client = opensearch_client()
    errors = 0

    def send(body: bytes) -> int:
        response = client.bulk(body=body, filter_path="errors,items.*.status,items.*.error")
        return 1 if response.get("errors") else 0

    wall = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        errors = sum(pool.map(send, recorder.bodies))
    return {
        "documents": result.documents,
        "requests": len(recorder.bodies),
        "error_requests": errors,
        "wall": time.perf_counter() - wall,
    }


def run_rule_cost(fmt: str, path: Path, runs: int) -> dict[str, Any]:
    """One process, three pipelines (plain, a rule dropping nothing, the drop rule) ingesting
    the object in turn `runs` times: CPU ns a line of each (medians), and the share dropped."""
    pipelines = {
        name: _pipeline(BulkSink(DiscardingTransport()), fmt, variant=variant)
        for name, variant in (("plain", ""), ("never", "drop-never"), ("drop", "drop"))
    }
    spent: dict[str, list[float]] = {name: [] for name in pipelines}
    lines = documents = dropped = 0
    for _ in range(runs):
        for name, pipeline in pipelines.items():
            cpu = _cpu()
            result = pipeline.ingest(ObjectRef("", str(path)))
            spent[name].append((_cpu() - cpu) / result.lines * 1e9)
            lines = result.lines
            if name == "drop":
                documents, dropped = result.documents, result.dropped
    out: dict[str, Any] = {f"{name}_ns": statistics.median(ns) for name, ns in spent.items()}
    out.update(lines=lines, dropped_share=dropped / max(1, documents + dropped))
    return out


# -- the worker process and its launcher ---------------------------------------------------


def worker_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.workers")
    parser.add_argument(
        "kind", choices=("pipeline", "naive", "gunzip", "reader", "e2e", "ceiling", "rule-cost")
    )
    parser.add_argument("path", type=Path)
    parser.add_argument("--format", default="nlb")
    parser.add_argument("--variant", default="")
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--url", help="the cluster of e2e and ceiling (default: OPENSEARCH_URL)")
    parser.add_argument("--concurrency", help="e2e: LOGFERRY_BULK_CONCURRENCY (default: its own)")
    parser.add_argument("--runs", type=int, default=5, help="rule-cost: interleaved ingests")
    args = parser.parse_args(argv)
    if args.url:
        os.environ["OPENSEARCH_URL"] = args.url
    if args.concurrency:
        os.environ["LOGFERRY_BULK_CONCURRENCY"] = args.concurrency
    if args.variant != "heap-as-is":
        keep_freed_memory()  # as the Lambda and the CLI do
    if args.kind == "pipeline":
        out = run_pipeline(args.format, args.path, args.variant)
    elif args.kind == "naive":
        out = run_naive(args.format, args.path)
    elif args.kind == "gunzip":
        out = run_gunzip(args.path, args.variant)
    elif args.kind == "reader":
        out = run_reader(args.path, args.variant)
    elif args.kind == "e2e":
        out = run_e2e(args.format, args.path, args.prefix)
    elif args.kind == "rule-cost":
        out = run_rule_cost(args.format, args.path, args.runs)
    else:
        out = run_ceiling(args.format, args.path, args.prefix, args.clients)
    out["peak_rss_mib"] = _peak_rss_mib()
    print(json.dumps(out))
    return 0


def worker(kind: str, path: Path, *options: str, pure: bool = False) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return what it printed; `pure`: with the
    parsers' sources, not their compiled build."""
    cmd = [sys.executable, "-m", "tools.bench.workers", kind, str(path), *options]
    env = {key: value for key, value in os.environ.items() if key != "LOGFERRY_PURE_PYTHON"}
    if pure:
        env["LOGFERRY_PURE_PYTHON"] = "1"
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
