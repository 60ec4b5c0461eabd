"""`logferry search` over millions of mail transactions, timed on the local OpenSearch.

    scripts/bench_search.py                         2,000,000 transactions over 28 days
    scripts/bench_search.py --transactions 200000   a smaller corpus
    scripts/bench_search.py --keep                  leave the indices for a look afterwards

The corpus is generated deterministically (seeded) as postfix maillog lines — connect,
client=, message-id=, from=, one delivery line per attempt (sent, deferred then sent,
bounced, still deferred), removed, disconnect; and, for 4% of the documents, a NOQUEUE
rejection — and reduced to documents by the real code path: `PostfixFormat.parse` (syslog
envelope, message parser, `MailReducer`, `Tx.source`), in objects of 5,000 transactions.
Every transaction's lines sit in one object, so no part has to be merged with an indexed one:
the documents and `_id`s are those the pipeline's `MailMerger` would write, sent with plain
bulk `create`s instead of its multi-get + conditional writes (the merge is not what is
measured here). Generating, reducing and indexing overlap: `--concurrency` bulk requests of
`--bulk-docs` documents are in flight while the next bodies are built.

Populations have a heavy head and a long tail (Zipf): 250,000 senders and 600,000 recipients
over 8,000 domains, 24 mail hosts, 1 to 40 recipients per message. Transactions are spread
over `--days` (28) days ending at `--end`, busier by day than by night.

The indices get a throwaway prefix (`bench-mail-<random>`) and the logferry index template for
that prefix (`logferry.provisioning.index_template`; retention policy, monitors and saved objects
are not installed). While loading, the day indices are created with `refresh_interval: -1`
and no replicas; afterwards the template's refresh interval is restored, the indices are
refreshed and the background merges are waited for (force-merged to one segment only with
`--force-merge`: production indices are not).

Searches go through what `logferry search` runs — `search.criteria_from` and `search.search`
on the same `<prefix>-mail-*` pattern — each for the last 7 days before `--end` (`-d 7d`
typed at that moment). Each query's first run, after the indices' caches were cleared, is
reported as "cold"; then `--repeat` rounds of all queries in turn give the median and p95
(wall time in the client, and OpenSearch's own `took`). The indices and the template are
deleted at the end, also on Ctrl-C, unless `--keep`.
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import platform
import random
import shlex
import signal
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from logferry.formats.postfix import FORMAT as POSTFIX
from logferry.mail import search
from logferry.mail.transactions import transaction_id
from logferry.model import Document, ObjectRef, ParseContext, Rejection, Source
from logferry.output.client import make_client
from logferry.output.indices import index_name
from logferry.output.sink import BulkTransport
from logferry.provisioning.templates import index_template, template_name

SEED = 20261130
END = datetime(2026, 11, 30, 0, 0, 0, tzinfo=UTC)
DAYS = 28
WEEK = "7d"

# -- the corpus ------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "alice bob carol dave erin frank grace heidi ivan judy mallory nina oscar peggy quinn "
    "rupert sybil trent ursula victor walter xena yusuf zoe anna ben chloe dan emma felix "
    "gina hugo iris jack kate leo mia noah olga paul rosa sam tina uma vera will yara "
    "zack"
)
_LAST = _words(
    "smith jones brown taylor wilson davies evans thomas roberts walker wright hall green "
    "wood clarke hughes lewis harris young king baker lee allen moore white martin "
    "jackson clark wright scott turner hill adams campbell mitchell parker morris cook "
    "bell murphy"
)
_ROLES = _words(
    "info noreply no-reply billing support sales alerts notifications postmaster "
    "newsletter orders jobs security admin hr invoices reports bounce mailer-daemon"
)
_WORDS = _words(
    "acme globex initech umbrella stark wayne hooli vandelay soylent tyrell cyberdyne "
    "wonka gringotts oceanic aperture black mesa north south blue red green delta alpha "
    "omega nova terra luna sol star bright swift prime metro city river lake hill"
)
_TLDS = ("com", "com", "com", "net", "org", "de", "fr", "co.uk", "io", "nl", "example")
_HOSTS = (
    [f"mx{n}" for n in range(1, 7)]
    + [f"smtp-out{n}" for n in range(1, 9)]
    + [f"relay{n}" for n in range(1, 5)]
    + ["lists1", "lists2", "submit1", "submit2", "backup-mx", "legacy-smtp"]
)
_REJECT_REASONS = (
    "554 5.7.1 <{rcpt}>: Relay access denied",
    "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table",
    "450 4.7.1 Client host rejected: cannot find your hostname, [{ip}]",
    "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org",
    "450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted",
)
_DEFERRALS = (
    "connect to {relay}[{ip}]:25: Connection timed out",
    "host {relay}[{ip}] said: 421 4.7.0 Try again later (in reply to end of DATA command)",
    "lost connection with {relay}[{ip}] while receiving the initial server greeting",
)
_BOUNCES = (
    "host {relay}[{ip}] said: 550 5.1.1 <{rcpt}>: Recipient address rejected: "
    "User unknown (in reply to RCPT TO command)",
    "host {relay}[{ip}] said: 552 5.2.2 Mailbox full (in reply to RCPT TO command)",
)
# Share of the busiest hour's traffic in each UTC hour (business day in Europe).
_HOURLY = [
    0.15, 0.1, 0.1, 0.1, 0.15, 0.25, 0.45, 0.7, 0.9, 1.0, 1.0, 0.95,
    0.85, 0.9, 1.0, 1.0, 0.9, 0.75, 0.55, 0.45, 0.35, 0.3, 0.25, 0.2,
]  # fmt: skip


def _zipf_weights(n: int, s: float) -> list[float]:
    """Cumulative weights of ranks 1..n for `random.choices`: a heavy head, a long tail."""
    total = 0.0
    out = []
    for rank in range(1, n + 1):
        total += 1.0 / rank**s
        out.append(total)
    return out


def _ipv4(rng: random.Random) -> str:
    first, second, third = rng.randint(11, 223), rng.randint(0, 255), rng.randint(0, 255)
    return f"{first}.{second}.{third}.{rng.randint(1, 254)}"


class Population:
    """Addresses with a Zipf popularity, built once from the seed."""

    def __init__(self, rng: random.Random, size: int, domains: Sequence[str], s: float) -> None:
        domain_weights = _zipf_weights(len(domains), 1.0)
        picked = rng.choices(domains, cum_weights=domain_weights, k=size)
        addresses = []
        for rank, domain in enumerate(picked):
            if rank % 40 == 0:
                local = _ROLES[rank // 40 % len(_ROLES)]
            else:
                local = f"{_FIRST[rank % len(_FIRST)]}.{_LAST[rank // len(_FIRST) % len(_LAST)]}"
                cycle = rank // (len(_FIRST) * len(_LAST))
                local += str(cycle) if cycle else ""
            addresses.append(f"{local}@{domain}")
        self.addresses = addresses
        self.weights = _zipf_weights(size, s)

    def pick(self, rng: random.Random, k: int = 1) -> list[str]:
        return rng.choices(self.addresses, cum_weights=self.weights, k=k)


@dataclass(frozen=True)
class CorpusShape:
    transactions: int = 2_000_000
    end: datetime = END
    days: int = DAYS
    seed: int = SEED
    senders: int = 250_000
    recipients: int = 600_000
    domains: int = 8_000
    noqueue_share: float = 0.04


class MailCorpus:
    """Postfix maillog lines of `shape.transactions` transactions, the same for one seed."""

    def __init__(self, shape: CorpusShape) -> None:
        self.shape = shape
        rng = random.Random(shape.seed)
        domains = []
        for n in range(shape.domains):
            word = _WORDS[n % len(_WORDS)]
            other = _WORDS[n // len(_WORDS) % len(_WORDS)]
            suffix = str(n // len(_WORDS) ** 2) if n >= len(_WORDS) ** 2 else ""
            domains.append(f"{word}{other}{suffix}.{rng.choice(_TLDS)}")
        self.domains = domains
        self.senders = Population(rng, shape.senders, domains, 1.05)
        self.recipients = Population(rng, shape.recipients, domains, 0.95)
        self.hosts = list(_HOSTS)
        self.host_weights = _zipf_weights(len(self.hosts), 0.8)
        self.start = shape.end - timedelta(days=shape.days)
        self.hour_weights = []
        total = 0.0
        for weight in _HOURLY:
            total += weight
            self.hour_weights.append(total)
        self.rng = random.Random(shape.seed + 1)

    def _moment(self) -> datetime:
        rng = self.rng
        day = rng.randrange(self.shape.days)
        hour = bisect.bisect_left(self.hour_weights, rng.random() * self.hour_weights[-1])
        return self.start + timedelta(days=day, hours=hour, seconds=rng.random() * 3600)

    @staticmethod
    def _ts(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def transaction(self) -> list[str]:
        """The maillog lines of one transaction (or of one NOQUEUE rejection)."""
        rng = self.rng
        at = self._moment()
        host = rng.choices(self.hosts, cum_weights=self.host_weights)[0]
        ts = self._ts(at)
        smtpd = f"{ts} {host} postfix/smtpd[{rng.randint(1000, 65000)}]:"
        ip = _ipv4(rng)
        if rng.random() < 0.2:
            client_name = "unknown"
        else:
            client_name = f"mail{rng.randint(1, 99)}.{rng.choice(self.domains)}"
        sender = self.senders.pick(rng)[0]
        if rng.random() < self.shape.noqueue_share:
            rcpt = self.recipients.pick(rng)[0]
            reason = rng.choice(_REJECT_REASONS).format(rcpt=rcpt, ip=ip)
            return [
                f"{smtpd} connect from {client_name}[{ip}]",
                f"{smtpd} NOQUEUE: reject: RCPT from {client_name}[{ip}]: {reason};"
                f" from=<{sender}> to=<{rcpt}> proto=ESMTP helo=<{client_name}>",
                f"{smtpd} disconnect from {client_name}[{ip}] ehlo=1 mail=1 rcpt=0/1 quit=1",
            ]
        qid = f"{rng.getrandbits(44):011X}"
        count = 1
        roll = rng.random()
        if roll > 0.75:
            count = 2 + int(rng.paretovariate(1.3)) if roll > 0.97 else rng.randint(2, 4)
        rcpts = list(dict.fromkeys(self.recipients.pick(rng, min(count, 40))))
        qmgr = f"{host} postfix/qmgr[{rng.randint(1000, 65000)}]:"
        auth = (
            f", sasl_method=PLAIN, sasl_username={sender.partition('@')[0]}"
            if rng.random() < 0.25
            else ""
        )
        msgid = f"{at:%Y%m%d%H%M%S}.{rng.getrandbits(48):012x}@{sender.partition('@')[2]}"
        lines = [
            f"{smtpd} connect from {client_name}[{ip}]",
            f"{smtpd} {qid}: client={client_name}[{ip}]:{rng.randint(1024, 65535)}{auth}",
            f"{ts} {host} postfix/cleanup[{rng.randint(1000, 65000)}]: {qid}: message-id=<{msgid}>",
            f"{ts} {qmgr} {qid}: from=<{sender}>, size={int(rng.lognormvariate(9.5, 1.2))},"
            f" nrcpt={len(rcpts)} (queue active)",
            f"{smtpd} disconnect from {client_name}[{ip}] ehlo=1 mail=1 rcpt={len(rcpts)}"
            f" data=1 quit=1 commands={len(rcpts) + 4}",
        ]
        last = at
        pending = False
        for rcpt in rcpts:
            domain = rcpt.partition("@")[2]
            relay = f"mx{rng.randint(1, 3)}.{domain}"
            relay_ip = _ipv4(rng)
            when = at + timedelta(seconds=rng.uniform(0.2, 3.0))
            fate = rng.random()
            attempts: list[tuple[datetime, str, str, str]] = []
            if fate < 0.04:  # deferred, then delivered
                text = rng.choice(_DEFERRALS).format(relay=relay, ip=relay_ip)
                attempts.append((when, "4.4.1", "deferred", text))
                when += timedelta(minutes=rng.choice((5, 10, 20, 40, 80)))
                attempts.append((when, "2.0.0", "sent", f"250 2.0.0 Ok: queued as {qid[:9]}"))
            elif fate < 0.065:
                text = rng.choice(_BOUNCES).format(relay=relay, ip=relay_ip, rcpt=rcpt)
                attempts.append((when, "5.1.1", "bounced", text))
            elif fate < 0.08:  # still in the queue
                text = rng.choice(_DEFERRALS).format(relay=relay, ip=relay_ip)
                attempts.append((when, "4.4.1", "deferred", text))
                pending = True
            else:
                queued = f"{rng.getrandbits(40):010X}"
                attempts.append((when, "2.0.0", "sent", f"250 2.0.0 Ok: queued as {queued}"))
            for moment, dsn, status, text in attempts:
                delay = (moment - at).total_seconds()
                lines.append(
                    f"{self._ts(moment)} {host} postfix/smtp[{rng.randint(1000, 65000)}]: {qid}:"
                    f" to=<{rcpt}>, relay={relay}[{relay_ip}]:25, delay={delay:.2f},"
                    f" delays=0.05/0.01/{delay / 3:.2f}/{delay / 2:.2f}, dsn={dsn},"
                    f" status={status} ({text})"
                )
                last = max(last, moment)
        if not pending:
            lines.append(f"{self._ts(last)} {qmgr} {qid}: removed")
        return lines

    def objects(self, per_object: int) -> Iterator[list[str]]:
        """The corpus as maillog objects of `per_object` transactions each."""
        left = self.shape.transactions
        while left > 0:
            n = min(per_object, left)
            left -= n
            lines: list[str] = []
            for _ in range(n):
                lines.extend(self.transaction())
            yield lines


def index_for(prefix: str, ts: str) -> str:
    """`<prefix>-mail-YYYY.MM.DD` of a document's first-seen UTC day (as MailMerger names it)."""
    return index_name(prefix, "mail", ts)


def documents(shape: CorpusShape, per_object: int = 5000) -> Iterator[tuple[str, Source]]:
    """(`_id`, document) of the corpus, through the postfix format's own parse."""
    corpus = MailCorpus(shape)
    for number, lines in enumerate(corpus.objects(per_object)):
        ctx = ParseContext(ObjectRef("bench", f"maillog/{number:06d}"), shape.end)
        for item in POSTFIX.parse(enumerate(lines, 1), ctx):
            if isinstance(item, Rejection):
                raise RuntimeError(f"generated line rejected: {item.reason}: {item.raw}")
            assert isinstance(item, Document)
            doc_id = item.doc_id
            if doc_id is None:  # NOQUEUE: a document of its own; the sink ids it by position
                doc_id = transaction_id("noqueue", f"{number}:{item.position}", str(shape.seed))
            yield doc_id, item.source


def bulk_bodies(prefix: str, docs: Iterator[tuple[str, Source]], per_body: int) -> Iterator[bytes]:
    """`_bulk` bodies of `per_body` create actions each."""
    parts: list[bytes] = []
    n = 0
    for doc_id, source in docs:
        index = index_for(prefix, source["@timestamp"])
        parts.append(orjson.dumps({"create": {"_index": index, "_id": doc_id}}))
        parts.append(orjson.dumps(source))
        n += 1
        if n == per_body:
            yield b"\n".join(parts) + b"\n"
            parts, n = [], 0
    if parts:
        yield b"\n".join(parts) + b"\n"


# -- loading ---------------------------------------------------------------------------------


@dataclass
class LoadStats:
    documents: int = 0
    requests: int = 0
    bytes: int = 0
    errors: int = 0
    first_error: str = ""
    seconds: float = 0.0


def day_indices(prefix: str, shape: CorpusShape) -> list[str]:
    """Every day index the corpus can write (a deferred retry may run into the day after)."""
    start = shape.end - timedelta(days=shape.days)
    return [
        index_for(prefix, (start + timedelta(days=n)).strftime("%Y-%m-%d"))
        for n in range(shape.days + 1)
    ]


def prepare(client: Any, prefix: str, shape: CorpusShape) -> None:
    client.indices.put_index_template(name=template_name(prefix), body=index_template(prefix))
    for index in day_indices(prefix, shape):
        client.indices.create(
            index=index,
            body={"settings": {"index": {"refresh_interval": "-1", "number_of_replicas": 0}}},
        )


def load(
    client: Any, prefix: str, shape: CorpusShape, *, concurrency: int, per_body: int
) -> LoadStats:
    """Generate and send, `concurrency` bulk requests in flight while the next bodies are built."""
    transport = BulkTransport(client)
    stats = LoadStats()
    progress = sys.stdout.isatty()
    lock = threading.Lock()
    started = time.perf_counter()

    def send(body: bytes) -> None:
        response = transport.bulk(body)
        with lock:
            stats.requests += 1
            stats.bytes += len(body)
            for item in response.get("items", []):
                result = next(iter(item.values()))
                if result.get("status", 500) >= 300:
                    stats.errors += 1
                    stats.first_error = stats.first_error or str(result.get("error"))[:300]
                else:
                    stats.documents += 1

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        inflight: list[Future[None]] = []
        for body in bulk_bodies(prefix, documents(shape), per_body):
            while len(inflight) >= concurrency * 2:
                inflight.pop(0).result()
            inflight.append(pool.submit(send, body))
            if progress and stats.requests and stats.requests % 20 == 0:
                rate = stats.documents / (time.perf_counter() - started)
                print(f"\r   {stats.documents:>12,} documents  {rate:>8,.0f}/s", end="", flush=True)
        for future in inflight:
            future.result()
    stats.seconds = time.perf_counter() - started
    if progress:
        print("\r" + " " * 60 + "\r", end="")
    return stats


def finish_loading(client: Any, prefix: str, *, force_merge: bool) -> dict[str, float]:
    pattern = f"{prefix}-mail-*"
    refresh = index_template(prefix)["template"]["settings"]["index"]["refresh_interval"]
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    client.indices.put_settings(index=pattern, body={"index": {"refresh_interval": refresh}})
    client.indices.refresh(index=pattern)
    seconds["refresh"] = time.perf_counter() - started
    # Searching while a two-core machine still merges the freshly loaded segments would
    # measure the merges; production indices are searched mostly long after they were written.
    started = time.perf_counter()
    while time.perf_counter() - started < 600:
        merges = client.indices.stats(index=pattern, metric="merge")
        if not merges["_all"]["total"]["merges"]["current"]:
            break
        time.sleep(2)
    seconds["merges settling"] = time.perf_counter() - started
    if force_merge:
        started = time.perf_counter()
        client.indices.forcemerge(index=pattern, max_num_segments=1, request_timeout=3600)
        seconds["force-merge"] = time.perf_counter() - started
    return seconds


def cleanup(client: Any, prefix: str) -> None:
    names = sorted(client.indices.get(index=f"{prefix}-*", params={"ignore_unavailable": "true"}))
    for start in range(0, len(names), 20):
        client.indices.delete(index=",".join(names[start : start + 20]))
    try:
        client.indices.delete_index_template(name=template_name(prefix))
    except Exception as exc:
        if getattr(exc, "status_code", None) != 404:
            raise


# -- searching -------------------------------------------------------------------------------


class RecordingClient:
    """The OpenSearch client, keeping the last search response (for its `took`)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.last: dict[str, Any] = {}

    def search(self, **kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.client.search(**kwargs)
        self.last = response
        return response


@dataclass(frozen=True)
class Query:
    label: str
    flags: str  # as typed after `logferry search`
    criteria: search.Criteria


@dataclass
class Timing:
    query: Query
    cold_ms: float
    cold_took: int
    wall_ms: list[float]
    took_ms: list[int]
    hits: int
    matched: int


def _top(client: Any, pattern: str, since: str, field: str, order: str = "desc") -> str:
    agg = {"terms": {"field": field, "size": 1, "order": {"_count": order}}}
    if order == "asc":
        agg = {"rare_terms": {"field": field, "max_doc_count": 2}}
    response = client.search(
        index=pattern,
        body={
            "size": 0,
            "query": {"range": {"@timestamp": {"gte": since}}},
            "aggs": {"top": agg},
        },
    )
    buckets = sorted(response["aggregations"]["top"]["buckets"], key=lambda b: b["key"])
    return str(buckets[0]["key"])


def analyst_queries(client: Any, prefix: str, end: datetime) -> list[Query]:
    """The searches an analyst runs over the last week, with values the corpus holds."""
    pattern = f"{prefix}-mail-*"
    since = search.parse_when(WEEK, UTC, end)
    busy_sender = _top(client, pattern, since, "email.from.address")
    rare_sender = _top(client, pattern, since, "email.from.address", "asc")
    recipient = _top(client, pattern, since, "email.to.address")
    host = _top(client, pattern, since, "host.name")
    sample = client.search(
        index=pattern,
        body={
            "size": 1,
            "query": {"range": {"@timestamp": {"gte": since}}},
            "sort": [{"email.message_id": "asc"}],
        },
    )["hits"]["hits"][0]["_source"]
    msgid = sample["email"]["message_id"]
    domain = busy_sender.partition("@")[2]

    def query(label: str, flags: str, **typed: Any) -> Query:
        criteria = search.criteria_from(since=WEEK, tz=UTC, now=end, **typed)
        return Query(label, f"{flags} -d {WEEK}", criteria)

    return [
        query("sender (busiest)", f"-f {busy_sender}", sender=busy_sender),
        query("sender (rare)", f"-f {rare_sender}", sender=rare_sender),
        query("recipient (busiest)", f"-t {recipient}", recipient=recipient),
        query("host (busiest)", f"-H {host}", host=host),
        query("message-id", f"-m '<{msgid}>'", message_id=f"<{msgid}>"),
        query("sender wildcard", f"-f '*@{domain}'", sender=f"*@{domain}"),
        query("time range only", "-n 10", limit=10),
    ]


def _run(client: RecordingClient, prefix: str, query: Query) -> tuple[float, int, int]:
    """(wall ms, took ms, hits) of one `logferry search`."""
    started = time.perf_counter()
    hits = search.search(client, prefix, query.criteria)
    wall = (time.perf_counter() - started) * 1000
    return wall, int(client.last.get("took", -1)), len(hits)


def time_queries(client: Any, prefix: str, queries: Sequence[Query], repeat: int) -> list[Timing]:
    """Each query once cold (the indices' caches cleared just before), then `repeat` rounds
    of all of them in turn, so that a burst of other load on the machine hits every query
    alike instead of the one that happened to run then."""
    recording = RecordingClient(client)
    pattern = f"{prefix}-mail-*"
    timings = []
    for query in queries:
        client.indices.clear_cache(index=pattern)
        cold_ms, cold_took, hits = _run(recording, prefix, query)
        matched = client.count(
            index=pattern, body={"query": search.build_query(query.criteria)["query"]}
        )["count"]
        timings.append(Timing(query, cold_ms, cold_took, [], [], hits, int(matched)))
    for _ in range(repeat):
        for timing in timings:
            wall, took, hits = _run(recording, prefix, timing.query)
            timing.wall_ms.append(wall)
            timing.took_ms.append(took)
            timing.hits = hits
    return timings


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def report(timings: list[Timing], repeat: int) -> None:
    print(
        f"\n{'query':<21} {'cold ms':>8} {'median ms':>10} {'p95 ms':>8}"
        f" {'took med':>9} {'hits':>5} {'matched':>10}   logferry search ..."
    )
    for t in timings:
        print(
            f"{t.query.label:<21} {t.cold_ms:>8.1f} {statistics.median(t.wall_ms):>10.1f}"
            f" {p95(t.wall_ms):>8.1f} {statistics.median(t.took_ms):>9.0f} {t.hits:>5}"
            f" {t.matched:>10,}   {t.query.flags}"
        )
    print(
        f"\ncold = first run after clearing the indices' caches; median/p95 over {repeat} rounds;"
        " ms = wall time in the client (request + JSON), took = OpenSearch's own."
    )


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--transactions", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=DAYS, help="spread over this many days")
    parser.add_argument("--end", default=END.strftime("%Y-%m-%dT%H:%M:%SZ"), help="corpus end")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--repeat", type=int, default=20, help="warm runs per query")
    parser.add_argument("--concurrency", type=int, default=3, help="bulk requests in flight")
    parser.add_argument("--bulk-docs", type=int, default=5000, help="documents per request")
    parser.add_argument("--force-merge", action="store_true", help="one segment per index")
    parser.add_argument("--keep", action="store_true", help="keep the indices and template")
    parser.add_argument("--prefix", help="index prefix (default bench-mail-<random>)")
    parser.add_argument(
        "--opensearch-url", default=os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200")
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    end = datetime.fromisoformat(args.end).astimezone(UTC)
    shape = CorpusShape(transactions=args.transactions, end=end, days=args.days, seed=args.seed)
    prefix = args.prefix or f"bench-mail-{uuid.uuid4().hex[:8]}"
    client = make_client(args.opensearch_url, timeout=600)
    info = client.info()
    print("$ " + shlex.join([sys.argv[0], *(sys.argv[1:] if argv is None else argv)]))
    print(
        f"OpenSearch {info['version']['number']} at {args.opensearch_url};"
        f" {os.cpu_count()} CPUs; Python {platform.python_version()}; index prefix {prefix}"
    )
    # Ctrl-C and a plain kill both end in the clean-up below (SIGINT explicitly: a shell
    # starts background jobs with it ignored, and Python then keeps it ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        prepare(client, prefix, shape)
        print(
            f"\n== loading {shape.transactions:,} transactions over {shape.days} days up to"
            f" {end:%Y-%m-%d %H:%M}Z (seed {shape.seed}), {args.concurrency} requests in flight"
        )
        stats = load(client, prefix, shape, concurrency=args.concurrency, per_body=args.bulk_docs)
        if stats.errors:
            print(f"   {stats.errors:,} documents refused, first: {stats.first_error}")
            return 1
        finishing = finish_loading(client, prefix, force_merge=args.force_merge)
        count = client.count(index=f"{prefix}-mail-*")["count"]
        sizes = client.cat.indices(index=f"{prefix}-mail-*", format="json", bytes="b")
        store = sum(int(row["store.size"]) for row in sizes)
        segments = client.cat.segments(index=f"{prefix}-mail-*", format="json")
        print(
            f"   {stats.documents:,} documents in {stats.seconds:.0f} s"
            f" ({stats.documents / stats.seconds:,.0f}/s generated, reduced and indexed;"
            f" {stats.bytes / 1e9:.2f} GB in {stats.requests} requests)"
        )
        print(
            "   "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in finishing.items())
            + f"; corpus: {count:,} documents in {len(sizes)} indices,"
            f" {store / 1e9:.2f} GB on disk, {len(segments)} segments"
        )
        week = client.count(
            index=f"{prefix}-mail-*",
            body={"query": {"range": {"@timestamp": {"gte": search.parse_when(WEEK, UTC, end)}}}},
        )["count"]
        print(f"   last 7 days (searched window): {week:,} documents")

        print(f"\n== searching the last 7 days before {end:%Y-%m-%d %H:%M}Z")
        load_before = os.getloadavg()[0]
        queries = analyst_queries(client, prefix, end)
        timings = time_queries(client, prefix, queries, args.repeat)
        report(timings, args.repeat)
        print(
            "load average (1 min) before / after the searches:"
            f" {load_before:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
            " (other work on the machine skews the figures)"
        )
        print(f"\ncorpus: {count:,} documents ({shape.transactions:,} transactions generated)")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept: {prefix}-* and index template {template_name(prefix)}")
        else:
            cleanup(client, prefix)
            print(f"deleted: {prefix}-* and index template {template_name(prefix)}")
