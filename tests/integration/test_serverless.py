"""OpenSearch Serverless targets, as far as the local cluster can stand in: a time-series
collection refuses custom ids, so the bulk path sends none, and a redelivered object is counted
as possible duplicates (the one window the design leaves open); a search collection keeps ids.
The signing and the detection from an `.aoss.` endpoint are checked without a network."""

from __future__ import annotations

from typing import Any

import pytest

from logferry.config import ClusterAccess, Settings
from logferry.output.client import signing_service
from tests.support import (
    NLB_KEY,
    FakeLambdaContext,
    Setup,
    emf_sums,
    gz,
    nlb_line,
    s3_notification,
    sqs_record,
)

pytestmark = pytest.mark.integration

AOSS = "https://abc123.eu-west-1.aoss.amazonaws.com"


def test_an_aoss_endpoint_is_a_serverless_time_series_target_signed_for_aoss() -> None:
    settings = Settings.from_env({"OPENSEARCH_URL": AOSS})
    assert (settings.target, settings.aoss_collection_type, settings.sends_ids) == (
        "aoss",
        "timeseries",
        False,
    )
    assert signing_service("abc123.eu-west-1.aoss.amazonaws.com", settings.cluster) == "aoss"
    assert signing_service("search-d.eu-west-1.es.amazonaws.com", ClusterAccess()) == "es"
    behind_a_name = ClusterAccess.from_env({"LOGFERRY_TARGET": "aoss"})
    assert signing_service("logs.example.com", behind_a_name) == "aoss"
    # The cluster's access reads the target as the settings do: one reading, one default.
    assert settings.cluster.serverless and not Settings.from_env({}).cluster.serverless
    search = Settings.from_env({"OPENSEARCH_URL": AOSS, "LOGFERRY_AOSS_COLLECTION_TYPE": "search"})
    assert search.sends_ids
    assert Settings.from_env({}).sends_ids
    for name, value in (("LOGFERRY_TARGET", "elastic"), ("LOGFERRY_AOSS_COLLECTION_TYPE", "x")):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: value})


def deliver(setup: Setup, receive_count: str, **env: str) -> Any:
    app = setup.container(**env)
    record = sqs_record(s3_notification(setup.wiring.bucket, NLB_KEY))
    record["attributes"]["ApproximateReceiveCount"] = receive_count
    assert app.lambda_handler({"Records": [record]}, FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    [result] = app.service.results
    return result


def count(client: Any, prefix: str) -> tuple[int, set[str]]:
    client.indices.refresh(index=f"{prefix}-*")
    hits = client.search(index=f"{prefix}-*", body={"size": 100, "_source": False})["hits"]
    return hits["total"]["value"], {hit["_id"] for hit in hits["hits"]}


def test_without_ids_a_redelivery_is_counted_as_possible_duplicates(
    setup: Setup, os_client: Any, index_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.wiring.put(NLB_KEY, gz("\n".join(nlb_line(n) for n in range(20)) + "\n"))
    setup.wiring.receive()  # the notification moto sent; delivered by hand below
    first = deliver(setup, "1", LOGFERRY_TARGET="aoss")
    assert first.documents == 20
    assert "possible_duplicates" not in first.extra
    total, ids = count(os_client, index_prefix)
    assert total == 20
    assert not any(doc_id.startswith(first.ref.identity) for doc_id in ids)  # OpenSearch's own
    again = deliver(setup, "2", LOGFERRY_TARGET="aoss")
    assert again.extra["possible_duplicates"] == 20
    assert emf_sums(capsys.readouterr().out)["DocumentsPossiblyDuplicated"] == 20
    assert count(os_client, index_prefix)[0] == 40  # the window the time-series design leaves
    # One index per source: the collection's lifecycle policy keeps it, not its name.
    assert index_names(os_client, index_prefix) == {f"{index_prefix}-nlb"}


def test_the_layout_cuts_the_indices_the_pipeline_writes(
    setup: Setup, os_client: Any, index_prefix: str
) -> None:
    setup.wiring.put(NLB_KEY, gz("\n".join(nlb_line(n) for n in range(5)) + "\n"))
    setup.wiring.receive()
    deliver(setup, "1", LOGFERRY_INDEX_LAYOUT="nlb=month:1")
    assert index_names(os_client, index_prefix) == {f"{index_prefix}-nlb-2026.11"}


def test_a_search_collection_keeps_the_ids_and_a_redelivery_overwrites(
    setup: Setup, os_client: Any, index_prefix: str
) -> None:
    setup.wiring.put(NLB_KEY, gz("\n".join(nlb_line(n) for n in range(20)) + "\n"))
    setup.wiring.receive()
    env = {"LOGFERRY_TARGET": "aoss", "LOGFERRY_AOSS_COLLECTION_TYPE": "search"}
    deliver(setup, "1", **env)
    again = deliver(setup, "2", **env)
    assert "possible_duplicates" not in again.extra
    total, ids = count(os_client, index_prefix)
    assert total == 20
    assert all(doc_id.startswith(again.ref.identity) for doc_id in ids)


def index_names(os_client: Any, index_prefix: str) -> set[str]:
    return {row["index"] for row in os_client.cat.indices(index=f"{index_prefix}-*", format="json")}
