"""Transaction reduction and merging: lossless documents, order-independent idempotent merges,
which parts are one transaction, every line accounted for (property-based), and the search
command's query and output."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from logferry.formats.postfix import FORMAT as POSTFIX
from logferry.formats.sendmail import FORMAT as SENDMAIL
from logferry.mail.reducer import MailReducer
from logferry.mail.search import build_query, criteria_from, format_hits, parse_when
from logferry.mail.transactions import Tx, belongs, status_class
from logferry.model import Document, ObjectRef, ParseContext, Rejection
from tests.conftest import REALWORLD, examples

WINDOW = timedelta(days=5)
CTX = ParseContext(ObjectRef("", "maillog"), datetime(2024, 6, 1, tzinfo=UTC))

PART_1 = """\
May 30 23:59:01 mx1 postfix/smtpd[1]: 7EE668039: client=bob.desktop[10.10.10.10]
May 30 23:59:01 mx1 postfix/cleanup[2]: 7EE668039: message-id=<m1@foo.com>
May 30 23:59:02 mx1 postfix/qmgr[3]: 7EE668039: from=<bob@foo.com>, size=10, nrcpt=2 (queue active)
May 30 23:59:03 mx1 postfix/smtp[4]: 7EE668039: to=<a@bar.com>, relay=mx.bar.com[192.0.2.9]:25, delay=2, delays=1/0/0.5/0.5, dsn=4.0.0, status=deferred (try later)
"""  # noqa: E501
PART_2 = """\
May 31 00:09:03 mx1 postfix/smtp[4]: 7EE668039: to=<a@bar.com>, relay=mx.bar.com[192.0.2.9]:25, delay=602, delays=601/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
May 31 00:09:04 mx1 postfix/local[5]: 7EE668039: to=<b@foo.com>, relay=local, delay=603, delays=603/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
May 31 00:09:04 mx1 postfix/qmgr[3]: 7EE668039: removed
"""  # noqa: E501


def tx_of(text: str) -> Tx:
    lines = list(enumerate(text.strip().split("\n"), 1))
    (doc,) = [d for d in POSTFIX.parse(lines, CTX) if isinstance(d, Document)]
    return Tx.from_source(doc.source)


def merged(*parts: Tx) -> dict[str, object]:
    first = parts[0].copy()
    for part in parts[1:]:
        first.absorb(part.copy())
    return first.source()


def test_document_round_trips_through_tx() -> None:
    whole = tx_of(PART_1 + PART_2)
    assert Tx.from_source(whole.source()).source() == whole.source()


def test_merging_parts_equals_reducing_the_whole_in_any_order_and_twice() -> None:
    one, two, whole = tx_of(PART_1), tx_of(PART_2), tx_of(PART_1 + PART_2)
    assert merged(one, two) == whole.source()
    assert merged(two, one) == whole.source()
    assert merged(one, two, one, two) == whole.source()  # redelivery adds nothing
    doc = whole.source()
    assert doc["@timestamp"] == "2024-05-30T23:59:01Z"
    assert [(r["address"], r["status"]) for r in doc["mail"]["recipients"]] == [  # type: ignore[index]
        ("a@bar.com", "deferred"),
        ("a@bar.com", "sent"),
        ("b@foo.com", "sent"),
    ]


def test_parts_after_removal_or_beyond_the_queue_lifetime_are_other_transactions() -> None:
    whole = tx_of(PART_1 + PART_2)
    reuse = tx_of("May 31 08:00:00 mx1 postfix/smtpd[1]: 7EE668039: client=x[192.0.2.3]")
    same_second = tx_of("May 30 23:59:01 mx1 postfix/qmgr[3]: 7EE668039: removed")
    earlier_use = tx_of("May 30 23:59:00 mx1 postfix/qmgr[3]: 7EE668039: removed")
    assert belongs(tx_of(PART_1), tx_of(PART_2), WINDOW)
    assert not belongs(whole, reuse, WINDOW) and not belongs(reuse, whole, WINDOW)
    far = tx_of(PART_1)
    far.first = far.last = "2024-05-01T00:00:00Z"
    assert not belongs(far, tx_of(PART_2), WINDOW)
    assert belongs(same_second, tx_of(PART_1), WINDOW)  # removed in the second it began
    assert not belongs(earlier_use, tx_of(PART_1), WINDOW)  # removed before it began


def test_status_classes() -> None:
    assert status_class("sent") == "success" and status_class("bounced") == "failure"
    assert status_class("Sent (Ok: queued as 5298B228B8B)") == "success"
    assert status_class("Deferred: 451 4.3.5 Server configuration problem") == "pending"
    assert status_class("User unknown") == "failure"


# -- every line accounted for ---------------------------------------------------------------

SAMPLES = (
    [
        line
        for name in ("postfix/fail2ban-postfix.log", "postfix/kumina-postfix-exporter-test.log")
        for line in (REALWORLD / name).read_text().splitlines()
        if line.strip()
    ]
    + PART_1.splitlines()
    + PART_2.splitlines()
)


def account(lines: list[str], fmt: object = POSTFIX) -> None:
    """Every line is a document, a rejection, or counted as a transaction/skipped line."""
    reducer = MailReducer(fmt.parsers)  # type: ignore[attr-defined]
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line]
    out = list(fmt.parse_with(reducer, numbered, CTX))  # type: ignore[attr-defined]
    rejections = sum(isinstance(o, Rejection) for o in out)
    standalone = sum(isinstance(o, Document) and o.doc_id is None for o in out)
    counted = reducer.transaction_lines + sum(reducer.skipped.values())
    assert rejections + standalone + counted == len(numbered)
    for o in out:
        if isinstance(o, Document):
            assert o.source["@timestamp"].endswith("Z")


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.text(max_size=300), max_size=20))
def test_arbitrary_text_never_raises_and_every_line_is_accounted_for(lines: list[str]) -> None:
    account([line.replace("\n", " ") for line in lines])
    account([line.replace("\n", " ") for line in lines], SENDMAIL)


@settings(max_examples=examples(300), deadline=None)
@given(st.data())
def test_mutated_real_lines_never_raise_and_are_accounted_for(data: st.DataObject) -> None:
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    lines = []
    for line in rng.sample(SAMPLES, 8):
        chars = list(line)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(chars))
            op = rng.choice(("drop", "dup", "swap", "junk", "cut"))
            if op == "drop":
                del chars[at]
            elif op == "dup":
                chars.insert(at, chars[at])
            elif op == "swap" and at + 1 < len(chars):
                chars[at], chars[at + 1] = chars[at + 1], chars[at]
            elif op == "junk":
                chars.insert(at, data.draw(st.sampled_from(list("<>[]=,;: \x00é9zZ"))))
            elif op == "cut":
                del chars[at:]
            if not chars:
                chars = ["x"]
        lines.append("".join(chars))
    account(lines)


def test_sendmail_samples_are_accounted_for() -> None:
    for name in ("fail2ban-sendmail-reject.log", "fluent-plugin-sendmail.log"):
        account((REALWORLD / "sendmail" / name).read_text().splitlines(), SENDMAIL)


# -- search: query and output ------------------------------------------------------------


def test_search_query_filters_keywords_and_time_newest_first() -> None:
    criteria = criteria_from(
        sender="bob@foo.com",
        recipient="*@bar.com",
        host="smtp",
        message_id="<m1@foo.com>",
        since="2011-12-15 00:00:00",
        until="2011-12-17",
        limit=5,
    )
    body = build_query(criteria)
    filters = body["query"]["bool"]["filter"]
    assert {
        "term": {"email.from.address": {"value": "bob@foo.com", "case_insensitive": True}}
    } in filters
    assert {
        "wildcard": {"email.to.address": {"value": "*@bar.com", "case_insensitive": True}}
    } in filters
    assert {
        "term": {"email.message_id": {"value": "m1@foo.com", "case_insensitive": False}}
    } in filters
    assert {"range": {"@timestamp": {"gte": "2011-12-15T00:00:00.000Z",
                                     "lte": "2011-12-17T00:00:00.000Z"}}} in filters  # fmt: skip
    assert body["size"] == 5
    assert body["sort"][0] == {"@timestamp": {"order": "desc"}}


def test_relative_and_zoned_dates() -> None:
    now = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert parse_when("2h", now=now) == "2024-06-01T10:00:00.000Z"
    assert parse_when("7d", now=now) == "2024-05-25T12:00:00.000Z"
    from zoneinfo import ZoneInfo

    assert parse_when("2011-12-15 00:00:00", ZoneInfo("Europe/Madrid")) == (
        "2011-12-14T23:00:00.000Z"
    )


def test_blocks_are_separated_by_a_blank_line_and_show_rejections() -> None:
    whole = tx_of(PART_1 + PART_2).source()
    reject = {
        "@timestamp": "2024-05-30T10:00:00Z",
        "host": {"name": "mx1"},
        "source": {"ip": "192.0.2.1"},
        "email": {"from": {"address": "spam@x"}, "to": {"address": ["a@bar.com"]}},
        "mail": {"rejects": [{"address": "a@bar.com", "code": 554, "dsn": "5.7.1",
                              "reason": "Relay access denied"}]},
    }  # fmt: skip
    text = format_hits([{"_source": whole}, {"_source": reject}])
    first, second = text.split("\n\n")
    assert first.splitlines()[0] == "transaction: 7EE668039"
    assert "to:     recipient='b@foo.com', relay='local', status='sent'" in first
    assert second.splitlines() == [
        "transaction: NOQUEUE",
        "client: [192.0.2.1]",
        "from:   spam@x",
        "msgid:  -",
        "date:   2024-05-30 10:00:00",
        "reject: recipient='a@bar.com', reason='554 5.7.1 Relay access denied'",
        "host:   mx1",
    ]
