"""CloudWatch Logs subscription data through the real handler into the real OpenSearch: one
Firehose object carrying VPC flow, Lambda and an unknown log group; each record lands where
its S3 twin would, and a redelivery changes no count."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from tests.support import FakeLambdaContext, Setup
from tests.unit.test_format_cloudwatch_logs import OWNER, REPORT, VPC_RECORD, envelope

pytestmark = pytest.mark.integration

KEY = "firehose/2026/11/26/12/logs-stream-1-2026-11-26-12-00-00-0a1b2c3d"


def counts(client: Any, prefix: str) -> dict[str, int]:
    client.indices.refresh(index=f"{prefix}-*")
    rows = client.cat.indices(index=f"{prefix}-*", format="json")
    return {row["index"]: int(row["docs.count"]) for row in rows}


def test_each_log_group_lands_in_its_own_format_s_indices_once(
    setup: Setup, os_client: Any, index_prefix: str
) -> None:
    body = b"".join(
        gzip.compress(e)
        for e in (
            envelope("/aws/vpc/flowlogs", *[VPC_RECORD] * 5),
            envelope("/aws/lambda/checkout", REPORT, REPORT),
            envelope("apps/orders", "order 42 shipped"),
        )
    )
    for _ in range(2):  # delivered twice: the same documents
        setup.wiring.put(KEY, body)
        app = setup.container()
        app.lambda_handler({"Records": setup.wiring.receive()}, FakeLambdaContext())
        [result] = app.service.results
        assert (result.format, result.documents, result.rejected) == ("cloudwatch", 7, 1)
    assert counts(os_client, index_prefix) == {
        f"{index_prefix}-vpcflow-2026.11.26": 5,
        f"{index_prefix}-lambda-2026.11.26": 2,
    }
    found = os_client.search(index=f"{index_prefix}-lambda-*", body={"size": 1})
    doc = found["hits"]["hits"][0]["_source"]
    assert doc["cloud"]["account"]["id"] == OWNER
    assert doc["event"]["duration"] == 12_340_000
    [rejected] = setup.deadletters("line")
    assert "apps/orders" in rejected["reason"]
