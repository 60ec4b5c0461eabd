"""An NLB object flows from a moto S3 notification through the real handler into the real
local OpenSearch: typed, idempotent, dead letters kept, partial batch failures exact."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import boto3
import pytest

from logferry.provisioning import ISM_PLUGIN, installed_plugins
from tests.support import (
    NLB_KEY,
    FakeLambdaContext,
    Wiring,
    gz,
    load_ingest_handler,
    nlb_line,
    sqs_record,
)

pytestmark = pytest.mark.integration


def count(client: Any, prefix: str) -> int:
    client.indices.refresh(index=f"{prefix}-*")
    return int(client.count(index=f"{prefix}-*")["count"])


@pytest.fixture
def wired(aws_env: None, index_prefix: str, opensearch_url: str) -> tuple[Wiring, Any]:
    wiring = Wiring.create()
    boto3.client("s3").create_bucket(Bucket="logferry-deadletter")
    app = load_ingest_handler(
        {
            "OPENSEARCH_URL": opensearch_url,
            "LOGFERRY_INDEX_PREFIX": index_prefix,
            "LOGFERRY_DEADLETTER_BUCKET": "logferry-deadletter",
        }
    )
    return wiring, app


def test_nlb_object_is_searchable_with_typed_fields(
    wired: tuple[Wiring, Any], os_client: Any, index_prefix: str
) -> None:
    wiring, app = wired
    wiring.put(NLB_KEY, gz("\n".join(nlb_line(n) for n in range(500)) + "\n"))
    records = wiring.receive()
    assert len(records) == 1  # the notification moto delivered

    response = app.lambda_handler({"Records": records}, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert count(os_client, index_prefix) == 500
    mapping = os_client.indices.get_mapping(index=f"{index_prefix}-nlb-2026.11.20")
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert props["source"]["properties"]["ip"]["type"] == "ip"
    assert props["@timestamp"]["type"] == "date"
    hits = os_client.search(
        index=f"{index_prefix}-nlb-*",
        body={"query": {"term": {"source.ip": "198.51.100.0/24"}}, "size": 0},
    )
    assert hits["hits"]["total"]["value"] == 500


def test_same_message_delivered_three_times_leaves_the_count_unchanged(
    wired: tuple[Wiring, Any], os_client: Any, index_prefix: str
) -> None:
    wiring, app = wired
    wiring.put(NLB_KEY, gz("\n".join(nlb_line(n) for n in range(300))))
    [record] = wiring.receive()
    for _ in range(3):
        assert app.lambda_handler({"Records": [record]}, FakeLambdaContext()) == {
            "batchItemFailures": []
        }
    assert count(os_client, index_prefix) == 300


def test_url_encoded_key_with_spaces_and_non_ascii_is_read(
    wired: tuple[Wiring, Any], os_client: Any, index_prefix: str
) -> None:
    wiring, app = wired
    key = NLB_KEY.replace("a1b2c3d4", "with space é")
    wiring.put(key, gz(nlb_line(1)))
    records = wiring.receive()
    assert "with+space+%C3%A9" in records[0]["body"]  # moto encodes keys as S3 does
    assert app.lambda_handler({"Records": records}, FakeLambdaContext())["batchItemFailures"] == []
    assert count(os_client, index_prefix) == 1


def test_test_event_message_is_acknowledged_and_skipped(
    wired: tuple[Wiring, Any], os_client: Any, index_prefix: str
) -> None:
    wiring, app = wired
    assert wiring.test_event is not None
    assert json.loads(wiring.test_event["body"])["Event"] == "s3:TestEvent"
    response = app.lambda_handler({"Records": [wiring.test_event]}, FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert count(os_client, index_prefix) == 0


def test_partial_batch_response_names_exactly_the_failed_message(
    wired: tuple[Wiring, Any], os_client: Any, index_prefix: str
) -> None:
    wiring, app = wired
    wiring.put(NLB_KEY, gz(nlb_line(7)))
    [good] = wiring.receive()
    bad = sqs_record("this is not a notification", message_id="m-bad")
    response = app.lambda_handler({"Records": [good, bad]}, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert count(os_client, index_prefix) == 1


def test_document_opensearch_rejects_is_dead_lettered_with_its_reason(
    wired: tuple[Wiring, Any], os_client: Any, index_prefix: str
) -> None:
    wiring, app = wired
    # 999.1.1.1 passes the parser's cheap shape check but not OpenSearch's ip type.
    lines = [nlb_line(1), nlb_line(2, client="999.1.1.1"), "not an nlb line", nlb_line(3)]
    wiring.put(NLB_KEY, gz("\n".join(lines)))
    response = app.lambda_handler({"Records": wiring.receive()}, FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert count(os_client, index_prefix) == 2

    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket="logferry-deadletter")["Contents"]
    records = [
        json.loads(line)
        for item in listed
        for line in s3.get_object(Bucket="logferry-deadletter", Key=item["Key"])["Body"]
        .read()
        .splitlines()
    ]
    by_kind = {r["kind"]: r for r in records}
    assert len(records) == 2
    assert by_kind["document"]["status"] == 400
    assert "999.1.1.1" in by_kind["document"]["reason"]
    assert by_kind["document"]["document"]["source"]["ip"] == "999.1.1.1"
    assert by_kind["line"]["line"] == 3
    assert by_kind["line"]["raw"] == "not an nlb line"
    assert by_kind["line"]["key"] == NLB_KEY


def test_deleted_object_and_corrupt_gzip_do_not_fail_the_batch(
    wired: tuple[Wiring, Any], os_client: Any, index_prefix: str
) -> None:
    wiring, app = wired
    wiring.put(NLB_KEY, gz(nlb_line(1)))
    wiring.put(NLB_KEY.replace("a1b2", "dead"), b"\x1f\x8b\x08\x00garbage-not-deflate")
    wiring.put(NLB_KEY.replace("a1b2", "gone"), gz(nlb_line(2)))
    records = wiring.receive()
    wiring.s3.delete_object(Bucket=wiring.bucket, Key=NLB_KEY.replace("a1b2", "gone"))
    response = app.lambda_handler({"Records": records}, FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert count(os_client, index_prefix) == 1
    outcomes = sorted(r.outcome for r in app.service.results)
    assert outcomes == ["damaged", "indexed", "missing"]


def test_ism_policy_is_attached_to_the_new_index(
    wired: tuple[Wiring, Any], os_client: Any, index_prefix: str
) -> None:
    if ISM_PLUGIN not in installed_plugins(os_client):
        pytest.skip("the index-management (ISM) plugin is not installed on this cluster")
    wiring, app = wired
    wiring.put(NLB_KEY, gz(nlb_line(1)))
    app.lambda_handler({"Records": wiring.receive()}, FakeLambdaContext())
    index = f"{index_prefix}-nlb-2026.11.20"
    explain = os_client.transport.perform_request("GET", f"/_plugins/_ism/explain/{index}")
    assert explain[index]["index.plugins.index_state_management.policy_id"] == (
        f"{index_prefix}-retention"
    )


@pytest.mark.parametrize("service", ["logferry", "mail-edge"])
def test_every_object_logs_one_json_line_with_its_message_and_counts(
    aws_env: None, index_prefix: str, opensearch_url: str, service: str
) -> None:
    wiring = Wiring.create()
    app = load_ingest_handler(
        {
            "OPENSEARCH_URL": opensearch_url,
            "LOGFERRY_INDEX_PREFIX": index_prefix,
            "POWERTOOLS_SERVICE_NAME": service,
        }
    )
    # What the handler's JSON log handler writes (in Lambda: stdout, to CloudWatch Logs).
    out = io.StringIO()
    for handler in logging.getLogger(service).handlers:
        assert isinstance(handler, logging.StreamHandler)
        # (not setStream: it would flush the stream it replaces)
        handler.stream = out
    wiring.put(NLB_KEY, gz("\n".join(nlb_line(n) for n in range(20)) + "\nnot nlb\n"))
    [record] = wiring.receive()

    app.lambda_handler({"Records": [record]}, FakeLambdaContext())

    lines = [json.loads(line) for line in out.getvalue().splitlines() if line]
    done = [line for line in lines if line.get("message") == "object done"]
    assert len(done) == 1, lines  # whatever the service is called
    assert done[0]["service"] == service
    assert done[0]["message_id"] == record["messageId"]
    result = done[0]["result"]
    assert result["object"].endswith(f"/{NLB_KEY}") and result["outcome"] == "indexed"
    assert (result["documents"], result["rejected"]) == (20, 1)
