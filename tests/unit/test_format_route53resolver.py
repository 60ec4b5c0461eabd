"""Route 53 Resolver query logs: the record AWS documents, real-shaped queries (NXDOMAIN, CNAME
chains, inbound endpoints, DNS Firewall matches), rejections, detection.

Sources of the facts: AWS's "Values that appear in VPC Resolver query logs" and its example
record (Route 53 Developer Guide: field names, `srcport` quoted, `version` "1.100000", srcids
with instance / resolver endpoint); the key layout from the S3 delivery of vpcdnsquerylogs;
peers' samples (Elastic's route53_resolver_logs test log: NXDOMAIN with empty answers, PTR
and CNAME answers with trailing dots) for the shapes of real queries.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from logferry.formats import FORMATS, format_for_content, format_for_key
from logferry.formats.route53resolver import FORMAT
from logferry.model import Document, ObjectRef, ParseContext, Rejection
from tests.format_checks import REAL_FIRST_LINES, claimed_by, only_document, parse_lines

KEY = (
    "dns-logs/AWSLogs/111122223333/vpcdnsquerylogs/vpc-0a1b2c3d4e5f67890/2026/11/20/"
    "111122223333_vpcdnsquerylogs_vpc-0a1b2c3d4e5f67890_20261120T1205Z_1a2b3c4d.log.gz"
)
CTX = ParseContext(ObjectRef("logs", KEY))
# AWS's documented example, as one line.
DOC_EXAMPLE = (
    '{"srcaddr":"4.5.64.102","vpc_id":"vpc-7example","answers":[{"Rdata":"203.0.113.9",'
    '"Type":"PTR","Class":"IN"}],"firewall_rule_group_id":"rslvr-frg-01234567890abcdef",'
    '"firewall_rule_action":"BLOCK","query_name":"15.3.4.32.in-addr.arpa.",'
    '"firewall_domain_list_id":"rslvr-fdl-01234567890abcdef","query_class":"IN","srcids":'
    '{"instance":"i-0d15cd0d3example"},"rcode":"NOERROR","query_type":"PTR","transport":"UDP",'
    '"version":"1.100000","account_id":"111122223333","srcport":"56067",'
    '"query_timestamp":"2021-02-04T17:51:55Z","region":"us-east-1"}'
)


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": "1.100000",
        "account_id": "111122223333",
        "region": "eu-west-1",
        "vpc_id": "vpc-0a1b2c3d4e5f67890",
        "query_timestamp": "2026-11-20T12:04:31Z",
        "query_name": "api.shop.example.com.",
        "query_type": "A",
        "query_class": "IN",
        "rcode": "NOERROR",
        "answers": [
            {"Rdata": "shop-lb-123.eu-west-1.elb.amazonaws.com.", "Type": "CNAME", "Class": "IN"},
            {"Rdata": "198.51.100.20", "Type": "A", "Class": "IN"},
            {"Rdata": "198.51.100.21", "Type": "A", "Class": "IN"},
        ],
        "srcaddr": "10.0.1.15",
        "srcport": "43312",
        "transport": "UDP",
        "srcids": {"instance": "i-0123456789abcdef0"},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def run(*lines: str) -> tuple[list[Document], list[Rejection]]:
    return parse_lines(FORMAT, CTX, *lines)


def one(entry: dict[str, Any] | str) -> dict[str, Any]:
    return only_document(FORMAT, CTX, entry if isinstance(entry, str) else json.dumps(entry))


def test_documented_example_gives_the_ecs_fields() -> None:
    doc = one(DOC_EXAMPLE)
    assert doc["@timestamp"] == "2021-02-04T17:51:55Z"
    assert doc["event"] == {
        "dataset": "aws.route53resolver",
        "kind": "event",
        "action": "block",
        "outcome": "success",
    }
    assert doc["dns"] == {
        "question": {"name": "15.3.4.32.in-addr.arpa", "type": "PTR", "class": "IN"},
        "response_code": "NOERROR",
        "answers": [{"data": "203.0.113.9", "type": "PTR", "class": "IN"}],
    }
    assert doc["source"] == {"address": "4.5.64.102", "ip": "4.5.64.102", "port": 56067}
    assert doc["network"] == {"transport": "udp", "iana_number": "17", "protocol": "dns"}
    assert doc["cloud"] == {
        "account": {"id": "111122223333"},
        "region": "us-east-1",
        "instance": {"id": "i-0d15cd0d3example"},
    }
    assert doc["aws"]["route53resolver"] == {
        "version": "1.100000",
        "vpc_id": "vpc-7example",
        "firewall_rule_group_id": "rslvr-frg-01234567890abcdef",
        "firewall_rule_action": "BLOCK",
        "firewall_domain_list_id": "rslvr-fdl-01234567890abcdef",
    }


def test_answered_query_lists_the_chain_and_the_resolved_addresses() -> None:
    doc = one(record())
    assert doc["dns"]["question"]["name"] == "api.shop.example.com"
    assert [a["data"] for a in doc["dns"]["answers"]] == [
        "shop-lb-123.eu-west-1.elb.amazonaws.com",
        "198.51.100.20",
        "198.51.100.21",
    ]
    assert doc["dns"]["resolved_ip"] == ["198.51.100.20", "198.51.100.21"]
    assert "action" not in doc["event"]  # no DNS Firewall rule matched
    assert "firewall_rule_action" not in doc["aws"]["route53resolver"]


def test_nxdomain_is_a_failure_with_no_answers() -> None:
    doc = one(record(query_name="does-not-exist.example.com.", rcode="NXDOMAIN", answers=[]))
    assert doc["dns"]["response_code"] == "NXDOMAIN"
    assert doc["event"]["outcome"] == "failure"
    assert "answers" not in doc["dns"] and "resolved_ip" not in doc["dns"]


def test_query_through_an_inbound_endpoint_names_the_endpoint_and_its_interface() -> None:
    srcids = {
        "resolver_endpoint": "rslvr-in-0a1b2c3d4e5f6a7b8",
        "resolver_network_interface": "rni-0f1e2d3c4b5a69788",
    }
    doc = one(record(srcaddr="172.16.5.9", srcport="15083", transport="TCP", srcids=srcids))
    assert doc["aws"]["route53resolver"]["resolver_endpoint_id"] == "rslvr-in-0a1b2c3d4e5f6a7b8"
    assert doc["aws"]["route53resolver"]["resolver_network_interface_id"] == "rni-0f1e2d3c4b5a69788"
    assert "instance" not in doc["cloud"]
    assert doc["network"] == {"transport": "tcp", "iana_number": "6", "protocol": "dns"}
    assert doc["source"]["port"] == 15083


def test_dns_firewall_alert_is_the_lower_case_action() -> None:
    doc = one(
        record(
            firewall_rule_group_id="rslvr-frg-000000000000000",
            firewall_rule_action="ALERT",
            firewall_domain_list_id="rslvr-fdl-0000000000000",
        )
    )
    assert doc["event"]["action"] == "alert"
    assert doc["aws"]["route53resolver"]["firewall_rule_action"] == "ALERT"


def test_ipv6_source_aaaa_answers_and_the_root_name() -> None:
    answers = [{"Rdata": "2001:db8::20", "Type": "AAAA", "Class": "IN"}]
    doc = one(record(srcaddr="2001:db8:1::15", query_type="AAAA", answers=answers))
    assert doc["source"]["ip"] == "2001:db8:1::15"
    assert doc["dns"]["resolved_ip"] == ["2001:db8::20"]
    assert one(record(query_name=".", query_type="NS"))["dns"]["question"]["name"] == "."


def test_unknown_keys_are_kept_not_mapped() -> None:
    doc = one(record(firewall_protection="DGA", new_field={"a": 1}))
    extra = doc["aws"]["route53resolver"]["extra"]
    assert extra == {"firewall_protection": "DGA", "new_field": {"a": 1}}


def test_offset_time_is_converted_to_utc() -> None:
    assert one(record(query_timestamp="2026-11-20T13:04:31.5+01:00"))["@timestamp"] == (
        "2026-11-20T12:04:31.500Z"
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (json.dumps(record(query_timestamp=None)), "query_timestamp missing"),
        (json.dumps(record(query_timestamp="2026-W47-5T12:04:31Z")), "query_timestamp: expected"),
        (json.dumps(record(query_timestamp=1763640271)), "query_timestamp: expected"),
        (json.dumps(record(srcport="dns")), "srcport: expected a whole number"),
        (json.dumps(record(srcport="70000")), "srcport: 70000 is out of range"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"query_name": "x.", ', "invalid JSON"),
    ],
)
def test_bad_records_are_rejected_with_the_reason(line: str, reason: str) -> None:
    docs, rejections = run(line)
    assert docs == [] and len(rejections) == 1
    assert reason in rejections[0].reason


def test_records_back_to_back_on_a_line_are_documents_each() -> None:
    # Firehose writes them without a separator; the second has a bad time.
    line = json.dumps(record()) + json.dumps(record(query_timestamp="x"))
    docs, rejections = run(line, DOC_EXAMPLE)
    assert [(d.position, d.sub) for d in docs] == [(1, 0), (2, 0)]
    assert [(r.position, r.reason) for r in rejections] == [
        (1, "object 2 on the line: query_timestamp: expected an ISO 8601 time, got 'x'")
    ]


# -- detection --------------------------------------------------------------------------------


def test_detected_by_the_vpcdnsquerylogs_key() -> None:
    assert format_for_key(KEY) is FORMAT
    assert format_for_key(KEY.rpartition("/")[2]) is FORMAT
    vpc = KEY.replace("vpcdnsquerylogs", "vpcflowlogs")
    assert format_for_key(vpc) is FORMATS["vpcflow"]


def test_detected_by_content_and_no_other_format_claims_its_lines() -> None:
    for line in (DOC_EXAMPLE, json.dumps(record()), json.dumps(record(rcode="NXDOMAIN"))):
        assert claimed_by(line) == ["route53resolver"]
        assert format_for_content(line) is FORMAT


@pytest.mark.parametrize(("name", "first"), REAL_FIRST_LINES, ids=[n for n, _ in REAL_FIRST_LINES])
def test_no_other_formats_real_first_line_is_taken(name: str, first: str) -> None:
    assert not FORMAT.matches_content(first)
