"""Mail transactions: the many log lines of one message on one server, as one document.

A mail server logs one transaction (one queue id on one host) over many lines, from several
daemons, and a deferred message over days and so over many objects. Here:

- `MailReducer` folds the lines of one object into transaction fragments, one per
  (host, queue id) — and a new one when a queue id is reused: after postfix's `removed`, or
  after a silence longer than the queue lifetime. Lines outside any transaction are counted by
  category and not indexed; rejections before a queue id exists (`NOQUEUE: reject`) are
  documents of their own.
- `Tx` is a transaction (or a fragment of one) with a lossless round trip to and from its
  document, and `absorb` merges two of them: recipient attempts de-duplicated by
  (address, status, @timestamp, relay), the earliest values kept, times widened.
- `MailMerger` writes fragments into OpenSearch merged with what is already indexed.

Where a transaction lives: in the daily index of its first-seen time, under the `_id`
`transaction_id(host, queue id, first-seen UTC day)`. Index and id both follow from the first
line, so a fragment finds any earlier or later part of its transaction with a realtime
multi-get of the ids and indices for every day within the queue lifetime (default 5 days,
LOGFERRY_MAIL_QUEUE_DAYS) around its own lines: no search, no refresh, no scripting. The
first-seen day in the id is also what keeps a recycled queue id apart, together with the
rules of `belongs` (after `removed`, or too far apart in time, is another transaction). Its
limit: two transactions with the same queue id on the same host within one queue lifetime
and without a `removed` line between them are taken for one. sendmail queue ids and postfix
long queue ids embed their creation time, so for them this never happens.

When a fragment older than the stored document arrives late (objects processed out of
order), the merged document moves to the earlier day: written there first, then the later
copy is deleted. Every write is conditional (create, or if_seq_no/if_primary_term); a
conflict means another writer got there first, and the fragment is merged again. A fragment
that created a new document is looked up once more afterwards, so two writers that each
created a part concurrently find each other and fold into one.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import random
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson

from ..model import Document, ParseError, Rejection, Source
from ..output.indices import index_name

log = logging.getLogger(__name__)

# postfix maximal_queue_lifetime and sendmail Timeout.queuereturn both default to 5 days.
DEFAULT_QUEUE_DAYS = 5

# Uses of one queue id on one host starting on the same day that get documents of their own;
# a further one is merged into the last (postfix short ids only; a rare limit).
SLOTS = 3

# What a message parser makes of one line: (kind, key, data).
SKIP = 0  # understood, not part of a transaction: key = category, counted and not indexed
TX = 1  # part of transaction `key` (its queue id); data = what the line adds
STANDALONE = 2  # a document of its own (rejected before a queue id existed); data = source
MailLine = tuple[int, str, dict[str, Any] | None]
# (daemon, message) -> MailLine; raises ParseError for a malformed line.
MessageParser = Callable[[str, str], MailLine]

DATASETS = {"postfix": "mail.postfix", "sendmail": "mail.sendmail"}

# postfix statuses, and what sendmail's free-text stat= amounts to.
SUCCESS = frozenset({"sent", "deliverable"})
FAILURE = frozenset({"bounced", "expired", "undeliverable", "failed"})


def family(program: str) -> str | None:
    """The family of a syslog program tag: "postfix", "sendmail", or None for others.

    `postfix/smtpd`, `postfix-incoming/qmgr`, `postfix/submission/smtpd`; `sendmail`,
    `sm-mta`, `sm-msp-queue`, `sm-acceptingconnections` (a process title)."""
    if program.startswith("postfix"):
        return "postfix"
    if program == "sendmail" or program.startswith("sm-"):
        return "sendmail"
    return None


def transaction_id(host: str, qid: str, day: str, slot: int = 0) -> str:
    """The `_id` of a transaction: host, queue id, first-seen UTC day (YYYY-MM-DD), and the
    slot that tells apart uses of one queue id that start on the same day."""
    raw = f"{host}\0{qid}\0{day}" + (f"\0{slot}" if slot else "")
    return "mail-" + hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


def moment(ts: str) -> datetime:
    """A document timestamp (`...Z`, up to 9 fraction digits) as an aware datetime."""
    if len(ts) > 27:  # nanoseconds: Python keeps microseconds
        ts = ts[:26] + "Z"
    return datetime.fromisoformat(ts)


def later(a: str, b: str) -> bool:
    """Whether timestamp a is after b (same shape: `YYYY-MM-DDTHH:MM:SS[.f]Z`)."""
    return a[:-1] > b[:-1]


@functools.lru_cache(maxsize=8192)  # clients and relays repeat: validate each once
def clean_ip(value: str | None) -> str | None:
    """The address if it is one (ip fields reject anything else), else None."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def status_class(status: str) -> str:
    """success | failure | pending, for a postfix status word or a sendmail stat= text."""
    word = status.split(" ", 1)[0].rstrip(":").lower()
    if word in SUCCESS:
        return "success"
    if word in FAILURE:
        return "failure"
    if word in ("deferred", "queued", "deliverable?"):
        return "pending"
    # sendmail: anything but Sent/Deferred/queued ends the attempt (User unknown, ...)
    return "failure" if status and status[0].isupper() else "pending"


def _recipient_key(entry: Source) -> tuple[str, str, str, str]:
    return (
        entry.get("address", ""),
        entry.get("status", ""),
        entry.get("@timestamp", ""),
        entry.get("relay", ""),
    )


def _reject_key(entry: Source) -> tuple[str, str, str]:
    return (entry.get("address", ""), entry.get("reason", ""), entry.get("@timestamp", ""))


class Tx:
    """A mail transaction, or the part of it seen so far."""

    __slots__ = (
        "client_domain",
        "client_ip",
        "client_port",
        "dataset",
        "expired",
        "first",
        "forged",
        "helo",
        "host",
        "last",
        "message_id",
        "notifications",
        "nrcpt",
        "position",
        "qid",
        "recipient_keys",
        "recipients",
        "reject_keys",
        "rejects",
        "removed",
        "sasl_method",
        "sasl_username",
        "sender",
        "size",
        "slot",
        "to",
    )

    def __init__(self, host: str, qid: str, dataset: str, ts: str, position: int = 0) -> None:
        self.host = host
        self.qid = qid
        self.dataset = dataset
        self.first = self.last = ts
        self.position = position
        self.slot = 0
        self.client_domain: str | None = None
        self.client_ip: str | None = None
        self.client_port: int | None = None
        self.forged: bool | None = None
        self.sender: str | None = None
        self.message_id: str | None = None
        self.size: int | None = None
        self.nrcpt: int | None = None
        self.sasl_username: str | None = None
        self.sasl_method: str | None = None
        self.helo: str | None = None
        self.removed: str | None = None
        self.expired: bool | None = None
        self.to: list[str] = []
        self.recipients: list[Source] = []
        self.recipient_keys: set[tuple[str, str, str, str]] = set()
        self.rejects: list[Source] = []
        self.reject_keys: set[tuple[str, str, str]] = set()
        self.notifications: list[str] = []

    # -- building ------------------------------------------------------------------------

    def see(self, ts: str) -> None:
        if later(self.first, ts):
            self.first = ts
        elif later(ts, self.last):
            self.last = ts

    def add_to(self, address: str) -> None:
        if address and address not in self.to:
            self.to.append(address)

    def add_recipient(self, entry: Source) -> None:
        key = _recipient_key(entry)
        if key not in self.recipient_keys:
            self.recipient_keys.add(key)
            self.recipients.append(entry)
        self.add_to(entry.get("address", ""))

    def add_reject(self, entry: Source) -> None:
        key = _reject_key(entry)
        if key not in self.reject_keys:
            self.reject_keys.add(key)
            self.rejects.append(entry)
        if "address" in entry:
            self.add_to(entry["address"])

    def apply(self, ts: str, data: dict[str, Any]) -> None:
        """Fold one line's contribution (from a message parser) into the transaction."""
        for key, value in data.items():
            if key == "recipients":
                for entry in value:
                    entry["@timestamp"] = ts
                    self.add_recipient(entry)
            elif key == "rejects":
                for entry in value:
                    entry["@timestamp"] = ts
                    self.add_reject(entry)
            elif key == "to":
                for address in value:
                    self.add_to(address)
            elif key == "client":
                if self.client_ip is None and self.client_domain is None:
                    domain, ip, port, forged = value
                    self.client_domain, self.client_ip, self.client_port = domain, ip, port
                    self.forged = forged or None
            elif key == "removed":
                if self.removed is None or later(ts, self.removed):
                    self.removed = ts
            elif key == "notification":
                if value not in self.notifications:
                    self.notifications.append(value)
            elif key == "sender":
                if self.sender is None:
                    self.sender = value
            elif getattr(self, key) is None:  # message_id, size, nrcpt, sasl_*, helo, expired
                setattr(self, key, value)

    def closed_before(self, ts: str) -> bool:
        """Whether the transaction had ended (postfix `removed`) before time ts."""
        return self.removed is not None and later(ts, self.removed)

    # -- merging -------------------------------------------------------------------------

    def absorb(self, other: Tx) -> None:
        """Merge another part of the same transaction in; on a conflict of single values
        the part seen first wins, so merging is order-independent once sorted."""
        if later(self.first, other.first) or (
            self.first == other.first and later(self.last, other.last)
        ):
            first, second = other, self
        else:
            first, second = self, other
        merged = first.copy()
        merged.see(second.first)
        merged.see(second.last)
        merged.position = min(first.position, second.position) or max(
            first.position, second.position
        )
        for name in (
            "client_domain",
            "client_ip",
            "client_port",
            "forged",
            "sender",
            "message_id",
            "size",
            "nrcpt",
            "sasl_username",
            "sasl_method",
            "helo",
            "expired",
        ):
            if getattr(merged, name) is None:
                setattr(merged, name, getattr(second, name))
        if second.removed is not None and (
            merged.removed is None or later(second.removed, merged.removed)
        ):
            merged.removed = second.removed
        for address in second.to:
            merged.add_to(address)
        for entry in second.recipients:
            merged.add_recipient(dict(entry))
        for entry in second.rejects:
            merged.add_reject(dict(entry))
        for qid in second.notifications:
            if qid not in merged.notifications:
                merged.notifications.append(qid)
        for name in Tx.__slots__:
            setattr(self, name, getattr(merged, name))

    def copy(self) -> Tx:
        twin = Tx(self.host, self.qid, self.dataset, self.first, self.position)
        for name in Tx.__slots__:
            value = getattr(self, name)
            setattr(twin, name, value.copy() if isinstance(value, list | set) else value)
        twin.recipients = [dict(e) for e in self.recipients]
        twin.rejects = [dict(e) for e in self.rejects]
        return twin

    # -- documents -----------------------------------------------------------------------

    @property
    def day(self) -> str:
        return self.first[:10]

    @property
    def doc_id(self) -> str:
        return transaction_id(self.host, self.qid, self.day, self.slot)

    def outcome(self) -> str:
        if self.expired:
            return "failure"
        latest: dict[str, str] = {}
        entries = self.recipients
        for entry in sorted(entries, key=_sort_key) if len(entries) > 1 else entries:
            latest[entry.get("address", "")] = status_class(entry.get("status", ""))
        states = set(latest.values())
        if "failure" in states or (self.rejects and "success" not in states):
            return "failure"
        if states == {"success"}:
            return "success"
        return "unknown"

    def source(self) -> Source:
        """The transaction document (absent beats null: only what was seen is written)."""
        email: Source = {"local_id": self.qid}
        if self.message_id is not None:
            email["message_id"] = self.message_id
        if self.sender is not None:
            email["from"] = {"address": self.sender}
        if self.to:
            email["to"] = {"address": list(self.to)}
        event: Source = {
            "dataset": self.dataset,
            "kind": "event",
            "category": "email",
            "action": "transaction",
            "outcome": self.outcome(),
            "start": self.first,
            "end": self.last,
        }
        doc: Source = {"@timestamp": self.first, "event": event}
        if self.host:
            doc["host"] = {"name": self.host}
        doc["email"] = email
        client: Source = {}
        if self.client_ip is not None:
            client["ip"] = self.client_ip
        if self.client_domain is not None:
            client["domain"] = self.client_domain
        if self.client_port is not None:
            client["port"] = self.client_port
        if client:
            doc["source"] = client
        mail: Source = {}
        if self.recipients:
            mail["recipients"] = (
                sorted(self.recipients, key=_sort_key)
                if len(self.recipients) > 1
                else list(self.recipients)
            )
        if self.rejects:
            mail["rejects"] = (
                sorted(self.rejects, key=_reject_sort_key)
                if len(self.rejects) > 1
                else list(self.rejects)
            )
        for name in ("size", "nrcpt", "sasl_username", "sasl_method", "helo", "removed"):
            value = getattr(self, name)
            if value is not None:
                mail[name] = value
        if self.expired:
            mail["expired"] = True
        if self.forged:
            mail["client_may_be_forged"] = True
        if self.notifications:
            mail["notification_ids"] = list(self.notifications)
        if mail:
            doc["mail"] = mail
        return doc

    @classmethod
    def from_source(cls, doc: Source, position: int = 0) -> Tx:
        """The inverse of `source`: a stored transaction document back to a Tx."""
        event = doc.get("event", {})
        email = doc.get("email", {})
        first = doc["@timestamp"]
        tx = cls(
            doc.get("host", {}).get("name", ""),
            email.get("local_id", ""),
            event.get("dataset", ""),
            first,
            position,
        )
        tx.last = event.get("end", first)
        tx.message_id = email.get("message_id")
        tx.sender = email.get("from", {}).get("address")
        client = doc.get("source", {})
        tx.client_ip = client.get("ip")
        tx.client_domain = client.get("domain")
        tx.client_port = client.get("port")
        mail = doc.get("mail", {})
        for name in ("size", "nrcpt", "sasl_username", "sasl_method", "helo", "removed"):
            setattr(tx, name, mail.get(name))
        tx.expired = mail.get("expired")
        tx.forged = mail.get("client_may_be_forged")
        tx.notifications = list(mail.get("notification_ids", []))
        for address in email.get("to", {}).get("address", []):
            tx.add_to(address)
        for entry in mail.get("recipients", []):
            tx.add_recipient(dict(entry))
        for entry in mail.get("rejects", []):
            tx.add_reject(dict(entry))
        return tx

    def document(self) -> Document:
        return Document(self.source(), self.position, doc_id=self.doc_id)


def _sort_key(entry: Source) -> tuple[str, str, str, str]:
    ts = entry.get("@timestamp", "")
    return (ts[:-1], entry.get("address", ""), entry.get("status", ""), entry.get("relay", ""))


def _reject_sort_key(entry: Source) -> tuple[str, str, str]:
    ts = entry.get("@timestamp", "")
    return (ts[:-1], entry.get("address", ""), entry.get("reason", ""))


def belongs(a: Tx, b: Tx, window: timedelta) -> bool:
    """Whether two parts with the same host and queue id are one transaction: neither
    starts after the other was removed, and they are within a queue lifetime of each other."""
    if a.closed_before(b.first) or b.closed_before(a.first):
        return False
    if a.first[:10] == b.last[:10] or b.first[:10] == a.last[:10]:
        return True
    return moment(a.first) <= moment(b.last) + window and moment(b.first) <= moment(a.last) + window


# -- reducing the lines of one object ------------------------------------------------------


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


# -- merging with what is indexed -----------------------------------------------------------


class MailMerger:
    """Writes the transaction documents of one object merged with their indexed parts.

    Other documents (standalone rejections) go to the sink unchanged. Transactions are
    written by `flush`, with conditional bulk operations and a realtime multi-get; see the
    module docstring for the scheme.
    """

    def __init__(
        self,
        sink: Any,
        index_prefix: str,
        *,
        queue_days: int = DEFAULT_QUEUE_DAYS,
        max_rounds: int = 8,
    ) -> None:
        self.sink = sink
        # BulkTransport keeps the OpenSearch client it was given; the multi-get needs it.
        self.client = sink.transport.client
        self.prefix = index_prefix
        self.window = timedelta(days=queue_days)
        self.max_rounds = max_rounds
        self._pending: list[Tx] = []
        self.written = 0
        self.unchanged = 0
        self.moved = 0
        self.conflicts = 0

    def add(self, index: str, doc_id: str, doc: Document) -> None:
        if doc.doc_id is None:
            self.sink.add(index, doc_id, orjson.dumps(doc.source))
        else:
            self._pending.append(Tx.from_source(doc.source, doc.position))

    def index_for(self, day: str) -> str:
        return index_name(self.prefix, "mail", day)

    def _candidate_days(self, tx: Tx) -> list[str]:
        start = moment(tx.first).date() - self.window
        end = moment(tx.last).date() + self.window
        days = []
        while start <= end:
            days.append(start.isoformat())
            start += timedelta(days=1)
        return days

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        verify: list[Tx] = []
        rounds = 0
        while pending or verify:
            rounds += 1
            if rounds > self.max_rounds:
                from ..output.sink import SinkUnavailable

                raise SinkUnavailable(
                    f"{len(pending) + len(verify)} mail transactions still conflicting"
                    f" after {self.max_rounds} rounds"
                )
            if not pending:  # everything written: look once more at what we created
                pending, verify = verify, []
                retry, _ = self._round(pending, verifying=True)
            else:
                retry, created = self._round(pending, verifying=False)
                verify.extend(created)
            if retry and rounds > 1:
                self._backoff(rounds)
            pending = retry

    def _backoff(self, rounds: int) -> None:
        delay = random.uniform(0, min(self.sink.max_backoff, self.sink.base_backoff * 2**rounds))
        if self.sink.remaining() < delay + 1.0:
            from ..output.sink import SinkUnavailable

            raise SinkUnavailable("time budget spent while merging mail transactions")
        self.sink.sleep(delay)

    def _mget(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[Source, int, int]]:
        found: dict[tuple[str, str], tuple[Source, int, int]] = {}
        for start in range(0, len(keys), 5000):
            docs = [{"_index": i, "_id": d} for i, d in keys[start : start + 5000]]
            try:
                response = self.client.mget(body={"docs": docs})
            except Exception as exc:
                from ..output.sink import SinkUnavailable

                raise SinkUnavailable(f"mail merge: multi-get failed: {exc}") from exc
            for item in response.get("docs", []):
                if item.get("found"):
                    key = (item["_index"], item["_id"])
                    found[key] = (item["_source"], item["_seq_no"], item["_primary_term"])
                elif "error" in item:
                    error = item["error"]
                    kind = error.get("type") if isinstance(error, dict) else str(error)
                    if kind != "index_not_found_exception":
                        from ..output.sink import SinkUnavailable

                        raise SinkUnavailable(f"mail merge: multi-get error: {error}")
        return found

    def _round(self, txs: list[Tx], *, verifying: bool) -> tuple[list[Tx], list[Tx]]:
        """One lookup + write pass; returns (transactions to try again, ones created)."""
        # One fragment per (host, qid) per round: a second one waits for the first's write.
        now: list[Tx] = []
        later_: list[Tx] = []
        seen: set[tuple[str, str]] = set()
        for tx in sorted(txs, key=lambda t: t.first[:-1]):
            key = (tx.host, tx.qid)
            (later_ if key in seen else now).append(tx)
            seen.add(key)
        wanted: dict[int, list[tuple[str, int, tuple[str, str]]]] = {}
        keys: list[tuple[str, str]] = []
        for n, tx in enumerate(now):
            wanted[n] = [
                (day, slot, (self.index_for(day), transaction_id(tx.host, tx.qid, day, slot)))
                for day in self._candidate_days(tx)
                for slot in range(SLOTS)
            ]
            keys.extend(key for _, _, key in wanted[n])
        found = self._mget(sorted(set(keys)))
        writes: list[tuple[bytes, bytes | None, Tx, list[tuple[str, str, int, int]], bool]] = []
        for n, tx in enumerate(now):
            parts: list[tuple[str, int, tuple[str, str]]] = []
            taken: set[tuple[str, int]] = set()  # slots held by other uses of the queue id
            merged = tx.copy()
            for day, slot, key in wanted[n]:
                if key in found:
                    stored_tx = Tx.from_source(found[key][0])
                    if belongs(tx, stored_tx, self.window):
                        parts.append((day, slot, key))
                        merged.absorb(stored_tx)
                    else:
                        taken.add((day, slot))
            same_day = [slot for day, slot, _ in parts if day == merged.day]
            free = [s for s in range(SLOTS) if (merged.day, s) not in taken]
            merged.slot = min(same_day) if same_day else (free[0] if free else SLOTS - 1)
            target = (self.index_for(merged.day), merged.doc_id)
            stored = found.get(target)
            if stored is not None and target not in {key for _, _, key in parts}:
                merged.absorb(Tx.from_source(stored[0]))  # slots exhausted: the known limit
            body = merged.source()
            others = [(key[0], key[1], *found[key][1:]) for _, _, key in parts if key != target]
            if stored is not None and stored[0] == body and not others:
                if not verifying:  # already indexed as it is (a redelivered object)
                    self.unchanged += 1
                    self.sink.stats.indexed += 1
                continue
            if stored is not None:
                meta: dict[str, Any] = {"_index": target[0], "_id": target[1]}
                meta["if_seq_no"], meta["if_primary_term"] = stored[1], stored[2]
                action = orjson.dumps({"index": meta})
            else:
                action = orjson.dumps({"create": {"_index": target[0], "_id": target[1]}})
            created = stored is None and not verifying and merged.removed is None
            writes.append((action, orjson.dumps(body), merged, others, created))
        retry, created_txs = self._write(writes, count=not verifying)
        return retry + later_, created_txs

    def _write(
        self,
        writes: list[tuple[bytes, bytes | None, Tx, list[tuple[str, str, int, int]], bool]],
        *,
        count: bool,
    ) -> tuple[list[Tx], list[Tx]]:
        retry: list[Tx] = []
        created: list[Tx] = []
        if not writes:
            return retry, created
        statuses = self._bulk([(action, body) for action, body, _, _, _ in writes])
        deletes: list[tuple[bytes, bytes | None]] = []
        delete_owner: list[Tx] = []
        for (action, body, tx, others, is_new), (status, reason) in zip(
            writes, statuses, strict=True
        ):
            if status < 300:
                self.written += 1
                self.sink.stats.indexed += count  # a verifying rewrite is not a new document
                if is_new:
                    created.append(tx)
                for index, doc_id, seq_no, term in others:
                    meta = {"_index": index, "_id": doc_id, "if_seq_no": seq_no}
                    meta["if_primary_term"] = term
                    deletes.append((orjson.dumps({"delete": meta}), None))
                    delete_owner.append(tx)
            elif status == 409 or status in (429, 500, 502, 503, 504):
                self.conflicts += status == 409
                retry.append(tx)
            else:
                self._fail(action, body or b"", status, reason)
        if deletes:
            self.moved += len(deletes)
            for tx, (status, _) in zip(delete_owner, self._bulk(deletes), strict=True):
                if status == 409 or status in (429, 500, 502, 503, 504):
                    retry.append(tx)  # changed meanwhile: merge again, converging
        return retry, created

    def _bulk(self, ops: list[tuple[bytes, bytes | None]]) -> list[tuple[int, str]]:
        body = b"".join(a + b"\n" + (s + b"\n" if s is not None else b"") for a, s in ops)
        self.sink.stats.requests += 1
        try:
            response = self.sink.transport.bulk(body)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if not isinstance(status, int) or status == 429 or status >= 500:
                return [(503, str(exc))] * len(ops)
            return [(status, str(exc))] * len(ops)
        out = []
        for item in response.get("items", []):
            result = next(iter(item.values()))
            error = result.get("error")
            reason = str(error.get("reason")) if isinstance(error, dict) else str(error or "")
            out.append((result.get("status", 0), reason))
        return out

    def _fail(self, action: bytes, body: bytes, status: int, reason: str) -> None:
        from ..output.sink import FailedDocument

        meta = next(iter(orjson.loads(action).values()))
        self.sink.stats.failed += 1
        self.sink.failures.append(FailedDocument(meta["_index"], meta["_id"], body, status, reason))
