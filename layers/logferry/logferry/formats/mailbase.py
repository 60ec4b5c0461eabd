"""The mail base: what the postfix and sendmail formats (and mail delivered through CloudWatch
Logs) share. Syslog lines are reduced to one document per transaction (logferry.mail.reducer),
which the pipeline hands to a merger of its own (`merges`), since a transaction's lines may
span objects.

A mail log is the host's syslog stream, shared with the daemons around the mail server (spamd,
amavis, dovecot, opendkim, ...). Their lines are skipped and counted (category `other-program`),
not rejected, and never reach the message parsers: a queue id that only they mention (amavis'
`Queue-ID:`, opendkim's `7EE668039: DKIM-Signature field added`) makes no transaction. A line of
the other mail server's family (sendmail in a postfix object) is still rejected: it is mail this
format cannot read, not noise. (Rejected alternative: reading queue ids from those daemons'
lines too; their formats are theirs to change, and the MTA's own lines already hold the
transaction.) Detection finds the MTA from the first of its lines among the object's first few
hundred (formats.format_for_head), not from line one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from ..mail.reducer import MailReducer, MessageParser, family
from ..model import Document, Line, ParseContext, ParseError, Rejection
from .base import BOOLEAN, DATE, FLOAT, INTEGER, IP, KEYWORD, LONG, LogFormat, obj
from .base import Mapping as IndexMapping
from .syslog import SyslogClock, looks_like_syslog, parse_envelope

# The category under which other daemons' lines are counted (MailReducer.skipped).
OTHER_PROGRAM = "other-program"

# email.* and mail.* of every mail document (postfix, sendmail, CloudWatch-delivered).
MAIL_MAPPING: IndexMapping = {
    "event": obj(category=KEYWORD, reason=KEYWORD),
    "email": obj(
        local_id=KEYWORD,
        message_id=KEYWORD,
        to=obj(address=KEYWORD),
        **{"from": obj(address=KEYWORD)},
    ),
    "mail": obj(
        recipients=obj(
            address=KEYWORD,
            orig_to=KEYWORD,
            relay=KEYWORD,
            relay_ip=IP,
            relay_port=INTEGER,
            status=KEYWORD,
            response=KEYWORD,
            dsn=KEYWORD,
            delay=FLOAT,
            delays=KEYWORD,
            mailer=KEYWORD,
            **{"@timestamp": DATE},
        ),
        rejects=obj(
            action=KEYWORD,
            command=KEYWORD,
            address=KEYWORD,
            code=INTEGER,
            dsn=KEYWORD,
            reason=KEYWORD,
            **{"@timestamp": DATE},
        ),
        size=LONG,
        nrcpt=INTEGER,
        sasl_username=KEYWORD,
        sasl_method=KEYWORD,
        helo=KEYWORD,
        removed=DATE,
        expired=BOOLEAN,
        client_may_be_forged=BOOLEAN,
        notification_ids=KEYWORD,
    ),
}


def unbracket(value: str) -> str:
    """`<a@b>` -> `a@b` (postfix and sendmail bracket addresses, not always)."""
    if value[:1] == "<" and value[-1:] == ">":
        return value[1:-1]
    return value


class MailFormat(LogFormat):
    """What postfix and sendmail share: syslog lines reduced to transactions."""

    index_source = "mail"
    mapping = MAIL_MAPPING
    merges = True
    from_aws = False
    families: tuple[str, ...] = ()
    parsers: Mapping[str, MessageParser] = {}

    @property
    def dataset(self) -> str:
        return f"mail.{self.name}"

    def matches_content(self, first_line: str) -> bool:
        found = looks_like_syslog(first_line)
        return found is not None and family(found[1]) in self.families

    def reducer(self, ctx: ParseContext) -> MailReducer:
        return MailReducer(
            self.parsers, queue_days=ctx.mail_queue_days, keep_original=ctx.keep_original
        )

    def parse(self, lines: Iterable[Line], ctx: ParseContext) -> Iterator[Document | Rejection]:
        return self.parse_with(self.reducer(ctx), lines, ctx)

    def parse_with(
        self, reducer: MailReducer, lines: Iterable[Line], ctx: ParseContext
    ) -> Iterator[Document | Rejection]:
        """`parse` with a given reducer, whose counts the caller can read afterwards."""
        clock = SyslogClock(ctx.object_time, ctx.timezone)
        feed = reducer.feed
        skipped = reducer.skipped
        for lineno, line in lines:
            try:
                ts, host, program, message = parse_envelope(line, clock)
            except ParseError as exc:
                yield Rejection(lineno, str(exc), line)
                continue
            if family(program) is None:  # another daemon of the host: not mail
                skipped[OTHER_PROGRAM] = skipped.get(OTHER_PROGRAM, 0) + 1
                continue
            out = feed(lineno, ts, host, program, message, line)
            if out is not None:
                yield out
        yield from reducer.finish()
        reducer.log_counts(ctx.ref.uri)

    def parse_messages(
        self, items: Iterable[tuple[int, str, str]], ts: str, host: str = "", *, days: int = 5
    ) -> tuple[list[Document | Rejection], MailReducer]:
        """Messages whose syslog header was removed elsewhere, as (position, program, message),
        all at time `ts` on `host`: the results and the reducer (for its counts)."""
        reducer = MailReducer(self.parsers, queue_days=days)
        out: list[Document | Rejection] = []
        for position, program, message in items:
            item = reducer.feed(position, ts, host, program, message, message)
            if item is not None:
                out.append(item)
        out.extend(reducer.finish())
        return out, reducer
