"""The benchmark's machinery on tiny inputs: generated lines parse, measurements run and count.

Nothing here is timed: `make bench` measures; these tests only prove it measures the right
thing (every generated line becomes a document, the naive baseline reads the same lines).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from logferry.formats import FORMATS
from logferry.model import Document, ObjectRef, ParseContext, Rejection
from tools.bench import generators as benchgen
from tools.bench import naive, workers

SMALL = 300_000  # bytes of text per generated object


def registered(name: str) -> None:
    if name not in FORMATS:
        pytest.skip(f"{name} is not registered in logferry.formats.FORMATS")


@pytest.mark.parametrize("name", sorted(benchgen.GENERATORS))
def test_every_generated_line_parses_into_a_document(name: str) -> None:
    registered(name)
    lines = list(benchgen.lines(name, SMALL))
    ctx = ParseContext(ObjectRef("", f"bench.{name}"))
    items = list(FORMATS[name].parse(enumerate(lines, 1), ctx))
    rejections = [item for item in items if isinstance(item, Rejection)]
    assert rejections == []
    headers = sum(1 for line in lines if line.startswith(("#", "version ")))
    assert len(items) == len(lines) - headers > 300
    assert all(isinstance(item, Document) and item.source["@timestamp"] for item in items)


@pytest.mark.parametrize("name", sorted(benchgen.GENERATORS))
def test_generators_are_deterministic_and_sized(name: str) -> None:
    first = list(benchgen.lines(name, SMALL))
    assert first == list(benchgen.lines(name, SMALL))
    size = sum(len(line) + 1 for line in first)
    assert SMALL <= size < SMALL + 10_000


def test_generated_objects_are_cached_gzip_files(tmp_path: Path) -> None:
    path = benchgen.write_object(tmp_path, "nlb", SMALL)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    stamp = path.stat().st_mtime_ns
    assert benchgen.write_object(tmp_path, "nlb", SMALL) == path
    assert path.stat().st_mtime_ns == stamp  # not written twice
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left


@pytest.mark.parametrize("name", sorted(naive.NAIVE))
def test_pipeline_and_naive_runs_read_the_same_lines(name: str, tmp_path: Path) -> None:
    registered(name)
    path = benchgen.write_object(tmp_path, name, SMALL)
    piped = workers.run_pipeline(name, path)
    baseline = workers.run_naive(name, path)
    assert piped["outcome"] == "indexed" and piped["rejected"] == 0
    assert piped["lines"] == baseline["lines"] > 300
    assert piped["documents"] == baseline["documents"]
    assert piped["bytes"] == baseline["bytes"]
    # Every document reached the discarding transport as an action line and a source line.
    assert piped["requests"] >= 1 and piped["body_bytes"] > piped["bytes"]


def test_naive_nlb_builds_a_document_comparable_to_the_parser() -> None:
    registered("nlb")
    for line in benchgen.lines("nlb", 50_000):
        ours, baseline = FORMATS["nlb"].parse_line(line), naive.naive_nlb(line)  # type: ignore[attr-defined]
        assert baseline is not None
        assert baseline["@timestamp"] == ours["@timestamp"]
        assert baseline["source"] == ours["source"] and baseline["tls"] == ours["tls"]
        assert baseline["aws"]["elb"] == ours["aws"]["elb"]


def test_discarding_transport_counts_and_answers_like_a_clean_bulk() -> None:
    transport = workers.DiscardingTransport()
    assert transport.bulk(b'{"index":{}}\n{}\n') == {"errors": False}
    assert (transport.requests, transport.bytes) == (1, 16)


def test_worker_measures_in_a_fresh_process(tmp_path: Path) -> None:
    registered("nlb")
    path = benchgen.write_object(tmp_path, "nlb", SMALL)
    result = workers.worker("pipeline", path, "--format", "nlb")
    assert result["documents"] == result["lines"] > 300
    assert result["cpu"] > 0 and result["peak_rss_mib"] > 10


def test_rule_cost_runs_the_three_pipelines_and_counts_what_the_rule_drops(
    tmp_path: Path,
) -> None:
    """`--rule-cost`'s worker: a rule that drops nothing and the drop rule beside no rule, in
    one process; the share is what the drop rule dropped (ALB's /healthz lines)."""
    registered("alb")
    path = benchgen.write_object(tmp_path, "alb", SMALL)
    found = workers.run_rule_cost("alb", path, runs=1)
    assert min(found["plain_ns"], found["never_ns"], found["drop_ns"]) > 0
    healthz = sum("/healthz" in line for line in benchgen.lines("alb", SMALL))
    assert found["lines"] > 300 and healthz > 0
    assert found["dropped_share"] == pytest.approx(healthz / found["lines"])
