"""Checkpoints: resuming at any line gives back the exact bytes and numbers of the object,
parts read back as the object, continuation messages round-trip, and the watch stops in time."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logferry.config import ResumeSettings
from logferry.formats import FORMATS
from logferry.ingest.checkpoint import (
    BudgetSpent,
    Continuations,
    continuation_message,
    segment_from_message,
)
from logferry.ingest.notifications import continuation_of, refs_from_message
from logferry.ingest.parts import WorkParts
from logferry.ingest.reader import LineReader
from logferry.ingest.segments import (
    LINES,
    STREAM,
    Segment,
    SegmentReader,
    deadletter_ref,
    resume_mode,
)
from logferry.model import Document, ObjectRef, Rejection
from tests.conftest import examples

REF = ObjectRef("logs", "AWSLogs/x/y.log.gz", size=1234, etag="e1")


class Trickle:
    """A stream that hands out at most `step` bytes a read (after a first read long enough
    for the reader to see the gzip magic): chunk boundaries anywhere."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step
        self._first = True

    def read(self, size: int = -1) -> bytes:
        step = max(self._step, 16) if self._first else self._step
        self._first = False
        return self._data.read(min(step, size if size > 0 else step))


def line_starts(data: bytes) -> dict[int, int]:
    """1-based line number -> offset of its first byte, as the reader numbers lines."""
    starts, offset = {}, 0
    for number, raw in enumerate(data.split(b"\n"), 1):
        starts[number] = offset
        offset += len(raw) + 1
    return starts


line_text = st.text(alphabet=st.sampled_from("ab \t\r\x00é\u2028"), min_size=0, max_size=30).map(
    lambda s: s.encode()
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(line_text, min_size=1, max_size=40),
    trailing_newline=st.booleans(),
    compressed=st.booleans(),
    step=st.integers(1, 64),
    data=st.data(),
)
def test_rest_from_any_yielded_line_is_the_object_from_that_line(
    lines: list[bytes], trailing_newline: bool, compressed: bool, step: int, data: Any
) -> None:
    raw = b"\n".join(lines) + (b"\n" if trailing_newline else b"")
    stored = gzip.compress(raw) if compressed else raw
    yielded = [n for n, _ in LineReader(io.BytesIO(stored))]
    if not yielded:
        return
    stop = data.draw(st.sampled_from(yielded))
    reader = SegmentReader(Trickle(stored, step))
    for number, _ in reader:
        if number == stop:
            break
    assert reader.can_resume_at(stop)
    assert b"".join(reader.rest(stop)) == raw[line_starts(raw)[stop] :]
    assert reader.lines_read == stop - 1


def nlb_like(count: int) -> bytes:
    return b"".join(b"line %d %s\n" % (n, b"x" * (n % 50)) for n in range(1, count + 1))


def test_part_is_numbered_as_the_object_and_skips_the_lines_done() -> None:
    # The object's lines 101.. as a part, resumed at line 151.
    raw = nlb_like(300)
    part = raw[line_starts(raw)[101] :]
    segment = Segment("nlb", part=ObjectRef("work", "p"), first_line=101, resume_line=151)
    reader = SegmentReader(io.BytesIO(gzip.compress(part)), segment)
    got = list(reader)
    assert got[0] == (151, "line 151 " + "x" * (151 % 50))
    assert got[-1][0] == 300 and len(got) == 150
    assert reader.lines_read == 150


def test_oversize_line_before_the_resume_line_is_not_rejected_again() -> None:
    raw = b"ok 1\n" + b"y" * 5000 + b"\nok 3\nok 4\n"
    segment = Segment("nlb", resume_line=3)
    reader = SegmentReader(Trickle(raw, 1000), segment, max_line_bytes=1000)
    assert [n for n, _ in reader] == [3, 4]
    assert reader.rejections == []
    reader = SegmentReader(Trickle(raw, 1000), None, max_line_bytes=1000)
    assert [n for n, _ in reader] == [1, 3, 4]
    assert [r.position for r in reader.rejections] == [2]


def test_damaged_stream_still_counts_the_lines_it_yielded() -> None:
    stored = gzip.compress(nlb_like(1000))[:-40]
    reader = SegmentReader(io.BytesIO(stored))
    yielded = list(reader)
    assert reader.problem is not None
    assert reader.lines_read == len(yielded) > 0


@pytest.fixture
def s3(aws_env: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="work")
    return client


def read_parts(s3: Any, parts: list[Any]) -> list[tuple[int, str]]:
    lines = []
    for part in parts:
        body = s3.get_object(Bucket=part.ref.bucket, Key=part.ref.key)["Body"]
        segment = Segment("nlb", part=part.ref, first_line=part.first_line)
        lines.extend(SegmentReader(body, segment))
    return lines


def test_parts_cut_at_line_boundaries_read_back_as_the_rest_of_the_object(s3: Any) -> None:
    raw = nlb_like(5000)
    stop = 1234
    reader = SegmentReader(Trickle(gzip.compress(raw), 4096))
    for number, _ in reader:
        if number == stop:
            break
    parts, problem = WorkParts(s3, "work", "w/", part_bytes=20_000).write(
        REF, stop, reader.rest(stop)
    )
    assert problem is None and len(parts) > 5
    assert all(p.bytes_out < 20_000 + 100 for p in parts)
    expected = [(n, t) for n, t in LineReader(io.BytesIO(raw)) if n >= stop]
    assert read_parts(s3, parts) == expected
    head = s3.head_object(Bucket="work", Key=parts[1].ref.key)
    assert head["Metadata"]["logferry-first-line"] == str(parts[1].first_line)
    assert head["Metadata"]["logferry-identity"] == REF.identity
    assert parts[1].ref.key == f"w/{REF.identity}/{parts[1].first_line:012d}.gz"


def test_spill_of_a_damaged_object_keeps_the_complete_lines_and_reports_the_damage(
    s3: Any,
) -> None:
    stored = gzip.compress(nlb_like(3000))
    stored = stored[: len(stored) * 2 // 3]
    whole = list(LineReader(io.BytesIO(stored)))
    reader = SegmentReader(Trickle(stored, 500))
    for number, _ in reader:
        if number == 10:
            break
    parts, problem = WorkParts(s3, "work", "w/", part_bytes=8000).write(REF, 10, reader.rest(10))
    assert problem is not None and "truncated" in problem
    assert read_parts(s3, parts) == [(n, t) for n, t in whole if n >= 10]


def test_continuation_message_round_trips_and_is_recognised() -> None:
    part = ObjectRef("work", f"logferry-work/{REF.identity}/000000000007.gz")
    segment = Segment("nlb", part=part, first_line=7, resume_line=9, documents=6, round=2)
    body = json.dumps(continuation_message(REF, segment))
    message = continuation_of(body)
    assert message is not None
    assert segment_from_message(message, ResumeSettings(work_bucket="work")) == (REF, segment)
    # Anything that reads it as a notification still finds the object (ingesting it whole is
    # idempotent).
    assert list(refs_from_message(body)) == [REF]
    assert continuation_of('{"Records": []}') is None


def test_each_segment_keeps_its_dead_letters_under_a_name_of_its_own() -> None:
    first = deadletter_ref(REF, None)
    later = deadletter_ref(REF, Segment("nlb", resume_line=500))
    other = deadletter_ref(REF, Segment("cloudtrail", mode=STREAM, skip_items=40))
    assert first == REF
    assert len({first.identity, later.identity, other.identity}) == 3


def test_line_formats_resume_at_lines_and_the_others_by_re_reading() -> None:
    modes = {name: resume_mode(fmt) for name, fmt in FORMATS.items()}
    assert modes["nlb"] == LINES
    if "cloudtrail" in modes:
        assert modes["cloudtrail"] == STREAM


class Clock:
    def __init__(self, left: float) -> None:
        self.left = left

    def __call__(self) -> float:
        return self.left


def watch(clock: Clock, **settings: Any) -> Continuations:
    return Continuations(None, object(), ResumeSettings(**settings), remaining=clock, reserve=20.0)


def test_watch_stops_while_there_is_time_to_spill_the_rest() -> None:
    clock = Clock(25.0)
    continuations = watch(clock, queue_url="q", spill_rate=1e6)
    big = ObjectRef("logs", "k", size=10_000_000)  # 10 s to spill at 1 MB/s
    reader = SegmentReader(io.BytesIO(b"a\nb\n"))
    list(reader)
    line2 = Rejection(2, "r", "b")
    fmt = FORMATS["nlb"]
    # 25 s left < 20 s reserve + ~10 s to spill: stop here
    assert continuations.watch(big, None, fmt, reader).next_check(1024, line2) == 0
    # A small object, or a part (nothing to spill): go on, look again 1024 entries later.
    assert continuations.watch(REF, None, fmt, reader).next_check(1024, line2) == 2048
    part = Segment("nlb", part=ObjectRef("w", "p"))
    assert continuations.watch(big, part, fmt, reader).next_check(1024, line2) == 2048
    clock.left = 19.0
    item = ("i", "id", Document({}, 2))
    assert continuations.watch(REF, part, fmt, reader).next_check(7, item) == 0
    # A line whose start is no longer at hand (the parser read past it): try the next entry.
    ahead = SegmentReader(Trickle(b"".join(b"line %d\n" % n for n in range(1, 100)), 20))
    list(ahead)
    assert continuations.watch(REF, None, fmt, ahead).next_check(9, Rejection(1, "r", "a")) == 10


def test_without_a_queue_an_object_out_of_time_goes_back_whole() -> None:
    continuations = Continuations(None, None, ResumeSettings(), remaining=Clock(0.0))
    reader = SegmentReader(io.BytesIO(b"a\n"))
    list(reader)
    with pytest.raises(BudgetSpent):
        continuations.watch(REF, None, FORMATS["nlb"], reader).suspend(Rejection(1, "r", "a"), 1, 0)


def test_resuming_after_an_over_long_line_neither_skips_too_far_nor_reports_it_again() -> None:
    # The over-long line spans several reads, so the reader drops it while streaming.
    body = b"a\n" + b"x" * 600_000 + b"\nb\nc\n"
    first = SegmentReader(io.BytesIO(body), max_line_bytes=1000)
    assert list(first) == [(1, "a"), (3, "b"), (4, "c")]
    assert [r.position for r in first.rejections] == [2]
    resumed = SegmentReader(io.BytesIO(body), Segment("nlb", resume_line=3), max_line_bytes=1000)
    assert list(resumed) == [(3, "b"), (4, "c")] and resumed.rejections == []
