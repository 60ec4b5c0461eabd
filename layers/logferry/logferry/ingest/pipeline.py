"""One object, end to end: open -> lines -> format -> documents -> bulk, and its outcome.

Every line read ends up counted as a document or a rejection; every object ends with one
outcome. Exceptions leave `ingest` only when trying again later can help (OpenSearch or S3
unavailable, access denied): the handler then returns the message to the queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Literal

import orjson

from ..config import Settings
from ..enrich import Drop, Enrichment, Fill, Keep
from ..formats import (
    FORMATS,
    MAIL_LOOKAHEAD,
    format_for_content,
    format_for_head,
    format_for_key,
    get_format,
    get_format_by_source,
    skip_reason,
)
from ..formats.base import LogFormat
from ..model import Document, ObjectRef, ParseContext, Rejection, Source, UnsupportedObject
from ..output.indices import IndexRouter, Window
from .checkpoint import Continuations, Unwatched, Watch
from .deadletter import DeadLetters, object_record
from .linewise import send_lines, unwritable
from .objects import ObjectGone, ObjectSource
from .reader import LineReader
from .segments import Segment, SegmentReader, deadletter_ref

if TYPE_CHECKING:  # the sinks bring the OpenSearch client: `logferry parse` starts without it
    from ..mail.merger import MailMerger
    from ..output.sink import BulkSink

log = logging.getLogger(__name__)


# What became of an object: every line indexed or rejected (`indexed`; `rejected` when not one
# line was indexed), not ingested (`skipped`: not a log; `empty`; `missing`: gone before it was
# read; `refused`: not in a source bucket; `unrecognised`: no format; `unsupported`: Parquet),
# read in part (`damaged`: corrupt, truncated, over the cap), or `continued` by a later
# invocation (logferry.ingest.checkpoint).
Outcome = Literal[
    "indexed",
    "rejected",
    "skipped",
    "empty",
    "missing",
    "refused",
    "unrecognised",
    "unsupported",
    "damaged",
    "continued",
]


@dataclass
class ObjectResult:
    ref: ObjectRef
    outcome: Outcome
    format: str | None = None
    lines: int = 0
    documents: int = 0
    rejected: int = 0
    # Documents not indexed by a drop or sample rule (logferry.enrich.decision): not rejections.
    dropped: int = 0
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


def _by_content(reader: LineReader) -> LogFormat | None:
    return format_for_head(reader.head_lines(MAIL_LOOKAHEAD))


def document_id(identity: str, doc: Document) -> str:
    if doc.doc_id is not None:
        return doc.doc_id
    if doc.sub:
        return f"{identity}-{doc.position}.{doc.sub}"
    return f"{identity}-{doc.position}"


def take_over(reader: LineReader, ctx: ParseContext) -> None:
    """What a format that reads the object whole reported of it becomes the reader's account
    (formats report into their context; only the pipeline touches the reader)."""
    if ctx.lines_read is not None:
        reader.lines_read = ctx.lines_read
    if ctx.problem is not None and reader.problem is None:
        reader.problem = ctx.problem


def _as_text(source: Source) -> str:
    """A document as the text of its rejection (formats that read whole objects have no line)."""
    try:
        return orjson.dumps(source).decode()
    except orjson.JSONEncodeError:
        return str(source)


@dataclass
class Pipeline:
    settings: Settings
    objects: ObjectSource
    sink: BulkSink | None  # None for a dry run (`logferry parse`)
    deadletters: DeadLetters
    format_name: str | None = None  # force a format instead of detecting it
    clock: Callable[[], float] = time.monotonic
    # Watches the time budget, checkpoints what cannot be finished (logferry.ingest.checkpoint);
    # None: every object is read to its end.
    continuations: Continuations | None = None
    # Today's date (UTC), from which the accepted window of event days is counted.
    today: Callable[[], date] = lambda: datetime.now(UTC).date()
    # A new merger for each object of a format that merges (`LogFormat.merges`: mail); such
    # objects cannot be ingested without one.
    mail: Callable[[], MailMerger] | None = None
    # What documents gain besides their record (account, region, organization); default: what
    # the settings ask for.
    enrichment: Enrichment | None = None

    def __post_init__(self) -> None:
        if self.enrichment is None:
            self.enrichment = Enrichment.from_settings(self.settings)
        for pattern, name in self.settings.log_groups:  # a bad setting fails at start
            if name not in FORMATS:
                raise ValueError(f"LOGFERRY_LOG_GROUPS: {pattern}={name}: unknown format {name!r}")

    def fill(self, ref: ObjectRef, fmt: LogFormat) -> Fill | None:
        """What one object's documents gain (None: nothing)."""
        assert self.enrichment is not None
        return self.enrichment.for_object(ref.key, fmt)

    def keep(self, fmt: LogFormat) -> Keep | None:
        """Which of a format's documents are indexed, and without which fields (None: all,
        whole): asked after the fill, so that rules see enriched fields."""
        assert self.enrichment is not None
        return self.enrichment.keep_for(fmt)

    def decisions(self, fmt: LogFormat) -> tuple[Drop | None, Keep | None]:
        """`keep` in two: the drops decided on the record before the fill, the rest after."""
        assert self.enrichment is not None
        return self.enrichment.decisions_for(fmt)

    def router(self, fmt: LogFormat) -> IndexRouter:
        """The index names of one object's entries, within the accepted window and cap, cut as
        the source's layout says (LOGFERRY_INDEX_LAYOUT)."""
        settings = self.settings
        window = Window(self.today(), settings.days_back, settings.accept_days_ahead)
        return IndexRouter(
            settings.index_prefix,
            fmt.index_source,
            window,
            settings.max_indices_per_object,
            layout=settings.index_layout,
            # Serverless keeps its collection's indices by a lifecycle policy: no day in the
            # name, but for mail, whose merger looks transactions up day by day.
            dated=not settings.serverless or fmt.merges,
        )

    def documents(
        self,
        ref: ObjectRef,
        fmt: LogFormat,
        reader: LineReader,
        ctx: ParseContext,
        router: IndexRouter | None = None,
        dropped: Callable[[str, str, Document], None] | None = None,
    ) -> Iterator[tuple[str, str, Document] | Rejection]:
        """Parsed entries with their index and id, for the sink (and for `logferry parse`).
        With `dropped`, the drop and sample rules apply here, and what they drop goes to it
        (index, id, document) instead (the pipeline applies them itself, after its watch: see
        `_ingest_lines`)."""
        router = router or self.router(fmt)
        days, route = router.days, router.route
        identity = ref.identity
        fill = self.fill(ref, fmt)
        keep = self.keep(fmt) if dropped is not None else None
        # Entries of other formats carried inside this one (CloudWatch Logs subscription data)
        # go under their own format's indices.
        inner: dict[str, IndexRouter] = {}
        for item in fmt.parse_object(reader, ctx):
            if isinstance(item, Rejection):
                yield item
                continue
            if fill is not None:
                fill(item.source)
            if item.index_source is not None and item.index_source != fmt.index_source:
                carried = inner.get(item.index_source)
                if carried is None:
                    carried = inner[item.index_source] = self.router(
                        get_format_by_source(item.index_source)
                    )
                days, route = carried.days, carried.route
            else:
                days, route = router.days, router.route
            ts = item.source.get("@timestamp")
            try:  # a day seen before: a hit implies a valid @timestamp
                index: str | None = days[ts[:10]]  # type: ignore[index]
            except (KeyError, TypeError):
                index, why = route(ts)
                if index is None:
                    yield Rejection(item.position, why, _as_text(item.source))
                    continue
            assert index is not None
            doc_id = document_id(identity, item)
            if keep is not None and not keep(item.source, doc_id):
                assert dropped is not None
                dropped(index, doc_id, item)
                continue
            yield index, doc_id, item

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
        settings = self.settings
        ctx = ParseContext(
            ref,
            object_time,
            keep_original=settings.keep_original,
            timezone=settings.mail_timezone,
            mail_queue_days=settings.mail_queue_days,
            log_groups=settings.log_groups,
        )
        return reader, ctx

    def detect(self, ref: ObjectRef, reader: LineReader) -> LogFormat | None:
        """The forced format, else a configured key prefix's, else the format of AWS's key
        layout, else the first line's (read by peeking). The key layout yields to the content
        when its format does not recognise the first line and another format does: a key is
        only a name, and whoever writes to the bucket chooses it."""
        if self.format_name:
            return get_format(self.format_name)
        for prefix, name in self.settings.format_prefixes:
            if ref.key.startswith(prefix):
                return get_format(name)
        fmt = format_for_key(ref.key)
        if fmt is None:
            return _by_content(reader)
        first_line = reader.first_line()
        if first_line is not None and not fmt.matches_content(first_line):
            by_content = format_for_content(first_line)
            if by_content is not None:
                log.warning(
                    "format of the content, not of the key",
                    extra={"object": ref.uri, "key_format": fmt.name, "format": by_content.name},
                )
                return by_content
        return fmt

    def is_source(self, bucket: str) -> bool:
        """Whether objects of `bucket` may be read (LOGFERRY_SOURCE_BUCKETS; local files are)."""
        patterns = self.settings.source_buckets
        return not patterns or not bucket or any(fnmatchcase(bucket, p) for p in patterns)

    def ingest(self, ref: ObjectRef, segment: Segment | None = None) -> ObjectResult:
        started = self.clock()
        try:
            result = self._ingest(ref, segment)
        finally:
            if self.sink is not None:
                self.sink.spill = None  # the object's dead letters are written, or it failed
        result.seconds = round(self.clock() - started, 3)
        log.info("object done", extra={"result": result.as_log()})
        return result

    def _ingest(self, ref: ObjectRef, segment: Segment | None = None) -> ObjectResult:
        if not self.is_source(ref.bucket):
            problem = f"bucket {ref.bucket!r} is not a configured source (LOGFERRY_SOURCE_BUCKETS)"
            return self._not_read(ref, segment, "refused", problem)
        reason = None if self.format_name or segment else skip_reason(ref.key)
        if reason:
            return ObjectResult(ref, "skipped", problem=reason)
        try:
            reader, ctx = self.open(ref, segment)
        except ObjectGone as exc:
            problem = str(exc)
            if segment is not None and segment.part is not None:
                # The work part expired before its continuation ran: its lines are unread.
                problem = (
                    f"work part {segment.part.uri} is gone: lines from {segment.resume_line} of"
                    f" {ref.uri} were not read ({exc})"
                )
            return self._not_read(ref, segment, "missing", problem)
        try:
            return self._ingest_lines(ref, reader, ctx, segment)
        finally:
            reader.close()

    def _not_read(
        self, ref: ObjectRef, segment: Segment | None, outcome: Outcome, problem: str
    ) -> ObjectResult:
        """An object not read at all, kept as an `object` dead letter saying why (so that
        `logferry replay` takes it through again once the cause is gone)."""
        result = ObjectResult(ref, outcome, problem=problem)
        fmt = segment.format if segment else None
        result.dead_lettered = self.deadletters.write(
            deadletter_ref(ref, segment), "object", [object_record(ref, fmt, problem)]
        )
        return result

    def _ingest_lines(
        self, ref: ObjectRef, reader: LineReader, ctx: ParseContext, segment: Segment | None = None
    ) -> ObjectResult:
        result = ObjectResult(ref, "indexed")
        if not reader.peek(1) and reader.problem is None:
            result.outcome = "empty"
            return result
        fmt = get_format(segment.format) if segment else self.detect(ref, reader)
        if fmt is None:
            problem = "log format could not be determined from the key or first line"
            return self._not_read(ref, segment, "unrecognised", problem)
        result.format = fmt.name
        sink = self.sink
        if sink is None:
            raise RuntimeError("Pipeline.ingest needs a sink")
        # Each segment of a continued object keeps its dead letters in a file of its own.
        kept_as = deadletter_ref(ref, segment)
        letters = self.deadletters.lines(kept_as, ref, fmt.name, self.settings.max_rejections_kept)
        reader.reject = letters.add
        refused = self.deadletters.documents(kept_as, ref, fmt.name)
        # Left over only by an object that ended in an exception: it is read again later.
        sink.failures.clear()
        sink.spill = refused.add
        router = self.router(fmt)
        indexed_before = sink.stats.indexed
        # Parts of an entity spread over objects (mail transactions) are merged with what is
        # indexed instead of overwriting it: such a format's parts go to a merger, not the sink.
        merger = None
        if fmt.merges:
            if self.mail is None:
                raise RuntimeError(f"format {fmt.name} merges: Pipeline.ingest needs `mail`")
            merger = self.mail()
        watch: Watch | Unwatched = (
            self.continuations.watch(ref, segment, fmt, reader)
            if self.continuations is not None and isinstance(reader, SegmentReader)
            else Unwatched()
        )
        consumed = 0
        try:
            lines = fmt.line_parser(reader, ctx) if merger is None else None
            if lines is not None:
                consumed, result.dropped = send_lines(
                    self,
                    ref,
                    fmt,
                    reader,
                    ctx,
                    lines,
                    sink.add,
                    letters.add,
                    watch,
                    router,
                    add_numbered=sink.numbered(ref.identity + "-"),
                )
            else:
                at = watch.at
                keep = self.keep(fmt)
                for item in self.documents(ref, fmt, reader, ctx, router):
                    consumed += 1
                    if consumed >= at:  # only when watched: see checkpoint.Watch
                        passed = watch.look(consumed, item)
                        at = watch.at
                        if passed:
                            if watch.stop is not None:
                                break
                            continue
                    if isinstance(item, Rejection):
                        letters.add(item)
                    elif keep is not None and not keep(item[2].source, item[1]):
                        result.dropped += 1
                    elif merger is not None and merger.takes(item[2]):
                        merger.add(item[2])
                    else:
                        index, doc_id, doc = item
                        try:
                            body = orjson.dumps(doc.source)
                        except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
                            letters.add(unwritable(doc.position, doc.source, exc))
                            continue
                        sink.add(index, doc_id, body)
        except UnsupportedObject as exc:
            result.outcome = "unsupported"
            result.problem = str(exc)
        take_over(reader, ctx)
        merged = 0  # documents the merger indexed (it counts on its own)
        if merger is not None:
            merger.flush()
            refused.add(merger.failures)
            merged = merger.stats.indexed
        sink.flush()
        sink.spill_failures()
        if watch.stop is not None:  # out of time: every entry before `stop` is done
            done = sink.stats.indexed - indexed_before + merged
            result.extra.update(watch.suspend(watch.stop, consumed, done))
            result.outcome = "continued"
        result.documents = sink.stats.indexed - indexed_before + merged
        result.lines = reader.lines_read
        result.bytes_in, result.bytes_out = reader.bytes_in, reader.bytes_out
        result.rejected = letters.rejected
        result.dead_lettered += letters.close()
        if reader.invalid_utf8_lines:
            result.extra["invalid_utf8_lines"] = reader.invalid_utf8_lines
        result.dead_lettered += refused.close()
        if refused.failed:
            result.extra["failed_documents"] = refused.failed
        if (
            result.outcome == "indexed"
            and not result.documents
            and not result.dropped
            and (result.rejected or refused.failed)
        ):
            result.outcome = "rejected"  # not one line indexed
        if reader.problem and result.problem is None:
            result.outcome = "damaged"
            result.problem = reader.problem
        if result.problem:
            result.dead_lettered += self.deadletters.write(
                kept_as, "object", [object_record(ref, fmt.name, result.problem)]
            )
        return result
