"""Mail transactions in the real local OpenSearch: one document per transaction across
objects (redelivered, out of order, across midnight and New Year), queue-id reuse kept apart,
found by `logferry search`; CloudWatch Logs objects from Firehose through pipeline and Lambda."""

from __future__ import annotations

import functools
import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from logferry.config import Settings
from logferry.ingest.deadletter import StreamDeadLetters
from logferry.ingest.objects import LocalFiles
from logferry.ingest.pipeline import ObjectResult, Pipeline
from logferry.mail.merger import MailMerger
from logferry.mail.search import criteria_from, format_hits, search
from logferry.mail.transactions import transaction_id
from logferry.model import ObjectRef
from logferry.output.sink import BulkSink, BulkTransport
from tests.conftest import HISTORY_DAYS
from tests.support import FakeLambdaContext, Wiring, load_ingest_handler

pytestmark = pytest.mark.integration

QID = "7EE668039"
# One postfix transaction, deferred at New Year's Eve and delivered after midnight, logged
# over three 5-minute objects (times are the objects' LastModified).
OBJECT_1 = (
    datetime(2011, 12, 31, 23, 58, tzinfo=UTC),
    """\
Dec 31 23:57:01 mx1 postfix/smtpd[1148]: 7EE668039: client=bob.desktop[10.10.10.10]
Dec 31 23:57:01 mx1 postfix/cleanup[1150]: 7EE668039: message-id=<20111231235701.GA1@foo.com>
Dec 31 23:57:02 mx1 postfix/qmgr[1002]: 7EE668039: from=<bob@foo.com>, size=4242, nrcpt=2 (queue active)
Dec 31 23:57:30 mx1 postfix/smtp[1151]: 7EE668039: to=<alice@bar.com>, relay=mx.bar.com[192.0.2.25]:25, delay=29, delays=1/0/28/0, dsn=4.4.1, status=deferred (connect to mx.bar.com[192.0.2.25]:25: Connection timed out)
Dec 31 23:57:31 mx1 postfix/smtpd[1148]: disconnect from bob.desktop[10.10.10.10] ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6
""",  # noqa: E501
)
OBJECT_2 = (
    datetime(2012, 1, 1, 0, 5, tzinfo=UTC),
    """\
Dec 31 23:59:59 mx1 postfix/smtp[1160]: 7EE668039: to=<carol@baz.org>, relay=mx.baz.org[2001:db8::25]:25, delay=178, delays=1/0/177/0, dsn=4.4.1, status=deferred (connect to mx.baz.org[2001:db8::25]:25: Connection timed out)
Jan  1 00:01:00 mx1 postfix/smtp[1161]: 7EE668039: to=<alice@bar.com>, relay=mx.bar.com[192.0.2.25]:25, delay=239, delays=209/0/30/0, dsn=4.4.1, status=deferred (connect to mx.bar.com[192.0.2.25]:25: Connection timed out)
""",  # noqa: E501
)
OBJECT_3 = (
    datetime(2012, 1, 1, 0, 40, tzinfo=UTC),
    """\
Jan  1 00:35:01 mx1 postfix/smtp[1170]: 7EE668039: to=<alice@bar.com>, relay=mx.bar.com[192.0.2.25]:25, delay=2280, delays=2279/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 5298B228B8B)
Jan  1 00:35:02 mx1 postfix/smtp[1171]: 7EE668039: to=<carol@baz.org>, relay=mx.baz.org[2001:db8::25]:25, delay=2281, delays=2279/0/1/1, dsn=2.0.0, status=sent (250 ok)
Jan  1 00:35:02 mx1 postfix/qmgr[1002]: 7EE668039: removed
""",  # noqa: E501
)
# The same short queue id, recycled for another message after the first was removed.
OBJECT_4 = (
    datetime(2012, 1, 1, 9, 0, tzinfo=UTC),
    """\
Jan  1 08:55:00 mx1 postfix/smtpd[2000]: 7EE668039: client=other.host[192.0.2.77]
Jan  1 08:55:01 mx1 postfix/qmgr[1002]: 7EE668039: from=<eve@evil.test>, size=10, nrcpt=1 (queue active)
Jan  1 08:55:02 mx1 postfix/smtp[2001]: 7EE668039: to=<alice@bar.com>, relay=mx.bar.com[192.0.2.25]:25, delay=2, delays=1/0/0.5/0.5, dsn=5.7.1, status=bounced (550 5.7.1 no)
Jan  1 08:55:02 mx1 postfix/qmgr[1002]: 7EE668039: removed
""",  # noqa: E501
)
SEED = (
    datetime(2011, 12, 15, 16, 0, tzinfo=UTC),
    """\
Dec 15 15:27:19 smtp sendmail[19936]: pBFERI8l019936: from=<bob@foo.com>, size=1430, class=0, nrcpts=1, msgid=<20111215142718.GD23530@smtp.foo.com>, proto=ESMTP, daemon=MTA, relay=bob.desktop [10.10.10.10]
Dec 15 15:27:20 smtp sendmail[19938]: pBFERI8l019936: to=<alice@bar.com>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=121430, relay=smtp.bar.com. [10.20.20.20], dsn=2.0.0, stat=Sent (Ok: queued as 5298B228B8B)
""",  # noqa: E501
)
SEED_BLOCK = """\
transaction: pBFERI8l019936
client: bob.desktop [10.10.10.10]
from:   bob@foo.com
msgid:  20111215142718.GD23530@smtp.foo.com
date:   2011-12-15 15:27:19
to:     recipient='alice@bar.com', relay='smtp.bar.com', status='Sent (Ok: queued as 5298B228B8B)'
host:   smtp
"""


def write(path: Path, obj: tuple[datetime, str]) -> Path:
    """A local object whose own time (mtime) is the object's LastModified."""
    when, text = obj
    path.write_text(text)
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def ingest(index_prefix: str, opensearch_url: str, os_client: Any) -> Any:
    settings = Settings(
        opensearch_url=opensearch_url, index_prefix=index_prefix, accept_days_back=HISTORY_DAYS
    )
    transport = BulkTransport(os_client)
    mail = functools.partial(
        MailMerger, transport, index_prefix, queue_days=settings.mail_queue_days
    )
    pipeline = Pipeline(settings, LocalFiles(), BulkSink(transport), StreamDeadLetters(), mail=mail)

    def run(path: Path) -> ObjectResult:
        result = pipeline.ingest(ObjectRef("", str(path)))
        assert result.outcome == "indexed", result.problem
        assert result.rejected == 0 and result.dead_lettered == 0
        return result

    return run


def mail_docs(client: Any, prefix: str, **term: str) -> list[dict[str, Any]]:
    client.indices.refresh(index=f"{prefix}-mail-*")
    query = {"term": term} if term else {"match_all": {}}
    hits = client.search(index=f"{prefix}-mail-*", body={"query": query, "size": 100})
    return list(hits["hits"]["hits"])


def test_transaction_over_three_objects_is_one_document_out_of_order_and_redelivered(
    ingest: Any, os_client: Any, index_prefix: str, tmp_path: Path
) -> None:
    one = write(tmp_path / "obj1.log", OBJECT_1)
    two = write(tmp_path / "obj2.log", OBJECT_2)
    three = write(tmp_path / "obj3.log", OBJECT_3)

    ingest(three)  # the end first: a document in the New Year's Day index
    first = mail_docs(os_client, index_prefix)
    assert [h["_index"] for h in first] == [f"{index_prefix}-mail-2012.01.01"]
    ingest(two)  # an earlier part: the transaction moves to its first-seen day
    ingest(one)
    assert ingest(two).documents == 1  # redelivered: merged into the same document

    (hit,) = mail_docs(os_client, index_prefix, **{"email.local_id": QID})
    assert hit["_index"] == f"{index_prefix}-mail-2011.12.31"
    assert hit["_id"] == transaction_id("mx1", QID, "2011-12-31")
    doc = hit["_source"]
    assert doc["@timestamp"] == "2011-12-31T23:57:01Z"
    assert doc["event"]["end"] == "2012-01-01T00:35:02Z"
    assert doc["event"]["outcome"] == "success"
    assert doc["email"]["from"]["address"] == "bob@foo.com"
    assert doc["email"]["message_id"] == "20111231235701.GA1@foo.com"
    assert doc["source"] == {"ip": "10.10.10.10", "domain": "bob.desktop"}
    assert doc["mail"]["removed"] == "2012-01-01T00:35:02Z"
    attempts = [(r["address"], r["status"], r["@timestamp"]) for r in doc["mail"]["recipients"]]
    assert attempts == [
        ("alice@bar.com", "deferred", "2011-12-31T23:57:30Z"),
        ("carol@baz.org", "deferred", "2011-12-31T23:59:59Z"),
        ("alice@bar.com", "deferred", "2012-01-01T00:01:00Z"),
        ("alice@bar.com", "sent", "2012-01-01T00:35:01Z"),
        ("carol@baz.org", "sent", "2012-01-01T00:35:02Z"),
    ]
    assert doc["mail"]["recipients"][1]["relay_ip"] == "2001:db8::25"
    assert len(mail_docs(os_client, index_prefix)) == 1  # nothing left behind


def test_recycled_queue_id_is_another_document_and_search_tells_them_apart(
    ingest: Any, os_client: Any, index_prefix: str, tmp_path: Path
) -> None:
    for n, obj in enumerate((OBJECT_1, OBJECT_2, OBJECT_3, OBJECT_4), 1):
        ingest(write(tmp_path / f"obj{n}.log", obj))
    docs = mail_docs(os_client, index_prefix, **{"email.local_id": QID})
    assert sorted(h["_source"]["email"]["from"]["address"] for h in docs) == [
        "bob@foo.com",
        "eve@evil.test",
    ]

    def found(**typed: Any) -> list[str]:
        hits = search(os_client, index_prefix, criteria_from(**typed))
        return [h["_source"]["email"]["from"]["address"] for h in hits]

    assert found(sender="bob@foo.com") == ["bob@foo.com"]
    assert found(recipient="ALICE@bar.com") == ["eve@evil.test", "bob@foo.com"]  # newest first
    assert found(recipient="carol@baz.org") == ["bob@foo.com"]
    assert found(host="mx1", since="2012-01-01 08:00", until="2012-01-01 09:00") == [
        "eve@evil.test"
    ]
    assert found(host="mx1", until="2011-12-31 23:59:59") == ["bob@foo.com"]
    assert found(host="mx2") == []
    assert found(sender="*@foo.com", limit=1) == ["bob@foo.com"]


def test_search_command_prints_the_seed_block(
    ingest: Any, os_client: Any, index_prefix: str, opensearch_url: str, tmp_path: Path
) -> None:
    ingest(write(tmp_path / "maillog", SEED))
    os_client.indices.refresh(index=f"{index_prefix}-mail-*")
    hits = search(
        os_client,
        index_prefix,
        criteria_from(sender="bob@foo.com", since="2011-12-15 00:00:00", until="2011-12-17"),
    )
    assert format_hits(hits) + "\n" == SEED_BLOCK

    logferry = str(Path(sys.executable).with_name("logferry"))
    command = [logferry, "search", "--opensearch-url", opensearch_url]
    command += ["--index-prefix", index_prefix, "-f", "bob@foo.com", "-H", "smtp"]
    command += ["-d", "2011-12-15 00:00:00", "-D", "2011-12-17 00:00:00", "-n", "10"]
    env = {k: v for k, v in os.environ.items() if k != "LOGFERRY_MAIL_TIMEZONE"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == SEED_BLOCK

    missing = subprocess.run(
        [*command[:6], "-t", "nobody@nowhere.test"], capture_output=True, text=True, env=env
    )
    assert (missing.returncode, missing.stdout) == (1, "")
    as_json = subprocess.run([*command, "--json"], capture_output=True, text=True, env=env)
    (line,) = as_json.stdout.splitlines()
    assert json.loads(line)["_source"]["email"]["local_id"] == "pBFERI8l019936"


# -- CloudWatch Logs via Firehose -------------------------------------------------------------


def firehose_object(stream: str, *batches: list[tuple[int, str]]) -> bytes:
    """Concatenated gzip members, one envelope each, a control message first."""
    members = [
        {
            "messageType": "CONTROL_MESSAGE",
            "owner": "CloudwatchLogs",
            "logGroup": "",
            "logStream": "",
            "subscriptionFilters": [],
            "logEvents": [{"id": "", "timestamp": 1323962839000, "message": "CWL CONTROL"}],
        }
    ]
    for n, batch in enumerate(batches):
        members.append(
            {
                "messageType": "DATA_MESSAGE",
                "owner": "123456789012",
                "logGroup": "/mail/maillog",
                "logStream": stream,
                "subscriptionFilters": ["to-firehose"],
                "logEvents": [
                    {"id": f"{n}-{i}", "timestamp": ts, "message": message}
                    for i, (ts, message) in enumerate(batch)
                ],
            }
        )
    return b"".join(gzip.compress(json.dumps(m).encode()) for m in members)


CW_FROM = (
    1323962839000,
    "pBFERI8l019936: from=<bob@foo.com>, size=1430, class=0, nrcpts=1,"
    " msgid=<20111215142718.GD23530@smtp.foo.com>, proto=ESMTP, daemon=MTA,"
    " relay=bob.desktop [10.10.10.10]",
)
CW_TO = (
    1323962840000,
    "pBFERI8l019936: to=<alice@bar.com>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp,"
    " pri=121430, relay=smtp.bar.com. [10.20.20.20], dsn=2.0.0, stat=Sent (Ok: queued as X)",
)
CW_REJECT = (
    1323962841000,
    "2011-12-15T15:27:21+01:00 smtp postfix/smtpd[7]: NOQUEUE: reject: RCPT from"
    " unknown[192.0.2.66]: 554 5.7.1 <x@bar.com>: Relay access denied; from=<spam@evil.test>"
    " to=<x@bar.com> proto=ESMTP helo=<evil>",
)


def test_firehose_cloudwatch_object_goes_through_the_pipeline(
    ingest: Any, os_client: Any, index_prefix: str, tmp_path: Path
) -> None:
    path = tmp_path / "mail-firehose-1-2011-12-15-14-30-00-abc"
    path.write_bytes(firehose_object("smtp", [CW_FROM], [CW_TO, CW_REJECT]))
    result = ingest(path)
    assert result.format == "cloudwatch"  # CloudWatch Logs of any log group; this one is mail
    assert result.documents == 2
    (tx,) = mail_docs(os_client, index_prefix, **{"email.local_id": "pBFERI8l019936"})
    assert tx["_source"]["@timestamp"] == "2011-12-15T15:27:19.000Z"
    assert tx["_source"]["host"] == {"name": "smtp"}
    assert tx["_source"]["mail"]["recipients"][0]["relay"] == "smtp.bar.com"
    (reject,) = mail_docs(os_client, index_prefix, **{"event.action": "reject"})
    assert reject["_source"]["@timestamp"] == "2011-12-15T14:27:21Z"
    assert reject["_source"]["source"]["ip"] == "192.0.2.66"


def test_firehose_cloudwatch_object_through_the_lambda_handler(
    aws_env: None, index_prefix: str, opensearch_url: str, os_client: Any
) -> None:
    wiring = Wiring.create()
    app = load_ingest_handler(
        {"OPENSEARCH_URL": opensearch_url, "LOGFERRY_INDEX_PREFIX": index_prefix}
    )
    key = "firehose/mail/2011/12/15/14/mail-stream-1-2011-12-15-14-30-00-0f1e2d3c"
    wiring.put(key, firehose_object("i-0mail", [CW_FROM], [CW_TO]))
    wiring.put(key + "-redelivered", firehose_object("i-0mail", [CW_TO]))

    response = app.lambda_handler({"Records": wiring.receive()}, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    (hit,) = mail_docs(os_client, index_prefix)
    doc = hit["_source"]
    assert doc["host"] == {"name": "i-0mail"}
    assert doc["email"]["from"]["address"] == "bob@foo.com"
    assert [r["address"] for r in doc["mail"]["recipients"]] == ["alice@bar.com"]
