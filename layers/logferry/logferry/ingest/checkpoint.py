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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..config import ResumeSettings
from ..formats import get_format
from ..formats.base import LogFormat
from ..model import Document, ObjectRef, Rejection
from .notifications import CONTINUATION, object_fields, ref_from_fields
from .parts import Part, WorkParts
from .segments import LINES, STREAM, Segment, SegmentReader, _position, resume_mode

log = logging.getLogger(__name__)


MESSAGE_VERSION = 1
SEND_BATCH = 10  # SQS SendMessageBatch limit


class BudgetSpent(Exception):
    """Too little time left in this invocation; the queue delivers the message again."""


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
