"""VPC flow, CloudFront and S3 access objects through the real pipeline into the real local
OpenSearch: typed mappings in the live index, and one analyst question answered per format."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from logferry.config import Settings
from logferry.ingest.deadletter import StreamDeadLetters
from logferry.ingest.objects import LocalFiles
from logferry.ingest.pipeline import ObjectResult, Pipeline
from logferry.model import ObjectRef
from logferry.output.sink import BulkSink, BulkTransport
from tests.conftest import HISTORY_DAYS
from tests.unit.test_format_parquet import without_pyarrow as without_pyarrow

pytestmark = pytest.mark.integration

T0 = int(datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp())
VPC_KEY = (
    "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/20/"
    "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261120T1205Z_1a2b3c4d.log.gz"
)
VPC_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status tcp-flags pkt-srcaddr"
)


def vpc(src: str, dport: int, action: str, proto: int = 6) -> str:
    return (
        f"5 123456789012 eni-0a1b2c3d4e5f60718 {src} 10.0.1.20 51515 {dport} {proto} 3 180 "
        f"{T0} {T0 + 60} {action} OK 2 {src}"
    )


VPC_LINES = [
    VPC_HEADER,
    vpc("198.51.100.7", 22, "REJECT"),
    vpc("198.51.100.8", 22, "REJECT"),
    vpc("203.0.113.5", 22, "ACCEPT"),
    vpc("198.51.100.7", 3389, "REJECT"),
    vpc("2001:db8::9", 53, "ACCEPT", proto=17),
    f"5 123456789012 eni-0a1b2c3d4e5f60718 - - - - - - - {T0} {T0 + 60} - NODATA - -",
]
CF_KEY = "cdn-logs/E2ABCDEFGHIJKL.2026-11-20-12.a1b2c3d4.gz"
CF_FIELDS = (
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)


def cf(minute: int, status: str, ip: str, result: str = "Hit") -> str:
    return "\t".join(
        [
            "2026-11-20", f"12:{minute:02d}:07", "FRA56-P3", "5120", ip, "GET",
            "d111111abcdef8.cloudfront.net", "/shop/cart", status, "-",
            "Mozilla/5.0%20(X11;%20Linux%20x86_64)", "id=7", "-", result,
            f"req{minute}AbCdEf==", "shop.example.com", "https", "310", "0.120",
            "198.51.100.1,%20203.0.113.2", "TLSv1.3", "TLS_AES_128_GCM_SHA256", result,
            "HTTP/2.0", "-", "-", "51234", "0.100", result, "text/html", "5000", "-", "-",
        ]
    )  # fmt: skip


CF_LINES = [
    "#Version: 1.0",
    CF_FIELDS,
    cf(1, "200", "192.0.2.10"),
    cf(2, "502", "192.0.2.11", "Error"),
    cf(3, "503", "2001:db8::10", "Error"),
    cf(4, "000", "192.0.2.12", "Miss"),
    cf(5, "404", "192.0.2.13", "Error"),
]
S3_KEY = "s3-access/2026-11-20-12-05-01-0123456789ABCDEF"
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"


def s3(second: int, operation: str, request: str, status: str, key: str = "photos/cat.jpg") -> str:
    return (
        f"{OWNER} amzn-s3-demo-bucket [20/Nov/2026:12:04:{second:02d} +0000] 192.0.2.3 "
        f"arn:aws:iam::123456789012:user/alice REQ{second:012d} {operation} {key} {request} "
        f'{status} - 2662 3462 70 10 "-" "aws-cli/2.15.0 Python/3.11.6, Linux" - '
        "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNk= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader "
        "amzn-s3-demo-bucket.s3.us-west-1.amazonaws.com TLSv1.2 - Yes"
    )


S3_LINES = [
    s3(1, "REST.GET.OBJECT", '"GET /amzn-s3-demo-bucket/photos/cat.jpg HTTP/1.1"', "200"),
    s3(2, "REST.GET.OBJECT", '"GET /amzn-s3-demo-bucket/photos/cat.jpg HTTP/1.1"', "304"),
    s3(3, "REST.GET.OBJECT", '"GET /amzn-s3-demo-bucket/photos/dog.jpg HTTP/1.1"', "404"),
    s3(4, "REST.PUT.OBJECT", '"PUT /amzn-s3-demo-bucket/photos/cat.jpg HTTP/1.1"', "200"),
    s3(5, "BATCH.DELETE.OBJECT", "-", "204"),
]


def ingest(prefix: str, os_client: Any, path: Path, deadletters: io.StringIO) -> ObjectResult:
    pipeline = Pipeline(
        Settings(index_prefix=prefix, accept_days_back=HISTORY_DAYS),
        LocalFiles(),
        BulkSink(BulkTransport(os_client)),
        StreamDeadLetters(deadletters),
    )
    result = pipeline.ingest(ObjectRef("", str(path)))
    os_client.indices.refresh(index=f"{prefix}-*")
    return result


def write(tmp_path: Path, key: str, lines: list[str], gzipped: bool) -> Path:
    path = tmp_path / key
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


def properties(os_client: Any, index: str) -> dict[str, Any]:
    mapping = os_client.indices.get_mapping(index=index)
    props: dict[str, Any] = next(iter(mapping.values()))["mappings"]["properties"]
    return props


def type_of(props: dict[str, Any], dotted: str) -> str:
    node: dict[str, Any] = {"properties": props}
    for part in dotted.split("."):
        node = node["properties"][part]
    return str(node["type"])


def count(os_client: Any, index: str, *filters: dict[str, Any]) -> int:
    body = {"query": {"bool": {"filter": list(filters)}}}
    return int(os_client.count(index=index, body=body)["count"])


def test_vpc_flow_logs_answer_who_was_refused_on_ssh(
    tmp_path: Path, os_client: Any, index_prefix: str
) -> None:
    path = write(tmp_path, VPC_KEY, VPC_LINES, gzipped=True)
    result = ingest(index_prefix, os_client, path, io.StringIO())

    assert (result.outcome, result.format) == ("indexed", "vpcflow")
    assert (result.documents, result.rejected) == (6, 0)
    index = f"{index_prefix}-vpcflow-2026.11.20"
    props = properties(os_client, index)
    for field, kind in {
        "@timestamp": "date",
        "event.start": "date",
        "event.end": "date",
        "source.ip": "ip",
        "destination.ip": "ip",
        "destination.port": "integer",
        "network.bytes": "long",
        "network.packets": "long",
        "network.transport": "keyword",
        "aws.vpcflow.action": "keyword",
        "aws.vpcflow.tcp_flags": "integer",
        "aws.vpcflow.pkt_srcaddr": "ip",
    }.items():
        assert type_of(props, field) == kind, field

    refused_ssh = count(
        os_client,
        index,
        {"term": {"aws.vpcflow.action": "REJECT"}},
        {"term": {"destination.port": 22}},
    )
    assert refused_ssh == 2
    hits = os_client.search(
        index=index,
        body={
            "size": 0,
            "query": {"bool": {"filter": [{"term": {"event.outcome": "failure"}}]}},
            "aggs": {"by_source": {"terms": {"field": "source.ip"}}},
        },
    )
    buckets = {b["key"]: b["doc_count"] for b in hits["aggregations"]["by_source"]["buckets"]}
    assert buckets == {"198.51.100.7": 2, "198.51.100.8": 1}
    assert count(os_client, index, {"term": {"aws.vpcflow.log_status": "NODATA"}}) == 1
    assert count(os_client, index, {"term": {"source.ip": "2001:db8::/32"}}) == 1


def test_vpc_flow_logs_in_parquet_end_unsupported_and_dead_lettered_without_pyarrow(
    tmp_path: Path, os_client: Any, index_prefix: str, without_pyarrow: None
) -> None:
    path = tmp_path / VPC_KEY.replace(".log.gz", ".log.parquet")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1\x15\x04\x15\x80\x01" + bytes(64) + b"PAR1")
    deadletters = io.StringIO()
    result = ingest(index_prefix, os_client, path, deadletters)
    assert result.outcome == "unsupported"
    assert result.documents == 0 and result.dead_lettered == 1
    assert "Parquet are not supported" in deadletters.getvalue()


def test_cloudfront_logs_answer_which_requests_failed_or_were_abandoned(
    tmp_path: Path, os_client: Any, index_prefix: str
) -> None:
    path = write(tmp_path, CF_KEY, CF_LINES, gzipped=True)
    result = ingest(index_prefix, os_client, path, io.StringIO())

    assert (result.outcome, result.format) == ("indexed", "cloudfront")
    assert (result.documents, result.rejected) == (5, 0)
    index = f"{index_prefix}-cloudfront-2026.11.20"
    props = properties(os_client, index)
    for field, kind in {
        "@timestamp": "date",
        "source.ip": "ip",
        "source.port": "integer",
        "http.response.status_code": "integer",
        "url.domain": "keyword",
        "aws.cloudfront.sc_bytes": "long",
        "aws.cloudfront.time_taken": "float",
        "aws.cloudfront.client_closed": "boolean",
        "aws.cloudfront.edge_location": "keyword",
        "tls.version": "keyword",
    }.items():
        assert type_of(props, field) == kind, field

    failed_or_abandoned = {
        "bool": {
            "should": [
                {"range": {"http.response.status_code": {"gte": 500, "lt": 600}}},
                {"term": {"aws.cloudfront.client_closed": True}},
            ],
            "minimum_should_match": 1,
        }
    }
    hits = os_client.search(
        index=index, body={"query": failed_or_abandoned, "sort": ["@timestamp"], "size": 10}
    )
    found = [h["_source"]["source"]["ip"] for h in hits["hits"]["hits"]]
    assert found == ["192.0.2.11", "2001:db8::10", "192.0.2.12"]
    # The abandoned request carries no status code, so it never counts as a 0 in stats.
    stats = os_client.search(
        index=index,
        body={"size": 0, "aggs": {"low": {"min": {"field": "http.response.status_code"}}}},
    )
    assert stats["aggregations"]["low"]["value"] == 200


def test_s3_access_logs_answer_what_was_done_by_operation(
    tmp_path: Path, os_client: Any, index_prefix: str
) -> None:
    path = write(tmp_path, S3_KEY, S3_LINES, gzipped=False)  # S3 writes them uncompressed
    result = ingest(index_prefix, os_client, path, io.StringIO())

    assert (result.outcome, result.format) == ("indexed", "s3access")
    assert (result.documents, result.rejected) == (5, 0)
    index = f"{index_prefix}-s3access-2026.11.20"
    props = properties(os_client, index)
    for field, kind in {
        "@timestamp": "date",
        "source.ip": "ip",
        "http.response.status_code": "integer",
        "aws.s3access.bytes_sent": "long",
        "aws.s3access.object_size": "long",
        "aws.s3access.total_time": "long",
        "aws.s3access.operation": "keyword",
        "aws.s3access.acl_required": "boolean",
        "user_agent.original": "text",
    }.items():
        assert type_of(props, field) == kind, field

    hits = os_client.search(
        index=index,
        body={"size": 0, "aggs": {"ops": {"terms": {"field": "aws.s3access.operation"}}}},
    )
    by_operation = {b["key"]: b["doc_count"] for b in hits["aggregations"]["ops"]["buckets"]}
    assert by_operation == {"REST.GET.OBJECT": 3, "REST.PUT.OBJECT": 1, "BATCH.DELETE.OBJECT": 1}
    misses = count(
        os_client,
        index,
        {"term": {"aws.s3access.operation": "REST.GET.OBJECT"}},
        {"range": {"http.response.status_code": {"gte": 400}}},
    )
    assert misses == 1
