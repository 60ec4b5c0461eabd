"""What the generators share: the clock that spreads an object's lines over one ELB delivery
interval, client populations with a heavy head and a long tail, and the vocabulary of web
traffic (ciphers, host names, paths, user agents)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

# 2026-11-20T12:00:00Z: objects cover the five minutes after it (one ELB delivery interval).
START = int(datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC).timestamp())
WINDOW_SECONDS = 300
# The generated logs are of one fixed day: the days back the accepted window of event days
# (logferry.output.indices) must reach, as for any backfill.
DAYS_BACK = max(1, (datetime.now(UTC) - datetime.fromtimestamp(START, UTC)).days + 1)

Generator = Callable[[random.Random, int], Iterator[str]]


def _iso_seconds(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class Clock:
    """Seconds that advance evenly over the window as lines are drawn.

    `lines` is the expected line count: the window is spread over it, so a small object and a
    large one both span the same five minutes. Second strings are formatted once each.
    """

    def __init__(self, lines: int) -> None:
        self._per_second = max(1, lines // WINDOW_SECONDS)
        self._count = 0
        self._names: dict[int, str] = {}

    def tick(self) -> int:
        self._count += 1
        return START + self._count // self._per_second

    def iso(self, epoch: int) -> str:
        name = self._names.get(epoch)
        if name is None:
            name = self._names[epoch] = _iso_seconds(epoch)
        return name


class Population:
    """Client addresses with a heavy head and a long tail, ~5% of them IPv6."""

    def __init__(self, rng: random.Random, size: int = 50_000) -> None:
        addresses = []
        for i in range(size):
            if i % 20 == 7:
                addresses.append(
                    f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::"
                    f"{rng.getrandbits(16):x}"
                )
            else:
                addresses.append(
                    f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}."
                    f"{rng.randrange(1, 255)}"
                )
        self._addresses = addresses
        self._rng = rng

    def pick(self) -> str:
        # Cubing a uniform draw crowds it towards 0: index 0 is the busiest client.
        return self._addresses[int(len(self._addresses) * self._rng.random() ** 3)]


CIPHERS_12 = (
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
CIPHERS_13 = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
OLD_CIPHERS = ("ECDHE-RSA-AES128-SHA", "AES128-SHA", "AES256-SHA")
HOSTS = (
    "api.example.com",
    "www.example.com",
    "auth.example.com",
    "static.example.com",
    "mqtt.iot.example.net",
    "grpc.internal.example.org",
    "shop.example.co.uk",
    "billing.example.com",
)
PATHS = (
    "/",
    "/index.html",
    "/api/v1/items",
    "/api/v1/items/{n}",
    "/api/v2/orders/{n}/status",
    "/static/js/app.{n}.js",
    "/static/css/site.css",
    "/login",
    "/healthz",
    "/images/products/{n}.jpg",
    "/search",
    "/.env",
    "/wp-login.php",
)
QUERIES = ("", "", "", "page={n}", "q=shoes&size=42", "utm_source=news&utm_medium=email")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "okhttp/4.12.0",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Go-http-client/2.0",
    "Amazon CloudFront",
    "ELB-HealthChecker/2.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Dart/3.5 (dart:io)",
)
ACCOUNT = "123456789012"


def request_path(rng: random.Random) -> str:
    path = rng.choice(PATHS)
    if "{n}" in path:
        path = path.replace("{n}", str(rng.randrange(1, 100_000)))
    query = rng.choice(QUERIES)
    if query:
        query = query.replace("{n}", str(rng.randrange(1, 50)))
    return f"{path}?{query}" if query else path
