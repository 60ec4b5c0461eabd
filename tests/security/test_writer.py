"""The ingest function's OpenSearch role, `logferry_writer`, against the real security plugin:
everything ingestion needs works through the real Lambda handler (every format, mail merged
across objects, replay), and everything else is refused with a 403."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from opensearchpy.exceptions import RequestError

from logferry import provisioning
from logferry.output.client import AccessDenied
from tests.conftest import REALWORLD
from tests.integration.test_mail import (
    CW_FROM,
    CW_TO,
    OBJECT_1,
    OBJECT_2,
    OBJECT_3,
    QID,
    firehose_object,
)
from tests.security.conftest import SecureNode, User, run_cli
from tests.support import (
    NLB_KEY,
    FakeLambdaContext,
    QueueDriver,
    Wiring,
    gz,
    load_ingest_handler,
    nlb_line,
)

pytestmark = pytest.mark.security

DEADLETTERS = "logferry-deadletter"

# One object per format, under a key prefix that names its format (LOGFERRY_FORMAT_PREFIXES):
# what is tested here is what the writer may do, not detection.
SAMPLES = {
    "nlb": "nlb/awsdocs-access-log-examples-current.log",
    "alb": "alb/awsdocs-access-log-examples-2023.log",
    "alb-connection": "alb-connection/elastic-test-alb-alb-connection.log",
    "clb": "clb/awsdocs-access-log-examples.log",
    "cloudtrail": "cloudtrail/crowdsec-aws-bf.log",
    "waf": "waf/elastic-test-waf.log",
    "vpcflow": "vpcflow/vrl-v2-default.log",
    "cloudfront": "cloudfront/awsdocs-standard-log-example.log",
    "s3access": "s3access/awsdocs-logformat-example.log",
    "postfix": "postfix/crowdsec-postfix-logs.log",
    "sendmail": "sendmail/fluent-plugin-sendmail.log",
}
INDEX_SOURCE = {"postfix": "mail", "sendmail": "mail", "cloudwatch-mail": "mail"}


def writer_env(node: SecureNode, writer: User, prefix: str, **extra: str) -> dict[str, str]:
    return {**node.env(writer), "LOGFERRY_INDEX_PREFIX": prefix, **extra}


def counts(admin: Any, prefix: str) -> dict[str, int]:
    """Documents per source (`<prefix>-<source>-*`), read as the admin."""
    admin.indices.refresh(index=f"{prefix}-*")
    rows = admin.cat.indices(index=f"{prefix}-*", format="json")
    found: dict[str, int] = {}
    for row in rows:
        source = row["index"][len(prefix) + 1 : -len("-YYYY.MM.DD")]
        found[source] = found.get(source, 0) + int(row["docs.count"])
    return found


def test_every_format_ingests_through_the_handler_as_the_writer(
    aws_env: None, secure_node: SecureNode, users: dict[str, User], prefix: str, admin: Any
) -> None:
    wiring = Wiring.create()
    formats = {**SAMPLES, "cloudwatch-mail": ""}
    for fmt, sample in SAMPLES.items():
        wiring.put(
            f"samples/{fmt}/{sample.rsplit('/', 1)[1]}.gz", gz((REALWORLD / sample).read_text())
        )
    wiring.put(
        "samples/cloudwatch-mail/mail-stream-1-2011-12-15-14-30-00-0f1e2d3c",
        firehose_object("i-0mail", [CW_FROM], [CW_TO]),
    )
    prefixes = ",".join(f"samples/{fmt}/={fmt}" for fmt in formats)
    app = load_ingest_handler(
        writer_env(
            secure_node,
            users[provisioning.roles.WRITER_ROLE],
            prefix,
            LOGFERRY_FORMAT_PREFIXES=prefixes,
        )
    )
    records = wiring.receive()
    assert len(records) == len(formats)

    response = app.lambda_handler({"Records": records}, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    outcomes = {r.format: (r.outcome, r.documents, r.rejected) for r in app.service.results}
    assert set(outcomes) == set(formats)
    for fmt, (outcome, documents, rejected) in outcomes.items():
        assert outcome == "indexed" and documents > 0 and rejected == 0, (fmt, outcomes[fmt])
    indexed = counts(admin, prefix)
    for fmt in formats:
        assert indexed.get(INDEX_SOURCE.get(fmt, fmt), 0) > 0, (fmt, indexed)
    assert app.service.sink.stats.failed == 0


def test_mail_transaction_merges_across_objects_out_of_order_as_the_writer(
    aws_env: None, secure_node: SecureNode, users: dict[str, User], prefix: str, admin: Any
) -> None:
    """The end of a transaction first, then its middle (the document moves to the earlier
    day: written there, the later copy deleted), then its start, then the middle again."""
    wiring = Wiring.create()
    app = load_ingest_handler(
        writer_env(
            secure_node,
            users[provisioning.roles.WRITER_ROLE],
            prefix,
            LOGFERRY_FORMAT_PREFIXES="maillog/=postfix",
        )
    )
    for n, obj in ((3, OBJECT_3), (2, OBJECT_2), (1, OBJECT_1), (2, OBJECT_2)):
        wiring.put(f"maillog/mx1-{n}.log", obj[1].encode())
        response = app.lambda_handler({"Records": wiring.receive()}, FakeLambdaContext())
        assert response == {"batchItemFailures": []}, n

    admin.indices.refresh(index=f"{prefix}-mail-*")
    hits = admin.search(
        index=f"{prefix}-mail-*", body={"query": {"term": {"email.local_id": QID}}, "size": 10}
    )["hits"]["hits"]
    assert len(hits) == 1, [h["_index"] for h in hits]  # one transaction, one document
    doc = hits[0]["_source"]
    assert doc["email"]["from"]["address"] == "bob@foo.com"
    assert sorted(doc["email"]["to"]["address"]) == ["alice@bar.com", "carol@baz.org"]
    assert [r["status"] for r in doc["mail"]["recipients"]].count("sent") == 2
    assert len(doc["mail"]["recipients"]) == 5  # 3 deferred + 2 sent, none twice
    assert doc["event"]["outcome"] == "success"
    assert hits[0]["_index"].endswith("12.31")  # moved to the day its first line was seen
    assert [r.outcome for r in app.service.results] == ["indexed"] * 4


def test_replay_as_the_writer_takes_what_was_refused_through_again(
    aws_env: None,
    secure_node: SecureNode,
    users: dict[str, User],
    prefix: str,
    admin: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Messages refused (the writer's password was wrong) go back to the queue and on to its
    DLQ; `logferry replay`, signed in as the writer, indexes them and its dead letters."""
    wiring = Wiring.create()
    s3, sqs = wiring.s3, wiring.sqs
    s3.create_bucket(Bucket=DEADLETTERS)
    dlq = sqs.create_queue(QueueName="logferry-ingest-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=wiring.queue_url,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
        },
    )
    writer = users[provisioning.roles.WRITER_ROLE]
    env = writer_env(secure_node, writer, prefix, LOGFERRY_DEADLETTER_BUCKET=DEADLETTERS)
    wiring.put(NLB_KEY, gz("\n".join(nlb_line(n) for n in range(300)) + "\nnot a log line\n"))
    refused = load_ingest_handler({**env, "LOGFERRY_OPENSEARCH_PASSWORD": "not-the-password"})
    driver = QueueDriver(sqs, wiring.queue_url)
    driver.drain(lambda event: refused.lambda_handler(event, FakeLambdaContext()))
    assert [d.failed for d in driver.deliveries] == [1, 1]  # returned twice, then in the DLQ
    assert s3.list_objects_v2(Bucket=DEADLETTERS).get("KeyCount", 0) == 0  # nothing kept

    code, out, err = run_cli(["replay", "--dlq-url", dlq], env)
    assert "1 messages, 1 done and deleted" in err, err
    assert writer.password not in out + err
    assert code == 1  # the one line no parser takes is still rejected (kept again)
    assert counts(admin, prefix) == {"nlb": 300}
    code, _out, err = run_cli(["replay", "--dlq-url", dlq], env)
    assert "DLQ: 0 messages" in err and counts(admin, prefix) == {"nlb": 300}


# -- what the writer may not do -------------------------------------------------------------


def _seed(admin: Any, prefix: str) -> None:
    """One NLB document and one mail document, written by the admin."""
    admin.index(index=f"{prefix}-nlb-2026.11.20", id="n1", body={"source": {"ip": "192.0.2.1"}})
    admin.index(index=f"{prefix}-mail-2026.11.20", id="m1", body={"host": {"name": "mx1"}})
    admin.indices.refresh(index=f"{prefix}-*")


REFUSALS: dict[str, Callable[[Any, str], Any]] = {
    "read a document outside mail": lambda c, p: c.get(index=f"{p}-nlb-2026.11.20", id="n1"),
    "search the mail indices": lambda c, p: c.search(
        index=f"{p}-mail-*", body={"query": {"match_all": {}}}
    ),
    "search everything": lambda c, p: c.search(index=f"{p}-*"),
    "count": lambda c, p: c.count(index=f"{p}-nlb-*"),
    "delete an index": lambda c, p: c.indices.delete(index=f"{p}-nlb-2026.11.20"),
    "delete a document outside mail": lambda c, p: c.delete(index=f"{p}-nlb-2026.11.20", id="n1"),
    "write an index outside the prefix": lambda c, p: c.index(
        index=f"other{p}-nlb-2026.11.20", body={"a": 1}
    ),
    "create an index outside the prefix": lambda c, p: c.indices.create(index=f"other{p}"),
    "change the index template": lambda c, p: c.indices.put_index_template(
        name=provisioning.template_name(p), body=provisioning.index_template(p)
    ),
    "change a mapping by hand": lambda c, p: c.indices.put_settings(
        index=f"{p}-nlb-2026.11.20", body={"index": {"number_of_replicas": 0}}
    ),
    "read the security index": lambda c, p: c.search(index=".opendistro_security"),
    "read the roles": lambda c, p: c.transport.perform_request(
        "GET", f"{provisioning.roles.SECURITY_API}/roles"
    ),
    "change cluster settings": lambda c, p: c.cluster.put_settings(
        body={"transient": {"cluster.routing.allocation.enable": "all"}}
    ),
}


@pytest.mark.parametrize("what", list(REFUSALS))
def test_the_writer_is_refused(what: str, as_writer: Any, prefix: str, admin: Any) -> None:
    _seed(admin, prefix)
    with pytest.raises(AccessDenied) as refused:
        REFUSALS[what](as_writer, prefix)
    assert refused.value.status_code == 403
    assert "logferry-test-writer" in str(refused.value)
    # and nothing changed
    assert admin.indices.exists(index=f"{prefix}-nlb-2026.11.20")
    assert admin.indices.get(index=f"other{prefix}*") == {}


def test_the_writer_multi_get_outside_mail_is_refused_document_by_document(
    as_writer: Any, prefix: str, admin: Any
) -> None:
    """What merging needs, a multi-get by id, and only on the mail indices: the plugin
    answers each document of another index with its 403 (the request itself succeeds)."""
    _seed(admin, prefix)
    docs = [
        {"_index": f"{prefix}-nlb-2026.11.20", "_id": "n1"},
        {"_index": f"{prefix}-mail-2026.11.20", "_id": "m1"},
    ]
    nlb, mail = as_writer.mget(body={"docs": docs})["docs"]
    assert nlb["error"]["type"] == "security_exception" and "_source" not in nlb
    assert "no permissions for [indices:data/read/mget[shard]]" in nlb["error"]["reason"]
    assert mail["found"] and mail["_source"] == {"host": {"name": "mx1"}}


def test_the_writer_bulk_into_another_index_is_refused_item_by_item(
    as_writer: Any, prefix: str, admin: Any
) -> None:
    body = (
        json.dumps({"index": {"_index": f"{prefix}-nlb-2026.11.20", "_id": "ok"}})
        + "\n{}\n"
        + json.dumps({"index": {"_index": f"elsewhere{prefix}", "_id": "no"}})
        + "\n{}\n"
    )
    result = as_writer.bulk(body=body)
    statuses = [next(iter(item.values()))["status"] for item in result["items"]]
    assert statuses == [201, 403]
    assert admin.indices.get(index=f"elsewhere{prefix}*") == {}


def test_the_retention_policy_path_is_not_testable_here(as_writer: Any, prefix: str) -> None:
    """ISM is not on Maven Central: the node has no `_plugins/_ism` route, and OpenSearch
    answers an unknown route before the security plugin sees a request (even one with wrong
    credentials), so no refusal can be shown. What can be: the writer's role grants no ISM
    action and no cluster action but bulk and multi-get."""
    role = provisioning.roles.writer_role(prefix)
    assert role["cluster_permissions"] == ["indices:data/write/bulk", "indices:data/read/mget"]
    actions = [a for p in role["index_permissions"] for a in p["allowed_actions"]]
    assert not [a for a in actions if "ism" in a or a.startswith("cluster:")]
    with pytest.raises(RequestError) as answer:
        as_writer.transport.perform_request("PUT", "/_plugins/_ism/policies/x", body={})
    assert answer.value.status_code == 400 and "no handler found" in str(answer.value)
