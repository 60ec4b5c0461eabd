"""`logferry`: the pipeline for people at a terminal.

  logferry parse [--format NAME] FILE...          dry run: documents on stdout, rejections on stderr
  logferry ingest [--workers N] PATH|s3://bucket/prefix ...  the pipeline into OpenSearch, here
  logferry backfill s3://bucket/prefix --queue-url URL [--since DAY] [--until DAY] ...
                                                  announce stored objects to the ingest queue
  logferry setup                                  index template and retention policy
  logferry search [-f FROM] [-t TO] [-H HOST] ...  mail transactions, newest first
  logferry replay [--dlq-url URL] [--no-deadletters]  dead letters and the DLQ, through again
  logferry plan --gb-per-day alb=200,nlb=1 [--json]  index periods and shards to size a domain

Exit status: 0 all good, 1 something was rejected or failed, 2 usage error or unreadable input,
130 interrupted (backfill and ingest say what was done).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .config import Settings
from .formats import FORMATS, UnknownFormat
from .ingest.deadletter import StreamDeadLetters
from .ingest.heap import keep_freed_memory
from .ingest.linewise import send_lines
from .ingest.local import local_files
from .ingest.objects import LocalFiles, ObjectGone
from .ingest.pipeline import Pipeline, take_over
from .model import Document, ObjectRef, Rejection

if TYPE_CHECKING:
    pass

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    changes: dict[str, Any] = {}
    if getattr(args, "opensearch_url", None):
        changes["opensearch_url"] = args.opensearch_url
    if getattr(args, "index_prefix", None):
        changes["index_prefix"] = args.index_prefix
    return dataclasses.replace(settings, **changes)


# -- parse ------------------------------------------------------------------------------


class _ParseReport:
    """What `logferry parse` writes of one file besides its documents: each rejection as
    `PATH:LINE: REASON` (and the exit status it makes), and, with --show-dropped, each document
    the rules drop as `PATH:LINE: dropped HIT`."""

    def __init__(self, path: Path, show_dropped: bool) -> None:
        self.path = path
        self.show_dropped = show_dropped
        self.status = EXIT_OK

    def reject(self, rejection: Rejection) -> None:
        print(f"{self.path}:{rejection.position}: {rejection.reason}", file=sys.stderr)
        self.status = EXIT_REJECTED

    def dropped(self, index: str, doc_id: str, doc: Document) -> None:
        if self.show_dropped:
            hit = orjson.dumps({"_index": index, "_id": doc_id, "_source": doc.source}).decode()
            print(f"{self.path}:{doc.position}: dropped {hit}", file=sys.stderr)


def _hit_writer(out: Any) -> Callable[[str, str, bytes], None]:
    """`add(index, id, body)` writing `{"_index", "_id", "_source"}` and a newline: the bytes
    orjson writes of that dict, with the document's JSON put in as it is (serialised once)."""
    write, dumps = out.write, orjson.dumps

    def add(index: str, doc_id: str, body: bytes) -> None:
        write(b'{"_index":%b,"_id":%b,"_source":%b}\n' % (dumps(index), dumps(doc_id), body))

    return add


def _numbered_hit_writer(out: Any, id_prefix: str) -> Callable[[str, int, bytes], None]:
    """`_hit_writer`'s `add(index, id_prefix + str(number), body)` as `add(index, number,
    body)`, the same bytes, the head of each index's hits made once (BulkSink.numbered's
    counterpart: the fast path's documents)."""
    write, dumps = out.write, orjson.dumps
    heads: dict[str, bytes] = {}
    # The id's JSON string, open: a number's digits need no escaping.
    open_id = dumps(id_prefix)[:-1]

    def add(index: str, number: int, body: bytes) -> None:
        head = heads.get(index)
        if head is None:
            head = heads[index] = b'{"_index":%b,"_id":%b' % (dumps(index), open_id)
        write(b'%b%d","_source":%b}\n' % (head, number, body))

    return add


def cmd_parse(args: argparse.Namespace) -> int:
    try:  # a bad setting (a rule that does not parse, an unknown source) is the user's to fix
        settings = _settings(args)
        pipeline = Pipeline(settings, LocalFiles(), None, StreamDeadLetters(), args.format)
    except ValueError as exc:
        print(f"logferry parse: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = sys.stdout.buffer
    add = _hit_writer(out)
    status = EXIT_OK
    for path in local_files(args.files):
        ref = ObjectRef(bucket="", key=str(path))
        try:
            reader, ctx = pipeline.open(ref)
        except (ObjectGone, OSError) as exc:
            print(f"{path}: cannot read: {exc}", file=sys.stderr)
            status = EXIT_USAGE
            continue
        with reader:
            if not reader.peek(1) and reader.problem is None:
                continue  # an empty file has nothing to parse
            fmt = pipeline.detect(ref, reader)
            if fmt is None:
                print(f"{path}: log format not recognised (use --format)", file=sys.stderr)
                status = EXIT_USAGE
                continue
            report = _ParseReport(path, args.show_dropped)
            lines = fmt.line_parser(reader, ctx)
            if lines is not None:
                # One entry per line: the pipeline's own loop, without the generator hops of
                # `documents` (on the 20 MB VPC flow object, 0.94 s of CPU against 1.13 s).
                send_lines(
                    pipeline,
                    ref,
                    fmt,
                    reader,
                    ctx,
                    lines,
                    add,
                    report.reject,
                    dropped=report.dropped,
                    add_numbered=_numbered_hit_writer(out, ref.identity + "-"),
                )
            else:
                for item in pipeline.documents(ref, fmt, reader, ctx, dropped=report.dropped):
                    if isinstance(item, Rejection):
                        report.reject(item)
                    else:
                        index, doc_id, doc = item
                        add(index, doc_id, orjson.dumps(doc.source))
            status = max(status, report.status)
            for rejection in reader.rejections:
                print(f"{path}:{rejection.position}: {rejection.reason}", file=sys.stderr)
                status = max(status, EXIT_REJECTED)
            take_over(reader, ctx)
            if reader.problem:
                print(f"{path}: {reader.problem}", file=sys.stderr)
                status = max(status, EXIT_REJECTED)
    out.flush()
    return status


# -- ingest -----------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest.local import ingest_here

    settings = _settings(args)
    reads_s3 = any(t.startswith("s3://") for t in args.targets)
    if args.workers < 1 or (args.workers > 1 and reads_s3):
        print(
            "logferry ingest: --workers N (1 or more) is for local files; for S3 objects, use"
            " logferry backfill",
            file=sys.stderr,
        )
        return EXIT_USAGE
    paths = None if reads_s3 else list(local_files(args.targets))
    tally = ingest_here(settings, args.targets, paths, args.workers, args.format)
    print(tally.summary(), file=sys.stderr)
    if tally.interrupted:
        print("logferry ingest: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_REJECTED if tally.failed else EXIT_OK


# -- backfill ---------------------------------------------------------------------------


def cmd_backfill(args: argparse.Namespace) -> int:
    """Stored objects announced to the ingest queue (logferry.backfill)."""
    import boto3

    from . import backfill

    try:
        selection = backfill.Selection(
            args.since, args.until, args.format, _settings(args).format_prefixes
        )
        backfill.parse_s3_uri(args.uri)
    except ValueError as exc:
        print(f"logferry backfill: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return backfill.command(
        boto3.client("s3"),
        None if args.dry_run else boto3.client("sqs"),
        args.uri,
        args.queue_url,
        selection,
        start_after=args.start_after,
        dry_run=args.dry_run,
        out=sys.stderr,
    )


# -- setup ------------------------------------------------------------------------------


def cmd_setup(args: argparse.Namespace) -> int:
    from . import provisioning
    from .output.client import make_client

    settings = _settings(args)
    for line in provisioning.apply(
        make_client(settings.opensearch_url, access=settings.cluster), settings
    ):
        print(line)
    return EXIT_OK


# -- search -----------------------------------------------------------------------------


def cmd_search(args: argparse.Namespace) -> int:
    """Mail transactions, newest first; exit 1 when none matched (as grep does)."""
    from .mail import search
    from .output.client import make_client

    settings = _settings(args)
    tz = settings.mail_timezone
    try:
        criteria = search.criteria_from(
            sender=args.sender,
            recipient=args.recipient,
            host=args.host,
            message_id=args.msgid,
            since=args.since,
            until=args.until,
            limit=args.limit,
            tz=tz,
        )
    except ValueError as exc:
        print(f"logferry search: {exc}", file=sys.stderr)
        return EXIT_USAGE
    hits = search.search(
        make_client(settings.opensearch_url, access=settings.cluster),
        settings.index_prefix,
        criteria,
    )
    if args.json:
        for hit in hits:
            sys.stdout.buffer.write(orjson.dumps({k: hit[k] for k in ("_index", "_id", "_source")}))
            sys.stdout.buffer.write(b"\n")
    elif hits:
        print(search.format_hits(hits, tz))
    return EXIT_OK if hits else EXIT_REJECTED


# -- replay -----------------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    """Dead-letter objects and DLQ messages through the pipeline again (idempotent)."""
    import boto3

    from .output.client import make_client
    from .replay import Replay

    settings = _settings(args)
    bucket = "" if args.no_deadletters else args.deadletter_bucket or settings.deadletter_bucket
    prefix = args.deadletter_prefix or settings.deadletter_prefix
    dlq_url = args.dlq_url or settings.resume.dlq_url
    if not bucket and not dlq_url:
        print(
            "logferry replay: nothing to replay: set LOGFERRY_DEADLETTER_BUCKET or"
            " --deadletter-bucket, and/or LOGFERRY_DLQ_URL or --dlq-url",
            file=sys.stderr,
        )
        return EXIT_USAGE
    settings = dataclasses.replace(settings, deadletter_bucket=bucket or settings.deadletter_bucket)
    replay = Replay(
        settings,
        boto3.client("s3"),
        make_client(settings.opensearch_url, access=settings.cluster),
        boto3.client("sqs") if dlq_url else None,
        progress=sys.stderr,
    )
    if bucket:
        replay.deadletters(bucket, prefix)
    if dlq_url:
        replay.queue(dlq_url)
    print(replay.summary.text(), file=sys.stderr)
    summary = replay.summary
    return EXIT_REJECTED if summary.failed or summary.gone or summary.rejected else EXIT_OK


# -- plan -------------------------------------------------------------------------------


def _gb_per_day(spec: str) -> dict[str, float]:
    """Parse "alb=200,vpcflow=40,nlb=1" (GB of logs a day per source)."""
    sources: dict[str, float] = {}
    for item in (part.strip() for part in spec.split(",")):
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            gb = float(value)
        except ValueError:
            gb = math.nan
        if not sep or not name or ":" in name or not math.isfinite(gb) or gb < 0:
            raise ValueError(f"--gb-per-day: expected source=GB (0 or more), got {item!r}")
        if name in sources:
            raise ValueError(f"--gb-per-day: {name} given twice")
        sources[name] = gb
    return sources


def cmd_plan(args: argparse.Namespace) -> int:
    """Index periods and primaries per source; exit 1 when the shards exceed the nodes' limit."""
    from .provisioning.planner import plan

    try:
        proposal = plan(
            _gb_per_day(args.gb_per_day),
            retention_days=args.retention_days,
            nodes=args.nodes,
            replicas=args.replicas,
            shards_per_node_limit=args.shards_per_node_limit,
        )
    except ValueError as exc:
        print(f"logferry plan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(proposal.as_json()) + b"\n")
    else:
        print(proposal.text())
    if not proposal.fits:
        print(
            f"logferry plan: {proposal.total_shards} shards over {proposal.retention_days} days"
            f" exceed the limit of {proposal.shard_limit} ({proposal.nodes} nodes x"
            f" {proposal.shards_per_node_limit}): more nodes, fewer replicas or fewer days",
            file=sys.stderr,
        )
        return EXIT_REJECTED
    return EXIT_OK


# -- main -------------------------------------------------------------------------------


def _day(text: str) -> date:
    from .backfill import parse_day

    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logferry", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def with_cluster(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--opensearch-url", help="default: $OPENSEARCH_URL or local")
        sub.add_argument("--index-prefix", help="default: $LOGFERRY_INDEX_PREFIX or 'logs'")

    names = ", ".join(FORMATS)
    parse = commands.add_parser("parse", help="print documents parsed from log files")
    parse.add_argument("--format", help=f"skip detection; one of: {names}")
    parse.add_argument("--index-prefix", help="default: $LOGFERRY_INDEX_PREFIX or 'logs'")
    parse.add_argument(
        "--show-dropped",
        action="store_true",
        help="print documents dropped by LOGFERRY_DROP or LOGFERRY_SAMPLE on stderr",
    )
    parse.add_argument("files", nargs="+", metavar="FILE")
    parse.set_defaults(func=cmd_parse)

    ingest = commands.add_parser("ingest", help="ingest local files or S3 objects")
    ingest.add_argument("--format", help=f"skip detection; one of: {names}")
    ingest.add_argument(
        "--workers", type=int, default=1, metavar="N", help="processes for local files (1)"
    )
    with_cluster(ingest)
    ingest.add_argument("targets", nargs="+", metavar="PATH|s3://bucket/prefix")
    ingest.set_defaults(func=cmd_ingest)

    refill = commands.add_parser(
        "backfill", help="announce objects already in S3 to the ingest queue (by day, format)"
    )
    refill.add_argument("uri", metavar="s3://BUCKET/PREFIX")
    refill.add_argument("--queue-url", required=True, metavar="URL", help="the ingest queue")
    refill.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="first day (included)")
    refill.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="last day (included)")
    refill.add_argument(
        "--format", metavar="NAME", help=f"only objects whose key says this format: {names}"
    )
    refill.add_argument("--dry-run", action="store_true", help="count and size; send nothing")
    refill.add_argument("--start-after", metavar="KEY", help="list after this key (resume)")
    refill.set_defaults(func=cmd_backfill)

    setup = commands.add_parser("setup", help="apply index template and retention policy")
    with_cluster(setup)
    setup.set_defaults(func=cmd_setup)

    find = commands.add_parser("search", help="find mail transactions (sender, recipient, ...)")
    find.add_argument("-f", "--from", dest="sender", help="sender address (* and ? match)")
    find.add_argument("-t", "--to", dest="recipient", help="recipient address")
    find.add_argument("-H", "--host", help="mail server (host.name)")
    find.add_argument("-m", "--msgid", help="Message-ID, with or without <>")
    find.add_argument("-d", "--since", help="from: YYYY-MM-DD[ HH:MM:SS], or 2h, 7d ago")
    find.add_argument("-D", "--until", help="until: YYYY-MM-DD[ HH:MM:SS], or 2h, 7d ago")
    find.add_argument("-n", "--limit", type=int, default=10, help="most recent N (10)")
    find.add_argument("--json", action="store_true", help="documents as JSON lines")
    with_cluster(find)
    find.set_defaults(func=cmd_search)

    replay = commands.add_parser(
        "replay", help="ingest dead-letter objects and DLQ messages again (safe to repeat)"
    )
    replay.add_argument("--deadletter-bucket", help="default: $LOGFERRY_DEADLETTER_BUCKET")
    replay.add_argument("--deadletter-prefix", help="default: $LOGFERRY_DEADLETTER_PREFIX")
    replay.add_argument("--no-deadletters", action="store_true", help="only the DLQ")
    replay.add_argument("--dlq-url", help="the ingest queue's DLQ; default: $LOGFERRY_DLQ_URL")
    with_cluster(replay)
    replay.set_defaults(func=cmd_replay)

    sizing = commands.add_parser(
        "plan", help="index period and primary shards per source, to size a domain"
    )
    sizing.add_argument(
        "--gb-per-day", required=True, metavar="SOURCE=GB,...", help="e.g. alb=200,nlb=1"
    )
    sizing.add_argument("--retention-days", type=int, default=90, help="default: 90")
    sizing.add_argument("--nodes", type=int, default=3, help="data nodes (3)")
    sizing.add_argument("--replicas", type=int, default=1, help="replicas per primary (1)")
    sizing.add_argument(
        "--shards-per-node-limit", type=int, default=1000, help="cluster.max_shards_per_node (1000)"
    )
    sizing.add_argument("--json", action="store_true", help="the plan as one JSON object")
    sizing.set_defaults(func=cmd_plan)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    keep_freed_memory()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "format", None) and args.format not in FORMATS:
        parser.error(f"unknown format {args.format!r} (known: {', '.join(FORMATS)})")
    try:
        code: int = args.func(args)
    except UnknownFormat as exc:
        print(f"logferry: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `logferry parse ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
