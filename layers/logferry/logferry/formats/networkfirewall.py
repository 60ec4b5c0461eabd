"""AWS Network Firewall logs (alert, flow, TLS): one JSON object a line, Suricata EVE inside.

{"firewall_name":"test-firewall","availability_zone":"us-east-1b","event_timestamp":"1602627001",
 "event":{"timestamp":"2020-10-13T22:10:01.006481+0000","flow_id":1582438383425873,"event_type":
 "alert","src_ip":"203.0.113.4","src_port":55555,"dest_ip":"192.0.2.16","dest_port":111,"proto":
 "TCP","alert":{"action":"allowed","signature_id":5,"rev":0,"signature":"test_tcp","category":"",
 "severity":1}}}

Delivered every 5 minutes to AWSLogs/<acct>/network-firewall/{alert,flow,tls}/<region>/<fw>/
YYYY/MM/DD/HH/<acct>_network-firewall_<type>_<region>_<fw>_<time>_<hash>.log.gz (the time
YYYYMMDDTHHMMZ, or YYYYMMDDHHMM in AWS's own example), or through CloudWatch Logs or Firehose.

- @timestamp is the event's own `timestamp` (microseconds and a `+0000` offset, kept to the
  millisecond); `event_timestamp` (epoch seconds, a string or a number) when it is missing.
- The record kind is `event_type`: alert (event.kind alert), netflow (a one-directional flow:
  bytes and packets are the source's, start and end become event.start/end); TLS log records
  have no event_type and are typed `tls` here. Ports may be quoted (TLS records): read as numbers.
- event.action is the alert's action as the log writes it (allowed, blocked, rejected), or a
  revocation check's (DROP): an engine's verdict, not rewritten. rule.id is the signature id,
  rule.name the signature, rule.category and event.severity (Suricata's 1 = highest) as given.
- The firewall is the observer (observer.name) in an availability zone (cloud.availability_zone).
- HTTP/1 requests give url.domain (host), url.original (as sent), method, user agent, version;
  HTTP/2 requests carry them as pseudo-headers (`:authority`, `:path`, `:method`), read the
  same way. TLS gives the SNI (tls.client.server_name), version and the server certificate.
- `aws_category` (URL and domain category filtering) is a JSON array written as a string: a
  keyword list here. Everything else of the event is kept in aws.networkfirewall.extra.
Rejected alternative: indexing the EVE event as one flat_object: the fields analysts filter on
(addresses, ports, signature) must be typed, and the rest varies with app_proto.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from ..model import ParseError, Source
from .base import BOOLEAN, DATE, INTEGER, KEYWORD, LONG, obj
from .cloudtrail_records import ip_or_none, iso_time
from .jsonlines import JsonLinesFormat, as_int, as_text, keep_extra
from .jsonstream import FLAT, check_serialisable, pick
from .times import canonical

_KNOWN_EVENT = frozenset(
    [
        "timestamp", "event_type", "src_ip", "src_port", "dest_ip", "dest_port", "proto",
        "flow_id", "app_proto", "alert", "netflow", "http", "tls", "sni", "direction",
        "verdict", "revocation_check", "aws_category", "tls_inspected", "pkt_src", "tcp",
    ]
)  # fmt: skip
_KNOWN = frozenset(
    ["firewall_name", "availability_zone", "event_timestamp", "event", "aws_category"]
)
_IANA = {"tcp": "6", "udp": "17", "icmp": "1", "ipv6-icmp": "58", "sctp": "132"}
_EPOCH_MAX = 253402300800  # 9999-12-31 and later is not a time anyone will search
_HTTP_KEYWORDS = (("hostname", "domain"), ("url", "original"))
_TLS_SERVER = (("subject", "subject"), ("issuerdn", "issuer"))
_NFW_TLS = (("serial", "serial"), ("fingerprint", "fingerprint"), ("version", "version"))
_ALERT_KEYS = frozenset(["action", "severity", "signature_id", "signature", "category", "rev"])
# What _http and _tls read; the rest of those objects (headers, ja3, ...) goes to `extra`.
_HTTP_READ = frozenset(
    ["hostname", "url", "http_method", "http_user_agent", "protocol", "version", "status", "length"]
)
_TLS_READ = frozenset(
    ["sni", "version", "subject", "issuerdn", "notbefore", "notafter", "serial", "fingerprint"]
)
_REVOCATION = (("leaf_cert_fpr", "leaf_cert_fpr"), ("status", "status"), ("action", "action"))


def _epoch_seconds(value: Any) -> str | None:
    seconds = as_int(value, "event_timestamp", _EPOCH_MAX - 1)
    if seconds is None:
        return None
    return canonical(datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None))


def _time(record: dict[str, Any], event: dict[str, Any]) -> str:
    stamp = event.get("timestamp")
    if stamp is not None:
        found = iso_time(stamp)
        if found is None:
            raise ParseError(f"event.timestamp: expected an ISO 8601 time, got {str(stamp)[:40]!r}")
        return found
    found = _epoch_seconds(record.get("event_timestamp"))
    if found is None:
        raise ParseError("no time: neither event.timestamp nor event_timestamp")
    return found


def _endpoint(event: dict[str, Any], ip_key: str, port_key: str) -> Source:
    out: Source = {}
    address = as_text(event.get(ip_key))
    if address is not None:
        out["address"] = address
        if ip_or_none(address) is not None:
            out["ip"] = address
    port = as_int(event.get(port_key), port_key, 65535)
    if port is not None:
        out["port"] = port
    return out


def _alert(alert: dict[str, Any], doc: Source) -> None:
    event = doc["event"]
    event["kind"] = "alert"
    action = as_text(alert.get("action"))
    if action is not None:
        event["action"] = action
    severity = as_int(alert.get("severity"), "alert.severity", 2**31 - 1)
    if severity is not None:
        event["severity"] = severity
    rule = pick(alert, (("signature_id", "id"), ("signature", "name"), ("category", "category")))
    rev = as_text(alert.get("rev"))
    if rev is not None:
        rule["version"] = rev
    if rule:
        doc["rule"] = rule


def _netflow(flow: dict[str, Any], doc: Source, nfw: Source) -> None:
    packets = as_int(flow.get("pkts"), "netflow.pkts")
    size = as_int(flow.get("bytes"), "netflow.bytes")
    network = doc.setdefault("network", {})
    source = doc.setdefault("source", {})
    if packets is not None:
        network["packets"] = source["packets"] = packets
    if size is not None:
        network["bytes"] = source["bytes"] = size
    for key in ("start", "end"):
        value = flow.get(key)
        if value is not None:
            moment = iso_time(value)
            if moment is None:
                got = str(value)[:40]
                raise ParseError(f"netflow.{key}: expected an ISO 8601 time, got {got!r}")
            doc["event"][key] = moment
    for key in ("age", "min_ttl", "max_ttl"):
        number = as_int(flow.get(key), f"netflow.{key}", 2**31 - 1)
        if number is not None:
            nfw[key] = number


def _http(http: dict[str, Any], doc: Source) -> None:
    url = pick(http, _HTTP_KEYWORDS)
    method = as_text(http.get("http_method"))
    agent = as_text(http.get("http_user_agent"))
    headers = http.get("request_headers")
    if type(headers) is list:  # HTTP/2: the request line is in pseudo-headers
        for header in headers:
            if type(header) is not dict:
                continue
            name, value = header.get("name"), as_text(header.get("value"))
            if value is None:
                continue
            if name == ":authority":
                url.setdefault("domain", value)
            elif name == ":path":
                url.setdefault("original", value)
            elif name == ":method" and method is None:
                method = value
    original = url.get("original")
    if original is not None and original.startswith("/"):
        path, _, query = original.partition("?")
        url["path"] = path
        if query:
            url["query"] = query
    if url:
        doc["url"] = url
    out: Source = {}
    if method is not None:
        out["request"] = {"method": method}
    version = as_text(http.get("protocol")) or as_text(http.get("version"))
    if version is not None:
        out["version"] = version.removeprefix("HTTP/")
    status = as_int(http.get("status"), "http.status", 999)
    if status is not None:
        out["response"] = {"status_code": status}
    length = as_int(http.get("length"), "http.length")
    if length is not None:
        out.setdefault("response", {})["bytes"] = length
    if out:
        doc["http"] = out
    if agent is not None:
        doc["user_agent"] = {"original": agent}


def _tls(tls: dict[str, Any], doc: Source, nfw: Source) -> None:
    out: Source = doc.setdefault("tls", {})
    sni = as_text(tls.get("sni"))
    if sni is not None:
        out.setdefault("client", {})["server_name"] = sni
    version = as_text(tls.get("version"))
    if version is not None and version.startswith("TLS "):  # "TLS 1.2"; UNDETERMINED is kept raw
        out["version"] = version[4:]
        out["version_protocol"] = "tls"
    server = pick(tls, _TLS_SERVER)
    for key, name in (("notbefore", "not_before"), ("notafter", "not_after")):
        moment = iso_time(tls.get(key))
        if moment is not None:
            server[name] = moment
    if server:
        out["server"] = server
    kept = pick(tls, _NFW_TLS)
    if kept:
        nfw["tls"] = kept
    if not out:
        del doc["tls"]


def _categories(value: Any) -> list[str] | None:
    """aws_category: ["Search Engines and Portals"], written as a string holding JSON."""
    if type(value) is str:
        try:
            value = json.loads(value)
        except ValueError:
            return [value] if value else None
    if type(value) is list:
        return [item for item in value if type(item) is str and item] or None
    return None


def parse_record(record: Any, text: str) -> Source:
    """The ECS document for one Network Firewall log record (`text` is its JSON)."""
    if type(record) is not dict:
        raise ParseError(f"expected a JSON object, got {type(record).__name__}")
    event = record.get("event")
    if type(event) is not dict:
        raise ParseError("event missing: not a Network Firewall log record")
    kind = as_text(event.get("event_type")) or "tls"
    doc: Source = {
        "@timestamp": _time(record, event),
        "event": {"dataset": "aws.networkfirewall", "kind": "event"},
    }
    nfw: Source = {"event_type": kind}
    flow_id = as_text(event.get("flow_id"))
    if flow_id is not None:
        nfw["flow_id"] = flow_id
    observer = as_text(record.get("firewall_name"))
    if observer is not None:
        doc["observer"] = {"name": observer, "type": "firewall", "vendor": "AWS"}
    zone = as_text(record.get("availability_zone"))
    if zone is not None:
        doc["cloud"] = {"availability_zone": zone}
    source = _endpoint(event, "src_ip", "src_port")
    if source:
        doc["source"] = source
    destination = _endpoint(event, "dest_ip", "dest_port")
    if destination:
        doc["destination"] = destination
    proto = as_text(event.get("proto"))
    if proto is not None:
        network: Source = {"transport": proto.lower()}
        number = _IANA.get(network["transport"])
        if number is not None:
            network["iana_number"] = number
        doc["network"] = network
    app = as_text(event.get("app_proto"))
    if app is not None and app != "failed":
        doc.setdefault("network", {})["protocol"] = app.lower()

    parts = {key: event.get(key) for key in ("alert", "netflow", "http", "tls")}
    if type(parts["alert"]) is dict:
        _alert(parts["alert"], doc)
    if type(parts["netflow"]) is dict:
        _netflow(parts["netflow"], doc, nfw)
    if type(parts["http"]) is dict:
        _http(parts["http"], doc)
    if type(parts["tls"]) is dict:
        _tls(parts["tls"], doc, nfw)
    sni = as_text(event.get("sni"))  # TLS log records name it at the top
    if sni is not None:
        doc.setdefault("tls", {}).setdefault("client", {})["server_name"] = sni
    check = event.get("revocation_check")
    if type(check) is dict:
        picked = pick(check, _REVOCATION)
        if picked:
            nfw["revocation_check"] = picked
            if "action" in picked:
                doc["event"].setdefault("action", picked["action"])
    verdict = event.get("verdict")
    verdict_action = as_text(verdict.get("action")) if type(verdict) is dict else None
    if verdict_action is not None:
        nfw["verdict_action"] = verdict_action
    nfw.update(pick(event, (("direction", "direction"), ("pkt_src", "pkt_src"))))
    categories = _categories(event.get("aws_category") or record.get("aws_category"))
    if categories:
        nfw["aws_category"] = categories
    if type(event.get("tls_inspected")) is bool:
        nfw["tls_inspected"] = event["tls_inspected"]
    tcp = event.get("tcp")
    flags = as_text(tcp.get("tcp_flags")) if type(tcp) is dict else None
    if flags is not None:
        nfw["tcp_flags"] = flags

    rest = {k: v for k, v in event.items() if k not in _KNOWN_EVENT}
    rest.update((k, v) for k, v in record.items() if k not in _KNOWN)
    for key, read in (("alert", _ALERT_KEYS), ("http", _HTTP_READ), ("tls", _TLS_READ)):
        part = parts[key]
        if type(part) is dict and not read.issuperset(part):
            rest[key] = {k: v for k, v in part.items() if k not in read}
    if type(tcp) is dict:
        rest["tcp"] = tcp
    keep_extra(rest, text, nfw)
    doc["aws"] = {"networkfirewall": nfw}
    check_serialisable(doc, text)
    return doc


class NetworkFirewallFormat(JsonLinesFormat):
    name = "networkfirewall"
    index_source = "networkfirewall"
    key_pattern = re.compile(
        r"(?:^|/)network-firewall/(?:alert|flow|tls)/|_network-firewall_(?:alert|flow|tls)_"
    )
    mapping = {
        "event": obj(severity=LONG),
        "rule": obj(id=KEYWORD, name=KEYWORD, category=KEYWORD, version=KEYWORD),
        "observer": obj(name=KEYWORD, type=KEYWORD, vendor=KEYWORD),
        "cloud": obj(availability_zone=KEYWORD),
        "network": obj(protocol=KEYWORD),
        "tls": obj(server=obj(subject=KEYWORD, issuer=KEYWORD, not_before=DATE, not_after=DATE)),
        "aws": obj(
            networkfirewall=obj(
                event_type=KEYWORD,
                flow_id=KEYWORD,
                age=INTEGER,
                min_ttl=INTEGER,
                max_ttl=INTEGER,
                tcp_flags=KEYWORD,
                direction=KEYWORD,
                pkt_src=KEYWORD,
                verdict_action=KEYWORD,
                aws_category=KEYWORD,
                tls_inspected=BOOLEAN,
                tls=obj(serial=KEYWORD, fingerprint=KEYWORD, version=KEYWORD),
                revocation_check=obj(leaf_cert_fpr=KEYWORD, status=KEYWORD, action=KEYWORD),
                extra=FLAT,
                truncated_fields=KEYWORD,
            )
        ),
    }

    def matches_content(self, first_line: str) -> bool:
        return (
            first_line.lstrip().startswith("{")
            and '"firewall_name"' in first_line
            and '"event"' in first_line
            and ('"event_timestamp"' in first_line or '"availability_zone"' in first_line)
        )

    def parse_entry(self, entry: Any, text: str) -> Source:
        return parse_record(entry, text)


FORMAT = NetworkFirewallFormat()
