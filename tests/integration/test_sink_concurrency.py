"""Requests in flight against the real local OpenSearch: an object through the pipeline with
several bulk requests out at once is indexed exactly once, sent again it is overwritten under
the same ids, and documents the cluster refuses come back as FailedDocuments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from logferry.config import Settings
from logferry.ingest.deadletter import StreamDeadLetters
from logferry.ingest.objects import LocalFiles
from logferry.ingest.pipeline import Pipeline
from logferry.model import ObjectRef
from logferry.output.sink import BulkSink, BulkTransport
from tests.conftest import HISTORY_DAYS
from tests.support import NLB_KEY, census, gz, marked_nlb_line

pytestmark = pytest.mark.integration

LINES = 3000


def test_object_with_requests_in_flight_is_indexed_once_and_again_under_the_same_ids(
    tmp_path: Path, os_client: Any, index_prefix: str
) -> None:
    path = tmp_path / NLB_KEY
    path.parent.mkdir(parents=True)
    path.write_bytes(gz("\n".join(marked_nlb_line("c", n) for n in range(LINES)) + "\n"))
    sink = BulkSink(BulkTransport(os_client), max_docs=100, concurrency=3)
    pipeline = Pipeline(
        Settings(index_prefix=index_prefix, accept_days_back=HISTORY_DAYS),
        LocalFiles(),
        sink,
        StreamDeadLetters(),
    )

    first = pipeline.ingest(ObjectRef("", str(path)))
    again = pipeline.ingest(ObjectRef("", str(path)))  # a redelivery

    found = census(os_client, index_prefix)
    assert (first.documents, again.documents) == (LINES, LINES)
    assert sink.stats.indexed == 2 * LINES and sink.stats.requests == 2 * LINES // 100
    assert sink.in_flight == 0 and sink.failures == []
    assert found.total == LINES and found.duplicates == 0
    assert found.missing({f"c-{n}.example.com" for n in range(LINES)}) == set()


def test_documents_refused_by_the_mapping_are_handed_back_with_requests_in_flight(
    os_client: Any, index_prefix: str
) -> None:
    index = f"{index_prefix}-nlb-2026.11.20"
    sink = BulkSink(BulkTransport(os_client), max_docs=25, concurrency=3)
    refused = set()
    for n in range(600):
        ip = "not an address" if n % 7 == 0 else f"198.51.100.{n % 250 + 1}"
        if n % 7 == 0:
            refused.add(f"d{n}")
        body = {"@timestamp": "2026-11-20T12:00:00Z", "source": {"ip": ip}, "n": n}
        sink.add(index, f"d{n}", orjson.dumps(body))
    sink.flush()

    os_client.indices.refresh(index=index)
    assert {f.doc_id for f in sink.failures} == refused
    assert {(f.index, f.status) for f in sink.failures} == {(index, 400)}
    assert all("mapper_parsing_exception" in f.reason for f in sink.failures)
    assert sink.stats.indexed == 600 - len(refused) and sink.stats.failed == len(refused)
    assert int(os_client.count(index=index)["count"]) == 600 - len(refused)
