"""CloudWatch Logs subscription data delivered to S3 by Firehose, whatever its log groups hold.

An object is a concatenation of JSON envelopes (logferry.formats.envelopes.split_envelopes):
`{"messageType": "DATA_MESSAGE", "owner", "logGroup", "logStream", "subscriptionFilters",
"logEvents": [{"id", "timestamp", "message"}]}`; CONTROL_MESSAGE envelopes are skipped. Each
event's message is a record of the log group's own format: VPC flow logs, Lambda function
logs, CloudTrail, WAF, Route 53 Resolver, Network Firewall, API Gateway access logs, mail, or
any line format logferry reads. The inner format of a log group is, in order: the first
matching pattern of LOGFERRY_LOG_GROUPS, else AWS's naming (`DEFAULT_LOG_GROUPS`), else the
format whose content test accepts the group's first message (a mail message without its syslog
header, as the CloudWatch agent may send it, is known by its queue id).

Invariants: a record becomes exactly the document its S3 twin gives (same parser), indexed under
its own format's source (`Document.index_source`), with `cloud.account.id` from the envelope's
owner where the record states no account; `@timestamp` is the record's, or the log event's
timestamp where the record has none (Lambda's START/END/REPORT lines); ids are positional over
the object's events, so a redelivered object overwrites itself. Mail messages reduce to
transactions as in `cloudwatch-mail` (merged with what is indexed). A log group of no known
format rejects its events with that reason: nothing is dropped silently.
Rejected: one format per object chosen from the first envelope (one Firehose stream often
carries several log groups: an account-wide subscription filter sends them all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from fnmatch import fnmatchcase
from typing import Any

import orjson

from ..ingest.reader import LineReader
from ..mail.reducer import MailReducer
from ..model import Document, Line, ParseContext, ParseError, Rejection, Source
from .base import HeaderLineFormat, LineFormat, LogFormat, line_rejection
from .envelopes import (
    MAX_ENVELOPE_BYTES,
    PARSERS,
    OversizedEnvelope,
    epoch_ms,
    is_mail_message,
    program_of,
    split_envelopes,
)
from .jsonlines import JsonLinesFormat
from .mailbase import MAIL_MAPPING, MailFormat
from .syslog import SyslogClock, parse_envelope

# Log group names AWS gives, or asks for: the inner format when LOGFERRY_LOG_GROUPS says none.
DEFAULT_LOG_GROUPS: tuple[tuple[str, str], ...] = (
    ("/aws/lambda/*", "lambda"),
    ("aws-waf-logs-*", "waf"),  # WAF's CloudWatch destination must be named so
    ("aws-cloudtrail-logs-*", "cloudtrail"),  # the console's default trail log group
    ("/aws/vpc/flow*", "vpcflow"),
    ("*vpc-flow-log*", "vpcflow"),
    ("*vpcflowlog*", "vpcflow"),
    ("/aws/route53resolver/*", "route53resolver"),
    ("/aws/network-firewall/*", "networkfirewall"),
)

# Log groups of one object, each with its format's parser: past it, a hostile object's new
# groups are rejected instead of growing the table (a Firehose stream carries a few).
MAX_LOG_GROUPS = 1000

# One message -> its document; the second argument is the log event's time (canonical UTC).
MessageParser = Callable[[str, str | None], Source]


def message_parser(fmt: LogFormat) -> MessageParser | None:
    """How `fmt` reads one log event's message: as its S3 twin reads one line (None: mail, read
    through the transaction reducer)."""
    if isinstance(fmt, MailFormat):
        return None
    if fmt.name == "lambda":
        from .lambda_logs import parse_message

        return parse_message
    if fmt.name == "cloudtrail":
        from .cloudtrail_records import parse_record

        return _json_message(parse_record)
    if isinstance(fmt, JsonLinesFormat):
        return _json_lines(fmt)
    if isinstance(fmt, HeaderLineFormat):  # no header in a log event: the default layout
        record = fmt.new_parser().record
        return lambda message, _: record(message)
    if isinstance(fmt, LineFormat):
        parse_line = fmt.parse_line
        return lambda message, _: parse_line(message)
    return None


def _json_message(parse: Callable[[Any, str], Source]) -> MessageParser:
    def parse_json(message: str, _: str | None) -> Source:
        try:
            entry = orjson.loads(message)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON: {exc}") from None
        return parse(entry, message)

    return parse_json


def _json_lines(fmt: JsonLinesFormat) -> MessageParser:
    json_message = _json_message(fmt.parse_entry)
    if not fmt.text_lines:
        return json_message

    def parse(message: str, event_time: str | None) -> Source:
        if message[:1] != "{":
            return fmt.parse_text(message)
        return json_message(message, event_time)

    return parse


class LogGroup:
    """One log group of the object: its format and how its messages are read."""

    def __init__(self, fmt: LogFormat | None, why: str = "") -> None:
        self.fmt = fmt
        self.parse = message_parser(fmt) if fmt is not None else None
        self.why = why


class CloudWatchLogsFormat(LogFormat):
    name = "cloudwatch"
    index_source = "cloudwatch"  # documents go under their inner format's source
    mapping = MAIL_MAPPING
    merges = True  # mail log groups reduce to transactions
    # cloud.* comes from the envelope (its owner), not the key (Firehose names its own objects).
    from_aws = False

    @property
    def dataset(self) -> str:
        return "aws.cloudwatch"

    def matches_content(self, first_line: str) -> bool:
        return first_line.startswith('{"messageType"')

    def parse(self, lines: Iterable[Line], ctx: ParseContext) -> Iterator[Document | Rejection]:
        """Envelopes one per line (`logferry parse` of a decompressed object)."""
        return self._parse((text.encode() + b"\n" for _, text in lines), ctx)

    def parse_object(self, reader: LineReader, ctx: ParseContext) -> Iterator[Document | Rejection]:
        return self._parse(reader.content(), ctx)

    def group(self, name: str, first_message: str, ctx: ParseContext) -> LogGroup:
        from . import FORMATS, format_for_content

        for pattern, fmt_name in (*ctx.log_groups, *DEFAULT_LOG_GROUPS):
            if fnmatchcase(name, pattern):
                fmt = FORMATS.get(fmt_name)
                if fmt is not None:
                    return LogGroup(fmt)
        fmt = format_for_content(first_message)
        if fmt is None and is_mail_message(first_message):  # the agent left the header out
            fmt = FORMATS["postfix"]  # mail: each message's own program decides its parser
        if fmt is None or fmt is self or fmt.name == "cloudwatch-mail":
            why = f"log group {name!r}: format not recognised (name it in LOGFERRY_LOG_GROUPS)"
            return LogGroup(None, why)
        return LogGroup(fmt)

    def _parse(self, chunks: Iterable[bytes], ctx: ParseContext) -> Iterator[Document | Rejection]:
        clock = SyslogClock(ctx.object_time, ctx.timezone)
        reducer = MailReducer(
            PARSERS, queue_days=ctx.mail_queue_days, keep_original=ctx.keep_original
        )
        groups: dict[str, LogGroup] = {}
        position = 0  # events are numbered across the object; an envelope fault takes one
        for number, raw in enumerate(split_envelopes(chunks), 1):
            if isinstance(raw, OversizedEnvelope):
                position += 1
                reason = (
                    f"envelope {number}: {raw.size} bytes, more than {MAX_ENVELOPE_BYTES}:"
                    " skipped to the next envelope"
                )
                yield Rejection(position, reason, raw.head.decode("utf-8", "replace"))
                continue
            try:
                envelope = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                position += 1
                text = raw[:2048].decode("utf-8", "replace")
                yield Rejection(position, f"envelope {number}: invalid JSON: {exc}", text)
                continue
            kind = envelope.get("messageType") if isinstance(envelope, dict) else None
            if kind == "CONTROL_MESSAGE":  # CloudWatch checking that the destination is reachable
                reducer.skipped["cloudwatch-control"] = (
                    reducer.skipped.get("cloudwatch-control", 0) + 1
                )
                continue
            events = envelope.get("logEvents") if kind == "DATA_MESSAGE" else None
            if not isinstance(events, list):
                position += 1
                reason = f"envelope {number}: not a DATA_MESSAGE with logEvents ({kind!r})"
                yield Rejection(position, reason, raw[:2048].decode("utf-8", "replace"))
                continue
            owner = envelope.get("owner")
            account = owner if isinstance(owner, str) and owner.isdecimal() else None
            name = envelope.get("logGroup")
            name = name if isinstance(name, str) else ""
            stream = envelope.get("logStream")
            stream = stream if isinstance(stream, str) else ""
            for event in events:
                position += 1
                message = event.get("message") if isinstance(event, dict) else None
                if not isinstance(message, str):
                    yield Rejection(position, "log event without a message", str(event)[:2048])
                    continue
                message = message.rstrip("\r\n")
                group = groups.get(name)
                if group is None:
                    if len(groups) >= MAX_LOG_GROUPS:
                        why = f"more than {MAX_LOG_GROUPS} log groups in one object"
                        yield Rejection(position, f"log group {name[:200]!r}: {why}", message)
                        continue
                    group = groups[name] = self.group(name, message, ctx)
                out = self._event(group, reducer, clock, position, event, message, stream, account)
                if out is not None:
                    yield out
        yield from reducer.finish()
        reducer.log_counts(ctx.ref.uri)

    def _event(
        self,
        group: LogGroup,
        reducer: MailReducer,
        clock: SyslogClock,
        position: int,
        event: dict[str, Any],
        message: str,
        stream: str,
        account: str | None,
    ) -> Document | Rejection | None:
        fmt = group.fmt
        if fmt is None:
            return Rejection(position, group.why, message)
        event_time = epoch_ms(event.get("timestamp"))
        if group.parse is None:  # mail: reduced to transactions
            try:
                ts, host, program, text = parse_envelope(message, clock)
            except ParseError:
                if event_time is None:
                    return Rejection(position, "log event without a time", message)
                ts, host, program, text = event_time, stream, program_of(message), message
            out = reducer.feed(position, ts, host, program, text, message)
            if isinstance(out, Document):
                out.index_source = fmt.index_source
            return out
        try:
            source = group.parse(message, event_time)
        except Exception as exc:
            return line_rejection(position, message, exc)
        if "@timestamp" not in source:
            if event_time is None:
                return Rejection(position, "no time in the record nor the log event", message)
            source["@timestamp"] = event_time
        if fmt.from_aws:  # the record's own account first, else the envelope's owner
            cloud = source.get("cloud")
            if cloud is None:
                cloud = source["cloud"] = {}
            cloud.setdefault("provider", "aws")
            if account is not None:
                cloud.setdefault("account", {"id": account})
        return Document(source, position, index_source=fmt.index_source)


FORMAT = CloudWatchLogsFormat()
