"""Parquet objects of the header-driven formats (VPC flow logs, CloudFront standard logs v2),
read with pyarrow into the very documents their text twins give.

Each row becomes the JSON record its format already reads (the field names as keys, the
values as written), and goes through the same per-object parser as a text line: there is one
parser per format, and a Parquet row cannot give another document than the same record
delivered as text. Column names are mapped to the format's field names by the format
(`parquet_names`: VPC's `account_id` reads as `account-id`; CloudFront's `cs_host`, as Athena
names it, is `cs(Host)`). A row's position is its number in the object, from 1, so `_id`s are
deterministic as everywhere.

Memory and size: Parquet needs random access (its footer, at the end, says where the row groups
are), so the object is first written whole to a temporary file in /tmp (TMPDIR), as the reader
streams it: decompressed bytes are capped by LOGFERRY_MAX_OBJECT_BYTES as for text, and /tmp
(the Lambda's ephemeral storage, 512 MB unless configured up to 10 GB) bounds it too; running
out of either ends the object as damaged, with the reason, not as an exception. Then one row
group at a time is read and turned into rows: memory holds the file's metadata and one row
group, never the object. (Rejected alternatives: holding the object in
memory, which a large object would exhaust; ranged S3 reads through a pyarrow filesystem, which
would bypass the reader's decompression, caps and accounting.)

pyarrow is optional (the Lambda's ParquetLayer): without it these objects stay `unsupported`,
with that reason. It is imported on the first Parquet object, never on the text path, which
is untouched: whether an object is Parquet (its key ends in `.parquet`, or its first bytes,
after any gzip, are `PAR1`) is HeaderLineFormat's one check per object.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

import orjson

from ..ingest.reader import LineReader, ObjectProblem
from ..model import Document, Line, ParseContext, Rejection, Source, UnsupportedObject
from .base import parse_entries


def parquet_module() -> Any | None:
    """pyarrow.parquet, or None where pyarrow is not installed (no ParquetLayer)."""
    try:
        return importlib.import_module("pyarrow.parquet")  # untyped: used as Any
    except ImportError:
        return None


def _spill(reader: LineReader, into: IO[bytes]) -> str | None:
    """The object's decompressed bytes into `into`; the problem that cut it short, if any."""
    try:
        for chunk in reader.chunks():
            into.write(chunk)
    except ObjectProblem as exc:
        return str(exc)
    except OSError as exc:  # /tmp full
        return f"could not spill the Parquet object to {tempfile.gettempdir()}: {exc}"
    into.flush()
    return None


def read_rows(
    reader: LineReader,
    ctx: ParseContext,
    names: Callable[[list[str]], list[str]],
    record: Callable[[str], Source],
    advice: str,
) -> Iterator[Document | Rejection]:
    """Documents and rejections of a Parquet object: each row as the JSON record of the
    format's fields (`names` maps the columns to them), parsed by `record`. Without pyarrow,
    UnsupportedObject, saying why and `advice` ("<title> in Parquet: what to do instead")."""
    pq = parquet_module()
    if pq is None:
        title, _, instead = advice.partition(" in Parquet: ")
        raise UnsupportedObject(
            f"{title} in Parquet are not supported: {ctx.ref.uri} (pyarrow is not installed:"
            f" deploy with ParquetSupport=true, which adds the ParquetLayer; or {instead})"
        )
    with tempfile.TemporaryFile(prefix="logferry-", suffix=".parquet") as spilled:
        problem = _spill(reader, spilled)
        if problem is not None:
            ctx.problem = problem
            return
        spilled.seek(0, os.SEEK_SET)
        try:
            parquet = pq.ParquetFile(spilled)
        except (OSError, ValueError) as exc:  # pyarrow's IO and invalid-data errors
            ctx.problem = f"not a readable Parquet file: {exc}"
            return
        yield from parse_entries(_rows(parquet, names, ctx), record, ctx.keep_original)


def _rows(
    parquet: Any, names: Callable[[list[str]], list[str]], ctx: ParseContext
) -> Iterator[Line]:
    """(position, JSON record) of every row, one row group in memory at a time; a row group
    that cannot be read ends them, with the reason in `ctx.problem`."""
    keys = names(list(parquet.schema_arrow.names))
    dumps = orjson.dumps
    position = 0
    try:
        for group in range(parquet.num_row_groups):
            try:
                table = parquet.read_row_group(group)
                columns = [column.to_pylist() for column in table.columns]
            except (OSError, ValueError) as exc:
                ctx.problem = f"Parquet row group {group} could not be read: {exc}"
                return  # every row before it was read
            del table
            for values in zip(*columns, strict=True):
                position += 1
                yield position, dumps(dict(zip(keys, values, strict=True)), default=str).decode()
    finally:
        ctx.lines_read = position
