"""Older layouts and real mail files through the Lambda handler into the real local OpenSearch
(issue 20, section 4): S3 server access records of 17 and 18 fields and with an offset time,
ALB lines of AWS's 2016 examples, and a host's mail log whose first lines come from other
daemons. Each object is put in a moto bucket whose notification moto delivers to SQS; the
handler gets those SQS records, as the Lambda would. Nothing is rejected: the dead-letter
prefix stays empty."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from tests.support import FakeLambdaContext, Wiring, load_ingest_handler
from tests.unit.test_format_alb import ALB_2016_HTTPS, ALB_2016_WS
from tests.unit.test_format_postfix import HOST_MAILLOG
from tests.unit.test_format_s3access import RECORD_2006

pytestmark = pytest.mark.integration

DEADLETTERS = "logferry-deadletters/"
S3_KEY = "s3-access/2006-08-04-22-40-11-0123456789ABCDEF"
# logstash-patterns-core's spec (realworld-logs/s3access/logstash-patterns-core-s3.log), AWS's
# 2014 example: 18 fields, ending at Version Id.
RECORD_2014 = (
    "79a5 mybucket [12/May/2014:07:54:01 +0000] 10.0.1.2 - 7ACC4BE89EXAMPLE REST.GET.OBJECT "
    'foo/bar.html "GET /foo/bar.html HTTP/1.1" 304 - - 1718 10 - "-" "Mozilla/5.0" -'
)
ALB_KEY = (
    "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2016/08/10/123456789012_"
    "elasticloadbalancing_us-east-2_app.my-loadbalancer.50dc6c495c0c9188_20160810T2340Z_"
    "192.168.131.39_2kfa7c9x.log.gz"
)
# No key layout says mail: the content decides, from the first postfix line (line 7).
MAIL_KEY = "hosts/mx1/var/log/mail.log-20111216"


def hits(client: Any, pattern: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    client.indices.refresh(index=pattern)
    body = {"query": query or {"match_all": {}}, "size": 100, "sort": ["@timestamp"]}
    return [hit["_source"] for hit in client.search(index=pattern, body=body)["hits"]["hits"]]


def handler(wiring: Wiring, index_prefix: str, opensearch_url: str) -> Any:
    """The ingest Lambda's module, its dead letters under DEADLETTERS in the wired bucket."""
    return load_ingest_handler(
        {
            "OPENSEARCH_URL": opensearch_url,
            "LOGFERRY_INDEX_PREFIX": index_prefix,
            "LOGFERRY_DEADLETTER_BUCKET": wiring.bucket,
            "LOGFERRY_DEADLETTER_PREFIX": DEADLETTERS,
        }
    )


def no_deadletters(wiring: Wiring) -> bool:
    listed = wiring.s3.list_objects_v2(Bucket=wiring.bucket, Prefix=DEADLETTERS)
    return listed.get("KeyCount", 0) == 0


def test_older_layouts_and_a_shared_mail_log_through_the_handler(
    aws_env: None, index_prefix: str, opensearch_url: str, os_client: Any
) -> None:
    wiring = Wiring.create()
    app = handler(wiring, index_prefix, opensearch_url)
    offset = RECORD_2006.replace("[04/Aug/2006:22:34:02 +0000]", "[05/Aug/2006:01:04:02 +0230]")
    wiring.put(S3_KEY, f"{RECORD_2006}\n{RECORD_2014}\n{offset}\n".encode())
    wiring.put(ALB_KEY, gzip.compress(f"{ALB_2016_HTTPS}\n{ALB_2016_WS}\n".encode()))
    wiring.put(MAIL_KEY, HOST_MAILLOG.encode())

    response = app.lambda_handler({"Records": wiring.receive()}, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert no_deadletters(wiring)  # nothing rejected, nothing dead-lettered

    first, offset_doc, old = hits(os_client, f"{index_prefix}-s3access-*")
    assert first["@timestamp"] == offset_doc["@timestamp"] == "2006-08-04T22:34:02Z"
    assert first["user_agent"]["original"] == "curl/7.15.1"
    assert "version_id" not in first["aws"]["s3access"]
    assert old["@timestamp"] == "2014-05-12T07:54:01Z"
    assert old["http"]["response"]["status_code"] == 304

    ws, https = hits(os_client, f"{index_prefix}-alb-*")
    assert https["aws"]["elb"]["chosen_cert_arn"].endswith("12345678-1234-1234-1234-123456789012")
    assert https["tls"]["client"]["server_name"] == "www.example.com"
    assert https["source"] == {"ip": "192.168.131.39", "port": 2817}
    assert ws["aws"]["elb"]["type"] == "ws"
    assert "matched_rule_priority" not in https["aws"]["elb"]

    (tx,) = hits(os_client, f"{index_prefix}-mail-*")
    assert tx["event"]["dataset"] == "mail.postfix"
    assert tx["email"]["local_id"] == "7EE668039"
    assert tx["email"]["to"]["address"] == ["alice@bar.com"]
    # Queue ids only amavis (B7DEA22066C) and opendkim (27EEC802C1C5) mention: no document.
    for qid in ("B7DEA22066C", "27EEC802C1C5", "74FF5220670"):
        assert hits(os_client, f"{index_prefix}-*", {"term": {"email.local_id": qid}}) == []
