"""sendmail maillog: the seed transaction, recipient lists, day-prefixed delays, relay forms,
rejections with and without a queue id, skipped connection lines, real samples vs peers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from logferry.formats import format_for_content, format_for_head
from logferry.formats.sendmail import FORMAT as SENDMAIL
from logferry.formats.sendmail import parse_sendmail_message, seconds, split_relay
from logferry.mail.reducer import SKIP
from logferry.mail.search import format_transaction
from logferry.model import Document, ObjectRef, ParseContext, Rejection
from tests.conftest import REALWORLD

# The transaction of the seed's search example, as sendmail on host "smtp" logged it.
SEED = """\
Dec 15 15:27:19 smtp sendmail[19936]: pBFERI8l019936: from=<bob@foo.com>, size=1430, class=0, nrcpts=1, msgid=<20111215142718.GD23530@smtp.foo.com>, proto=ESMTP, daemon=MTA, relay=bob.desktop [10.10.10.10]
Dec 15 15:27:20 smtp sendmail[19938]: pBFERI8l019936: to=<alice@bar.com>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=121430, relay=smtp.bar.com. [10.20.20.20], dsn=2.0.0, stat=Sent (Ok: queued as 5298B228B8B)
"""  # noqa: E501
SEED_BLOCK = """\
transaction: pBFERI8l019936
client: bob.desktop [10.10.10.10]
from:   bob@foo.com
msgid:  20111215142718.GD23530@smtp.foo.com
date:   2011-12-15 15:27:19
to:     recipient='alice@bar.com', relay='smtp.bar.com', status='Sent (Ok: queued as 5298B228B8B)'
host:   smtp"""
DEC_2011 = datetime(2011, 12, 15, 16, 0, tzinfo=UTC)


def parse(
    text: str, object_time: datetime = DEC_2011
) -> tuple[list[dict[str, Any]], list[Rejection]]:
    ctx = ParseContext(ObjectRef("", "maillog"), object_time)
    out = list(SENDMAIL.parse(enumerate(text.strip("\n").split("\n"), 1), ctx))
    return (
        [o.source for o in out if isinstance(o, Document)],
        [o for o in out if isinstance(o, Rejection)],
    )


def test_seed_transaction_is_one_document_shown_as_the_seed_shows_it() -> None:
    docs, rejections = parse(SEED)
    assert rejections == []
    (doc,) = docs
    assert doc["email"]["local_id"] == "pBFERI8l019936"
    assert doc["event"]["dataset"] == "mail.sendmail"
    assert doc["event"]["outcome"] == "success"
    assert doc["source"] == {"ip": "10.10.10.10", "domain": "bob.desktop"}
    assert (doc["mail"]["size"], doc["mail"]["nrcpt"]) == (1430, 1)
    assert doc["mail"]["recipients"][0]["relay_ip"] == "10.20.20.20"
    assert format_transaction(doc) == SEED_BLOCK


def test_fluent_sample_one_transaction_every_attempt_as_the_peer_lists_it() -> None:
    text = (REALWORLD / "sendmail" / "fluent-plugin-sendmail.log").read_text()
    docs, rejections = parse(text, datetime(2016, 4, 10, tzinfo=UTC))
    assert rejections == []
    (doc,) = docs
    peer = json.loads((REALWORLD / "sendmail" / "fluent-plugin-sendmail.expected.json").read_text())
    attempts = {(a["address"], a["status"]): a for a in doc["mail"]["recipients"]}
    compared = 0
    for record in peer["records"]:
        assert doc["email"]["local_id"] == record["qid"]
        assert doc["email"]["from"]["address"] == record["from"].strip("<>")
        assert doc["email"]["message_id"] == record["msgid"].strip("<>")
        assert doc["source"]["ip"] == record["relay_from"]["ip"]
        assert doc["mail"]["nrcpt"] == int(record["nrcpts"])
        for to in record["to"]:
            attempt = attempts[(to.strip("<>"), record["stat"])]
            assert attempt["dsn"] == record["dsn"]
            assert attempt["delay"] == record["delay_in_sec"]  # 1+00:00:15 -> 86415
            assert attempt["mailer"] == record["mailer"]
            if "relay_to" in record:
                assert attempt["relay_ip"] == record["relay_to"]["ip"]
            compared += 1
    assert compared == 8
    # Deliberate difference: the peer's `time` assumes its test machine's year and zone; ours
    # comes from the object's time (April 2016 here) in UTC.
    assert doc["@timestamp"] == "2016-04-02T00:15:25Z"
    assert doc["event"]["outcome"] == "unknown"  # deferred2 is still deferred


def test_several_recipients_on_one_to_line_are_separate_attempts() -> None:
    _, _, data = parse_sendmail_message(
        "sendmail",
        "u31FFPtp032300: to=<a@example.com>,<b@example.com>, delay=00:00:00, xdelay=00:00:00,"
        " mailer=esmtp, pri=245938, relay=[93.184.216.34] [93.184.216.34], dsn=2.0.0,"
        " stat=Sent (ok:  Message 40279894 accepted)",
    )
    assert data is not None
    assert [r["address"] for r in data["recipients"]] == ["a@example.com", "b@example.com"]
    assert {r["relay"] for r in data["recipients"]} == {"93.184.216.34"}


def test_stat_text_with_commas_and_brackets_runs_to_the_end() -> None:
    message = REALWORLD / "sendmail" / "mozilla-lua-sandbox-sendmail-messages-only.log"
    line = message.read_text().splitlines()[3]
    _, _, data = parse_sendmail_message("sm-mta", line)
    assert data is not None
    (entry,) = data["recipients"]
    assert entry["status"].startswith("Sent (<4cb171fbd6e92fed42e1344934c6f130@smtp")
    assert entry["status"].endswith(
        "Hostname=Exchange.office.example.com] Queued mail for delivery)"
    )
    assert entry["relay"] == "webmail.office.example.com"


def test_mozilla_message_only_samples_match_the_peer_fields() -> None:
    peer = json.loads(
        (
            REALWORLD / "sendmail" / "mozilla-lua-sandbox-sendmail-messages-only.expected.json"
        ).read_text()
    )
    items = [(n, "sendmail", e["raw_message"]) for n, e in enumerate(peer["entries"], 1)]
    out, reducer = SENDMAIL.parse_messages(items, "2019-07-08T00:00:00Z", "mx")
    assert [o for o in out if isinstance(o, Rejection)] == []
    docs = {d.source["email"]["local_id"]: d.source for d in out if isinstance(d, Document)}
    for entry in peer["entries"]:
        fields = entry["expected_fields"]
        if entry["expect_no_match"] or not fields:
            continue
        doc = docs[fields["sendmailid"]]
        if "from" in fields:
            assert doc["email"]["from"]["address"] == fields["from"].strip("<>")
            assert doc["email"]["message_id"] == fields["msgid"].strip("<>")
            assert doc["source"]["ip"] == fields["relay"].split("[")[1].rstrip("]")
        if "to" in fields:
            entry_ = next(
                r for r in doc["mail"]["recipients"] if r["address"] == fields["to"][1:-1]
            )
            assert entry_["status"] == fields["stat"]
            assert entry_["dsn"] == fields["dsn"]
            assert entry_["delay"] == seconds(fields["delay"])  # 12:34:45 -> 45285.0
    assert reducer.skipped == {"noqueue": 1}  # NOQUEUE: SYSERR(...)


@pytest.mark.parametrize(
    ("relay", "expected"),
    [
        ("bob.desktop [10.10.10.10]", ("bob.desktop", "10.10.10.10", False)),
        ("smtp.bar.com. [10.20.20.20]", ("smtp.bar.com", "10.20.20.20", False)),
        ("[93.184.216.34] [93.184.216.34]", (None, "93.184.216.34", False)),
        ("[2.180.185.27]", (None, "2.180.185.27", False)),
        ("h.example [80.253.155.119] (may be forged)", ("h.example", "80.253.155.119", True)),
        ("example.com [IPv6:2001:DB8::1]", ("example.com", "2001:db8::1", False)),
        ("root@localhost", ("root@localhost", None, False)),
    ],
)
def test_relay_forms(relay: str, expected: tuple[str | None, str | None, bool]) -> None:
    assert split_relay(relay) == expected


def test_delays_with_a_day_prefix() -> None:
    assert seconds("1+00:00:15") == 86415.0
    assert seconds("00:00:15") == 15.0
    assert seconds("soon") is None


def test_check_rcpt_reject_with_queue_id_joins_its_transaction() -> None:
    docs, _ = parse(
        "Nov  3 11:35:30 Microsoft sendmail[26254]: rA37ZTSC026254: <davaojk25@domain.com>..."
        " No such user here\n"
        "Nov  3 11:35:30 Microsoft sendmail[26254]: rA37ZTSC026254: from=<davaojk25@domain.com>,"
        " size=0, class=0, nrcpts=0, bodytype=8BITMIME, proto=ESMTP, daemon=MTA,"
        " relay=163.23.32.95.dsl-dynamic.vsi.ru [95.32.23.163]\n",
        datetime(2013, 11, 10, tzinfo=UTC),
    )
    (doc,) = docs
    assert doc["event"]["outcome"] == "failure"
    assert doc["mail"]["rejects"][0]["address"] == "davaojk25@domain.com"
    assert doc["mail"]["rejects"][0]["reason"] == "No such user here"
    assert doc["source"]["ip"] == "95.32.23.163"


def test_fail2ban_reject_lines_name_the_client_fail2ban_bans() -> None:
    peer = json.loads(
        (REALWORLD / "sendmail" / "fail2ban-sendmail-reject.expected.json").read_text()
    )
    checked = 0
    for entry in peer["entries"]:
        fail = entry.get("fail2ban_failJSON") or {}
        if not fail.get("match") or "reject=" not in entry["raw"]:
            continue
        docs, rejections = parse(entry["raw"], datetime(2014, 3, 1, tzinfo=UTC))
        assert rejections == []
        assert docs[0]["source"]["ip"] == fail["host"], entry["raw"]
        assert docs[0]["event"]["outcome"] == "failure"
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize("name", ["fail2ban-sendmail-auth.log", "fail2ban-sendmail-reject.log"])
def test_real_sendmail_logs_parse_without_rejections(name: str) -> None:
    text = (REALWORLD / "sendmail" / name).read_text()
    docs, rejections = parse(text, datetime(2025, 12, 31, tzinfo=UTC))
    assert rejections == []
    # AUTH failures and "possible SMTP attack" are connection-level: counted, not documents.
    if "auth" in name:
        assert docs == []


def test_connection_level_lines_are_skipped() -> None:
    for message in (
        "u31FFPtp032300: Milter: no active filter",
        "s1GNXHYB005133: [190.5.230.178]: possible SMTP attack: command=AUTH, count=5",
        "u31FFPtp032300: done; delay=00:00:00, ntries=2",
        "u31FFPtp032300: STARTTLS=client, relay=mx.example, version=TLSv1.2, verify=FAIL",
    ):
        kind, _, _ = parse_sendmail_message("sendmail", message)
        assert kind == SKIP, message


def test_detected_by_program_tag() -> None:
    line = "Feb 16 23:33:20 smtp1 sm-mta[5133]: s1GNXHYB005133: from=<a@b>, size=1"
    assert format_for_content(line) is SENDMAIL
    assert format_for_content(SEED.splitlines()[0]) is SENDMAIL


def test_detected_past_other_daemons_whose_lines_are_skipped() -> None:
    # spamd's wording from the Sekoia sample (realworld-logs/postfix/sekoia-postfix-messages.log);
    # MIMEDefang, a sendmail milter, logs the queue id first (as mimedefang.pl does).
    text = (
        "Dec 15 15:27:10 smtp spamd[2311]: spamd: connection from smtp [127.0.0.1]:33620 to port"
        " 783, fd 5\n"
        "Dec 15 15:27:18 smtp mimedefang.pl[812]: qBFERI8l019999: MDLOG,qBFERI8l019999,mail_in\n"
        + SEED
    )
    lines = text.splitlines()
    assert format_for_content(lines[0]) is None
    assert format_for_head(lines) is SENDMAIL
    docs, rejections = parse(text)
    assert rejections == []
    assert [doc["email"]["local_id"] for doc in docs] == ["pBFERI8l019936"]
