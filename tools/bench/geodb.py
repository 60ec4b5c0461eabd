"""Small MaxMind-format databases made with mmdb-writer, for the tests and the benchmark: nothing
is fetched (the operator's real databases are theirs to supply).

`write_city` and `write_asn` take {network: facts} and write a City or ASN database whose
records have the shape and size of MaxMind's GeoLite2 (names in eight languages, geoname ids,
iso codes, location, subdivisions; autonomous system number and organization), IPv6 with IPv4
mapped, as the real ones are.
`spread` makes the benchmark's: a /16 for most of IPv4's first octets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple


class Place(NamedTuple):
    country_iso_code: str
    country_name: str
    city_name: str
    continent_code: str
    lat: float
    lon: float


# The languages of a GeoLite2 record's names.
LANGUAGES = ("de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN")


def _names(name: str) -> dict[str, str]:
    return {
        language: name if language == "en" else f"{name} [{language}]" for language in LANGUAGES
    }


def city_record(place: Place) -> dict[str, Any]:
    """A record of GeoLite2 City's shape: what the fill reads (English names, iso codes,
    coordinates) among what it does not (names in seven more languages, geoname ids, the
    registered country, a subdivision, the postal code, the time zone)."""
    country = {
        "geoname_id": 2921044,
        "iso_code": place.country_iso_code,
        "names": _names(place.country_name),
    }
    return {
        "city": {"geoname_id": 2950159, "names": _names(place.city_name)},
        "continent": {
            "code": place.continent_code,
            "geoname_id": 6255148,
            "names": _names(place.continent_code),
        },
        "country": country,
        "location": {
            "accuracy_radius": 20,
            "latitude": place.lat,
            "longitude": place.lon,
            "time_zone": "Europe/Berlin",
        },
        "postal": {"code": "10115"},
        "registered_country": country,
        "subdivisions": [{"geoname_id": 2950157, "iso_code": "BE", "names": _names("Land")}],
    }


def _write(path: Path, kind: str, records: dict[str, dict[str, Any]]) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet  # type: ignore[import-untyped]

    writer = MMDBWriter(ip_version=6, database_type=kind, ipv4_compatible=True)
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.to_db_file(str(path))
    return path


def write_city(path: Path, places: dict[str, Place]) -> Path:
    return _write(path, "GeoIP2-City", {net: city_record(p) for net, p in places.items()})


def write_asn(path: Path, systems: dict[str, tuple[int, str]]) -> Path:
    records = {
        net: {"autonomous_system_number": number, "autonomous_system_organization": name}
        for net, (number, name) in systems.items()
    }
    return _write(path, "GeoLite2-ASN", records)


PLACES = (
    Place("DE", "Germany", "Berlin", "EU", 52.52, 13.405),
    Place("US", "United States", "Ashburn", "NA", 39.0438, -77.4874),
    Place("JP", "Japan", "Tokyo", "AS", 35.6895, 139.6917),
    Place("BR", "Brazil", "Sao Paulo", "SA", -23.5505, -46.6333),
    Place("AU", "Australia", "Sydney", "OC", -33.8688, 151.2093),
)


# The benchmark's files; the names change with the records' shape (v2: GeoLite2's size; v3:
# GeoLite2's sharing, below), so that a bench-data/ made before is not read as now.
CITY_FILE, ASN_FILE = "bench-city-v3.mmdb", "bench-asn-v3.mmdb"


def spread(directory: Path) -> tuple[Path, Path]:
    """The benchmark's City and ASN databases: one /16 per public first octet and multiple of
    four, each holding the generators' clients that land in it (the rest land in no network).
    Records are shared as in GeoLite2, where many networks point at one place's record and
    one system's, but less (a cache of records is worth less here than there): a place per
    four networks (3,440 City records for 13,760 networks; GeoLite2 City has several million
    networks for far fewer records), a system per sixteen (860 ASN records)."""
    places: dict[str, Place] = {}
    systems: dict[str, tuple[int, str]] = {}
    for first in range(1, 224):
        if first in (10, 100, 127, 169, 172, 192, 198, 203):
            continue
        for second in range(0, 256, 4):
            network = f"{first}.{second}.0.0/16"
            quarter = second // 16
            base = PLACES[(first + quarter) % len(PLACES)]
            places[network] = base._replace(
                city_name=f"{base.city_name} {first}-{quarter}",
                lat=round(base.lat + quarter / 100, 4),
                lon=round(base.lon - first / 1000, 4),
            )
            number = 64496 + first * 4 + second // 64
            systems[network] = (number, f"Example Net {number}")
    return (
        write_city(directory / CITY_FILE, places),
        write_asn(directory / ASN_FILE, systems),
    )
