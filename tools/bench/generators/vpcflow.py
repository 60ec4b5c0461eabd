"""VPC flow logs: accepted and rejected flows, NODATA records."""

from __future__ import annotations

import random
from collections.abc import Iterator

from tools.bench.generators.base import ACCOUNT, Clock, Population

VPC_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status"
)


def vpcflow_lines(rng: random.Random, lines: int) -> Iterator[str]:
    """VPC flow logs in the default (version 2) format, header line first, as S3 gets them."""
    clock = Clock(lines)
    outside = Population(rng)
    enis = tuple(f"eni-{rng.getrandbits(68):017x}" for _ in range(40))
    inside = tuple(f"10.0.{rng.randrange(0, 64)}.{rng.randrange(2, 255)}" for _ in range(400))
    services = (443, 443, 443, 80, 22, 3389, 5432, 6379, 53, 123)
    yield VPC_HEADER
    while True:
        now = clock.tick()
        eni = rng.choice(enis)
        start = now - 60
        roll = rng.random()
        if roll < 0.02:
            yield f"2 {ACCOUNT} {eni} - - - - - - - {start} {now} - NODATA"
            continue
        protocol = 6 if roll < 0.85 else 17 if roll < 0.97 else 1
        action = "REJECT" if rng.random() < 0.25 else "ACCEPT"
        local, remote = rng.choice(inside), outside.pick()
        if protocol == 1:
            sport = dport = 0
        else:
            sport, dport = rng.randrange(1024, 65536), rng.choice(services)
        packets = 1 + int(rng.expovariate(1 / 20))
        size = packets * rng.randrange(40, 1500)
        if rng.getrandbits(1):  # inbound
            yield (
                f"2 {ACCOUNT} {eni} {remote} {local} {sport} {dport} {protocol} {packets} "
                f"{size} {start} {now} {action} OK"
            )
        else:
            yield (
                f"2 {ACCOUNT} {eni} {local} {remote} {dport} {sport} {protocol} {packets} "
                f"{size} {start} {now} ACCEPT OK"
            )
