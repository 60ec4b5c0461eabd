"""The monitors as the tests run them, which the package itself never needs: their trigger
conditions evaluated against a plain `_search` response (what lets the tests check a monitor
where the Alerting plugin is not installed), their search input as Alerting runs it at a given
time, and a test prefix's monitors removed.

Conditions are read by the package's `parse_condition`, which also refuses, when monitors are
rendered, every form evaluated here cannot handle.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from logferry.provisioning.monitors import (
    Comparison,
    MonitorError,
    Operand,
    condition_source,
    parse_condition,
    trigger_body,
)

# -- conditions -------------------------------------------------------------------------

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
}


def evaluate(comparisons: Iterable[Comparison], resolve: Callable[[str], float]) -> bool:
    def value(operand: Operand) -> float:
        factor, ref = operand
        return factor if ref is None else factor * resolve(ref)

    return all(_OPS[c.op](value(c.left), value(c.right)) for c in comparisons)


def query_level_fires(trigger: dict[str, Any], response: dict[str, Any]) -> bool:
    """Whether a query-level trigger fires on `response` (what `ctx.results[0]` holds)."""

    def resolve(ref: str) -> float:
        if not ref.startswith("ctx.results[0]."):
            raise MonitorError(f"query-level condition refers to {ref!r}")
        node: Any = response
        for part in ref[len("ctx.results[0].") :].split("."):
            node = node[part]
        return float(node)

    return evaluate(parse_condition(condition_source(trigger)), resolve)


def bucket_level_fires(trigger: dict[str, Any], response: dict[str, Any]) -> list[str]:
    """The bucket keys (comma-joined, as Alerting's `bucket_keys`) a bucket-level trigger fires
    for on `response`."""
    condition = trigger_body(trigger)["condition"]
    comparisons = parse_condition(condition["script"]["source"])
    node: Any = response["aggregations"]
    for part in condition["parent_bucket_path"].split(">"):
        node = node[part]
    fired = []
    for bucket in node["buckets"]:

        def resolve(ref: str, bucket: dict[str, Any] = bucket) -> float:
            name = ref.removeprefix("params.")
            return _bucket_value(bucket, condition["buckets_path"][name])

        if evaluate(comparisons, resolve):
            key = bucket["key"]
            values = key.values() if isinstance(key, dict) else [key]
            fired.append(",".join(str(value) for value in values))
    return fired


def _bucket_value(bucket: dict[str, Any], path: str) -> float:
    if path == "_count":
        return float(bucket["doc_count"])
    agg, sep, metric = path.partition(">")
    if sep and metric == "_count":
        return float(bucket[agg]["doc_count"])
    if not sep:
        name, _, field = agg.partition(".")
        if field in ("", "value"):
            return float(bucket[name]["value"])
    raise MonitorError(f"unsupported buckets_path {path!r}")


def search_request(monitor: dict[str, Any], period_end: datetime) -> tuple[list[str], Any]:
    """The monitor's search input as it runs at `period_end`: (indices, body)."""
    search = monitor["inputs"][0]["search"]
    interval = monitor["schedule"]["period"]
    unit = {"MINUTES": "minutes", "HOURS": "hours", "DAYS": "days"}[interval["unit"]]
    period_start = period_end - timedelta(**{unit: interval["interval"]})
    stamps = {
        "{{period_end}}": str(int(period_end.timestamp() * 1000)),
        "{{period_start}}": str(int(period_start.timestamp() * 1000)),
    }
    text = json.dumps(search["query"])
    for placeholder, value in stamps.items():
        text = text.replace(placeholder, value)
    return list(search["indices"]), json.loads(text)


# -- cleanup ----------------------------------------------------------------------------


def remove(client: Any, prefix: str) -> int:
    """Delete every monitor of `prefix` (names start with "<prefix>: "); how many went."""
    body = {"size": 1000, "query": {"prefix": {"monitor.name.keyword": f"{prefix}: "}}}
    try:
        result = client.transport.perform_request(
            "POST", "/_plugins/_alerting/monitors/_search", body=body
        )
    except Exception as exc:
        # no monitors yet (no config index), or no Alerting plugin
        if getattr(exc, "status_code", None) == 404 or "no handler found" in str(exc):
            return 0
        raise
    hits = result.get("hits", {}).get("hits", [])
    for hit in hits:
        client.transport.perform_request("DELETE", f"/_plugins/_alerting/monitors/{hit['_id']}")
    return len(hits)
