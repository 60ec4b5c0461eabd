"""The loop of an object with one entry per line, in one frame: line -> document (+ what
enrichment adds) -> index and id -> JSON -> the sink (`Pipeline._ingest_lines`, and `logferry
parse` with its own writers for a sink); and the fast path's set-up for it.

Invariant: the same documents, ids, rejections and drops as `Pipeline.documents` gives for the
object, fast path or not (tests/unit/test_fast_lines.py holds the bodies sent both ways equal).
Rejected: the generator chain of `documents` and `parse_entries` for these formats (two hops,
a Document and a tuple per line: on the 20 MB VPC flow object `logferry parse` took 1.13 s of
CPU through it against 0.94 s through this loop).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from ..enrich import Enrichment
from ..enrich.decision import DROP
from ..formats.base import LineParser, LogFormat, line_rejection
from ..formats.fast import FastLine, Learn, fast_lines
from ..model import Document, ObjectRef, ParseContext, Rejection, Source
from ..output.indices import IndexRouter
from .checkpoint import Unwatched, Watch
from .reader import LineReader

if TYPE_CHECKING:
    from .pipeline import Pipeline


def unwritable(position: int, source: Source, exc: Exception) -> Rejection:
    """The rejection of a document orjson cannot write (an integer beyond 64 bits)."""
    return Rejection(position, f"document cannot be written as JSON: {exc}", str(source)[:2048])


def _unruled(verdict: int, body: bytes, doc_id: str) -> bool:
    """The decision on a fast writer's verdict without rules: there is none (KEEP, 0)."""
    return True


def send_lines(
    pipeline: Pipeline,
    ref: ObjectRef,
    fmt: LogFormat,
    reader: LineReader,
    ctx: ParseContext,
    lines: LineParser,
    add: Callable[[str, str, bytes], None],
    reject: Callable[[Rejection], None],
    watch: Watch | Unwatched | None = None,
    router: IndexRouter | None = None,
    dropped: Callable[[str, str, Document], None] | None = None,
    add_numbered: Callable[[str, int, bytes], None] | None = None,
) -> tuple[int, int]:
    """The loop of `Pipeline._ingest_lines` (and of `logferry parse`) for a format with one
    entry per line: line -> document (+ what enrichment adds) -> index and id -> JSON ->
    `add(index, id, body)`; rejections to `reject`, what the rules drop to `dropped`. It
    does what `Pipeline.documents` and `parse_entries` do (same documents, ids and rejections)
    without their two generator hops, Document and tuple per line, and with the index name
    looked up by day. A drop rule that tests no enriched field is decided before the fill,
    so a document it drops costs no enrichment; `dropped` still gets it filled. Where a
    document needs nothing from Python but its cloud facts, GeoIP and user agents (no
    Organizations, no field exclusion, no `event.original`), a format's fast writer
    (logferry.formats.fast) writes the JSON of the lines it takes, the same bytes, given
    to `add_numbered(index, lineno, body)` when there is one (BulkSink.numbered); the
    writer decides drop and sample rules too (its verdict: logferry.enrich.decision).
    Returns the entries consumed (counted for the watch) and the documents dropped."""
    watch = watch or Unwatched()
    router = router or pipeline.router(fmt)
    take_header, parse_line = lines
    keep_original = ctx.keep_original
    id_prefix = ref.identity + "-"
    days, route = router.days, router.route  # YYYY-MM-DD -> index name
    dumps = orjson.dumps
    fill = pipeline.fill(ref, fmt)
    drop_first, keep = pipeline.decisions(fmt)
    assert pipeline.enrichment is not None
    (take_header, parse_line), fast, learn, keeps = fast_path(
        pipeline.enrichment,
        ref,
        fmt,
        ctx,
        lines,
        ruled=keep is not None or drop_first is not None,
        dropped_bodies=dropped is not None,
    )
    if add_numbered is None:

        def add_numbered(index: str, number: int, body: bytes) -> None:
            add(index, id_prefix + str(number), body)

    consumed = drops = 0
    at = watch.at
    for lineno, line in reader:
        if take_header is not None and take_header(line):
            continue
        # The fast path: the record's JSON written in one call. A line it declines, of a
        # day not seen yet, or where the watch looks, takes the Python path below.
        if fast is not None and consumed + 1 < at:
            written = fast(line)
            if written is not None:
                index = days.get(written[0][:10])
                if index is not None:
                    consumed += 1
                    body = written[1]
                    verdict = written[2]  # the rules': logferry.enrich.decision
                    if verdict:
                        if verdict == DROP and dropped is None:
                            drops += 1
                            continue
                        doc_id = id_prefix + str(lineno)
                        if not keeps(verdict, body, doc_id):
                            drops += 1
                            if dropped is not None:
                                doc = Document(orjson.loads(body), lineno)
                                dropped(index, doc_id, doc)
                            continue
                    add_numbered(index, lineno, body)
                    continue
        index = None
        gone = False
        try:
            source = parse_line(line)
        except Exception as exc:
            rejection = line_rejection(lineno, line, exc)
        else:
            if keep_original:
                source["event"]["original"] = line
            try:  # the index of a day seen before: a hit implies a valid @timestamp
                index = days[source["@timestamp"][:10]]
            except (KeyError, TypeError):  # a new day, or no valid @timestamp
                index, why = route(source.get("@timestamp"))
                if index is None:
                    rejection = Rejection(lineno, why, line)
            if drop_first is not None and index is not None and drop_first(source):
                gone = True
            elif fill is not None:
                fill(source)
                if learn is not None:
                    learn(source)
        consumed += 1
        if consumed >= at:  # only when watched: see checkpoint.Watch
            doc_id = id_prefix + str(lineno)
            item = rejection if index is None else (index, doc_id, Document(source, lineno))
            passed = watch.look(consumed, item)
            at = watch.at
            if passed:
                if watch.stop is not None:
                    break
                continue
        if index is None:
            reject(rejection)
            continue
        doc_id = id_prefix + str(lineno)
        if gone or (keep is not None and not keep(source, doc_id)):
            drops += 1
            if dropped is not None:
                if gone and fill is not None:
                    fill(source)  # shown as enriched as the other drops
                dropped(index, doc_id, Document(source, lineno))
            continue
        try:
            body = dumps(source)
        except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
            reject(unwritable(lineno, source, exc))
            continue
        add(index, doc_id, body)
    return consumed, drops


def fast_path(
    enrichment: Enrichment,
    ref: ObjectRef,
    fmt: LogFormat,
    ctx: ParseContext,
    lines: LineParser,
    ruled: bool,
    dropped_bodies: bool,
) -> tuple[LineParser, FastLine | None, Learn | None, Callable[[int, bytes, str], bool]]:
    """For `send_lines`: the object's line parser, its fast writer and what the writer
    learns (None, None when the documents need more than it writes: Organizations,
    exclusions, `event.original`), and the decision on a writer's verdict (the JSON of
    the documents it drops only with `dropped_bodies`)."""
    facts = enrichment.fast_facts(ref.key, fmt)
    decision = enrichment.json_decisions_for(fmt)
    if ctx.keep_original or facts is None or (ruled and decision is None):
        return lines, None, None, _unruled
    lines, fast, learn = fast_lines(
        fmt.name, lines, facts, rules=decision, dropped_bodies=dropped_bodies
    )
    return lines, fast, learn, _unruled if decision is None else decision.keeps
