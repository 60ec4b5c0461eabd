"""The searches an analyst runs over the last week, through what `logferry search` runs
(`search.criteria_from`, `search.search`), timed once cold and then in rounds; the table."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from logferry.mail import search

WEEK = "7d"


class RecordingClient:
    """The OpenSearch client, keeping the last search response (for its `took`)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.last: dict[str, Any] = {}

    def search(self, **kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.client.search(**kwargs)
        self.last = response
        return response


@dataclass(frozen=True)
class Query:
    label: str
    flags: str  # as typed after `logferry search`
    criteria: search.Criteria


@dataclass
class Timing:
    query: Query
    cold_ms: float
    cold_took: int
    wall_ms: list[float]
    took_ms: list[int]
    hits: int
    matched: int


def _top(client: Any, pattern: str, since: str, field: str, order: str = "desc") -> str:
    agg = {"terms": {"field": field, "size": 1, "order": {"_count": order}}}
    if order == "asc":
        agg = {"rare_terms": {"field": field, "max_doc_count": 2}}
    response = client.search(
        index=pattern,
        body={
            "size": 0,
            "query": {"range": {"@timestamp": {"gte": since}}},
            "aggs": {"top": agg},
        },
    )
    buckets = sorted(response["aggregations"]["top"]["buckets"], key=lambda b: b["key"])
    return str(buckets[0]["key"])


def analyst_queries(client: Any, prefix: str, end: datetime) -> list[Query]:
    """The searches an analyst runs over the last week, with values the corpus holds."""
    pattern = f"{prefix}-mail-*"
    since = search.parse_when(WEEK, UTC, end)
    busy_sender = _top(client, pattern, since, "email.from.address")
    rare_sender = _top(client, pattern, since, "email.from.address", "asc")
    recipient = _top(client, pattern, since, "email.to.address")
    host = _top(client, pattern, since, "host.name")
    sample = client.search(
        index=pattern,
        body={
            "size": 1,
            "query": {"range": {"@timestamp": {"gte": since}}},
            "sort": [{"email.message_id": "asc"}],
        },
    )["hits"]["hits"][0]["_source"]
    msgid = sample["email"]["message_id"]
    domain = busy_sender.partition("@")[2]

    def query(label: str, flags: str, **typed: Any) -> Query:
        criteria = search.criteria_from(since=WEEK, tz=UTC, now=end, **typed)
        return Query(label, f"{flags} -d {WEEK}", criteria)

    return [
        query("sender (busiest)", f"-f {busy_sender}", sender=busy_sender),
        query("sender (rare)", f"-f {rare_sender}", sender=rare_sender),
        query("recipient (busiest)", f"-t {recipient}", recipient=recipient),
        query("host (busiest)", f"-H {host}", host=host),
        query("message-id", f"-m '<{msgid}>'", message_id=f"<{msgid}>"),
        query("sender wildcard", f"-f '*@{domain}'", sender=f"*@{domain}"),
        query("time range only", "-n 10", limit=10),
    ]


def _run(client: RecordingClient, prefix: str, query: Query) -> tuple[float, int, int]:
    """(wall ms, took ms, hits) of one `logferry search`."""
    started = time.perf_counter()
    hits = search.search(client, prefix, query.criteria)
    wall = (time.perf_counter() - started) * 1000
    return wall, int(client.last.get("took", -1)), len(hits)


def time_queries(client: Any, prefix: str, queries: Sequence[Query], repeat: int) -> list[Timing]:
    """Each query once cold (the indices' caches cleared just before), then `repeat` rounds
    of all of them in turn, so that a burst of other load on the machine hits every query
    alike instead of the one that happened to run then."""
    recording = RecordingClient(client)
    pattern = f"{prefix}-mail-*"
    timings = []
    for query in queries:
        client.indices.clear_cache(index=pattern)
        cold_ms, cold_took, hits = _run(recording, prefix, query)
        matched = client.count(
            index=pattern, body={"query": search.build_query(query.criteria)["query"]}
        )["count"]
        timings.append(Timing(query, cold_ms, cold_took, [], [], hits, int(matched)))
    for _ in range(repeat):
        for timing in timings:
            wall, took, hits = _run(recording, prefix, timing.query)
            timing.wall_ms.append(wall)
            timing.took_ms.append(took)
            timing.hits = hits
    return timings


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def report(timings: list[Timing], repeat: int) -> None:
    print(
        f"\n{'query':<21} {'cold ms':>8} {'median ms':>10} {'p95 ms':>8}"
        f" {'took med':>9} {'hits':>5} {'matched':>10}   logferry search ..."
    )
    for t in timings:
        print(
            f"{t.query.label:<21} {t.cold_ms:>8.1f} {statistics.median(t.wall_ms):>10.1f}"
            f" {p95(t.wall_ms):>8.1f} {statistics.median(t.took_ms):>9.0f} {t.hits:>5}"
            f" {t.matched:>10,}   {t.query.flags}"
        )
    print(
        f"\ncold = first run after clearing the indices' caches; median/p95 over {repeat} rounds;"
        " ms = wall time in the client (request + JSON), took = OpenSearch's own."
    )
