"""CloudFront's field names: the legacy (W3C) header, the ECS and aws.cloudfront.* name of every
field, and the layout of a record worked out once per `#Fields` header (formats.cloudfront).
Compiled with it (layers/native/compile.py SHARED)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .base import FLOAT, KEYWORD, LONG

LEGACY_HEADER = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer)"
    " cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header"
    " cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher"
    " x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port"
    " time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len"
    " sc-range-start sc-range-end"
)
LEGACY_FIELDS = tuple(LEGACY_HEADER.split())

# Fields with an ECS home (read by position in `_build`), with their other spellings.
_ECS_NAMES = {
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "timestamp(ms)": "timestamp_ms",
    "c-ip": "c_ip",
    "c-port": "c_port",
    "cs-method": "method",
    "cs-uri-stem": "path",
    "cs-uri-query": "query",
    "x-host-header": "domain",
    "sc-status": "status",
    "cs(User-Agent)": "user_agent",
    "cs-user-agent": "user_agent",
    "ssl-protocol": "ssl_protocol",
    "ssl-cipher": "ssl_cipher",
    "cs-protocol-version": "protocol_version",
    "x-forwarded-for": "forwarded_for",
}
# The other known fields: aws.cloudfront.<name> and its type.
_AWS_FIELDS: dict[str, tuple[str, dict[str, Any]]] = {
    "x-edge-location": ("edge_location", KEYWORD),
    "sc-bytes": ("sc_bytes", LONG),
    "cs(Host)": ("distribution_domain", KEYWORD),
    "cs-host": ("distribution_domain", KEYWORD),
    "cs(Referer)": ("referrer", KEYWORD),
    "cs-referer": ("referrer", KEYWORD),
    "cs(Cookie)": ("cookie", KEYWORD),
    "cs-cookie": ("cookie", KEYWORD),
    "x-edge-result-type": ("edge_result_type", KEYWORD),
    "x-edge-request-id": ("edge_request_id", KEYWORD),
    "cs-protocol": ("protocol", KEYWORD),
    "cs-bytes": ("cs_bytes", LONG),
    "time-taken": ("time_taken", FLOAT),
    "x-edge-response-result-type": ("edge_response_result_type", KEYWORD),
    "fle-status": ("fle_status", KEYWORD),
    "fle-encrypted-fields": ("fle_encrypted_fields", LONG),
    "time-to-first-byte": ("time_to_first_byte", FLOAT),
    "x-edge-detailed-result-type": ("edge_detailed_result_type", KEYWORD),
    "sc-content-type": ("content_type", KEYWORD),
    "sc-content-len": ("content_length", LONG),
    "sc-range-start": ("range_start", LONG),
    "sc-range-end": ("range_end", LONG),
    "c-country": ("country", KEYWORD),
    "asn": ("asn", LONG),
    "origin-fbl": ("origin_fbl", FLOAT),
    "origin-lbl": ("origin_lbl", FLOAT),
    "cache-behavior-path-pattern": ("cache_behavior_path_pattern", KEYWORD),
    "distributionid": ("distribution_id", KEYWORD),
    "distribution-tenant-id": ("distribution_tenant_id", KEYWORD),
    "connection-id": ("connection_id", KEYWORD),
    "c-ip-version": ("ip_version", KEYWORD),
}
_KIND_OF_KEY = {key: kind for key, kind in _AWS_FIELDS.values()}
# Keys `_build` writes itself: a field whose name cleans up to one of them is renamed.
_RESERVED_KEYS = frozenset(
    ("client_closed", "ssl_protocol", "ssl_cipher", "forwarded_for", "unparsed_tail")
)
_CLEAN_NAME = re.compile(r"[^a-z0-9]+")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
)
_IP_CHARS = "0123456789abcdefABCDEF.:"
# Delimiters a v2 W3C/plain object may use besides tab, in the order they are tried.
_DELIMITERS = (" ", ",", "|", ";")
_ABSENT = -1  # index of the "-" appended to every record: where absent fields point


def _aws_key(name: str) -> str:
    """aws.cloudfront.<key> for a field name nobody declared: cs(Accept) -> cs_accept."""
    return _CLEAN_NAME.sub("_", name.lower()).strip("_")


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each field sits in a record of one `#Fields` header, worked out once."""

    width: int
    texts: tuple[tuple[int, str], ...]
    longs: tuple[tuple[int, str], ...]
    floats: tuple[tuple[int, str], ...]
    date: int
    time: int
    timestamp: int
    timestamp_ms: int
    c_ip: int
    c_port: int
    method: int
    path: int
    query: int
    domain: int
    status: int
    user_agent: int
    ssl_protocol: int
    ssl_cipher: int
    protocol_version: int
    forwarded_for: int

    @classmethod
    def of(cls, names: Iterable[str]) -> Layout:
        names = list(names)
        ecs: dict[str, int] = {}
        texts: list[tuple[int, str]] = []
        longs: list[tuple[int, str]] = []
        floats: list[tuple[int, str]] = []
        taken = set(_RESERVED_KEYS)
        for i, name in enumerate(names):
            slot = _ECS_NAMES.get(name)
            if slot is not None:
                ecs.setdefault(slot, i)
                continue
            known = _AWS_FIELDS.get(name)
            key = known[0] if known else _aws_key(name)
            if not key:
                key = f"field_{i}"
            elif key in taken:  # a repeated name, or one colliding with a key of ours
                key = f"{key}_{i}"
            taken.add(key)
            kind = _KIND_OF_KEY.get(key, KEYWORD)
            (longs if kind is LONG else floats if kind is FLOAT else texts).append((i, key))
        at = ecs.get
        return cls(
            width=len(names),
            texts=tuple(texts),
            longs=tuple(longs),
            floats=tuple(floats),
            date=at("date", _ABSENT),
            time=at("time", _ABSENT),
            timestamp=at("timestamp", _ABSENT),
            timestamp_ms=at("timestamp_ms", _ABSENT),
            c_ip=at("c_ip", _ABSENT),
            c_port=at("c_port", _ABSENT),
            method=at("method", _ABSENT),
            path=at("path", _ABSENT),
            query=at("query", _ABSENT),
            domain=at("domain", _ABSENT),
            status=at("status", _ABSENT),
            user_agent=at("user_agent", _ABSENT),
            ssl_protocol=at("ssl_protocol", _ABSENT),
            ssl_cipher=at("ssl_cipher", _ABSENT),
            protocol_version=at("protocol_version", _ABSENT),
            forwarded_for=at("forwarded_for", _ABSENT),
        )


LEGACY_LAYOUT = Layout.of(LEGACY_FIELDS)
