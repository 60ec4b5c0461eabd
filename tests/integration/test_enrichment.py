"""GeoIP, user agents and volume rules through the real handler into the real OpenSearch: client
locations indexed as geo_point and found by a geo_distance query, a drop rule counted (result,
log line, DocumentsDropped) and never dead-lettered, a sample that keeps the same documents when
the object is delivered again."""

from __future__ import annotations

import gzip
import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.enrich_samples import cloudtrail_records
from tests.support import FakeLambdaContext, Setup, emf_sums
from tools.bench.generators.alb import alb_lines
from tools.bench.geodb import Place, write_asn, write_city

pytestmark = pytest.mark.integration

ALB_KEY = (
    "AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/11/20/123456789012"
    "_elasticloadbalancing_eu-west-1_app.prod-web-alb.50dc6c495c0c9188_20261120T1205Z"
    "_10.0.0.5_geo.log.gz"
)
BERLIN = Place("DE", "Germany", "Berlin", "EU", 52.52, 13.405)
SYDNEY = Place("AU", "Australia", "Sydney", "OC", -33.8688, 151.2093)
LINES = 400
HEALTH = "ELB-HealthChecker/2.0"


def alb_object() -> tuple[bytes, list[str]]:
    lines = list(itertools.islice(alb_lines(random.Random(19), LINES), LINES))
    return gzip.compress(("\n".join(lines) + "\n").encode()), lines


def deliver(setup: Setup, body: bytes, **env: str) -> Any:
    setup.wiring.put(ALB_KEY, body)
    app = setup.container(**env)
    response = app.lambda_handler({"Records": setup.wiring.receive()}, FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    [result] = app.service.results
    return result


def count(client: Any, prefix: str, query: dict[str, Any]) -> int:
    client.indices.refresh(index=f"{prefix}-alb-*")
    found = client.count(index=f"{prefix}-alb-*", body={"query": query})
    return int(found["count"])


def test_geo_user_agents_drop_and_sample_through_the_handler(
    setup: Setup,
    os_client: Any,
    index_prefix: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Every public IPv4 client is in Berlin or Sydney; the city database is read from S3.
    city = write_city(tmp_path / "city.mmdb", {"0.0.0.0/1": BERLIN, "128.0.0.0/1": SYDNEY})
    asn = write_asn(tmp_path / "asn.mmdb", {"0.0.0.0/1": (64496, "Example Transit")})
    setup.s3.create_bucket(Bucket="geo-databases")
    setup.s3.upload_file(str(city), "geo-databases", "maxmind/city.mmdb")
    body, lines = alb_object()
    env = {
        "LOGFERRY_GEOIP_CITY_DB": "s3://geo-databases/maxmind/city.mmdb",
        "LOGFERRY_GEOIP_ASN_DB": str(asn),
        "LOGFERRY_DROP": f"alb:user_agent.original={HEALTH[:4]}*",
        "LOGFERRY_SAMPLE": "alb:user_agent.name=curl:0.5",
        "LOGFERRY_EXCLUDE_FIELDS": "alb:aws.elb.conn_trace_id",
    }
    first = deliver(setup, body, **env)
    output = capsys.readouterr().out

    health = sum(1 for line in lines if f'"{HEALTH}"' in line)
    curl = sum(1 for line in lines if '"curl/' in line)
    assert health and curl
    assert first.outcome == "indexed" and first.rejected == 0
    assert first.dead_lettered == 0 and setup.deadletters("line") == []
    # Every health check dropped, about half of curl's requests sampled out.
    assert health < first.dropped < health + curl
    assert first.documents + first.dropped == LINES
    [done] = [
        json.loads(text)
        for text in output.splitlines()
        if text.startswith("{") and '"object done"' in text
    ]
    assert done["result"]["dropped"] == first.dropped
    assert emf_sums(output)["DocumentsDropped"] == first.dropped

    assert count(os_client, index_prefix, {"match_all": {}}) == first.documents
    assert count(os_client, index_prefix, {"prefix": {"user_agent.original": "ELB"}}) == 0
    assert count(os_client, index_prefix, {"exists": {"field": "aws.elb.conn_trace_id"}}) == 0
    # Locations are geo_points: searchable by distance.
    near_berlin = {
        "geo_distance": {"distance": "50km", "source.geo.location": {"lat": 52.5, "lon": 13.4}}
    }
    berlin = count(os_client, index_prefix, near_berlin)
    in_germany = count(os_client, index_prefix, {"term": {"source.geo.country_iso_code": "DE"}})
    assert berlin == in_germany > 0
    assert count(os_client, index_prefix, {"term": {"source.as.number": 64496}}) == berlin
    sydney = count(os_client, index_prefix, {"term": {"source.geo.city_name": "Sydney"}})
    # (The dashboards' maps aggregate with geohash_grid, which this engine's distribution
    # lacks: its geo module is not in the integ-test build. Their fields are checked against
    # the mapping by tests/unit/test_dashboards.py.)
    assert sydney > 0
    # The generator's IPv6 clients are documentation addresses: no geo. Targets are private.
    assert berlin + sydney < first.documents
    assert count(os_client, index_prefix, {"exists": {"field": "destination.geo"}}) == 0
    assert count(os_client, index_prefix, {"term": {"user_agent.name": "Chrome"}}) > 0
    assert count(os_client, index_prefix, {"term": {"user_agent.os.name": "iOS"}}) > 0

    # Delivered again to a new container: the same documents kept, none added.
    again = deliver(setup, body, **env)
    assert (again.documents, again.dropped) == (first.documents, first.dropped)
    assert count(os_client, index_prefix, {"match_all": {}}) == first.documents


def cloudtrail_object(records: int) -> bytes:
    found = cloudtrail_records(records, address="81.2.69.142")
    return gzip.compress(json.dumps({"Records": found}).encode())


def test_a_whole_object_format_drops_through_the_pipeline_s_document_path(
    setup: Setup, os_client: Any, index_prefix: str, tmp_path: Path
) -> None:
    city = write_city(tmp_path / "city.mmdb", {"81.2.69.0/24": BERLIN})
    key = (
        "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/20/"
        "123456789012_CloudTrail_eu-west-1_20261120T1200Z_geo.json.gz"
    )
    setup.wiring.put(key, cloudtrail_object(20))
    app = setup.container(
        LOGFERRY_DROP="cloudtrail:event.action=Describe*", LOGFERRY_GEOIP_CITY_DB=str(city)
    )
    assert app.lambda_handler({"Records": setup.wiring.receive()}, FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    [result] = app.service.results
    assert (result.outcome, result.documents, result.dropped) == ("indexed", 10, 10)
    assert result.dead_lettered == 0
    os_client.indices.refresh(index=f"{index_prefix}-cloudtrail-*")
    found = os_client.search(
        index=f"{index_prefix}-cloudtrail-*",
        body={"size": 20, "query": {"term": {"source.geo.city_name": "Berlin"}}},
    )["hits"]
    assert found["total"]["value"] == 10
    assert {hit["_source"]["event"]["action"] for hit in found["hits"]} == {"RunInstances"}
