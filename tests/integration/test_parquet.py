"""VPC flow logs and CloudFront standard logs (v2) in Parquet, through the Lambda handler into
the real local OpenSearch, beside their text twins: the same records give the same indexed
documents (issue 20, section 3). The Parquet objects are written here with pyarrow, as
tests/unit/test_format_parquet.py writes them (its docstring cites the facts they rest on)."""

from __future__ import annotations

import gzip
from collections import defaultdict
from typing import Any

import orjson
import pyarrow as pa
import pytest

from logferry.formats.cloudfront_fields import _aws_key
from tests.integration.test_older_layouts import handler, no_deadletters
from tests.support import FakeLambdaContext, Wiring
from tests.unit.test_format_parquet import (
    CF_KEY,
    VPC_FILES,
    VPC_KEY,
    cloudfront_records,
    parquet_bytes,
    vpc_twin,
)

pytestmark = pytest.mark.integration


def by_object(client: Any, pattern: str) -> list[list[bytes]]:
    """The indexed documents of each object (grouped by the object part of their _id), each
    group's sources sorted, as canonical JSON."""
    client.indices.refresh(index=pattern)
    found = client.search(index=pattern, body={"query": {"match_all": {}}, "size": 1000})
    groups: dict[str, list[bytes]] = defaultdict(list)
    for hit in found["hits"]["hits"]:
        groups[hit["_id"].rsplit("-", 1)[0]].append(
            orjson.dumps(hit["_source"], option=orjson.OPT_SORT_KEYS)
        )
    return [sorted(docs) for docs in groups.values()]


def test_parquet_objects_index_the_documents_of_their_text_twins(
    aws_env: None, index_prefix: str, opensearch_url: str, os_client: Any
) -> None:
    wiring = Wiring.create()
    app = handler(wiring, index_prefix, opensearch_url)
    vpc_text, vpc_parquet = vpc_twin(VPC_FILES[2])  # clo-vpcflow.log: 17 records
    wiring.put(VPC_KEY, vpc_parquet)
    wiring.put(VPC_KEY.replace(".log.parquet", ".log.gz"), gzip.compress(vpc_text.encode()))
    names, records = cloudfront_records()
    w3c = "#Version: 1.0\n#Fields: " + " ".join(names) + "\n"
    w3c += "".join("\t".join(record) + "\n" for record in records)
    columns = {
        _aws_key(name): pa.array([None if r[i] == "-" else r[i] for r in records], pa.string())
        for i, name in enumerate(names)
    }
    wiring.put(CF_KEY, parquet_bytes(pa.table(columns)))
    wiring.put(CF_KEY.replace(".parquet", ".gz"), gzip.compress(w3c.encode()))

    response = app.lambda_handler({"Records": wiring.receive()}, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert no_deadletters(wiring)  # nothing rejected, nothing unsupported
    parquet_docs, text_docs = by_object(os_client, f"{index_prefix}-vpcflow-*")
    assert len(parquet_docs) == vpc_text.count("\n") - 1 == 17
    assert parquet_docs == text_docs
    parquet_docs, text_docs = by_object(os_client, f"{index_prefix}-cloudfront-*")
    assert len(parquet_docs) == len(records)
    assert parquet_docs == text_docs
    assert b'"distribution_domain":"d111111abcdef8.cloudfront.net"' in parquet_docs[0]
