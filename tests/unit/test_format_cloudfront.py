"""CloudFront standard logs: #Fields layouts by era, URL decoding after splitting, 000 status,
trailing tabs, X-Forwarded-For lists, double encoding, v2 JSON and W3C, every real file,
peers compared, properties under fuzzing."""

from __future__ import annotations

import contextlib
import json
import re
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logferry.formats import format_for_content, format_for_key
from logferry.formats.cloudfront import FORMAT, parse_record
from logferry.formats.cloudfront_fields import LEGACY_HEADER
from logferry.model import (
    Document,
    ObjectRef,
    ParseContext,
    ParseError,
    Rejection,
)
from tests.conftest import REALWORLD, examples

CF = REALWORLD / "cloudfront"
FIELDS = f"#Fields: {LEGACY_HEADER}"
CELLS = [
    "2019-12-13", "22:36:27", "SEA19-C1", "900", "192.0.2.200", "GET",
    "d111111abcdef8.cloudfront.net", "/favicon.ico", "502", "http://www.example.com/",
    "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)", "a=1&b=%2520", "-", "Error",
    "1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==", "www.example.com", "https",
    "675", "0.102", "-", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "Error", "HTTP/1.1", "-",
    "-", "25260", "0.101", "OriginDnsError", "text/html;%20charset=utf-8", "507", "-", "-",
]  # fmt: skip
RECORD = "\t".join(CELLS)
KEY = "cf-logs/E2ABCDEFGHIJKL.2019-12-13-22.a1b2c3d4.gz"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")


def record(**changes: str) -> str:
    """RECORD with some fields replaced, named as in #Fields with "_" for "-"."""
    names = LEGACY_HEADER.split()
    cells = list(CELLS)
    for name, value in changes.items():
        field = "cs(User-Agent)" if name == "user_agent" else name.replace("_", "-")
        cells[names.index(field)] = value
    return "\t".join(cells)


def parse(lines: list[str], key: str = KEY) -> list[Document | Rejection]:
    return list(FORMAT.parse(list(enumerate(lines, 1)), ParseContext(ObjectRef("", key))))


def docs(lines: list[str]) -> list[dict[str, Any]]:
    out = parse(lines)
    assert all(isinstance(item, Document) for item in out), out
    return [item.source for item in out if isinstance(item, Document)]


# -- fields ------------------------------------------------------------------------------


def test_legacy_record_maps_to_ecs_and_aws_cloudfront() -> None:
    doc = parse_record(RECORD)
    assert doc["@timestamp"] == "2019-12-13T22:36:27Z"
    assert doc["source"] == {"ip": "192.0.2.200", "port": 25260}
    assert doc["http"] == {
        "request": {"method": "GET"},
        "response": {"status_code": 502},
        "version": "1.1",
    }
    assert doc["url"] == {"path": "/favicon.ico", "query": "a=1&b=%20", "domain": "www.example.com"}
    assert doc["user_agent"] == {"original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}
    assert doc["tls"] == {
        "version": "1.2",
        "version_protocol": "tls",
        "cipher": "ECDHE-RSA-AES128-GCM-SHA256",
    }
    assert doc["event"]["outcome"] == "failure"
    cf = doc["aws"]["cloudfront"]
    assert cf["edge_location"] == "SEA19-C1"
    assert cf["distribution_domain"] == "d111111abcdef8.cloudfront.net"
    assert cf["edge_result_type"] == cf["edge_response_result_type"] == "Error"
    assert cf["edge_detailed_result_type"] == "OriginDnsError"
    assert cf["edge_request_id"].startswith("1pkpNfBQ")
    assert (cf["sc_bytes"], cf["cs_bytes"], cf["content_length"]) == (900, 675, 507)
    assert cf["time_taken"] == 0.102 and cf["time_to_first_byte"] == 0.101
    assert cf["ssl_protocol"] == "TLSv1.2" and cf["ssl_cipher"] == "ECDHE-RSA-AES128-GCM-SHA256"
    assert cf["content_type"] == "text/html; charset=utf-8"
    assert cf["referrer"] == "http://www.example.com/"
    assert '"-"' not in json.dumps(doc)


def test_status_000_leaves_the_status_code_absent_and_flags_the_closed_connection() -> None:
    # Decision: 000 is not an HTTP status (the viewer hung up before the response), so
    # http.response.status_code stays absent rather than 0, which would count as a status in
    # aggregations and ranges; aws.cloudfront.client_closed says what happened.
    doc = parse_record(record(sc_status="000"))
    assert "response" not in doc["http"]
    assert doc["aws"]["cloudfront"]["client_closed"] is True
    assert doc["event"]["outcome"] == "unknown"


def test_cells_are_decoded_after_splitting_so_an_encoded_tab_stays_inside_its_field() -> None:
    doc = parse_record(record(cs_uri_stem="/a%09b", user_agent="curl/8%09x"))
    assert doc["url"]["path"] == "/a\tb"
    assert doc["user_agent"]["original"] == "curl/8\tx"
    assert doc["source"]["ip"] == "192.0.2.200"  # the columns did not shift


def test_a_double_encoded_user_agent_is_decoded_twice() -> None:
    # Decision: "%2520" in a user agent is an old double encoding of a space; it is decoded
    # twice. Other fields are decoded once (a query's own %20 is the viewer's encoding).
    doc = parse_record(record(user_agent="Mozilla/5.0%2520(X11;%2520Linux)"))
    assert doc["user_agent"]["original"] == "Mozilla/5.0 (X11; Linux)"
    assert doc["url"]["query"] == "a=1&b=%20"


def test_a_trailing_tab_is_not_data() -> None:
    doc = parse_record(RECORD + "\t")
    assert "unparsed_tail" not in doc["aws"]["cloudfront"]


def test_cells_beyond_the_header_are_kept_as_the_tail() -> None:
    doc = parse_record(RECORD + "\tnew-field\t\t")
    assert doc["aws"]["cloudfront"]["unparsed_tail"] == "new-field"


def test_x_forwarded_for_with_comma_space_lists_becomes_a_list() -> None:
    doc = parse_record(record(x_forwarded_for="81.2.69.142, 216.160.83.56"))
    assert doc["aws"]["cloudfront"]["forwarded_for"] == ["81.2.69.142", "216.160.83.56"]
    doc = parse_record(record(x_forwarded_for="81.2.69.142,%20216.160.83.56"))
    assert doc["aws"]["cloudfront"]["forwarded_for"] == ["81.2.69.142", "216.160.83.56"]


def test_an_older_era_record_without_a_header_leaves_later_fields_absent() -> None:
    older = "\t".join(CELLS[:24])  # 2016-style: ends at cs-protocol-version
    doc = parse_record(older)
    assert doc["http"]["version"] == "1.1"
    assert "port" not in doc["source"]
    assert "time_to_first_byte" not in doc["aws"]["cloudfront"]


def test_a_fields_header_maps_columns_of_an_older_era() -> None:
    header = "#Fields: date time x-edge-location c-ip cs-method sc-status cs(User-Agent)"
    line = "2014-05-23\t01:13:11\tFRA2\t192.0.2.10\tGET\t200\tcurl/7.30.0"
    [doc] = docs(["#Version: 1.0", header, line])
    assert doc["source"] == {"ip": "192.0.2.10"}
    assert doc["http"]["response"]["status_code"] == 200
    assert doc["aws"]["cloudfront"] == {"edge_location": "FRA2"}


def test_headers_and_comments_yield_nothing() -> None:
    out = parse(["#Version: 1.0", FIELDS, RECORD, "#Fields: " + LEGACY_HEADER, RECORD])
    assert [item.position for item in out] == [3, 5]


@pytest.mark.parametrize(
    "line,reason",
    [
        (record(date="-"), "no date and time"),
        (record(date="2019-13-45"), "date/time"),
        (record(sc_status="5xx"), "sc-status"),
        (record(c_ip="not-an-ip"), "c-ip"),
        (record(c_port="99999"), "c-port"),
        (record(sc_bytes="many"), "sc_bytes: expected a number"),
        (record(time_taken="slow"), "time_taken: expected a number"),
        ("just some text", "no date and time"),
        ("{broken", "invalid JSON"),
        ("[1, 2]", "no date and time"),
    ],
)
def test_malformed_records_are_rejected_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(ParseError, match=re.escape(reason)):
        parse_record(line)


# -- standard logging v2 -----------------------------------------------------------------


def test_v2_json_records_use_field_names_as_keys() -> None:
    line = json.dumps(
        {
            "timestamp(ms)": "1733300523123",
            "c-ip": "2001:db8::7",
            "cs-method": "POST",
            "cs-uri-stem": "/api/v1/items",
            "sc-status": "503",
            "x-host-header": "shop.example.com",
            "cs(User-Agent)": "Mozilla/5.0%20(iPhone)",
            "x-edge-location": "IAD89-C1",
            "c-country": "US",
            "asn": "16509",
            "origin-fbl": "0.250",
            "sc-bytes": 1234,
            "time-taken": 0.251,
            "distributionid": "E2ABCDEFGHIJKL",
            "x-forwarded-for": None,
        }
    )
    doc = parse_record(line)
    assert doc["@timestamp"] == "2024-12-04T08:22:03.123Z"
    assert doc["source"] == {"ip": "2001:db8::7"}
    assert doc["http"]["response"]["status_code"] == 503
    assert doc["url"] == {"path": "/api/v1/items", "domain": "shop.example.com"}
    assert doc["user_agent"]["original"] == "Mozilla/5.0 (iPhone)"
    cf = doc["aws"]["cloudfront"]
    assert cf["country"] == "US" and cf["asn"] == 16509 and cf["origin_fbl"] == 0.25
    assert cf["sc_bytes"] == 1234 and cf["time_taken"] == 0.251
    assert cf["distribution_id"] == "E2ABCDEFGHIJKL"
    assert "forwarded_for" not in cf


def test_v2_json_with_date_and_time_or_epoch_seconds() -> None:
    assert parse_record('{"date": "2024-12-04", "time": "08:22:03"}')["@timestamp"] == (
        "2024-12-04T08:22:03Z"
    )
    assert parse_record('{"timestamp": "1733300523.5"}')["@timestamp"] == (
        "2024-12-04T08:22:03.500Z"
    )


def test_v2_fields_nobody_declared_are_kept_under_clean_names() -> None:
    doc = parse_record('{"date": "2024-12-04", "time": "08:22:03", "cs(Accept-Language)": "fr"}')
    assert doc["aws"]["cloudfront"]["cs_accept_language"] == "fr"


@pytest.mark.parametrize("delimiter", ["\t", " ", "|"])
def test_v2_w3c_records_are_split_by_the_delimiter_that_fits_the_header(delimiter: str) -> None:
    header = "#Fields: date time c-ip cs-method sc-status x-edge-location"
    line = delimiter.join(["2024-12-04", "08:22:03", "192.0.2.1", "GET", "404", "CDG50-P2"])
    [doc] = docs([header, line])
    assert doc["source"]["ip"] == "192.0.2.1"
    assert doc["http"]["response"]["status_code"] == 404
    assert doc["aws"]["cloudfront"]["edge_location"] == "CDG50-P2"


# -- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        KEY,
        "E2ABCDEFGHIJK.2024-12-04-08.0a1b2c3d.gz",
        "prefix/E123456789ABCD.2024-12-04-08.abcdef12.gz",
        "AWSLogs/123456789012/CloudFront/E2ABCDEFGHIJKL/2024/12/04/08/part-0001.log.gz",
    ],
)
def test_cloudfront_keys_are_recognised(key: str) -> None:
    assert format_for_key(key) is FORMAT


@pytest.mark.parametrize(
    "key",
    [
        "cf-logs/X2ABCDEFGHIJKL.2019-12-13-22.a1b2c3d4.gz",  # not a distribution id
        "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/20/x.log.gz",
        "logs/2026-11-20-12-05-01-0123456789ABCDEF",
    ],
)
def test_other_keys_are_not_claimed(key: str) -> None:
    assert not FORMAT.matches_key(key)


@pytest.mark.parametrize(
    "first",
    ["#Version: 1.0", FIELDS, RECORD, '{"date": "2024-12-04", "x-edge-location": "IAD89-C1"}'],
)
def test_cloudfront_content_is_recognised(first: str) -> None:
    assert format_for_content(first) is FORMAT


@pytest.mark.parametrize(
    "first",
    [
        '{"eventVersion": "1.08", "eventSource": "s3.amazonaws.com"}',
        "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
        "2019-12-13\t22:36:27\tonly a few cells",
    ],
)
def test_other_content_is_not_claimed(first: str) -> None:
    assert not FORMAT.matches_content(first)


# -- every real file ---------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(CF.glob("*.log")), ids=lambda p: p.name)
def test_every_real_record_becomes_a_document_or_an_expected_rejection(path: Path) -> None:
    lines = [(n, s) for n, s in enumerate(path.read_text().splitlines(), 1) if s.strip()]
    out = list(FORMAT.parse(lines, ParseContext(ObjectRef("", str(path)))))
    assert [item.position for item in out] == [n for n, s in lines if not s.startswith("#")]
    for item in out:
        if path.name == "sekoia-cloudfront.log":
            # Not AWS output: a vendor's JSON rendering with a `date` but no `time` (its
            # aggregation adds start_time/end_time instead). Without a time: rejected.
            assert isinstance(item, Rejection) and "no date and time" in item.reason
        else:
            assert isinstance(item, Document), item
            assert ISO.fullmatch(item.source["@timestamp"])
            assert item.source["source"]["ip"]
            assert '"-"' not in json.dumps(item.source)


def test_real_elastic_file_keeps_000_xff_lists_and_the_truncated_last_record() -> None:
    out = docs([s for s in (CF / "elastic-test-cloudfront.log").read_text().splitlines()])
    closed = [d for d in out if d["aws"]["cloudfront"].get("client_closed")]
    assert len(closed) == 1 and "response" not in closed[0]["http"]
    lists = [d["aws"]["cloudfront"].get("forwarded_for") for d in out]
    assert ["81.2.69.142", "216.160.83.56"] in lists
    last = out[-1]  # 31 cells: the range fields are absent, the rest is there
    assert last["aws"]["cloudfront"]["content_type"] == "text/html"
    assert last["user_agent"]["original"].startswith("User-Agent: Mozilla/4.0")


def test_real_aws_example_with_a_trailing_tab_parses_like_its_neighbours() -> None:
    out = docs((CF / "awsdocs-standard-log-example.log").read_text().splitlines())
    assert len(out) == 6
    assert all("unparsed_tail" not in d["aws"]["cloudfront"] for d in out)


def test_real_2016_record_with_a_double_encoded_user_agent() -> None:
    [doc, _] = docs((CF / "logstash-patterns-core-cloudfront.log").read_text().splitlines())
    assert doc["user_agent"]["original"].startswith("Mozilla/5.0 (Windows NT 6.1; WOW64)")
    assert doc["aws"]["cloudfront"]["edge_response_result_type"] == "RefreshHit"


# -- peers -------------------------------------------------------------------------------


def test_agrees_with_crowdsec_on_the_fields_both_sides_have() -> None:
    peer = json.loads((CF / "crowdsec-aws-cloudfront-logs.expected.json").read_text())
    lines = (CF / "crowdsec-aws-cloudfront-logs.log").read_text().splitlines()
    for line, entry in zip(lines, peer["entries"], strict=True):
        want, meta = entry["parsed"], entry["meta"]
        doc = parse_record(line)
        cf = doc["aws"]["cloudfront"]
        assert doc["@timestamp"] == f"{want['year']}-{want['month']}-{want['day']}T{want['time']}Z"
        assert doc["source"] == {"ip": want["c_ip"], "port": int(want["c_port"])}
        assert doc["http"]["request"]["method"] == want["cs_method"]
        assert str(doc["http"]["response"]["status_code"]) == want["sc_status"]
        assert doc["url"]["path"] == want["cs_uri_stem"]
        assert doc["url"]["query"] == want["cs_uri_query"]
        assert doc["url"]["domain"] == want["x_host_header"]
        assert f"{doc['url']['path']}?{doc['url']['query']}" == meta["http_path"]
        assert doc["user_agent"]["original"] == want["cs_user_agent"]
        assert cf["edge_location"] == want["x_edge_location"]
        assert cf["edge_request_id"] == want["x_edge_request_id"]
        assert cf["distribution_domain"] == want["cs_host"]
        assert str(cf["sc_bytes"]) == want["sc_bytes"]
        assert str(cf["time_taken"]) == want["time_taken"]
        assert cf["ssl_protocol"] == want["ssl_protocol"]
        # Deliberate: CrowdSec keeps cells URL-encoded ("text/plain;%20charset=utf-8") and
        # "-" as a value; we decode each cell and leave "-" fields absent.
        assert cf["content_type"] == want["sc_content_type"].replace("%20", " ")
        assert want["cs_cookie"] == "-" and "cookie" not in cf


def test_agrees_with_dynatrace_on_the_timestamp() -> None:
    peer = json.loads((CF / "dynatrace-cloudfront-test.expected.json").read_text())
    for entry in peer["entries"]:
        doc = parse_record(entry["raw"])
        # Dynatrace leaves the zone implicit; CloudFront times are UTC, we write the Z.
        assert doc["@timestamp"] == entry["expected_attributes"]["timestamp"] + "Z"


def test_agrees_with_sekoia_where_its_json_has_aws_fields() -> None:
    peer = json.loads((CF / "sekoia-cloudfront.expected.json").read_text())
    for entry in peer["entries"]:
        message = json.loads(entry["input"]["message"])
        want = entry["expected"]
        # Deliberate: Sekoia takes the time from its own aggregation key start_time; AWS
        # records have `time`. Given the time AWS would write, the rest must agree.
        message["time"] = message["start_time"]
        # Sekoia masks some values as "_" in its fixtures; AWS would write a value or "-".
        message = {k: "-" if v == "_" else v for k, v in message.items()}
        doc = parse_record(json.dumps(message))
        assert doc["@timestamp"] == want["@timestamp"]
        # The same address: Sekoia compresses IPv6 zeros, we keep what AWS wrote (the ip
        # field type normalises it at indexing).
        assert ip_address(doc["source"]["ip"]) == ip_address(want["source"]["ip"])
        assert doc["http"]["request"]["method"] == want["http"]["request"]["method"]
        assert doc["http"]["response"] == want["http"]["response"]
        assert doc["url"]["path"] == want["url"]["path"]


# -- properties --------------------------------------------------------------------------

CELL_VALUES = st.sampled_from(
    ["-", "000", "200", "%", "%zz", "%2520", "0.5", "nan", "1e999", "١٢", "2019-02-30",
     "25:61:61", "::1", "a, b", "", "\\", '"']
)  # fmt: skip


def mutated(data: st.DataObject) -> str:
    cells = list(CELLS)
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(cells) - 1))
        action = data.draw(st.sampled_from(["replace", "drop", "text"]))
        if action == "replace":
            cells[i] = data.draw(CELL_VALUES)
        elif action == "drop" and len(cells) > 1:
            del cells[i]
        else:
            cells[i] = data.draw(st.text(max_size=10))
    return "\t".join(cells)


@settings(max_examples=examples(300), deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_raises_nothing_but_parse_error(line: str) -> None:
    try:
        doc = parse_record(line)
    except ParseError:
        return
    assert ISO.fullmatch(doc["@timestamp"])


@settings(max_examples=examples(300), deadline=None)
@given(st.data())
def test_mutated_records_raise_nothing_but_parse_error(data: st.DataObject) -> None:
    try:
        doc = parse_record(mutated(data))
    except ParseError:
        return
    assert ISO.fullmatch(doc["@timestamp"])


@settings(max_examples=examples(300), deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=8), st.one_of(st.none(), st.text(max_size=8), st.integers(), st.floats())
    )
)
def test_arbitrary_json_objects_raise_nothing_but_parse_error(data: dict[str, Any]) -> None:
    data.setdefault("timestamp(ms)", 1733300523123)
    with contextlib.suppress(ParseError):
        parse_record(json.dumps(data))


@settings(max_examples=examples(200), deadline=None)
@given(st.data(), st.lists(st.sampled_from(["record", "header", "junk", "mutated"]), max_size=12))
def test_parse_yields_one_outcome_per_line_that_is_not_a_header(
    data: st.DataObject, kinds: list[str]
) -> None:
    lines = []
    for kind in kinds:
        if kind == "record":
            lines.append(RECORD)
        elif kind == "header":
            lines.append(
                data.draw(st.sampled_from(["#Version: 1.0", FIELDS, "#Fields: date time"]))
            )
        elif kind == "mutated":
            lines.append(mutated(data))
        else:
            lines.append(data.draw(st.text(st.characters(exclude_characters="\r\n"), max_size=80)))
    lines = [line for line in lines if line]
    out = parse(lines)
    assert [item.position for item in out] == [
        n for n, line in enumerate(lines, 1) if not line.startswith("#")
    ]
    for item in out:
        if isinstance(item, Rejection):
            assert not item.reason.startswith("parser error"), item
