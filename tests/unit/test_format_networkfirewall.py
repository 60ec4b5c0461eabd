"""AWS Network Firewall logs: alert, netflow and TLS records as AWS documents them and peers show
them; rejections; detection.

Sources of the facts: AWS's "Contents of a Network Firewall log" (the envelope: firewall_name,
availability_zone, event_timestamp in epoch seconds, quoted or not; the alert example; the
alert with URL and domain categories: HTTP/2 pseudo-headers, verdict, aws_category as a string
holding JSON; the TLS revocation-check record with quoted ports and no event_type) and
"Sending Network Firewall logs to Amazon S3" (key and file name, the time YYYYMMDDTHHmmZ, the
example file name with YYYYMMDDHHMM); Elastic's firewall_logs test log (netflow record with
pkts/bytes/start/end/age/ttl and tcp flags; an HTTP/1 alert; a TLS alert with the server
certificate, which repeats keys).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from logferry.formats import format_for_content, format_for_key
from logferry.formats.networkfirewall import FORMAT
from logferry.model import Document, ObjectRef, ParseContext, Rejection
from tests.format_checks import REAL_FIRST_LINES, claimed_by, only_document, parse_lines

KEY = (
    "nfw/AWSLogs/111122223333/network-firewall/alert/eu-west-1/egress-fw/2026/11/20/12/"
    "111122223333_network-firewall_alert_eu-west-1_egress-fw_20261120T1205Z_5e8a9b0c.log.gz"
)
DOC_KEY = (  # AWS's own example, its time without the T and Z
    "flow-logs/AWSLogs/11111111111/network-firewall/flow/us-east-1/test-firewall/2020/10/01/19/"
    "11111111111_network-firewall_flow_us-east-1_test-firewall_202010011920_44442222.log.gz"
)
CTX = ParseContext(ObjectRef("logs", KEY))
ALERT = (
    '{"firewall_name":"test-firewall","availability_zone":"us-east-1b","event_timestamp":'
    '"1602627001","event":{"timestamp":"2020-10-13T22:10:01.006481+0000","flow_id":'
    '1582438383425873,"event_type":"alert","src_ip":"203.0.113.4","src_port":55555,"dest_ip":'
    '"192.0.2.16","dest_port":111,"proto":"TCP","alert":{"action":"allowed","signature_id":5,'
    '"rev":0,"signature":"test_tcp","category":"","severity":1}}}'
)
HTTP_ALERT = (
    '{"firewall_name":"AWSNetworkFirewall","availability_zone":"us-east-2a","event_timestamp":'
    '"1636381332","event":{"timestamp":"2021-11-08T14:22:12.637611+0000","flow_id":'
    '706471429191862,"event_type":"alert","src_ip":"81.2.69.143","src_port":51254,"dest_ip":'
    '"216.160.83.57","dest_port":80,"proto":"TCP","alert":{"action":"blocked","signature_id":'
    '1000003,"rev":1,"signature":"Deny all other TCP traffic","category":"","severity":3},'
    '"http":{"hostname":"216.160.83.57","url":"/login?next=%2F","http_user_agent":"curl/8.5.0",'
    '"http_method":"GET","protocol":"HTTP/1.1","length":0},"app_proto":"http"}}'
)
HTTP2_CATEGORY_ALERT = json.dumps(
    {
        "firewall_name": "test-firewall",
        "availability_zone": "us-east-1b",
        "event_timestamp": "1762217722",
        "event": {
            "aws_category": '["Search Engines and Portals"]',
            "tx_id": 2,
            "app_proto": "http2",
            "src_ip": "10.0.100.55",
            "src_port": 54878,
            "event_type": "alert",
            "alert": {
                "severity": 3,
                "signature_id": 6,
                "rev": 0,
                "signature": "",
                "action": "blocked",
                "category": "",
            },
            "flow_id": 643336554233439,
            "dest_ip": "64.233.180.147",
            "proto": "TCP",
            "verdict": {"action": "drop"},
            "http": {
                "version": "2",
                "request_headers": [
                    {"name": ":method", "value": "GET"},
                    {"name": ":scheme", "value": "https"},
                    {"name": ":authority", "value": "www.example.com"},
                    {"name": ":path", "value": "/search?q=x"},
                    {"name": "user-agent", "value": "curl/8.11.1"},
                ],
                "http_user_agent": "curl/8.11.1",
                "url": "/search?q=x",
                "http_method": "GET",
            },
            "dest_port": 443,
            "timestamp": "2025-11-04T00:55:22.870721+0000",
            "direction": "to_server",
        },
    }
)
TLS_ALERT = (
    '{"firewall_name":"outbound","availability_zone":"eu-central-1a","event_timestamp":'
    '"1674225318","event":{"app_proto":"tls","src_ip":"10.0.3.7","src_port":5302,"event_type":'
    '"alert","alert":{"severity":3,"signature_id":4,"rev":0,"signature":'
    '"aws:alert_established action","action":"allowed","category":""},"flow_id":'
    '1829676028160453,"dest_ip":"89.160.20.156","proto":"TCP","tls":{"subject":'
    '"CN=sqs.eu-central-1.amazonaws.com","issuerdn":"C=US, O=Amazon, OU=Server CA 1B, CN=Amazon",'
    '"subject":"CN=sqs.eu-central-1.amazonaws.com","serial":"08:C9:76:68:CB:30:31:1C",'
    '"fingerprint":"34:36:32:fb:05:65:83:55","sni":"sqs.eu-central-1.amazonaws.com","version":'
    '"TLS 1.2","notbefore":"2022-11-03T00:00:00","notafter":"2023-10-16T23:59:59","ja3":{},'
    '"ja3s":{}},"dest_port":443,"timestamp":"2023-01-20T14:35:18.307095+0000"}}'
)
NETFLOW = (
    '{"firewall_name":"AWSNetworkFirewall","availability_zone":"us-east-2a","event_timestamp":'
    '"1636395643","event":{"timestamp":"2021-11-08T18:20:43.324542+0000","flow_id":'
    '625409144331688,"event_type":"netflow","src_ip":"216.160.83.61","src_port":61953,'
    '"dest_ip":"89.160.20.156","dest_port":5060,"proto":"TCP","netflow":{"pkts":1,"bytes":40,'
    '"start":"2021-11-08T18:18:11.990632+0000","end":"2021-11-08T18:18:11.990632+0000","age":0,'
    '"min_ttl":221,"max_ttl":221},"tcp":{"tcp_flags":"02","syn":true}}}'
)
REVOCATION = (
    '{"firewall_name": "egress-fw", "availability_zone": "us-east-1d", "event_timestamp": '
    '1708361189, "event": {"src_ip": "10.0.2.53", "src_port": "55930", "revocation_check": '
    '{"leaf_cert_fpr": "1234567890EXAMPLE0987654321", "status": "REVOKED", "action": "DROP"}, '
    '"dest_ip": "54.92.160.72", "dest_port": "443", "timestamp": "2024-02-19T16:46:29.441824Z", '
    '"sni": "revoked-rsa-dv.ssl.com"}}'
)
SAMPLES = (ALERT, HTTP_ALERT, HTTP2_CATEGORY_ALERT, TLS_ALERT, NETFLOW, REVOCATION)


def run(*lines: str) -> tuple[list[Document], list[Rejection]]:
    return parse_lines(FORMAT, CTX, *lines)


def one(line: str) -> dict[str, Any]:
    return only_document(FORMAT, CTX, line)


def test_documented_alert() -> None:
    doc = one(ALERT)
    assert doc["@timestamp"] == "2020-10-13T22:10:01.006Z"
    assert doc["event"] == {
        "dataset": "aws.networkfirewall",
        "kind": "alert",
        "action": "allowed",
        "severity": 1,
    }
    assert doc["rule"] == {"id": "5", "name": "test_tcp", "version": "0"}
    assert doc["source"] == {"address": "203.0.113.4", "ip": "203.0.113.4", "port": 55555}
    assert doc["destination"] == {"address": "192.0.2.16", "ip": "192.0.2.16", "port": 111}
    assert doc["network"] == {"transport": "tcp", "iana_number": "6"}
    assert doc["observer"] == {"name": "test-firewall", "type": "firewall", "vendor": "AWS"}
    assert doc["cloud"] == {"availability_zone": "us-east-1b"}
    assert doc["aws"]["networkfirewall"] == {"event_type": "alert", "flow_id": "1582438383425873"}


def test_blocked_http_alert_names_the_request() -> None:
    doc = one(HTTP_ALERT)
    assert doc["event"]["action"] == "blocked"
    assert doc["rule"]["name"] == "Deny all other TCP traffic"
    assert doc["event"]["severity"] == 3
    assert doc["url"] == {
        "domain": "216.160.83.57",
        "original": "/login?next=%2F",
        "path": "/login",
        "query": "next=%2F",
    }
    assert doc["http"] == {"request": {"method": "GET"}, "version": "1.1", "response": {"bytes": 0}}
    assert doc["user_agent"] == {"original": "curl/8.5.0"}
    assert doc["network"]["protocol"] == "http"


def test_http2_alert_reads_pseudo_headers_categories_and_verdict() -> None:
    doc = one(HTTP2_CATEGORY_ALERT)
    assert doc["url"]["domain"] == "www.example.com"  # :authority
    assert doc["url"]["path"] == "/search"
    assert doc["http"]["version"] == "2"
    nfw = doc["aws"]["networkfirewall"]
    assert nfw["aws_category"] == ["Search Engines and Portals"]
    assert nfw["verdict_action"] == "drop"
    assert nfw["direction"] == "to_server"
    # what no field holds is kept: the headers, the transaction id
    assert nfw["extra"]["tx_id"] == 2
    assert nfw["extra"]["http"]["request_headers"][2] == {
        "name": ":authority",
        "value": "www.example.com",
    }


def test_tls_alert_gives_the_sni_version_and_server_certificate() -> None:
    doc = one(TLS_ALERT)
    assert doc["tls"] == {
        "client": {"server_name": "sqs.eu-central-1.amazonaws.com"},
        "version": "1.2",
        "version_protocol": "tls",
        "server": {
            "subject": "CN=sqs.eu-central-1.amazonaws.com",
            "issuer": "C=US, O=Amazon, OU=Server CA 1B, CN=Amazon",
            "not_before": "2022-11-03T00:00:00Z",
            "not_after": "2023-10-16T23:59:59Z",
        },
    }
    assert doc["aws"]["networkfirewall"]["tls"]["fingerprint"] == "34:36:32:fb:05:65:83:55"


def test_netflow_gives_bytes_packets_start_and_end() -> None:
    doc = one(NETFLOW)
    assert doc["event"]["kind"] == "event"
    assert doc["event"]["start"] == doc["event"]["end"] == "2021-11-08T18:18:11.990Z"
    assert doc["network"]["bytes"] == doc["source"]["bytes"] == 40
    assert doc["network"]["packets"] == doc["source"]["packets"] == 1
    nfw = doc["aws"]["networkfirewall"]
    assert (nfw["event_type"], nfw["tcp_flags"], nfw["min_ttl"], nfw["age"]) == (
        "netflow",
        "02",
        221,
        0,
    )
    assert "action" not in doc["event"]


def test_tls_revocation_record_has_quoted_ports_and_no_event_type() -> None:
    doc = one(REVOCATION)
    assert doc["@timestamp"] == "2024-02-19T16:46:29.441Z"
    assert doc["source"]["port"] == 55930 and doc["destination"]["port"] == 443
    assert doc["tls"] == {"client": {"server_name": "revoked-rsa-dv.ssl.com"}}
    assert doc["event"]["action"] == "DROP"
    assert doc["aws"]["networkfirewall"]["event_type"] == "tls"
    assert doc["aws"]["networkfirewall"]["revocation_check"]["status"] == "REVOKED"


def test_event_timestamp_is_the_time_when_the_event_has_none() -> None:
    entry = json.loads(ALERT)
    del entry["event"]["timestamp"]
    assert one(json.dumps(entry))["@timestamp"] == "2020-10-13T22:10:01Z"
    entry["event_timestamp"] = 1602627001
    assert one(json.dumps(entry))["@timestamp"] == "2020-10-13T22:10:01Z"


def test_icmp_flow_has_no_ports() -> None:
    entry = json.loads(NETFLOW)
    event = entry["event"]
    del event["src_port"], event["dest_port"], event["tcp"]
    event["proto"] = "ICMP"
    doc = one(json.dumps(entry))
    assert doc["network"]["transport"] == "icmp" and doc["network"]["iana_number"] == "1"
    assert "port" not in doc["source"] and "port" not in doc["destination"]


def bad(path: tuple[str, ...], value: Any) -> str:
    entry = json.loads(ALERT)
    node = entry
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(entry)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (bad(("event",), None), "event missing: not a Network Firewall log record"),
        (bad(("event", "timestamp"), "2020-13-13T22:10:01Z"), "event.timestamp: expected"),
        (bad(("event", "src_port"), "http"), "src_port: expected a whole number"),
        (bad(("event", "alert", "severity"), "high"), "alert.severity: expected a whole number"),
        (bad(("event", "netflow"), {"pkts": -1}), "netflow.pkts: -1 is out of range"),
        ("[]", "expected a JSON object, got list"),
    ],
)
def test_bad_records_are_rejected_with_the_reason(line: str, reason: str) -> None:
    docs, rejections = run(line)
    assert docs == [] and len(rejections) == 1
    assert reason in rejections[0].reason


def test_a_record_without_any_time_is_rejected() -> None:
    line = bad(("event", "timestamp"), None)
    line = json.dumps({k: v for k, v in json.loads(line).items() if k != "event_timestamp"})
    docs, rejections = run(line)
    assert docs == []
    assert rejections[0].reason == "no time: neither event.timestamp nor event_timestamp"


# -- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", [KEY, DOC_KEY, KEY.rpartition("/")[2], DOC_KEY.replace("flow", "tls")]
)
def test_detected_by_aws_key_layout(key: str) -> None:
    assert format_for_key(key) is FORMAT


def test_a_firewall_named_like_a_log_type_is_not_enough() -> None:
    assert not FORMAT.matches_key("logs/network-firewall-config/alert-rules.json")


@pytest.mark.parametrize("line", SAMPLES)
def test_detected_by_content_and_claimed_by_no_other_format(line: str) -> None:
    assert claimed_by(line) == ["networkfirewall"]
    assert format_for_content(line) is FORMAT


@pytest.mark.parametrize(("name", "first"), REAL_FIRST_LINES, ids=[n for n, _ in REAL_FIRST_LINES])
def test_no_other_formats_real_first_line_is_taken(name: str, first: str) -> None:
    assert not FORMAT.matches_content(first)
