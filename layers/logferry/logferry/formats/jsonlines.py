"""Formats of JSON objects written one a line, or several back to back on one line (`}{`).

AWS services that write JSON to S3 themselves put one object on each line; the same logs sent
through a Firehose stream (API Gateway access logs reach S3 no other way) are concatenated
without a separator when the producer adds none. Each object is a document of its own, `sub`
its index on the line (0 for the first, so a line of one object gets the id any line format
would give it); an object that is not a record of the format is rejected alone, and text that
is not JSON rejects the rest of its line, kept whole for replay.

Subclasses write `parse_entry(entry, text)`; a format whose logs may also be lines of text
(API Gateway's CLF) sets `text_lines` and writes `parse_text` for the lines that do not start
with `{`.
Rejected alternatives: one `json.loads` per line (refuses `}{`, losing the whole line); a
stream decoder across lines (CloudTrail's JsonStream): these records never span lines, and a
line is what the pipeline checkpoints and dead-letters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from ..model import Document, Line, ParseContext, ParseError, Rejection, Source
from .base import LogFormat, line_rejection
from .jsonstream import flat_object_value, json_values


class JsonLinesFormat(LogFormat):
    # Whether lines that do not start with `{` are text records of the format (parse_text).
    text_lines: ClassVar[bool] = False

    def parse_entry(self, entry: Any, text: str) -> Source:
        """The document of one decoded JSON value (`text` is its JSON), or ParseError."""
        raise NotImplementedError

    def parse_text(self, line: str) -> Source:
        """The document of a text line (one that does not start with `{`), or ParseError."""
        raise NotImplementedError

    def parse(self, lines: Iterable[Line], ctx: ParseContext) -> Iterator[Document | Rejection]:
        keep_original = ctx.keep_original
        for lineno, line in lines:
            if self.text_lines and line.lstrip()[:1] != "{":
                try:
                    source = self.parse_text(line)
                except Exception as exc:  # a parser bug costs this line, not the object
                    yield line_rejection(lineno, line, exc)
                    continue
                if keep_original:
                    source["event"]["original"] = line
                yield Document(source, lineno)
                continue
            sub = 0
            try:
                for entry, text in json_values(line):
                    try:
                        source = self.parse_entry(entry, text)
                    except Exception as exc:
                        rejection = line_rejection(lineno, text, exc)
                        yield Rejection(lineno, _where(sub, rejection.reason), text)
                    else:
                        if keep_original:
                            source["event"]["original"] = text
                        yield Document(source, lineno, sub)
                    sub += 1
            except ParseError as exc:  # the rest of the line is not JSON: kept whole for replay
                yield Rejection(lineno, _where(sub, str(exc)), line)


def _where(sub: int, reason: str) -> str:
    return f"object {sub + 1} on the line: {reason}" if sub else reason


def as_text(value: Any) -> str | None:
    """A value written as text: strings as they are but for the null marker `-` and empty
    ones, numbers as digits; None for anything else (an object in a keyword field would fail
    the document)."""
    if type(value) is str:
        return value if value and value != "-" else None
    if type(value) is int or type(value) is float:
        return str(value)
    return None


def as_int(value: Any, field: str, limit: int = 2**63 - 1) -> int | None:
    """A count written as a number or as digits (API Gateway and the firewall quote some);
    None for absent and `-`; ParseError for anything else, or beyond `limit`."""
    if value is None or value == "-" or value == "":
        return None
    if type(value) is str and value.isascii() and value.isdecimal():
        number = int(value)
    elif type(value) is int:
        number = value
    elif type(value) is float and value.is_integer():
        number = int(value)
    else:
        raise ParseError(f"{field}: expected a whole number, got {str(value)[:40]!r}")
    if not 0 <= number <= limit:
        raise ParseError(f"{field}: {number} is out of range")
    return number


def keep_extra(rest: dict[str, Any], text: str, into: Source) -> None:
    """Keep what no field of the format holds as `into["extra"]` (flat_object), with the paths
    of leaves cut to fit (`truncated_fields`); `text` is the entry's JSON."""
    cut: list[str] = []
    extra = flat_object_value(rest, "extra", text, cut)
    if extra is not None:
        into["extra"] = extra
    if cut:
        into["truncated_fields"] = cut
