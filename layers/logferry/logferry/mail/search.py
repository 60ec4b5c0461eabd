"""`logferry search`: mail transactions by sender, recipient, host, message id and time.

    $ logferry search -f bob@foo.com -d '2011-12-15 00:00:00' -D '2011-12-17 00:00:00' -H smtp
    transaction: pBFERI8l019936
    client: bob.desktop [10.10.10.10]
    from:   bob@foo.com
    msgid:  20111215142718.GD23530@smtp.foo.com
    date:   2011-12-15 15:27:19
    to:     recipient='alice@bar.com', relay='smtp.bar.com', status='Sent (Ok: queued as 529...)'
    host:   smtp

One block per transaction, most recent first, one `to:` line per delivery attempt (a
rejected recipient shows as `reject:`). Addresses match case-insensitively, and `*`/`?`
are wildcards (`-f '*@foo.com'`). Dates are `YYYY-MM-DD[ HH:MM[:SS]]` or relative (`30m`,
`2h`, `7d`, `2w` ago); they are read, and printed, in LOGFERRY_MAIL_TIMEZONE (UTC unless
set), the zone the mail logs were written in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from ..model import Source

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Criteria:
    sender: str | None = None
    recipient: str | None = None
    host: str | None = None
    message_id: str | None = None
    since: str | None = None  # UTC ISO 8601
    until: str | None = None
    limit: int = 10


def parse_when(text: str, tz: tzinfo | None = None, now: datetime | None = None) -> str:
    """`2011-12-15`, `2011-12-15 00:00:00`, `2011-12-15T00:00` or `2h`/`7d` ago -> UTC ISO."""
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative[1]), relative[2]
        moment = (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(
                f"not a date: {text!r} (use YYYY-MM-DD[ HH:MM:SS] or 30m, 2h, 7d, 2w)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz or UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _match(field: str, value: str, *, fold: bool) -> dict[str, Any]:
    if "*" in value or "?" in value:
        return {"wildcard": {field: {"value": value, "case_insensitive": fold}}}
    return {"term": {field: {"value": value, "case_insensitive": fold}}}


def build_query(criteria: Criteria) -> dict[str, Any]:
    """The search body: term filters on keywords, a range on @timestamp, newest first."""
    filters: list[dict[str, Any]] = []
    if criteria.sender:
        filters.append(_match("email.from.address", criteria.sender, fold=True))
    if criteria.recipient:
        filters.append(_match("email.to.address", criteria.recipient, fold=True))
    if criteria.host:
        filters.append(_match("host.name", criteria.host, fold=True))
    if criteria.message_id:
        msgid = criteria.message_id.strip()
        msgid = msgid[1:-1] if msgid[:1] == "<" and msgid[-1:] == ">" else msgid
        filters.append(_match("email.message_id", msgid, fold=False))
    if criteria.since or criteria.until:
        span: dict[str, str] = {}
        if criteria.since:
            span["gte"] = criteria.since
        if criteria.until:
            span["lte"] = criteria.until
        filters.append({"range": {"@timestamp": span}})
    return {
        "size": criteria.limit,
        "query": {"bool": {"filter": filters}},
        "sort": [{"@timestamp": {"order": "desc"}}, {"email.local_id": {"order": "asc"}}],
    }


def search(client: Any, index_prefix: str, criteria: Criteria) -> list[dict[str, Any]]:
    """Hits (`_index`, `_id`, `_source`) over `<prefix>-mail-*`, most recent first."""
    response = client.search(
        index=f"{index_prefix}-mail-*",
        body=build_query(criteria),
        params={"ignore_unavailable": "true", "allow_no_indices": "true"},
    )
    hits: list[dict[str, Any]] = response.get("hits", {}).get("hits", [])
    return hits


def _when(ts: str | None, tz: tzinfo | None) -> str:
    if not ts:
        return "-"
    moment = datetime.fromisoformat(ts[:26] + "Z" if len(ts) > 27 else ts)
    return moment.astimezone(tz or UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_transaction(source: Source, tz: tzinfo | None = None) -> str:
    """The human block of one transaction document."""
    email = source.get("email", {})
    client = source.get("source", {})
    mail = source.get("mail", {})
    ip, domain = client.get("ip"), client.get("domain")
    peer = f"{domain} [{ip}]" if ip and domain else f"[{ip}]" if ip else domain or "-"
    msgid = email.get("message_id") or "-"
    lines = [
        f"transaction: {email.get('local_id') or 'NOQUEUE'}",
        f"client: {peer}",
        f"from:   {email.get('from', {}).get('address') or '-'}",
        f"msgid:  {msgid}",
        f"date:   {_when(source.get('@timestamp'), tz)}",
    ]
    shown: set[str] = set()
    for entry in mail.get("recipients", []):
        address = entry.get("address", "")
        shown.add(address)
        lines.append(
            f"to:     recipient={address!r}, relay={entry.get('relay', '-')!r},"
            f" status={entry.get('status', '-')!r}"
        )
    for entry in mail.get("rejects", []):
        address = entry.get("address", "")
        shown.add(address)
        code = " ".join(str(entry[k]) for k in ("code", "dsn") if k in entry)
        reason = f"{code} {entry.get('reason', '')}".strip()
        lines.append(f"reject: recipient={address or '-'!r}, reason={reason!r}")
    for address in email.get("to", {}).get("address", []):
        if address not in shown:
            lines.append(f"to:     recipient={address!r}, relay='-', status='-'")
    lines.append(f"host:   {source.get('host', {}).get('name') or '-'}")
    return "\n".join(lines)


def format_hits(hits: Iterable[dict[str, Any]], tz: tzinfo | None = None) -> str:
    """Blocks separated by a blank line (no trailing newline)."""
    return "\n\n".join(format_transaction(hit["_source"], tz) for hit in hits)


def criteria_from(
    *,
    sender: str | None = None,
    recipient: str | None = None,
    host: str | None = None,
    message_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 10,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Criteria:
    """Criteria from what a person typed (dates still as text)."""
    return Criteria(
        sender=sender,
        recipient=recipient,
        host=host,
        message_id=message_id,
        since=parse_when(since, tz, now) if since else None,
        until=parse_when(until, tz, now) if until else None,
        limit=limit,
    )
