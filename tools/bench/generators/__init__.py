"""Deterministic generators of realistic log objects, one per format, for the benchmark.

Each generator is an endless stream of lines (header lines first, where the format has them)
drawn from a seeded `random.Random`: the same seed gives the same bytes, so a benchmark run can
cache its objects and two machines measure the same input. The mix follows what busy
deployments write: skewed client populations (a few heavy clients, a long tail), a share of
failed TLS handshakes and rejected flows, IPv6 clients, long user agents, query strings,
URL-encoded CloudFront cells, and the newest field counts (ALB with 36 fields, NLB 2.0 with 22).
"""

from __future__ import annotations

import base64
import os
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from isal import igzip

# Bump when a generator changes: cached objects carry it in their names.
GENERATOR_VERSION = 1
SEED = 20261120
# 2026-11-20T12:00:00Z: objects cover the five minutes after it (one ELB delivery interval).
START = int(datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC).timestamp())
WINDOW_SECONDS = 300
# The generated logs are of one fixed day: the days back the accepted window of event days
# (logferry.output.indices) must reach, as for any backfill.
DAYS_BACK = max(1, (datetime.now(UTC) - datetime.fromtimestamp(START, UTC)).days + 1)

Generator = Callable[[random.Random, int], Iterator[str]]


def _iso_seconds(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class _Clock:
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


class _Population:
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


_CIPHERS_12 = (
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
_CIPHERS_13 = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
_OLD_CIPHERS = ("ECDHE-RSA-AES128-SHA", "AES128-SHA", "AES256-SHA")
_HOSTS = (
    "api.example.com",
    "www.example.com",
    "auth.example.com",
    "static.example.com",
    "mqtt.iot.example.net",
    "grpc.internal.example.org",
    "shop.example.co.uk",
    "billing.example.com",
)
_PATHS = (
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
_QUERIES = ("", "", "", "page={n}", "q=shoes&size=42", "utm_source=news&utm_medium=email")
_USER_AGENTS = (
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
_ACCOUNT = "123456789012"


def _path(rng: random.Random) -> str:
    path = rng.choice(_PATHS)
    if "{n}" in path:
        path = path.replace("{n}", str(rng.randrange(1, 100_000)))
    query = rng.choice(_QUERIES)
    if query:
        query = query.replace("{n}", str(rng.randrange(1, 50)))
    return f"{path}?{query}" if query else path


# -- NLB ---------------------------------------------------------------------------------


def nlb_lines(rng: random.Random, lines: int) -> Iterator[str]:
    """NLB TLS listener logs, version 2.0 (22 fields)."""
    clock = _Clock(lines)
    clients = _Population(rng)
    lb = "net/prod-edge-nlb/c6e77e28c25b2234"
    listeners = ("g3d4b5e8bb8464cd", "a91f2c0de4b7f310")
    destinations = ("172.31.10.185", "172.31.42.17", "172.31.77.203")
    cert = f"arn:aws:acm:us-east-1:{_ACCOUNT}:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99"
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
                f"{rng.choice(_HOSTS)} - - - {clock.iso(now - conn // 1000)}"
            )
            continue
        if roll < 0.16:
            protocol, cipher, group = (
                rng.choice(("tlsv10", "tlsv11")),
                rng.choice(_OLD_CIPHERS),
                "-",
            )
        elif roll < 0.55:
            protocol, cipher = "tlsv13", rng.choice(_CIPHERS_13)
            group = rng.choice(("x25519", "X25519MLKEM768", "secp256r1"))
        else:
            protocol, cipher, group = "tlsv12", rng.choice(_CIPHERS_12), "x25519"
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
            f"{cert} - {cipher} {protocol} {group} {rng.choice(_HOSTS)} {fe} {be} {prefs} "
            f"{clock.iso(now - (conn + handshake) // 1000)}"
        )


# -- ALB ---------------------------------------------------------------------------------


def alb_lines(rng: random.Random, lines: int) -> Iterator[str]:
    """ALB access logs as written in 2026 (36 fields)."""
    clock = _Clock(lines)
    clients = _Population(rng)
    lb = "app/prod-web-alb/50dc6c495c0c9188"
    tg = f"arn:aws:elasticloadbalancing:us-east-1:{_ACCOUNT}:targetgroup/web/73e2d6bc24d8a067"
    cert = f"arn:aws:acm:us-east-1:{_ACCOUNT}:certificate/12345678-1234-1234-1234-123456789012"
    targets = tuple(f"10.0.{i // 8}.{10 + i}:8080" for i in range(24))
    statuses = (200,) * 40 + (201, 204, 301, 302, 304, 304, 400, 401, 403, 404, 404, 500, 502)
    node = "10.0.0.5"
    while True:
        now = clock.tick()
        usec = rng.randrange(1_000_000)
        kind = rng.choice(("https", "https", "https", "h2", "h2", "http"))
        scheme, port = ("http", 80) if kind == "http" else ("https", 443)
        host = rng.choice(_HOSTS)
        method = "GET" if rng.random() < 0.8 else rng.choice(("POST", "PUT", "DELETE", "HEAD"))
        version = "HTTP/2.0" if kind == "h2" else "HTTP/1.1"
        request = f"{method} {scheme}://{host}:{port}{_path(rng)} {version}"
        user_agent = rng.choice(_USER_AGENTS)
        if kind == "http":
            cipher = protocol = "-"
            domain = chosen = '"-"'
        else:
            cipher, protocol = (
                rng.choice(_CIPHERS_12),
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


# -- VPC flow ----------------------------------------------------------------------------

VPC_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status"
)


def vpcflow_lines(rng: random.Random, lines: int) -> Iterator[str]:
    """VPC flow logs in the default (version 2) format, header line first, as S3 gets them."""
    clock = _Clock(lines)
    outside = _Population(rng)
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
            yield f"2 {_ACCOUNT} {eni} - - - - - - - {start} {now} - NODATA"
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
                f"2 {_ACCOUNT} {eni} {remote} {local} {sport} {dport} {protocol} {packets} "
                f"{size} {start} {now} {action} OK"
            )
        else:
            yield (
                f"2 {_ACCOUNT} {eni} {local} {remote} {dport} {sport} {protocol} {packets} "
                f"{size} {start} {now} ACCEPT OK"
            )


# -- CloudFront --------------------------------------------------------------------------

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
    clock = _Clock(lines)
    clients = _Population(rng)
    edges = ("IAD89-C1", "FRA56-P7", "LHR61-P4", "NRT57-C3", "SFO53-P2", "GRU3-C1")
    agents = tuple(_cf_encode(ua) for ua in _USER_AGENTS)
    results = ("Hit",) * 6 + ("Miss", "Miss", "RefreshHit", "Error")
    types = ("text/html", "application/json", "image/jpeg", "text/css", "application/javascript")
    yield "#Version: 1.0"
    yield f"#Fields: {CLOUDFRONT_FIELDS}"
    while True:
        now = clock.tick()
        day, _, second = clock.iso(now).partition("T")
        path, _, query = _path(rng).partition("?")
        result = rng.choice(results)
        status = "200" if result != "Error" else rng.choice(("403", "404", "502", "000"))
        size = int(rng.expovariate(1 / 20_000))
        taken = rng.expovariate(1 / 0.05)
        request_id = base64.urlsafe_b64encode(rng.getrandbits(320).to_bytes(40)).decode()
        referer = "-" if rng.random() < 0.6 else f"https://www.example.com{rng.choice(_PATHS)}"
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
                rng.choice(_HOSTS),
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


# -- registry and files ------------------------------------------------------------------

# -- S3 server access ----------------------------------------------------------------------

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
    clock = _Clock(lines)
    clients = _Population(rng)
    owner = f"{rng.getrandbits(256):064x}"
    bucket = "prod-assets-123456789012"
    requesters = (
        f"arn:aws:sts::{_ACCOUNT}:assumed-role/app-server/i-0a1b2c3d4e5f60718",
        f"arn:aws:sts::{_ACCOUNT}:assumed-role/etl-job/session-{rng.getrandbits(32):08x}",
        f"arn:aws:iam::{_ACCOUNT}:user/deploy-bot",
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


# Average line lengths (bytes, newline included), measured: they turn a size into a line count
# for the clock, so an object of any size spans the same five minutes.
GENERATORS: dict[str, tuple[Generator, int]] = {
    "nlb": (nlb_lines, 311),
    "alb": (alb_lines, 654),
    "vpcflow": (vpcflow_lines, 114),
    "cloudfront": (cloudfront_lines, 384),
    "s3access": (s3access_lines, 655),
}


def lines(name: str, size_bytes: int, seed: int = SEED) -> Iterator[str]:
    """The lines of an object of about `size_bytes` of text (header lines included)."""
    generator, average = GENERATORS[name]
    total = 0
    for line in generator(random.Random(f"{seed}:{name}"), max(1, size_bytes // average)):
        yield line
        total += len(line) + 1
        if total >= size_bytes:
            return


def object_path(directory: Path, name: str, size_bytes: int) -> Path:
    return directory / f"{name}-{size_bytes}-v{GENERATOR_VERSION}-s{SEED}.log.gz"


def write_object(directory: Path, name: str, size_bytes: int) -> Path:
    """A gzipped object of about `size_bytes` of text, generated once and cached by name."""
    path = object_path(directory, name, size_bytes)
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".partial{os.getpid()}")
    batch: list[str] = []
    # isal's gzip writer: several times faster than zlib at level 1-3, still ordinary gzip.
    with igzip.open(partial, "wb", compresslevel=2) as out:  # type: ignore[no-untyped-call]
        for line in lines(name, size_bytes):
            batch.append(line)
            if len(batch) >= 10_000:
                out.write(("\n".join(batch) + "\n").encode())
                batch.clear()
        if batch:
            out.write(("\n".join(batch) + "\n").encode())
    partial.rename(path)  # a run cut short never leaves a half object behind a cached name
    return path
