"""CloudTrail, WAF, Route 53 Resolver, Network Firewall, API Gateway and Lambda objects through
the real pipeline into the real local OpenSearch: detected by their AWS key layout, typed
fields, flat_object taking polymorphic shapes, and the analysts' questions answered."""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from logferry.config import Settings
from logferry.ingest.deadletter import StreamDeadLetters
from logferry.ingest.objects import LocalFiles
from logferry.ingest.pipeline import Pipeline
from logferry.model import ObjectRef
from logferry.output.sink import BulkSink, BulkTransport
from tests.conftest import HISTORY_DAYS, REALWORLD

pytestmark = pytest.mark.integration

CLOUDTRAIL_KEY = (
    "AWSLogs/o-a1b2c3d4e5/123456789012/CloudTrail/us-east-1/2023/04/11/"
    "123456789012_CloudTrail_us-east-1_20230411T1525Z_Ab12Cd34Ef56Gh78.json.gz"
)
WAF_KEY = (
    "AWSLogs/123456789012/WAFLogs/us-east-1/site-acl/2023/01/02/03/05/"
    "123456789012_waflogs_us-east-1_site-acl_20230102T0305Z_a1b2c3d4.log.gz"
)


def real_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def ingest(client: Any, prefix: str, path: Path) -> Any:
    errors = io.StringIO()
    pipeline = Pipeline(
        Settings(index_prefix=prefix, accept_days_back=HISTORY_DAYS),
        LocalFiles(),
        BulkSink(BulkTransport(client)),
        StreamDeadLetters(errors),
    )
    result = pipeline.ingest(ObjectRef("", str(path)))
    assert errors.getvalue() == ""
    client.indices.refresh(index=f"{prefix}-*")
    return result


def field_type(client: Any, index: str, field: str) -> str:
    found = client.indices.get_field_mapping(index=index, fields=field)
    mapping = next(iter(found.values()))["mappings"][field]["mapping"]
    return str(next(iter(mapping.values()))["type"])


def cloudtrail_records() -> list[dict[str, Any]]:
    """Real events (CrowdSec, Elastic samples) plus two of opposite requestParameters shapes."""
    directory = REALWORLD / "cloudtrail"
    records = [
        json.loads(line)
        for name in (
            "crowdsec-aws-bf.log",  # 6 failed console logins of one user
            "crowdsec-aws-cloudtrail-postexploit.log",  # 3 AccessDenied calls + 1 success
            "elastic-test-console-login.log",  # JohnDoe ok, JaneDoe failed, a role session
        )
        for line in real_lines(directory / name)
    ]
    for n, record in enumerate(records):
        record["eventID"] = f"event-{n}"  # the samples share placeholder ids
    base = next(r for r in records if r.get("responseElements") == {"ConsoleLogin": "Success"})
    as_text = base | {"eventID": "poly-1", "requestParameters": {"filter": "abc", "limit": 5}}
    as_object = base | {
        "eventID": "poly-2",
        "requestParameters": {"filter": {"name": "tag", "values": ["a", 1, None]}, "limit": "x"},
    }
    # A policy document too long for one Lucene term: cut, and still indexed.
    long_policy = base | {"eventID": "poly-3", "requestParameters": {"policy": "p" * 50000}}
    return [*records, as_text, as_object, long_policy]


def test_cloudtrail_object_is_indexed_typed_and_answers_who_failed(
    os_client: Any, index_prefix: str, tmp_path: Path
) -> None:
    records = cloudtrail_records()
    path = tmp_path / CLOUDTRAIL_KEY
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))

    result = ingest(os_client, index_prefix, path)

    assert (result.outcome, result.format) == ("indexed", "cloudtrail")
    assert (result.documents, result.rejected) == (len(records), 0)
    index = f"{index_prefix}-cloudtrail-*"
    assert int(os_client.count(index=index)["count"]) == len(records)
    assert field_type(os_client, index, "source.ip") == "ip"
    assert field_type(os_client, index, "@timestamp") == "date"
    assert field_type(os_client, index, "aws.cloudtrail.request_parameters") == "flat_object"
    assert field_type(os_client, index, "aws.cloudtrail.read_only") == "boolean"
    creation = "aws.cloudtrail.user_identity.session_context.creation_date"
    assert field_type(os_client, index, creation) == "date"

    # The analysts' question: failed console logins and AccessDenied calls, by user.
    answer = os_client.search(
        index=index,
        body={
            "size": 0,
            "query": {
                "bool": {
                    "should": [
                        {
                            "bool": {
                                "filter": [
                                    {"term": {"event.action": "ConsoleLogin"}},
                                    {"term": {"event.outcome": "failure"}},
                                ]
                            }
                        },
                        {"term": {"aws.cloudtrail.error_code": "AccessDenied"}},
                    ],
                    "minimum_should_match": 1,
                }
            },
            "aggs": {"users": {"terms": {"field": "user.name", "size": 10}}},
        },
    )
    by_user = {b["key"]: b["doc_count"] for b in answer["aggregations"]["users"]["buckets"]}
    # expected from the records themselves, counted the plain way
    expected: Counter[str] = Counter()
    for record in records:
        failed_login = record["eventName"] == "ConsoleLogin" and (
            (record.get("responseElements") or {}).get("ConsoleLogin") == "Failure"
        )
        if failed_login or record.get("errorCode") == "AccessDenied":
            identity = record["userIdentity"]
            expected[identity.get("userName") or identity["arn"].rpartition("/")[2]] += 1
    assert by_user == dict(expected)
    assert by_user == {"<userName>": 7, "<username>": 2, "JaneDoe": 1, "MySessionName": 1}

    # Polymorphic requestParameters: both shapes indexed, each queryable by its dotted path.
    def ids(query: dict[str, Any]) -> set[str]:
        hits = os_client.search(index=index, body={"query": query, "size": 10})["hits"]["hits"]
        return {hit["_source"]["aws"]["cloudtrail"]["event_id"] for hit in hits}

    params = "aws.cloudtrail.request_parameters"
    assert ids({"term": {f"{params}.filter": "abc"}}) == {"poly-1"}
    assert ids({"term": {f"{params}.filter.name": "tag"}}) == {"poly-2"}
    assert ids({"term": {f"{params}.limit": "5"}}) == {"poly-1"}
    assert ids({"term": {"aws.cloudtrail.truncated_fields": "request_parameters.policy"}}) == {
        "poly-3"
    }


def waf_lines() -> list[str]:
    directory = REALWORLD / "waf"
    return [line for path in sorted(directory.glob("*.log")) for line in real_lines(path)]


def test_waf_object_is_indexed_typed_and_answers_blocked_by_client(
    os_client: Any, index_prefix: str, tmp_path: Path
) -> None:
    lines = waf_lines()  # every real sample, wazuh's concatenated objects included
    path = tmp_path / WAF_KEY
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    objects = []
    decoder = json.JSONDecoder()
    for line in lines:  # the expected answer, computed the plain way
        at = 0
        while at < len(line):
            entry, at = decoder.raw_decode(line, at)
            objects.append(entry)

    result = ingest(os_client, index_prefix, path)

    assert (result.outcome, result.format) == ("indexed", "waf")
    assert (result.documents, result.rejected) == (len(objects), 0)
    index = f"{index_prefix}-waf-*"
    assert field_type(os_client, index, "source.ip") == "ip"
    assert field_type(os_client, index, "@timestamp") == "date"
    assert field_type(os_client, index, "aws.waf.rule_group_list") == "flat_object"
    assert field_type(os_client, index, "aws.waf.request_headers.name") == "keyword"

    # The analysts' question: blocked requests by client IP.
    answer = os_client.search(
        index=index,
        body={
            "size": 0,
            "query": {"term": {"event.action": "block"}},
            "aggs": {"clients": {"terms": {"field": "source.ip", "size": 50}}},
        },
    )
    by_client = {b["key"]: b["doc_count"] for b in answer["aggregations"]["clients"]["buckets"]}
    expected = Counter(o["httpRequest"]["clientIp"] for o in objects if o["action"] == "BLOCK")
    assert by_client == dict(expected)
    assert sum(by_client.values()) > 5

    # Millisecond timestamps survive: the newest entry, to the millisecond.
    newest = os_client.search(
        index=index, body={"size": 1, "sort": [{"@timestamp": "desc"}], "_source": ["@timestamp"]}
    )["hits"]["hits"][0]["_source"]["@timestamp"]
    assert newest == "2025-06-28T11:25:58.160Z"


# -- API Gateway, Lambda, Route 53 Resolver, Network Firewall ----------------------------------

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ACCOUNT = "111122223333"


def at(seconds: float) -> str:
    """T0 + seconds as the services write ISO times (milliseconds, Z)."""
    return (
        (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def resolver_lines() -> list[str]:
    """Queries of three clients; one of them looks up names that do not exist, and one lookup
    is blocked by a DNS Firewall rule."""
    lines = []
    for n, (client, name, rcode) in enumerate(
        [("10.0.1.15", "api.shop.example.com.", "NOERROR")] * 3
        + [("10.0.1.66", f"x{i}.dga-like.example.", "NXDOMAIN") for i in range(4)]
        + [("10.0.2.7", "db.internal.", "NOERROR"), ("10.0.1.66", "c2.bad.example.", "NXDOMAIN")]
    ):
        record = {
            "version": "1.100000", "account_id": ACCOUNT, "region": "eu-west-1",
            "vpc_id": "vpc-0a1b2c3d4e5f67890", "query_timestamp": at(n)[:19] + "Z",
            "query_name": name, "query_type": "A", "query_class": "IN", "rcode": rcode,
            "answers": [{"Rdata": "198.51.100.20", "Type": "A", "Class": "IN"}]
            if rcode == "NOERROR" else [],
            "srcaddr": client, "srcport": str(40000 + n), "transport": "UDP",
            "srcids": {"instance": "i-0123456789abcdef0"},
        }  # fmt: skip
        if name.startswith("c2."):
            record |= {"firewall_rule_group_id": "rslvr-frg-0a1b2c3d4e5f6a7b",
                       "firewall_rule_action": "BLOCK",
                       "firewall_domain_list_id": "rslvr-fdl-0a1b2c3d4e5f6a7b"}  # fmt: skip
        lines.append(json.dumps(record))
    return lines


def firewall_lines() -> list[str]:
    """Alerts of two signatures, one with a TLS server name, and a netflow record."""

    def record(n: int, event: dict[str, Any]) -> str:
        base = {"timestamp": at(n).replace("Z", "000+0000"), "flow_id": 1000 + n,
                "src_ip": f"10.0.3.{n}", "src_port": 50000 + n, "dest_ip": "203.0.113.50",
                "dest_port": 443, "proto": "TCP"}  # fmt: skip
        return json.dumps({"firewall_name": "egress-fw", "availability_zone": "eu-west-1a",
                           "event_timestamp": str(int(T0.timestamp()) + n),
                           "event": base | event})  # fmt: skip

    def alert(sid: int, signature: str, action: str) -> dict[str, Any]:
        return {"event_type": "alert", "alert": {"action": action, "signature_id": sid, "rev": 1,
                "signature": signature, "category": "", "severity": 1}}  # fmt: skip

    tls = {"app_proto": "tls", "tls": {"sni": "mining.pool.example", "version": "TLS 1.3"}}
    netflow = {"event_type": "netflow", "netflow": {"pkts": 12, "bytes": 4096, "age": 3,
               "start": at(0).replace("Z", "000+0000"), "end": at(3).replace("Z", "000+0000"),
               "min_ttl": 63, "max_ttl": 63}, "tcp": {"tcp_flags": "1b"}}  # fmt: skip
    return [
        record(1, alert(2000001, "Block known mining pools", "blocked") | tls),
        record(2, alert(2000001, "Block known mining pools", "blocked") | tls),
        record(3, alert(5, "test_tcp", "allowed")),
        record(4, netflow),
    ]


def apigateway_lines() -> list[str]:
    """A REST API's JSON entries (two 5xx on one route), an HTTP API's CLF line, and two entries
    back to back as Firehose writes them."""

    def entry(n: int, status: int, path: str = "/pets/{petId}", method: str = "GET") -> str:
        return json.dumps({"requestId": f"c6af9ac6-7b61-11e6-9a41-93e8deadbe{n:02d}",
                           "ip": f"192.0.2.{n}", "caller": "-", "user": "-",
                           "requestTimeEpoch": str(int(T0.timestamp() * 1000) + n),
                           "httpMethod": method, "resourcePath": path, "status": str(status),
                           "protocol": "HTTP/1.1", "responseLength": "85",
                           "responseLatency": "120", "integrationLatency": "-",
                           "apiId": "a1b2c3d4e5", "stage": "prod"})  # fmt: skip

    return [
        entry(1, 200),
        entry(2, 502) + entry(3, 504),
        entry(4, 500, "/orders", "POST"),
        '203.0.113.9 - - [20/Nov/2026:12:00:05 +0000] "GET GET /pets HTTP/1.1" 404 23 Kx3fM=',
    ]


def lambda_lines() -> list[str]:
    """A CloudWatch Logs export of a function's log stream: a cold invocation that succeeds, a
    warm one that times out, in the text format, and one in the JSON format."""
    rid = [f"8f5b3c9e-2a1d-4e6f-9b0a-1c2d3e4f5a{n:02d}" for n in range(3)]
    report = (
        "REPORT RequestId: {}\tDuration: {} ms\tBilled Duration: {} ms\tMemory Size: 128 MB"
        "\tMax Memory Used: 70 MB"
    )
    runtime = "arn:aws:lambda:eu-west-1::runtime:abc"
    messages = [
        (0, f"INIT_START Runtime Version: python:3.13.v21\tRuntime Version ARN: {runtime}"),
        (0.2, f"START RequestId: {rid[0]} Version: $LATEST"),
        (0.3, f"[INFO]\t{at(0.3)}\t{rid[0]}\torder 42 stored"),
        (0.4, f"END RequestId: {rid[0]}"),
        (0.4, report.format(rid[0], "102.25", "103") + "\tInit Duration: 180.55 ms\t"),
        (5, f"START RequestId: {rid[1]} Version: $LATEST"),
        (8, f"{at(8)} {rid[1]} Task timed out after 3.00 seconds"),
        (8, f"END RequestId: {rid[1]}"),
        (8, report.format(rid[1], "3000.00", "3000") + "\tStatus: timeout"),
        (9, json.dumps({"timestamp": at(9), "level": "ERROR", "message": "card declined",
                        "requestId": rid[2], "errorType": "CardError"})),
        (9.1, json.dumps({"time": at(9.1), "type": "platform.report", "record": {
            "requestId": rid[2], "metrics": {"durationMs": 20.5, "billedDurationMs": 21,
            "memorySizeMB": 128, "maxMemoryUsedMB": 71}, "status": "error"}})),
    ]  # fmt: skip
    return [f"{at(seconds)} {message}" for seconds, message in messages]


SERVICES = {
    # format: (key under AWS's layout, lines, documents, field -> type in the live index)
    "route53resolver": (
        f"AWSLogs/{ACCOUNT}/vpcdnsquerylogs/vpc-0a1b2c3d4e5f67890/2026/11/20/"
        f"{ACCOUNT}_vpcdnsquerylogs_vpc-0a1b2c3d4e5f67890_20261120T1205Z_1a2b3c4d.log.gz",
        resolver_lines,
        9,
        {"dns.question.name": "keyword", "dns.resolved_ip": "ip", "source.ip": "ip",
         "source.port": "integer", "cloud.instance.id": "keyword"},
    ),
    "networkfirewall": (
        f"AWSLogs/{ACCOUNT}/network-firewall/alert/eu-west-1/egress-fw/2026/11/20/12/"
        f"{ACCOUNT}_network-firewall_alert_eu-west-1_egress-fw_20261120T1205Z_5e8a9b0c.log.gz",
        firewall_lines,
        4,
        {"rule.id": "keyword", "event.severity": "long", "destination.port": "integer",
         "network.bytes": "long", "event.start": "date", "tls.client.server_name": "keyword",
         "aws.networkfirewall.extra": "flat_object"},
    ),
    "apigateway": (
        "apigw/2026/11/20/12/amazon-apigateway-shop-1-2026-11-20-12-05-01-0f1e2d3c4b5a",
        apigateway_lines,
        5,
        {"http.request.id": "keyword", "http.response.status_code": "integer",
         "aws.apigateway.route": "keyword", "event.duration": "long", "source.ip": "ip"},
    ),
    "lambda": (
        "exportedlogs/4f1c2b3a-9d8e-4f7a-b6c5-d4e3f2a1b0c9/2026/11/20/"
        "[$LATEST]0123456789abcdef0123456789abcdef/000000.gz",
        lambda_lines,
        11,
        {"message": "text", "aws.lambda.duration_ms": "float", "faas.coldstart": "boolean",
         "aws.lambda.memory_size_mb": "integer", "faas.execution": "keyword"},
    ),
}  # fmt: skip


def ingest_service(client: Any, prefix: str, tmp_path: Path, name: str) -> Any:
    """Write the format's object gzipped under its key layout and ingest it."""
    key, make_lines, _, _ = SERVICES[name]
    path = tmp_path / key
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(("\n".join(make_lines()) + "\n").encode()))
    return ingest(client, prefix, path)


def terms(client: Any, index: str, field: str, query: dict[str, Any]) -> dict[str, int]:
    body = {"size": 0, "query": query, "aggs": {"by": {"terms": {"field": field, "size": 20}}}}
    answer = client.search(index=index, body=body)
    return {str(b["key"]): b["doc_count"] for b in answer["aggregations"]["by"]["buckets"]}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_logs_are_detected_by_key_and_indexed_typed(
    name: str, os_client: Any, index_prefix: str, tmp_path: Path
) -> None:
    _, _, documents, types = SERVICES[name]
    result = ingest_service(os_client, index_prefix, tmp_path, name)

    assert (result.outcome, result.format) == ("indexed", name)
    assert (result.documents, result.rejected) == (documents, 0)
    index = f"{index_prefix}-{name}-*"
    assert int(os_client.count(index=index)["count"]) == documents
    assert field_type(os_client, index, "@timestamp") == "date"
    for field, kind in types.items():
        assert field_type(os_client, index, field) == kind, field


def test_service_logs_answer_the_obvious_questions(
    os_client: Any, index_prefix: str, tmp_path: Path
) -> None:
    for name in SERVICES:
        ingest_service(os_client, index_prefix, tmp_path, name)
    prefix = index_prefix

    nxdomain = {"term": {"dns.response_code": "NXDOMAIN"}}
    assert terms(os_client, f"{prefix}-route53resolver-*", "source.ip", nxdomain) == {
        "10.0.1.66": 5
    }
    blocked = {"term": {"event.action": "block"}}
    assert terms(os_client, f"{prefix}-route53resolver-*", "dns.question.name", blocked) == {
        "c2.bad.example": 1
    }
    alerts = {"term": {"event.kind": "alert"}}
    assert terms(os_client, f"{prefix}-networkfirewall-*", "rule.name", alerts) == {
        "Block known mining pools": 2,
        "test_tcp": 1,
    }
    errors = {"range": {"http.response.status_code": {"gte": 500, "lt": 600}}}
    assert terms(os_client, f"{prefix}-apigateway-*", "aws.apigateway.route", errors) == {
        "GET /pets/{petId}": 2,
        "POST /orders": 1,
    }
    timeouts = {"term": {"aws.lambda.status": "timeout"}}
    assert terms(os_client, f"{prefix}-lambda-*", "aws.lambda.type", timeouts) == {
        "platform.fault": 1,
        "platform.report": 1,
    }
    failed = {"term": {"event.outcome": "failure"}}
    assert terms(os_client, f"{prefix}-lambda-*", "faas.execution", failed) == {
        "8f5b3c9e-2a1d-4e6f-9b0a-1c2d3e4f5a01": 2,
        "8f5b3c9e-2a1d-4e6f-9b0a-1c2d3e4f5a02": 1,
    }
