"""Mail transactions into OpenSearch, merged with what is already indexed: a sink of its own,
beside the bulk sink, on the same public output API (a transport with `bulk` and `mget`,
output.retry's classification and backoff).

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
conflict (409) means another writer got there first, and the fragment is merged again, as is
one whose write may succeed later (429, 5xx). A fragment that created a new document is
looked up once more afterwards, so two writers that each created a part concurrently find
each other and fold into one.

Counts are the merger's own (`stats`), and so are the documents OpenSearch refuses for good
(`failures`, FailedDocuments for the dead letters). Giving up (the time budget spent, rounds
of conflicts without end, a multi-get that fails, the cluster refusing us) raises
SinkUnavailable: the object is read again later, and merging it again changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import orjson

from ..model import Document, Source
from ..output.client import ClusterRefused
from ..output.indices import index_name
from ..output.retry import Action, Backoff, classify, reason_of, status_of
from ..output.sink import FailedDocument, SinkUnavailable, bulk_within
from .transactions import (
    DEFAULT_QUEUE_DAYS,
    SLOTS,
    Tx,
    TxDocument,
    belongs,
    moment,
    transaction_id,
)

log = logging.getLogger(__name__)

# Index and id of a stored document; what a multi-get found: source, seq_no, primary term.
Key = tuple[str, str]
Stored = tuple[Source, int, int]
# One write: action line, source line (None for a delete), the merged transaction, the parts
# to delete once it is written (index, id, seq_no, primary term), whether it created one.
Write = tuple[bytes, bytes | None, Tx, list[tuple[str, str, int, int]], bool]
# What became of one operation of a _bulk request.
Outcome = tuple[Action, int, str]

# Documents per multi-get request.
MGET_DOCS = 5000


class MergeTransport(Protocol):
    """What the merger calls (output.sink.BulkTransport has both)."""

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]: ...

    def mget(self, docs: list[dict[str, str]], timeout: float | None = None) -> dict[str, Any]: ...


@dataclass
class MergeStats:
    """What one merger did (the bulk sink's SinkStats are not touched)."""

    # Fragments of the object now in OpenSearch (written, or found already indexed as they are).
    indexed: int = 0
    written: int = 0  # documents written (a second look's rewrite included)
    unchanged: int = 0  # fragments already indexed as they are (a redelivered object)
    moved: int = 0  # later copies deleted after their transaction moved to an earlier day
    conflicts: int = 0  # writes another writer got to first (409): merged again
    failed: int = 0  # documents refused for good (in `failures`)
    requests: int = 0  # requests sent: multi-gets and bulks


class MailMerger:
    """Writes the transaction fragments of one object merged with their indexed parts: `add`
    each (a TxDocument, see `takes`), then `flush`. One merger per object."""

    def __init__(
        self,
        transport: MergeTransport,
        index_prefix: str,
        *,
        queue_days: int = DEFAULT_QUEUE_DAYS,
        backoff: Backoff | None = None,
        max_rounds: int = 8,
    ) -> None:
        self.transport = transport
        self.prefix = index_prefix
        self.window = timedelta(days=queue_days)
        # Pauses between rounds, and the time budget (default: none, real sleeping).
        self.backoff = backoff or Backoff()
        self.max_rounds = max_rounds
        self.stats = MergeStats()
        # Refused for good; the caller keeps them (dead letters) after `flush`.
        self.failures: list[FailedDocument] = []
        self._pending: list[Tx] = []

    @staticmethod
    def takes(doc: Document) -> bool:
        """Whether `doc` is a transaction fragment, for this merger; any other document of a
        mail format (a rejection before a queue id existed) is indexed as it is."""
        return isinstance(doc, TxDocument)

    def add(self, doc: Document) -> None:
        if not isinstance(doc, TxDocument):
            raise TypeError(f"not a mail transaction: {type(doc).__name__}")
        self._pending.append(doc.tx)

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
        """Write what was added; raise SinkUnavailable when it cannot be done now."""
        pending, self._pending = self._pending, []
        verify: list[Tx] = []
        rounds = 0
        while pending or verify:
            rounds += 1
            if rounds > self.max_rounds:
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
                self._pause(rounds)
            pending = retry

    def _pause(self, rounds: int) -> None:
        delay = self.backoff.delay(rounds)
        if not self.backoff.affords(delay):
            raise SinkUnavailable("time budget spent while merging mail transactions")
        self.backoff.sleep(delay)

    def _mget(self, keys: list[Key]) -> dict[Key, Stored]:
        found: dict[Key, Stored] = {}
        for start in range(0, len(keys), MGET_DOCS):
            docs = [{"_index": i, "_id": d} for i, d in keys[start : start + MGET_DOCS]]
            self.stats.requests += 1
            try:
                timeout = self.backoff.request_timeout()
                response = (
                    self.transport.mget(docs)
                    if timeout is None
                    else self.transport.mget(docs, timeout)
                )
            except ClusterRefused as exc:
                raise SinkUnavailable(str(exc)) from None
            except Exception as exc:
                raise SinkUnavailable(f"mail merge: multi-get failed: {exc}") from exc
            for item in response.get("docs", []):
                if item.get("found"):
                    key = (item["_index"], item["_id"])
                    found[key] = (item["_source"], item["_seq_no"], item["_primary_term"])
                elif "error" in item:
                    error = item["error"]
                    kind = error.get("type") if isinstance(error, dict) else str(error)
                    if kind != "index_not_found_exception":
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
        wanted: dict[int, list[tuple[str, int, Key]]] = {}
        keys: list[Key] = []
        for n, tx in enumerate(now):
            wanted[n] = [
                (day, slot, (self.index_for(day), transaction_id(tx.host, tx.qid, day, slot)))
                for day in self._candidate_days(tx)
                for slot in range(SLOTS)
            ]
            keys.extend(key for _, _, key in wanted[n])
        found = self._mget(sorted(set(keys)))
        writes: list[Write] = []
        for n, tx in enumerate(now):
            parts: list[tuple[str, int, Key]] = []
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
                    self.stats.unchanged += 1
                    self.stats.indexed += 1
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

    def _write(self, writes: list[Write], *, count: bool) -> tuple[list[Tx], list[Tx]]:
        retry: list[Tx] = []
        created: list[Tx] = []
        if not writes:
            return retry, created
        outcomes = self._bulk([(action, body) for action, body, _, _, _ in writes])
        deletes: list[tuple[bytes, bytes | None]] = []
        delete_owner: list[Tx] = []
        for (action, body, tx, others, is_new), (done, status, reason) in zip(
            writes, outcomes, strict=True
        ):
            if done is Action.DONE:
                self.stats.written += 1
                self.stats.indexed += count  # a verifying rewrite is not a new document
                if is_new:
                    created.append(tx)
                for index, doc_id, seq_no, term in others:
                    meta = {"_index": index, "_id": doc_id, "if_seq_no": seq_no}
                    meta["if_primary_term"] = term
                    deletes.append((orjson.dumps({"delete": meta}), None))
                    delete_owner.append(tx)
            elif done is Action.CONFLICT or done.retryable:
                self.stats.conflicts += done is Action.CONFLICT
                retry.append(tx)
            else:
                self._fail(action, body or b"", status, reason)
        if deletes:
            self.stats.moved += len(deletes)
            for tx, (done, _, _) in zip(delete_owner, self._bulk(deletes), strict=True):
                if done is Action.CONFLICT or done.retryable:
                    retry.append(tx)  # changed meanwhile: merge again, converging
        return retry, created

    def _bulk(self, ops: list[tuple[bytes, bytes | None]]) -> list[Outcome]:
        """One _bulk request of these operations; what became of each."""
        body = b"".join(a + b"\n" + (s + b"\n" if s is not None else b"") for a, s in ops)
        self.stats.requests += 1
        try:
            response = bulk_within(self.transport, body, self.backoff)
        except SinkUnavailable:
            raise  # refused for good (credentials, permissions): back to the queue
        except Exception as exc:
            # The request as a whole: every operation in it shares its fate.
            status = status_of(exc)
            code = status if isinstance(status, int) else 0
            log.warning("mail merge: bulk request failed (%s): %s", status, exc)
            return [(classify(status), code, f"request failed: {exc}")] * len(ops)
        items = response.get("items")
        if not isinstance(items, list) or len(items) != len(ops):
            # Not an answer per operation: nothing can be trusted; merge them all again.
            log.warning("mail merge: malformed bulk response, %d operations again", len(ops))
            return [(Action.RETRY, 0, "malformed response")] * len(ops)
        outcomes: list[Outcome] = []
        for item in items:
            result = next(iter(item.values()))
            status = result.get("status", 0)
            action = classify(status)
            reason = "" if action is Action.DONE else reason_of(result.get("error"))
            outcomes.append((action, status, reason))
        return outcomes

    def _fail(self, action: bytes, body: bytes, status: int, reason: str) -> None:
        meta = next(iter(orjson.loads(action).values()))
        self.stats.failed += 1
        self.failures.append(FailedDocument(meta["_index"], meta["_id"], body, status, reason))
