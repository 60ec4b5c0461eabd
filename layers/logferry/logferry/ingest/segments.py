"""Where one invocation reads an object: a segment (the object, or a work part of it, from a
line), and the reader that numbers a part's lines as the object's own (logferry.ingest.checkpoint
says why objects are cut into segments)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..formats.base import LineFormat, LogFormat
from ..model import Document, ObjectRef, Rejection
from .reader import LineReader, Readable

LINES = "lines"  # continue from a line: the rest is spilled into parts
STREAM = "stream"  # continue by re-reading the object and skipping the entries done


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
        # Lines before `resume` are decoded and dropped here (a skip inside the reader's loop
        # miscounted an over-long line in the skipped range); this costs one re-read of at most
        # a part.
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
