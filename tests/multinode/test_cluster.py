"""The pipeline against a real three-node cluster: a data node killed in the middle of an ingest
(nothing lost, nothing duplicated), primaries spread over the nodes, and the index layout's
templates applied by `logferry setup` and taken by the indices the handler creates.

Every line is counted as the fault tests count it (tests/integration/test_faults.py): each
carries a marker in its SNI field, and the census counts documents per marker. Each scenario
prints its figures (run with -s).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any
from unittest import mock

import pytest

from tests.integration.test_faults import figures
from tests.multinode.conftest import Cluster
from tests.support import (
    FakeLambdaContext,
    Setup,
    census,
    gz,
    key_of,
    marked_nlb_line,
)

pytestmark = pytest.mark.multinode


def invoke(app: Any) -> Callable[[Any], Any]:
    return lambda event: app.lambda_handler(event, FakeLambdaContext())


def apply_setup(cluster: Cluster, prefix: str, **env: str) -> list[str]:
    """`logferry setup` against the cluster, with `env` as its environment adds."""
    from logferry import cli

    out = io.StringIO()
    environment = {"OPENSEARCH_URL": cluster.url, "LOGFERRY_INDEX_PREFIX": prefix, **env}
    with mock.patch.dict(os.environ, environment), contextlib.redirect_stdout(out):
        assert cli.main(["setup"]) == cli.EXIT_OK
    return out.getvalue().splitlines()


def shards(client: Any, index: str) -> list[dict[str, Any]]:
    """Every copy of every shard of `index`: shard, prirep (p/r), state, docs, node."""
    client.indices.refresh(index=index)
    rows: list[dict[str, Any]] = client.cat.shards(
        index=index, format="json", h="index,shard,prirep,state,docs,node"
    )
    return rows


def put_marked(
    setup: Setup, tag: str, objects: int, lines: int, days: tuple[str, ...] = ("2026-11-20",)
) -> set[str]:
    """`objects` NLB objects of `lines` marked lines each (object n's lines `<tag>n-<line>`,
    all of the day `days[n % len(days)]`)."""
    expected: set[str] = set()
    for n in range(objects):
        day = days[n % len(days)]
        marks = [marked_nlb_line(f"{tag}{n}", i).replace("2026-11-20", day) for i in range(lines)]
        setup.wiring.put(key_of(n), gz("\n".join(marks) + "\n"))
        expected |= {f"{tag}{n}-{i}.example.com" for i in range(lines)}
    return expected


# -- a data node killed mid-ingest -------------------------------------------------------------

KILL_AT_REQUEST = 6  # of 36: 6 objects of 3,000 lines, 500 documents a request


@pytest.mark.parametrize(
    "victim",
    [
        # the cluster carries it: the node the handler sends to forwards to the promoted replicas
        "another node",
        # the handler carries it: its requests find no one, it retries, returns the messages to
        # the queue, and the queue delivers them again once the node is back
        "the node the handler sends to",
    ],
)
def test_a_data_node_killed_mid_ingest_loses_and_duplicates_nothing(
    aws_env: None,
    cluster: Cluster,
    cluster_prefix: str,
    capsys: pytest.CaptureFixture[str],
    victim: str,
) -> None:
    client = cluster.client()
    # three primaries, one replica each: every node holds a primary of the index written
    apply_setup(cluster, cluster_prefix, LOGFERRY_INDEX_LAYOUT="nlb=day:3", LOGFERRY_REPLICAS="1")
    setup = Setup(cluster.url, cluster_prefix, LOGFERRY_BULK_MAX_DOCS="500")
    expected = put_marked(setup, "k", objects=6, lines=3000)
    app = setup.container()
    real_bulk = app.service.sink.transport.bulk
    calls = itertools.count(1)
    killed: dict[str, Any] = {}

    def victim_node() -> str:
        # Once every copy is active (a replica still recovering from the primary killed could
        # not take its place: "one replica" means one in sync): a node holding a primary being
        # written, other than the one the handler sends to, or that one.
        cluster.wait_green()
        rows = shards(client, f"{cluster_prefix}-nlb-*")
        entry = f"{cluster.name_prefix}1"
        holders = sorted({row["node"] for row in rows if row["prirep"] == "p"} - {entry})
        return holders[0] if victim == "another node" else entry

    def kill(node: str) -> None:
        time.sleep(0.02)  # the request that goes out beside it is on its way
        killed["pid"] = cluster.kill(cluster.number_of(node))

    def bulk_then_kill(body: bytes, timeout: float | None = None) -> dict[str, Any]:
        call = next(calls)
        if call == KILL_AT_REQUEST:  # the node dies while this request goes out
            killed["node"] = victim_node()
            killed["thread"] = threading.Thread(target=kill, args=(killed["node"],))
            killed["thread"].start()
        elif call == KILL_AT_REQUEST + 1:  # and is gone before the next one
            killed["thread"].join()
        result: dict[str, Any] = real_bulk(body, timeout)
        return result

    app.service.sink.transport.bulk = bulk_then_kill
    first = setup.driver.deliver(setup.driver.receive(), invoke(app))
    killed["thread"].join()
    if victim == "another node":
        during = census(client, cluster_prefix)
        nodes_during = client.cluster.health()["number_of_nodes"]
    else:  # asked of another node
        survivor = cluster.client(cluster.node_urls[1])
        during = census(survivor, cluster_prefix)
        nodes_during = survivor.cluster.health()["number_of_nodes"]

    started = time.monotonic()
    cluster.start()  # the killed node, started again
    rejoined_s = time.monotonic() - started
    invocations = setup.driver.drain(invoke(app))
    health = cluster.wait_green()

    stats = app.service.sink.stats  # the container's sink, over both deliveries
    found = census(client, cluster_prefix)
    copies = shards(client, f"{cluster_prefix}-nlb-*")
    docs_per_copy = Counter((row["shard"], row["prirep"], int(row["docs"])) for row in copies)
    figures(
        capsys,
        found.report(
            f"data node killed mid-ingest: {victim}",
            expected,
            killed=killed["node"],
            nodes_while_down=nodes_during,
            indexed_in_first_delivery=during.total,
            messages_returned=first.failed,
            redelivery_invocations=invocations,
            requests_failed_whole=stats.request_failures,
            documents_retried=stats.retried_items,
            rejoined_seconds=round(rejoined_s),
        ),
    )
    assert nodes_during == 2  # the node was gone while the ingest went on
    if victim != "another node":
        # the handler retried, then returned the messages; the queue delivered them again
        assert stats.request_failures > 0 and first.failed > 0 and invocations > 0
    assert found.total == len(expected) == 18000
    assert found.duplicates == 0
    assert found.missing(expected) == set()
    assert setup.deadletters("document") == []
    assert health["number_of_nodes"] == 3 and health["status"] == "green"
    # the copies agree: each shard's replica holds what its primary holds
    per_shard: dict[str, set[int]] = {}
    for shard, _, docs in docs_per_copy:
        per_shard.setdefault(shard, set()).add(docs)
    assert len(per_shard) == 3 and all(len(counts) == 1 for counts in per_shard.values())
    assert sum(next(iter(counts)) for counts in per_shard.values()) == 18000


# -- primaries spread over the nodes -------------------------------------------------------


def test_an_index_of_six_primaries_spreads_over_the_three_nodes(
    aws_env: None, cluster: Cluster, cluster_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = cluster.client()
    apply_setup(cluster, cluster_prefix, LOGFERRY_INDEX_LAYOUT="nlb=day:6", LOGFERRY_REPLICAS="1")
    setup = Setup(cluster.url, cluster_prefix)
    expected = put_marked(setup, "s", objects=1, lines=3000)
    setup.driver.drain(invoke(setup.container()))
    cluster.wait_green()

    copies = shards(client, f"{cluster_prefix}-nlb-*")
    primaries = Counter(row["node"] for row in copies if row["prirep"] == "p")
    per_node = Counter(row["node"] for row in copies)
    docs = {int(row["shard"]): int(row["docs"]) for row in copies if row["prirep"] == "p"}
    figures(
        capsys,
        f"[6 primaries, 1 replica, 3 nodes] primaries per node {dict(sorted(primaries.items()))}"
        f" copies per node {dict(sorted(per_node.items()))}"
        f" documents per primary {[docs[n] for n in sorted(docs)]}",
    )
    assert len({row["index"] for row in copies}) == 1 and len(docs) == 6
    assert set(primaries) == {f"{cluster.name_prefix}{n}" for n in (1, 2, 3)}
    assert sorted(per_node.values()) == [4, 4, 4]
    # each primary takes its share of the documents (routed by the hash of their _id)
    assert sum(docs.values()) == len(expected) == 3000
    assert min(docs.values()) > 3000 / 6 / 2


# -- the layout's templates, applied and used -------------------------------------------------


def test_setup_writes_the_layout_s_templates_and_new_indices_take_them(
    cluster: Cluster, cluster_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from logferry.config import Settings
    from logferry.output.indices import IndexRouter, Window

    client = cluster.client()
    env = {
        "LOGFERRY_INDEX_LAYOUT": "alb=week:3,nlb=month:2,vpcflow=day:4",
        "LOGFERRY_REPLICAS": "2",
    }
    lines = apply_setup(cluster, cluster_prefix, **env)
    settings = Settings.from_env({"LOGFERRY_INDEX_PREFIX": cluster_prefix, **env})

    def index_one(source: str, timestamp: str) -> tuple[str, int, int]:
        """A document of `source` indexed where the router sends it: (index, primaries,
        replicas) of the index OpenSearch created for it."""
        router = IndexRouter(
            cluster_prefix,
            source,
            Window(date(2026, 12, 3), 100_000, 100_000),
            200,
            layout=settings.index_layout,
        )
        index, why = router.route(timestamp)
        assert index is not None, why
        client.index(index=index, id="1", body={"@timestamp": timestamp}, refresh=True)
        found = client.indices.get_settings(index=index)[index]["settings"]["index"]
        return index, int(found["number_of_shards"]), int(found["number_of_replicas"])

    at = "2026-12-02T10:00:00Z"
    made = {
        source: index_one(source, at)
        for source in ("alb", "alb-connection", "nlb", "vpcflow", "waf")
    }
    p = cluster_prefix
    assert made == {
        "alb": (f"{p}-alb-2026.w49", 3, 2),
        "alb-connection": (f"{p}-alb-connection-2026.12.02", 1, 2),  # logs-alb-* is not its
        "nlb": (f"{p}-nlb-2026.12", 2, 2),
        "vpcflow": (f"{p}-vpcflow-2026.12.02", 4, 2),
        "waf": (f"{p}-waf-2026.12.02", 1, 2),  # not in the layout: the catch-all
    }
    assert cluster.wait_green()["status"] == "green"  # two replicas fit on three nodes
    written = f"index template {p}-logferry-alb for {p}-alb-*: 3 primaries with 2 replicas each"
    assert f"{written}, an index by the week" in lines

    # A new layout: existing indices keep theirs, new periods take it; nlb's template is gone.
    env = {"LOGFERRY_INDEX_LAYOUT": "alb=week:5"}
    lines = apply_setup(cluster, cluster_prefix, **env)
    settings = Settings.from_env({"LOGFERRY_INDEX_PREFIX": cluster_prefix, **env})
    assert (
        f"index template {p}-logferry-nlb deleted: its source is no longer in the layout" in lines
    )
    assert index_one("alb", at) == (f"{p}-alb-2026.w49", 3, 2)
    assert index_one("alb", "2026-12-09T10:00:00Z") == (f"{p}-alb-2026.w50", 5, 1)
    assert index_one("nlb", "2026-12-02T11:00:00Z") == (f"{p}-nlb-2026.12.02", 1, 1)
    figures(capsys, f"[layout templates] {sorted(made.values())}")


def test_the_handler_writes_the_indices_the_layout_names(
    aws_env: None, cluster: Cluster, cluster_prefix: str
) -> None:
    client = cluster.client()
    env = {"LOGFERRY_INDEX_LAYOUT": "nlb=week:2", "LOGFERRY_REPLICAS": "1"}
    apply_setup(cluster, cluster_prefix, **env)
    setup = Setup(cluster.url, cluster_prefix, **env)
    # Sunday of ISO week 48, Monday and Tuesday of week 49
    expected = put_marked(
        setup, "w", objects=3, lines=400, days=("2026-11-29", "2026-11-30", "2026-12-01")
    )
    setup.driver.drain(invoke(setup.container()))
    found = census(client, cluster_prefix)
    rows = client.cat.indices(
        index=f"{cluster_prefix}-*", format="json", h="index,pri,rep,docs.count"
    )
    indices = {
        row["index"]: (int(row["pri"]), int(row["rep"]), int(row["docs.count"])) for row in rows
    }
    assert indices == {
        f"{cluster_prefix}-nlb-2026.w48": (2, 1, 400),
        f"{cluster_prefix}-nlb-2026.w49": (2, 1, 800),
    }
    assert found.total == len(expected) == 1200
    assert found.duplicates == 0
