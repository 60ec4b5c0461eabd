"""One object, end to end: open -> lines -> format -> documents -> bulk, and its outcome.

Every line read ends up counted as a document or a rejection; every object ends with one
outcome. Exceptions leave `ingest` only when trying again later can help (OpenSearch or S3
unavailable, access denied): the handler then returns the message to the queue.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

import orjson

from .checkpoint import Continuations, Segment, SegmentReader, deadletter_ref
from .config import Settings
from .deadletter import DeadLetters, document_record, line_record, object_record
from .formats import format_for_content, format_for_key, get_format, skip_reason
from .formats.base import LineParser, LogFormat, line_rejection
from .model import Document, ObjectRef, ParseContext, Rejection, Source, UnsupportedObject
from .reader import LineReader, Readable
from .sink import BulkSink

log = logging.getLogger(__name__)


class ObjectUnavailable(Exception):
    """The object could not be fetched now (access denied, throttled): retry later."""


class ObjectGone(Exception):
    """The object no longer exists (deleted before we read it): nothing to retry."""


@dataclass
class OpenedObject:
    stream: Readable | BinaryIO
    last_modified: datetime | None


class ObjectSource(Protocol):
    def open(self, ref: ObjectRef) -> OpenedObject: ...


class S3Objects:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def open(self, ref: ObjectRef) -> OpenedObject:
        args: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            args["VersionId"] = ref.version_id
        try:
            response = self._s3.get_object(**args)
        except self._s3.exceptions.NoSuchKey:
            raise ObjectGone(f"{ref.uri} does not exist (deleted?)") from None
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchVersion", "NoSuchBucket"):
                raise ObjectGone(f"{ref.uri}: {code}") from None
            raise ObjectUnavailable(f"{ref.uri}: {code or type(exc).__name__}: {exc}") from exc
        return OpenedObject(response["Body"], response.get("LastModified"))


class LocalFiles:
    def open(self, ref: ObjectRef) -> OpenedObject:
        try:
            stream = open(ref.key, "rb")  # noqa: SIM115 - closed by the pipeline
        except FileNotFoundError:
            raise ObjectGone(f"{ref.key} does not exist") from None
        mtime = datetime.fromtimestamp(os.fstat(stream.fileno()).st_mtime, UTC)
        return OpenedObject(stream, mtime)


@dataclass
class ObjectResult:
    ref: ObjectRef
    # indexed | skipped | empty | missing | unrecognised | unsupported | damaged
    outcome: str
    format: str | None = None
    lines: int = 0
    documents: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_log(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("ref", "extra")}
        data["object"] = self.ref.uri
        data.update(self.extra)
        return data


def _by_content(first_line: str | None) -> LogFormat | None:
    return None if first_line is None else format_for_content(first_line)


def index_name(prefix: str, source: str, timestamp: str) -> str:
    # @timestamp is ISO 8601 (YYYY-MM-DD...): the entry's own UTC day names its index.
    return f"{prefix}-{source}-{timestamp[0:4]}.{timestamp[5:7]}.{timestamp[8:10]}"


def document_id(identity: str, doc: Document) -> str:
    if doc.doc_id is not None:
        return doc.doc_id
    if doc.sub:
        return f"{identity}-{doc.position}.{doc.sub}"
    return f"{identity}-{doc.position}"


NO_TIMESTAMP = "document without a valid @timestamp"


def _day_index(indices: dict[str, str], ts: object, prefix: str, source: str) -> str | None:
    """The index of the day of `ts` (remembered in `indices`, by YYYY-MM-DD), or None when it
    is no valid @timestamp (not a string of at least a date)."""
    if not isinstance(ts, str) or len(ts) < 10:
        return None
    if len(indices) >= 4096:  # hostile objects with a new day per line
        indices.clear()
    index = indices[ts[:10]] = index_name(prefix, source, ts)
    return index


def _unwritable(position: int, source: Source, exc: Exception) -> Rejection:
    return Rejection(position, f"document cannot be written as JSON: {exc}", str(source)[:2048])


class _Attention:
    """When the entry loop of `_ingest_lines` must stop and look, for a watched object
    (checkpoint.Continuations): the entries an earlier invocation handled are passed over,
    and every `check_every` entries the time budget is checked. The loop compares its entry
    count with `at` and calls `look` only when it is reached; unwatched, never."""

    def __init__(self, watch: Continuations | None, skip: int, context: tuple[Any, ...]) -> None:
        self.watch = watch
        self.skip = skip
        self.context = context  # (ref, segment, fmt, reader), for watch.next_check
        self.stop: tuple[str, str, Document] | Rejection | None = None
        # The first look at the clock comes after some progress, so every invocation moves on.
        self.look_at = skip + watch.check_every if watch is not None else 0
        self.at = (1 if skip else self.look_at) if watch is not None else sys.maxsize

    def look(self, consumed: int, item: tuple[str, str, Document] | Rejection) -> bool:
        """Whether to pass over `item`, the `consumed`-th entry: handled by an earlier
        invocation, or out of time (then `stop` is set, and the loop ends before it)."""
        if consumed <= self.skip:
            return True  # handled by an earlier invocation
        self.at = self.look_at
        if consumed < self.look_at:
            return False
        assert self.watch is not None
        ref, segment, fmt, reader = self.context
        self.look_at = self.at = self.watch.next_check(consumed, item, ref, segment, fmt, reader)
        if not self.look_at:
            self.stop = item
            return True
        return False


@dataclass
class Pipeline:
    settings: Settings
    objects: ObjectSource
    sink: BulkSink | None  # None for a dry run (`logferry parse`)
    deadletters: DeadLetters
    format_name: str | None = None  # force a format instead of detecting it
    clock: Callable[[], float] = time.monotonic
    # Watches the time budget, checkpoints what cannot be finished (logferry.checkpoint);
    # None: every object is read to its end.
    continuations: Continuations | None = None

    def documents(
        self, ref: ObjectRef, fmt: LogFormat, reader: LineReader, ctx: ParseContext
    ) -> Iterator[tuple[str, str, Document] | Rejection]:
        """Parsed entries with their index and id, for the sink (and for `logferry parse`)."""
        prefix = self.settings.index_prefix
        source = fmt.index_source
        identity = ref.identity
        for item in fmt.parse_object(reader, ctx):
            if isinstance(item, Rejection):
                yield item
                continue
            ts = item.source.get("@timestamp")
            if not isinstance(ts, str) or len(ts) < 10:
                yield Rejection(item.position, NO_TIMESTAMP, "")
                continue
            yield index_name(prefix, source, ts), document_id(identity, item), item

    def open(
        self, ref: ObjectRef, segment: Segment | None = None
    ) -> tuple[LineReader, ParseContext]:
        """The object's reader; a continuation's segment reads its part, from its line."""
        opened = self.objects.open(segment.part if segment and segment.part else ref)
        caps = {
            "max_object_bytes": self.settings.max_object_bytes,
            "max_line_bytes": self.settings.max_line_bytes,
        }
        reader = (
            SegmentReader(opened.stream, segment, **caps)
            if segment is not None or self.continuations is not None
            else LineReader(opened.stream, **caps)
        )
        object_time = opened.last_modified or ref.event_time or datetime.now(UTC)
        ctx = ParseContext(ref, object_time, keep_original=self.settings.keep_original)
        return reader, ctx

    def detect(self, ref: ObjectRef, reader: LineReader) -> LogFormat | None:
        """The forced format, else the key's, else the first line's (read by peeking)."""
        if self.format_name:
            return get_format(self.format_name)
        fmt = format_for_key(ref.key, self.settings.format_prefixes)
        return fmt or _by_content(reader.first_line())

    def ingest(self, ref: ObjectRef, segment: Segment | None = None) -> ObjectResult:
        started = self.clock()
        result = self._ingest(ref, segment)
        result.seconds = round(self.clock() - started, 3)
        log.info("object done", extra={"result": result.as_log()})
        return result

    def _ingest(self, ref: ObjectRef, segment: Segment | None = None) -> ObjectResult:
        reason = None if self.format_name or segment else skip_reason(ref.key)
        if reason:
            return ObjectResult(ref, "skipped", problem=reason)
        try:
            reader, ctx = self.open(ref, segment)
        except ObjectGone as exc:
            return ObjectResult(ref, "missing", problem=str(exc))
        try:
            return self._ingest_lines(ref, reader, ctx, segment)
        finally:
            reader.close()

    def _send_lines(
        self,
        ref: ObjectRef,
        fmt: LogFormat,
        reader: LineReader,
        ctx: ParseContext,
        lines: LineParser,
        sink: BulkSink,
        rejections: list[Rejection],
        attention: _Attention,
    ) -> int:
        """The loop of `_ingest_lines` for a format with one entry per line, in one frame:
        line -> document -> index and id -> JSON -> sink. It does what `documents` and
        `parse_entries` do (same documents, ids and rejections) without their two generator
        hops, Document and tuple per line, and with the index name looked up by day.
        Returns the entries consumed (counted for the watch)."""
        take_header, parse_line = lines
        keep_original = ctx.keep_original
        index_prefix, source_name = self.settings.index_prefix, fmt.index_source
        id_prefix = ref.identity + "-"
        indices: dict[str, str] = {}  # YYYY-MM-DD -> index name
        dumps, add, reject = orjson.dumps, sink.add, rejections.append
        consumed = 0
        at = attention.at
        for lineno, line in reader:
            if take_header is not None and take_header(line):
                continue
            try:
                source = parse_line(line)
            except Exception as exc:
                rejection = line_rejection(lineno, line, exc)
            else:
                if keep_original:
                    source["event"]["original"] = line
                try:  # the index of a day seen before: a hit implies a valid @timestamp
                    index: str | None = indices[source["@timestamp"][:10]]
                except (KeyError, TypeError):  # a new day, or no valid @timestamp
                    index = _day_index(indices, source.get("@timestamp"), index_prefix, source_name)
                if index is not None:
                    doc_id = id_prefix + str(lineno)
                    consumed += 1
                    if consumed >= at:  # only when watched: see _Attention
                        passed = attention.look(consumed, (index, doc_id, Document(source, lineno)))
                        at = attention.at
                        if passed:
                            if attention.stop is not None:
                                break
                            continue
                    try:
                        body = dumps(source)
                    except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
                        reject(_unwritable(lineno, source, exc))
                        continue
                    add(index, doc_id, body)
                    continue
                rejection = Rejection(lineno, NO_TIMESTAMP, "")
            consumed += 1
            if consumed >= at:
                passed = attention.look(consumed, rejection)
                at = attention.at
                if passed:
                    if attention.stop is not None:
                        break
                    continue
            reject(rejection)
        return consumed

    def _ingest_lines(
        self, ref: ObjectRef, reader: LineReader, ctx: ParseContext, segment: Segment | None = None
    ) -> ObjectResult:
        result = ObjectResult(ref, "indexed")
        if not reader.peek(1) and reader.problem is None:
            result.outcome = "empty"
            return result
        fmt = get_format(segment.format) if segment else self.detect(ref, reader)
        if fmt is None:
            result.outcome = "unrecognised"
            result.problem = "log format could not be determined from the key or first line"
            result.dead_lettered = self.deadletters.write(
                ref, "object", [object_record(ref, None, result.problem)]
            )
            return result
        result.format = fmt.name
        sink = self.sink
        if sink is None:
            raise RuntimeError("Pipeline.ingest needs a sink")
        rejections: list[Rejection] = []
        indexed_before, failed_before = sink.stats.indexed, len(sink.failures)
        # Parts of an entity spread over objects (mail transactions) are merged with what is
        # indexed instead of overwriting it: such a format hands its merger the documents.
        merger = fmt.merger(sink, self.settings.index_prefix)
        watch = self.continuations if isinstance(reader, SegmentReader) else None
        skip = segment.skip_items if segment else 0
        attention = _Attention(watch, skip, (ref, segment, fmt, reader))
        consumed = 0
        try:
            lines = fmt.line_parser(reader, ctx) if merger is None else None
            if lines is not None:
                consumed = self._send_lines(
                    ref, fmt, reader, ctx, lines, sink, rejections, attention
                )
            else:
                at = attention.at
                for item in self.documents(ref, fmt, reader, ctx):
                    consumed += 1
                    if consumed >= at:  # only when watched: see _Attention
                        passed = attention.look(consumed, item)
                        at = attention.at
                        if passed:
                            if attention.stop is not None:
                                break
                            continue
                    if isinstance(item, Rejection):
                        rejections.append(item)
                    elif merger is not None:
                        merger.add(*item)
                    else:
                        index, doc_id, doc = item
                        try:
                            body = orjson.dumps(doc.source)
                        except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
                            rejections.append(_unwritable(doc.position, doc.source, exc))
                            continue
                        sink.add(index, doc_id, body)
        except UnsupportedObject as exc:
            result.outcome = "unsupported"
            result.problem = str(exc)
        if merger is not None:
            merger.flush()
        sink.flush()
        stop = attention.stop
        if stop is not None:  # out of time: every entry before `stop` is done
            assert watch is not None and isinstance(reader, SegmentReader)
            done = sink.stats.indexed - indexed_before
            result.extra.update(watch.suspend(ref, segment, fmt, reader, stop, consumed, done))
            result.outcome = "continued"
        rejections.extend(reader.rejections)
        failures = sink.failures[failed_before:]
        del sink.failures[failed_before:]
        result.documents = sink.stats.indexed - indexed_before
        result.lines = reader.lines_read
        result.bytes_in, result.bytes_out = reader.bytes_in, reader.bytes_out
        result.rejected = len(rejections)
        if reader.invalid_utf8_lines:
            result.extra["invalid_utf8_lines"] = reader.invalid_utf8_lines
        # Each segment of a continued object keeps its dead letters in a file of its own.
        kept_as = deadletter_ref(ref, segment)
        if rejections:
            result.dead_lettered += self.deadletters.write(
                kept_as, "line", (line_record(ref, fmt.name, r) for r in rejections)
            )
        if failures:
            result.extra["failed_documents"] = len(failures)
            result.dead_lettered += self.deadletters.write(
                kept_as, "document", (document_record(ref, fmt.name, f) for f in failures)
            )
        if reader.problem and result.problem is None:
            result.outcome = "damaged"
            result.problem = reader.problem
        if result.problem:
            result.dead_lettered += self.deadletters.write(
                kept_as, "object", [object_record(ref, fmt.name, result.problem)]
            )
        return result
