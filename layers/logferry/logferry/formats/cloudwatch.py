"""Mail logs sent to CloudWatch Logs and delivered to S3 by a Firehose subscription.

Each object holds one or more gzip members, each a JSON envelope, concatenated without a
separator (or with newlines):

    {"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/mail/maillog",
     "logStream":"i-0abc","subscriptionFilters":["mail"],
     "logEvents":[{"id":"3737...","timestamp":1323962839000,"message":"Dec 15 15:27:19 smtp
     sendmail[19936]: pBFERI8l019936: from=<bob@foo.com>, ..."}]}

CONTROL_MESSAGE envelopes (CloudWatch checking that the destination is reachable) are
skipped. Each event's message goes to the postfix or the sendmail parser: by its syslog
program tag, or, for a message sent without the syslog header, by its content (the shape of
the queue id, sendmail's `stat=`/`ruleset=`); such a message takes its time from the event's
`timestamp` (epoch ms) and its host from the log stream (the CloudWatch agent names streams
after the instance by default). The lines reduce to transactions as in a maillog file.
Envelopes are cut at `{"messageType"` (it cannot occur inside a JSON string: its quote
would be escaped), so an object of any size is read envelope by envelope.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from ..ingest.reader import LineReader
from ..mail.reducer import MailReducer
from ..model import Document, Line, ParseContext, ParseError, Rejection
from .base import LogFormat
from .mailbase import MAIL_MAPPING
from .postfix import is_postfix_qid, parse_postfix_message
from .sendmail import is_sendmail_qid, parse_sendmail_message
from .syslog import SyslogClock, parse_envelope
from .times import canonical

MARK = b'{"messageType"'
PARSERS = {"postfix": parse_postfix_message, "sendmail": parse_sendmail_message}


def split_envelopes(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The JSON envelopes of a concatenation `{...}{...}` (or `{...}\\n{...}`)."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        start = 0
        while True:
            following = buf.find(MARK, start + 1)
            if following < 0:
                break
            envelope = buf[start:following].strip()
            if envelope:
                yield envelope
            start = following
        buf = buf[start:]
    if buf.strip():
        yield buf.strip()


def is_mail_message(message: str) -> bool:
    """Whether a message sent without its syslog header is postfix's or sendmail's (a queue id,
    or the lines that come before one)."""
    head = message.partition(": ")[0]
    return (
        is_postfix_qid(head)
        or is_sendmail_qid(head)
        or message.startswith(("ruleset=", "NOQUEUE: "))
    )


def program_of(message: str) -> str:
    """postfix or sendmail, for a message without its syslog header."""
    head = message.partition(": ")[0]
    if is_postfix_qid(head):
        return "postfix"
    if is_sendmail_qid(head) or message.startswith("ruleset=") or ", stat=" in message:
        return "sendmail"
    return "postfix"


def epoch_ms(value: Any) -> str | None:
    """A CloudWatch event's `timestamp` (epoch milliseconds) as canonical UTC with
    milliseconds; None when it is not a number or not a time of the years 1 to 9999."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        ms = int(value)  # NaN and infinity do not convert
        moment = datetime.fromtimestamp(ms // 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return canonical(moment.replace(tzinfo=None), f".{ms % 1000:03d}")


class CloudWatchMailFormat(LogFormat):
    name = "cloudwatch-mail"
    index_source = "mail"
    mapping = MAIL_MAPPING
    merges = True
    from_aws = False  # mail servers' logs, shipped through CloudWatch Logs

    @property
    def dataset(self) -> str:
        return "mail.cloudwatch"

    def matches_content(self, first_line: str) -> bool:
        return first_line.startswith('{"messageType"')

    def parse(self, lines: Iterable[Line], ctx: ParseContext) -> Iterator[Document | Rejection]:
        """Envelopes one per line (`logferry parse` of a decompressed object)."""
        chunks = (text.encode() + b"\n" for _, text in lines)
        return self._parse(chunks, ctx)

    def parse_object(self, reader: LineReader, ctx: ParseContext) -> Iterator[Document | Rejection]:
        return self._parse(reader.content(), ctx)

    def _parse(self, chunks: Iterable[bytes], ctx: ParseContext) -> Iterator[Document | Rejection]:
        clock = SyslogClock(ctx.object_time, ctx.timezone)
        reducer = MailReducer(
            PARSERS, queue_days=ctx.mail_queue_days, keep_original=ctx.keep_original
        )
        position = 0  # events are numbered across the object; an envelope fault takes one
        for number, raw in enumerate(split_envelopes(chunks), 1):
            try:
                envelope = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                position += 1
                text = raw[:2048].decode("utf-8", "replace")
                yield Rejection(position, f"envelope {number}: invalid JSON: {exc}", text)
                continue
            kind = envelope.get("messageType") if isinstance(envelope, dict) else None
            if kind == "CONTROL_MESSAGE":
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
            stream = envelope.get("logStream")
            stream = stream if isinstance(stream, str) else ""
            for event in events:
                position += 1
                out = self._event(reducer, clock, position, event, stream)
                if out is not None:
                    yield out
        yield from reducer.finish()
        reducer.log_counts(ctx.ref.uri)

    def _event(
        self, reducer: MailReducer, clock: SyslogClock, position: int, event: Any, stream: str
    ) -> Document | Rejection | None:
        message = event.get("message") if isinstance(event, dict) else None
        if not isinstance(message, str):
            return Rejection(position, "log event without a message", str(event)[:2048])
        message = message.rstrip("\r\n")
        try:
            ts, host, program, text = parse_envelope(message, clock)
        except ParseError:
            ts_or_none = epoch_ms(event.get("timestamp"))
            if ts_or_none is None:
                return Rejection(position, "log event without a time", message)
            ts, host, program, text = ts_or_none, stream, program_of(message), message
        return reducer.feed(position, ts, host, program, text, message)


FORMAT = CloudWatchMailFormat()
