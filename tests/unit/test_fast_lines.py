"""The fast path (logferry.formats.fast, the Rust writers of logferry.formats._lines) held to
the Python parsers line by line: every line a writer takes gives exactly the Python document
(after the cloud facts' fill), byte for byte as orjson writes it, on real lines, the
benchmark's generated lines, the repository's events and hypothesis' mutations of them; and
the writers take the plain records (a writer declining everything would pass the first test
and buy nothing)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logferry.formats import FORMATS, fast
from tests.conftest import REALWORLD, ROOT, examples
from tests.fast_files import Pair
from tools.bench import generators

pytestmark = pytest.mark.skipif(
    not fast.available(), reason="logferry.formats._lines is not built (make native; cargo)"
)

NAMES = sorted(fast.WRITERS)
FACTS = [("123456789012", "eu-west-1"), (None, None), ("210987654321", None)]


@cache
def corpus(name: str) -> tuple[str, ...]:
    """Real lines, the repository's events, and the benchmark generator's lines."""
    found: list[str] = []
    for path in sorted((REALWORLD / name).glob("*.log")):
        found += Path(path).read_text(errors="replace").splitlines()
    for path in sorted((ROOT / "events" / "logs").rglob("*")):
        if path.is_file() and FORMATS[name].key_pattern.search(str(path)):
            import gzip

            opener: Any = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", errors="replace") as stream:
                found += stream.read().splitlines()
    found += generators.lines(name, 2_000_000)
    return tuple(line for line in found if line)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("account", "region"), FACTS)
def test_every_line_taken_is_the_python_document(
    name: str, account: str | None, region: str | None
) -> None:
    pair = Pair(name, account, region)
    for line in corpus(name):
        assert (problem := pair.differs(line)) is None, problem
    assert pair.lines > 2000


def test_alb_lines_taken_with_user_agents_on_are_the_python_document() -> None:
    """Each agent string is declined until the Python path has filled a document of it and
    taught the writer; after that its lines are taken, with the same fields."""
    pair = Pair("alb", "123456789012", "eu-west-1", agents=True)
    for line in corpus("alb"):
        assert (problem := pair.differs(line)) is None, problem
    assert pair.taken >= 0.95 * pair.lines


@pytest.mark.parametrize("name", NAMES)
def test_the_generated_records_all_take_the_fast_path(name: str) -> None:
    pair = Pair(name, "123456789012", "eu-west-1")
    for line in generators.lines(name, 2_000_000):
        assert (problem := pair.differs(line)) is None, problem
    assert pair.taken >= 0.99 * pair.lines, (pair.taken, pair.lines)


# Values that make a field wrong, odd or borderline.
ODD = st.sampled_from(
    [
        "", "-", "0", "00443", "65535", "65536", "-1", "+5", "1e3", "4.5", "99999999999999999999",
        "9" * 18, "9" * 19, '"', "\\", 'a"b\\c', "1.2.3.4", "::1", "::ffff:1.2.3.4", "10.0.0.1:80",
        "abc", "\u0663", "\t", "x\x00y", "é", "2026-11-20T12:00:00Z", "2026-11-20T12:00:00.123456Z",
        "2026-13-40T25:61:61Z", "1795175940", "99999999999", "999999999999", "ACCEPT", "REJECT",
        "NODATA", "OK", "tlsv12", "TLSv1.2", "*", "--", "eni-0", '"GET / HTTP/1.1"',
    ]
)  # fmt: skip


@cache
def seeds(name: str) -> tuple[str, ...]:
    lines = corpus(name)
    return lines[:: max(1, len(lines) // 300)]


@pytest.mark.parametrize("name", NAMES)
@settings(
    max_examples=examples(600),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_lines_taken_are_the_python_document(name: str, data: st.DataObject) -> None:
    line = data.draw(st.sampled_from(seeds(name)))
    fields = line.split(" ")
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(fields) - 1))
        action = data.draw(st.sampled_from(["replace", "drop", "double", "splice"]))
        if action == "replace":
            fields[at] = data.draw(ODD)
        elif action == "drop" and len(fields) > 1:
            del fields[at]
        elif action == "double":
            fields.insert(at, fields[at])
        else:
            cut = data.draw(st.integers(0, len(fields[at])))
            fields[at] = fields[at][:cut] + data.draw(ODD) + fields[at][cut:]
    pair = Pair(name, "123456789012", "eu-west-1")
    line = " ".join(fields)
    assert (problem := pair.differs(line)) is None, problem


def _ingest(path: Path, name: str, **settings_of: Any) -> tuple[list[bytes], Any]:
    from logferry.config import Settings
    from logferry.ingest.deadletter import StreamDeadLetters
    from logferry.ingest.objects import LocalFiles
    from logferry.ingest.pipeline import Pipeline
    from logferry.model import ObjectRef
    from logferry.output.sink import BulkSink
    from tools.bench.workers import RecordingTransport

    transport = RecordingTransport()
    settings = Settings(**{"accept_days_back": 3650, "enrich": (), **settings_of})
    pipeline = Pipeline(settings, LocalFiles(), BulkSink(transport), StreamDeadLetters(), name)
    result = pipeline.ingest(ObjectRef("", str(path)))
    return transport.bodies, result


# Drop and sample rules the fast path decides on the JSON it writes (decoding only the bodies
# they may hold for), one source each, of every kind of condition.
RULES = {
    "alb": (
        "alb:url.path=/healthz;alb:http.response.status_code>499",
        "alb:http.request.method=GET:0.5",
    ),
    "nlb": ("nlb:tls.version=1.2,destination.port=443;nlb:source.port<1024", "nlb:0.3"),
    "vpcflow": (
        "vpcflow:aws.vpcflow.action=ACCEPT,destination.port=443;vpcflow:source.ip=10.*",
        "vpcflow:network.transport!=tcp:0.5",
    ),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ruled", [False, True])
def test_the_pipeline_sends_the_same_bodies_with_and_without_the_fast_path(
    name: str, ruled: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mixed lines (taken, declined, rejected, of new days) through the whole pipeline: the
    same bulk bodies, byte for byte, the same counts; with drop and sample rules too."""
    from logferry.enrich.rules import parse_drop, parse_sample

    lines = list(corpus(name))
    path = tmp_path / f"AWSLogs/123456789012/{name}.log"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([*lines, "broken line", "", *lines[:50]]) + "\n")
    drop, sample = RULES[name]
    rules = {"drop": parse_drop(drop), "sample": parse_sample(sample)} if ruled else {}
    import logferry.ingest.pipeline as pipeline_module

    writers: list[object] = []

    def recorded(*args: Any) -> Any:
        lines, writer, learn = fast.fast_lines(*args)
        writers.append(writer)
        return lines, writer, learn

    monkeypatch.setattr(pipeline_module, "fast_lines", recorded)
    fast_bodies, fast_result = _ingest(path, name, **rules)
    assert writers and all(writers), "the fast path was not taken"
    monkeypatch.setattr(fast, "_lines", None)
    slow_bodies, slow_result = _ingest(path, name, **rules)
    assert fast_result.documents == slow_result.documents > 500
    assert fast_result.rejected == slow_result.rejected > 0
    assert fast_result.dropped == slow_result.dropped
    assert (fast_result.dropped > 100) is ruled
    assert fast_bodies == slow_bodies


def test_the_fast_path_is_left_when_documents_need_more_than_cloud_facts() -> None:
    from logferry.enrich import Enrichment
    from logferry.enrich.geoip import GeoIP
    from logferry.enrich.organizations import Organizations

    vpc, alb = FORMATS["vpcflow"], FORMATS["alb"]
    key = "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/11/20/x.log.gz"
    assert Enrichment().fast_facts(key, vpc) == ("123456789012", "eu-west-1", None)
    assert Enrichment(user_agents=True).fast_facts(key, vpc) is not None  # no agents in VPC
    with_agents = Enrichment(user_agents=True).fast_facts(key, alb)
    assert with_agents is not None and with_agents[2] is not None  # the writer adds them
    assert Enrichment(organizations=Organizations(object())).fast_facts(key, vpc) is None
    assert Enrichment(geoip=GeoIP()).fast_facts(key, vpc) is None
    assert Enrichment().fast_facts(key, FORMATS["postfix"]) is None  # not AWS's


def test_alb_with_user_agents_sends_the_same_bodies_with_and_without_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "AWSLogs/123456789012/alb.log"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(corpus("alb")) + "\n")
    fast_bodies, fast_result = _ingest(path, "alb", enrich=("user_agent",))
    monkeypatch.setattr(fast, "_lines", None)
    slow_bodies, slow_result = _ingest(path, "alb", enrich=("user_agent",))
    assert fast_result.documents == slow_result.documents > 1000
    assert fast_bodies == slow_bodies
    assert b'"user_agent":{"original":' in fast_bodies[0] and b'"name":' in fast_bodies[0]
