"""Classic ELB access logs: every real file, the peer's expected output, the format's traps,
and properties over arbitrary and mutated lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logferry.formats import FORMATS, format_for_content, format_for_key
from logferry.formats.clb import FORMAT
from logferry.model import Document, ObjectRef, ParseContext, ParseError, Rejection
from tests.conftest import REALWORLD, examples
from tests.unit.test_format_alb import check_outcome, get, mutate, replace

CLB_DIR = REALWORLD / "clb"
CLB_FILES = sorted(CLB_DIR.glob("*.log"))
REAL_LINES = [line for path in CLB_FILES for line in path.read_text().splitlines() if line.strip()]

BASE = (
    "2026-09-23T07:11:27.691358Z my-clb 203.0.113.9:50123 10.0.1.5:8080 0.000041 0.004504 "
    '0.000036 404 404 120 1086 "GET https://shop.example.com:443/a b.php?x=1 HTTP/1.1" '
    '"Mozilla/4.0 (compatible; MSIE 8.0)" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2'
)


@pytest.mark.parametrize("path", CLB_FILES, ids=lambda p: p.name)
def test_every_real_clb_line_becomes_a_document(path: Path) -> None:
    lines = [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1) if line]
    out = list(FORMAT.parse(lines, ParseContext(ObjectRef("", str(path)))))
    assert [(r.position, r.reason) for r in out if isinstance(r, Rejection)] == []
    assert [d.position for d in out if isinstance(d, Document)] == [n for n, _ in lines]
    for doc in out:
        assert isinstance(doc, Document)
        assert doc.source["event"]["dataset"] == "aws.clb"
        assert doc.source["aws"]["elb"]["name"]


def test_clb_agrees_with_dynatrace_on_shared_fields() -> None:
    peer = json.loads((CLB_DIR / "dynatrace-clb-test.expected.json").read_text())
    (entry,) = peer["entries"]
    a = entry["expected_attributes"]
    doc = FORMAT.parse_line(entry["raw"])
    elb = doc["aws"]["elb"]
    assert doc["@timestamp"] == a["timestamp"]
    assert elb["name"] == a["aws.resource.id"]
    assert doc["source"] == {"ip": a["client_ip"], "port": a["client_port"]}
    assert doc["destination"] == {"ip": a["backend_ip"], "port": a["backend_port"]}
    assert elb["request_processing_time_s"] == a["request_processing_time"]
    assert elb["backend_processing_time_s"] == a["backend_processing_time"]
    assert elb["response_processing_time_s"] == a["response_processing_time"]
    assert doc["http"]["response"]["status_code"] == a["elb_status_code"]
    assert elb["backend_status_code"] == a["backend_status_code"]
    assert (elb["received_bytes"], elb["sent_bytes"]) == (a["received_bytes"], a["sent_bytes"])
    assert doc["http"]["request"]["method"] == a["verb"]
    assert doc["http"]["version"] == a["httpversion"]
    assert doc["url"]["original"] == a["request"]
    assert doc["url"]["path"] == a["path"]
    # Deliberate: "urihost" keeps the port; ECS url.domain is the host alone.
    assert doc["url"]["domain"] == a["urihost"].rpartition(":")[0]
    assert doc["user_agent"]["original"] == a["user_agent"]


# -- traps ------------------------------------------------------------------------------------


def test_a_tcp_listener_line_has_no_request_no_status_and_no_user_agent() -> None:
    # "- - - " with a trailing space inside the quotes, `-` status codes.
    line = "2019-10-17T13:22:51.758784Z my-clb 77.227.156.41:51600 10.0.0.47:80 0.000943 "
    line += '0.00001 0.000015 - - 134 859 "- - - " "-" - -'
    doc = FORMAT.parse_line(line)
    assert not {"http", "url", "user_agent", "tls"} & doc.keys()
    assert "backend_status_code" not in doc["aws"]["elb"]
    assert doc["aws"]["elb"]["received_bytes"] == 134


def test_an_ssl_listener_line_has_tls_but_no_request() -> None:
    line = replace(BASE, '"GET https://shop.example.com:443/a b.php?x=1 HTTP/1.1"', '"- - - "')
    line = replace(line, " 404 404 ", " - - ")
    doc = FORMAT.parse_line(replace(line, '"Mozilla/4.0 (compatible; MSIE 8.0)"', '"-"'))
    assert "http" not in doc and "url" not in doc
    assert doc["tls"]["version"] == "1.2"


def test_a_line_from_before_2015_ends_after_the_request() -> None:
    line = BASE[: BASE.index(' "Mozilla')]
    doc = FORMAT.parse_line(line)
    assert "user_agent" not in doc and "tls" not in doc
    assert doc["http"]["request"]["method"] == "GET"


def test_fewer_than_12_fields_is_rejected_with_the_count() -> None:
    with pytest.raises(ParseError, match="expected at least 12 fields, got 11"):
        FORMAT.parse_line(BASE[: BASE.index(' "GET')])


def test_fields_after_ssl_protocol_are_kept_never_rejected() -> None:
    doc = FORMAT.parse_line(BASE + ' extra "two words"')
    assert doc["aws"]["elb"]["unparsed_tail"] == ["extra", "two words"]


def test_an_undispatched_request_has_no_backend_and_no_timings() -> None:
    line = replace(BASE, "10.0.1.5:8080 0.000041 0.004504 0.000036 404 404", "- -1 -1 -1 503 -")
    doc = FORMAT.parse_line(line)
    assert "destination" not in doc
    assert set(doc["aws"]["elb"]) == {"name", "received_bytes", "sent_bytes"}
    assert doc["http"]["response"]["status_code"] == 503


def test_a_uri_with_raw_spaces_takes_method_from_first_word_and_protocol_from_last() -> None:
    doc = FORMAT.parse_line(BASE)
    assert doc["url"] == {
        "original": "https://shop.example.com:443/a b.php?x=1",
        "domain": "shop.example.com",
        "path": "/a b.php",
        "query": "x=1",
    }
    assert (get(doc, "http.request.method"), get(doc, "http.version")) == ("GET", "1.1")


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (" 404 404 ", " 404 none ", "backend_status_code: expected a number, got 'none'"),
        ("203.0.113.9:50123", "203.0.113.9", "client:port: expected ip:port"),
        ("10.0.1.5:8080", "10.0.1.5:http", "backend:port: expected ip:port"),
        ("2026-09-23T07:11:27.691358Z", "2026-02-30T07:11:27.691358Z", "time: expected"),
    ],
)
def test_malformed_fields_are_rejected_naming_the_field(old: str, new: str, reason: str) -> None:
    with pytest.raises(ParseError, match=re.escape(reason)):
        FORMAT.parse_line(replace(BASE, old, new))


# -- detection --------------------------------------------------------------------------------

KEY = (
    "AWSLogs/123456789012/elasticloadbalancing/eu-central-1/2026/09/23/"
    "123456789012_elasticloadbalancing_eu-central-1_my-clb_20260923T0720Z_10.0.1.20_2kfa7c9x.log"
)


def test_a_clb_key_selects_clb_and_alb_or_nlb_keys_do_not() -> None:
    assert format_for_key(KEY) is FORMAT
    assert not FORMAT.matches_key(KEY.replace("_my-clb_", "_app.my-alb.98e3a879de9d6b42_"))
    assert not FORMAT.matches_key(KEY.replace("_my-clb_", "_net.my-nlb.98e3a879de9d6b42_"))


def test_first_lines_of_clb_files_are_recognised_and_no_other_file_is_claimed() -> None:
    for path in sorted(REALWORLD.glob("*/*.log")):
        lines = path.read_text(errors="replace").splitlines()
        first = next((line for line in lines if line.strip()), None)
        if first is None:
            continue
        claimed = FORMAT.matches_content(first)
        assert claimed == (path.parent.name == "clb"), path
        if claimed:
            assert format_for_content(first) is FORMAT


def test_only_clb_claims_a_clb_line_among_all_formats() -> None:
    assert [f.name for f in FORMATS.values() if f.matches_content(BASE)] == ["clb"]


# -- properties -------------------------------------------------------------------------------


@given(st.text(max_size=300))
def test_arbitrary_text_is_a_document_or_a_parse_error(text: str) -> None:
    check_outcome(text, FORMAT)


@settings(max_examples=examples(300))
@given(st.sampled_from([*REAL_LINES, BASE]), st.data())
def test_mutated_real_lines_are_a_document_or_a_parse_error(line: str, data: st.DataObject) -> None:
    check_outcome(mutate(line, data), FORMAT)


@settings(max_examples=examples(100))
@given(st.lists(st.one_of(st.sampled_from(REAL_LINES), st.text(max_size=80)), max_size=12))
def test_parse_yields_exactly_one_result_per_line_in_order(lines: list[str]) -> None:
    numbered = list(enumerate(lines, 1))
    out = list(FORMAT.parse(numbered, ParseContext(ObjectRef("", "x"))))
    assert [item.position for item in out] == [n for n, _ in numbered]
    for item in out:
        if isinstance(item, Rejection):
            assert item.reason and not item.reason.startswith("parser error")
