"""S3 server access logs: a busy bucket read by a few roles."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from datetime import UTC, datetime

from tools.bench.generators.base import ACCOUNT, Clock, Population

_S3_OPERATIONS = (("REST.GET.OBJECT", "GET", 200),) * 14 + (
    ("REST.HEAD.OBJECT", "HEAD", 200),
    ("REST.HEAD.OBJECT", "HEAD", 200),
    ("REST.PUT.OBJECT", "PUT", 200),
    ("REST.PUT.OBJECT", "PUT", 200),
    ("REST.GET.BUCKET", "GET", 200),
    ("REST.GET.OBJECT", "GET", 404),
    ("REST.GET.OBJECT", "GET", 403),
    ("REST.COPY.OBJECT", "PUT", 200),
)
_S3_ERRORS = {200: "-", 403: "AccessDenied", 404: "NoSuchKey"}
_S3_AGENTS = (
    "aws-sdk-java/1.12.771 Linux/6.1.112-124.190.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/17.0.13"
    "+11-LTS java/17.0.13 vendor/Amazon.com_Inc. cfg/retry-mode/standard",
    "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0-1019-aws md/arch#x86_64"
    " lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe"
    " md/distrib#ubuntu.24 command/s3.cp",
    "Boto3/1.35.76 md/Botocore#1.35.76 ua/2.0 os/linux#6.1.115-126.197.amzn2023.aarch64"
    " md/arch#arm64 lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12"
    " cfg/retry-mode#legacy Botocore/1.35.76",
    "S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488",
    "[aws-sdk-go-v2/1.32.5 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64"
    " api/s3#1.69.0]",
)


def s3access_lines(rng: random.Random, lines: int) -> Iterator[str]:
    """S3 server access logs of a busy bucket (26 fields): mostly object reads by a few roles.
    (S3 writes these objects uncompressed; the bench gzips them like the others, so the
    Lambda's path for them is a little faster than measured.)"""
    clock = Clock(lines)
    clients = Population(rng)
    owner = f"{rng.getrandbits(256):064x}"
    bucket = "prod-assets-123456789012"
    requesters = (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/app-server/i-0a1b2c3d4e5f60718",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/etl-job/session-{rng.getrandbits(32):08x}",
        f"arn:aws:iam::{ACCOUNT}:user/deploy-bot",
        "-",
    )
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    times: dict[int, str] = {}
    while True:
        now = clock.tick()
        when = times.get(now)
        if when is None:
            t = datetime.fromtimestamp(now, UTC)
            when = times[now] = f"[{t.day:02d}/{months[t.month - 1]}/{t.year}:{t:%H:%M:%S} +0000]"
        operation, method, status = rng.choice(_S3_OPERATIONS)
        key = (
            f"{rng.choice(('images', 'exports', 'logs', 'static/js'))}/2026/11/"
            f"{rng.randrange(1, 21):02d}/{rng.getrandbits(40):010x}."
            f"{rng.choice(('jpg', 'json.gz', 'parquet', 'js'))}"
        )
        if operation == "REST.GET.BUCKET":
            key, uri = "-", f"/?list-type=2&prefix=exports%2F2026%2F11%2F&max-keys={1000}"
        else:
            uri = f"/{key}" + ("?versionId=null" if rng.random() < 0.05 else "")
        size = int(rng.expovariate(1 / 250_000))
        sent = size if method == "GET" and status == 200 else rng.randrange(0, 400)
        total = int(rng.expovariate(1 / 40)) + 1
        tls = "TLSv1.3" if rng.random() < 0.7 else "TLSv1.2"
        cipher = "TLS_AES_128_GCM_SHA256" if tls == "TLSv1.3" else "ECDHE-RSA-AES128-GCM-SHA256"
        yield (
            f"{owner} {bucket} {when} {clients.pick()} {rng.choice(requesters)} "
            f'{rng.getrandbits(64):016X} {operation} {key} "{method} {uri} HTTP/1.1" {status} '
            f"{_S3_ERRORS[status]} {sent} {size if method != 'HEAD' else '-'} {total} "
            f'{max(1, total - rng.randrange(0, total))} "-" "{rng.choice(_S3_AGENTS)}" - '
            f"{base64.b64encode(rng.randbytes(57)).decode()} SigV4 {cipher} AuthHeader "
            f"{bucket}.s3.us-east-1.amazonaws.com {tls} - -"
        )
