"""sendmail mail logs (syslog "maillog"), reduced to one document per mail transaction.

    Dec 15 15:27:19 smtp sendmail[19936]: pBFERI8l019936: from=<bob@foo.com>, size=1234,
        class=0, nrcpts=1, msgid=<20111215142718.GD23530@smtp.foo.com>, proto=ESMTP,
        daemon=MTA, relay=bob.desktop [10.10.10.10]
    Dec 15 15:27:19 smtp sendmail[19938]: pBFERI8l019936: to=<alice@bar.com>,
        delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=121234,
        relay=smtp.bar.com. [10.20.20.20], dsn=2.0.0, stat=Sent (Ok: queued as 5298B228B8B)

Queue ids are 14-15 characters (creation time, a sequence and the pid). Fields are separated
by ", "; `to=` lists recipients with bare commas (`to=<a>,<b>`), and a piece without `=`
continues the previous field. `stat=` and `reject=` run to the end of the line. `delay` may carry
a day prefix (`1+00:00:15`). `relay=` is `host. [ip]`, `[ip] [ip]`, `[ip]`, `user@host`, or
any of these followed by `(may be forged)`. Rejections with a queue id (`ruleset=check_rcpt`,
`<rcpt>... User unknown`) belong to their transaction; `ruleset=check_relay` comes before any
queue id and is a document of its own. Connection-level lines (STARTTLS, AUTH failure,
"possible SMTP attack", "did not issue MAIL", Milter notes) are counted and not indexed.
"""

from __future__ import annotations

import functools
from typing import Any

from ..mail.reducer import SKIP, STANDALONE, TX, MailLine
from ..mail.transactions import clean_ip
from ..model import ParseError, Source
from .mailbase import MailFormat, unbracket

_FORGED = " (may be forged)"


def is_sendmail_qid(value: str) -> bool:
    return 12 <= len(value) <= 16 and value.isascii() and value.isalnum()


@functools.lru_cache(maxsize=4096)  # a few distinct delays make up most lines
def seconds(delay: str) -> float | None:
    """`1+00:00:15` -> 86415.0; `00:00:15` -> 15.0; None when not a delay."""
    days, _, clock = delay.rpartition("+")
    parts = clock.split(":")
    if len(parts) != 3 or not all(p.isdecimal() for p in parts) or (days and not days.isdecimal()):
        return None
    h, m, s = (int(p) for p in parts)
    return float((int(days or 0) * 24 + h) * 3600 + m * 60 + s)


def split_relay(value: str) -> tuple[str | None, str | None, bool]:
    """`host. [ip] (may be forged)` -> ("host", "ip", True); `[ip] [ip]` -> (None, ip, False)."""
    forged = value.endswith(_FORGED)
    if forged:
        value = value[: -len(_FORGED)]
    value = value.strip()
    if not value.endswith("]"):
        host = value.rstrip(".")
        return (host or None), None, forged
    open_at = value.rfind("[")
    address = value[open_at + 1 : -1]
    if address[:5].lower() == "ipv6:":
        address = address[5:]
    host = value[:open_at].strip().rstrip(".")
    if host.startswith("["):
        host = ""
    return (host or None), clean_ip(address), forged


def _fields(text: str) -> dict[str, str]:
    """`name=value, name=value` -> dict; a piece without `=` continues the previous value
    (a `to=` list written with ", "), and the first of repeated names wins."""
    out: dict[str, str] = {}
    key = ""
    for field in text.split(", "):
        name, sep, value = field.partition("=")
        if sep and name.isidentifier():
            if name not in out:
                out[name] = value
                key = name
            else:
                key = ""
        elif key:
            out[key] += ", " + field
    return out


def _sender(rest: str) -> dict[str, Any]:
    fields = _fields(rest)
    data: dict[str, Any] = {"sender": unbracket(fields["from"]) or "<>"}
    size = fields.get("size", "")
    if size.isdecimal():
        data["size"] = int(size)
    count = fields.get("nrcpts", "")
    if count.isdecimal():
        data["nrcpt"] = int(count)
    msgid = unbracket(fields.get("msgid", "").strip())
    if msgid:
        data["message_id"] = msgid
    if "relay" in fields:
        host, ip, forged = split_relay(fields["relay"])
        data["client"] = (host, ip, None, forged)
    return data


def _delivery(rest: str) -> dict[str, Any]:
    at = rest.find(", stat=")
    if at < 0:
        raise ParseError("delivery line without stat=")
    status = rest[at + 7 :].strip()
    fields = _fields(rest[:at])
    base: Source = {"status": status}
    if "relay" in fields:
        host, ip, _ = split_relay(fields["relay"])
        base["relay"] = host or ip or fields["relay"]
        if ip is not None:
            base["relay_ip"] = ip
    if "mailer" in fields:
        base["mailer"] = fields["mailer"]
    if "dsn" in fields:
        base["dsn"] = fields["dsn"]
    delay = seconds(fields.get("delay", ""))
    if delay is not None:
        base["delay"] = delay
    addresses = [unbracket(a.strip()) for a in fields.get("to", "").split(",")]
    addresses = [a for a in addresses if a]
    if not addresses:
        raise ParseError("delivery line without to=")
    return {"recipients": [{"address": a, **base} for a in addresses]}


def _ruleset(rest: str) -> tuple[Source, dict[str, Any]]:
    """`ruleset=check_rcpt, arg1=<x>, relay=h [ip], reject=550 5.7.1 <x>... why` ->
    (reject entry, what else it tells: client, sender or recipient)."""
    at = rest.find(", reject=")
    if at < 0:
        raise ParseError("ruleset line without reject=")
    fields = _fields(rest[:at])
    response = rest[at + 9 :]
    entry: Source = {"action": "reject", "command": fields.get("ruleset", "")}
    code, dsn, reason = _response(response)
    if code is not None:
        entry["code"] = code
    if dsn is not None:
        entry["dsn"] = dsn
    entry["reason"] = reason
    data: dict[str, Any] = {}
    arg = unbracket(fields.get("arg1", ""))
    if entry["command"] == "check_rcpt" and arg:
        entry["address"] = arg
        data["to"] = [arg]
    elif entry["command"] == "check_mail" and arg:
        data["sender"] = arg
    if "relay" in fields:
        host, ip, forged = split_relay(fields["relay"])
        data["client"] = (host, ip, None, forged)
    return entry, data


def _response(text: str) -> tuple[int | None, str | None, str]:
    """`550 5.7.1 <x>... Relaying denied` -> (550, "5.7.1", "Relaying denied")."""
    code = int(text[:3]) if text[:3].isdecimal() and text[3:4] in (" ", "") else None
    if code is not None:
        text = text[4:]
    word, _, rest = text.partition(" ")
    dsn = None
    if word.count(".") == 2 and word.replace(".", "").isdecimal():
        dsn, text = word, rest
    if text[:1] == "<":
        end = text.find(">... ")
        if end > 0:
            text = text[end + 5 :]
    return code, dsn, text.strip()


def _transaction(qid: str, rest: str) -> MailLine:
    if rest.startswith("to="):
        return TX, qid, _delivery(rest)
    if rest.startswith("from="):
        return TX, qid, _sender(rest)
    if rest.startswith("ruleset="):
        entry, data = _ruleset(rest)
        data["rejects"] = [entry]
        return TX, qid, data
    if rest.startswith("AUTH="):  # AUTH=server, relay=..., authid=bob, mech=PLAIN, bits=0
        fields = _fields(rest)
        auth = {"sasl_username": fields.get("authid"), "sasl_method": fields.get("mech")}
        return TX, qid, {k: v for k, v in auth.items() if v}
    if rest[:1] == "<":  # `<rcpt>... User unknown`: a recipient refused at RCPT
        end = rest.find(">... ")
        if end > 0:
            address = rest[1:end]
            entry = {"action": "reject", "command": "RCPT", "address": address}
            entry["reason"] = rest[end + 5 :].strip()
            return TX, qid, {"rejects": [entry]}
    head, sep, tail = rest.partition(": ")
    if sep and is_sendmail_qid(head) and tail.startswith(("DSN:", "postmaster notify:")):
        return TX, qid, {"notification": head}  # `QID: NEWQID: DSN: Service unavailable`
    word = rest.split(" ", 1)[0].split("=", 1)[0].rstrip(":;,").lower()
    return SKIP, _CATEGORIES.get(word, "other"), None


_CATEGORIES = {
    "starttls": "tls",
    "tls": "tls",
    "milter": "milter",
    "auth": "auth",
    "done": "done",
    "smtp": "connection",
    "lost": "connection",
    "timeout": "connection",
    "collect": "connection",
    "syserr(root)": "syserr",
}


def _standalone_reject(rest: str) -> MailLine:
    entry, data = _ruleset(rest)
    doc: Source = {
        "event": {
            "kind": "event",
            "category": "email",
            "action": "reject",
            "outcome": "failure",
        }
    }
    if entry.get("reason"):
        doc["event"]["reason"] = entry["reason"]
    if "client" in data:
        host, ip, _, forged = data["client"]
        client = {k: v for k, v in (("ip", ip), ("domain", host)) if v is not None}
        if client:
            doc["source"] = client
        if forged:
            doc["mail"] = {"client_may_be_forged": True}
    doc.setdefault("mail", {})["rejects"] = [entry]
    if data.get("to"):
        doc["email"] = {"to": {"address": data["to"]}}
    elif data.get("sender"):
        doc["email"] = {"from": {"address": data["sender"]}}
    return STANDALONE, "", doc


def parse_sendmail_message(daemon: str, message: str) -> MailLine:
    """What one sendmail log message (after the syslog envelope) adds, as a MailLine."""
    head, sep, rest = message.partition(": ")
    if sep and is_sendmail_qid(head):
        return _transaction(head, rest)
    if message.startswith("ruleset=") and ", reject=" in message:
        return _standalone_reject(message)
    word = head.split(" ", 1)[0].split("(", 1)[0].lower()
    return SKIP, ("noqueue" if word == "noqueue" else "other"), None


class SendmailFormat(MailFormat):
    name = "sendmail"
    families = ("sendmail",)
    parsers = {"sendmail": parse_sendmail_message}


FORMAT = SendmailFormat()
