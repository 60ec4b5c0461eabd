"""What the ELB access-log formats share: ALB's, ALB connection's and CLB's quote-aware
tokenizer, their request line, TLS names and times, ip:port and port fields; NLB's times.

Invariants: `tokenize` gives the fields `tokenize_exact` gives wherever both apply (the tests
hold them to it); `is_iso_utc` is the check of times.is_canonical_utc, kept here for the
compiled parsers' hot path. This module is compiled with the formats that import it
(layers/native/compile.py), so their calls into it stay calls between compiled functions: it
keeps to what mypyc compiles faithfully.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from functools import lru_cache

from ..model import ParseError, Source
from .base import TLS_VERSIONS, tls_version

# Slow-path tokenizer, for lines with a backslash or an unbalanced quote. Possessive
# quantifiers and a quoted field that may end at the end of the line keep it linear on
# hostile input: no position is ever scanned twice.
_TOKEN = re.compile(r'"((?:[^"\\]++|\\.?)*+)(?:"|$)|([^\s"]++)', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)

_ISO_UTC = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z"
).fullmatch


def tokenize(line: str) -> list[str]:
    """The fields of a line of space-separated, optionally double-quoted fields, unquoted.

    Fast path: split on the quotes; odd parts are quoted fields, even parts hold the bare
    fields between them. A closing quote always ends a field, even when no space follows it
    (the AWS docs' `"-"1`, see AlbFormat). A line with a backslash (`\\"` escapes) or an odd
    number of quotes takes `tokenize_exact`.
    """
    if "\\" not in line:
        parts = line.split('"')
        if len(parts) & 1:
            fields = parts[0].split()
            append = fields.append
            # The quoted field before each `between` is parts[i]: indexing it beats zipping two
            # slices (42.9k -> 38.6k instructions for a 36-field ALB line).
            i = 1
            for between in parts[2::2]:
                append(parts[i])
                i += 2
                if between != " ":
                    fields += between.split()
            return fields
    return tokenize_exact(line)


def tokenize_exact(line: str) -> list[str]:
    """`tokenize` by regex: resolves `\\"` and `\\\\` inside quotes, and reads an unterminated
    quote to the end of the line. Gives the same fields as the fast path where both apply."""
    return [
        bare or (_ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted)
        for quoted, bare in _TOKEN.findall(line)
    ]


def is_iso_utc(value: str) -> bool:
    """Whether an ELB time is canonical UTC (`YYYY-MM-DDTHH:MM:SS[.f]Z`, 1 to 6 fraction
    digits, ASCII digits) and a real date: it is @timestamp as it is, and names a daily index.
    The same check as times.is_canonical_utc, here for the compiled line parsers."""
    if _ISO_UTC(value) is None:
        return False
    # The pattern lets 02-30, 04-31 and year 0000 through: ask the calendar.
    if value[8:10] >= "29" or value[0] == "0":
        try:
            date.fromisoformat(value[:10])
        except ValueError:
            return False
    return True


def iso_utc(value: str, field: str) -> str:
    """An ELB time, checked (see is_iso_utc)."""
    if not is_iso_utc(value):
        raise ParseError(f"{field}: expected YYYY-MM-DDTHH:MM:SS.ffffffZ, got {value[:40]!r}")
    return value


def host_port(value: str, field: str = "", strict: bool = True) -> tuple[str, int]:
    """Split "ip:port" on the last colon (ELB writes IPv6 addresses without brackets); the
    reason for a bad value names `field`, when given.

    Strict (ALB, CLB): a host that is not the null marker, a port of 0 to 65535 in ASCII digits.
    Not strict (NLB, which checks its fields inline and comes here for the reason of a bad
    one): a host, and a port of decimal digits.
    """
    host, _, port = value.rpartition(":")
    if not strict:
        if not host or not port.isdecimal():
            where = f"{field}: " if field else ""
            raise ParseError(f"{where}expected ip:port, got {value[:80]!r}")
        return host, int(port)
    if not host or host == "-" or not port.isdecimal() or not port.isascii() or len(port) > 5:
        raise ParseError(f"{field}: expected ip:port, got {value[:80]!r}")
    number = int(port)
    if number > 65535:
        raise ParseError(f"{field}: port out of range in {value[:80]!r}")
    return host, number


def port(value: str, field: str) -> int:
    if not value.isdecimal() or not value.isascii() or len(value) > 5 or int(value) > 65535:
        raise ParseError(f"{field}: expected a port number, got {value[:40]!r}")
    return int(value)


@lru_cache(maxsize=512)
def looks_like_ip(value: str) -> bool:
    # Cached: the values checked here (LB node IPs) repeat on every line of an object.
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def number_error(fields: list[str], positions: tuple[tuple[int, str], ...]) -> str:
    """The reason for a numeric field that did not convert (the slow path of a rejection)."""
    for i, name in positions:
        value = fields[i]
        if value in ("-", "-1"):
            continue
        try:
            float(value)
        except ValueError:
            return f"{name}: expected a number, got {value[:40]!r}"
    return "a numeric field is not a number"


def tls_into(tls: Source, elb: Source, cipher: str, protocol: str) -> None:
    """ECS tls.* from ELB's ssl_cipher and ssl_protocol; an unknown protocol kept raw."""
    if cipher != "-":
        tls["cipher"] = cipher
    if protocol != "-":
        version = TLS_VERSIONS.get(protocol) or tls_version(protocol)
        if version is not None:
            tls["version_protocol"], tls["version"] = "tls", version
        elif protocol == "SSLv3":  # ELB's only SSL: ECS names it ssl 3.0
            tls["version_protocol"], tls["version"] = "ssl", "3.0"
        else:
            elb["ssl_protocol"] = protocol


def request_into(doc: Source, request: str) -> None:
    """http.request.method, url.*, http.version from a logged request line.

    The URI is logged as the client sent it, raw spaces included, so the method is the first
    word and the protocol the last, when that looks like one (`"GET http://h:80/a"` has none).
    Malformed requests are logged as `"- http://host:80- -"`, `"- - -"` (`"- - - "` by CLB).
    """
    method, _, rest = request.strip().partition(" ")
    url, sep, protocol = rest.rpartition(" ")
    version = None
    if protocol.startswith("HTTP/"):
        version = protocol[5:]
    elif protocol != "-" or not sep:
        url = rest
    http: Source = doc["http"]
    if method and method != "-":
        http["request"] = {"method": method}
    if version:
        http["version"] = version
    if not url or url == "-":
        return
    parts: Source = {"original": url}
    path = url if url[0] == "/" else ""
    start = url.find("://") + 3
    if start > 3:
        slash = url.find("/", start)
        if slash < 0:
            authority = url[start:]
        else:
            authority, path = url[start:slash], url[slash:]
        # host:port; an IPv6 host is bracketed ([2001:db8::1]:443)
        if ":" in authority and authority[-1] != "]":
            host = authority.rpartition(":")[0]
        else:
            host = authority
        if host:
            parts["domain"] = host.strip("[]") if host[0] == "[" else host
    if path:
        path, sep, query = path.partition("?")
        parts["path"] = path
        if query:
            parts["query"] = query
    doc["url"] = parts
