"""Hostile bytes through every registered format and through the reader: nothing raises, and
every line is accounted for.

The formats are taken from the registry when the tests are collected, so a format added later
is fuzzed without touching this file. Seeds are the real lines in
/work/shared/realworld-logs/<format>/ (all formats' lines for a format without a directory),
mutated byte-wise: cut, spliced, fields replaced, invalid UTF-8, NUL bytes, long tokens, times
that are not canonical. Every document that comes out has a canonical UTC @timestamp.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logferry.config import Settings
from logferry.formats import FORMATS
from logferry.ingest.deadletter import StreamDeadLetters
from logferry.ingest.objects import LocalFiles
from logferry.ingest.pipeline import Pipeline, take_over
from logferry.ingest.reader import LineReader
from logferry.ingest.segments import LINES, resume_mode
from logferry.model import Document, ObjectRef, ParseContext, Rejection, UnsupportedObject
from logferry.output.sink import BulkSink
from tests.conftest import REALWORLD, examples
from tests.support import marked_nlb_line

MAX_LINE = 2048  # small, so over-long lines happen often
FUZZ = settings(
    max_examples=examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@cache
def seed_lines(name: str) -> tuple[bytes, ...]:
    folder = REALWORLD / name
    files = sorted(folder.glob("*.log")) if folder.is_dir() else []
    if not files:
        files = sorted(REALWORLD.glob("*/*.log"))
    lines = [line for path in files for line in Path(path).read_bytes().splitlines() if line]
    return tuple(lines[:400])


JUNK = st.sampled_from(
    [
        b"",
        b"-",
        b"\x00",
        b"\xff\xfe",
        b"\xc3\x28",
        b'"',
        b"{",
        b"}",
        b"[",
        b"\t",
        b"\r",
        b" ",
        b"99999999999999999999999",
        b"-1",
        b"1e400",
        b"\\u0000",
        b"\\ud800",
        b"%",
        b"%zz",
        b"x" * 3000,
        b"2026-13-45T99:99:99Z",
        b"2023-W15-1T15:24:00Z",  # times that are not canonical: week and ordinal dates,
        b"2023-W15-1T15:24:00",  # offsets, other scripts' digits, days that do not exist
        b"2023-100T15:24:00Z",
        b"2023-04-11T15:24:00+02:00",
        "\uff12\uff10\uff12\uff13-04-11T15:24:00Z".encode(),
        b"2023-02-30T00:00:00Z",
        b"0000-01-01T00:00:00.0000000Z",
        b"[30/Feb/0000:00:00:38 -2400]",
        b"Feb 30 24:00:00.1234567890",
        b"-62135596800001",
        b"::1",
        b"300.1.2.3:80",
        b'{"Records":[',
    ]
)


# A time in any format's own style (ISO 8601, S3's bracketed time, syslog's, epoch seconds or
# milliseconds), and what a "time" mutation puts in its place.
TIME = re.compile(
    rb"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9:]{4,5})?"
    rb"|[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} [+-][0-9]{4}"
    rb"|[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}"
    rb"|(?<![0-9])1[0-9]{9}(?:[0-9]{3})?(?![0-9])"
)
HOSTILE_TIMES = st.sampled_from(
    [
        b"2023-W15-1T15:24:00Z",
        b"2023-W15-1T15:24:00",
        b"2023-100T15:24:00Z",
        b"2023-04-11 15:24:00Z",
        b"2023-04-11T15:24:00+02:00",
        "\uff12\uff10\uff12\uff13-04-11T15:24:00Z".encode(),
        "2023-04-1\u0661T15:24:00".encode(),
        b"2023-02-30T00:00:00Z",
        b"0000-01-01T00:00:00Z",
        b"0001-01-01T00:30:00+01:00",
        b"0999-06-01T10:00:00+01:00",
        b"9999-12-31T23:59:59.123456789Z",
        b"30/Feb/2019:00:00:38 +0000",
        b"01/Jan/0100:00:30:00 +0100",
        b"31/Dec/9999:23:30:00 -0100",
        b"Feb 30 10:00:00",
        b"Aug 26 01:33:38.123456789",
        b"-62135596800000",
        b"99999999999999",
    ]
)


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[bytes, ...]) -> bytes:
    line = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(
            st.sampled_from(["cut", "delete", "insert", "field", "splice", "bytes", "time"])
        )
        at = draw(st.integers(0, len(line)))
        if kind == "cut":
            line = line[:at]
        elif kind == "delete":
            line = line[:at] + line[at + draw(st.integers(1, 20)) :]
        elif kind == "insert":
            line = line[:at] + draw(JUNK) + line[at:]
        elif kind == "field":
            fields = line.split(b" ")
            index = draw(st.integers(0, len(fields) - 1))
            fields[index] = draw(JUNK)
            line = b" ".join(fields)
        elif kind == "time":
            hostile = draw(HOSTILE_TIMES).replace(b"\\", b"\\\\")  # a template for re.sub
            line = TIME.sub(hostile, line, count=draw(st.integers(0, 2)))
        elif kind == "splice":
            other = draw(st.sampled_from(seeds))
            line = line[:at] + other[draw(st.integers(0, len(other))) :]
        else:
            line = line[:at] + draw(st.binary(max_size=12)) + line[at:]
    return line.replace(b"\n", b" ")


def object_of(lines: list[bytes], newline_at_end: bool, compressed: bool) -> bytes:
    raw = b"\n".join(lines) + (b"\n" if newline_at_end else b"")
    return gzip.compress(raw) if compressed else raw


class CountingTransport:
    """Accepts every document (this test is about what reaches the sink, not OpenSearch)."""

    def __init__(self) -> None:
        self.documents = 0

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, object]:
        self.documents += body.count(b"\n") // 2
        return {"errors": False}


# What every document's @timestamp must be: canonical UTC (see logferry/formats/times.py).
CANONICAL_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z", re.ASCII)


def assert_canonical_timestamps(items: list[Document | Rejection]) -> None:
    for item in items:
        if isinstance(item, Document):
            ts = item.source.get("@timestamp")
            assert isinstance(ts, str) and CANONICAL_UTC.fullmatch(ts), item.source
            datetime.fromisoformat(ts)  # a date and a time that exist


def context() -> ParseContext:
    ref = ObjectRef("fuzz-bucket", "fuzz/key.log.gz", etag="e")
    return ParseContext(ref, datetime(2026, 11, 20, 12, 0, tzinfo=UTC))


def non_empty_lines(raw: bytes) -> set[int]:
    """Line numbers the reader must account for (yield or reject): all but the empty ones."""
    parts = raw.split(b"\n")
    last = parts.pop()
    numbers = {n for n, part in enumerate(parts, 1) if part.removesuffix(b"\r")}
    if last.rstrip(b"\r"):
        numbers.add(len(parts) + 1)
    return numbers


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_mutated_real_lines_never_raise_and_every_line_is_accounted_for(name: str) -> None:
    fmt = FORMATS[name]
    seeds = seed_lines(name)
    assert seeds, f"no seed lines for {name}"
    strict = resume_mode(fmt) == LINES  # one entry per line: a document or a rejection each

    @FUZZ
    @given(
        lines=st.lists(mutated(seeds), min_size=1, max_size=12),
        newline_at_end=st.booleans(),
        compressed=st.booleans(),
    )
    def check(lines: list[bytes], newline_at_end: bool, compressed: bool) -> None:
        raw = b"\n".join(lines) + (b"\n" if newline_at_end else b"")
        reader = LineReader(
            io.BytesIO(object_of(lines, newline_at_end, compressed)), max_line_bytes=MAX_LINE
        )
        items: list[Document | Rejection] = []
        try:
            ctx = context()
            items.extend(fmt.parse_object(reader, ctx))
            take_over(reader, ctx)  # as the pipeline does
        except UnsupportedObject:
            return  # a declared outcome (e.g. Parquet), kept as a dead letter by the pipeline
        total = raw.count(b"\n") + (0 if newline_at_end else 1)
        for item in items:
            assert 1 <= item.position <= total, item
        assert_canonical_timestamps(items)
        if not compressed and raw.startswith(b"\x1f\x8b"):  # gzip by its magic: corrupt
            assert reader.problem is not None
            return
        assert reader.problem is None
        assert reader.bytes_out == len(raw)
        if strict:
            positions = [item.position for item in items]
            rejected = [r.position for r in reader.rejections]
            assert sorted(positions + rejected) == sorted(non_empty_lines(raw))

    check()


plain_or_gzip = st.tuples(st.binary(max_size=3000), st.sampled_from(["plain", "gzip", "cut"]))


@FUZZ
@given(case=plain_or_gzip, max_line=st.integers(1, 64))
def test_reader_never_raises_and_accounts_for_every_line(
    case: tuple[bytes, str], max_line: int
) -> None:
    data, how = case
    stored = data
    if how != "plain":
        stored = gzip.compress(data)
        if how == "cut":
            stored = stored[: len(stored) // 2]
    reader = LineReader(io.BytesIO(stored), max_line_bytes=max_line)
    lines = list(reader)
    numbers = [n for n, _ in lines]
    assert numbers == sorted(set(numbers))
    if how == "cut":
        assert reader.problem is not None or not data
        return
    if reader.problem is not None:  # a plain object that starts with the gzip magic
        assert data.startswith(b"\x1f\x8b")
        return
    assert reader.bytes_out == len(data)
    expected = non_empty_lines(data)
    rejected = [r.position for r in reader.rejections]
    assert sorted(numbers + rejected) == sorted(expected)
    assert reader.lines_read == (
        data.count(b"\n") + (0 if data.endswith(b"\n") else 1) if data else 0
    )


@FUZZ
@given(data=st.binary(min_size=1, max_size=4000))
def test_raw_bytes_as_any_format_never_raise(data: bytes) -> None:
    for fmt in FORMATS.values():
        reader = LineReader(io.BytesIO(data), max_line_bytes=MAX_LINE)
        with contextlib.suppress(UnsupportedObject):
            assert_canonical_timestamps(list(fmt.parse_object(reader, context())))


def test_document_json_cannot_write_is_rejected_with_a_reason_not_raised(tmp_path: Path) -> None:
    # A parser may hand over a value orjson refuses (an integer beyond 64 bits from a numeric
    # field): the pipeline rejects that one line and carries on with the object.
    line = marked_nlb_line("big", 1).split(" ")
    line[7] = "99999999999999999999999"  # connection_time
    path = tmp_path / "nlb.log"
    path.write_text("\n".join([marked_nlb_line("ok", 0), " ".join(line), marked_nlb_line("ok", 2)]))
    transport = CountingTransport()
    kept = io.StringIO()
    pipeline = Pipeline(Settings(), LocalFiles(), BulkSink(transport), StreamDeadLetters(kept))  # type: ignore[arg-type]
    result = pipeline.ingest(ObjectRef("", str(path)))
    assert (result.lines, result.documents, result.rejected) == (3, 2, 1)
    assert transport.documents == 2
    assert f"{path}:2: " in kept.getvalue()
