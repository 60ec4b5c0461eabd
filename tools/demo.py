"""`make demo` (`python -m tools.demo`): the whole pipeline on this machine, S3 event to
searchable documents.

1. apply the index template and retention policy to the local OpenSearch (`logferry setup`);
2. in moto: a log bucket whose ObjectCreated notifications go to an SQS queue;
3. upload the sample log objects from events/logs/ under their real ELB-style keys;
4. hand the SQS messages moto produced to the real Lambda handler;
5. print what an analyst would see: documents per index and the seed's investigations.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "events" / "logs"
BUCKET = "demo-elb-logs"
SAMPLE_DAYS_BACK = max(1, (date.today() - date(2026, 11, 20)).days + 1)


def main() -> int:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            # The handler's JSON logs and EMF metrics are for CloudWatch, not this screen.
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    from moto import mock_aws

    from logferry import provisioning
    from logferry.config import Settings
    from logferry.output.client import make_client
    from tools.localaws import FakeLambdaContext, Wiring, load_ingest_handler  # as the tests

    settings = Settings.from_env()
    client = make_client(settings.opensearch_url)
    print(f"== OpenSearch at {settings.opensearch_url}, index prefix {settings.index_prefix!r}")
    for line in provisioning.apply(client, settings):
        print(f"   setup: {line}")

    with mock_aws():
        wiring = Wiring.create(bucket=BUCKET)
        app = load_ingest_handler(
            {
                "OPENSEARCH_URL": settings.opensearch_url,
                "LOGFERRY_INDEX_PREFIX": settings.index_prefix,
                # The samples are logs of 2026-11-20: as for any backfill of older logs, the
                # accepted window of event days is opened to reach them.
                "LOGFERRY_ACCEPT_DAYS_BACK": os.environ.get(
                    "LOGFERRY_ACCEPT_DAYS_BACK", str(SAMPLE_DAYS_BACK)
                ),
            }
        )
        objects = sorted(p for p in SAMPLES.rglob("*") if p.is_file())
        print(f"== uploading {len(objects)} objects to s3://{BUCKET}/")
        for path in objects:
            wiring.put(str(path.relative_to(SAMPLES)), path.read_bytes())
        records = wiring.receive()
        print(f"== {len(records)} S3 notifications arrived on the queue; running the handler")
        response = app.lambda_handler({"Records": records}, FakeLambdaContext())
        for result in app.service.results:
            print(
                f"   {result.outcome:<9} {result.format or '-':<6} {result.documents:>5} docs"
                f" {result.rejected:>3} rejected  {result.ref.key.rsplit('/', 1)[-1]}"
            )
        failed = response["batchItemFailures"]
        print(f"   batch response: {len(failed)} message(s) to retry")

    client.indices.refresh(index=f"{settings.index_prefix}-*")
    report(client, settings.index_prefix)
    return 1 if failed else 0


def report(client: Any, prefix: str) -> None:
    print("\n== documents per index")
    for row in client.cat.indices(index=f"{prefix}-*", format="json", s="index"):
        print(f"   {row['index']:<32} {row['docs.count']:>7}")

    nlb = f"{prefix}-nlb-*"
    print("\n== top client IPs by connection count (NLB)")
    aggs = {"ips": {"terms": {"field": "source.ip", "size": 10}}}
    result = client.search(index=nlb, body={"size": 0, "aggs": aggs})
    for bucket in result["aggregations"]["ips"]["buckets"]:
        print(f"   {bucket['key']:<20} {bucket['doc_count']:>6}")

    print("\n== handshake failures: no TLS protocol negotiated (most recent 10)")
    query = {"bool": {"filter": [{"term": {"tls.established": False}}]}}
    result = client.search(
        index=nlb,
        body={
            "size": 10,
            "query": query,
            "sort": [{"@timestamp": "desc"}],
            "track_total_hits": True,
        },
    )
    print(f"   {result['hits']['total']['value']} connections without a handshake")
    for hit in result["hits"]["hits"]:
        doc = hit["_source"]
        alert = doc["aws"]["elb"].get("incoming_tls_alert", "-")
        print(f"   {doc['@timestamp']}  {doc['source']['ip']:<16} incoming_tls_alert={alert}")

    print("\n== connections by TLS protocol version")
    aggs = {"versions": {"terms": {"field": "tls.version", "missing": "none", "size": 10}}}
    result = client.search(index=nlb, body={"size": 0, "aggs": aggs})
    for bucket in sorted(result["aggregations"]["versions"]["buckets"], key=lambda b: b["key"]):
        print(f"   TLS {bucket['key']:<6} {bucket['doc_count']:>6}")


if __name__ == "__main__":
    sys.exit(main())
