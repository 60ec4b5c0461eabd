"""Analysts' role, `logferry_reader`, against the real security plugin: every saved search's
query answers exactly as it does for the admin, the saved objects can be read, and nothing
can be written or deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from logferry.output.client import AccessDenied
from logferry.provisioning import dashboards
from tests import field_checks
from tests.integration.test_analyst_queries import (
    _saved_search_world,
    dashboards_search,
    index,
    minute,
)

pytestmark = pytest.mark.security

SAVED_OBJECTS_INDEX = ".kibana"


def test_the_reader_gets_exactly_what_every_saved_search_finds(
    as_reader: Any, admin: Any, prefix: str
) -> None:
    docs, expected = _saved_search_world()
    index(admin, prefix, docs)
    objects = {obj["id"]: obj for obj in dashboards.saved_objects()}
    searches = {i: o for i, o in objects.items() if o["type"] == "search"}
    assert set(searches) == set(expected)
    for search_id, search in searches.items():
        (ref,) = search["references"]
        pattern = objects[ref["id"]]["attributes"]["title"]
        indices = dashboards.index_pattern_title(pattern, prefix)
        query = field_checks.search_source(search)["query"]["query"]
        body = dashboards_search(query, minute(-60), minute(60))
        hits = as_reader.search(index=indices, body=body)["hits"]["hits"]
        assert {hit["_id"] for hit in hits} == expected[search_id], search_id
    # and the index patterns Dashboards resolves: every source's fields, read as the reader
    caps = as_reader.field_caps(index=f"{prefix}-*", fields="source.ip")
    assert caps["fields"]["source.ip"]["ip"]["searchable"]


def test_the_reader_reads_the_dashboards_saved_objects_and_cannot_change_them(
    as_reader: Any, admin: Any, prefix: str
) -> None:
    search = next(o for o in dashboards.saved_objects(prefix) if o["type"] == "search")
    doc_id = f"search:{search['id']}"
    admin.index(
        index=SAVED_OBJECTS_INDEX,
        id=doc_id,
        body={"type": "search", "search": search["attributes"]},
        refresh=True,
    )
    try:
        found = as_reader.get(index=SAVED_OBJECTS_INDEX, id=doc_id)
        assert found["_source"]["search"]["title"] == search["attributes"]["title"]
        with pytest.raises(AccessDenied):
            as_reader.index(index=SAVED_OBJECTS_INDEX, id=doc_id, body={"type": "search"})
        with pytest.raises(AccessDenied):
            as_reader.delete(index=SAVED_OBJECTS_INDEX, id=doc_id)
    finally:
        admin.delete(index=SAVED_OBJECTS_INDEX, id=doc_id, refresh=True)


def test_the_reader_cannot_write_or_delete(as_reader: Any, admin: Any, prefix: str) -> None:
    name = f"{prefix}-nlb-2026.11.20"
    admin.index(index=name, id="n1", body={"source": {"ip": "192.0.2.1"}}, refresh=True)
    attempts = {
        "index a document": lambda: as_reader.index(index=name, id="n2", body={"a": 1}),
        "update a document": lambda: as_reader.update(index=name, id="n1", body={"doc": {"a": 1}}),
        "delete a document": lambda: as_reader.delete(index=name, id="n1"),
        "delete the index": lambda: as_reader.indices.delete(index=name),
        "create an index": lambda: as_reader.indices.create(index=f"{prefix}-nlb-2026.11.21"),
        "change the template": lambda: as_reader.indices.put_index_template(
            name=f"{prefix}-logferry", body={"index_patterns": [f"{prefix}-*"]}
        ),
        "read the security index": lambda: as_reader.search(index=".opendistro_security"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(AccessDenied) as refused:
            attempt()
        assert refused.value.status_code == 403, what
    with pytest.raises(AccessDenied) as refused:  # no bulk at all: the request is refused
        as_reader.bulk(
            body=json.dumps({"index": {"_index": name, "_id": "n3"}})
            + "\n{}\n"
            + json.dumps({"delete": {"_index": name, "_id": "n1"}})
            + "\n"
        )
    assert "indices:data/write/bulk" in str(refused.value)
    admin.indices.refresh(index=name)
    assert admin.count(index=f"{prefix}-*")["count"] == 1
    assert admin.get(index=name, id="n1")["_source"] == {"source": {"ip": "192.0.2.1"}}
