"""CloudFront standard logs: legacy (W3C, tab-separated) and standard logging v2 to S3.

#Version: 1.0
#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status ...
2019-12-04<TAB>21:02:31<TAB>LAX1<TAB>392<TAB>192.0.2.100<TAB>GET<TAB>d111111abcdef8.cloudfront.net
<TAB>/index.html<TAB>200<TAB>-<TAB>Mozilla/5.0%20(Windows%20NT%2010.0;...)<TAB>-<TAB>-<TAB>Hit ...

The `#Fields` header maps the columns (older files have fewer); without one the 33-column
order of 2019 onward applies, and a shorter record leaves its missing fields absent. Values are
URL-encoded by CloudFront: each cell is decoded after splitting, never the line before. A cell
beyond the header (the AWS example has a trailing tab) is kept only if it is not empty.

Standard logging v2 writes the same field names: as JSON (one object per line, the names as
keys), or as W3C/plain text with a `#Fields` header and a chosen delimiter (guessed from the
first record: tab if it has one, else space, comma, pipe or semicolon, whichever matches the
header's width).
Parquet (v2, S3 only) is read by formats.parquet: each row as the JSON record of the same
fields. Its columns are named as Athena's Parquet table for these logs names them (lower case,
every run of other characters an underscore: `cs_host`, `cs_user_agent`, `x_edge_location`);
`parquet_names` maps them back to the field names, so a row gives its JSON twin's document.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import orjson

from ..model import ParseError, Source
from .base import (
    BOOLEAN,
    KEYWORD,
    TLS_VERSIONS,
    HeaderLineFormat,
    obj,
    tls_version,
)
from .cloudfront_fields import (
    _AWS_FIELDS,
    _DELIMITERS,
    _ECS_NAMES,
    _IP_CHARS,
    _TIMESTAMP,
    LEGACY_FIELDS,
    LEGACY_LAYOUT,
    Layout,
    _aws_key,
)
from .times import is_real_date


def _decode(value: str) -> str:
    """A cell as logged, URL-decoded. Most escapes are spaces: replacing those is a C loop,
    and only a cell with other escapes pays for the general decoder."""
    if "%" not in value:
        return value
    spaced = value.replace("%20", " ")
    return spaced if "%" not in spaced else unquote(value)


def _epoch(value: str, per_second: int, field: str) -> str:
    """Epoch seconds (with a fraction) or milliseconds -> ISO 8601 with milliseconds."""
    if not value.isascii():  # float() would read other scripts' digits
        raise ParseError(f"{field}: expected an epoch time, got {value[:40]!r}")
    try:
        ms = round(float(value) * (1000 // per_second))
        when = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
    except (ValueError, OverflowError, OSError):
        raise ParseError(f"{field}: expected an epoch time, got {value[:40]!r}") from None
    if not 1 <= when.year <= 9999:
        raise ParseError(f"{field}: time out of range: {value[:40]!r}")
    return when.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


# Date and time checked lately -> @timestamp: the records of an object share a few hundred
# seconds, so a lookup replaces the pattern match. Bounded: cleared when full. With the aws
# loop in _build: 10.6 -> 9.7 us a record (whole path), 75.9k -> 68.8k instructions (parse).
_TIMES: dict[str, str] = {}


def _timestamp(c: list[str], lay: Layout) -> str:
    value = c[lay.timestamp_ms]
    if value != "-":
        return _epoch(value, 1000, "timestamp(ms)")
    value = c[lay.timestamp]
    if value != "-":
        return _epoch(value, 1, "timestamp")
    date, clock = c[lay.date], c[lay.time]
    if date == "-" or clock == "-":
        raise ParseError("no date and time (nor timestamp): a record needs a time")
    ts = f"{date}T{clock}"
    iso = _TIMES.get(ts)
    if iso is None:
        # Checked in full on a miss: ASCII digits, ranges, and the calendar for the days a
        # pattern cannot judge (02-30, year 0000).
        if _TIMESTAMP.fullmatch(ts) is None or (
            (date[8:10] >= "29" or date[:1] == "0") and not is_real_date(date)
        ):
            raise ParseError(
                f"date/time: expected YYYY-MM-DD and HH:MM:SS[.ffffff] (UTC), got {ts[:40]!r}"
            )
        if len(_TIMES) >= 4096:
            _TIMES.clear()
        iso = _TIMES[ts] = ts + "Z"
    return iso


def _build(c: list[str], lay: Layout) -> Source:
    """The document of one record split into cells `c` (consumed: padded with "-")."""
    n = len(c)
    tail = None
    if n > lay.width:
        extra = c[lay.width :]
        if any(extra):  # a trailing tab is an empty cell, not data
            tail = "\t".join(extra).rstrip("\t")
    elif n < lay.width:  # an older or truncated record: the missing fields are absent
        c.extend(["-"] * (lay.width - n))
    c.append("-")  # absent fields point at index -1, so they read as the null marker

    ts = _timestamp(c, lay)
    aws: Source = {}
    event: Source = {"dataset": "aws.cloudfront", "kind": "event"}
    doc: Source = {"@timestamp": ts, "event": event, "aws": {"cloudfront": aws}}

    value = c[lay.c_ip]
    if value != "-":
        if value.strip(_IP_CHARS) or not (":" in value or "." in value):
            raise ParseError(f"c-ip: expected an IP address, got {value[:60]!r}")
        doc["source"] = {"ip": value}
    value = c[lay.c_port]
    if value != "-":
        port = int(value) if len(value) <= 5 and value.isascii() and value.isdecimal() else -1
        if not 0 <= port <= 65535:
            raise ParseError(f"c-port: expected a port number, got {value[:40]!r}")
        if "source" in doc:
            doc["source"]["port"] = port
        else:
            doc["source"] = {"port": port}

    http: Source = {}
    value = c[lay.method]
    if value != "-":
        http["request"] = {"method": value}
    value = c[lay.status]
    if value == "000":
        # The viewer closed the connection before CloudFront answered: there is no HTTP status
        # to record. A 0 would count as a status in aggregations and ranges, so the code stays
        # absent and the fact is a flag of its own (queried next to 5xx as failed requests).
        aws["client_closed"] = True
        event["outcome"] = "unknown"
    elif value != "-":
        if len(value) != 3 or not (value.isascii() and value.isdecimal()):
            raise ParseError(f"sc-status: expected a 3-digit status, got {value[:40]!r}")
        status = int(value)
        http["response"] = {"status_code": status}
        event["outcome"] = "success" if status < 400 else "failure"
    value = c[lay.protocol_version]
    if value != "-":
        http["version"] = value[5:] if value.startswith("HTTP/") else value
    if http:
        doc["http"] = http

    url: Source = {}
    value = c[lay.path]
    if value != "-":
        url["path"] = _decode(value) if "%" in value else value
    value = c[lay.query]
    if value != "-":
        url["query"] = _decode(value) if "%" in value else value
    value = c[lay.domain]
    if value != "-":
        url["domain"] = _decode(value) if "%" in value else value
    if url:
        doc["url"] = url

    value = c[lay.user_agent]
    if value != "-":
        agent = _decode(value)
        # Some years' logs encoded the user agent twice (a space logged as %2520): "%25" in
        # the raw value then means the once-decoded text still holds escapes. Decoding again
        # restores the agent; a genuine "%" in a user agent is rarer than that old encoding.
        if "%25" in value:
            agent = unquote(agent)
        doc["user_agent"] = {"original": agent}

    tls: Source = {}
    value = c[lay.ssl_protocol]
    if value != "-":
        aws["ssl_protocol"] = value
        version = TLS_VERSIONS.get(value) or tls_version(value)
        if version is not None:
            tls["version"] = version
            tls["version_protocol"] = "tls"
    value = c[lay.ssl_cipher]
    if value != "-":
        aws["ssl_cipher"] = tls["cipher"] = value
    if tls:
        doc["tls"] = tls
    value = c[lay.forwarded_for]
    if value != "-":
        aws["forwarded_for"] = [ip.strip() for ip in _decode(value).split(",") if ip.strip()]

    # Stored one by one: a comprehension handed to aws.update builds every entry twice.
    for i, key in lay.texts:
        value = c[i]
        if value != "-":
            aws[key] = _decode(value) if "%" in value else value
    key = ""
    try:
        for i, key in lay.longs:
            value = c[i]
            if value != "-":
                if len(value) > 18:
                    raise ValueError
                aws[key] = int(value)
        for i, key in lay.floats:
            value = c[i]
            if value != "-":
                aws[key] = float(value)
    except ValueError:
        raise ParseError(f"{key}: expected a number, got {value[:40]!r}") from None
    if tail is not None:
        aws["unparsed_tail"] = tail
    return doc


def _json_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value or "-"
    return str(value)


class _Parser:
    """The state of one object: the layout of its `#Fields` header and its delimiter."""

    def __init__(self) -> None:
        self.layout = LEGACY_LAYOUT
        self.delimiter: str | None = "\t"
        self.layouts: dict[tuple[str, ...], Layout] = {}

    def take_header(self, line: str) -> bool:
        if line[:1] == "#":
            self.header(line)
            return True
        return False

    def header(self, line: str) -> None:
        """A `#` line: `#Fields:` sets the layout, the others (`#Version:`) say nothing."""
        if line.startswith("#Fields:"):
            names = tuple(line[8:].split())
            if names:
                self.layout = self._layout(names)
                self.delimiter = None  # guessed from the next record

    def _layout(self, names: tuple[str, ...]) -> Layout:
        layout = self.layouts.get(names)
        if layout is None:
            layout = self.layouts[names] = Layout.of(names)
        return layout

    def record(self, line: str) -> Source:
        if line[:1] == "{":
            return self._json(line)
        delimiter = self.delimiter
        if delimiter is None:
            delimiter = self.delimiter = self._guess_delimiter(line)
        return _build(line.split(delimiter), self.layout)

    def _guess_delimiter(self, line: str) -> str:
        if "\t" in line:  # CloudFront encodes a tab inside a value, so tabs only delimit
            return "\t"
        width = self.layout.width
        for delimiter in _DELIMITERS:
            if line.count(delimiter) + 1 == width:
                return delimiter
        return " "

    def _json(self, line: str) -> Source:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON: {exc}") from None
        if not isinstance(data, dict) or not data:
            raise ParseError("expected a JSON object of CloudFront fields")
        layout = self._layout(tuple(str(key) for key in data))
        return _build([_json_value(value) for value in data.values()], layout)


def parse_record(line: str, fields: str | None = None) -> Source:
    """One record as a document, in the layout of a `#Fields:` header (default: 33 fields)."""
    parser = _Parser()
    if fields is not None:
        parser.header(fields)
    return parser.record(line)


# Parquet column -> field name: `cs_host` -> `cs(Host)`, `timestamp_ms` -> `timestamp(ms)`; the
# first field of each column name wins (`cs(Host)` before its v2 spelling `cs-host`).
def _parquet_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for name in (*LEGACY_FIELDS, *_ECS_NAMES, *_AWS_FIELDS):
        names.setdefault(_aws_key(name), name)
    return names


_PARQUET_NAMES = _parquet_names()


class CloudFrontFormat(HeaderLineFormat):
    name = "cloudfront"
    index_source = "cloudfront"
    title = "CloudFront logs"
    parquet_advice = "choose the json, w3c or plain output format"
    # Legacy: <optional prefix><distribution id>.YYYY-MM-DD-HH.<unique id>.gz (no AWSLogs tree);
    # v2: .../AWSLogs/<account>/CloudFront/... (Parquet too, read by formats.parquet).
    key_pattern = re.compile(
        r"(?<![A-Z0-9])E[A-Z0-9]{12,13}\.\d{4}-\d\d-\d\d-\d\d\.[^./]+\.gz$"
        r"|(?:^|/)AWSLogs/(?:aws-account-id=)?\d{12}/CloudFront/"
    )
    mapping = {
        "aws": obj(
            cloudfront=obj(
                client_closed=BOOLEAN,
                ssl_protocol=KEYWORD,
                ssl_cipher=KEYWORD,
                forwarded_for=KEYWORD,
                unparsed_tail=KEYWORD,
                **{key: kind for key, kind in _AWS_FIELDS.values()},
            )
        )
    }

    def matches_content(self, first_line: str) -> bool:
        if first_line.startswith("#Version:"):
            return True
        if first_line.startswith("#Fields:"):
            return "x-edge-" in first_line or "cs-uri-stem" in first_line
        if first_line[:1] == "{":
            return '"x-edge-' in first_line or '"cs-uri-stem"' in first_line
        # A headerless legacy record: date, time, edge location, ... tab-separated.
        cells = first_line.split("\t", 3)
        return (
            len(cells) == 4
            and first_line.count("\t") >= 20
            and _TIMESTAMP.fullmatch(f"{cells[0]}T{cells[1]}") is not None
        )

    def new_parser(self) -> _Parser:
        return _Parser()

    def parquet_names(self, columns: list[str]) -> list[str]:
        return [_PARQUET_NAMES.get(column, column) for column in columns]


FORMAT = CloudFrontFormat()
