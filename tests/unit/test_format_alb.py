"""ALB access logs: every real file, peers' expected outputs, the format's traps, and
properties over arbitrary and mutated lines."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logferry.formats import FORMATS, format_for_content, format_for_key
from logferry.formats.alb import FORMAT, fields_2026
from logferry.formats.base import LineFormat
from logferry.formats.elb import tokenize, tokenize_exact
from logferry.model import Document, ObjectRef, ParseContext, ParseError, Rejection
from tests.conftest import REALWORLD, examples

ALB_DIR = REALWORLD / "alb"
ALB_FILES = sorted(ALB_DIR.glob("*.log"))
REAL_LINES = [line for path in ALB_FILES for line in path.read_text().splitlines() if line.strip()]
# Peer spelling of the TLS protocol -> ECS tls.version
TLS = {"TLSv1": "1.0", "TLSv1.1": "1.1", "TLSv1.2": "1.2", "TLSv1.3": "1.3"}

# A 2026 line (36 fields) written for these tests; fields are replaced one trap at a time.
BASE = (
    "https 2026-09-23T07:15:47.805298Z app/my-alb/98e3a879de9d6b42 78.190.26.165:5815 "
    "10.20.20.37:80 0.001 0.003 0.000 200 200 153 3860 "
    '"GET https://tiles.example.com:443/data/z18.json?v=2 HTTP/1.1" "Dart/3.11 (dart:io)" '
    "ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 "
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tiles/ce5353cc7101de6d "
    '"Root=1-6ab37ca3-72b3ccd0353538ac305db394" "tiles.example.com" '
    '"arn:aws:acm:us-east-1:123456789012:certificate/34ecc395" 2 2026-09-23T07:15:47.801000Z '
    '"forward" "-" "-" "10.20.20.37:80" "200" "-" "-" TID_d7917035eabacb42bea251b01fb60ab4 '
    '"-" "-" "-" 100.51.96.60 "-" "-"'
)


def replace(line: str, old: str, new: str) -> str:
    assert line.count(old) == 1, old
    return line.replace(old, new)


def get(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


# -- every real line ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALB_FILES, ids=lambda p: p.name)
def test_every_real_alb_line_becomes_a_document(path: Path) -> None:
    lines = [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1) if line]
    ctx = ParseContext(ObjectRef("", str(path)))
    out = list(FORMAT.parse(lines, ctx))
    rejected = [(r.position, r.reason) for r in out if isinstance(r, Rejection)]
    assert rejected == []
    assert [d.position for d in out if isinstance(d, Document)] == [n for n, _ in lines]
    for doc in out:
        assert isinstance(doc, Document)
        assert doc.source["event"]["dataset"] == "aws.alb"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", doc.source["@timestamp"])
        assert doc.source["source"]["port"] > 0


def test_fast_and_exact_tokenizers_agree_on_every_real_line() -> None:
    for line in REAL_LINES:
        assert tokenize(line) == tokenize_exact(line)


def test_the_2026_layout_fast_path_gives_the_tokenizers_fields_or_steps_aside() -> None:
    taken = 0
    for line in [*REAL_LINES, BASE]:
        fields = fields_2026(line)
        if fields is not None:
            taken += 1
            assert fields == tokenize(line)
    assert fields_2026(BASE) is not None and taken > 1
    # Another layout, unusual spacing, an escape: tokenize's business.
    assert fields_2026(BASE.rsplit(" ", 3)[0]) is None
    assert fields_2026(replace(BASE, '"forward" "-"', '"forward"  "-"')) is None
    assert fields_2026(replace(BASE, "Dart/3.11", 'Dart/\\"3.11')) is None
    assert fields_2026(replace(BASE, "TLSv1.2 ", "TLSv1.2 extra ")) is None


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(BASE)),
            st.sampled_from([" ", '"', "  ", "-", "\\", '" "', "x y", "\t"]),
        ),
        max_size=4,
    )
)
def test_the_fast_path_agrees_with_tokenize_on_mangled_2026_lines(
    edits: list[tuple[int, str]],
) -> None:
    line = BASE
    for at, text in edits:
        line = line[:at] + text + line[at:]
    fields = fields_2026(line)
    assert fields is None or fields == tokenize(line)


# -- peers' expected outputs ------------------------------------------------------------------


def ours(doc: dict[str, Any]) -> dict[str, Any]:
    """Our document in a flat vocabulary shared with the peers' views below."""
    elb = doc["aws"]["elb"]
    return {
        "time": doc["@timestamp"],
        "client_ip": get(doc, "source.ip"),
        "client_port": get(doc, "source.port"),
        "target_ip": get(doc, "destination.ip"),
        "target_port": get(doc, "destination.port"),
        "elb_status": get(doc, "http.response.status_code"),
        "target_status": elb.get("target_status_code"),
        "received": elb.get("received_bytes"),
        "sent": elb.get("sent_bytes"),
        "request_time": elb.get("request_processing_time_s"),
        "target_time": elb.get("target_processing_time_s"),
        "response_time": elb.get("response_processing_time_s"),
        "method": get(doc, "http.request.method"),
        "version": get(doc, "http.version"),
        "url": get(doc, "url.original"),
        "domain": get(doc, "url.domain"),
        "path": get(doc, "url.path"),
        "query": get(doc, "url.query"),
        "user_agent": get(doc, "user_agent.original"),
        "cipher": get(doc, "tls.cipher"),
        "tls_version": get(doc, "tls.version"),
        "target_group_arn": elb.get("target_group_arn"),
        "trace_id": get(doc, "trace.id"),
        "sni": get(doc, "tls.client.server_name"),
        "cert": elb.get("chosen_cert_arn"),
        "priority": elb.get("matched_rule_priority"),
        "created": elb.get("request_creation_time"),
        "actions": elb.get("actions_executed"),
        "redirect": elb.get("redirect_url"),
        "error": elb.get("error_reason"),
        "targets": elb.get("target_port_list"),
        "target_statuses": elb.get("target_status_code_list"),
        "classification": elb.get("classification"),
        "classification_reason": elb.get("classification_reason"),
        "conn_trace_id": elb.get("conn_trace_id"),
        "lb": elb.get("name"),
        "type": elb.get("type"),
    }


def dash(value: Any) -> Any:
    """Peers that keep "-" (or "" / -1) as a value: we never index a null marker (absent
    beats a literal "-" that matches term queries and skews aggregations)."""
    return None if value in ("-", "", None, -1, -1.0) else value


def split_target(host: str | None) -> tuple[str | None, int | None]:
    if dash(host) is None:
        return None, None
    assert host is not None
    ip, _, port = host.rpartition(":")
    return ip, int(port)


def number(value: Any) -> Any:
    """A peer's number, often a string; its null markers absent (see dash)."""
    if isinstance(value, str) and dash(value) is not None:
        value = float(value) if "." in value else int(value)
    return dash(value)


def http_version(value: Any) -> Any:
    # Peers keep "HTTP/1.1"; ECS http.version is the number alone.
    value = dash(value)
    return value[5:] if isinstance(value, str) and value.startswith("HTTP/") else value


def vrl_view(out: dict[str, Any]) -> dict[str, Any]:
    client_ip, client_port = split_target(out["client_host"])
    target_ip, target_port = split_target(out["target_host"])
    return {
        "time": out["timestamp"],
        "client_ip": client_ip,
        "client_port": client_port,
        "target_ip": target_ip,
        "target_port": target_port,
        "elb_status": number(out["elb_status_code"]),
        "target_status": number(out["target_status_code"]),
        "received": out["received_bytes"],
        "sent": out["sent_bytes"],
        # Deliberate: VRL keeps -1.0 ("could not be measured"); we leave the field absent so
        # averages and percentiles of processing time are not dragged below zero.
        "request_time": dash(out["request_processing_time"]),
        "target_time": dash(out["target_processing_time"]),
        "response_time": dash(out["response_processing_time"]),
        "method": out["request_method"],
        "version": http_version(out["request_protocol"]),
        "url": out["request_url"],
        "user_agent": out["user_agent"],
        "cipher": out["ssl_cipher"],
        "tls_version": TLS.get(out["ssl_protocol"] or ""),
        "target_group_arn": out["target_group_arn"],
        "trace_id": out["trace_id"],
        "sni": out["domain_name"],
        "cert": out["chosen_cert_arn"],
        "priority": number(out["matched_rule_priority"]),
        "created": out["request_creation_time"],
        "actions": out["actions_executed"].split(",") if out["actions_executed"] else None,
        "redirect": out["redirect_url"],
        "error": out["error_reason"],
        # VRL gives [] for "-"; an empty list is absent here.
        "targets": out["target_port_list"] or None,
        "target_statuses": out["target_status_code_list"] or None,
        "classification": out["classification"],
        "classification_reason": out["classification_reason"],
        "conn_trace_id": out.get("traceability_id"),
        "lb": out["elb"],
        "type": out["type"],
    }


def panther_view(s: dict[str, Any]) -> dict[str, Any]:
    view = {
        "type": s["Type"],
        "lb": s["ELB"],
        "client_ip": s["ClientIP"],
        "client_port": s["ClientPort"],
        "target_ip": s["TargetIP"],
        "target_port": s["TargetPort"],
        # Deliberate: Panther keeps -1 for "not measured"; absent here (see vrl_view).
        "request_time": dash(s["RequestProcessingTime"]),
        "target_time": dash(s["TargetProcessingTime"]),
        "response_time": dash(s["ResponseProcessingTime"]),
        "elb_status": s["ELBStatusCode"],
        "target_status": s["TargetStatusCode"],
        "received": s["ReceivedBytes"],
        "sent": s["SentBytes"],
        "method": s["RequestHTTPMethod"],
        "version": http_version(s["RequestHTTPVersion"]),
        "url": s["RequestURL"],
        "user_agent": s["UserAgent"],
        "cipher": s["SSLCipher"],
        "tls_version": TLS.get(s["SSLProtocol"] or ""),
        "target_group_arn": s["TargetGroupARN"],
        "trace_id": s["TraceID"],
        "sni": s["DomainName"],
        "cert": s["ChosenCertARN"],
        "priority": s["MatchedRulePriority"],
        "actions": s["ActionsExecuted"] or None,
        "redirect": s["RedirectURL"],
        "error": s["ErrorReason"],
    }
    return view


def crowdsec_view(p: dict[str, Any]) -> dict[str, Any]:
    # CrowdSec stores every value as a string and keeps "-" literally (see dash()).
    path, query = p["request"], None
    if "?" in path:
        path, _, query = path.partition("?")
    return {
        "time": p["time"],
        "type": p["type"],
        "lb": p["elb"],
        "client_ip": p["remote_addr"],
        "client_port": int(p["remote_port"]),
        "target_ip": p.get("target_addr"),
        "target_port": number(p.get("target_port")),
        "elb_status": number(p["elb_status_code"]),
        "target_status": number(p["target_status_code"]),
        "received": number(p["received_bytes"]),
        "sent": number(p["sent_bytes"]),
        "request_time": number(p["request_processing_time"]),
        "target_time": number(p["target_processing_time"]),
        "response_time": number(p["response_processing_time"]),
        "method": p["http_method"],
        "version": p["http_version"],
        "domain": p["host"],
        "path": path,
        "query": query,
        "user_agent": dash(p["http_user_agent"]),
        "cipher": dash(p["ssl_cipher"]),
        "tls_version": TLS.get(p["ssl_protocol"]),
        "target_group_arn": dash(p["target_group_arn"]),
        "trace_id": dash(p["trace_id"]),
        "sni": dash(p["domain_name"]),
        "cert": dash(p["chosen_cert_arn"]),
        "priority": number(p["matched_rule_priority"]),
        "created": p["request_creation_time"],
        "actions": p["actions_executed"].split(","),
        "redirect": dash(p["redirect_url"]),
        "error": dash(p["error_reason"]),
        "targets": None if dash(p["target_list"]) is None else p["target_list"].split(" "),
        "target_statuses": None
        if dash(p["target_status_code_list"]) is None
        else p["target_status_code_list"].split(" "),
        "classification": dash(p["classification"]),
        "classification_reason": dash(p["classification_reason"]),
    }


def dynatrace_view(a: dict[str, Any]) -> dict[str, Any]:
    # Deliberate: "urihost" and "port" keep the port with the host; ECS url.domain has none.
    return {
        "type": a["request_type"],
        "time": a["timestamp"],
        "lb": a["aws.resource.id"],
        "client_ip": a["client_ip"],
        "client_port": a["client_port"],
        "target_ip": a["target_ip"],
        "target_port": a["target_port"],
        "request_time": a["request_processing_time"],
        "target_time": a["target_processing_time"],
        "response_time": a["response_processing_time"],
        "elb_status": a["elb_status_code"],
        "target_status": a["target_status_code"],
        "received": a["received_bytes"],
        "sent": a["sent_bytes"],
        "method": a["http_method"],
        "path": a["uripath"],
        "version": http_version(a["http_version"]),
        "user_agent": a["user_agent"],
        "target_group_arn": a["target_group_arn"],
        "trace_id": a["x_amzn_trace_id"],
        "priority": int(a["matched_rule_priority"]),
        "created": a["request_creation_time"],
        "actions": a["actions_executed"].split(","),
        "targets": a["target_port_list"].split(" "),
        "target_statuses": a["target_status_code_list"].split(" "),
    }


GO_KEYS = {
    "Type": "type",
    "LB": "lb",
    "ClientIP": "client_ip",
    "ClientPort": "client_port",
    "ELBStatus": "elb_status",
    "TargetStatus": "target_status",
    "Method": "method",
    "Host": "domain",
    "Path": "path",
    "URL": "url",
    "Protocol": "version",
    "UserAgent": "user_agent",
    "SSLCipher": "cipher",
    "SSLProtocol": "tls_version",
    "DomainName": "sni",
    "MatchedRulePriority": "priority",
    "Actions": "actions",
    "TargetList": "targets",
    "TargetStatusList": "target_statuses",
    "ConnTraceID": "conn_trace_id",
    "ReceivedBytes": "received",
    "SentBytes": "sent",
    "Time": "time",
}


def go_view(e: dict[str, Any]) -> dict[str, Any]:
    # The Go peer writes "" for absent values and keeps "ip:port" targets as one string.
    view: dict[str, Any] = {}
    for key, value in e.items():
        if key == "Target":
            view["target_ip"], view["target_port"] = split_target(value)
            continue
        name = GO_KEYS[key]
        value = dash(value)
        if value is not None and name in ("client_port", "elb_status", "priority"):
            value = int(value)
        elif value is not None and name == "version":
            value = http_version(value)
        elif value is not None and name == "tls_version":
            value = TLS[value]
        elif value is not None and name in ("actions",):
            value = value.split(",")
        elif value is not None and name in ("targets", "target_statuses"):
            value = value.split(" ")
        view[name] = value
    return view


def peer_cases() -> list[tuple[str, str, dict[str, Any]]]:
    """(peer file, raw line, the peer's values in our vocabulary) for every peer line."""
    cases: list[tuple[str, str, dict[str, Any]]] = []
    vrl = json.loads((ALB_DIR / "vrl-parse-aws-alb-log-tests.expected.json").read_text())
    for e in vrl["entries"]:
        cases.append(("vrl", e["raw"], vrl_view(e["vrl_parse_aws_alb_log_output"])))
    panther = json.loads((ALB_DIR / "panther-alb-tests.expected.json").read_text())
    for e in panther["entries"]:
        if e["expected_struct"]:  # the empty one is a line Panther rejects: see below
            cases.append(("panther", e["raw"], panther_view(e["expected_struct"])))
    crowdsec = json.loads((ALB_DIR / "crowdsec-aws-alb-logs.expected.json").read_text())
    for e in crowdsec["entries"]:
        cases.append(("crowdsec", e["parsed"]["message"], crowdsec_view(e["parsed"])))
    dynatrace = json.loads((ALB_DIR / "dynatrace-alb-test.expected.json").read_text())
    for e in dynatrace["entries"]:
        cases.append(("dynatrace", e["raw"], dynatrace_view(e["expected_attributes"])))
    go = json.loads((ALB_DIR / "unknown-elblog-2026-36fields.expected.json").read_text())
    for e in go["entries"]:
        cases.append(("go-elblog", e["raw"], go_view(e["expected"])))
    return cases


PEER_CASES = peer_cases()


@pytest.mark.parametrize(
    ("peer", "raw", "expected"),
    PEER_CASES,
    ids=[f"{peer}-{i}" for i, (peer, _, _) in enumerate(PEER_CASES)],
)
def test_alb_agrees_with_peer_on_shared_fields(
    peer: str, raw: str, expected: dict[str, Any]
) -> None:
    assert raw in REAL_LINES  # the peer's input is one of the real files' lines
    mine = ours(FORMAT.parse_line(raw))
    assert {key: mine[key] for key in expected} == expected


def test_alb_agrees_with_elastic_except_where_elastic_keeps_literals() -> None:
    peer = json.loads((ALB_DIR / "elastic-test-alb-alb.expected.json").read_text())["expected"]
    lines = (ALB_DIR / "elastic-test-alb-alb.log").read_text().splitlines()
    assert len(peer) == len(lines)
    for line, exp in zip(lines, peer, strict=True):
        doc = FORMAT.parse_line(line)
        elb, their = doc["aws"]["elb"], exp["aws"]["elb"]
        # Elastic stores @timestamp at millisecond precision.
        assert doc["@timestamp"][:23] + "Z" == exp["@timestamp"]
        assert doc["source"] == {"ip": exp["source"]["ip"], "port": exp["source"]["port"]}
        assert get(doc, "http.response.status_code") == exp["http"]["response"]["status_code"]
        assert elb["received_bytes"] == exp["http"]["request"]["body"]["bytes"]
        assert elb["sent_bytes"] == exp["http"]["response"]["body"]["bytes"]
        assert elb["name"] == their["name"]
        assert elb["type"] == their["protocol"]
        assert get(doc, "trace.id") == get(exp, "trace.id")
        assert elb.get("actions_executed") == their.get("action_executed")
        assert elb.get("redirect_url") == their.get("redirect_url")
        assert elb.get("classification") == their.get("classification")
        assert elb.get("classification_reason") == their.get("classification_reason")
        if "matched_rule_priority" in their:  # Elastic keeps it as a string
            assert elb["matched_rule_priority"] == int(their["matched_rule_priority"])
        if "backend" in their:
            assert doc["destination"] == {
                "ip": their["backend"]["ip"],
                "port": int(their["backend"]["port"]),
            }
            status = their["backend"]["http"]["response"]["status_code"]
            assert elb["target_status_code"] == status
            assert elb["target_port_list"] == their["target_port"]
            assert elb["target_status_code_list"] == their["target_status_code"]
        for name in ("request", "target", "response"):
            sec = get(their, f"{name if name != 'target' else 'backend'}_processing_time.sec")
            if sec is not None:
                assert elb[f"{name}_processing_time_s"] == sec
        if "url" in exp:
            for key in ("original", "domain", "path", "query"):
                assert get(doc, f"url.{key}") == get(exp, f"url.{key}")
            assert get(doc, "http.request.method") == exp["http"]["request"]["method"]
            assert get(doc, "http.version") == exp["http"]["version"]
        # Deliberate: Elastic keeps "-" literally (target_group.arn, user_agent.original);
        # we drop null markers.
        assert elb.get("target_group_arn") == dash(get(their, "target_group.arn"))
        assert get(doc, "user_agent.original") == dash(get(exp, "user_agent.original"))
    # Deliberate: for the malformed request "- http://host:80-/ " Elastic drops the URL; we
    # keep url.original as logged (VRL and the Go peer do too): it names the host that was
    # asked, and the malformed request is otherwise invisible.
    last = FORMAT.parse_line(lines[2])
    assert "url" not in peer[2]
    assert last["url"]["original"] == "http://internal-service-alb.example.com:80-/"
    assert "request" not in last["http"]


def test_a_request_line_without_protocol_is_kept_where_panther_rejects_it() -> None:
    # Deliberate: Panther rejects "GET http://example.com:80/hello" (no protocol); the rest
    # of the line is sound, so we keep it, with the method and URL and no http.version.
    panther = json.loads((ALB_DIR / "panther-alb-tests.expected.json").read_text())["entries"]
    (raw,) = [e["raw"] for e in panther if not e["expected_struct"]]
    doc = FORMAT.parse_line(raw)
    assert doc["http"] == {"response": {"status_code": 301}, "request": {"method": "GET"}}
    assert doc["url"]["original"] == "http://example.com:80/hello"


# -- traps, one hand-written line each --------------------------------------------------------


def test_a_2026_line_keeps_node_ip_and_leaves_out_its_two_unnamed_null_fields() -> None:
    doc = FORMAT.parse_line(BASE)
    elb = doc["aws"]["elb"]
    assert elb["node_ip"] == "100.51.96.60"
    assert elb["conn_trace_id"] == "TID_d7917035eabacb42bea251b01fb60ab4"
    assert "unparsed_tail" not in elb  # "-" "-": null markers, left out like every other


def test_unnamed_fields_are_kept_in_place_once_one_carries_a_value() -> None:
    doc = FORMAT.parse_line(replace(BASE, '100.51.96.60 "-" "-"', '100.51.96.60 "-" "x"'))
    assert doc["aws"]["elb"]["unparsed_tail"] == ["-", "x"]


def test_fields_beyond_the_known_ones_are_kept_never_rejected() -> None:
    doc = FORMAT.parse_line(BASE + ' "new field" 42')
    assert doc["aws"]["elb"]["unparsed_tail"] == ["-", "-", "new field", "42"]
    assert doc["http"]["response"]["status_code"] == 200


def test_an_unquoted_value_where_the_node_ip_was_is_an_unknown_field_not_an_ip() -> None:
    doc = FORMAT.parse_line(replace(BASE, " 100.51.96.60 ", ' "something else" '))
    assert "node_ip" not in doc["aws"]["elb"]
    assert doc["aws"]["elb"]["unparsed_tail"] == ["something else", "-", "-"]


def test_a_2018_line_of_25_fields_ends_at_error_reason() -> None:
    line = BASE[: BASE.index(' "10.20.20.37:80" "200"')]
    line = replace(line, '"forward" "-" "-"', '"forward" "-" "TargetTimeout"')
    doc = FORMAT.parse_line(line)
    elb = doc["aws"]["elb"]
    assert elb["error_reason"] == "TargetTimeout"
    assert not {"target_port_list", "conn_trace_id", "node_ip", "unparsed_tail"} & elb.keys()


# AWS's own examples of 2016 (the ALB guide's access-log page, load-balancer-access-logs.html,
# as it read then; kept verbatim in Beats' x-pack/functionbeat S3 ALB parser tests, which name
# that page): 20 fields, ending at chosen_cert_arn, its and domain_name's nulls unquoted.
ALB_2016_HTTPS = (
    "https 2016-08-10T23:39:43.065466Z app/my-loadbalancer/50dc6c495c0c9188 "
    "192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "
    '"GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 '
    "TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/"
    '73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" www.example.com '
    "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"
)
ALB_2016_WS = (
    "ws 2016-08-10T00:32:08.923954Z app/my-loadbalancer/50dc6c495c0c9188 10.0.0.140:40914 "
    '10.0.1.192:8010 0.001 0.003 0.000 101 101 218 587 "GET http://10.0.0.30:80/ HTTP/1.1" '
    '"-" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/'
    '73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" - -'
)


def test_the_2016_examples_of_20_fields_end_at_chosen_cert_arn() -> None:
    doc = FORMAT.parse_line(ALB_2016_HTTPS)
    elb = doc["aws"]["elb"]
    assert doc["@timestamp"] == "2016-08-10T23:39:43.065466Z"
    assert elb["domain_name"] == "www.example.com"
    assert doc["tls"]["client"]["server_name"] == "www.example.com"
    assert elb["chosen_cert_arn"].endswith(":certificate/12345678-1234-1234-1234-123456789012")
    assert doc["trace"]["id"] == "Root=1-58337281-1d84f3d73c47ec4e58577259"
    assert doc["url"]["path"] == "/" and doc["http"]["response"]["status_code"] == 200
    later = {"matched_rule_priority", "request_creation_time", "actions_executed", "error_reason"}
    assert not later & elb.keys() and "unparsed_tail" not in elb
    ws = FORMAT.parse_line(ALB_2016_WS)
    assert ws["aws"]["elb"]["type"] == "ws" and ws["http"]["response"]["status_code"] == 101
    assert not {"domain_name", "chosen_cert_arn"} & ws["aws"]["elb"].keys()
    assert "user_agent" not in ws and "tls" not in ws
    assert format_for_content(ALB_2016_HTTPS) is FORMAT


def test_fewer_than_20_fields_is_rejected_with_the_count() -> None:
    line = ALB_2016_HTTPS[: ALB_2016_HTTPS.index(" www.example.com arn:")]
    with pytest.raises(ParseError, match="expected at least 20 fields, got 18"):
        FORMAT.parse_line(line)


def test_quoted_fields_keep_spaces_and_resolve_escaped_quotes() -> None:
    line = replace(BASE, '"Dart/3.11 (dart:io)"', r'"Mozilla/5.0 \"quoted\" (X11; Linux)"')
    doc = FORMAT.parse_line(line)
    assert doc["user_agent"]["original"] == 'Mozilla/5.0 "quoted" (X11; Linux)'
    assert doc["aws"]["elb"]["node_ip"] == "100.51.96.60"  # field positions unchanged


def test_a_uri_with_raw_spaces_takes_method_from_first_word_and_protocol_from_last() -> None:
    line = replace(
        BASE,
        '"GET https://tiles.example.com:443/data/z18.json?v=2 HTTP/1.1"',
        '"GET http://example.com:80/a b?q=x y HTTP/1.0"',
    )
    doc = FORMAT.parse_line(line)
    assert doc["http"]["request"]["method"] == "GET"
    assert doc["http"]["version"] == "1.0"
    assert doc["url"] == {
        "original": "http://example.com:80/a b?q=x y",
        "domain": "example.com",
        "path": "/a b",
        "query": "q=x y",
    }


def test_a_malformed_request_keeps_the_logged_url_without_method_or_version() -> None:
    line = replace(
        BASE,
        '"GET https://tiles.example.com:443/data/z18.json?v=2 HTTP/1.1"',
        '"- http://my-alb-1.us-east-1.elb.amazonaws.com:80- -"',
    )
    doc = FORMAT.parse_line(line)
    assert doc["http"] == {"response": {"status_code": 200}}
    assert doc["url"] == {
        "original": "http://my-alb-1.us-east-1.elb.amazonaws.com:80-",
        "domain": "my-alb-1.us-east-1.elb.amazonaws.com",
    }


def test_an_all_dash_request_leaves_no_http_request_and_no_url() -> None:
    request = '"GET https://tiles.example.com:443/data/z18.json?v=2 HTTP/1.1"'
    line = replace(BASE, request, '"- - -"')
    doc = FORMAT.parse_line(line)
    assert "url" not in doc
    assert doc["http"] == {"response": {"status_code": 200}}


def test_dash_and_minus_one_null_markers_become_absent_fields() -> None:
    line = replace(BASE, "10.20.20.37:80 0.001 0.003 0.000 200 200", "- -1 -1 -1 502 -")
    line = replace(line, '"Dart/3.11 (dart:io)"', '"-"')
    line = replace(line, '"tiles.example.com" ', '"-" ')
    line = replace(line, " 2 2026-09-23T07:15:47.801000Z", " - 2026-09-23T07:15:47.801000Z")
    doc = FORMAT.parse_line(line)
    elb = doc["aws"]["elb"]
    assert "destination" not in doc and "user_agent" not in doc
    assert "client" not in doc["tls"]
    assert (
        not {
            "request_processing_time_s",
            "target_processing_time_s",
            "response_processing_time_s",
            "target_status_code",
            "matched_rule_priority",
            "domain_name",
            "redirect_url",
        }
        & elb.keys()
    )
    assert doc["http"]["response"]["status_code"] == 502


def test_a_matched_rule_priority_of_minus_one_is_kept_it_means_evaluation_failed() -> None:
    line = replace(BASE, " 2 2026-09-23T07:15:47.801000Z", " -1 2026-09-23T07:15:47.801000Z")
    assert FORMAT.parse_line(line)["aws"]["elb"]["matched_rule_priority"] == -1


def test_ipv6_client_and_target_split_on_the_last_colon() -> None:
    line = replace(
        BASE, "78.190.26.165:5815 10.20.20.37:80", "2001:db8:c529::6bbc:50599 fd6d::f46:80"
    )
    doc = FORMAT.parse_line(line)
    assert doc["source"] == {"ip": "2001:db8:c529::6bbc", "port": 50599}
    assert doc["destination"] == {"ip": "fd6d::f46", "port": 80}


def test_the_docs_typo_dash_quote_one_reads_as_priority_one() -> None:
    # beats-example-alb-http.log carries the AWS docs' `"-" "-"1 2018-...`: a closing quote
    # ends the field, so the line is read as the docs meant (see AlbFormat.parse_line).
    typo = [line for line in REAL_LINES if '"-"1 ' in line]
    assert typo
    for line in typo:
        elb = FORMAT.parse_line(line)["aws"]["elb"]
        assert elb["matched_rule_priority"] == 1
        assert elb["request_creation_time"] == "2018-07-02T22:22:48.364000Z"


def test_tls_protocol_names_become_ecs_versions_and_unknown_ones_are_kept() -> None:
    assert FORMAT.parse_line(BASE)["tls"]["version"] == "1.2"
    assert FORMAT.parse_line(replace(BASE, " TLSv1.2 ", " TLSv1 "))["tls"]["version"] == "1.0"
    doc = FORMAT.parse_line(replace(BASE, " TLSv1.2 ", " QUICv1 "))
    assert "version" not in doc["tls"]
    assert doc["aws"]["elb"]["ssl_protocol"] == "QUICv1"


def test_domain_name_is_also_the_tls_server_name() -> None:
    doc = FORMAT.parse_line(BASE)
    assert doc["tls"]["client"]["server_name"] == doc["aws"]["elb"]["domain_name"]


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("2026-09-23T07:15:47.805298Z", "23/Sep/2026:07:15:47", "time: expected"),
        ("78.190.26.165:5815", "78.190.26.165", "client:port: expected ip:port"),
        ("78.190.26.165:5815", "78.190.26.165:99999", "client:port: port out of range"),
        (" 153 3860 ", " 153 lots ", "sent_bytes: expected a number, got 'lots'"),
        (" 0.003 ", " fast ", "target_processing_time: expected a number"),
        (" 2 2026-09-23T07:15:47.801000Z", " 2 yesterday", "request_creation_time: expected"),
    ],
)
def test_malformed_fields_are_rejected_naming_the_field(old: str, new: str, reason: str) -> None:
    with pytest.raises(ParseError, match=re.escape(reason)):
        FORMAT.parse_line(replace(BASE, old, new))


# -- detection ------------------------------------------------------------------------------

ALB_KEY = (
    "logs/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/09/23/"
    "123456789012_elasticloadbalancing_us-east-1_app.my-alb.98e3a879de9d6b42_20260923T0720Z_"
    "100.51.96.60_2kfa7c9x.log.gz"
)


def test_an_alb_key_selects_alb_and_a_connection_log_key_does_not() -> None:
    assert format_for_key(ALB_KEY) is FORMAT
    conn = ALB_KEY.replace("/123456789012_elastic", "/conn_log.123456789012_elastic")
    assert format_for_key(conn) is not FORMAT
    assert not FORMAT.matches_key(ALB_KEY.replace("_app.my-alb.", "_net.my-nlb."))


def test_first_lines_of_alb_files_are_recognised_as_alb_and_no_other_file_as_alb() -> None:
    for path in sorted(REALWORLD.glob("*/*.log")):
        lines = path.read_text(errors="replace").splitlines()
        first = next((line for line in lines if line.strip()), None)
        if first is None:
            continue
        claimed = FORMAT.matches_content(first)
        assert claimed == (path.parent.name == "alb"), path
        if claimed:
            assert format_for_content(first) is FORMAT


def test_only_alb_claims_an_alb_line_among_all_formats() -> None:
    assert [f.name for f in FORMATS.values() if f.matches_content(BASE)] == ["alb"]


# -- properties -----------------------------------------------------------------------------


def mutate(line: str, data: st.DataObject) -> str:
    """A real line with fields dropped, duplicated or inserted, or bytes changed."""
    fields = line.split(" ")
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["drop", "dup", "insert", "chars", "truncate"]))
        i = data.draw(st.integers(0, max(len(fields) - 1, 0)))
        if op == "drop" and fields:
            del fields[i]
        elif op == "dup" and fields:
            fields.insert(i, fields[i])
        elif op == "insert":
            token = data.draw(st.sampled_from(['"', "-", "-1", '"-"', "\\", '"a b"', "::", ""]))
            fields.insert(i, token + data.draw(st.text(max_size=4)))
        elif op == "chars":
            text = " ".join(fields)
            at = data.draw(st.integers(0, len(text)))
            text = text[:at] + data.draw(st.text(min_size=1, max_size=3)) + text[at + 1 :]
            fields = text.split(" ")
        elif op == "truncate":
            fields = fields[:i]
    return " ".join(fields)


def no_null_markers(value: Any, path: str = "") -> None:
    if isinstance(value, dict):
        assert value, f"empty object at {path}"
        for key, item in value.items():
            no_null_markers(item, f"{path}.{key}")
    elif not isinstance(value, list):  # lists (unparsed_tail) keep their items as logged
        assert value is not None and value != "-", path


def check_outcome(line: str, fmt: LineFormat = FORMAT) -> None:
    """parse_line gives a document or a ParseError, nothing else (the ELB test modules share
    this and `mutate`)."""
    try:
        doc = fmt.parse_line(line)
    except ParseError:
        return
    assert isinstance(doc, dict)
    # Whatever is accepted can name its daily index and carries no null markers.
    ts = doc["@timestamp"]
    assert ts.endswith("Z")
    datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    no_null_markers(doc)


@given(st.text(max_size=400))
def test_arbitrary_text_is_a_document_or_a_parse_error(text: str) -> None:
    check_outcome(text)


@settings(max_examples=examples(400))
@given(st.sampled_from(REAL_LINES), st.data())
def test_mutated_real_lines_are_a_document_or_a_parse_error(line: str, data: st.DataObject) -> None:
    check_outcome(mutate(line, data))


@given(st.text(alphabet=st.sampled_from(' "ab-1:.\t\x1c\xa0'), max_size=60))
def test_fast_and_exact_tokenizers_agree_on_quote_heavy_text(text: str) -> None:
    # No backslash here: an even number of quotes takes the fast path, which must agree.
    assert tokenize(text) == tokenize_exact(text)


def test_exact_tokenizer_resolves_escapes_and_reads_an_open_quote_to_the_end() -> None:
    assert tokenize(r'a "b \"c\" d" "e\\" f') == ["a", 'b "c" d', "e\\", "f"]
    assert tokenize('a "b c') == ["a", "b c"]
    assert tokenize('"-"1 x') == ["-", "1", "x"]


@settings(max_examples=examples(100))
@given(st.lists(st.one_of(st.sampled_from(REAL_LINES), st.text(max_size=80)), max_size=12))
def test_parse_yields_exactly_one_result_per_line_in_order(lines: list[str]) -> None:
    numbered = list(enumerate(lines, 1))
    out = list(FORMAT.parse(numbered, ParseContext(ObjectRef("", "x"))))
    assert [item.position for item in out] == [n for n, _ in numbered]
    for item, (_, line) in zip(out, numbered, strict=True):
        if isinstance(item, Rejection):
            assert item.raw == line and item.reason
            assert not item.reason.startswith("parser error")


def test_a_bracketed_ipv6_host_in_the_url_is_the_domain_without_brackets() -> None:
    request = '"GET https://tiles.example.com:443/data/z18.json?v=2 HTTP/1.1"'
    doc = FORMAT.parse_line(replace(BASE, request, '"GET http://[2001:db8::1]:80/a HTTP/1.1"'))
    assert doc["url"] == {
        "original": "http://[2001:db8::1]:80/a",
        "domain": "2001:db8::1",
        "path": "/a",
    }
