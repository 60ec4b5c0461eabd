"""VPC flow logs: space-separated records whose field order a header line declares.

version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end
action log-status
2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010
1418530070 ACCEPT OK

Custom formats pick any fields in any order, so the `version` value says nothing about the
layout: the header line of each S3 text file does (a file may repeat it mid-stream; a different
header switches the layout). Without a header (CloudWatch / Firehose delivery) the default
version 2 order applies, and a record may arrive wrapped as {"message": "..."}; a JSON record
with the field names as keys (underscores or hyphens) is read by its keys. `-` is the null
marker. NODATA / SKIPDATA records are indexed: they are facts, with the fields they have.
`start` / `end` are epoch seconds; a record with neither is rejected (it has no time of its own).
Parquet objects are read by formats.parquet: each row as the JSON record of its columns
(`account_id` and kin, read like `account-id`), so a row gives its text twin's document.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from ..model import ParseError, Source
from .base import INTEGER, IP, KEYWORD, LONG, HeaderLineFormat, obj

DEFAULT_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes"
    " start end action log-status"
)

# Fields with an ECS home (read by position in `_build`); every other field goes to
# aws.vpcflow.<name with underscores>, typed by these tables (unknown names stay keywords).
_ECS_FIELD_NAMES = (
    "srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
)
_ECS_FIELDS = frozenset(_ECS_FIELD_NAMES.split())
_INT_FIELDS = {
    "tcp-flags": INTEGER,
    "traffic-path": INTEGER,
    "packets-lost-no-route": LONG,
    "packets-lost-blackhole": LONG,
    "packets-lost-mtu-exceeded": LONG,
    "packets-lost-ttl-expired": LONG,
}
_IP_FIELDS = frozenset(("pkt-srcaddr", "pkt-dstaddr"))
_TEXT_FIELD_NAMES = """
    version account-id interface-id vpc-id subnet-id instance-id type region az-id
    sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction
    ecs-cluster-arn ecs-cluster-name ecs-container-instance-arn ecs-container-instance-id
    ecs-container-id ecs-second-container-id ecs-service-name ecs-task-definition-arn ecs-task-arn
    ecs-task-id reject-reason resource-id encryption-status instance-tag instance-tag-2
    interface-tag interface-tag-2 asg-tag asg-tag-2 interface-type next-hop-interface-id
    next-hop-subnet-id next-hop-az-id next-hop-vpc-id next-hop-interface-type resource-type
    tgw-id tgw-attachment-id tgw-src-vpc-account-id tgw-dst-vpc-account-id tgw-src-vpc-id
    tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id
    tgw-dst-az-id tgw-pair-attachment-id"""
_TEXT_FIELDS = tuple(_TEXT_FIELD_NAMES.split())
KNOWN_FIELDS = frozenset((*_ECS_FIELDS, *_INT_FIELDS, *_IP_FIELDS, *_TEXT_FIELDS))
# A header's first name, as AWS writes it (hyphens) or as configurations spell it (underscores).
_HEADER_STARTS = KNOWN_FIELDS | {name.replace("-", "_") for name in KNOWN_FIELDS}
_HEADER_LINE = re.compile(r"[a-z][a-z0-9_-]*(?: +[a-z][a-z0-9_-]*)* *")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_-]*")

# IANA protocol numbers -> ECS network.transport (the IANA keyword, lower case).
PROTOCOLS = {
    "0": "hopopt",
    "1": "icmp",
    "2": "igmp",
    "4": "ipv4",
    "6": "tcp",
    "8": "egp",
    "17": "udp",
    "27": "rdp",
    "33": "dccp",
    "41": "ipv6",
    "43": "ipv6-route",
    "44": "ipv6-frag",
    "46": "rsvp",
    "47": "gre",
    "50": "esp",
    "51": "ah",
    "58": "ipv6-icmp",
    "59": "ipv6-nonxt",
    "60": "ipv6-opts",
    "88": "eigrp",
    "89": "ospfigp",
    "94": "ipip",
    "103": "pim",
    "112": "vrrp",
    "115": "l2tp",
    "132": "sctp",
    "136": "udplite",
    "137": "mpls-in-ip",
}
_OUTCOMES = {"ACCEPT": "success", "REJECT": "failure"}
# Characters of an IPv4 or IPv6 address: a cheap shape check (a full parse costs more than the
# rest of the line); it keeps a misaligned column (an eni-... id) out of an ip field. Values of
# the right shape that are still no address fail at indexing, and are kept as failed documents.
_IP_CHARS = "0123456789abcdefABCDEF.:"
_ABSENT = -1  # index of the "-" appended to every record: where absent fields point


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each field sits in a record of one header, worked out once per header."""

    width: int
    texts: tuple[tuple[int, str], ...]
    ints: tuple[tuple[int, str], ...]
    ips: tuple[tuple[int, str], ...]
    srcaddr: int
    dstaddr: int
    srcport: int
    dstport: int
    protocol: int
    packets: int
    bytes: int
    start: int
    end: int
    action: int
    log_status: int

    @classmethod
    def of(cls, names: Iterable[str]) -> Layout:
        names = [name.replace("_", "-") for name in names]
        seen: dict[str, int] = {}
        texts, ints, ips = [], [], []
        for i, name in enumerate(names):
            if name in seen:  # a repeated name: the first one wins, the second is kept apart
                name = f"{name}-{i}"
            seen[name] = i
            key = name.replace("-", "_")
            if name in _ECS_FIELDS:
                continue
            if name in _INT_FIELDS:
                ints.append((i, key))
            elif name in _IP_FIELDS:
                ips.append((i, key))
            else:
                texts.append((i, key))
        at = seen.get
        return cls(
            width=len(names),
            texts=tuple(texts),
            ints=tuple(ints),
            ips=tuple(ips),
            srcaddr=at("srcaddr", _ABSENT),
            dstaddr=at("dstaddr", _ABSENT),
            srcport=at("srcport", _ABSENT),
            dstport=at("dstport", _ABSENT),
            protocol=at("protocol", _ABSENT),
            packets=at("packets", _ABSENT),
            bytes=at("bytes", _ABSENT),
            start=at("start", _ABSENT),
            end=at("end", _ABSENT),
            action=at("action", _ABSENT),
            log_status=at("log-status", _ABSENT),
        )


DEFAULT_LAYOUT = Layout.of(DEFAULT_HEADER.split())


def is_header(line: str) -> bool:
    """Whether a line is a header: field names only, the first one a known field."""
    return line.split(" ", 1)[0] in _HEADER_STARTS and _HEADER_LINE.fullmatch(line) is not None


def _epoch(value: str, field: str) -> str:
    if len(value) > 11 or not value.isdecimal() or not value.isascii():
        raise ParseError(f"{field}: expected epoch seconds, got {value[:40]!r}")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(value)))


def _remember(times: dict[str, str], value: str, field: str) -> str:
    """Convert an epoch time and cache it: the records of a file share a few windows."""
    if len(times) > 4096:
        times.clear()
    iso = times[value] = _epoch(value, field)
    return iso


def _build(f: list[str], lay: Layout, times: dict[str, str]) -> Source:
    """The document of one record split into fields `f` (consumed: "-" is appended).

    The hot path of the format: plain expressions over precomputed positions, one try block
    for every conversion (`field` names the one being converted, for the rejection reason).
    """
    n = len(f)
    if n < lay.width:
        raise ParseError(f"expected {lay.width} fields (per the header), got {n}")
    tail = f[lay.width :] if n > lay.width else None
    f.append("-")  # absent fields point at index -1, so they read as the null marker

    event: Source = {"dataset": "aws.vpcflow", "kind": "event"}
    start, end = f[lay.start], f[lay.end]
    if start != "-":
        ts = event["start"] = times.get(start) or _remember(times, start, "start")
        if end != "-":
            event["end"] = times.get(end) or _remember(times, end, "end")
    elif end != "-":
        ts = event["end"] = times.get(end) or _remember(times, end, "end")
    elif lay.start == _ABSENT and lay.end == _ABSENT:
        raise ParseError("the header has neither start nor end: a record needs a time")
    else:
        raise ParseError("start and end are both '-': a record needs a time")
    doc: Source = {"@timestamp": ts, "event": event}
    aws: Source = {key: value for i, key in lay.texts if (value := f[i]) != "-"}
    doc["aws"] = {"vpcflow": aws}
    # The account of the network interface (the record's, which in a shared VPC is not always
    # the account that owns the flow log and names the key).
    account = aws.get("account_id")
    if account is not None and len(account) == 12 and account.isdecimal():
        region = aws.get("region")
        doc["cloud"] = (
            {"account": {"id": account}}
            if region is None
            else {"account": {"id": account}, "region": region}
        )

    value = f[lay.action]
    if value != "-":
        aws["action"] = value
        outcome = _OUTCOMES.get(value)
        if outcome is not None:
            event["outcome"] = outcome
    value = f[lay.log_status]
    if value != "-":
        aws["log_status"] = value

    field = "srcaddr"
    try:
        value = f[lay.srcaddr]
        if value != "-":
            if value.strip(_IP_CHARS) or not (":" in value or "." in value):
                raise ValueError
            doc["source"] = {"ip": value}
        field = "srcport"
        value = f[lay.srcport]
        if value != "-":
            port = int(value)
            if port < 0 or port > 65535:
                raise ValueError
            if "source" in doc:
                doc["source"]["port"] = port
            else:
                doc["source"] = {"port": port}
        field = "dstaddr"
        value = f[lay.dstaddr]
        if value != "-":
            if value.strip(_IP_CHARS) or not (":" in value or "." in value):
                raise ValueError
            doc["destination"] = {"ip": value}
        field = "dstport"
        value = f[lay.dstport]
        if value != "-":
            port = int(value)
            if port < 0 or port > 65535:
                raise ValueError
            if "destination" in doc:
                doc["destination"]["port"] = port
            else:
                doc["destination"] = {"port": port}

        network: Source = {}
        field = "protocol"
        value = f[lay.protocol]
        if value != "-":
            transport = PROTOCOLS.get(value)
            if transport is not None:
                network["transport"] = transport
            elif not (value.isascii() and value.isdecimal() and len(value) <= 3):
                raise ValueError
            network["iana_number"] = value
        field = "bytes"
        value = f[lay.bytes]
        if value != "-":
            # Counters are LONG: more than 18 digits would not fit (and is no real count).
            if len(value) > 18:
                raise ValueError
            network["bytes"] = int(value)
        field = "packets"
        value = f[lay.packets]
        if value != "-":
            if len(value) > 18:
                raise ValueError
            network["packets"] = int(value)
        if network:
            doc["network"] = network

        for i, key in lay.ints:
            field = key
            value = f[i]
            if value != "-":
                if len(value) > 18:
                    raise ValueError
                aws[key] = int(value)
        for i, key in lay.ips:
            field = key
            value = f[i]
            if value != "-":
                if value.strip(_IP_CHARS) or not (":" in value or "." in value):
                    raise ValueError
                aws[key] = value
    except ValueError:
        raise ParseError(f"{field}: unexpected value {value[:60]!r}") from None
    if tail is not None:
        aws["unparsed_tail"] = " ".join(tail)
    return doc


def _json_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value or "-"
    if isinstance(value, float) and value.is_integer():  # 25238.0 from some forwarders
        return str(int(value))
    return str(value)


class _Parser:
    """The state of one object: its current layout and a cache of converted times (records
    of one file share a handful of aggregation windows)."""

    def __init__(self) -> None:
        self.layout = DEFAULT_LAYOUT
        self.layouts: dict[tuple[str, ...], Layout] = {}
        self.times: dict[str, str] = {}

    def take_header(self, line: str) -> bool:
        """A header (the first line of a file, or repeated where files were concatenated)
        sets the layout of the records after it. Records never start with a field name."""
        if line[:1].isalpha() and is_header(line):
            self.header(line.split())
            return True
        return False

    def header(self, names: list[str]) -> None:
        key = tuple(names)
        layout = self.layouts.get(key)
        if layout is None:
            layout = self.layouts[key] = Layout.of(names)
        self.layout = layout

    def record(self, line: str) -> Source:
        if line[:1] == "{":
            return self._json(line)
        f = line.split()
        if not f:
            raise ParseError("blank line")
        return _build(f, self.layout, self.times)

    def _json(self, line: str) -> Source:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ParseError("expected a JSON object")
        message = data.get("message")
        if isinstance(message, str):  # a text record forwarded in an envelope
            if message[:1] == "{":
                raise ParseError("nested JSON envelopes are not supported")
            f = message.split()
            if not f:
                raise ParseError("blank message")
            return _build(f, self.layout, self.times)
        names = tuple(str(key) for key in data)
        if not names or not all(_FIELD_NAME.fullmatch(name) for name in names):
            raise ParseError("JSON record without VPC flow log field names")
        layout = self.layouts.get(names)
        if layout is None:
            layout = self.layouts[names] = Layout.of(names)
        return _build([_json_value(v) for v in data.values()], layout, self.times)


def parse_record(line: str, header: str | None = None) -> Source:
    """One record as a document, in the layout of `header` (default: version 2)."""
    parser = _Parser()
    if header is not None:
        parser.header(header.split())
    return parser.record(line)


class VpcFlowFormat(HeaderLineFormat):
    name = "vpcflow"
    index_source = "vpcflow"
    title = "VPC flow logs"
    parquet_advice = "deliver them as plain text, or convert them first"
    # .../vpcflowlogs/<region>/.../<acct>_vpcflowlogs_<region>_<fl-id>_<time>_<hash>.log.gz,
    # or Hive-style .../aws-service=vpcflowlogs/...; Parquet objects too (formats.parquet).
    key_pattern = re.compile(r"_vpcflowlogs_[^/]*$|(?:^|/)aws-service=vpcflowlogs/")
    mapping = {
        "aws": obj(
            vpcflow=obj(
                action=KEYWORD,
                log_status=KEYWORD,
                unparsed_tail=KEYWORD,
                **{name.replace("-", "_"): KEYWORD for name in _TEXT_FIELDS},
                **{name.replace("-", "_"): kind for name, kind in _INT_FIELDS.items()},
                **{name.replace("-", "_"): IP for name in _IP_FIELDS},
            )
        )
    }

    def matches_content(self, first_line: str) -> bool:
        if is_header(first_line):
            return True
        # A default (version 2) record: version, account, eni, ..., start end action log-status.
        f = first_line.split()
        return (
            len(f) >= 14
            and first_line.isascii()
            and f[0].isdecimal()
            and (f[1].isdecimal() or f[1] == "unknown")
            and (f[2].startswith("eni-") or f[2] == "-")
            and f[10].isdecimal()
            and f[11].isdecimal()
            and f[13] in ("OK", "NODATA", "SKIPDATA")
        )

    def new_parser(self) -> _Parser:
        return _Parser()


FORMAT = VpcFlowFormat()
