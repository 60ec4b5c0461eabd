"""NLB TLS listener access logs: handshakes failed and never started among the rest."""

from __future__ import annotations

import random
from collections.abc import Iterator

from tools.bench.generators.base import (
    ACCOUNT,
    CIPHERS_12,
    CIPHERS_13,
    HOSTS,
    OLD_CIPHERS,
    Clock,
    Population,
)


def nlb_lines(rng: random.Random, lines: int) -> Iterator[str]:
    """NLB TLS listener logs, version 2.0 (22 fields)."""
    clock = Clock(lines)
    clients = Population(rng)
    lb = "net/prod-edge-nlb/c6e77e28c25b2234"
    listeners = ("g3d4b5e8bb8464cd", "a91f2c0de4b7f310")
    destinations = ("172.31.10.185", "172.31.42.17", "172.31.77.203")
    cert = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99"
    while True:
        now = clock.tick()
        listener = listeners[rng.getrandbits(1)]
        client = f"{clients.pick()}:{rng.randrange(1024, 65536)}"
        dest = f"{rng.choice(destinations)}:443"
        roll = rng.random()
        if roll < 0.08:  # no ClientHello at all: scanners and health probes
            conn = rng.randrange(0, 3000)
            yield (
                f"tls 2.0 {clock.iso(now)} {lb} {listener} {client} {dest} {conn} - "
                f"{rng.randrange(0, 300)} 0 - - - - - - - - - - {clock.iso(now - conn // 1000)}"
            )
            continue
        if roll < 0.12:  # handshake failed: an alert from the client, no protocol
            conn = rng.randrange(1, 500)
            yield (
                f"tls 2.0 {clock.iso(now)} {lb} {listener} {client} {dest} {conn} - "
                f"{rng.randrange(100, 600)} 0 {rng.choice((40, 46, 48, 70))} {cert} - - - - "
                f"{rng.choice(HOSTS)} - - - {clock.iso(now - conn // 1000)}"
            )
            continue
        if roll < 0.16:
            protocol, cipher, group = (
                rng.choice(("tlsv10", "tlsv11")),
                rng.choice(OLD_CIPHERS),
                "-",
            )
        elif roll < 0.55:
            protocol, cipher = "tlsv13", rng.choice(CIPHERS_13)
            group = rng.choice(("x25519", "X25519MLKEM768", "secp256r1"))
        else:
            protocol, cipher, group = "tlsv12", rng.choice(CIPHERS_12), "x25519"
        conn = int(rng.expovariate(1 / 2000))
        handshake = rng.randrange(1, 60)
        alpn = rng.random()
        if alpn < 0.5:
            fe, be, prefs = "h2", "h2", '"h2","http/1.1"'
        elif alpn < 0.8:
            fe, be, prefs = "http/1.1", "http/1.1", '"http/1.1"'
        else:
            fe, be, prefs = "-", "-", "-"
        yield (
            f"tls 2.0 {clock.iso(now)} {lb} {listener} {client} {dest} {conn + handshake} "
            f"{handshake} {rng.randrange(200, 20_000)} {int(rng.expovariate(1 / 30_000))} - "
            f"{cert} - {cipher} {protocol} {group} {rng.choice(HOSTS)} {fe} {be} {prefs} "
            f"{clock.iso(now - (conn + handshake) // 1000)}"
        )
