"""ALB access logs: 25 fields (2018) to 36 (2026), unknown trailing fields kept.

https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817
10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1"
"curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:...:targetgroup/...
"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:...:certificate/..." 1
2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-"
TID_d7917035eabacb42bea251b01fb60ab4 "-" "-" "-" 100.51.96.60 "-" "-"

Times are UTC with microseconds. `-` (quoted or not) is the null marker; the three timing
fields say `-1` when the request could not be dispatched, which is absent here too.

The helpers every ELB text format shares (the quote-aware tokenizer, the request line, TLS
names, times) live here too; `alb_connection` and `clb` import them.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from functools import lru_cache

from ..model import ParseError, Source
from .base import (
    DATE,
    FLOAT,
    INTEGER,
    IP,
    KEYWORD,
    LONG,
    LineFormat,
    obj,
    tls_version,
)

# -- shared ELB helpers -------------------------------------------------------------------

# Slow-path tokenizer, for lines with a backslash or an unbalanced quote. Possessive
# quantifiers and a quoted field that may end at the end of the line keep it linear on
# hostile input: no position is ever scanned twice.
_TOKEN = re.compile(r'"((?:[^"\\]++|\\.?)*+)(?:"|$)|([^\s"]++)', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)

_ISO_UTC = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?Z"
).fullmatch

# ssl_protocol as ELB writes it -> (ECS tls.version_protocol, tls.version)
TLS_PROTOCOLS = {
    "TLSv1": ("tls", "1.0"),
    "TLSv1.1": ("tls", "1.1"),
    "TLSv1.2": ("tls", "1.2"),
    "TLSv1.3": ("tls", "1.3"),
    "SSLv3": ("ssl", "3.0"),
}


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
    """Whether an ELB time is ISO-8601 UTC (`Z`) and a real date: it names a daily index."""
    if _ISO_UTC(value) is None:
        return False
    if value[8:10] >= "29":  # the pattern lets 02-30 and 04-31 through: ask the calendar
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


def host_port(value: str, field: str) -> tuple[str, int]:
    """Split "ip:port" on the last colon (ELB writes IPv6 addresses without brackets)."""
    host, _, port = value.rpartition(":")
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
        known = TLS_PROTOCOLS.get(protocol)
        if known is None:
            version = tls_version(protocol)
            known = ("tls", version) if version else None
        if known is None:
            elb["ssl_protocol"] = protocol
        else:
            tls["version_protocol"], tls["version"] = known


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


# -- ALB ----------------------------------------------------------------------------------

MIN_FIELDS = 25  # 2018-2019 lines end at error_reason
# type names an ALB line starts with
ALB_TYPES = frozenset(("http", "https", "h2", "grpcs", "ws", "wss"))
_NO_TIME = ("-1", "-")
_NUMBERS = (
    (5, "request_processing_time"),
    (6, "target_processing_time"),
    (7, "response_processing_time"),
    (8, "elb_status_code"),
    (9, "target_status_code"),
    (10, "received_bytes"),
    (11, "sent_bytes"),
    (20, "matched_rule_priority"),
)
# Fields 28-33 (from 2020 on): kept verbatim, absent when "-".
_LATER_FIELDS = (
    (27, "classification"),
    (28, "classification_reason"),
    (29, "conn_trace_id"),
    (30, "transformed_host"),
    (31, "transformed_uri"),
    (32, "request_transform_status"),
)
NODE_IP = 33


class AlbFormat(LineFormat):
    name = "alb"
    index_source = "alb"
    # .../elasticloadbalancing/<region>/YYYY/MM/DD/<acct>_elasticloadbalancing_<region>_app.<lb>.
    # <id>_<end>_<node-ip>_<rand>.log.gz; anchored on the file name so that connection logs
    # (conn_log.<acct>_...) do not match.
    key_pattern = re.compile(r"(?:^|/)[0-9]{12}_elasticloadbalancing_[^_/]+_app\.[^/]+$")
    mapping = {
        "aws": obj(
            elb=obj(
                type=KEYWORD,
                name=KEYWORD,
                request_processing_time_s=FLOAT,
                target_processing_time_s=FLOAT,
                response_processing_time_s=FLOAT,
                target_status_code=INTEGER,
                received_bytes=LONG,
                sent_bytes=LONG,
                ssl_protocol=KEYWORD,
                target_group_arn=KEYWORD,
                domain_name=KEYWORD,
                chosen_cert_arn=KEYWORD,
                matched_rule_priority=INTEGER,
                request_creation_time=DATE,
                actions_executed=KEYWORD,
                redirect_url=KEYWORD,
                error_reason=KEYWORD,
                target_port_list=KEYWORD,
                target_status_code_list=KEYWORD,
                classification=KEYWORD,
                classification_reason=KEYWORD,
                conn_trace_id=KEYWORD,
                transformed_host=KEYWORD,
                transformed_uri=KEYWORD,
                request_transform_status=KEYWORD,
                node_ip=IP,
                unparsed_tail=KEYWORD,
            )
        )
    }

    def matches_content(self, first_line: str) -> bool:
        fields = first_line.split(" ", 3)
        return (
            len(fields) == 4
            and fields[0] in ALB_TYPES
            and is_iso_utc(fields[1])
            and fields[2].startswith("app/")
        )

    def parse_line(self, line: str) -> Source:
        t = tokenize(line)
        n = len(t)
        if n < MIN_FIELDS:
            raise ParseError(f"expected at least {MIN_FIELDS} fields, got {n}")
        timestamp = iso_utc(t[1], "time")
        client_ip, client_port = host_port(t[3], "client:port")
        try:
            status = None if t[8] == "-" else int(t[8])
            target_status = None if t[9] == "-" else int(t[9])
            received = None if t[10] == "-" else int(t[10])
            sent = None if t[11] == "-" else int(t[11])
            request_time = None if t[5] in _NO_TIME else float(t[5])
            target_time = None if t[6] in _NO_TIME else float(t[6])
            response_time = None if t[7] in _NO_TIME else float(t[7])
            # -1 is a value here: rule evaluation failed. The AWS docs once printed
            # `"-"1` (no space before this field): the tokenizer ends a field at its closing
            # quote, so that line reads as the docs meant it, priority 1, not a rejection.
            priority = None if t[20] == "-" else int(t[20])
        except ValueError:
            raise ParseError(number_error(t, _NUMBERS)) from None

        elb: Source = {}
        if t[0] != "-":
            elb["type"] = t[0]
        if t[2] != "-":
            elb["name"] = t[2]
        if request_time is not None:
            elb["request_processing_time_s"] = request_time
        if target_time is not None:
            elb["target_processing_time_s"] = target_time
        if response_time is not None:
            elb["response_processing_time_s"] = response_time
        if target_status is not None:
            elb["target_status_code"] = target_status
        if received is not None:
            elb["received_bytes"] = received
        if sent is not None:
            elb["sent_bytes"] = sent
        doc: Source = {
            "@timestamp": timestamp,
            "event": {"dataset": "aws.alb", "kind": "event"},
            "source": {"ip": client_ip, "port": client_port},
            "http": {"response": {"status_code": status}} if status is not None else {},
            "aws": {"elb": elb},
        }
        if t[4] != "-":
            target_ip, target_port = host_port(t[4], "target:port")
            doc["destination"] = {"ip": target_ip, "port": target_port}
        request_into(doc, t[12])
        if t[13] != "-":
            doc["user_agent"] = {"original": t[13]}
        tls: Source = {}
        tls_into(tls, elb, t[14], t[15])
        if t[16] != "-":
            elb["target_group_arn"] = t[16]
        if t[17] != "-":
            doc["trace"] = {"id": t[17]}
        if t[18] != "-":
            elb["domain_name"] = t[18]
            tls["client"] = {"server_name": t[18]}
        if tls:
            doc["tls"] = tls
        if t[19] != "-":
            elb["chosen_cert_arn"] = t[19]  # or "session-reused"
        if priority is not None:
            elb["matched_rule_priority"] = priority
        if t[21] != "-":
            elb["request_creation_time"] = iso_utc(t[21], "request_creation_time")
        if t[22] != "-":
            elb["actions_executed"] = t[22].split(",")
        if t[23] != "-":
            elb["redirect_url"] = t[23]
        if t[24] != "-":
            elb["error_reason"] = t[24]
        if n > 25:
            self._later_fields(t, n, elb)
        if not doc["http"]:
            del doc["http"]
        if not elb:  # every field was a null marker
            del doc["aws"]
        return doc

    @staticmethod
    def _later_fields(t: list[str], n: int, elb: Source) -> None:
        # Quoted "ip:port ip:port" and "200 200"; peers also show them unquoted, one item.
        if t[25] != "-":
            elb["target_port_list"] = t[25].split()
        if n > 26 and t[26] != "-":
            elb["target_status_code_list"] = t[26].split()
        for i, key in _LATER_FIELDS:
            if i >= n:
                return
            if t[i] != "-":
                elb[key] = t[i]
        tail = NODE_IP
        # The LB node's IP (2026): unquoted. Anything else there is an unknown field.
        if n > NODE_IP and looks_like_ip(t[NODE_IP]):
            elb["node_ip"] = t[NODE_IP]
            tail += 1
        if n > tail:
            elb["unparsed_tail"] = t[tail:]


FORMAT = AlbFormat()
