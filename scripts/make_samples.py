"""Write the sample log objects under events/ (deterministic: same bytes on every run).

The NLB samples tell the seed's story: a mail load balancer's IMAPS listener (993) serving
regular clients on TLS 1.2/1.3, a few old clients still on TLS 1.0/1.1, and scanners that
open connections and never complete a handshake. Three 5-minute objects, named and laid out
as ELB names them: AWSLogs/<acct>/elasticloadbalancing/<region>/YYYY/MM/DD/<file>.log.gz
"""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT, REGION = "123456789012", "us-east-1"
LB = "net/mail-nlb/5d2c3b4a1f0e9d8c"
LISTENER = "7a6b5c4d3e2f1a0b"
CERT = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/4f1c2b3a-9d8e-4c7b-a6f5-e4d3c2b1a098"
CLIENTS = [f"203.0.113.{n}" for n in range(10, 40)] + [f"2001:db8:4::{n:x}" for n in range(1, 6)]
LEGACY = ["198.51.100.23", "198.51.100.24"]  # an old phone and a printer, still on TLS 1.0/1.1
SCANNERS = ["192.0.2.66", "192.0.2.67", "192.0.2.200"]
MODERN = [("tlsv13", "TLS_AES_128_GCM_SHA256"), ("tlsv12", "ECDHE-RSA-AES128-GCM-SHA256")]


def nlb_line(rng: random.Random, end: datetime) -> str:
    kind = rng.choices(["modern", "legacy", "scanner"], weights=[85, 5, 10])[0]
    start = end - timedelta(seconds=rng.randint(1, 600))
    if kind == "scanner":
        client, protocol, cipher, handshake = rng.choice(SCANNERS), "-", "-", "-"
        alert = rng.choice(["-", "40", "70"])  # handshake_failure, protocol_version
        received, sent, cert, sni = 0, rng.choice([0, 7]), "-", "-"
    else:
        client = rng.choice(LEGACY if kind == "legacy" else CLIENTS)
        protocol, cipher = (
            rng.choice([("tlsv10", "ECDHE-RSA-AES128-SHA"), ("tlsv11", "ECDHE-RSA-AES128-SHA")])
            if kind == "legacy"
            else rng.choice(MODERN)
        )
        handshake, alert = str(rng.randint(2, 60)), "-"
        received, sent = rng.randint(400, 90_000), rng.randint(2_000, 4_000_000)
        cert, sni = CERT, "imap.example.com"
    port = rng.randint(1024, 65535)
    return (
        f"tls 2.0 {end:%Y-%m-%dT%H:%M:%S} {LB} {LISTENER} {client}:{port} 10.0.1.15:993 "
        f"{int((end - start).total_seconds() * 1000)} {handshake} {received} {sent} {alert} "
        f"{cert} - {cipher} {protocol} - {sni} - - - {start:%Y-%m-%dT%H:%M:%S}"
    )


def write_nlb_samples() -> list[Path]:
    rng = random.Random(993)
    written = []
    for slot in range(3):
        end = datetime(2026, 11, 20, 12, 5, tzinfo=UTC) + timedelta(minutes=5 * slot)
        times = sorted(end - timedelta(seconds=rng.randint(0, 299)) for _ in range(400))
        body = "".join(nlb_line(rng, t) + "\n" for t in times)
        name = (
            f"{ACCOUNT}_elasticloadbalancing_{REGION}_{LB.replace('/', '.')}_"
            f"{end:%Y%m%dT%H%MZ}_{rng.getrandbits(32):08x}.log.gz"
        )
        key = f"AWSLogs/{ACCOUNT}/elasticloadbalancing/{REGION}/{end:%Y/%m/%d}/{name}"
        path = ROOT / "events" / "logs" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(body.encode(), mtime=0))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_nlb_samples():
        print(path.relative_to(ROOT))
