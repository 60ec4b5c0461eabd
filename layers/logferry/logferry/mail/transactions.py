"""Mail transactions: the many log lines of one message on one server, as one document.

`Tx` is a transaction (or a fragment of one: a deferred message is logged over days, so over
many objects) with a lossless round trip to and from its document; `absorb` merges two parts
(recipient attempts de-duplicated by (address, status, @timestamp, relay), the earliest values
kept, times widened) and `belongs` says whether two parts with the same host and queue id are
one transaction. A transaction lives in the daily index of its first-seen day under
`transaction_id(host, queue id, first-seen UTC day, slot)`. `TxDocument` is a fragment's
document as the reducer (logferry.mail.reducer) yields it, carrying its `Tx`: the merger
(logferry.mail.merger) takes that transaction as it is instead of reading the document back.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..model import Document, Source

# postfix maximal_queue_lifetime and sendmail Timeout.queuereturn both default to 5 days.
DEFAULT_QUEUE_DAYS = 5

# Uses of one queue id on one host starting on the same day that get documents of their own;
# a further one is merged into the last (postfix short ids only; a rare limit).
SLOTS = 3

# postfix statuses, and what sendmail's free-text stat= amounts to.
SUCCESS = frozenset({"sent", "deliverable"})
FAILURE = frozenset({"bounced", "expired", "undeliverable", "failed"})


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

    def document(self) -> TxDocument:
        return TxDocument(self.source(), self.position, doc_id=self.doc_id, tx=self)


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


@dataclass(slots=True)
class TxDocument(Document):
    """A transaction's document, with the transaction it was made from (not to be changed):
    the merger works on that, not on the document read back."""

    tx: Tx = field(kw_only=True, repr=False, compare=False)
