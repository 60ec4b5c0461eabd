"""GeoIP from MaxMind-format databases built here with mmdb-writer: public addresses get geo and
AS facts (IPv4 and IPv6), others none; lookups are cached within a bound; a database in S3 is
fetched once and again when its ETag changes (moto)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from logferry.enrich.geoip import DatabaseFile, GeoIP
from tools.bench.geodb import Place, write_asn, write_city

BERLIN = Place("DE", "Germany", "Berlin", "EU", 52.52, 13.405)
SYDNEY = Place("AU", "Australia", "Sydney", "OC", -33.8688, 151.2093)
PLACES = {
    "81.2.69.0/24": BERLIN,
    "2a02:ec0::/32": SYDNEY,
    # Private, loopback, link-local and reserved ranges with places: never looked up.
    "10.0.0.0/8": BERLIN,
    "127.0.0.0/8": BERLIN,
    "169.254.0.0/16": BERLIN,
    "240.0.0.0/8": BERLIN,
    "fe80::/10": BERLIN,
}
SYSTEMS = {"81.2.69.0/24": (20712, "Andrews & Arnold Ltd"), "2a02:ec0::/32": (64500, "Example AU")}


@pytest.fixture
def geoip(tmp_path: Path) -> GeoIP:
    city = write_city(tmp_path / "city.mmdb", PLACES)
    asn = write_asn(tmp_path / "asn.mmdb", SYSTEMS)
    found = GeoIP.open(str(city), str(asn))
    assert found is not None
    return found


def test_a_public_address_gets_ecs_geo_and_as(geoip: GeoIP) -> None:
    doc: dict[str, Any] = {"source": {"ip": "81.2.69.142", "port": 443}}
    geoip.fill()(doc)
    assert doc["source"] == {
        "ip": "81.2.69.142",
        "port": 443,
        "geo": {
            "country_iso_code": "DE",
            "country_name": "Germany",
            "city_name": "Berlin",
            "continent_code": "EU",
            "location": {"lat": 52.52, "lon": 13.405},
        },
        "as": {"number": 20712, "organization": {"name": "Andrews & Arnold Ltd"}},
    }


def test_ipv6_and_the_destination_side_are_looked_up(geoip: GeoIP) -> None:
    doc: dict[str, Any] = {"source": {"ip": "10.1.2.3"}, "destination": {"ip": "2a02:ec0:1::7"}}
    geoip.fill()(doc)
    assert doc["source"] == {"ip": "10.1.2.3"}
    assert doc["destination"]["geo"]["city_name"] == "Sydney"
    assert doc["destination"]["as"]["number"] == 64500


@pytest.mark.parametrize(
    "address",
    ["10.9.8.7", "127.0.0.1", "169.254.169.254", "240.1.2.3", "fe80::1", "::1", "nonsense"],
)
def test_private_loopback_link_local_reserved_and_invalid_addresses_get_no_geo(
    geoip: GeoIP, address: str
) -> None:
    doc: dict[str, Any] = {"source": {"ip": address}}
    geoip.fill()(doc)
    assert doc == {"source": {"ip": address}}


def test_a_documents_own_geo_is_kept(geoip: GeoIP) -> None:
    doc: dict[str, Any] = {"source": {"ip": "81.2.69.1", "geo": {"country_iso_code": "GB"}}}
    geoip.fill()(doc)
    assert doc["source"]["geo"] == {"country_iso_code": "GB"}
    assert doc["source"]["as"]["number"] == 20712


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    city = write_city(tmp_path / "city.mmdb", PLACES)
    geoip = GeoIP(DatabaseFile(str(city)), cache_size=100)
    fill = geoip.fill()
    for n in range(1000):
        fill({"source": {"ip": f"81.2.{n // 250}.{n % 250}"}})
    info = geoip.lookup.cache_info()  # type: ignore[attr-defined]
    assert info.currsize == 100 and info.maxsize == 100


def test_a_value_too_long_to_be_an_address_gets_no_geo_and_is_never_cached(geoip: GeoIP) -> None:
    fill = geoip.fill()
    for n in range(50):
        doc: dict[str, Any] = {"source": {"ip": f"81.2.69.{n}" + ":" * 40}}
        fill(doc)
        assert doc == {"source": {"ip": f"81.2.69.{n}" + ":" * 40}}
    assert geoip.lookup.cache_info().currsize == 0  # type: ignore[attr-defined]


def test_no_database_no_geoip() -> None:
    assert GeoIP.open("", "") is None


@mock_aws
def test_a_database_in_s3_is_fetched_once_and_again_when_its_etag_changes(tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="geo")
    first = write_city(tmp_path / "first.mmdb", {"81.2.69.0/24": BERLIN})
    second = write_city(tmp_path / "second.mmdb", {"81.2.69.0/24": SYDNEY})
    s3.upload_file(str(first), "geo", "maxmind/city.mmdb")
    calls: list[str] = []
    counting = _Counting(s3, calls)
    now = [0.0]
    database = DatabaseFile(
        "s3://geo/maxmind/city.mmdb",
        counting,
        recheck_seconds=60,
        clock=lambda: now[0],
        directory=tmp_path / "tmp",
    )
    geoip = GeoIP(database)
    assert geoip.lookup("81.2.69.5")["geo"]["city_name"] == "Berlin"  # type: ignore[index]
    assert calls == ["head", "download"]
    now[0] = 61
    geoip.refresh()  # same ETag: not fetched again
    assert calls == ["head", "download", "head"]
    s3.upload_file(str(second), "geo", "maxmind/city.mmdb")
    now[0] = 90
    geoip.refresh()  # within the recheck interval: not even asked
    assert calls == ["head", "download", "head"]
    now[0] = 122
    geoip.refresh()
    assert calls == ["head", "download", "head", "head", "download"]
    assert geoip.lookup("81.2.69.5")["geo"]["city_name"] == "Sydney"  # type: ignore[index]
    assert len(list((tmp_path / "tmp").iterdir())) == 1  # the old copy is gone
    # The copy in use, for the fast path's writers to read the same database.
    assert database.path == str(next((tmp_path / "tmp").iterdir()))
    assert DatabaseFile(str(first)).path == str(first)


class _Counting:
    def __init__(self, s3: object, calls: list[str]) -> None:
        self.s3, self.calls = s3, calls

    def head_object(self, **kwargs: str) -> dict[str, Any]:
        self.calls.append("head")
        return self.s3.head_object(**kwargs)  # type: ignore[attr-defined,no-any-return]

    def download_file(self, bucket: str, key: str, path: str) -> None:
        self.calls.append("download")
        self.s3.download_file(bucket, key, path)  # type: ignore[attr-defined]


def test_the_ipv4_table_agrees_with_ipaddress_except_where_it_says_why() -> None:
    import ipaddress
    import random

    from logferry.enrich.geoip import is_public

    rng = random.Random(19)
    addresses = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(200_000)]
    for network in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "198.18.0.0/15"):
        first = ipaddress.IPv4Network(network)
        addresses += [str(first.network_address - 1), str(first.network_address)]
        addresses += [str(first.broadcast_address), str(first.broadcast_address + 1)]
    for address in addresses:
        found = ipaddress.ip_address(address)
        expected = found.is_global and not found.is_multicast
        if address in ("192.0.0.9", "192.0.0.10"):  # protocol anycast: no one's place
            expected = False
        assert is_public(address) == expected, address
    assert is_public("2a02:ec0::1") and not is_public("ff02::1") and not is_public("fd00::1")
    assert not is_public("81.2.69.5\x00") and not is_public("not an address")  # never raises


def test_a_database_that_cannot_be_read_fails_the_start_naming_its_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"LOGFERRY_GEOIP_ASN_DB: cannot read the database"):
        GeoIP.open("", str(tmp_path / "absent.mmdb"))


@mock_aws
def test_a_recheck_that_fails_keeps_the_database_in_use(tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="geo")
    s3.upload_file(str(write_city(tmp_path / "c.mmdb", PLACES)), "geo", "city.mmdb")
    now = [0.0]
    database = DatabaseFile(
        "s3://geo/city.mmdb", s3, recheck_seconds=1, clock=lambda: now[0], directory=tmp_path
    )
    s3.delete_object(Bucket="geo", Key="city.mmdb")
    now[0] = 5
    geoip = GeoIP(database)
    geoip.refresh()
    assert geoip.lookup("81.2.69.1")["geo"]["city_name"] == "Berlin"  # type: ignore[index]
