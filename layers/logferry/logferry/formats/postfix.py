"""Postfix mail logs (syslog "maillog"), reduced to one document per mail transaction.

    Dec 15 15:27:19 mx postfix/smtpd[1148]: 7EE668039: client=bob.desktop[10.10.10.10]
    Dec 15 15:27:19 mx postfix/cleanup[1150]: 7EE668039: message-id=<id@foo.com>
    Dec 15 15:27:19 mx postfix/qmgr[1002]: 7EE668039: from=<bob@foo.com>, size=1234,
        nrcpt=1 (queue active)
    Dec 15 15:27:20 mx postfix/smtp[1151]: 7EE668039: to=<alice@bar.com>,
        relay=smtp.bar.com[10.20.20.20]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0,
        status=sent (250 2.0.0 Ok: queued as 5298B228B8B)
    Dec 15 15:27:20 mx postfix/qmgr[1002]: 7EE668039: removed

A line with a queue id (short hex, or a long id with its `z` separator) belongs to that
transaction; `NOQUEUE: reject|milter-reject|discard: ...` is a document of its own (a
rejection before a queue id existed); anything else (connect/disconnect, TLS, anvil
statistics, postscreen, warnings) is understood, counted by category and not indexed.
The program tag decides the daemon (its last path segment: `postfix/submission/smtpd`).
Delivery-line fields are separated by ", "; the status text runs to the end of the line.
NOQUEUE lines carry space-separated `from=<> to=<> proto= helo=<>` (postscreen: ", ").
"""

from __future__ import annotations

from typing import Any

from ..mail.reducer import SKIP, STANDALONE, TX, MailLine
from ..mail.transactions import clean_ip
from ..model import ParseError, Source
from .mailbase import MailFormat, unbracket

_HEX = "0123456789ABCDEF"
_NOTIFICATION = " notification: "
_REJECTS = frozenset({"reject", "milter-reject", "discard"})
# QID-carrying lines that name the envelope in a `; from=<> to=<> ...` tail.
_TAIL_ACTIONS = frozenset(
    {"reject", "milter-reject", "discard", "warning", "info", "hold", "redirect", "filter",
     "prepend", "replace", "milter-header-redirect", "milter-hold", "milter-discard"}
)  # fmt: skip


def is_postfix_qid(value: str) -> bool:
    """Short ids are uppercase hex (microseconds + inode number: 6 to 20 digits); long ids
    have a `z` after their 10 time characters."""
    n = len(value)
    if 6 <= n <= 20 and not value.strip(_HEX):
        return True
    return 12 <= n <= 20 and value[10] == "z" and value.isascii() and value.isalnum()


def split_client(value: str) -> tuple[str | None, str | None, int | None]:
    """`host[ip]`, `host[ip]:port`, `[ip]:port` -> (domain, ip, port); `unknown` = no domain."""
    open_at = value.find("[")
    if open_at < 0:
        return (value or None), None, None
    close_at = value.find("]", open_at)
    if close_at < 0:
        return value[:open_at] or None, None, None
    domain = value[:open_at]
    ip = clean_ip(value[open_at + 1 : close_at])
    rest = value[close_at + 1 :]
    port = int(rest[1:]) if rest[:1] == ":" and rest[1:].isdecimal() else None
    if domain in ("", "unknown"):
        domain = ""
    return domain or None, ip, port


def smtp_response(text: str) -> tuple[int | None, str | None, str]:
    """`554 5.7.1 <x>: Relay access denied` -> (554, "5.7.1", "Relay access denied")."""
    code = None
    if text[:3].isdecimal() and text[3:4] in (" ", "-", ""):
        code = int(text[:3])
        text = text[4:]
    dsn = None
    word, _, rest = text.partition(" ")
    if word.count(".") == 2 and word.replace(".", "").isdecimal():
        dsn, text = word, rest
    if text[:1] == "<":
        end = text.find(">: ")
        if end > 0:
            text = text[end + 3 :]
    elif text[:2] == ": ":
        text = text[2:]
    return code, dsn, text.strip()


def envelope_tail(tail: str) -> dict[str, str]:
    """`from=<a> to=<b> proto=ESMTP helo=<h>` (postscreen: ", "-separated) -> values."""
    values: dict[str, str] = {}
    for token in tail.split(" "):
        key, sep, value = token.partition("=")
        if sep and key in ("from", "to", "proto", "helo"):
            values[key] = unbracket(value.rstrip(",").rstrip(":"))
    return values


def _split_tail(text: str) -> tuple[str, str]:
    """Cut `...; from=<a> to=<b> proto=P helo=<h>` into (text, tail)."""
    for marker in ("; from=", "; to=", "; proto="):
        at = text.rfind(marker)
        if at >= 0:
            return text[:at], text[at + 2 :]
    return text, ""


def _smtpd_action(action: str, body: str) -> tuple[Source, dict[str, str]]:
    """`RCPT from host[ip]: 554 5.7.1 <x>: why; from=<a> to=<b> ...` -> (reject entry,
    envelope values including the client)."""
    main, tail = _split_tail(body)
    envelope = envelope_tail(tail)
    entry: Source = {"action": action}
    command, sep, rest = main.partition(" from ")
    if sep and " " not in command:
        entry["command"] = command
        client, _, response = rest.partition(": ")
        envelope["client"] = client
    else:  # header/body checks: `header Subject: x from host[ip]; ...>: 5.7.1 why`
        response = ""
        helo_at = tail.find("helo=")
        end = tail.find(": ", helo_at) if helo_at >= 0 else -1
        if end >= 0:
            response = tail[end + 2 :]
        entry["command"] = command.split(" ", 1)[0]
    code, dsn, reason = smtp_response(response)
    if code is not None:
        entry["code"] = code
    if dsn is not None:
        entry["dsn"] = dsn
    if reason:
        entry["reason"] = reason
    if envelope.get("to"):
        entry["address"] = envelope["to"]
    return entry, envelope


def _client_tuple(value: str) -> tuple[str | None, str | None, int | None, bool]:
    domain, ip, port = split_client(value)
    return domain, ip, port, False


def _delivery(rest: str) -> dict[str, Any]:
    """`to=<a>, orig_to=<b>, relay=R, delay=D, delays=..., dsn=X, status=word (text)`."""
    at = rest.find(", status=")
    if at < 0:
        raise ParseError("delivery line without status=")
    word, _, text = rest[at + 9 :].partition(" ")
    entry: Source = {}
    for field in rest[:at].split(", "):
        key, _, value = field.partition("=")
        if key == "to":
            entry["address"] = unbracket(value)
        elif key == "relay":
            name, ip, port = split_client(value)
            entry["relay"] = name if name is not None else value
            if ip is not None:
                entry["relay_ip"] = ip
            if port is not None:
                entry["relay_port"] = port
        elif key == "orig_to":
            entry["orig_to"] = unbracket(value)
        elif key == "delay" and value.replace(".", "", 1).isdecimal():
            entry["delay"] = float(value)
        elif key in ("dsn", "delays"):
            entry[key] = value
    if "address" not in entry:
        raise ParseError("delivery line without to=")
    entry["status"] = word
    if text:
        if text[0] == "(" and text[-1] == ")":
            text = text[1:-1]
        entry["response"] = text
    return {"recipients": [entry]}


def _sender(rest: str) -> dict[str, Any]:
    """`from=<a>, size=N, nrcpt=N (queue active)` or `from=<a>, status=expired, ...`."""
    data: dict[str, Any] = {}
    for field in rest.split(", "):
        key, _, value = field.partition("=")
        if key == "from":
            data["sender"] = unbracket(value) or "<>"
        elif key == "size" and value.isdecimal():
            data["size"] = int(value)
        elif key == "nrcpt":
            count = value.split(" ", 1)[0]
            if count.isdecimal():
                data["nrcpt"] = int(count)
        elif key == "status" and value.endswith("expired"):
            data["expired"] = True
    return data


def _transaction(qid: str, rest: str) -> MailLine:
    head = rest[:8]
    if head.startswith("to="):
        return TX, qid, _delivery(rest)
    if head.startswith("client="):
        fields = rest.split(", ")
        data: dict[str, Any] = {"client": _client_tuple(fields[0][7:])}
        for field in fields[1:]:
            key, _, value = field.partition("=")
            if key in ("sasl_username", "sasl_method") and value:
                data[key] = value
        return TX, qid, data
    if head.startswith("from="):
        return TX, qid, _sender(rest)
    if rest.startswith("message-id="):
        msgid = unbracket(rest[11:].strip())
        return TX, qid, ({"message_id": msgid} if msgid else None)
    if rest == "removed":
        return TX, qid, {"removed": True}
    if head.startswith("uid="):  # pickup: `uid=0 from=<root>`
        _, _, sender = rest.partition(" from=")
        return TX, qid, ({"sender": unbracket(sender) or "<>"} if sender else None)
    action, sep, body = rest.partition(": ")
    if sep and action in _TAIL_ACTIONS:
        entry, envelope = _smtpd_action(action, body)
        data = {}
        if action in _REJECTS:
            data["rejects"] = [entry]
        if "client" in envelope:
            data["client"] = _client_tuple(envelope["client"])
        else:  # `... from host[ip]; from=<> ...`: the client ends the text before the tail
            main = body.rpartition("; from=")[0] or body
            client = main.rpartition(" from ")[2]
            if client.endswith("]"):
                data["client"] = _client_tuple(client)
        if envelope.get("from") is not None:
            data["sender"] = envelope["from"] or "<>"
        if envelope.get("to"):
            data["to"] = [envelope["to"]]
        if envelope.get("helo"):
            data["helo"] = envelope["helo"]
        return TX, qid, data
    notice_at = rest.find(_NOTIFICATION)
    if notice_at > 0:
        return TX, qid, {"notification": rest[notice_at + len(_NOTIFICATION) :].strip()}
    # `host mx[ip] said: ...`, `lost connection with ...`, `conversation with ...`: part of
    # the transaction (its time), nothing more.
    return TX, qid, None


def _noqueue(rest: str) -> MailLine:
    action, sep, body = rest.partition(": ")
    if not sep or action not in _REJECTS:
        return SKIP, f"noqueue-{action.split(' ', 1)[0][:20] or 'other'}", None
    entry, envelope = _smtpd_action(action, body)
    doc: Source = {
        "event": {
            "kind": "event",
            "category": "email",
            "action": action,
            "outcome": "failure",
        }
    }
    if "reason" in entry:
        doc["event"]["reason"] = entry["reason"]
    domain, ip, port = split_client(envelope.get("client", ""))
    client: Source = {}
    if ip is not None:
        client["ip"] = ip
    if domain is not None:
        client["domain"] = domain
    if port is not None:
        client["port"] = port
    if client:
        doc["source"] = client
    email: Source = {}
    if "from" in envelope:
        email["from"] = {"address": envelope["from"] or "<>"}
    if envelope.get("to"):
        email["to"] = {"address": [envelope["to"]]}
    if email:
        doc["email"] = email
    mail: Source = {"rejects": [entry]}
    if envelope.get("helo"):
        mail["helo"] = envelope["helo"]
    doc["mail"] = mail
    return STANDALONE, "", doc


def _skip_category(message: str) -> str:
    first = message.split(" ", 1)[0].rstrip(":")
    if first.isupper():  # postscreen: CONNECT, PASS NEW, PREGREET, DNSBL, HANGUP, ...
        return "postscreen"
    word = first.lower()
    if word in ("connect", "disconnect", "lost", "timeout", "too", "improper", "statistics"):
        return word
    if word in ("warning", "fatal", "panic", "error"):
        return word
    if word in ("anonymous", "trusted", "untrusted", "verified", "setting"):
        return "tls"
    return "other"


def parse_postfix_message(daemon: str, message: str) -> MailLine:
    """What one postfix log message (after the syslog envelope) adds, as a MailLine."""
    head, sep, rest = message.partition(": ")
    if sep and is_postfix_qid(head):
        return _transaction(head, rest)
    if head == "NOQUEUE" and sep:
        return _noqueue(rest)
    return SKIP, _skip_category(message), None


class PostfixFormat(MailFormat):
    name = "postfix"
    families = ("postfix",)
    parsers = {"postfix": parse_postfix_message}


FORMAT = PostfixFormat()
