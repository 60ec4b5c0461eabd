"""CloudWatch Logs subscription envelopes as Firehose writes them to S3, and what reading their
messages needs: cutting a concatenation into envelopes, an event's epoch-ms time, and telling a
mail message sent without its syslog header (logferry.formats.cloudwatch_logs reads them).

Envelopes are cut at `{"messageType"` (it cannot occur inside a JSON string: its quote would be
escaped), so an object of any size is read envelope by envelope.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .postfix import is_postfix_qid, parse_postfix_message
from .sendmail import is_sendmail_qid, parse_sendmail_message
from .times import canonical

MARK = b'{"messageType"'
# CloudWatch Logs sends a subscription batch of at most about 1 MB: an envelope this much
# larger is not one, and is skipped instead of held.
MAX_ENVELOPE_BYTES = 16 * 1024**2
PARSERS = {"postfix": parse_postfix_message, "sendmail": parse_sendmail_message}


class OversizedEnvelope(NamedTuple):
    """An envelope longer than the cap, skipped to the next one: its first bytes and size."""

    head: bytes
    size: int


def split_envelopes(
    chunks: Iterable[bytes], max_bytes: int | None = None
) -> Iterator[bytes | OversizedEnvelope]:
    """The JSON envelopes of a concatenation `{...}{...}` (or `{...}\\n{...}`). One longer than
    `max_bytes` (default MAX_ENVELOPE_BYTES) is not held: it is counted while skipped and comes
    out as an OversizedEnvelope, so a hostile object costs that much memory at most."""
    cap = MAX_ENVELOPE_BYTES if max_bytes is None else max_bytes
    keep = len(MARK) - 1  # what may be the start of a mark cut by the chunk boundary
    buf = b""
    skipped, head = 0, b""
    for chunk in chunks:
        buf += chunk
        start = 0
        while True:
            following = buf.find(MARK, start + 1)
            if following < 0:
                break
            if skipped:
                yield OversizedEnvelope(head, skipped + following)
                skipped = 0
            else:
                envelope = buf[start:following].strip()
                if envelope:
                    yield envelope
            start = following
        buf = buf[start:]
        if len(buf) > cap:  # no end in sight: counted, not kept
            if not skipped:
                head = buf[:2048]
            skipped += len(buf) - keep
            buf = buf[-keep:]
    if skipped:
        yield OversizedEnvelope(head, skipped + len(buf))
    elif buf.strip():
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
