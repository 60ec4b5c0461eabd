"""The search benchmark's corpus on a tiny scale: deterministic, and shaped as the index
template maps it (nothing is timed here; python -m tools.bench.search measures)."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Any

import orjson

from logferry.formats import FORMATS, index_properties
from logferry.model import Source
from tools.bench.search import corpus, loading

SHAPE = corpus.CorpusShape(transactions=100, senders=2_000, recipients=5_000, domains=300)


def leaves(doc: Source, path: str = "") -> list[tuple[str, Any]]:
    """(dotted path, value) of every leaf; lists of objects are walked into."""
    out: list[tuple[str, Any]] = []
    for key, value in doc.items():
        name = f"{path}.{key}" if path else key
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                out.extend(leaves(item, name))
            else:
                out.append((name, item))
    return out


def mapped_types(properties: dict[str, Any], path: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, spec in properties.items():
        name = f"{path}.{key}" if path else key
        if "properties" in spec:
            out.update(mapped_types(spec["properties"], name))
        else:
            out[name] = spec["type"]
    return out


def fits(kind: str, value: Any) -> bool:
    """Whether OpenSearch would index the value in a field of that type."""
    if kind == "keyword":
        return isinstance(value, str)
    if kind == "ip":
        return isinstance(value, str) and bool(ipaddress.ip_address(value))
    if kind == "date":
        return isinstance(value, str) and bool(datetime.fromisoformat(value))
    if kind in ("integer", "long", "short"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double", "scaled_float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return False


def test_the_same_seed_gives_the_same_documents_and_another_seed_others() -> None:
    first = list(corpus.documents(SHAPE, per_object=30))
    second = list(corpus.documents(SHAPE, per_object=30))
    assert len(first) == 100
    assert first == second
    other = corpus.CorpusShape(**{**SHAPE.__dict__, "seed": SHAPE.seed + 1})
    assert list(corpus.documents(other, per_object=30)) != first


def test_documents_are_mail_transactions_with_unique_ids_inside_the_window() -> None:
    docs = list(corpus.documents(SHAPE, per_object=30))
    ids = [doc_id for doc_id, _ in docs]
    assert len(set(ids)) == len(ids)
    start = (SHAPE.end - timedelta(days=SHAPE.days)).isoformat()
    actions = {source["event"]["action"] for _, source in docs}
    assert actions <= {"transaction", "reject"} and "transaction" in actions
    for _, source in docs:
        assert source["event"]["dataset"] == "mail.postfix"
        assert start[:19] <= source["@timestamp"][:19] < SHAPE.end.isoformat()[:19]
        assert source["host"]["name"] in corpus._HOSTS
        assert "@" in source["email"]["from"]["address"]
        assert source["email"]["to"]["address"]
        if source["event"]["action"] == "transaction":
            assert source["email"]["message_id"] and source["email"]["local_id"]
            assert source["mail"]["recipients"]


def test_every_field_is_declared_by_the_template_with_a_type_its_values_fit() -> None:
    types = mapped_types(index_properties())
    mail_types = mapped_types(FORMATS["postfix"].mapping)
    seen: set[str] = set()
    for _, source in corpus.documents(SHAPE, per_object=30):
        for path, value in leaves(source):
            seen.add(path)
            assert path in types, f"{path} is not in the index template (dynamic mapping)"
            assert fits(types[path], value), f"{path}={value!r} does not fit {types[path]}"
            if path.startswith(("email.", "mail.")):
                assert path in mail_types, f"{path} is not in the postfix format's mapping"
    # the fields `logferry search` filters and sorts on are all there
    assert {
        "@timestamp",
        "host.name",
        "email.from.address",
        "email.to.address",
        "email.message_id",
        "email.local_id",
    } <= seen


def test_bulk_bodies_name_the_day_index_of_each_document() -> None:
    docs = list(corpus.documents(SHAPE, per_object=30))
    bodies = list(corpus.bulk_bodies("bench-x", iter(docs), 40))
    assert len(bodies) == 3
    lines = b"".join(bodies).splitlines()
    assert len(lines) == 2 * len(docs)
    for (doc_id, source), action in zip(docs, lines[::2], strict=True):
        meta = orjson.loads(action)["create"]
        day = source["@timestamp"][:10].replace("-", ".")
        assert meta == {"_index": f"bench-x-mail-{day}", "_id": doc_id}
        assert meta["_index"] in loading.day_indices("bench-x", SHAPE)
