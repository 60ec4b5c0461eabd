"""S3 server access logs: space-separated, with quoted and bracketed fields.

79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1
[06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d52...
3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 -
"-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=
SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.1

Objects are plain text (not gzipped) with keys without an extension. The time is bracketed with
a space inside; Request-URI, Referer and User-Agent are quoted (and contain spaces and commas);
any field can be `-`, and Request-URI is an unquoted `-` for BATCH.DELETE.OBJECT. The first 17
fields (to User-Agent) are the original set of 2006; Version Id came with versioning, and fields
were added at the end since, and more may come (kept). A record is read from 17 fields up: the
fields a shorter (older) record lacks are absent from its document, not null and not a rejection.
The time's offset is S3's own `+0000` in every record seen; any other is converted to UTC.
"""

from __future__ import annotations

import re
from datetime import datetime

from ..model import ParseError, Source
from .base import BOOLEAN, KEYWORD, LONG, TLS_VERSIONS, LineFormat, obj, tls_version
from .times import canonical, is_real_date, offset_minutes, to_utc

MIN_FIELDS = 17  # records of 2006: the fields to User-Agent
KNOWN_FIELDS = 26
# Lines are split on quotes first (fast, in C). Lines with escaped or unbalanced quotes go
# through this pattern instead: a quoted string (with \" escapes), a bracketed time, or a run
# of non-spaces. The alternatives start with different characters: no backtracking across them.
_TOKEN = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"|\[([^\]]*)\]|(\S+)')
_MONTHS = {
    "Jan": "01",
    "Feb": "02",
    "Mar": "03",
    "Apr": "04",
    "May": "05",
    "Jun": "06",
    "Jul": "07",
    "Aug": "08",
    "Sep": "09",
    "Oct": "10",
    "Nov": "11",
    "Dec": "12",
}
_CLOCK = re.compile(
    r"(?:0[1-9]|[12][0-9]|3[01])/[A-Z][a-z]{2}/[0-9]{4}"
    r":(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] [+-][0-9]{4}"
)
_IP_CHARS = "0123456789abcdefABCDEF.:"
_HEX = frozenset("0123456789abcdef")
# Positions of the numeric fields after Request-URI, with their names.
_LONGS = ((11, "bytes_sent"), (12, "object_size"), (13, "total_time"), (14, "turnaround_time"))
# Plain keyword fields: position -> aws.s3access.<name>.
_TEXTS = (
    (0, "bucket_owner"),
    (1, "bucket"),
    (4, "requester"),
    (5, "request_id"),
    (6, "operation"),
    (7, "key"),
    (10, "error_code"),
    (15, "referrer"),
    (17, "version_id"),
    (18, "host_id"),
    (19, "signature_version"),
    (20, "cipher_suite"),
    (21, "authentication_type"),
    (22, "host_header"),
    (23, "tls_version"),
    (24, "access_point_arn"),
)


def _tokens(line: str) -> list[str]:
    """The fields of a line, quotes and brackets removed (`\\"` inside quotes unescaped)."""
    parts = line.split('"')
    if len(parts) % 2 == 0 or '\\"' in line:  # unbalanced or escaped quotes: the careful way
        return _tokens_by_pattern(line)
    # Even parts are runs of bare fields, odd parts the insides of quoted fields.
    out = parts[0].split()
    for quoted, bare in zip(parts[1::2], parts[2::2], strict=True):
        out.append(quoted or "-")
        out.extend(bare.split())
    if len(out) > 3 and out[2][:1] == "[" and out[3][-1:] == "]":  # [dd/Mon/yyyy:... +0000]
        out[2:4] = [f"{out[2][1:]} {out[3][:-1]}"]
    return out


def _tokens_by_pattern(line: str) -> list[str]:
    out = []
    for quoted, bracketed, bare in _TOKEN.findall(line):
        if bare:
            out.append(bare)
        elif bracketed:
            out.append(bracketed)
        else:
            out.append(quoted.replace('\\"', '"') if "\\" in quoted else quoted or "-")
    return out


def _timestamp(value: str) -> str:
    """06/Feb/2019:00:00:38 +0000 -> 2019-02-06T00:00:38Z (other offsets converted to UTC)."""
    month = _MONTHS.get(value[3:6])
    if month is None or _CLOCK.fullmatch(value) is None:
        raise ParseError(f"time: expected [dd/Mon/yyyy:HH:MM:SS +zzzz], got {value[:40]!r}")
    day, year = value[0:2], value[7:11]
    # The pattern lets 30/Feb and year 0000 through: the calendar decides those.
    if (day >= "29" or year[0] == "0") and not is_real_date(f"{year}-{month}-{day}"):
        raise ParseError(
            f"time: no such date {value[:40]!r} (expected [dd/Mon/yyyy:HH:MM:SS +zzzz])"
        )
    if value.endswith(" +0000"):
        return f"{year}-{month}-{day}T{value[12:20]}Z"
    local = datetime(
        int(year), int(month), int(day), int(value[12:14]), int(value[15:17]), int(value[18:20])
    )
    offset = offset_minutes(value[21:], "time")
    return canonical(to_utc(local, offset, "time", value))


class S3AccessFormat(LineFormat):
    name = "s3access"
    index_source = "s3access"
    # <prefix>YYYY-mm-DD-HH-MM-SS-<16 uppercase hex>, optionally under the date-partitioned
    # <account>/<region>/<bucket>/YYYY/MM/DD/ prefix.
    key_pattern = re.compile(r"(?:^|/)\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}$")
    mapping = {
        "aws": obj(
            s3access=obj(
                **{name: KEYWORD for _, name in _TEXTS},
                **{name: LONG for _, name in _LONGS},
                remote_ip=KEYWORD,
                acl_required=BOOLEAN,
                request_uri=KEYWORD,
                unparsed_tail=KEYWORD,
            )
        )
    }

    def matches_content(self, first_line: str) -> bool:
        # <owner: hex canonical id> <bucket> [dd/Mon/yyyy:...
        f = first_line.split(" ", 3)
        return (
            len(f) == 4
            and len(f[0]) >= 4
            and set(f[0]) <= _HEX
            and f[2][:1] == "["
            and _CLOCK.match(f[2][1:] + " +0000") is not None
        )

    def parse_line(self, line: str) -> Source:
        t = _tokens(line)
        n = len(t)
        if n < MIN_FIELDS:
            raise ParseError(f"expected at least {MIN_FIELDS} fields, got {n}")
        if n < KNOWN_FIELDS:  # an older record: the fields added since are absent
            t.extend(["-"] * (KNOWN_FIELDS - n))
        # Fields 25 and 26 are recognised by their values (an ARN; "Yes"): a record whose
        # extra fields follow field 24 directly keeps them all as its tail.
        known = KNOWN_FIELDS
        if t[24] != "-" and not t[24].startswith("arn:"):
            known = 24
        elif t[25] != "-" and t[25] != "Yes":
            known = 25
        tail = " ".join(t[known:]) if n > known else None
        if known < KNOWN_FIELDS:
            t[known:KNOWN_FIELDS] = ["-"] * (KNOWN_FIELDS - known)

        s3: Source = {name: value for i, name in _TEXTS if (value := t[i]) != "-"}
        name = ""
        try:
            for i, name in _LONGS:
                value = t[i]
                if value != "-":
                    if len(value) > 18:
                        raise ValueError
                    s3[name] = int(value)
        except ValueError:
            raise ParseError(f"{name}: expected an integer, got {value[:40]!r}") from None
        if t[25] == "Yes":
            s3["acl_required"] = True
        if tail is not None:
            s3["unparsed_tail"] = tail

        event: Source = {"dataset": "aws.s3access", "kind": "event"}
        doc: Source = {"@timestamp": _timestamp(t[2]), "event": event, "aws": {"s3access": s3}}
        value = t[3]
        if value != "-":
            if value.strip(_IP_CHARS) or not (":" in value or "." in value):
                s3["remote_ip"] = value  # not an address: kept, but out of the ip field
            else:
                doc["source"] = {"ip": value}

        http: Source = {}
        value = t[9]
        if value != "-":
            if len(value) != 3 or not (value.isascii() and value.isdecimal()):
                raise ParseError(f"http_status: expected a 3-digit status, got {value[:40]!r}")
            status = int(value)
            http["response"] = {"status_code": status}
            event["outcome"] = "success" if status < 400 else "failure"
        value = t[8]
        if value != "-":
            # "GET /bucket/key?query HTTP/1.1": the URI is URL-encoded, so spaces split it.
            parts = value.split(" ")
            if len(parts) >= 3 and parts[-1].startswith("HTTP/"):
                http["request"] = {"method": parts[0]}
                http["version"] = parts[-1][5:]
                uri = " ".join(parts[1:-1])
                path, sep, query = uri.partition("?")
                url: Source = {"original": uri, "path": path}
                if sep:
                    url["query"] = query
                doc["url"] = url
            else:  # not a request line: kept as logged
                s3["request_uri"] = value
        if http:
            doc["http"] = http
        value = t[16]
        if value != "-":
            doc["user_agent"] = {"original": value}
        value = t[23]
        if value != "-":
            version = TLS_VERSIONS.get(value) or tls_version(value)
            if version is not None:
                doc["tls"] = {"version": version, "version_protocol": "tls"}
        value = t[20]
        if value != "-":
            doc.setdefault("tls", {})["cipher"] = value
        return doc


FORMAT = S3AccessFormat()
