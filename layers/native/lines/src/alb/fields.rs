//! The fields of an ALB line as elb.py reads them: the tokenizer, the null marker, numbers,
//! times, addresses, TLS versions, the logged request and its URL; and the JSON pieces made of
//! them (`text`, `list`, `float`, `url_into`).

use crate::json::Json;
use crate::time;

use super::{DOMAIN, MAX_FIELDS, PATH};

/// elb.tokenize's fields of a line into `t`, and their count; None to decline: a line that is
/// not printable ASCII (tabs, other whitespace Python's split() knows, UTF-8), has a backslash
/// (Python's tokenizer then resolves `\"` escapes), an unclosed quote (read by regex to the end
/// of the line), or more fields than `t` holds. A quoted field is kept whole, spaces included;
/// bare fields are separated by spaces, and a quote ends one too (the AWS docs' `"-"1` is two
/// fields). Every field is thus free of `"`, `\` and control characters, and is written to
/// JSON as it is (see `text`).
pub(super) fn tokenize<'a>(line: &'a str, t: &mut [&'a str; MAX_FIELDS]) -> Option<usize> {
    // A branch-free pass first (it vectorizes): the whole line is checked before splitting.
    let bytes = line.as_bytes();
    let odd = bytes.iter().fold(false, |odd, &b| {
        odd | !(0x20..0x7f).contains(&b) | (b == b'\\')
    });
    if odd {
        return None;
    }
    let mut n = 0;
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches(' ');
        let field;
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = find(quoted.as_bytes(), b'"', b'"');
            field = quoted.get(..end)?;
            rest = quoted.get(end + 1..)?; // None: an unclosed quote
        } else {
            let end = find(rest.as_bytes(), b' ', b'"');
            if end == 0 {
                break; // the end of the line
            }
            field = rest.get(..end)?;
            rest = rest.get(end..)?;
        }
        *t.get_mut(n)? = field;
        n += 1;
    }
    Some(n)
}

/// Where the first `a` or `b` is in `text` (its length if neither is there): eight bytes at a
/// time (a zero byte of `word ^ a` is a match; the lowest flagged byte is always a true one,
/// as the borrow of the subtraction only runs upwards), the remainder byte by byte.
fn find(text: &[u8], a: u8, b: u8) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let (a8, b8) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut chunks = text.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let found = zero(word ^ a8) | zero(word ^ b8);
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let tail = chunks.remainder();
    at + tail
        .iter()
        .position(|&c| c == a || c == b)
        .unwrap_or(tail.len())
}

/// Whether a field is the null marker `-` (a pattern: no call to compare strings).
pub(super) fn dash(field: &str) -> bool {
    matches!(field.as_bytes(), [b'-'])
}

/// Python's `str.split()` on a plain ASCII text: the runs of non-spaces.
pub(super) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(' ').filter(|w| !w.is_empty())
}

/// `"key":"value"` for a piece of the line (or a constant): `tokenize` lets no character through
/// that JSON escapes (quotes, backslashes, control characters), so the bytes go as they are.
pub(super) fn text(out: &mut Json, key: &str, value: &str) {
    out.raw(key, b"\"");
    out.buf.extend_from_slice(value.as_bytes());
    out.buf.push(b'"');
}

/// `text`, the value marked as the writer's field `field` (crate::rules::marks).
pub(super) fn marked_text(out: &mut Json, key: &str, value: &str, field: usize) {
    out.marked(key, field);
    out.buf.push(b'"');
    out.buf.extend_from_slice(value.as_bytes());
    out.buf.push(b'"');
}

/// A JSON array of strings, pieces of the line (see `text`).
pub(super) fn list<'a>(out: &mut Json, key: &str, items: impl Iterator<Item = &'a str>) {
    out.raw(key, b"[");
    let mut first = true;
    for item in items {
        if !first {
            out.buf.push(b',');
        }
        first = false;
        out.buf.push(b'"');
        out.buf.extend_from_slice(item.as_bytes());
        out.buf.push(b'"');
    }
    out.buf.push(b']');
}

/// elb.is_iso_utc: `YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z` in ASCII digits, a real date (year 1 on).
pub(super) fn is_iso_utc(value: &str) -> bool {
    let b = value.as_bytes();
    let (head, rest) = match (b.get(..19), b.get(19..)) {
        (Some(head), Some(rest)) => (head, rest),
        _ => return false,
    };
    // The fraction: none, or 1 to 6 digits after a dot; then the Z, last.
    let fraction_ok = match rest {
        [b'Z'] => true,
        [b'.', digits @ .., b'Z'] => {
            (1..=6).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    fraction_ok && time::utc_seconds(head)
}

/// elb.host_port (strict): split on the last colon; a host that is not the null marker, a
/// port of 1 to 5 ASCII digits up to 65535. None: Python rejects the line.
pub(super) fn host_port(value: &str) -> Option<(&str, i64)> {
    let (host, port) = value.rsplit_once(':')?;
    if host.is_empty() || dash(host) || port.is_empty() || port.len() > 5 {
        return None;
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: i64 = port.parse().ok()?;
    (number <= 65535).then_some((host, number))
}

/// An integer field: None inside for the null marker, Some(value) for `-?` and 1 to 18 ASCII
/// digits (what Python's int() reads the same, leading zeros included, well inside i64);
/// None outside (decline) for anything else (`+5`, `1_000`, spaces, huge numbers: Python's).
pub(super) fn integer(value: &str) -> Option<Option<i64>> {
    if dash(value) {
        return Some(None);
    }
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<i64>().ok().map(Some)
}

/// A processing time: None inside for the null markers `-` and `-1`, else the digits of
/// Python's float() of it as orjson writes it, `(whole, fraction)`, to be joined by a dot.
/// Taken: 1 to 9 ASCII digits, optionally a dot and 1 to 6 digits. Such a value has at most 15
/// significant digits, so the shortest repr of its float is its own digits (trailing zeros
/// dropped), and for values of 1e-4 and up (or zero) both repr and orjson write them in plain
/// decimal notation: `0.0860` -> `0.086`, `12` -> `12.0`. Smaller values (scientific
/// notation: `1e-05` in repr, `0.00001` in orjson) and other shapes (`1e3`, `.5`, `nan`,
/// `1_0`, signs) are declined.
pub(super) fn seconds(value: &str) -> Option<Option<(&str, &str)>> {
    if dash(value) || value == "-1" {
        return Some(None);
    }
    let (whole, fraction) = value.split_once('.').unwrap_or((value, "0"));
    let digits =
        |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole, 9) || !digits(fraction, 6) {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    // Below 1e-4 (nothing before the dot, four zeros after it): scientific notation.
    if whole.is_empty() && fraction.starts_with("0000") {
        return None;
    }
    let whole = if whole.is_empty() { "0" } else { whole };
    let fraction = if fraction.is_empty() { "0" } else { fraction };
    Some(Some((whole, fraction)))
}

/// A float field written from `seconds`' digits.
pub(super) fn float(out: &mut Json, key: &str, (whole, fraction): (&str, &str)) {
    out.raw(key, whole.as_bytes());
    out.buf.push(b'.');
    out.buf.extend_from_slice(fraction.as_bytes());
}

/// What ipaddress.IPv4Address reads: four dot-separated decimal octets of 1 to 3 ASCII digits,
/// no leading zero, each up to 255.
pub(super) fn is_ipv4(value: &str) -> bool {
    let mut octets = 0;
    for octet in value.split('.') {
        octets += 1;
        let ok = (1..=3).contains(&octet.len())
            && octet.bytes().all(|b| b.is_ascii_digit())
            && (octet == "0" || !octet.starts_with('0'))
            && octet.parse::<u16>().is_ok_and(|n| n <= 255);
        if !ok {
            return false;
        }
    }
    octets == 4
}

/// elb.tls_into's reading of ssl_protocol (base.TLS_VERSIONS, then base.tls_version, then
/// SSLv3): `(tls.version_protocol, tls.version as a JSON string)`, or None for a protocol kept
/// raw as aws.elb.ssl_protocol. Every entry of TLS_VERSIONS is what tls_version gives anyway.
pub(super) fn tls_version(protocol: &str) -> Option<(&'static str, [u8; 5])> {
    if protocol == "SSLv3" {
        return Some(("ssl", *b"\"3.0\""));
    }
    // "tlsv" in any case, then two decimal digits once dots are dropped ("1" alone is 1.0).
    let prefix = protocol.get(..4)?;
    if !prefix.eq_ignore_ascii_case("tlsv") {
        return None;
    }
    let mut digits = protocol.bytes().skip(4).filter(|&b| b != b'.');
    let (major, minor) = match (digits.next(), digits.next(), digits.next()) {
        (Some(b'1'), None, _) => (b'1', b'0'),
        (Some(a), Some(b), None) if a.is_ascii_digit() && b.is_ascii_digit() => (a, b),
        _ => return None,
    };
    Some(("tls", [b'"', major, b'.', minor, b'"']))
}

/// elb.request_into's reading of a logged request line: method, HTTP version and URL.
pub(super) struct Request<'a> {
    pub(super) method: Option<&'a str>,
    pub(super) version: Option<&'a str>,
    pub(super) url: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub(super) fn read(request: &'a str) -> Self {
        let stripped = request.trim_matches(' ');
        let (method, rest) = stripped.split_once(' ').unwrap_or((stripped, ""));
        let (mut url, sep, protocol) = match rest.rsplit_once(' ') {
            Some((url, protocol)) => (url, true, protocol),
            None => ("", false, rest),
        };
        let mut version = None;
        if let Some(number) = protocol.strip_prefix("HTTP/") {
            version = Some(number);
        } else if !dash(protocol) || !sep {
            url = rest;
        }
        Request {
            method: (!method.is_empty() && !dash(method)).then_some(method),
            version: version.filter(|v| !v.is_empty()),
            url: (!url.is_empty() && !dash(url)).then_some(url),
        }
    }
}

/// url.* of a logged URL (elb.request_into): original, domain, path and query, as logged.
pub(super) fn url_into(out: &mut Json, url: &str, parts: &Url) {
    out.open("url");
    text(out, "original", url);
    let &Url {
        domain,
        path,
        query,
    } = parts;
    if let Some(domain) = domain {
        marked_text(out, "domain", domain, DOMAIN);
    }
    if let Some(path) = path {
        marked_text(out, "path", path, PATH);
    }
    if let Some(query) = query {
        text(out, "query", query);
    }
    out.close();
}

/// The members of `url` after `original` that elb.py fills from a logged URL (None: not one).
pub(super) struct Url<'a> {
    pub(super) domain: Option<&'a str>,
    pub(super) path: Option<&'a str>,
    pub(super) query: Option<&'a str>,
}

impl<'a> Url<'a> {
    pub(super) fn read(url: &'a str) -> Self {
        let mut found = Url {
            domain: None,
            path: None,
            query: None,
        };
        let mut path = if url.starts_with('/') { url } else { "" };
        // "scheme://authority/path": Python's `url.find("://") + 3 > 3`, a scheme before it.
        if let Some(at) = url.find("://").filter(|&at| at > 0) {
            let after = url.get(at + 3..).unwrap_or_default();
            let authority = match after.find('/') {
                Some(slash) => {
                    path = after.get(slash..).unwrap_or_default();
                    after.get(..slash).unwrap_or_default()
                }
                None => after,
            };
            // host:port; an IPv6 host is bracketed ([2001:db8::1]:443)
            let host = match authority.rsplit_once(':') {
                Some((host, _)) if !authority.ends_with(']') => host,
                _ => authority,
            };
            if !host.is_empty() {
                found.domain = Some(if host.starts_with('[') {
                    host.trim_matches(|c| c == '[' || c == ']')
                } else {
                    host
                });
            }
        }
        if !path.is_empty() {
            let (path, query) = path.split_once('?').unwrap_or((path, ""));
            found.path = Some(path);
            found.query = (!query.is_empty()).then_some(query);
        }
        found
    }
}
