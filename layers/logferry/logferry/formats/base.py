"""What every log format provides, and the small helpers most of them share.

A format owns everything about its logs: how to recognise an object of it (by S3 key, then by
the first line), how to turn its lines into ECS documents, and the index mapping of the fields
it writes. The pipeline knows formats only through this interface.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Protocol

from ..ingest.reader import LineReader
from ..model import Document, Line, ParseContext, ParseError, Rejection, Source

Mapping = dict[str, Any]
# One object's line parsing: (take_header or None, parse_line); see LogFormat.line_parser.
LineParser = tuple[Callable[[str], bool] | None, Callable[[str], Source]]


class LogFormat:
    """A log format: recognition, parsing and mapping. Subclasses set the class attributes."""

    name: ClassVar[str]
    # The <source> part of the index name <prefix>-<source>-YYYY.MM.DD.
    index_source: ClassVar[str]
    # Matched (re.search) against the S3 key; None when the key says nothing.
    key_pattern: ClassVar[re.Pattern[str] | None] = None
    # Properties this format adds to the logs-* index template (merged with COMMON_MAPPING).
    mapping: ClassVar[Mapping] = {}
    # Whether some of its documents are parts of one entity spread over many objects (a mail
    # transaction), to be merged with what is already indexed instead of overwriting it: the
    # pipeline hands those to its merger (logferry.mail.merger.MailMerger), not to the sink.
    merges: ClassVar[bool] = False
    # Whether AWS writes its logs (load balancers, VPC, CloudFront, S3, CloudTrail, WAF, ...):
    # its documents carry cloud.provider, and the account and region of the object's key
    # layout where the record states none (logferry.enrich.cloud). Mail servers' logs do not.
    from_aws: ClassVar[bool] = True

    @property
    def dataset(self) -> str:
        return f"aws.{self.name}"

    def matches_key(self, key: str) -> bool:
        return self.key_pattern is not None and self.key_pattern.search(key) is not None

    def matches_content(self, first_line: str) -> bool:
        """Whether the object's first non-empty line looks like this format."""
        return False

    def parse(self, lines: Iterable[Line], ctx: ParseContext) -> Iterator[Document | Rejection]:
        """Documents and rejections from the object's lines."""
        raise NotImplementedError

    def parse_object(self, reader: LineReader, ctx: ParseContext) -> Iterator[Document | Rejection]:
        """Documents and rejections from the whole object. Line formats read its lines; a
        format of whole JSON documents overrides this and reads `reader.chunks()`."""
        return self.parse(reader, ctx)

    def line_parser(self, reader: LineReader, ctx: ParseContext) -> LineParser | None:
        """For a format with one entry per line (what `parse_entries` reads): this object's
        `(take_header, parse_line)`, so that the pipeline runs the line loop itself, with the
        same outcome per line as `parse_object`. None (the default): the pipeline iterates
        `parse_object`."""
        return None


class LineFormat(LogFormat):
    """A format with one entry per line: subclasses write `parse_line`."""

    def parse_line(self, line: str) -> Source:
        """Return the document for one line, or raise ParseError with the reason."""
        raise NotImplementedError

    def parse(self, lines: Iterable[Line], ctx: ParseContext) -> Iterator[Document | Rejection]:
        return parse_entries(lines, self.parse_line, ctx.keep_original)

    def line_parser(self, reader: LineReader, ctx: ParseContext) -> LineParser | None:
        # A subclass that reads its lines its own way is iterated through parse_object.
        cls = type(self)
        if cls.parse is LineFormat.parse and cls.parse_object is LogFormat.parse_object:
            return None, self.parse_line
        return None


class HeaderParser(Protocol):
    """One object's state in a format whose header lines lay out the lines after them."""

    def take_header(self, line: str) -> bool: ...

    def record(self, line: str) -> Source: ...


class HeaderLineFormat(LogFormat):
    """A format with one entry per line, laid out by header lines that come before them (VPC
    flow, CloudFront): each object gets a fresh parser, which reads the headers and then the
    records. These services can also deliver Parquet: its rows are read (formats.parquet,
    with pyarrow) into the JSON records the same parser reads; without pyarrow such an object
    is `unsupported`, with the reason and advice."""

    # What the object's logs are called and what to do instead, for the Parquet refusal.
    title: ClassVar[str]
    parquet_advice: ClassVar[str]

    def new_parser(self) -> HeaderParser:
        raise NotImplementedError

    def parquet_names(self, columns: list[str]) -> list[str]:
        """The format's field names of a Parquet object's columns (default: as they are)."""
        return columns

    def parse(self, lines: Iterable[Line], ctx: ParseContext) -> Iterator[Document | Rejection]:
        parser = self.new_parser()
        return parse_entries(lines, parser.record, ctx.keep_original, parser.take_header)

    def parse_object(self, reader: LineReader, ctx: ParseContext) -> Iterator[Document | Rejection]:
        if self._is_parquet(reader, ctx):
            from .parquet import read_rows  # pyarrow, only for Parquet objects

            record = self.new_parser().record
            advice = f"{self.title} in Parquet: {self.parquet_advice}"
            return read_rows(reader, ctx, self.parquet_names, record, advice)
        return self.parse(reader, ctx)

    def line_parser(self, reader: LineReader, ctx: ParseContext) -> LineParser | None:
        if self._is_parquet(reader, ctx):
            return None  # rows, not lines: the pipeline iterates parse_object
        parser = self.new_parser()
        return parser.take_header, parser.record

    def _is_parquet(self, reader: LineReader, ctx: ParseContext) -> bool:
        return ctx.ref.key.endswith(".parquet") or reader.peek(4).startswith(b"PAR1")


def parse_entries(
    lines: Iterable[Line],
    parse_line: Callable[[str], Source],
    keep_original: bool,
    take_header: Callable[[str], bool] | None = None,
) -> Iterator[Document | Rejection]:
    """A document or a rejection for every line; `take_header` consumes the lines that
    describe the layout of those after them (VPC flow, CloudFront) and yield nothing."""
    for lineno, line in lines:
        if take_header is not None and take_header(line):
            continue
        try:
            source = parse_line(line)
        except Exception as exc:
            yield line_rejection(lineno, line, exc)
            continue
        if keep_original:
            source["event"]["original"] = line
        yield Document(source, lineno)


def line_rejection(lineno: int, line: str, exc: Exception) -> Rejection:
    """The rejection of a line whose parser raised: a ParseError says why; anything else is a
    parser bug, which must cost this one line, not the object."""
    if isinstance(exc, ParseError):
        return Rejection(lineno, str(exc), line)
    return Rejection(lineno, f"parser error: {type(exc).__name__}: {exc}", line)


# -- helpers ----------------------------------------------------------------------------


def to_int(value: str, field: str) -> int | None:
    """An integer field, or None for the null marker "-"."""
    if value == "-":
        return None
    try:
        return int(value)
    except ValueError:
        raise ParseError(f"{field}: expected an integer, got {value[:80]!r}") from None


def to_float(value: str, field: str) -> float | None:
    if value == "-":
        return None
    try:
        return float(value)
    except ValueError:
        raise ParseError(f"{field}: expected a number, got {value[:80]!r}") from None


# TLS versions as the services write them -> ECS tls.version: ELB, CloudFront and S3 write
# TLSv1 to TLSv1.3 (S3's documented examples print TLSV1.1), NLB tlsv10 to tlsv13. The one table
# of every format: the busy ones look a value up here on each line, and take `tls_version` for
# a spelling it lacks.
TLS_VERSIONS: dict[str, str] = {
    "TLSv1": "1.0",
    "TLSv1.1": "1.1",
    "TLSv1.2": "1.2",
    "TLSv1.3": "1.3",
    "TLSV1.1": "1.1",
    "tlsv10": "1.0",
    "tlsv11": "1.1",
    "tlsv12": "1.2",
    "tlsv13": "1.3",
}


def tls_version(protocol: str) -> str | None:
    """ECS tls.version ("1.2") from "TLSv1.2", "tlsv12", "TLSv1" and kin; None for "-"."""
    known = TLS_VERSIONS.get(protocol)
    if known is not None:
        return known
    text = protocol.lower()
    if not text.startswith("tlsv"):
        return None
    digits = text[4:].replace(".", "")
    if digits == "1":
        digits = "10"
    if len(digits) == 2 and digits.isdecimal():
        return f"{digits[0]}.{digits[1]}"
    return None


def prune(source: Source) -> Source:
    """Drop None values and emptied objects, recursively (absent beats null in OpenSearch)."""
    out: Source = {}
    for key, value in source.items():
        if isinstance(value, dict):
            value = prune(value)
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out


# -- mapping ----------------------------------------------------------------------------

KEYWORD: Mapping = {"type": "keyword", "ignore_above": 1024}
IP: Mapping = {"type": "ip"}
DATE: Mapping = {"type": "date"}
LONG: Mapping = {"type": "long"}
INTEGER: Mapping = {"type": "integer"}
FLOAT: Mapping = {"type": "float"}
DOUBLE: Mapping = {"type": "double"}
BOOLEAN: Mapping = {"type": "boolean"}
TEXT_AND_KEYWORD: Mapping = {
    "type": "text",
    "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}},
}


def obj(**properties: Mapping) -> Mapping:
    """An object mapping from its properties: obj(ip=IP, port=INTEGER)."""
    return {"properties": properties}


# ECS geo.* and as.* of an address (source and destination alike).
GEO: Mapping = obj(
    location={"type": "geo_point"},
    country_iso_code=KEYWORD,
    country_name=KEYWORD,
    city_name=KEYWORD,
    continent_code=KEYWORD,
)
AUTONOMOUS_SYSTEM: Mapping = obj(number=LONG, organization=obj(name=KEYWORD))


def _endpoint() -> Mapping:
    """ECS source.* and destination.*; geo and as: where a public address is
    (logferry.enrich.geoip). A new dict each call: formats' mappings are merged into a deep
    copy, which would keep one dict shared by both sides."""
    return obj(
        ip=IP,
        port=INTEGER,
        address=KEYWORD,
        domain=KEYWORD,
        bytes=LONG,
        packets=LONG,
        geo=GEO,
        **{"as": AUTONOMOUS_SYSTEM},
    )


# ECS fields more than one format writes: declared once, so every format agrees on the types.
COMMON_MAPPING: Mapping = {
    "@timestamp": DATE,
    "event": obj(
        dataset=KEYWORD,
        kind=KEYWORD,
        action=KEYWORD,
        outcome=KEYWORD,
        provider=KEYWORD,
        start=DATE,
        end=DATE,
        duration=LONG,
        original={"type": "text", "index": False},
    ),
    "source": _endpoint(),
    "destination": _endpoint(),
    "network": obj(transport=KEYWORD, iana_number=KEYWORD, bytes=LONG, packets=LONG),
    "tls": obj(
        version=KEYWORD,
        version_protocol=KEYWORD,
        cipher=KEYWORD,
        established=BOOLEAN,
        client=obj(server_name=KEYWORD),
    ),
    "http": obj(
        version=KEYWORD,
        request=obj(method=KEYWORD, bytes=LONG),
        response=obj(status_code=INTEGER, bytes=LONG),
    ),
    "url": obj(original=TEXT_AND_KEYWORD, path=KEYWORD, query=KEYWORD, domain=KEYWORD),
    # Parsed from `original` (logferry.enrich.useragent).
    "user_agent": obj(
        original=TEXT_AND_KEYWORD,
        name=KEYWORD,
        version=KEYWORD,
        os=obj(name=KEYWORD, version=KEYWORD),
        device=obj(name=KEYWORD),
    ),
    "host": obj(name=KEYWORD),
    "cloud": obj(provider=KEYWORD, region=KEYWORD, account=obj(id=KEYWORD, name=KEYWORD)),
    # Facts of the account from AWS Organizations (logferry.enrich.organizations); its tags
    # are `aws.organization.tags.<key>`, keywords by the template's dynamic rule.
    "aws": obj(organization=obj(ou_path=KEYWORD)),
    "trace": obj(id=KEYWORD),
}
