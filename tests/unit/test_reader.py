"""The reader: gzip by magic bytes, multi-member, plain text, and hostile input contained."""

from __future__ import annotations

import gzip
import io

from logferry.ingest.reader import LineReader


def lines_of(data: bytes, **caps: int) -> tuple[list[tuple[int, str]], LineReader]:
    reader = LineReader(io.BytesIO(data), **caps)
    return list(reader), reader


def test_plain_text_lines_are_numbered_from_one_and_blank_lines_skipped() -> None:
    lines, reader = lines_of(b"a\n\nb\r\nc")
    assert lines == [(1, "a"), (3, "b"), (4, "c")]
    assert reader.lines_read == 4 and not reader.compressed and reader.problem is None


def test_gzip_is_recognised_by_magic_bytes_whatever_the_name() -> None:
    lines, reader = lines_of(gzip.compress(b"x\ny\n"))
    assert lines == [(1, "x"), (2, "y")]
    assert reader.compressed


def test_multi_member_gzip_is_read_member_after_member() -> None:
    data = gzip.compress(b"one\ntwo\n") + gzip.compress(b"three\n")
    assert [text for _, text in lines_of(data)[0]] == ["one", "two", "three"]


def test_lines_spanning_read_chunks_are_joined() -> None:
    body = "".join(f"line {i} " + "x" * 300 + "\n" for i in range(20_000)).encode()
    lines, reader = lines_of(gzip.compress(body))
    assert len(lines) == 20_000
    assert lines[-1][1].startswith("line 19999 ")
    assert reader.bytes_out == len(body)


def test_corrupt_gzip_keeps_the_lines_before_the_damage_and_reports_it() -> None:
    good = gzip.compress(b"".join(b"line %d\n" % i for i in range(50_000)))
    damaged = good[: len(good) // 2] + b"\x00garbage" * 100 + good[len(good) // 2 :]
    lines, reader = lines_of(damaged)
    assert reader.problem is not None and "gzip" in reader.problem
    assert all(text == f"line {n - 1}" for n, text in lines)


def test_truncated_gzip_is_reported_as_truncated() -> None:
    data = gzip.compress(b"a\nb\nc\n" * 1000)
    lines, reader = lines_of(data[:-20])
    assert reader.problem is not None and "truncated" in reader.problem
    assert lines[0] == (1, "a")


def test_gzip_bomb_stops_at_the_cap_with_bounded_memory() -> None:
    bomb = gzip.compress(b"A" * (200 * 1024**2), compresslevel=9)  # 200 MiB from ~200 KiB
    assert len(bomb) < 1024**2
    lines, reader = lines_of(bomb, max_object_bytes=16 * 1024**2, max_line_bytes=1024)
    assert reader.problem is not None and "exceeds the cap" in reader.problem
    assert lines == []
    assert reader.bytes_out <= 16 * 1024**2 + 4 * 1024**2  # one inflate step past the cap


def test_over_long_line_is_rejected_with_its_number_and_the_next_lines_survive() -> None:
    data = b"first\n" + b"Z" * 5000 + b"\nafter\n"
    lines, reader = lines_of(data, max_line_bytes=1000)
    assert lines == [(1, "first"), (3, "after")]
    assert [(r.position, r.raw[:3]) for r in reader.rejections] == [(2, "ZZZ")]
    assert "longer than 1000 bytes" in reader.rejections[0].reason


def test_over_long_line_across_many_chunks_is_one_rejection() -> None:
    data = b"a\n" + b"Q" * (3 * 1024**2) + b"\nb\n"
    lines, reader = lines_of(gzip.compress(data), max_line_bytes=64 * 1024)
    assert lines == [(1, "a"), (3, "b")]
    assert [r.position for r in reader.rejections] == [2]


def test_invalid_utf8_is_replaced_and_counted_and_nul_bytes_kept() -> None:
    lines, reader = lines_of(b"ok\nbad \xff\xfe here\nnul \x00 byte\n")
    assert lines[1] == (2, "bad \ufffd\ufffd here")
    assert lines[2] == (3, "nul \x00 byte")
    assert reader.invalid_utf8_lines == 1


def test_empty_object_yields_nothing_and_no_problem() -> None:
    lines, reader = lines_of(b"")
    assert lines == [] and reader.problem is None


def test_peek_does_not_consume_and_first_line_skips_blank_lines_and_bom() -> None:
    reader = LineReader(io.BytesIO(gzip.compress("\ufeff\n\nhello\nworld\n".encode())))
    assert reader.first_line() == "hello"
    assert [text for _, text in reader][-2:] == ["hello", "world"]


class Trickle:
    """A stream that returns one byte a read, as a slow socket may."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(1)


def test_gzip_is_recognised_when_the_stream_returns_one_byte_at_a_time() -> None:
    reader = LineReader(Trickle(gzip.compress(b"x\ny\n")))
    assert list(reader) == [(1, "x"), (2, "y")] and reader.compressed


def test_lines_read_says_how_far_a_damaged_stream_got() -> None:
    truncated = gzip.compress(b"".join(b"line %d\n" % i for i in range(5000)))[:-200]
    lines, reader = lines_of(truncated)
    assert reader.problem is not None and "truncated" in reader.problem
    assert reader.lines_read >= len(lines) > 0


def test_an_over_long_line_across_reads_is_dropped_and_numbered() -> None:
    # The over-long line spans several reads, so the reader drops it while streaming.
    body = b"a\n" + b"x" * 600_000 + b"\nb\nc\n"
    first, reader = lines_of(body, max_line_bytes=1000)
    assert first == [(1, "a"), (3, "b"), (4, "c")]
    assert [r.position for r in reader.rejections] == [2]


def test_head_lines_peek_whole_lines_and_consume_nothing() -> None:
    body = "\ufeff\n" + "".join(f"line {i:04d}\n" for i in range(1000))
    reader = LineReader(io.BytesIO(gzip.compress(body.encode())))
    assert reader.head_lines(3) == ["line 0000", "line 0001", "line 0002"]
    # A peek of 50 bytes cuts line 5 short: only the whole lines before it.
    assert reader.head_lines(100, size=50) == [f"line {i:04d}" for i in range(4)]
    assert len(reader.head_lines(1000)) == 1000
    assert [text for _, text in reader][1:3] == ["line 0000", "line 0001"]  # from byte 0
    short = LineReader(io.BytesIO(b"a\nb"))
    assert short.head_lines(10) == ["a", "b"]  # the object ends: its last line is whole
