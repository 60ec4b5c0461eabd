"""Mail lines -> transaction fragments: `MailReducer` folds the lines of one object into one
fragment per (host, queue id), and a new one when a queue id is reused: after postfix's
`removed`, or after a silence longer than the queue lifetime. Lines outside any transaction
are counted by category and not indexed; rejections before a queue id exists (`NOQUEUE:
reject`) are documents of their own.

A format parses each line's message with a `MessageParser`, which says what the line is
(SKIP, TX or STANDALONE) and what it adds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

from ..model import Document, ParseError, Rejection, Source
from .transactions import DEFAULT_QUEUE_DAYS, SLOTS, Tx, moment

log = logging.getLogger(__name__)

# What a message parser makes of one line: (kind, key, data).
SKIP = 0  # understood, not part of a transaction: key = category, counted and not indexed
TX = 1  # part of transaction `key` (its queue id); data = what the line adds
STANDALONE = 2  # a document of its own (rejected before a queue id existed); data = source
MailLine = tuple[int, str, dict[str, Any] | None]
# (daemon, message) -> MailLine; raises ParseError for a malformed line.
MessageParser = Callable[[str, str], MailLine]

DATASETS = {"postfix": "mail.postfix", "sendmail": "mail.sendmail"}


def family(program: str) -> str | None:
    """The family of a syslog program tag: "postfix", "sendmail", or None for others.

    `postfix/smtpd`, `postfix-incoming/qmgr`, `postfix/submission/smtpd`; `sendmail`,
    `sm-mta`, `sm-msp-queue`, `sm-acceptingconnections` (a process title)."""
    if program.startswith("postfix"):
        return "postfix"
    if program == "sendmail" or program.startswith("sm-"):
        return "sendmail"
    return None


class MailReducer:
    """Folds one object's mail lines into transaction fragments and standalone documents.

    `feed` returns at once what needs no more context (a standalone document, a
    rejection); `finish` returns the transactions. `skipped` counts the lines understood
    as outside any transaction, by category.
    """

    def __init__(
        self,
        parsers: Mapping[str, MessageParser],
        *,
        queue_days: int = DEFAULT_QUEUE_DAYS,
        keep_original: bool = False,
    ) -> None:
        self.parsers = parsers
        self.window = timedelta(days=queue_days)
        self.keep_original = keep_original
        self.skipped: dict[str, int] = {}
        self.transaction_lines = 0
        self._open: dict[tuple[str, str], Tx] = {}
        self._done: list[Tx] = []

    def feed(
        self, position: int, ts: str, host: str, program: str, message: str, raw: str
    ) -> Document | Rejection | None:
        kind = family(program)
        parser = self.parsers.get(kind) if kind else None
        if parser is None:
            expected = " or ".join(sorted(self.parsers))
            return Rejection(position, f"program {program[:60]!r} is not {expected}", raw)
        return self.feed_parsed(position, ts, host, kind or "", program, message, raw, parser)

    def feed_parsed(
        self,
        position: int,
        ts: str,
        host: str,
        kind: str,
        program: str,
        message: str,
        raw: str,
        parser: MessageParser,
    ) -> Document | Rejection | None:
        daemon = program.rpartition("/")[2]
        try:
            what, key, data = parser(daemon, message)
        except ParseError as exc:
            return Rejection(position, str(exc), raw)
        except Exception as exc:  # a parser bug must cost one line, not the object
            return Rejection(position, f"parser error: {type(exc).__name__}: {exc}", raw)
        if what == SKIP:
            self.skipped[key] = self.skipped.get(key, 0) + 1
            return None
        dataset = DATASETS[kind]
        if what == STANDALONE:
            assert data is not None
            return Document(self._standalone(data, ts, host, dataset, raw), position)
        self.transaction_lines += 1
        tx = self._open.get((host, key))
        if tx is None or tx.closed_before(ts) or self._too_far(tx, ts):
            if tx is not None:
                self._done.append(tx)
            tx = self._open[(host, key)] = Tx(host, key, dataset, ts, position)
        else:
            tx.see(ts)
        if data:
            tx.apply(ts, data)
        return None

    def _too_far(self, tx: Tx, ts: str) -> bool:
        if ts[:10] == tx.last[:10] or ts[:10] == tx.first[:10]:
            return False
        t = moment(ts)
        return t > moment(tx.last) + self.window or t < moment(tx.first) - self.window

    def _standalone(self, data: Source, ts: str, host: str, dataset: str, raw: str) -> Source:
        doc: Source = {"@timestamp": ts}
        event = data.pop("event")
        event["dataset"] = dataset
        doc["event"] = event
        if host:
            doc["host"] = {"name": host}
        doc.update(data)
        for entry in doc.get("mail", {}).get("rejects", ()):
            entry["@timestamp"] = ts
        if self.keep_original:
            event["original"] = raw
        return doc

    def finish(self) -> Iterator[Document]:
        """The transactions of the object, in the order of their first line."""
        done = self._done + list(self._open.values())
        self._done, self._open = [], {}
        slots: dict[tuple[str, str, str], int] = {}
        for tx in sorted(done, key=lambda t: t.first[:-1]):
            key = (tx.host, tx.qid, tx.day)
            tx.slot = min(slots.get(key, 0), SLOTS - 1)
            slots[key] = tx.slot + 1
        for tx in sorted(done, key=lambda t: t.position):
            yield tx.document()

    def log_counts(self, uri: str) -> None:
        log.info(
            "mail lines",
            extra={
                "object": uri,
                "transaction_lines": self.transaction_lines,
                "skipped_lines": dict(self.skipped),
            },
        )
