"""Bytes of a log object -> numbered lines of text, streamed, with hostile input contained.

The reader never holds the object whole: it decompresses in bounded steps (so a gzip bomb
cannot inflate one chunk into gigabytes), splits on newlines and decodes one chunk at a time.
Gzip is recognised by its magic bytes, never by the key's suffix (CLB and S3 access logs are
plain text; some producers gzip objects named .log). Multi-member gzip is read member after
member.

What cannot be read becomes a record, not an exception: an over-long line is a Rejection and
the reader skips to the next newline; a corrupt, truncated or over-large stream ends the
iteration and sets `problem`, after every complete line before the damage was yielded.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Protocol

from ..model import Line, Rejection

_zlib: Any = zlib
try:  # isal's zlib is a drop-in, faster at inflating (see the README's benchmark).
    from isal import isal_zlib

    _zlib = isal_zlib
except ImportError:  # pragma: no cover - isal is optional
    pass

GZIP_MAGIC = b"\x1f\x8b"
# Small steps keep the compressed input, the inflated block, its text and its lines in the CPU
# caches. Through the reader alone, going from 1 MiB / 4 MiB to 128 KiB / 1 MiB took ALB from
# 3.47 to 2.18 us a line and VPC flow from 0.87 to 0.67 (200 MB objects, fresh processes,
# medians of 5); NLB moved within the noise. python -m tools.bench prints both as "reader" rows.
READ_SIZE = 128 << 10
# Upper bound of decompressed bytes produced from one input step: bounds memory on a bomb.
INFLATE_STEP = 1 << 20
# How much of a rejected over-long line is kept, for the analyst to recognise it.
KEPT_PREFIX = 2048


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class ObjectProblem(Exception):
    """The object's bytes could not be read to the end (corrupt, truncated, over the cap)."""


class LineReader:
    """Iterate `(line_number, text)` over a plain or gzipped byte stream. (A continuation
    resumes at its line through ingest.segments.SegmentReader.)"""

    def __init__(
        self,
        stream: Readable | BinaryIO,
        *,
        max_object_bytes: int = 8 * 1024**3,
        max_line_bytes: int = 1024**2,
    ) -> None:
        self._stream = stream
        self._max_object_bytes = max_object_bytes
        self._max_line_bytes = max_line_bytes
        # Over-long lines go to `reject` as they are found: by default into `rejections`; the
        # pipeline hands them straight to the dead letters instead.
        self.rejections: list[Rejection] = []
        self.reject: Callable[[Rejection], None] = self.rejections.append
        self.last_rejected = 0  # the line number of the last rejection
        self.problem: str | None = None
        self.compressed = False
        self.bytes_in = 0  # as stored
        self.bytes_out = 0  # decompressed
        self.lines_read = 0
        self.invalid_utf8_lines = 0
        self._source = self._capped()
        self._peeked: list[bytes] = []

    def __enter__(self) -> LineReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()

    # -- bytes ---------------------------------------------------------------------------

    def _read(self) -> bytes:
        data = self._stream.read(READ_SIZE)
        self.bytes_in += len(data)
        return data

    def _inflate(self, first: bytes) -> Iterator[bytes]:
        inflater: Any = _zlib.decompressobj(31)
        in_member = False
        data = first
        while True:
            if not data:
                data = self._read()
                if not data:
                    break
            in_member = True
            try:
                out = inflater.decompress(data, INFLATE_STEP)
            except _zlib.error as exc:
                raise ObjectProblem(
                    f"corrupt gzip data near compressed byte {self.bytes_in}: {exc}"
                ) from None
            if out:
                yield out
            if inflater.eof:  # end of one gzip member; another may follow
                data = inflater.unused_data
                inflater = _zlib.decompressobj(31)
                in_member = False
                if data and not data.startswith(GZIP_MAGIC[: len(data)]):
                    if data.strip(b"\0"):  # zero padding after the last member is harmless
                        raise ObjectProblem("bytes after the last gzip member are not gzip")
                    data = b""
            else:
                data = inflater.unconsumed_tail
        if in_member:
            raise ObjectProblem(f"truncated gzip stream after {self.bytes_in} compressed bytes")

    def _plain(self, first: bytes) -> Iterator[bytes]:
        data = first
        while data:
            yield data
            data = self._read()

    def _capped(self) -> Iterator[bytes]:
        first = self._read()
        while 0 < len(first) < len(GZIP_MAGIC):  # a stream may return fewer bytes than asked
            more = self._read()
            if not more:
                break
            first += more
        self.compressed = first.startswith(GZIP_MAGIC)
        source = self._inflate(first) if self.compressed else self._plain(first)
        for chunk in source:
            self.bytes_out += len(chunk)
            if self.bytes_out > self._max_object_bytes:
                raise ObjectProblem(
                    f"decompressed size exceeds the cap of {self._max_object_bytes} bytes"
                    " (LOGFERRY_MAX_OBJECT_BYTES)"
                )
            yield chunk

    def peek(self, size: int = 64 * 1024) -> bytes:
        """The first `size` decompressed bytes (fewer if the object is shorter), without
        consuming them: `chunks()` and the lines still start at byte 0."""
        try:
            while sum(map(len, self._peeked)) < size:
                chunk = next(self._source, None)
                if chunk is None:
                    break
                self._peeked.append(chunk)
        except ObjectProblem as exc:
            self.problem = str(exc)
            self._source = iter(())
        return b"".join(self._peeked)[:size]

    def first_line(self) -> str | None:
        """The first non-empty line of the object (from `peek`), for format detection."""
        for raw in self.peek().split(b"\n"):
            line = raw.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r")
            if line.strip():
                return line
        return None

    def head_lines(self, count: int, size: int = 256 * 1024) -> list[str]:
        """Up to `count` non-empty lines from the object's first `size` decompressed bytes
        (from `peek`, consuming nothing), for detection that looks past the first line; a
        line the peek cut short is left out."""
        head = self.peek(size)
        pieces = head.split(b"\n", count + 1)
        if len(head) >= size or len(pieces) > count + 1:
            pieces.pop()  # cut short by the peek, or beyond `count`
        lines = []
        for raw in pieces:
            line = raw.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r")
            if line.strip():
                lines.append(line)
        return lines[:count]

    def chunks(self) -> Iterator[bytes]:
        """Decompressed bytes, in bounded chunks, capped at max_object_bytes in total.

        A format that is not line-based (one JSON document per object) reads these instead of
        the lines; it must catch ObjectProblem or let `__iter__`-style callers do so.
        """
        while self._peeked:
            yield self._peeked.pop(0)
        yield from self._source

    def content(self) -> Iterator[bytes]:
        """`chunks()` for a format that reads the object whole: damage ends them after every
        byte before it, and is recorded in `problem`, as it is for lines."""
        try:
            yield from self.chunks()
        except ObjectProblem as exc:
            self.problem = str(exc)

    # -- lines ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Line]:
        # The lines generator itself, not a generator delegating to it: one generator hop
        # less per line.
        return self._lines()

    def _decode(self, block: bytes) -> str:
        try:
            return block.decode("utf-8")
        except UnicodeDecodeError:
            # Count the damaged lines; keep them, with U+FFFD where the bytes were invalid.
            for raw in block.split(b"\n"):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    self.invalid_utf8_lines += 1
            return block.decode("utf-8", "replace")

    def _lines(self) -> Iterator[Line]:
        lineno = 0
        pending = b""  # an incomplete last line, carried to the next chunk
        oversize = False  # inside a line longer than max_line_bytes: drop until newline
        max_line = self._max_line_bytes
        try:
            for chunk in self.chunks():
                cut = chunk.rfind(b"\n") + 1
                if not cut:
                    pending += chunk
                    if len(pending) > self._max_line_bytes:
                        if not oversize:
                            self._reject_oversize(lineno + 1, pending)
                            oversize = True
                        pending = b""
                    continue
                # `block` holds whole lines, each ending in a newline.
                block = pending + chunk[:cut]
                pending = chunk[cut:]
                if oversize:  # the block starts with the tail of the over-long line: drop it
                    lineno += 1
                    oversize = False
                    block = block[block.index(b"\n") + 1 :]
                text = self._decode(block)
                if "\r" in text:
                    text = text.replace("\r\n", "\n")
                lines = text.split("\n")
                lines.pop()  # the empty string after the block's last newline
                if len(text) <= max_line and "" not in lines:
                    # The usual block: every line as it is, numbered by enumerate in C and
                    # handed on without a Python step per line (VPC flow, whose lines are
                    # short: 63.4k -> 60.6k instructions a line for the whole path).
                    numbered = enumerate(lines, lineno + 1)
                    lineno += len(lines)
                    try:
                        yield from numbered
                    except GeneratorExit:  # the caller stopped inside the block
                        after = next(numbered, None)
                        if after is not None:
                            lineno = after[0] - 1  # the last line handed out
                        raise
                    continue
                for line in lines:
                    lineno += 1
                    if len(line) > max_line:
                        self._reject_oversize(lineno, line.encode())
                    elif line:
                        yield lineno, line
            if oversize or pending:
                lineno += 1
            if pending and not oversize:
                if len(pending) > self._max_line_bytes:
                    self._reject_oversize(lineno, pending)
                else:
                    line = self._decode(pending).rstrip("\r")
                    if line:
                        yield lineno, line
        except ObjectProblem as exc:  # every complete line before the damage was yielded
            self.problem = str(exc)
        finally:  # also when the stream breaks: lines_read says how far it got
            self.lines_read = lineno

    def _reject_oversize(self, lineno: int, head: bytes) -> None:
        self.last_rejected = lineno
        self.reject(
            Rejection(
                lineno,
                f"line longer than {self._max_line_bytes} bytes (LOGFERRY_MAX_LINE_BYTES)",
                head[:KEPT_PREFIX].decode("utf-8", "replace"),
            )
        )
