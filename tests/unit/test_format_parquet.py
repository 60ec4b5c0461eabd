"""VPC flow logs and CloudFront standard logs (v2) in Parquet: every row gives the document its
text twin gives (the same records written as Parquet here, with pyarrow, several row groups),
row groups are read one at a time, damage and the size cap end the object with the reason, and
without pyarrow the objects are `unsupported`, saying why.

Facts the twins rest on: VPC flow logs to S3 in Parquet type the numeric fields INT_32 (version,
ports, protocol, tcp-flags, traffic-path) or INT_64 (packets, bytes, start, end) and the rest
STRING, and name the columns with underscores (the VPC user guide's flow-log-records and
flow-logs-s3 pages, "Parquet" data types); CloudFront's Parquet columns are named as Athena's
table for them names them (`x_edge_location`, `cs_host`, `cs_user_agent`: the Athena guide's
create-cloudfront-table-manual-parquet page), every one a string.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logferry.formats import format_for_key
from logferry.formats.cloudfront import FORMAT as CLOUDFRONT
from logferry.formats.cloudfront_fields import _aws_key
from logferry.formats.vpcflow import FORMAT as VPCFLOW
from logferry.ingest.reader import LineReader
from logferry.model import Document, ObjectRef, ParseContext, Rejection, UnsupportedObject
from tests.conftest import REALWORLD

VPC_KEY = (
    "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/20/"
    "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261120T1205Z_1a2b3c4d.log.parquet"
)
CF_KEY = "AWSLogs/123456789012/CloudFront/E2ABCDEFGHIJKL/2019/12/04/21/E2ABCDEFGHIJKL.parquet"
VPC_INT32 = frozenset(
    ("version", "srcport", "dstport", "protocol", "tcp-flags", "traffic-path")
)  # fmt: skip
VPC_INT64 = frozenset(("packets", "bytes", "start", "end"))
# Headed text files of VPC flow logs with several records (the default format, v3-v11 and ECS
# fields, custom orders, Transit Gateway fields, tcp-flags).
VPC_FILES = [
    REALWORLD / "vpcflow" / name
    for name in (
        "vrl-v2-default.log",
        "elastic-test-ecs-samples.log",
        "clo-vpcflow.log",
        "elastic-test-tgw-samples.log",
        "elastic-test-extra-samples.log",
        "beats-processor-tcp-flag-sequence.log",
        "vrl-v3-custom-a.log",
        "vrl-v11-custom.log",
    )
]
CF_FILE = REALWORLD / "cloudfront" / "awsdocs-standard-log-example.log"


def documents(fmt: Any, key: str, body: bytes, **ctx: Any) -> tuple[list[Any], ParseContext]:
    context = ParseContext(ObjectRef("logs", key), **ctx)
    return list(fmt.parse_object(LineReader(io.BytesIO(body)), context)), context


def sources(items: list[Any]) -> list[dict[str, Any]]:
    assert not [item for item in items if isinstance(item, Rejection)]
    return [item.source for item in items]


def parquet_bytes(table: pa.Table, row_group_size: int = 2) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=row_group_size, compression="gzip")
    return out.getvalue()


def vpc_twin(path: Path) -> tuple[str, bytes]:
    """A headed VPC flow log file's accepted records as text, and the same records as the
    Parquet AWS writes: underscored column names, typed numbers, nulls for `-`."""
    header, *lines = [line for line in path.read_text().splitlines() if line.strip()]
    names = header.split()
    rows = []
    for line in lines:
        text = VPCFLOW.parse_object(
            LineReader(io.BytesIO(f"{header}\n{line}\n".encode())), ParseContext(ObjectRef("", ""))
        )
        values = line.split()
        if len(values) == len(names) and all(isinstance(i, Document) for i in text):
            rows.append(values)
    columns: dict[str, pa.Array] = {}
    for i, name in enumerate(names):
        cells = [None if row[i] == "-" else row[i] for row in rows]
        numeric = all(c is None or c.isdecimal() for c in cells)
        if name in VPC_INT32 and numeric:
            columns[name.replace("-", "_")] = pa.array(
                [None if c is None else int(c) for c in cells], pa.int32()
            )
        elif name in VPC_INT64 and numeric:
            columns[name.replace("-", "_")] = pa.array(
                [None if c is None else int(c) for c in cells], pa.int64()
            )
        else:
            columns[name.replace("-", "_")] = pa.array(cells, pa.string())
    text = "\n".join([header, *(" ".join(row) for row in rows)]) + "\n"
    return text, parquet_bytes(pa.table(columns))


@pytest.mark.parametrize("path", VPC_FILES, ids=lambda p: p.name)
def test_vpc_flow_parquet_rows_give_the_documents_of_their_text_twin(path: Path) -> None:
    text, parquet = vpc_twin(path)
    from_text, _ = documents(VPCFLOW, VPC_KEY.replace(".parquet", ".gz"), text.encode())
    from_parquet, ctx = documents(VPCFLOW, VPC_KEY, parquet)
    assert len(from_parquet) >= 2
    assert sources(from_parquet) == sources(from_text)
    assert [d.position for d in from_parquet] == list(range(1, len(from_parquet) + 1))
    assert ctx.lines_read == len(from_parquet) and ctx.problem is None


def test_a_vpc_parquet_object_is_detected_by_key_and_gzip_wrapped_is_read_too() -> None:
    import gzip

    text, parquet = vpc_twin(VPC_FILES[0])
    assert format_for_key(VPC_KEY) is VPCFLOW
    # Read by its magic bytes under a text key, and after gzip.
    wrapped, _ = documents(VPCFLOW, VPC_KEY.replace(".parquet", ".gz"), gzip.compress(parquet))
    from_text, _ = documents(VPCFLOW, VPC_KEY.replace(".parquet", ".gz"), text.encode())
    assert sources(wrapped) == sources(from_text)


def cloudfront_records() -> tuple[list[str], list[list[str]]]:
    """The AWS doc example's fields and records (W3C, tab-separated, URL-encoded values)."""
    names: list[str] = []
    records = []
    for line in CF_FILE.read_text().splitlines():
        if line.startswith("#Fields:"):
            names = line[8:].split()
        elif line and not line.startswith("#"):
            records.append(line.split("\t")[: len(names)])
    return names, records


def test_cloudfront_parquet_rows_give_the_documents_of_their_w3c_and_json_twins() -> None:
    names, records = cloudfront_records()
    w3c = "#Version: 1.0\n#Fields: " + " ".join(names) + "\n"
    w3c += "".join("\t".join(record) + "\n" for record in records)
    json_lines = "".join(
        orjson.dumps(dict(zip(names, record, strict=True))).decode() + "\n" for record in records
    )
    columns = {
        _aws_key(name): pa.array([None if r[i] == "-" else r[i] for r in records], pa.string())
        for i, name in enumerate(names)
    }
    assert {"cs_host", "cs_user_agent", "x_edge_location"} <= columns.keys()  # Athena's names
    parquet = parquet_bytes(pa.table(columns))
    text_key = CF_KEY.replace(".parquet", ".gz")
    from_w3c, _ = documents(CLOUDFRONT, text_key, w3c.encode())
    from_json, _ = documents(CLOUDFRONT, text_key, json_lines.encode())
    from_parquet, _ = documents(CLOUDFRONT, CF_KEY, parquet)
    assert len(from_parquet) == len(records) >= 2
    assert sources(from_parquet) == sources(from_json) == sources(from_w3c)
    doc = from_parquet[0].source
    assert doc["aws"]["cloudfront"]["distribution_domain"] == "d111111abcdef8.cloudfront.net"
    assert doc["user_agent"]["original"].startswith("Mozilla/5.0 (Windows NT 10.0;")


def test_row_groups_are_read_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    _, parquet = vpc_twin(VPC_FILES[1])
    groups = pq.ParquetFile(io.BytesIO(parquet)).num_row_groups
    assert groups >= 2
    read: list[int] = []
    original = pq.ParquetFile.read_row_group

    def spy(self: Any, index: int, *args: Any, **kwargs: Any) -> Any:
        read.append(index)
        return original(self, index, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", spy)
    monkeypatch.setattr(pq.ParquetFile, "read", None)  # never the whole file at once
    items = documents(VPCFLOW, VPC_KEY, parquet)[0]
    assert read == list(range(groups)) and items


def test_a_damaged_parquet_object_ends_with_the_reason() -> None:
    items, ctx = documents(VPCFLOW, VPC_KEY, b"PAR1\x15\x04\x15\x80\x01" + bytes(64) + b"PAR1")
    assert items == []
    assert ctx.problem is not None and ctx.problem.startswith("not a readable Parquet file")


def test_an_object_over_the_cap_is_not_spilled_past_it() -> None:
    _, parquet = vpc_twin(VPC_FILES[1])
    reader = LineReader(io.BytesIO(parquet), max_object_bytes=len(parquet) // 2)
    ctx = ParseContext(ObjectRef("logs", VPC_KEY))
    assert list(VPCFLOW.parse_object(reader, ctx)) == []
    assert ctx.problem is not None and "exceeds the cap" in ctx.problem


@pytest.fixture
def without_pyarrow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """pyarrow as absent as on a Lambda without the ParquetLayer: importing it fails."""
    for name in list(sys.modules):
        if name == "pyarrow" or name.startswith("pyarrow."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    yield


@pytest.mark.parametrize(
    ("fmt", "key", "title"),
    [(VPCFLOW, VPC_KEY, "VPC flow logs"), (CLOUDFRONT, CF_KEY, "CloudFront logs")],
)
def test_without_pyarrow_parquet_objects_are_unsupported_saying_why(
    without_pyarrow: None, fmt: Any, key: str, title: str
) -> None:
    for name in (key, key.replace(".parquet", ".gz")):  # by key, and by magic bytes
        with pytest.raises(UnsupportedObject) as raised:
            documents(fmt, name, b"PAR1\x15\x04garbage")
        message = str(raised.value)
        assert message.startswith(f"{title} in Parquet are not supported: s3://logs/")
        assert "pyarrow is not installed" in message and "ParquetSupport=true" in message
