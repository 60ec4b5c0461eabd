"""`make bench`: how fast one core turns gzipped log objects into bulk request bodies.

    python -m tools.bench                 every registered format with a generator, ~200 MB
                                          each; what isal, orjson and the reader's step sizes
                                          buy (NLB); then end to end into the local OpenSearch
    python -m tools.bench --quick         20 MB per format, a smaller OpenSearch run
    python -m tools.bench --memory        peak RSS of `logferry parse` and of the pipeline on a
                                          1 GiB and a 40 MB NLB object
    python -m tools.bench --hostile       peak RSS and time of the Lambda handler on hostile
                                          objects beside a valid one (also part of the full run)
    python -m tools.bench --backfill      `logferry backfill` against moto's server: messages/s
                                          and peak RSS at 10,000 / 50,000 / 100,000 objects
    python -m tools.bench --nodes 3       end to end into the local three-node cluster beside
                                          the single node, each beside its own bulk ceiling
    python -m tools.bench --rule-cost     what a drop rule costs a line and what a dropped
                                          document saves, in one process (ALB, VPC flow, NLB...)
    python -m tools.bench --profile nlb   where one format's time goes (pyinstrument, if
                                          installed)

Throughput is the whole path the Lambda runs (gunzip -> lines -> documents -> _bulk bodies)
through `Pipeline` and the real `BulkSink`, whose transport only counts the bodies and answers
as OpenSearch does when every item succeeded. "Per core" is lines per CPU-second (user + system)
of a single-threaded worker process, so other load on the machine does not skew it. Each run
is a fresh subprocess (tools.bench.workers; peak RSS is that format's own); the table shows
medians.

Beside it, against the same files: a naive standard-library implementation (gzip module, one
regex per line, json.dumps per document and per action line) building comparable documents
(tools.bench.naive); and the same pipeline with the parsers run from their sources
(LOGFERRY_PURE_PYTHON=1), which shows what compiling them (`make native`,
layers/native/compile.py) buys. Then what GeoIP + user agents and a drop rule cost or save
(tools.bench.enriching).

Then the whole path beside its peer and its floor (tools.bench.peers): `logferry parse`,
Vector's VRL parsers (tools/vrl, `make vrl`; ALB and VPC flow) and gunzip alone, on the same
files, interleaved, with the ratios.

Objects are generated deterministically (tools.bench.generators) and cached under bench-data/.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from logferry.formats import FORMATS
from tools.bench import MB, hostile
from tools.bench import generators as benchgen
from tools.bench.backfill import SIZES, bench_backfill
from tools.bench.enriching import bench_enrichment, bench_rule_cost
from tools.bench.nodes import bench_nodes
from tools.bench.peers import bench_peers
from tools.bench.profiling import profile
from tools.bench.report import (
    bench_formats,
    bench_libraries,
    bench_memory,
    bench_opensearch,
    closing,
    opening,
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--size-mb", type=float, help="MB of text per format (default 200)")
    parser.add_argument("--quick", action="store_true", help="20 MB per format, 3 runs")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--formats", help="comma-separated subset (default: all with a generator)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive comparison")
    parser.add_argument(
        "--no-pure", action="store_true", help="skip the parsers run from their sources"
    )
    parser.add_argument("--no-opensearch", action="store_true", help="skip end to end")
    parser.add_argument(
        "--no-peers", action="store_true", help="skip logferry parse, VRL and gunzip beside it"
    )
    parser.add_argument(
        "--no-enrich", action="store_true", help="skip the GeoIP + user agent and drop rule table"
    )
    parser.add_argument("--e2e-lines", type=int, help="NLB lines into OpenSearch (300,000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent ceiling requests")
    parser.add_argument(
        "--no-libraries", action="store_true", help="skip the isal/orjson/reader-step rows"
    )
    parser.add_argument("--memory", action="store_true", help="only the memory measurement")
    parser.add_argument(
        "--hostile", action="store_true", help="only what hostile objects cost the handler"
    )
    parser.add_argument(
        "--backfill", action="store_true", help="only what logferry backfill costs (moto server)"
    )
    parser.add_argument(
        "--backfill-objects",
        default=",".join(map(str, SIZES)),
        metavar="N,N,...",
        help="archive sizes for --backfill",
    )
    parser.add_argument(
        "--nodes",
        type=int,
        choices=[3],
        help="only end to end into three nodes beside one (make opensearch opensearch-multinode)",
    )
    parser.add_argument(
        "--rule-cost", action="store_true", help="only a drop rule's cost and saving a line"
    )
    parser.add_argument("--profile", metavar="FORMAT", help="profile one format and exit")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    return parser.parse_args(argv)


def measured_formats(subset: str | None) -> list[str]:
    """The formats asked for (all with a generator by default) that can be measured; the
    others named, with the reason."""
    wanted = subset.split(",") if subset else list(benchgen.GENERATORS)
    formats = []
    for fmt in wanted:
        if fmt not in benchgen.GENERATORS:
            print(f"{fmt}: no generator in tools.bench.generators, skipped")
        elif fmt not in FORMATS:
            print(f"{fmt}: not registered in logferry.formats.FORMATS, skipped")
        else:
            formats.append(fmt)
    if not subset:
        for fmt in sorted(set(FORMATS) - set(benchgen.GENERATORS)):
            print(f"{fmt}: registered, no generator yet, not measured")
    return formats


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    size = int((args.size_mb or (20 if args.quick else 200)) * MB)
    runs = max(1, args.runs)
    e2e_lines = args.e2e_lines or (100_000 if args.quick else 300_000)
    if args.profile:
        profile(args.profile, size)
        return 0
    started = time.perf_counter()
    report = opening(size, runs)
    # `logferry parse` in a child reads its window from the environment.
    os.environ.setdefault("LOGFERRY_ACCEPT_DAYS_BACK", str(benchgen.DAYS_BACK))
    if args.memory:
        bench_memory(report)
    elif args.hostile:
        hostile.bench_hostile(report)
    elif args.nodes:
        bench_nodes(e2e_lines, runs, args.clients, report)
    elif args.backfill:
        bench_backfill(report, tuple(int(n) for n in args.backfill_objects.split(",")))
    elif args.rule_cost:
        bench_rule_cost(measured_formats(args.formats), size, runs, report)
    else:
        formats = measured_formats(args.formats)
        bench_formats(formats, size, runs, report, naive=not args.no_naive, pure=not args.no_pure)
        if not args.no_peers:
            bench_peers(formats, size, runs, report)
        if not args.no_enrich:
            bench_enrichment(formats, size, runs, report)
        if not (args.no_libraries or args.quick) and "nlb" in formats:
            bench_libraries(size, runs, report)
        if not args.no_opensearch:
            bench_opensearch(e2e_lines, runs, args.clients, report)
            if not args.quick:
                hostile.bench_hostile(report)
    closing(report, started, args.json)
    return 0
