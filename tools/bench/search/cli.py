"""`logferry search` over millions of mail transactions, timed on the local OpenSearch.

    python -m tools.bench.search                         2,000,000 transactions over 28 days
    python -m tools.bench.search --transactions 200000   a smaller corpus
    python -m tools.bench.search --keep                  leave the indices for a look afterwards

The corpus is generated deterministically (seeded) as postfix maillog lines — connect,
client=, message-id=, from=, one delivery line per attempt (sent, deferred then sent,
bounced, still deferred), removed, disconnect; and, for 4% of the documents, a NOQUEUE
rejection — and reduced to documents by the real code path: `PostfixFormat.parse` (syslog
envelope, message parser, `MailReducer`, `Tx.source`), in objects of 5,000 transactions.
Every transaction's lines sit in one object, so no part has to be merged with an indexed one:
the documents and `_id`s are those the pipeline's `MailMerger` would write, sent with plain
bulk `create`s instead of its multi-get + conditional writes (the merge is not what is
measured here). Generating, reducing and indexing overlap: `--concurrency` bulk requests of
`--bulk-docs` documents are in flight while the next bodies are built.

Populations have a heavy head and a long tail (Zipf): 250,000 senders and 600,000 recipients
over 8,000 domains, 24 mail hosts, 1 to 40 recipients per message. Transactions are spread
over `--days` (28) days ending at `--end`, busier by day than by night.

The indices get a throwaway prefix (`bench-mail-<random>`) and the logferry index template for
that prefix (`logferry.provisioning.index_template`; retention policy, monitors and saved objects
are not installed). While loading, the day indices are created with `refresh_interval: -1`
and no replicas; afterwards the template's refresh interval is restored, the indices are
refreshed and the background merges are waited for (force-merged to one segment only with
`--force-merge`: production indices are not).

Searches go through what `logferry search` runs — `search.criteria_from` and `search.search`
on the same `<prefix>-mail-*` pattern — each for the last 7 days before `--end` (`-d 7d`
typed at that moment). Each query's first run, after the indices' caches were cleared, is
reported as "cold"; then `--repeat` rounds of all queries in turn give the median and p95
(wall time in the client, and OpenSearch's own `took`). The indices and the template are
deleted at the end, also on Ctrl-C, unless `--keep`.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import signal
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from logferry.mail import search
from logferry.output.client import make_client
from logferry.provisioning.templates import template_name
from tools.bench.search.corpus import DAYS, END, SEED, CorpusShape
from tools.bench.search.loading import cleanup, finish_loading, load, prepare
from tools.bench.search.queries import WEEK, analyst_queries, report, time_queries

PROG = "python -m tools.bench.search"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n")[0] if __doc__ else None
    )
    parser.add_argument("--transactions", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=DAYS, help="spread over this many days")
    parser.add_argument("--end", default=END.strftime("%Y-%m-%dT%H:%M:%SZ"), help="corpus end")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--repeat", type=int, default=20, help="warm runs per query")
    parser.add_argument("--concurrency", type=int, default=3, help="bulk requests in flight")
    parser.add_argument("--bulk-docs", type=int, default=5000, help="documents per request")
    parser.add_argument("--force-merge", action="store_true", help="one segment per index")
    parser.add_argument("--keep", action="store_true", help="keep the indices and template")
    parser.add_argument("--prefix", help="index prefix (default bench-mail-<random>)")
    parser.add_argument(
        "--opensearch-url", default=os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200")
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    end = datetime.fromisoformat(args.end).astimezone(UTC)
    shape = CorpusShape(transactions=args.transactions, end=end, days=args.days, seed=args.seed)
    prefix = args.prefix or f"bench-mail-{uuid.uuid4().hex[:8]}"
    client = make_client(args.opensearch_url, timeout=600)
    info = client.info()
    print("$ " + shlex.join([*PROG.split(), *(sys.argv[1:] if argv is None else argv)]))
    print(
        f"OpenSearch {info['version']['number']} at {args.opensearch_url};"
        f" {os.cpu_count()} CPUs; Python {platform.python_version()}; index prefix {prefix}"
    )
    # Ctrl-C and a plain kill both end in the clean-up below (SIGINT explicitly: a shell
    # starts background jobs with it ignored, and Python then keeps it ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        prepare(client, prefix, shape)
        print(
            f"\n== loading {shape.transactions:,} transactions over {shape.days} days up to"
            f" {end:%Y-%m-%d %H:%M}Z (seed {shape.seed}), {args.concurrency} requests in flight"
        )
        stats = load(client, prefix, shape, concurrency=args.concurrency, per_body=args.bulk_docs)
        if stats.errors:
            print(f"   {stats.errors:,} documents refused, first: {stats.first_error}")
            return 1
        finishing = finish_loading(client, prefix, force_merge=args.force_merge)
        count = client.count(index=f"{prefix}-mail-*")["count"]
        sizes = client.cat.indices(index=f"{prefix}-mail-*", format="json", bytes="b")
        store = sum(int(row["store.size"]) for row in sizes)
        segments = client.cat.segments(index=f"{prefix}-mail-*", format="json")
        print(
            f"   {stats.documents:,} documents in {stats.seconds:.0f} s"
            f" ({stats.documents / stats.seconds:,.0f}/s generated, reduced and indexed;"
            f" {stats.bytes / 1e9:.2f} GB in {stats.requests} requests)"
        )
        print(
            "   "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in finishing.items())
            + f"; corpus: {count:,} documents in {len(sizes)} indices,"
            f" {store / 1e9:.2f} GB on disk, {len(segments)} segments"
        )
        week = client.count(
            index=f"{prefix}-mail-*",
            body={"query": {"range": {"@timestamp": {"gte": search.parse_when(WEEK, UTC, end)}}}},
        )["count"]
        print(f"   last 7 days (searched window): {week:,} documents")

        print(f"\n== searching the last 7 days before {end:%Y-%m-%d %H:%M}Z")
        load_before = os.getloadavg()[0]
        queries = analyst_queries(client, prefix, end)
        timings = time_queries(client, prefix, queries, args.repeat)
        report(timings, args.repeat)
        print(
            "load average (1 min) before / after the searches:"
            f" {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
            " (other work on the machine skews the figures)"
        )
        print(f"\ncorpus: {count:,} documents ({shape.transactions:,} transactions generated)")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept: {prefix}-* and index template {template_name(prefix)}")
        else:
            cleanup(client, prefix)
            print(f"deleted: {prefix}-* and index template {template_name(prefix)}")
