"""JSON values out of log text: one line (WAF), or a byte stream of any size (CloudTrail).

Two hazards shape these helpers besides size:
- What `json` decodes is not always what `orjson.dumps` (the sink) can write back: lone UTF-16
  surrogates (`"\\ud800"`), integers beyond 64 bits, nesting deeper than orjson's limit. Values
  are made safe here (surrogates replaced, huge integers read as floats, as orjson itself reads
  them), or the entry is rejected, so a hostile entry never stops an object mid-way.
- OpenSearch `flat_object` fields index every leaf as one term together with its path, and a
  term longer than 32766 UTF-8 bytes fails the whole document: long leaves are cut (and the
  document says which) by `flat_object_value`.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any

import orjson

from ..ingest.reader import ObjectProblem
from ..model import ParseError

# How much of a rejected entry is kept in the rejection (the dead letter), in characters.
KEPT_RAW = 4096
# Decode at most this many bytes at a time: the text buffer stays small even when the reader
# hands over multi-megabyte chunks.
DECODE_SLICE = 1 << 18
# A flat_object leaf is indexed as "path=value"; Lucene refuses terms over 32766 bytes.
FLAT_LEAF_MAX_BYTES = 16384
# A JSON text this short cannot hold a leaf over FLAT_LEAF_MAX_BYTES (4 UTF-8 bytes a character
# at most, and escapes only shrink when decoded), so it needs no walk.
_FLAT_SAFE_CHARS = FLAT_LEAF_MAX_BYTES // 4
# orjson.dumps refuses nesting past ~255 levels; below this many brackets it cannot happen.
_DEPTH_SAFE_BRACKETS = 200

_WS = re.compile(r"[ \t\r\n]*")
# For stepping over a value without decoding it (JsonStream.skip_value): a run of text outside
# strings up to the next bracket, whole strings included (stops at a string not closed in the
# text at hand); the inside of a string up to its closing quote or a backslash at the end.
_FLAT_RUN = re.compile(r'(?:[^"{}\[\]]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)
_STRING_REST = re.compile(r'(?:[^"\\]++|\\.)*+', re.DOTALL)
# Where a bare top-level value (a number, a literal) ends.
_SCALAR = re.compile(r'[^ \t\r\n,:\[\]{}"]*+')
_SURROGATE = re.compile("[\ud800-\udfff]")


def _parse_int(text: str) -> int | float:
    # orjson reads integers beyond 64 bits as floats and cannot write them as ints: do the same.
    # (A short digit string is always in range; int() also refuses over 4300 digits.)
    if len(text) < 19:
        return int(text)
    value = int(text) if len(text) < 4000 else None
    if value is not None and -(2**63) <= value < 2**64:
        return value
    return float(text)


_DECODER = json.JSONDecoder(parse_int=_parse_int)
_scan = _DECODER.raw_decode


def _without_lone_surrogates(value: Any, text: str) -> Any:
    """The value, with any lone UTF-16 surrogate (from a `\\udXXX` escape) replaced by U+FFFD."""
    if "\\ud" not in text and "\\uD" not in text:
        return value
    try:
        orjson.dumps(value)  # proper surrogate pairs decode to one character: nothing to do
        return value
    except orjson.JSONEncodeError:
        pass
    return _DECODER.decode(_SURROGATE.sub("\ufffd", json.dumps(value, ensure_ascii=False)))


class ValueTooLong(ParseError):
    """The value at the read position runs past the stream's limit (or is invalid JSON that
    could not be told from an unfinished value): `JsonStream.skip_value` can step over it."""


def _utf8_size(text: str, start: int = 0, end: int | None = None) -> int:
    """The UTF-8 size of text[start:end], without copying more than a slice at a time."""
    end = len(text) if end is None else end
    if text.isascii():  # O(1): CPython knows it of every str
        return end - start
    step = DECODE_SLICE
    return sum(
        len(text[at : min(at + step, end)].encode("utf-8", "surrogatepass"))
        for at in range(start, end, step)
    )


def _decode_error(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return getattr(exc, "msg", None) or str(exc)


def json_values(line: str) -> Iterator[tuple[Any, str]]:
    """Each JSON value on a line with its text: one, or several written back to back (`}{`).

    Raises ParseError at the first text that is not JSON; values before it were yielded.
    """
    try:
        value = orjson.loads(line)  # the common case: exactly one value, decoded fast
    except orjson.JSONDecodeError:
        pass
    else:
        yield value, line
        return
    end = len(line)
    pos = _WS.match(line).end()  # type: ignore[union-attr]
    if pos == end:
        raise ParseError("no JSON value on the line (whitespace only)")
    while pos < end:
        try:
            value, stop = _scan(line, pos)
        except (ValueError, RecursionError) as exc:
            at = getattr(exc, "pos", pos)
            raise ParseError(f"invalid JSON at column {at + 1}: {_decode_error(exc)}") from None
        text = line[pos:stop]
        yield _without_lone_surrogates(value, text), text
        pos = _WS.match(line, stop).end()  # type: ignore[union-attr]


def check_serialisable(source: dict[str, Any], text: str) -> None:
    """Raise ParseError if the sink could not serialise the document (absurdly deep input)."""
    if len(text) <= 2 * _DEPTH_SAFE_BRACKETS or (
        text.count("{") + text.count("[") <= _DEPTH_SAFE_BRACKETS
    ):
        return
    try:
        orjson.dumps(source)
    except orjson.JSONEncodeError as exc:
        raise ParseError(f"entry cannot be indexed: {exc}") from None


# The OpenSearch field type for free-form JSON (one field, any shape, dotted-path queries).
FLAT: dict[str, Any] = {"type": "flat_object"}


def pick(source: dict[str, Any], table: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Keyword fields by a (source key, our name) table: non-empty strings as they are,
    numbers as text, nothing else (an object in a keyword field would fail the document).
    One loop per group of fields rather than a call per field."""
    out: dict[str, Any] = {}
    for key, name in table:
        if key in source:
            value = source[key]
            if type(value) is str:
                if value:
                    out[name] = value
            elif type(value) is int or type(value) is float:
                out[name] = str(value)
    return out


def _cap_leaves(value: Any, path: str, cut: list[str]) -> Any:
    if isinstance(value, str):
        if len(value) > _FLAT_SAFE_CHARS:
            data = value.encode()
            if len(data) > FLAT_LEAF_MAX_BYTES:
                cut.append(path)
                return data[:FLAT_LEAF_MAX_BYTES].decode("utf-8", "ignore")
        return value
    if isinstance(value, dict):
        return {k: _cap_leaves(v, f"{path}.{k}", cut) for k, v in value.items()}
    if isinstance(value, list):
        return [_cap_leaves(v, path, cut) for v in value]
    return value


def flat_object_value(value: Any, name: str, text: str, cut: list[str]) -> Any:
    """A value fit for a `flat_object` field, or None for null / nothing.

    flat_object takes an object or an array of objects; anything else (a bare string, a list
    of strings) is wrapped as {"value": ...}. `text` is the entry's JSON text: when it is short
    no leaf can be too long and the walk is skipped; otherwise over-long leaves are cut and
    their paths (under `name`) appended to `cut`.
    """
    if value is None or value == [] or value == {}:
        return None
    if not isinstance(value, dict) and not (
        isinstance(value, list) and all(isinstance(item, dict) for item in value)
    ):
        value = {"value": value}
    if len(text) > _FLAT_SAFE_CHARS:
        value = _cap_leaves(value, name, cut)
    return value


class JsonStream:
    """JSON text decoded from byte chunks, read value by value with a bounded buffer.

    Only the text of the value being decoded (and the chunk it ends in) is held: consumed text
    is dropped on every refill. A value that does not decode is retried after reading at least
    as much text again (up to the limit), so a large value costs linear work; past
    `max_value_bytes` (its UTF-8 size) it is given up (ValueTooLong), and `skip_value` steps
    over it with the buffer still bounded: by the limit, in characters. `line` is the physical
    line (1-based) at the read position. A damaged object (ObjectProblem from the reader) ends
    the stream and is kept in `problem`.
    """

    def __init__(self, chunks: Iterator[bytes], max_value_bytes: int) -> None:
        self._chunks = chunks
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._bytes = memoryview(b"")
        self._started = False
        self.max_value_bytes = max_value_bytes
        self.buf = ""
        self.pos = 0
        self.line = 1
        self.eof = False
        self.ends_with_newline = False
        self.problem: str | None = None
        # skip_value's progress: characters, UTF-8 bytes and head of the text dropped so far
        self._skip_chars = self._skip_bytes = 0
        self._skip_head = ""

    # -- text ------------------------------------------------------------------------------

    def _next_text(self) -> str | None:
        """The next piece of decoded text ("" is possible), or None at the end."""
        while not self._bytes:
            try:
                chunk = next(self._chunks, None)
            except ObjectProblem as exc:
                self.problem = str(exc)
                chunk = None
            if chunk is None:
                self.eof = True
                return self._decoder.decode(b"", final=True) or None
            self._bytes = memoryview(chunk)
        piece, self._bytes = self._bytes[:DECODE_SLICE], self._bytes[DECODE_SLICE:]
        return self._decoder.decode(piece)

    def fill(self) -> bool:
        """Append more text, dropping what was consumed. False when there is no more."""
        if self.eof:
            return False
        text = self._next_text()
        if text is None:
            return False
        if not self._started and text:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
        if text:
            self.ends_with_newline = text[-1] == "\n"
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        return True

    def clamp_line(self, line: int) -> int:
        """`line`, or the text's last line if that is before it: at the end of a text that ends
        with a newline, the read position is on a line that does not exist. Call at the end."""
        last = self.line + self.buf.count("\n", self.pos) - int(self.ends_with_newline)
        return max(1, min(line, last))

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def peek(self) -> str:
        """The next non-whitespace character ("" at the end); the whitespace is consumed."""
        while True:
            at = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            self.advance(at)
            if at < len(self.buf):
                return self.buf[at]
            if not self.fill():
                return ""

    def match(self, pattern: re.Pattern[str], lookahead: int = 256) -> bool:
        """Consume `pattern` if the text at the read position starts with it."""
        while len(self.buf) - self.pos < lookahead and self.fill():
            pass
        found = pattern.match(self.buf, self.pos)
        if found is None:
            return False
        self.advance(found.end())
        return True

    def rest(self, limit: int = KEPT_RAW) -> str:
        """Up to `limit` characters from the read position, for a rejection."""
        while len(self.buf) - self.pos < limit and self.fill():
            pass
        return self.buf[self.pos : self.pos + limit]

    # -- values ----------------------------------------------------------------------------

    def value(self) -> tuple[Any, str]:
        """Decode the JSON value at the read position: (value, its text).

        Raises ValueTooLong, the read position unchanged, for a value of more than
        max_value_bytes UTF-8 bytes (or invalid JSON that long: `skip_value` tells which), and
        ParseError when it is not JSON; the stream cannot continue after that, since the end
        of the value is unknown. Characters are never more than their bytes: more characters
        than the limit are over it, without counting bytes.
        """
        limit = self.max_value_bytes
        while True:
            buf, start = self.buf, self.pos
            try:
                value, end = _scan(buf, start)
            except RecursionError:
                raise ParseError("JSON nested too deeply") from None
            except ValueError as exc:
                pending = len(buf) - start
                if self.eof:
                    at = self.line + buf.count("\n", start, getattr(exc, "pos", start))
                    at = self.clamp_line(at)
                    raise ParseError(f"invalid JSON at line {at}: {_decode_error(exc)}") from None
                if pending > limit:
                    raise ValueTooLong(
                        f"no complete JSON value within {limit} bytes"
                        " (an entry too large, or invalid JSON)"
                    ) from None
                # Possibly incomplete: read at least as much again (to just past the limit at
                # most, so that the buffer stays bounded by it) before retrying.
                while len(self.buf) - self.pos <= min(2 * pending, limit) and self.fill():
                    pass
                continue
            size = end - start  # whole in the buffer, but maybe over the limit all the same
            if size > limit or (4 * size > limit and _utf8_size(buf, start, end) > limit):
                raise ValueTooLong(f"a JSON value of more than {limit} bytes")
            if end == len(buf) and not self.eof and buf[end - 1] not in '}]"':
                self.fill()  # a number or literal may go on in the next chunk
                continue
            self.advance(end)
            text = buf[start:end]
            return _without_lone_surrogates(value, text), text

    def skip_value(self, keep: int = KEPT_RAW) -> tuple[str, int]:
        """Step over the value at the read position without decoding it, after `value` raised
        ValueTooLong: (its first `keep` characters, its size in UTF-8 bytes).

        Only the value's brackets and strings are followed, and the text behind the read
        position is dropped as it goes: memory stays bounded by the buffer, however long the
        value. Raises ParseError when the value is no longer than max_value_bytes after all
        (it did not decode: invalid JSON; the read position unchanged), and when the text ends
        inside it; the stream cannot continue after either.
        """
        start_line = self.line
        self._skip_chars = self._skip_bytes = 0
        self._skip_head = ""
        buf, at = self.buf, self.pos
        first = buf[at : at + 1]
        if first in ("{", "["):
            end = self._skip_structure(buf, at, keep)
        elif first == '"':
            end = self._skip_string(buf, at + 1, keep)
        else:
            end = self._skip_scalar(buf, at, keep)
        if end < 0:
            raise ParseError(f"the text ends inside the value that starts at line {start_line}")
        size = _utf8_size(self.buf, self.pos, end)
        if not self._skip_chars and size <= self.max_value_bytes:
            # Whole in the buffer and within the limit, yet it did not decode: invalid JSON.
            try:
                _scan(self.buf[:end], self.pos)
            except (ValueError, RecursionError) as exc:
                at = self.line + self.buf.count("\n", self.pos, getattr(exc, "pos", self.pos))
                raise ParseError(f"invalid JSON at line {at}: {_decode_error(exc)}") from None
        head = self._skip_head
        if len(head) < keep:
            head += self.buf[self.pos : min(end, self.pos + keep - len(head))]
        self.advance(end)
        return head, self._skip_bytes + size

    def _read_on(self, to: int, keep: int) -> bool:
        """While skipping: drop the text up to `to` (counted, the head kept) and read more.
        False at the end of the text."""
        pos = self.pos
        self._skip_chars += to - pos
        self._skip_bytes += _utf8_size(self.buf, pos, to)
        if len(self._skip_head) < keep:
            self._skip_head += self.buf[pos : min(to, pos + keep - len(self._skip_head))]
        self.advance(to)
        return self.fill()

    def _skip_string(self, buf: str, at: int, keep: int) -> int:
        """The end of the string whose text goes on at `at` (after its opening quote) in the
        buffer, or -1."""
        while True:
            at = _STRING_REST.match(buf, at).end()  # type: ignore[union-attr]
            if at < len(buf) and buf[at] == '"':
                return at + 1
            # the end of the text at hand, or a backslash at its very end: read on
            if not self._read_on(at, keep):
                return -1
            buf, at = self.buf, self.pos

    def _skip_scalar(self, buf: str, at: int, keep: int) -> int:
        """The end of the number or literal at `at` in the buffer."""
        while True:
            at = _SCALAR.match(buf, at).end()  # type: ignore[union-attr]
            if at < len(buf):
                return at
            if not self._read_on(at, keep):
                return self.pos
            buf, at = self.buf, self.pos

    def _skip_structure(self, buf: str, at: int, keep: int) -> int:
        """The end of the object or array that starts at `at` in the buffer, or -1."""
        depth = 0
        while True:
            at = _FLAT_RUN.match(buf, at).end()  # type: ignore[union-attr]
            if at == len(buf):
                if not self._read_on(at, keep):
                    return -1
                buf, at = self.buf, self.pos
                continue
            char = buf[at]
            if char == '"':  # a string the text at hand does not close
                at = self._skip_string(buf, at + 1, keep)
                if at < 0:
                    return -1
                buf = self.buf
            elif char == "{" or char == "[":
                depth += 1
                at += 1
            else:
                depth -= 1
                at += 1
                if depth == 0:
                    return at
