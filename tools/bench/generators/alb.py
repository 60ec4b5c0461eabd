"""ALB access logs: HTTP and HTTPS, HTTP/2, requests ALB could not dispatch."""

from __future__ import annotations

import random
from collections.abc import Iterator

from tools.bench.generators.base import (
    ACCOUNT,
    CIPHERS_12,
    HOSTS,
    USER_AGENTS,
    Clock,
    Population,
    request_path,
)


def alb_lines(rng: random.Random, lines: int) -> Iterator[str]:
    """ALB access logs as written in 2026 (36 fields)."""
    clock = Clock(lines)
    clients = Population(rng)
    lb = "app/prod-web-alb/50dc6c495c0c9188"
    tg = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/web/73e2d6bc24d8a067"
    cert = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/12345678-1234-1234-1234-123456789012"
    targets = tuple(f"10.0.{i // 8}.{10 + i}:8080" for i in range(24))
    statuses = (200,) * 40 + (201, 204, 301, 302, 304, 304, 400, 401, 403, 404, 404, 500, 502)
    node = "10.0.0.5"
    while True:
        now = clock.tick()
        usec = rng.randrange(1_000_000)
        kind = rng.choice(("https", "https", "https", "h2", "h2", "http"))
        scheme, port = ("http", 80) if kind == "http" else ("https", 443)
        host = rng.choice(HOSTS)
        method = "GET" if rng.random() < 0.8 else rng.choice(("POST", "PUT", "DELETE", "HEAD"))
        version = "HTTP/2.0" if kind == "h2" else "HTTP/1.1"
        request = f"{method} {scheme}://{host}:{port}{request_path(rng)} {version}"
        user_agent = rng.choice(USER_AGENTS)
        if kind == "http":
            cipher = protocol = "-"
            domain = chosen = '"-"'
        else:
            cipher, protocol = (
                rng.choice(CIPHERS_12),
                "TLSv1.2" if rng.random() < 0.6 else "TLSv1.3",
            )
            domain, chosen = f'"{host}"', f'"{cert}"'
        trace = f'"Root=1-{now:08x}-{rng.getrandbits(96):024x}"'
        created = f"{clock.iso(now)}.{rng.randrange(1_000_000):06d}Z"
        tid = f"TID_{rng.getrandbits(128):032x}"
        if rng.random() < 0.03:  # could not dispatch: no target, -1 timings
            status = rng.choice((400, 460, 503))
            yield (
                f"{kind} {clock.iso(now)}.{usec:06d}Z {lb} {clients.pick()}:"
                f"{rng.randrange(1024, 65536)} - -1 -1 -1 {status} - {rng.randrange(0, 900)} "
                f'{rng.randrange(100, 400)} "{request}" "{user_agent}" {cipher} {protocol} - '
                f'{trace} {domain} {chosen} 0 {created} "fixed-response" "-" "-" "-" "-" "-" "-" '
                f'{tid} "-" "-" "-" {node} "-" "-"'
            )
            continue
        target = rng.choice(targets)
        status = rng.choice(statuses)
        target_time = rng.expovariate(1 / 0.05)
        yield (
            f"{kind} {clock.iso(now)}.{usec:06d}Z {lb} {clients.pick()}:"
            f"{rng.randrange(1024, 65536)} {target} 0.{rng.randrange(0, 3):03d} "
            f"{target_time:.3f} 0.000 {status} {status} {rng.randrange(80, 4000)} "
            f'{int(rng.expovariate(1 / 8000))} "{request}" "{user_agent}" {cipher} {protocol} '
            f'{tg} {trace} {domain} {chosen} {rng.randrange(1, 20)} {created} "forward" "-" "-" '
            f'"{target}" "{status}" "-" "-" {tid} "-" "-" "-" {node} "-" "-"'
        )
