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
        "81.2.69.1" + ":" * 40,
    ]
)  # fmt: skip


@cache
def seeds(name: str) -> tuple[str, ...]:
    lines = corpus(name)
    return lines[:: max(1, len(lines) // 300)]


def mutations(examples_run: int) -> Any:
    """Hypothesis' settings of the tests of mutated lines (slow to draw, large)."""
    return settings(
        max_examples=examples(examples_run),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def mutated(name: str, data: st.DataObject) -> str:
    """A seed line of the format with one to three of its fields replaced, removed, doubled
    or with an odd value spliced in."""
    fields = data.draw(st.sampled_from(seeds(name))).split(" ")
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
    return " ".join(fields)


@pytest.mark.parametrize("name", NAMES)
@mutations(600)
@given(data=st.data())
def test_mutated_lines_taken_are_the_python_document(name: str, data: st.DataObject) -> None:
    pair = Pair(name, "123456789012", "eu-west-1")
    assert (problem := pair.differs(mutated(name, data))) is None, problem


@pytest.mark.parametrize("name", NAMES)
@mutations(300)
@given(data=st.data())
def test_mutated_lines_a_rule_drops_unwritten_are_python_drops(
    name: str, data: st.DataObject
) -> None:
    """A writer decides drop rules on the fields it marks before writing a line, and writes
    nothing for a drop: it must drop only lines Python takes, and drops too. One rule per
    marked field, holding for any value it has, so that every line taken is dropped unwritten;
    the mutations give lines Python rejects for other fields."""
    from logferry.enrich.decision import Rules
    from logferry.enrich.rules import parse_drop

    marked = [field for field, _ in getattr(fast._lines, fast.WRITERS[name])().marks]
    rules = ";".join(f"{name}:{field}=*" for field in marked)
    drops = Rules(parse_drop(rules), ()).on_json(name)
    pair = Pair(name, "123456789012", "eu-west-1", drops=drops)
    assert (problem := pair.differs(mutated(name, data))) is None, problem


def _recording_writers(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The fast writers the pipeline makes from now on (None where it makes none)."""
    import logferry.ingest.linewise as linewise

    writers: list[object] = []

    def recorded(*args: Any, **kwargs: Any) -> Any:
        lines, writer, learn = fast.fast_lines(*args, **kwargs)
        writers.append(writer)
        return lines, writer, learn

    monkeypatch.setattr(linewise, "fast_lines", recorded)
    return writers


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


# Drop and sample rules the fast path decides (before writing, or on the JSON it writes,
# decoding only the bodies they may hold for), one source each, of every kind of condition.
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
    writers = _recording_writers(monkeypatch)
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
    assert Enrichment().fast_facts(key, vpc) == ("123456789012", "eu-west-1", None, None, None)
    assert Enrichment(user_agents=True).fast_facts(key, vpc) is not None  # no agents in VPC
    with_agents = Enrichment(user_agents=True).fast_facts(key, alb)
    assert with_agents is not None and with_agents[2] is not None  # the writer adds them
    assert Enrichment(organizations=Organizations(object())).fast_facts(key, vpc) is None
    # GeoIP: the writers read the same files, and ask it for the addresses they leave to it
    geoip = GeoIP()
    assert Enrichment(geoip=geoip).fast_facts(key, vpc) == (
        "123456789012",
        "eu-west-1",
        None,
        (None, None),
        geoip.members,
    )
    assert Enrichment().fast_facts(key, FORMATS["postfix"]) is None  # not AWS's


def test_alb_with_user_agents_sends_the_same_bodies_with_and_without_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "AWSLogs/123456789012/alb.log"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(corpus("alb")) + "\n")
    writers = _recording_writers(monkeypatch)
    fast_bodies, fast_result = _ingest(path, "alb", enrich=("user_agent",))
    assert writers and all(writers), "the fast path was not taken"
    monkeypatch.setattr(fast, "_lines", None)
    slow_bodies, slow_result = _ingest(path, "alb", enrich=("user_agent",))
    assert fast_result.documents == slow_result.documents > 1000
    assert fast_bodies == slow_bodies
    assert b'"user_agent":{"original":' in fast_bodies[0] and b'"name":' in fast_bodies[0]


# GeoIP on the fast path: the writers add the endpoints' geo and as from the same databases.


@pytest.fixture(scope="module")
def spread_databases(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    from tools.bench.geodb import spread

    city, asn = spread(tmp_path_factory.mktemp("geo"))
    return str(city), str(asn)


@pytest.mark.parametrize("name", NAMES)
def test_lines_taken_with_geoip_on_are_the_python_document(
    name: str, spread_databases: tuple[str, str]
) -> None:
    """Every line taken (real, events, generated) has the Python fills' geo and as; the
    generated ones are all taken (IPv6 endpoints too: GeoIP answers for those)."""
    pair = Pair(name, "123456789012", "eu-west-1", geoip=spread_databases)
    for line in corpus(name):
        assert (problem := pair.differs(line)) is None, problem
    generated = Pair(name, "123456789012", "eu-west-1", geoip=spread_databases)
    for line in generators.lines(name, 2_000_000):
        assert (problem := generated.differs(line)) is None, problem
    assert generated.taken >= 0.99 * generated.lines, (generated.taken, generated.lines)


@pytest.mark.parametrize("name", NAMES)
@mutations(300)
@given(data=st.data())
def test_mutated_lines_taken_with_geoip_on_are_the_python_document(
    name: str, spread_databases: tuple[str, str], data: st.DataObject
) -> None:
    """Odd values (addresses among them) spliced into real lines, with GeoIP on."""
    fields = data.draw(st.sampled_from(seeds(name))).split(" ")
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(fields) - 1))
        cut = data.draw(st.integers(0, len(fields[at])))
        fields[at] = fields[at][:cut] + data.draw(ODD) + fields[at][cut:]
    line = " ".join(fields)
    pair = Pair(name, "123456789012", "eu-west-1", geoip=spread_databases)
    assert (problem := pair.differs(line)) is None, problem


def test_alb_with_geoip_and_user_agents_on_are_the_python_document(
    spread_databases: tuple[str, str],
) -> None:
    pair = Pair("alb", "123456789012", "eu-west-1", agents=True, geoip=spread_databases)
    for line in corpus("alb"):
        assert (problem := pair.differs(line)) is None, problem
    assert pair.taken >= 0.85 * pair.lines


def _database(path: Path, kind: str, records: dict[str, Any]) -> str:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet  # type: ignore[import-untyped]

    writer = MMDBWriter(ip_version=6, database_type=kind, ipv4_compatible=True)
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return str(path)


def _odd_databases(tmp_path: Path) -> tuple[dict[str, bool], str, str]:
    """Records of odd shapes, each in a /24 of 1.2.0.0/16: {network's first address: whether
    the writer must take it}, the City and the ASN database."""
    import random

    from mmdb_writer import MmdbF32, MmdbU64, MmdbU128

    names = {"en": "Berlin"}
    country = {"iso_code": "DE", "names": {"en": "Germany"}}
    city: dict[str, Any] = {}
    asn: dict[str, Any] = {}
    taken: dict[str, bool] = {}

    def add(record: Any, system: Any = None, take: bool = True) -> None:
        network = f"1.2.{len(taken)}.0/24"
        city[network] = record
        if system is not None:
            asn[network] = system
        taken[f"1.2.{len(taken)}.7"] = take

    add({"country": country, "city": {"names": names}, "continent": {"code": "EU"}})
    add({"city": {}, "country": {"iso_code": "DE"}})  # missing names
    add({"registered_country": {"iso_code": "FR", "names": {"en": "France"}}})
    add({"country": {}, "registered_country": country})  # an empty country: falsy
    add({"country": {"iso_code": "", "names": {"en": ""}}, "continent": {"code": ""}})
    add({"city": {"names": {"en": "Zürich"}}, "country": {"names": {"en": "日本"}}})
    add({"city": {"names": {"en": 'a"b\\c\x01\x1f\x7f\u2028é\n\t'}}})
    add({"city": {"names": {"de": "München"}}, "continent": {"code": "EU"}})
    add({"city": {"names": {"en": 5}}, "country": {"names": ["en"]}})
    add({"location": {"latitude": 52, "longitude": -13}})  # integers
    add({"location": {"latitude": 52.0, "longitude": -0.0}})
    add({"location": {"latitude": MmdbF32(52.52), "longitude": MmdbF32(13.405)}})
    add({"location": {"latitude": 52.52}})  # one coordinate: no location
    add({"location": {"latitude": "52", "longitude": 1.5}})
    add({"location": {"latitude": 0.00001, "longitude": 1.0}}, take=False)  # 1e-05
    add({"location": {"latitude": 1e17, "longitude": 1.0}}, take=False)
    add({"country": {"iso_code": 276}}, take=False)  # a truthy non-string: copied by Python
    add({"continent": {"code": ["EU"]}}, take=False)
    add({"country": {"iso_code": 0, "names": {"en": "Germany"}}})  # falsy: skipped
    add({"other": b"\x00", "list": [1, 2, {"a": 1.5}]})  # nothing of ours: no geo
    add({"city": {"names": names}}, {"autonomous_system_number": 0})
    add(
        {},
        {"autonomous_system_number": MmdbU64(2**63 + 5), "autonomous_system_organization": "Big"},
    )
    add({}, {"autonomous_system_number": MmdbU128(2**70)}, take=False)  # orjson refuses it
    add({}, {"autonomous_system_number": True}, take=False)  # an int to Python: `true`
    add({}, {"autonomous_system_number": 1.5, "autonomous_system_organization": ""})
    add({}, {"autonomous_system_organization": 'Ørsted Net "x"'})
    # Coordinates of every magnitude orjson writes plainly, and around its limits.
    rng = random.Random(7)
    for exponent in range(-4, 16):
        for _ in range(3):
            lat = rng.uniform(1, 10) * 10.0**exponent
            lon = -rng.uniform(1, 10) * 10.0**exponent
            add({"location": {"latitude": lat, "longitude": lon}}, take=abs(lon) < 1e16)
    add({"location": {"latitude": 0.0001, "longitude": 9999999999999998.0}})
    add({"location": {"latitude": 1 / 3, "longitude": 2.0**52 + 0.5}})
    return (
        taken,
        _database(tmp_path / "odd-city.mmdb", "GeoIP2-City", city),
        _database(tmp_path / "odd-asn.mmdb", "GeoLite2-ASN", asn),
    )


VPC_LINE = (
    "2 123456789012 eni-0a1b2c3d {src} {dst} 443 49152 6 10 840 1795175940 1795176000 ACCEPT OK"
)


def test_odd_database_records_are_the_python_document_or_declined(tmp_path: Path) -> None:
    """Records without names or location, with registered_country only, non-ASCII and
    escaped names, odd types and floats of every magnitude: the writer writes what Python's
    fill adds, or declines; it declines exactly the records it cannot be sure of."""
    taken, city, asn = _odd_databases(tmp_path)
    for paths in [(city, asn), (city, None), (None, asn)]:
        pair = Pair("vpcflow", "123456789012", "eu-west-1", geoip=paths)
        for address, take in taken.items():
            for line in (
                VPC_LINE.format(src=address, dst="10.0.0.1"),
                VPC_LINE.format(src="10.0.0.1", dst=address),
            ):
                before = pair.taken
                assert (problem := pair.differs(line)) is None, problem
                if paths == (city, asn):
                    assert (pair.taken > before) is take, (address, line)
    both = Pair("vpcflow", None, None, geoip=(city, asn))
    for src, dst in zip(taken, list(taken)[1:], strict=False):
        assert both.differs(VPC_LINE.format(src=src, dst=dst)) is None


def test_addresses_left_to_python_are_answered_by_geoip_and_the_lines_taken(
    tmp_path: Path,
) -> None:
    """The writers ask GeoIP's own lookup (`GeoIP.members`) for the addresses whose reading
    is Python's (IPv6, dotted quads of other shapes): their lines are taken, with what the
    fill adds, geo included where the database has the address."""
    from logferry.enrich.geoip import DatabaseFile, GeoIP

    google = "2001:4860::/32"
    city = _database(
        tmp_path / "city.mmdb",
        "GeoIP2-City",
        {google: {"country": {"iso_code": "US", "names": {"en": "United States"}}}},
    )
    asn = _database(
        tmp_path / "asn.mmdb",
        "GeoLite2-ASN",
        {google: {"autonomous_system_number": 15169, "autonomous_system_organization": "G"}},
    )
    geoip = GeoIP(DatabaseFile(city), DatabaseFile(asn))
    assert geoip.members("2001:4860::8888").startswith(b',"geo":{"country_iso_code":"US"')
    assert geoip.members("2001:db8::1") == b""  # documentation: no geo
    addresses = ["2001:4860::8888", "2001:db8::1", "::ffff:1.2.0.7", "01.2.0.7", "::1"]
    for name, client in [("alb", 3), ("nlb", 5), ("vpcflow", None)]:
        pair = Pair(name, "123456789012", "eu-west-1", geoip=(city, asn))
        for address in addresses:
            if client is None:
                line = VPC_LINE.format(src=address, dst="8.8.8.8")
            else:
                fields = next(iter(generators.lines(name, 4000))).split(" ")
                fields[client] = f"{address}:5000"
                line = " ".join(fields)
            assert (problem := pair.differs(line)) is None, problem
        assert pair.taken == len(addresses), name


def test_what_an_address_gave_is_kept_for_the_process_other_writers(tmp_path: Path) -> None:
    """GeoIP's answers are the process's, per pair of databases (as Python's cache is): a
    second object's writer asks nothing again; another pair of databases asks afresh; an
    address Python did not answer is asked again."""
    _, city, asn = _odd_databases(tmp_path)
    asked: list[str] = []

    def members(address: str) -> bytes:
        asked.append(address)
        if address == "2001:db8::2":
            raise ValueError("no answer")
        return b',"geo":{"country_iso_code":"ZZ"}'

    def writer(paths: tuple[str | None, str | None]) -> Any:
        return fast._lines.VpcFlow(geoip=paths, geoip_members=members)

    line = VPC_LINE.format(src="2001:db8::1", dst="10.0.0.1")
    first = writer((city, asn)).line(line)
    assert first is not None and b'"geo":{"country_iso_code":"ZZ"}' in first[1]
    assert writer((city, asn)).line(line) == first
    assert asked == ["2001:db8::1"]
    writer((city, None)).line(line)
    assert asked == ["2001:db8::1"] * 2
    unanswered = VPC_LINE.format(src="2001:db8::2", dst="10.0.0.1")
    assert writer((city, asn)).line(unanswered) is None  # declined: Python reads the line
    assert writer((city, asn)).line(unanswered) is None
    assert asked[2:] == ["2001:db8::2"] * 2


@pytest.mark.parametrize(
    "address",
    [
        "1.2.0.7", "01.2.0.7", "1.2.0.07", "1.2.0", "1.2.0.7.", "1.2.0.256", "0x1.2.0.7",
        "10.0.0.1", "100.64.0.1", "192.0.0.9", "224.0.0.1", "255.255.255.255", "::1",
        "::ffff:1.2.0.7", "2001:db8::1", " 1.2.0.7", "1.2.0.7 ", "-",
    ],
)  # fmt: skip
def test_addresses_python_might_read_otherwise_are_declined_or_agree(
    address: str, tmp_path: Path
) -> None:
    """Only dotted quads both inet_pton and this writer read alike are looked up here: the
    rest (leading zeros, IPv6, spaces) are Python's to answer, or the line is declined; either
    way the document agrees."""
    _, city, asn = _odd_databases(tmp_path)
    for name, client in [("alb", 3), ("nlb", 5), ("vpcflow", None)]:
        pair = Pair(name, "123456789012", "eu-west-1", geoip=(city, asn))
        if client is None:
            line = VPC_LINE.format(src=address, dst="1.2.0.7")
        else:  # the client field of a generated line, `address:port`
            fields = next(iter(generators.lines(name, 4000))).split(" ")
            fields[client] = f"{address}:5000"
            line = " ".join(fields)
        assert (problem := pair.differs(line)) is None, problem
        if address == "1.2.0.7":
            assert pair.taken == 1


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    octets=st.lists(st.integers(0, 255), min_size=4, max_size=4),
    odd=st.text(alphabet="0123456789.x: ", max_size=18),
)
def test_every_dotted_quad_is_read_by_the_writer_and_agrees(
    octets: list[int], odd: str, spread_databases: tuple[str, str]
) -> None:
    """The writers read every plain dotted quad themselves (never asking Python), and any other
    text of digits and dots is asked or declined: either way the document is Python's."""
    from logferry.formats import _lines  # type: ignore[attr-defined]

    asked: list[str] = []

    def members(address: str) -> bytes:
        asked.append(address)
        return b""

    quad = ".".join(map(str, octets))
    writer = _lines.VpcFlow(None, None, geoip=spread_databases, geoip_members=members)
    assert writer.line(VPC_LINE.format(src=quad, dst="10.0.0.1")) is not None
    assert asked == []
    pair = Pair("vpcflow", None, None, geoip=spread_databases)
    for address in (quad, odd):
        line = VPC_LINE.format(src=address, dst="10.0.0.1")
        assert (problem := pair.differs(line)) is None, problem


def test_a_database_the_writer_cannot_read_declines_every_line(tmp_path: Path) -> None:
    from logferry.formats import _lines  # type: ignore[attr-defined]

    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"\xab\xcd\xefMaxMind.com" + b"\x00" * 64)
    writer = _lines.VpcFlow("123456789012", "eu-west-1", geoip=(str(broken), None))
    assert writer.line(VPC_LINE.format(src="1.2.0.7", dst="10.0.0.1")) is None
    plain = _lines.VpcFlow("123456789012", "eu-west-1")
    assert plain.line(VPC_LINE.format(src="1.2.0.7", dst="10.0.0.1")) is not None


@pytest.mark.parametrize("name", NAMES)
def test_with_geoip_on_the_pipeline_sends_the_same_bodies_with_and_without_the_fast_path(
    name: str,
    spread_databases: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    city, asn = spread_databases
    path = tmp_path / f"AWSLogs/123456789012/{name}.log"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(corpus(name)) + "\n")
    on = {"enrich": ("geoip", "user_agent"), "geoip_city_db": city, "geoip_asn_db": asn}
    writers = _recording_writers(monkeypatch)
    fast_bodies, fast_result = _ingest(path, name, **on)
    assert writers and all(writers), "the fast path was not taken"
    monkeypatch.setattr(fast, "_lines", None)
    slow_bodies, slow_result = _ingest(path, name, **on)
    assert fast_result.documents == slow_result.documents > 1000
    assert fast_bodies == slow_bodies
    assert b'"geo":{' in b"".join(fast_bodies)
