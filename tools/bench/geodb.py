"""Small MaxMind-format databases made with mmdb-writer, for the tests and the benchmark: nothing
is fetched (the operator's real databases are theirs to supply).

`write_city` and `write_asn` take {network: facts} and write a City or ASN database whose
records have the shape of MaxMind's (names by language, iso codes, latitude/longitude;
autonomous system number and organization), IPv6 with IPv4 mapped, as the real ones are.
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


def city_record(place: Place) -> dict[str, Any]:
    return {
        "city": {"names": {"en": place.city_name}},
        "country": {"iso_code": place.country_iso_code, "names": {"en": place.country_name}},
        "continent": {"code": place.continent_code},
        "location": {"latitude": place.lat, "longitude": place.lon},
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


def spread(directory: Path) -> tuple[Path, Path]:
    """The benchmark's City and ASN databases: one /16 per public first octet, places and
    systems taken in turn (clients of the generators land in them, or in no network)."""
    places: dict[str, Place] = {}
    systems: dict[str, tuple[int, str]] = {}
    for first in range(1, 224):
        if first in (10, 100, 127, 169, 172, 192, 198, 203):
            continue
        for second in range(0, 256, 4):
            network = f"{first}.{second}.0.0/16"
            places[network] = PLACES[(first + second) % len(PLACES)]
            systems[network] = (64496 + (first % 16), f"Example Net {first % 16}")
    return (
        write_city(directory / "bench-city.mmdb", places),
        write_asn(directory / "bench-asn.mmdb", systems),
    )
