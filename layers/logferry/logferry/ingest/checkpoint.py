"""Objects too big for one invocation: checkpoint where the time budget ran out, continue later.

The ingest function watches the Lambda's remaining time. When it is about to run out in the
middle of an object, the object is checkpointed (the object, the line reached, the documents
sent so far) and a continuation message goes to the ingest queue; the message being processed
is acknowledged only once the continuation is enqueued. A function killed without warning
never gets that far: its message comes back from SQS and the object is ingested again under
the same deterministic ids, so the worst case costs time, never a duplicate or a lost line.

Where a continuation starts reading, by format:

- Line formats (every line parses on its own: LineFormat, or a format declaring
  `resume = "lines"`): the first invocation *spills* the rest of the object. gzip cannot be
  entered mid-stream (zlib cannot save an inflate state or start inside a member, and most log
  objects are a single member), and inflating is cheap next to parsing (the reader inflates
  ~1 GB/s with isal and parses 50-100 MB/s). So the invocation that stops keeps inflating the
  object from where it is, cuts the decompressed rest at line boundaries into gzip *parts* of
  about LOGFERRY_PART_BYTES (64 MiB) decompressed, writes them under LOGFERRY_WORK_PREFIX in the
  work bucket (each tagged with the original object and the number of its first line) and
  enqueues one continuation per part. Parts are continued in parallel; their documents keep
  the original object's ids because the line numbers are the object's own. A continuation that
  itself runs out of time checkpoints a line inside its part and re-reads at most that part
  (skipping, without parsing, the lines already done). So no continuation ever reads the
  original object again, and no invocation re-reads more than one part.
  The stop is decided early enough to spill: the invocation stops parsing when the time left
  falls under the reserve plus the estimated time to copy the rest (compressed bytes left /
  LOGFERRY_SPILL_BYTES_PER_SECOND, 20 MB/s by default, S3 being the bottleneck).
  A line-number offset with a skip from byte 0 on every continuation was rejected: an 8 GiB
  object continued ten times would be inflated ten times. Checkpoints at gzip member
  boundaries were rejected too: ELB, CloudFront and VPC objects are single-member.
- Any other format (JSON streams such as CloudTrail, formats with header or multi-line state):
  lines cannot be cut apart safely, so the checkpoint counts the entries already handled and
  the continuation reads the object again from the start, skipping (neither sending nor
  recording) that many entries. These objects are small (one per delivery interval).

Parts are left in place when done (a continuation delivered again must find its part); a
lifecycle rule on the work prefix (longer than the queue's retention) removes them.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from ..config import ResumeSettings
from ..formats import get_format
from ..formats.base import LineFormat, LogFormat
from ..model import Document, ObjectRef, Rejection
from .notifications import CONTINUATION, object_fields, ref_from_fields
from .reader import LineReader, ObjectProblem, Readable

log = logging.getLogger(__name__)

_zlib: Any = zlib
try:  # isal compresses at ~1.5 GB/s at level 1, so a spill is bound by S3, not the CPU.
    from isal import isal_zlib

    _zlib = isal_zlib
except ImportError:  # pragma: no cover - isal is optional
    pass

LINES = "lines"  # continue from a line: the rest is spilled into parts
STREAM = "stream"  # continue by re-reading the object and skipping the entries done
MESSAGE_VERSION = 1
SEND_BATCH = 10  # SQS SendMessageBatch limit


class BudgetSpent(Exception):
    """Too little time left in this invocation; the queue delivers the message again."""


def resume_mode(fmt: LogFormat) -> str:
    """How an object of this format is continued (a format may declare `resume`)."""
    declared = getattr(fmt, "resume", None)
    if declared in (LINES, STREAM):
        return str(declared)
    if isinstance(fmt, LineFormat) and type(fmt).parse is LineFormat.parse:
        # parse_line sees one line and nothing else: any line can start a continuation.
        return LINES
    return STREAM


@dataclass(frozen=True)
class Segment:
    """Where one invocation reads an object: from a part or the object, from which line."""

    format: str
    mode: str = LINES
    # The work object holding lines first_line.. of the object; None: the object itself.
    part: ObjectRef | None = None
    first_line: int = 1
    # Lines before this one are done: they are skipped (inflated, not parsed).
    resume_line: int = 1
    # STREAM mode: entries (documents and rejections) already handled, in parse order.
    skip_items: int = 0
    # Documents sent by the invocations before this one (for the logs).
    documents: int = 0
    # How many checkpoints led here.
    round: int = 0

    def label(self) -> str:
        return f"item{self.skip_items}" if self.mode == STREAM else f"line{self.resume_line}"


def deadletter_ref(ref: ObjectRef, segment: Segment | None) -> ObjectRef:
    """The name dead letters of one segment are kept under: each segment writes its own file
    (the records inside still name the original object)."""
    if segment is None:
        return ref
    return dataclasses.replace(ref, key=f"{ref.key}#{segment.label()}")


def continuation_message(ref: ObjectRef, segment: Segment) -> dict[str, Any]:
    part = segment.part
    return {
        "logferry": CONTINUATION,
        "version": MESSAGE_VERSION,
        "object": object_fields(ref),
        "format": segment.format,
        "mode": segment.mode,
        "part": None if part is None else {"bucket": part.bucket, "key": part.key},
        "first_line": segment.first_line,
        "resume_line": segment.resume_line,
        "skip_items": segment.skip_items,
        "documents": segment.documents,
        "round": segment.round,
    }


# Bounds of a continuation's numbers: far beyond any real object (8 GiB of one-byte lines is
# 2**32 lines), well inside what JSON and the counters carry.
_MAX_POSITION = 1 << 40
MAX_ROUNDS = 10_000


def segment_from_message(
    message: dict[str, Any], settings: ResumeSettings | None = None
) -> tuple[ObjectRef, Segment]:
    """The object and segment a continuation message names; KeyError, TypeError or ValueError
    if it is damaged or not one logferry could have written.

    Continuations are checked, not signed: one names an object, which must still be in a
    source bucket (Pipeline.is_source), and at most a work part, which must lie in the work
    bucket under that object's own prefix (WorkParts.key_for). So a forged continuation can
    ask for no more than a forged S3 notification could, and the stack needs no key to keep.
    """
    part = message.get("part")
    ref = ref_from_fields(message["object"])
    segment = Segment(
        format=str(message["format"]),
        mode=str(message.get("mode", LINES)),
        part=None if not part else ObjectRef(str(part["bucket"]), str(part["key"])),
        first_line=int(message.get("first_line", 1)),
        resume_line=int(message.get("resume_line", 1)),
        skip_items=int(message.get("skip_items", 0)),
        documents=int(message.get("documents", 0)),
        round=int(message.get("round", 0)),
    )
    if not isinstance(ref.bucket, str) or not isinstance(ref.key, str) or not ref.key:
        raise ValueError("its object has no bucket and key")
    get_format(segment.format)  # UnknownFormat is a LookupError: KeyError's kin
    if segment.mode not in (LINES, STREAM):
        raise ValueError(f"unknown mode {segment.mode!r}")
    if not 1 <= segment.first_line <= segment.resume_line < _MAX_POSITION:
        raise ValueError(f"lines out of range: {segment.first_line}, {segment.resume_line}")
    if not (0 <= segment.skip_items < _MAX_POSITION and 0 <= segment.documents < _MAX_POSITION):
        raise ValueError("counts out of range")
    if not 0 <= segment.round <= MAX_ROUNDS:
        raise ValueError(f"round {segment.round} out of range")
    if segment.part is not None:
        work = settings or ResumeSettings()
        prefix = f"{work.work_prefix}{ref.identity}/"
        if segment.part.bucket != work.work_bucket or not segment.part.key.startswith(prefix):
            raise ValueError(
                f"part {segment.part.uri} is not a work part of {ref.uri}"
                f" (s3://{work.work_bucket}/{prefix}...)"
            )
    return ref, segment


# -- reading a segment -----------------------------------------------------------------------


class SegmentReader(LineReader):
    """A LineReader that numbers a part's lines as the object's, skips the lines done, and can
    hand over the rest of the decompressed stream from any line it has yielded (`rest`)."""

    def __init__(
        self,
        stream: Readable | BinaryIO,
        segment: Segment | None = None,
        *,
        max_object_bytes: int = 8 * 1024**3,
        max_line_bytes: int = 1024**2,
    ) -> None:
        first = segment.first_line if segment is not None and segment.part is not None else 1
        resume = max(
            first, segment.resume_line if segment is not None and segment.mode == LINES else 1
        )
        self.offset = first - 1
        self.resume_line = resume
        self._stopped_before: int | None = None
        self._lines_raw = 0
        super().__init__(
            stream,
            max_object_bytes=max_object_bytes,
            max_line_bytes=max_line_bytes,
        )
        self._feed = LineReader.chunks(self)
        self._carry_max = 4 * max_line_bytes  # a line of max_line_bytes characters, in UTF-8
        self._chunk = b""
        self._carry: bytes | None = b""  # bytes after the last newline before _chunk
        self._newlines_before = 0  # newlines in the stream before _chunk
        self._newlines = 0

    @property
    def lines_read(self) -> int:
        """Lines of the object this segment went through (to the stop, if it stopped)."""
        raw = self._lines_raw
        if not raw and self.problem is not None:
            # The reader stops counting where the stream breaks, after yielding every complete
            # line before it (and rejecting an over-long one it was inside of).
            rejected = self.last_rejected - self.offset if self.last_rejected else 0
            raw = max(self._newlines, rejected)
        last = self._stopped_before - 1 if self._stopped_before is not None else raw + self.offset
        return max(0, last - self.resume_line + 1)

    @lines_read.setter
    def lines_read(self, value: int) -> None:
        self._lines_raw = value

    def chunks(self) -> Iterator[bytes]:
        for chunk in self._feed:
            previous = self._chunk
            cut = previous.rfind(b"\n")
            if cut >= 0:
                self._carry = previous[cut + 1 :]
            elif self._carry is not None and len(self._carry) + len(previous) <= self._carry_max:
                self._carry += previous
            else:
                self._carry = None  # inside an over-long line: never a line to resume at
            self._newlines_before = self._newlines
            self._newlines += chunk.count(b"\n")
            self._chunk = chunk
            yield chunk

    def __iter__(self) -> Iterator[tuple[int, str]]:
        offset, resume = self.offset, self.resume_line
        if not offset and resume == 1:  # the object from its start: at the reader's full speed
            yield from super().__iter__()
            return
        # Lines before `resume` are decoded and dropped here rather than skipped by the reader
        # (its skip_lines miscounts an over-long line inside the skipped range); this costs
        # one re-read of at most a part.
        for lineno, line in super().__iter__():
            lineno += offset
            if lineno >= resume:
                yield lineno, line

    def _passed(self, line: int) -> int:
        # Newlines to pass in the current chunk to reach the start of `line`.
        return line - self.offset - 1 - self._newlines_before

    def can_resume_at(self, line: int) -> bool:
        """Whether `rest(line)` can start there: the line begins in the current chunk or in
        the bytes carried over from the one before (a parser that read ahead would have
        moved past it)."""
        passed = self._passed(line)
        in_chunk = self._newlines - self._newlines_before
        return 0 < passed <= in_chunk or (passed == 0 and self._carry is not None)

    def _reject_oversize(self, lineno: int, head: bytes) -> None:
        lineno += self.offset
        if lineno >= self.resume_line:  # those before were recorded by an earlier segment
            super()._reject_oversize(lineno, head)

    def stop_before(self, line: int) -> None:
        """This segment ends before `line` (for `lines_read`)."""
        self._stopped_before = line

    def rest(self, line: int) -> Iterator[bytes]:
        """The decompressed bytes from the start of `line` (a line already yielded) to the end
        of this stream; ObjectProblem if the stream is damaged further on."""
        self.stop_before(line)
        if not self.can_resume_at(line):
            raise RuntimeError(f"line {line} does not start in the current chunk")
        passed = self._passed(line)
        if passed == 0:
            assert self._carry is not None
            head = self._carry + self._chunk
        else:
            at = -1
            for _ in range(passed):
                at = self._chunk.index(b"\n", at + 1)
            head = self._chunk[at + 1 :]
        if head:
            yield head
        yield from self._feed


def _position(item: tuple[str, str, Document] | Rejection) -> int:
    return item.position if isinstance(item, Rejection) else item[2].position


# -- spilling into parts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    ref: ObjectRef
    first_line: int
    lines: int
    bytes_out: int


class WorkParts:
    """Gzip parts of an object's decompressed rest, in the work bucket."""

    def __init__(self, s3: Any, bucket: str, prefix: str, part_bytes: int) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix
        self._part_bytes = part_bytes

    def key_for(self, ref: ObjectRef, first_line: int) -> str:
        # Deterministic: a spill done again from the same line overwrites its parts.
        return f"{self._prefix}{ref.identity}/{first_line:012d}.gz"

    def write(
        self, ref: ObjectRef, first_line: int, data: Iterator[bytes]
    ) -> tuple[list[Part], str | None]:
        """Cut `data` at line boundaries into parts of about `part_bytes` and write them. A
        damaged stream ends the parts at its last complete line (as the reader drops an
        incomplete line before damage); the problem is returned with them."""
        parts: list[Part] = []
        pieces: list[bytes] = []
        size = 0
        problem = None

        def put(pieces: list[bytes]) -> None:
            line = parts[-1].first_line + parts[-1].lines if parts else first_line
            parts.append(self._put(ref, line, pieces))

        try:
            for chunk in data:
                while chunk:
                    room = self._part_bytes - size
                    at = chunk.find(b"\n", max(0, room - 1)) if len(chunk) >= room else -1
                    if at < 0:
                        pieces.append(chunk)
                        size += len(chunk)
                        break
                    pieces.append(chunk[: at + 1])
                    put(pieces)
                    pieces, size, chunk = [], 0, chunk[at + 1 :]
        except ObjectProblem as exc:
            problem = str(exc)
            held = b"".join(pieces)
            pieces = [held[: held.rfind(b"\n") + 1]]
        if any(pieces):
            put(pieces)
        return parts, problem

    def _put(self, ref: ObjectRef, first_line: int, pieces: list[bytes]) -> Part:
        compressor = _zlib.compressobj(1, _zlib.DEFLATED, 31)
        body = [compressor.compress(piece) for piece in pieces]
        body.append(compressor.flush())
        data = b"".join(body)
        size = sum(map(len, pieces))
        newlines = sum(piece.count(b"\n") for piece in pieces)
        lines = newlines + (0 if pieces[-1].endswith(b"\n") else 1)
        key = self.key_for(ref, first_line)
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType="application/gzip",
            Metadata={
                "logferry-object": ref.uri.encode("ascii", "backslashreplace").decode(),
                "logferry-identity": ref.identity,
                "logferry-first-line": str(first_line),
                "logferry-lines": str(lines),
            },
        )
        return Part(ObjectRef(self._bucket, key, size=len(data)), first_line, lines, size)


# -- the watch -------------------------------------------------------------------------------


@dataclass
class Continuations:
    """Watches the time budget during an object; checkpoints it and enqueues its continuation.

    Without a queue (or a work bucket for spilled parts) an object that runs out of time
    raises BudgetSpent instead: its message returns to the queue and is read again whole.
    """

    s3: Any
    sqs: Any | None
    settings: ResumeSettings
    remaining: Callable[[], float] = lambda: float("inf")
    # Seconds that must be left when an object is checkpointed: flush, dead letters, enqueue.
    reserve: float = 20.0
    check_every: int = 1024

    @property
    def enabled(self) -> bool:
        return bool(self.sqs is not None and self.settings.queue_url)

    def watch(
        self, ref: ObjectRef, segment: Segment | None, fmt: LogFormat, reader: SegmentReader
    ) -> Watch:
        """The watch over one object (or segment) read by `reader`."""
        return Watch(self, ref, segment, fmt, reader)

    def _enqueue(self, ref: ObjectRef, segments: list[Segment]) -> None:
        assert self.sqs is not None
        bodies = [orjson.dumps(continuation_message(ref, s)).decode() for s in segments]
        for start in range(0, len(bodies), SEND_BATCH):
            entries = [
                {"Id": str(n), "MessageBody": body}
                for n, body in enumerate(bodies[start : start + SEND_BATCH])
            ]
            response = self.sqs.send_message_batch(
                QueueUrl=self.settings.queue_url, Entries=entries
            )
            failed = response.get("Failed") or []
            if failed:
                # Not acknowledged: the message comes back and the checkpoint is made again.
                raise RuntimeError(f"{ref.uri}: {len(failed)} continuations not enqueued: {failed}")


class Watch:
    """When the entry loop of one object must stop and look. The pipeline's loops count the
    entries they consume and call `look` only when the count reaches `at`, so an unwatched
    object costs one comparison per entry. The entries an earlier invocation handled are passed
    over; then every `check_every` entries the time budget is checked, and when it is spent
    `stop` is the entry the loop ends before and `suspend` checkpoints the object there."""

    def __init__(
        self,
        continuations: Continuations,
        ref: ObjectRef,
        segment: Segment | None,
        fmt: LogFormat,
        reader: SegmentReader,
    ) -> None:
        self.continuations = continuations
        self.ref, self.segment, self.fmt, self.reader = ref, segment, fmt, reader
        self.mode = resume_mode(fmt)
        self.skip = segment.skip_items if segment is not None else 0
        self.stop: tuple[str, str, Document] | Rejection | None = None
        # The first look at the clock comes after some progress, so every invocation moves on.
        self.look_at = self.skip + continuations.check_every
        self.at = 1 if self.skip else self.look_at

    def look(self, consumed: int, item: tuple[str, str, Document] | Rejection) -> bool:
        """Whether to pass over `item`, the `consumed`-th entry: handled by an earlier
        invocation, or out of time (then `stop` is set, and the loop ends before it)."""
        if consumed <= self.skip:
            return True  # handled by an earlier invocation
        self.at = self.look_at
        if consumed < self.look_at:
            return False
        self.look_at = self.at = self.next_check(consumed, item)
        if not self.look_at:
            self.stop = item
            return True
        return False

    def next_check(self, consumed: int, item: tuple[str, str, Document] | Rejection) -> int:
        """Before `item` (the `consumed`-th entry of the object): 0 to stop here, else the
        entry count at which to look again. The caller looks only every `check_every`
        entries, so the clock costs nothing per document."""
        ref, segment, reader, mode = self.ref, self.segment, self.reader, self.mode
        if mode == LINES and not reader.can_resume_at(_position(item)):
            return consumed + 1  # not at a resumable line yet: try at the next entry
        spill = 0.0
        if mode == LINES and (segment is None or segment.part is None):
            spill = (
                max(0, (ref.size or 0) - reader.bytes_in) / self.continuations.settings.spill_rate
            )
        if self.continuations.remaining() < self.continuations.reserve + spill:
            return 0
        return consumed + self.continuations.check_every

    def suspend(
        self, item: tuple[str, str, Document] | Rejection, consumed: int, documents: int
    ) -> dict[str, Any]:
        """Checkpoint before `item` (the `consumed`-th entry); every entry before it is
        handled and its documents acknowledged. Returns what to add to the object's result."""
        ref, segment, fmt, reader, mode = self.ref, self.segment, self.fmt, self.reader, self.mode
        continuations = self.continuations
        line = _position(item)
        base = segment or Segment(fmt.name, mode)
        sent = base.documents + documents
        spill_needed = mode == LINES and base.part is None
        if not continuations.enabled or (spill_needed and not continuations.settings.work_bucket):
            raise BudgetSpent(f"{ref.uri}: time budget spent at line {line}")
        problem = None
        parts: list[Part] = []
        if mode == STREAM:
            reader.stop_before(line)
            nexts = [
                dataclasses.replace(
                    base, skip_items=consumed - 1, documents=sent, round=base.round + 1
                )
            ]
        elif base.part is not None:
            reader.stop_before(line)
            nexts = [
                dataclasses.replace(base, resume_line=line, documents=sent, round=base.round + 1)
            ]
        else:
            settings = continuations.settings
            work = WorkParts(
                continuations.s3, settings.work_bucket, settings.work_prefix, settings.part_bytes
            )
            parts, problem = work.write(ref, line, reader.rest(line))
            nexts = [
                Segment(
                    fmt.name,
                    LINES,
                    part=p.ref,
                    first_line=p.first_line,
                    resume_line=p.first_line,
                    documents=sent,
                    round=base.round + 1,
                )
                for p in parts
            ]
        continuations._enqueue(ref, nexts)
        log.info(
            "object checkpointed",
            extra={
                "object": ref.uri,
                "stopped_at_line": line,
                "continuations": len(nexts),
                "parts": len(parts),
            },
        )
        if problem is not None:
            reader.problem = problem
        extra: dict[str, Any] = {
            "continuations": len(nexts),
            "stopped_at_line": line,
            "documents_so_far": sent,
        }
        if parts:
            extra["parts"] = len(parts)
            extra["spilled_bytes"] = sum(p.bytes_out for p in parts)
        return extra


class Unwatched:
    """The watch of an object read to its end, whatever the time: it never looks."""

    at = sys.maxsize
    stop: tuple[str, str, Document] | Rejection | None = None

    def look(self, consumed: int, item: tuple[str, str, Document] | Rejection) -> bool:
        return False

    def suspend(
        self, item: tuple[str, str, Document] | Rejection, consumed: int, documents: int
    ) -> dict[str, Any]:
        raise AssertionError("an unwatched object is never suspended")
