"""ALB, ALB connection and Classic ELB objects through the pipeline into the real local
OpenSearch: detected by their keys (or first line), typed by the template, searchable."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import pytest

from logferry.config import Settings
from logferry.ingest.deadletter import StreamDeadLetters
from logferry.ingest.objects import LocalFiles
from logferry.ingest.pipeline import ObjectResult, Pipeline
from logferry.model import ObjectRef
from logferry.output.sink import BulkSink, BulkTransport
from tests.conftest import HISTORY_DAYS, REALWORLD, SHARED

pytestmark = pytest.mark.integration

DAY_DIR = "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/09/23"
ALB_NAME = (
    "123456789012_elasticloadbalancing_us-east-1_app.my-alb.98e3a879de9d6b42_20260923T0720Z_"
    "100.51.96.60_2kfa7c9x.log.gz"
)
CONN_NAME = "conn_log." + ALB_NAME
CLB_NAME = (
    "123456789012_elasticloadbalancing_us-east-1_my-clb_20260923T0720Z_10.0.1.20_2kfa7c9x.log"
)


def real_lines(folder: str, *names: str) -> list[str]:
    return [
        line
        for name in names
        for line in (REALWORLD / folder / name).read_text().splitlines()
        if line.strip()
    ]


def seed_connection_lines() -> list[str]:
    # The seed's failed negotiations, last octet masked by its author: restored to a number.
    text = (SHARED / "seeds" / "002_9f895c65ec24b134.txt").read_text()
    lines = re.findall(r"^\d{4}-\d\d-\d\dT\S+Z \S+ \d+ \d+ .*$", text, re.MULTILINE)
    return [re.sub(r"\.x{2,3}\b", ".7", line) for line in lines]


def ingest(tmp_path: Path, name: str, body: bytes, prefix: str, client: Any) -> ObjectResult:
    path = tmp_path / DAY_DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    pipeline = Pipeline(
        Settings(index_prefix=prefix, accept_days_back=HISTORY_DAYS),
        LocalFiles(),
        BulkSink(BulkTransport(client)),
        StreamDeadLetters(),
    )
    result = pipeline.ingest(ObjectRef("", str(path)))
    client.indices.refresh(index=f"{prefix}-*")
    return result


def properties(client: Any, index: str) -> dict[str, Any]:
    mappings = client.indices.get_mapping(index=index)
    merged: dict[str, Any] = {}
    for body in mappings.values():  # one index per day: the types agree across them
        merged.update(body["mappings"]["properties"])
    return merged


def field_type(props: dict[str, Any], dotted: str) -> str:
    *parents, leaf = dotted.split(".")
    for name in parents:
        props = props[name]["properties"]
    return str(props[leaf]["type"])


def hits(client: Any, index: str, query: dict[str, Any]) -> int:
    body = {"query": query, "size": 0, "track_total_hits": True}
    return int(client.search(index=index, body=body)["hits"]["total"]["value"])


def test_alb_object_is_indexed_typed_and_5xx_are_searchable(
    tmp_path: Path, index_prefix: str, os_client: Any
) -> None:
    lines = real_lines(
        "alb",
        "unknown-elblog-2026-36fields.log",
        "crowdsec-aws-alb-logs.log",
        "beats-application-lb-http.log",
        "awsdocs-access-log-examples-2023.log",
        "vrl-parse-aws-alb-log-tests.log",
    )
    body = gzip.compress(("\n".join(lines) + "\n").encode())

    result = ingest(tmp_path, ALB_NAME, body, index_prefix, os_client)

    assert (result.outcome, result.format) == ("indexed", "alb")
    assert (result.documents, result.rejected) == (len(lines), 0)
    index = f"{index_prefix}-alb-*"
    props = properties(os_client, index)
    assert field_type(props, "source.ip") == "ip"
    assert field_type(props, "destination.ip") == "ip"
    assert field_type(props, "@timestamp") == "date"
    assert field_type(props, "http.response.status_code") == "integer"
    assert field_type(props, "aws.elb.request_creation_time") == "date"
    assert field_type(props, "aws.elb.node_ip") == "ip"
    assert field_type(props, "aws.elb.target_processing_time_s") == "float"
    # The ELB status is the 9th field, before any quoted one: counted here without the parser.
    server_errors = sum(1 for line in lines if line.split(" ")[8].startswith("5"))
    assert server_errors > 0
    query = {"range": {"http.response.status_code": {"gte": 500}}}
    assert hits(os_client, index, query) == server_errors
    # The 2026 lines carry the LB node's IP; an ip field answers a CIDR query.
    assert hits(os_client, index, {"term": {"aws.elb.node_ip": "100.51.96.0/24"}}) == 3
    assert hits(os_client, index, {"term": {"source.ip": "2601:6bbc:c529:9dad::/64"}}) == 2


def test_an_alb_object_without_an_aws_key_is_recognised_by_its_first_line(
    tmp_path: Path, index_prefix: str, os_client: Any
) -> None:
    lines = real_lines("alb", "panther-alb-tests.log")
    body = gzip.compress("\n".join(lines).encode())

    result = ingest(tmp_path, "exported.log.gz", body, index_prefix, os_client)

    assert (result.format, result.documents) == ("alb", len(lines))


def test_connection_log_object_puts_failed_negotiations_one_query_away(
    tmp_path: Path, index_prefix: str, os_client: Any
) -> None:
    lines = [
        *real_lines(
            "alb-connection",
            "elastic-test-alb-alb-connection.log",
            "unknown-elblog-2026-15fields.log",
        ),
        *seed_connection_lines(),
    ]
    body = gzip.compress("\n".join(lines).encode())

    result = ingest(tmp_path, CONN_NAME, body, index_prefix, os_client)

    assert (result.outcome, result.format) == ("indexed", "alb-connection")
    assert (result.documents, result.rejected) == (len(lines), 0)
    index = f"{index_prefix}-alb-connection-*"
    props = properties(os_client, index)
    assert field_type(props, "source.ip") == "ip"
    assert field_type(props, "@timestamp") == "date"
    assert field_type(props, "aws.elb.leaf_client_cert_not_after") == "date"
    assert field_type(props, "aws.elb.tls_handshake_latency_s") == "float"
    failed = sum(1 for line in lines if " Failed:" in line)
    assert failed == 8
    assert hits(os_client, index, {"term": {"event.outcome": "failure"}}) == failed
    response = os_client.search(
        index=index,
        body={
            "size": 0,
            "query": {"term": {"event.outcome": "failure"}},
            "aggs": {"why": {"terms": {"field": "aws.elb.tls_verify_error_code"}}},
        },
    )
    buckets = {b["key"]: b["doc_count"] for b in response["aggregations"]["why"]["buckets"]}
    assert buckets == {"UnmappedConnectionError": 7, "ClientCertUntrusted": 1}
    # Certificates about to expire: a date range on the leaf certificate's NotAfter.
    expiring = {"range": {"aws.elb.leaf_client_cert_not_after": {"lt": "2026-07-01"}}}
    assert hits(os_client, index, expiring) == 2


def test_clb_plain_text_object_is_indexed_and_tcp_lines_have_no_status(
    tmp_path: Path, index_prefix: str, os_client: Any
) -> None:
    names = sorted(p.name for p in (REALWORLD / "clb").glob("*.log"))
    lines = real_lines("clb", *names)
    body = ("\n".join(lines) + "\n").encode()  # CLB objects are not gzipped

    result = ingest(tmp_path, CLB_NAME, body, index_prefix, os_client)

    assert (result.outcome, result.format) == ("indexed", "clb")
    assert (result.documents, result.rejected) == (len(lines), 0)
    index = f"{index_prefix}-clb-*"
    props = properties(os_client, index)
    assert field_type(props, "source.ip") == "ip"
    assert field_type(props, "destination.ip") == "ip"
    assert field_type(props, "@timestamp") == "date"
    assert field_type(props, "http.response.status_code") == "integer"
    # TCP/SSL listener lines log "-" as the ELB status (8th field, unquoted).
    no_status = sum(1 for line in lines if line.split(" ")[7] == "-")
    assert no_status > 0
    missing = {"bool": {"must_not": {"exists": {"field": "http.response.status_code"}}}}
    assert hits(os_client, index, missing) == no_status
    errors = sum(1 for line in lines if line.split(" ")[7][:1] in ("4", "5"))
    assert hits(os_client, index, {"range": {"http.response.status_code": {"gte": 400}}}) == errors
