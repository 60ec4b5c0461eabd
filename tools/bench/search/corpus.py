"""The search benchmark's corpus: postfix maillog lines of mail transactions with a heavy
head and a long tail (Zipf), the same for one seed, reduced to documents and `_id`s by the
postfix format's own parse, and the `_bulk` bodies that index them (the whole story in
tools.bench.search.cli)."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from logferry.formats.postfix import FORMAT as POSTFIX
from logferry.mail.transactions import transaction_id
from logferry.model import Document, ObjectRef, ParseContext, Rejection, Source
from logferry.output.indices import index_name

SEED = 20261130
END = datetime(2026, 11, 30, 0, 0, 0, tzinfo=UTC)
DAYS = 28


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
