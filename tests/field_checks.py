"""The fields the Dashboards saved objects and the Alerting monitors name, and how they use them,
checked against the index mapping: a renamed field or a changed type cannot silently empty a
dashboard or keep a monitor from ever firing. Only the tests need this; the package ships the
objects and the monitors, not their checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from logferry.provisioning.monitors import MonitorError

# -- uses, the mapping, saved objects ----------------------------------------------------

NUMERIC = frozenset(
    ("long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float")
)
AGGREGATABLE = NUMERIC | {"keyword", "ip", "date", "boolean"}
# How an object uses a field -> the mapping types that support that use.
USAGE_TYPES: dict[str, frozenset[str] | None] = {
    "terms": AGGREGATABLE,  # terms / composite aggregations, term(s) queries
    "sort": AGGREGATABLE,
    "date_histogram": frozenset(("date",)),
    "histogram": NUMERIC,
    "metric": NUMERIC | {"date"},  # sum, avg, min, max
    "range": NUMERIC | {"date", "ip"},
    "query": AGGREGATABLE | {"text"},  # a field:value clause of a query string
    "column": None,  # shown in Discover: any mapped field
    "geo": frozenset(("geo_point",)),  # a map's geohash grid
}
VIS_AGG_USAGE = {
    "terms": "terms",
    "significant_terms": "terms",
    "date_histogram": "date_histogram",
    "histogram": "histogram",
    "sum": "metric",
    "avg": "metric",
    "min": "metric",
    "max": "metric",
    "cardinality": "terms",
    "geohash_grid": "geo",
}


@dataclass(frozen=True)
class FieldUse:
    where: str  # object id (or monitor name)
    field: str
    usage: str  # a key of USAGE_TYPES


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_FIELD_CLAUSE = re.compile(r"(?:^|[\s(])[+-]?([A-Za-z@_][\w.@]*):")


def query_string_fields(query: str) -> list[str]:
    """Field names a Lucene query string names (`field:value` clauses)."""
    return _FIELD_CLAUSE.findall(_QUOTED.sub('""', query))


def search_source(obj: dict[str, Any]) -> dict[str, Any]:
    """The parsed searchSourceJSON of a saved object (query, filters, index reference)."""
    meta = obj["attributes"].get("kibanaSavedObjectMeta", {})
    source: dict[str, Any] = json.loads(meta.get("searchSourceJSON") or "{}")
    return source


def field_uses(objects: Iterable[dict[str, Any]]) -> list[FieldUse]:
    """Every field a saved object names, with how it uses it."""
    uses = []
    for obj in objects:
        where = obj["id"]
        attributes = obj["attributes"]
        if obj["type"] in ("search", "visualization", "dashboard"):
            query = search_source(obj).get("query", {}).get("query", "")
            if isinstance(query, str):
                uses += [FieldUse(where, f, "query") for f in query_string_fields(query)]
        if obj["type"] == "search":
            uses += [FieldUse(where, f, "column") for f in attributes.get("columns", [])]
            uses += [FieldUse(where, pair[0], "sort") for pair in attributes.get("sort", [])]
        if obj["type"] == "visualization":
            for agg in json.loads(attributes["visState"]).get("aggs", []):
                field = agg.get("params", {}).get("field")
                if field:
                    usage = VIS_AGG_USAGE.get(agg["type"])
                    if usage is None:
                        raise ValueError(f"{where}: aggregation type {agg['type']!r} not checked")
                    uses.append(FieldUse(where, field, usage))
        if obj["type"] == "index-pattern" and attributes.get("timeFieldName"):
            uses.append(FieldUse(where, attributes["timeFieldName"], "date_histogram"))
    return uses


def field_mapping(properties: dict[str, Any], field: str) -> dict[str, Any] | None:
    """The mapping of a dotted field name (multi-fields like `url.original.keyword` too);
    None when not mapped. A field inside a `nested` object comes back as type `nested:<type>`:
    query strings and plain aggregations cannot reach it."""
    parts = field.split(".")
    props = properties
    nested = False
    for i, part in enumerate(parts):
        mapping = props.get(part)
        if mapping is None:
            return None
        if i == len(parts) - 1:
            if nested and "type" in mapping:
                return {**mapping, "type": f"nested:{mapping['type']}"}
            return mapping if "type" in mapping else None
        if "properties" in mapping:
            nested = nested or mapping.get("type") == "nested"
            props = mapping["properties"]
        elif "fields" in mapping and i == len(parts) - 2:
            sub: dict[str, Any] | None = mapping["fields"].get(parts[-1])
            return sub
        else:
            return None
    return None


def check_fields(
    uses: Iterable[FieldUse], properties: dict[str, Any]
) -> tuple[list[str], list[FieldUse]]:
    """(problems with mapped fields, uses of fields not mapped at all)."""
    problems, missing = [], []
    for use in uses:
        mapping = field_mapping(properties, use.field)
        if mapping is None:
            missing.append(use)
            continue
        allowed = USAGE_TYPES[use.usage]
        kind = mapping.get("type")
        if allowed is not None and kind not in allowed:
            problems.append(f"{use.where}: {use.field} is {kind}, cannot be used for {use.usage}")
        elif use.usage != "column" and mapping.get("index") is False:
            problems.append(
                f"{use.where}: {use.field} is not indexed, cannot be used for {use.usage}"
            )
    return problems, missing


# -- monitors ---------------------------------------------------------------------------

_QUERY_LEAVES = {
    "term": "terms",
    "terms": "terms",
    "prefix": "terms",
    "wildcard": "terms",
    "range": "range",
    "match": "query",
    "match_phrase": "query",
}
_AGG_USAGE = {
    "terms": "terms",
    "date_histogram": "date_histogram",
    "histogram": "histogram",
    "max": "metric",
    "min": "metric",
    "sum": "metric",
    "avg": "metric",
    "cardinality": "terms",
}


def monitor_field_uses(monitor: dict[str, Any]) -> list[FieldUse]:
    """Every field the monitor's search input names, with how it uses it."""
    where = monitor["name"]
    uses: list[FieldUse] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if isinstance(value, dict) and isinstance(value.get("field"), str):
                if key == "exists":
                    uses.append(FieldUse(where, value["field"], "column"))
                elif key in _AGG_USAGE:
                    uses.append(FieldUse(where, value["field"], _AGG_USAGE[key]))
                else:
                    raise MonitorError(f"{where}: {key!r} with a field is not checked")
            elif key in _QUERY_LEAVES and isinstance(value, dict):
                usage = _QUERY_LEAVES[key]
                uses.extend(FieldUse(where, f, usage) for f in value if f != "boost")
            elif key == "query_string" and isinstance(value, dict):
                fields = query_string_fields(value["query"])
                uses.extend(FieldUse(where, f, "query") for f in fields)
            else:
                walk(value)

    walk(monitor["inputs"][0]["search"]["query"])
    return uses
