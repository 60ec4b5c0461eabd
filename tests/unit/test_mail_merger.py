"""The mail merger as a sink of its own, against an in-memory stand-in for OpenSearch's _bulk
and _mget: its counts and its refused documents are its own (never a bulk sink's), conflicts
are merged again, and giving up raises SinkUnavailable."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from logferry.config import Settings
from logferry.formats.postfix import FORMAT as POSTFIX
from logferry.ingest.deadletter import StreamDeadLetters
from logferry.ingest.pipeline import Pipeline
from logferry.mail.merger import MailMerger
from logferry.mail.transactions import TxDocument, transaction_id
from logferry.model import Document, ObjectRef, ParseContext
from logferry.output.client import AccessDenied
from logferry.output.retry import Backoff
from logferry.output.sink import BulkSink, SinkUnavailable

PREFIX = "logs"
CTX = ParseContext(ObjectRef("", "maillog"), datetime(2024, 6, 1, tzinfo=UTC))
INDEX = f"{PREFIX}-mail-2024.05.30"

PART_1 = """\
May 30 23:59:01 mx1 postfix/smtpd[1]: 7EE668039: client=bob.desktop[10.10.10.10]
May 30 23:59:02 mx1 postfix/qmgr[3]: 7EE668039: from=<bob@foo.com>, size=10, nrcpt=1 (queue active)
"""
PART_2 = """\
May 30 23:59:03 mx1 postfix/smtp[4]: 7EE668039: to=<a@bar.com>, relay=mx.bar.com[192.0.2.9]:25, delay=2, delays=1/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
May 30 23:59:04 mx1 postfix/qmgr[3]: 7EE668039: removed
"""  # noqa: E501
REFUSED = """\
May 30 22:00:00 mx1 postfix/qmgr[3]: 1A2B3C4D5E: from=<refuse@foo.com>, size=10, nrcpt=1 (queue active)
"""  # noqa: E501
NOQUEUE = """\
May 30 21:00:00 mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 554 5.7.1 <x@bar.com>: Relay access denied; from=<s@evil.test> to=<x@bar.com> proto=ESMTP helo=<evil>
"""  # noqa: E501


def documents(text: str) -> list[Document]:
    lines = list(enumerate(text.strip().split("\n"), 1))
    return [d for d in POSTFIX.parse(lines, CTX) if isinstance(d, Document)]


class FakeOpenSearch:
    """_bulk (create, conditional index, conditional delete) and realtime _mget over a dict,
    as OpenSearch answers them. `refuse(source)` makes a write fail for good (a mapping
    conflict); `before_write` runs before each _bulk (another writer getting there first)."""

    def __init__(self, refuse: Callable[[dict[str, Any]], bool] = lambda source: False) -> None:
        self.docs: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}
        self.refuse = refuse
        self.before_write: Callable[[], None] = lambda: None
        self.calls: list[str] = []
        self.seq_no = 0

    def put(self, index: str, doc_id: str, source: dict[str, Any]) -> None:
        self.seq_no += 1
        self.docs[(index, doc_id)] = (source, self.seq_no)

    def mget(self, docs: list[dict[str, str]], timeout: float | None = None) -> dict[str, Any]:
        self.calls.append("mget")
        out = []
        for doc in docs:
            key = (doc["_index"], doc["_id"])
            if key in self.docs:
                source, seq_no = self.docs[key]
                found = {"found": True, "_source": source, "_seq_no": seq_no, "_primary_term": 1}
                out.append({"_index": key[0], "_id": key[1], **found})
            else:
                out.append({"_index": key[0], "_id": key[1], "found": False})
        return {"docs": out}

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        self.calls.append("bulk")
        self.before_write()
        lines = iter(body.splitlines())
        items = []
        for line in lines:
            ((op, meta),) = orjson.loads(line).items()
            key = (meta["_index"], meta["_id"])
            source = orjson.loads(next(lines)) if op != "delete" else None
            items.append({op: self._apply(op, key, meta, source)})
        return {
            "errors": any(next(iter(i.values()))["status"] >= 300 for i in items),
            "items": items,
        }

    def _apply(
        self, op: str, key: tuple[str, str], meta: dict[str, Any], source: dict[str, Any] | None
    ) -> dict[str, Any]:
        stored = self.docs.get(key)
        if op == "create" and stored is not None:
            return {"status": 409, "error": {"type": "version_conflict_engine_exception"}}
        if "if_seq_no" in meta and (stored is None or stored[1] != meta["if_seq_no"]):
            return {"status": 409, "error": {"type": "version_conflict_engine_exception"}}
        if op == "delete":
            if stored is None:
                return {"status": 404}
            del self.docs[key]
            return {"status": 200}
        assert source is not None
        if self.refuse(source):
            error = {"type": "mapper_parsing_exception", "reason": "failed to parse [size]"}
            return {"status": 400, "error": error}
        self.put(*key, source)
        return {"status": 201 if stored is None else 200}


def merger_over(store: Any, **options: Any) -> MailMerger:
    options.setdefault("backoff", Backoff(sleep=lambda seconds: None))
    return MailMerger(store, PREFIX, **options)


def test_transaction_documents_carry_their_transaction_other_documents_do_not() -> None:
    docs = documents(NOQUEUE + PART_1)
    assert [MailMerger.takes(d) for d in docs] == [False, True]
    (tx_doc,) = [d for d in docs if isinstance(d, TxDocument)]
    assert tx_doc.tx.source() == tx_doc.source and tx_doc.tx.doc_id == tx_doc.doc_id
    with pytest.raises(TypeError):
        merger_over(FakeOpenSearch()).add(docs[0])


def test_parts_from_two_objects_are_one_document_counted_by_the_merger() -> None:
    store = FakeOpenSearch()
    first = merger_over(store)
    for doc in documents(PART_2):  # the end first
        first.add(doc)
    first.flush()
    second = merger_over(store)
    for doc in documents(PART_1):
        second.add(doc)
    second.flush()

    ((key, (source, _)),) = store.docs.items()
    assert key == (INDEX, transaction_id("mx1", "7EE668039", "2024-05-30"))
    assert source["email"]["from"]["address"] == "bob@foo.com"
    assert source["email"]["to"]["address"] == ["a@bar.com"]
    assert source["event"]["outcome"] == "success"
    assert (first.stats.indexed, first.stats.written) == (1, 1)
    assert (second.stats.indexed, second.stats.written, second.stats.failed) == (1, 1, 0)
    assert first.stats.requests + second.stats.requests == len(store.calls)  # mget, bulk

    again = merger_over(store)  # the same object delivered again
    for doc in documents(PART_1):
        again.add(doc)
    again.flush()
    assert (again.stats.indexed, again.stats.unchanged, again.stats.written) == (1, 1, 0)
    assert len(store.docs) == 1


def test_a_refused_transaction_is_the_mergers_failure_with_its_reason() -> None:
    store = FakeOpenSearch(
        refuse=lambda source: source["email"]["from"]["address"] == "refuse@foo.com"
    )
    merger = merger_over(store)
    for doc in documents(REFUSED + PART_1):
        merger.add(doc)
    merger.flush()

    (failed,) = merger.failures
    assert failed.status == 400
    assert failed.reason == "mapper_parsing_exception: failed to parse [size]"
    assert failed.index == INDEX and failed.doc_id == transaction_id(
        "mx1", "1A2B3C4D5E", "2024-05-30"
    )
    assert orjson.loads(failed.body)["email"]["from"]["address"] == "refuse@foo.com"
    assert (merger.stats.failed, merger.stats.indexed) == (1, 1)


def test_a_write_another_writer_got_to_first_is_merged_again() -> None:
    store = FakeOpenSearch()
    (end,) = documents(PART_2)
    assert isinstance(end, TxDocument)

    def other_writer_first() -> None:  # creates the end of the transaction meanwhile, once
        store.before_write = lambda: None
        store.put(INDEX, end.tx.doc_id, end.source)

    store.before_write = other_writer_first
    merger = merger_over(store)
    for doc in documents(PART_1):
        merger.add(doc)
    merger.flush()

    assert merger.stats.conflicts == 1 and merger.stats.indexed == 1
    ((_, (source, _)),) = store.docs.items()
    assert source["email"]["from"]["address"] == "bob@foo.com"  # PART_1's
    assert source["mail"]["removed"] == "2024-05-30T23:59:04Z"  # PART_2's


class Unanswering(FakeOpenSearch):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        self.calls.append("bulk")
        raise self.error


class Busy(Exception):
    status_code = 503


def test_the_cluster_refusing_us_returns_the_object_to_the_queue() -> None:
    merger = merger_over(Unanswering(AccessDenied(403, "OpenSearch at x denied the request", {})))
    for doc in documents(PART_1):
        merger.add(doc)
    with pytest.raises(SinkUnavailable, match="denied the request"):
        merger.flush()
    assert merger.failures == []


def test_retries_stop_when_the_time_budget_is_spent_without_sleeping_past_it() -> None:
    slept: list[float] = []
    left = iter([100.0, 100.0, 100.0, 0.5])
    backoff = Backoff(remaining=lambda: next(left, 0.5), sleep=slept.append)
    store = Unanswering(Busy("busy"))
    merger = merger_over(store, backoff=backoff)
    for doc in documents(PART_1):
        merger.add(doc)
    with pytest.raises(SinkUnavailable, match="time budget spent"):
        merger.flush()
    assert store.calls.count("bulk") >= 2 and len(slept) < store.calls.count("bulk")
    assert merger.failures == [] and merger.stats.failed == 0


def test_a_failed_multi_get_returns_the_object_to_the_queue() -> None:
    class NoReads(FakeOpenSearch):
        def mget(self, docs: list[dict[str, str]], timeout: float | None = None) -> dict[str, Any]:
            raise ConnectionError("reset")

    merger = merger_over(NoReads())
    for doc in documents(PART_1):
        merger.add(doc)
    with pytest.raises(SinkUnavailable, match="multi-get failed"):
        merger.flush()


# -- in the pipeline ------------------------------------------------------------------------


class RecordingTransport:
    """The bulk sink's transport: accepts everything, keeps the ids it was sent."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        actions = [orjson.loads(line)["index"] for line in body.splitlines()[0::2]]
        self.ids.extend(a["_id"] for a in actions)
        return {"errors": False, "items": [{"index": {"status": 201}} for _ in actions]}


class OneObject:
    def __init__(self, text: str) -> None:
        self.text = text

    def open(self, ref: ObjectRef) -> Any:
        when = datetime(2024, 6, 1, tzinfo=UTC)
        return SimpleNamespace(stream=io.BytesIO(self.text.encode()), last_modified=when)


def test_a_refusal_reaches_the_mergers_hand_off_and_the_dead_letters_not_the_bulk_sink() -> None:
    store = FakeOpenSearch(
        refuse=lambda source: source["email"]["from"]["address"] == "refuse@foo.com"
    )
    transport = RecordingTransport()
    sink = BulkSink(transport)  # type: ignore[arg-type]
    mergers: list[MailMerger] = []

    def mail() -> MailMerger:
        mergers.append(merger_over(store))
        return mergers[-1]

    kept = io.StringIO()
    pipeline = Pipeline(
        Settings(index_prefix=PREFIX),
        OneObject(NOQUEUE + REFUSED + PART_1 + PART_2),
        sink,
        StreamDeadLetters(kept),
        format_name="postfix",
        today=lambda: date(2024, 6, 1),
        mail=mail,
    )
    result = pipeline.ingest(ObjectRef("", "maillog"))

    (merger,) = mergers
    assert (result.outcome, result.documents, result.extra["failed_documents"]) == ("indexed", 2, 1)
    assert result.dead_lettered == 1 and "mapper_parsing_exception" in kept.getvalue()
    # the standalone rejection went to the bulk sink, the transactions to the merger
    assert len(transport.ids) == 1 and sink.stats.indexed == 1
    assert sink.stats.failed == 0 and sink.failures == []
    assert (merger.stats.indexed, merger.stats.failed) == (1, 1)
    assert len(store.docs) == 1


def test_a_format_that_merges_needs_a_merger() -> None:
    pipeline = Pipeline(
        Settings(index_prefix=PREFIX),
        OneObject(PART_1),
        BulkSink(RecordingTransport()),  # type: ignore[arg-type]
        StreamDeadLetters(io.StringIO()),
        format_name="postfix",
        today=lambda: date(2024, 6, 1),
    )
    with pytest.raises(RuntimeError, match="needs `mail`"):
        pipeline.ingest(ObjectRef("", "maillog"))
