"""Where an address is: `source.geo.*` and `source.as.*` (and `destination.*`) from MaxMind-format
databases the operator supplies (LOGFERRY_GEOIP_CITY_DB, LOGFERRY_GEOIP_ASN_DB).

A database location is a path, or `s3://bucket/key`: the object is fetched to /tmp once per
container, and again when its ETag changes (asked at most every `recheck_seconds`, at the start
of an object, never per line). Read with maxminddb-rust: on the same 2,000-network database,
200,000 random IPv4 lookups ran at 2.05-2.65 M/s against maxminddb's (C extension)
1.44-1.51 M/s; both publish manylinux aarch64 wheels for the Lambda.

Invariants: only public addresses are looked up (`is_public`: private, loopback, link-local,
reserved, shared, documentation and multicast ranges get no geo); a document's own `geo` or
`as` is never overwritten; each address's findings are one read-only dict shared by every
document that has the address (documents are serialised as soon as they are complete, and
exclusion copies before removing: logferry.enrich.decision), kept in a bounded LRU cache
(`functools.lru_cache`, in C) so a line costs a dict lookup or two once an address is known.
A new address costs ~2.6-3 us (the public check 0.6 us, two lookups, the dicts built); on the
benchmark's 20 MB ALB object (17,284 distinct addresses in 30,526 lines) the fill took 2.6 us a
line, 0.7 us with every address known.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import time
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path
from socket import AF_INET, inet_pton
from typing import Any

import maxminddb_rust
import orjson

from ..model import Source

log = logging.getLogger(__name__)

# Distinct addresses kept per database pair: ~1 KiB each, so at most ~64 MiB.
CACHE_SIZE = 65536
# Seconds between two checks of an S3 database's ETag.
RECHECK_SECONDS = 300.0
DOWNLOAD_DIR = Path("/tmp/logferry-geoip")

# The fields this fill may add (a drop rule on none of them is decided before it).
FILLS = ("source.geo", "source.as", "destination.geo", "destination.as")

# The longest text an address can be (an IPv6 address with an IPv4 tail): a longer `ip` is no
# address, gets no geo, and is never a cache key (a hostile object's long values would
# otherwise fill the cache: 65,536 keys of up to a line's 1 MiB).
MAX_ADDRESS_TEXT = 45

# What one address gives a document: {"geo": {...}, "as": {...}} (either may be absent).
Found = dict[str, Any] | None


class DatabaseFile:
    """One database: a local path, or an S3 object copied to /tmp and refreshed on a new ETag."""

    def __init__(
        self,
        location: str,
        s3: Any = None,
        recheck_seconds: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        directory: Path = DOWNLOAD_DIR,
    ) -> None:
        self.location = location
        self.s3 = s3
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self.directory = directory
        self.etag: str | None = None
        self.checked_at: float | None = None
        self.reader: Any = None
        # The local file the reader reads (an S3 object's copy under `directory`).
        self.path: str | None = None
        self.bucket, self.key = _s3_location(location) if location.startswith("s3://") else ("", "")
        self.refresh()

    def refresh(self) -> bool:
        """Open the database, or open it again when its S3 object changed; True when it did.
        The first open fails loudly (a cold start without its database is a configuration
        error); a failed recheck later keeps the copy in use, with a warning."""
        if self.reader is None:
            return self._refresh()
        try:
            return self._refresh()
        except Exception as exc:  # S3 unreachable for a moment: the copy we have still serves
            log.warning(
                "geoip database not rechecked", extra={"database": self.location, "error": str(exc)}
            )
            return False

    def _refresh(self) -> bool:
        if not self.bucket:
            if self.reader is None:
                self.reader = maxminddb_rust.open_database(self.location)
                self.path = self.location
                return True
            return False
        now = self.clock()
        if self.checked_at is not None and now - self.checked_at < self.recheck_seconds:
            return False
        self.checked_at = now
        if self.s3 is None:
            import boto3

            self.s3 = boto3.client("s3")
        etag = str(self.s3.head_object(Bucket=self.bucket, Key=self.key)["ETag"]).strip('"')
        if etag == self.etag and self.reader is not None:
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{Path(self.key).name}.{etag}"
        if not path.exists():
            partial = path.with_name(path.name + ".part")
            self.s3.download_file(self.bucket, self.key, str(partial))
            os.replace(partial, path)
        previous = self.directory / f"{Path(self.key).name}.{self.etag}" if self.etag else None
        self.reader = maxminddb_rust.open_database(str(path))
        self.path = str(path)
        self.etag = etag
        if previous is not None and previous != path:
            previous.unlink(missing_ok=True)  # /tmp is small: keep one copy
        log.info("geoip database loaded", extra={"database": self.location, "etag": etag})
        return True

    def get(self, address: str) -> Any:
        return self.reader.get(address)


# IPv4 addresses that are not anyone's location: the special-purpose ranges `ipaddress` does not
# call global (private, loopback, link-local, shared, documentation, benchmarking, reserved,
# broadcast; all of 192.0.0.0/24, whose two global exceptions are protocol anycast), and
# multicast, which `ipaddress` does call global but is no client's place. As (first, last).
_NOT_PUBLIC_V4 = sorted(
    (int(network.network_address), int(network.broadcast_address))
    for network in map(
        ipaddress.IPv4Network,
        (
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.0.0.0/24",
            "192.0.2.0/24",
            "192.168.0.0/16",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "224.0.0.0/4",
            "240.0.0.0/4",
        ),
    )
)
_FIRSTS = [first for first, _ in _NOT_PUBLIC_V4]
_LASTS = [last for _, last in _NOT_PUBLIC_V4]


def is_public(address: str) -> bool:
    """Whether an address may have a location: IPv4 by the table above (one parse and a
    bisection: ~0.3 us, where `ipaddress.ip_address(a).is_global` took 4-6 us a miss on the
    benchmark's addresses), IPv6 by `ipaddress` (global, not multicast). Invalid: False."""
    try:
        number = int.from_bytes(inet_pton(AF_INET, address))
    except (OSError, ValueError):  # ValueError: a NUL in the text
        try:
            found = ipaddress.ip_address(address)
        except ValueError:
            return False
        return found.is_global and not found.is_multicast
    at = bisect_right(_FIRSTS, number) - 1
    return at < 0 or number > _LASTS[at]


def _opened(setting: str, location: str, s3: Any, options: dict[str, Any]) -> DatabaseFile:
    """The database of a setting; one that cannot be read fails the start, naming it."""
    try:
        return DatabaseFile(location, s3, **options)
    except Exception as exc:
        raise ValueError(f"{setting}: cannot read the database {location!r}: {exc}") from exc


def _s3_location(location: str) -> tuple[str, str]:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise ValueError(f"expected s3://bucket/key, got {location!r}")
    return bucket, key


def _english(names: Any) -> str | None:
    if isinstance(names, dict):
        name = names.get("en")
        return name if isinstance(name, str) else None
    return None


def city_facts(record: Any) -> Source | None:
    """ECS geo.* from a City (or Country) database record."""
    if not isinstance(record, dict):
        return None
    geo: Source = {}
    country = record.get("country") or record.get("registered_country")
    if isinstance(country, dict):
        if iso := country.get("iso_code"):
            geo["country_iso_code"] = iso
        if name := _english(country.get("names")):
            geo["country_name"] = name
    city = record.get("city")
    if isinstance(city, dict) and (name := _english(city.get("names"))):
        geo["city_name"] = name
    continent = record.get("continent")
    if isinstance(continent, dict) and (code := continent.get("code")):
        geo["continent_code"] = code
    location = record.get("location")
    if isinstance(location, dict):
        lat, lon = location.get("latitude"), location.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            geo["location"] = {"lat": lat, "lon": lon}
    return geo or None


def asn_facts(record: Any) -> Source | None:
    """ECS as.* from an ASN database record."""
    if not isinstance(record, dict):
        return None
    found: Source = {}
    number = record.get("autonomous_system_number")
    if isinstance(number, int):
        found["number"] = number
    organization = record.get("autonomous_system_organization")
    if isinstance(organization, str) and organization:
        found["organization"] = {"name": organization}
    return found or None


class GeoIP:
    """Lookups in the city and ASN databases (either may be absent), cached per address."""

    def __init__(
        self,
        city: DatabaseFile | None = None,
        asn: DatabaseFile | None = None,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.city, self.asn = city, asn
        self.cache_size = cache_size
        self.lookup: Callable[[str], Found] = functools.lru_cache(maxsize=cache_size)(self._find)

    @classmethod
    def open(cls, city: str = "", asn: str = "", s3: Any = None, **options: Any) -> GeoIP | None:
        """From the settings' locations; None when neither is set."""
        if not city and not asn:
            return None
        return cls(
            _opened("LOGFERRY_GEOIP_CITY_DB", city, s3, options) if city else None,
            _opened("LOGFERRY_GEOIP_ASN_DB", asn, s3, options) if asn else None,
        )

    def refresh(self) -> None:
        """At the start of an object: a database whose S3 object changed is read again."""
        changed = False
        for database in (self.city, self.asn):
            if database is not None and database.refresh():
                changed = True
        if changed:
            self.lookup = functools.lru_cache(maxsize=self.cache_size)(self._find)

    def _find(self, address: str) -> Found:
        if not isinstance(address, str) or not is_public(address):
            return None
        found: dict[str, Any] = {}
        if self.city is not None and (geo := city_facts(self.city.get(address))):
            found["geo"] = geo
        if self.asn is not None and (system := asn_facts(self.asn.get(address))):
            found["as"] = system
        return found or None

    def members(self, address: str) -> bytes:
        """What the fill appends to an endpoint of this address, as JSON members after a comma
        (b"": nothing): the fast path's writers ask it for the addresses they leave to Python's
        reading (IPv6, dotted quads of other shapes)."""
        found = self.lookup(address) if len(address) <= MAX_ADDRESS_TEXT else None
        return b"," + orjson.dumps(found)[1:-1] if found else b""

    def fill(self) -> Callable[[Source], None]:
        """The fill of one object's documents: its `source` and `destination` addresses."""
        lookup = self.lookup

        def add(doc: Source) -> None:
            # (Unrolling the two sides saved ~35 ns a document: not worth two copies.)
            for side in ("source", "destination"):
                endpoint = doc.get(side)
                if endpoint is not None:
                    address = endpoint.get("ip")
                    if address.__class__ is str and len(address) <= MAX_ADDRESS_TEXT:
                        found = lookup(address)
                        if found is not None:
                            _merge(endpoint, found)

        return add


def _merge(endpoint: Source, found: dict[str, Any]) -> None:
    """The address's geo and as, where the document has neither of its own."""
    if "geo" not in endpoint and "as" not in endpoint:
        endpoint.update(found)
        return
    for name, value in found.items():
        endpoint.setdefault(name, value)
