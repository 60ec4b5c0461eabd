"""CloudFront standard logs: percent-encoded cells, hits, misses and errors."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator

from tools.bench.generators.base import HOSTS, PATHS, USER_AGENTS, Clock, Population, request_path

CLOUDFRONT_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)


def _cf_encode(text: str) -> str:
    # CloudFront percent-encodes spaces (and a few other characters) inside cells.
    return text.replace("%", "%25").replace(" ", "%20").replace('"', "%22")


def cloudfront_lines(rng: random.Random, lines: int) -> Iterator[str]:
    """CloudFront standard logs (legacy W3C, 33 tab-separated columns) with their headers."""
    clock = Clock(lines)
    clients = Population(rng)
    edges = ("IAD89-C1", "FRA56-P7", "LHR61-P4", "NRT57-C3", "SFO53-P2", "GRU3-C1")
    agents = tuple(_cf_encode(ua) for ua in USER_AGENTS)
    results = ("Hit",) * 6 + ("Miss", "Miss", "RefreshHit", "Error")
    types = ("text/html", "application/json", "image/jpeg", "text/css", "application/javascript")
    yield "#Version: 1.0"
    yield f"#Fields: {CLOUDFRONT_FIELDS}"
    while True:
        now = clock.tick()
        day, _, second = clock.iso(now).partition("T")
        path, _, query = request_path(rng).partition("?")
        result = rng.choice(results)
        status = "200" if result != "Error" else rng.choice(("403", "404", "502", "000"))
        size = int(rng.expovariate(1 / 20_000))
        taken = rng.expovariate(1 / 0.05)
        request_id = base64.urlsafe_b64encode(rng.getrandbits(320).to_bytes(40)).decode()
        referer = "-" if rng.random() < 0.6 else f"https://www.example.com{rng.choice(PATHS)}"
        protocol, cipher = (
            ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
            if rng.getrandbits(1)
            else (
                "TLSv1.2",
                "ECDHE-RSA-AES128-GCM-SHA256",
            )
        )
        yield "\t".join(
            (
                day,
                second,
                rng.choice(edges),
                str(size + 400),
                clients.pick(),
                "GET" if rng.random() < 0.9 else "POST",
                "d111111abcdef8.cloudfront.net",
                path,
                status,
                referer,
                rng.choice(agents),
                _cf_encode(query) if query else "-",
                "-",
                result,
                request_id,
                rng.choice(HOSTS),
                "https",
                str(rng.randrange(100, 900)),
                f"{taken:.3f}",
                "-",
                protocol,
                cipher,
                result,
                "HTTP/2.0" if rng.random() < 0.7 else "HTTP/1.1",
                "-",
                "-",
                str(rng.randrange(1024, 65536)),
                f"{taken * 0.8:.3f}",
                result,
                rng.choice(types),
                str(size),
                "-",
                "-",
            )
        )
