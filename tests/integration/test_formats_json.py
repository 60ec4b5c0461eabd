"""CloudTrail and WAF objects through the real pipeline into the real local OpenSearch: typed
fields, flat_object taking polymorphic shapes, and the analysts' questions answered."""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
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
