//! alb records written straight to JSON (see lib.rs). The reference is
//! layers/logferry/logferry/formats/alb.py (with what it imports from elb.py and base.py),
//! followed by logferry.enrich.cloud's fill.
//!
//! Invariant: a line this writer takes gives exactly the document the Python parser gives (after
//! the fill); every other line is declined (None) and left to Python, which decides whether it
//! is a document or a rejection, and why. So the writer only takes what it replicates in full:
//! printable ASCII lines without a backslash (Python unescapes `\"` there), balanced quotes,
//! 20 to `MAX_FIELDS` fields, numbers in the plain shapes whose Python value and JSON text are
//! certain, a node IP that is IPv4 or absent. Anything else is declined, never guessed; in
//! particular no line Python rejects is ever taken (every check that raises in Python declines
//! here). No input can make it panic: fields are sub-slices taken with `get`, never indexed.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::cpu;
use crate::geo::Geo;
use crate::json::{self, Json};
use crate::rules::{self, Rules};
use crate::time;

/// The widest layout known (2026); shorter lines read as if padded with null markers.
const WIDTH: usize = 36;
/// AWS's 2016 examples end at chosen_cert_arn: Python rejects shorter lines.
const MIN_FIELDS: usize = 20;
/// Lines with more fields than this (unknown trailing fields beyond a handful) are declined.
const MAX_FIELDS: usize = 48;
/// The node IP's position (2026 on); what follows it is the tail.
const NODE_IP: usize = 33;
// The node IP and the two unnamed fields after it close the widest layout, which fits in `t`.
const _: () = assert!(NODE_IP + 3 == WIDTH && WIDTH <= MAX_FIELDS);

#[pyclass(module = "logferry.formats._lines")]
pub struct Alb {
    /// `"cloud":{...}` as the fill adds it: an ALB document never has a cloud of its own.
    cloud: Vec<u8>,
    /// The output document, reused from line to line.
    out: Json,
    /// With user agents on (logferry.enrich.useragent): what the fill adds to each agent
    /// string's `user_agent`, as JSON members (`,"name":...`), taught by Python (`agent`). A
    /// line of an agent not taught yet is declined: Python fills it, then teaches it.
    agents: Option<foldhash::HashMap<String, Vec<u8>>>,
    /// With GeoIP on (logferry.enrich.geoip): the endpoints' `geo` and `as` (crate::geo).
    geo: Option<Geo>,
    /// Drop and sample rules, decided on each document written (crate::rules).
    rules: Option<Py<Rules>>,
}

/// Agent strings remembered at most (logferry.enrich.useragent.CACHE_SIZE): then forgotten.
const MAX_AGENTS: usize = 16384;

#[pymethods]
impl Alb {
    /// The object's cloud facts (logferry.enrich.cloud.CloudFacts without Organizations).
    /// `geoip`: the (City, ASN) database paths of GeoIP's fill, either None; `geoip_members`:
    /// its lookup for the addresses left to Python (crate::geo).
    #[new]
    #[pyo3(signature = (account=None, region=None, agents=false, *, geoip=None, geoip_members=None, rules=None))]
    fn new(
        account: Option<String>,
        region: Option<String>,
        agents: bool,
        geoip: Option<(Option<String>, Option<String>)>,
        geoip_members: Option<Py<PyAny>>,
        rules: Option<Py<Rules>>,
    ) -> Self {
        let mut cloud = b"\"cloud\":".to_vec();
        cloud.extend(json::cloud_object(account.as_deref(), region.as_deref()));
        Alb {
            cloud,
            out: Json::new(),
            agents: agents.then(Default::default),
            geo: geoip.map(|(city, asn)| Geo::new(city.as_deref(), asn.as_deref(), geoip_members)),
            rules,
        }
    }

    /// What the user agent fill adds for `original`: JSON members, each after a comma.
    fn agent(&mut self, original: String, members: Vec<u8>) {
        if let Some(agents) = &mut self.agents {
            if agents.len() >= MAX_AGENTS {
                agents.clear();
            }
            agents.insert(original, members);
        }
    }

    /// Where the last document's top-level members' keys start (crate::rules; for the tests).
    #[getter]
    fn roots(&self) -> Vec<usize> {
        self.out.roots.clone()
    }

    /// `(@timestamp, document JSON, verdict)` of a record, or None: the Python parser's to read.
    fn line<'py>(
        &mut self,
        py: Python<'py>,
        line: &str,
    ) -> Option<(Bound<'py, PyString>, Bound<'py, PyBytes>, u32)> {
        cpu::clear_upper_vector_state();
        let time = self.write(line)?;
        let (verdict, body) = rules::judge(&self.rules, &self.out.buf, &self.out.roots);
        Some((PyString::new(py, time), PyBytes::new(py, body), verdict))
    }
}

impl Alb {
    /// The document of `line` into `self.out`, returning its @timestamp; None to decline.
    fn write<'a>(&mut self, line: &'a str) -> Option<&'a str> {
        let mut t = ["-"; MAX_FIELDS];
        let n = tokenize(line, &mut t)?;
        if n < MIN_FIELDS {
            return None; // Python rejects it
        }
        // Fields a shorter line lacks are the null marker ("-", as `t` starts out).
        let [kind, time, name, client, target, request_time, target_time, response_time, status, target_status, received, sent, request, agent, cipher, protocol, group, trace, domain, cert, priority, created, actions, redirect, error, target_ports, target_statuses, classification, classification_reason, conn_trace, transformed_host, transformed_uri, transform_status, node_ip, ..] =
            t;

        // Every check whose failure Python raises on comes first: nothing is written for a
        // line that is then declined.
        if !is_iso_utc(time) {
            return None;
        }
        let (client_ip, client_port) = host_port(client)?;
        let destination = if !dash(target) {
            Some(host_port(target)?)
        } else {
            None
        };
        let request_time = seconds(request_time)?;
        let target_time = seconds(target_time)?;
        let response_time = seconds(response_time)?;
        let target_status = integer(target_status)?;
        let received = integer(received)?;
        let sent = integer(sent)?;
        let status = integer(status)?;
        let priority = integer(priority)?;
        if !dash(created) && !is_iso_utc(created) {
            return None;
        }
        // The node IP: an IPv4 address is one, as Python's ipaddress reads it; a value with
        // a colon might be IPv6, whose reading by ipaddress is not replicated here.
        let node = !dash(node_ip) && is_ipv4(node_ip);
        if node_ip.contains(':') {
            return None;
        }
        let tail_start = if node { NODE_IP + 1 } else { NODE_IP };
        let tail = t.get(tail_start..n.max(tail_start)).unwrap_or_default();
        let tail = if tail.iter().all(|f| dash(f)) {
            &[][..]
        } else {
            tail
        };

        let req = Request::read(request);
        let version = if !dash(protocol) {
            tls_version(protocol)
        } else {
            None
        };

        let out = &mut self.out;
        out.clear();
        out.begin();
        text(out, "@timestamp", time);
        // The fixed members in one piece (the document has a member now: commas go first).
        out.roots.push(out.buf.len() + 1);
        out.buf
            .extend_from_slice(b",\"event\":{\"dataset\":\"aws.alb\",\"kind\":\"event\"}");
        out.open("source");
        text(out, "ip", client_ip);
        out.int("port", client_port);
        // GeoIP's fill appends its members after the endpoint's own (dict.update).
        if let Some(geo) = &mut self.geo {
            out.buf.extend_from_slice(geo.members(client_ip)?);
        }
        out.close();
        if status.is_some() || req.method.is_some() || req.version.is_some() {
            out.open("http");
            if let Some(status) = status {
                out.open("response");
                out.int("status_code", status);
                out.close();
            }
            if let Some(method) = req.method {
                out.open("request");
                text(out, "method", method);
                out.close();
            }
            if let Some(version) = req.version {
                text(out, "version", version);
            }
            out.close();
        }

        // aws.elb; taken back out when every field was a null marker (Python deletes it).
        let before_aws = out.buf.len();
        out.open("aws");
        out.open("elb");
        let empty_elb = out.buf.len();
        if !dash(kind) {
            text(out, "type", kind);
        }
        if !dash(name) {
            text(out, "name", name);
        }
        if let Some(value) = request_time {
            float(out, "request_processing_time_s", value);
        }
        if let Some(value) = target_time {
            float(out, "target_processing_time_s", value);
        }
        if let Some(value) = response_time {
            float(out, "response_processing_time_s", value);
        }
        if let Some(value) = target_status {
            out.int("target_status_code", value);
        }
        if let Some(value) = received {
            out.int("received_bytes", value);
        }
        if let Some(value) = sent {
            out.int("sent_bytes", value);
        }
        if !dash(protocol) && version.is_none() {
            text(out, "ssl_protocol", protocol);
        }
        if !dash(group) {
            text(out, "target_group_arn", group);
        }
        if !dash(domain) {
            text(out, "domain_name", domain);
        }
        if !dash(cert) {
            text(out, "chosen_cert_arn", cert);
        }
        if let Some(value) = priority {
            out.int("matched_rule_priority", value);
        }
        if !dash(created) {
            text(out, "request_creation_time", created);
        }
        if !dash(actions) {
            list(out, "actions_executed", actions.split(','));
        }
        if !dash(redirect) {
            text(out, "redirect_url", redirect);
        }
        if !dash(error) {
            text(out, "error_reason", error);
        }
        if !dash(target_ports) {
            list(out, "target_port_list", words(target_ports));
        }
        if !dash(target_statuses) {
            list(out, "target_status_code_list", words(target_statuses));
        }
        for (key, value) in [
            ("classification", classification),
            ("classification_reason", classification_reason),
            ("conn_trace_id", conn_trace),
            ("transformed_host", transformed_host),
            ("transformed_uri", transformed_uri),
            ("request_transform_status", transform_status),
        ] {
            if !dash(value) {
                text(out, key, value);
            }
        }
        if node {
            text(out, "node_ip", node_ip);
        }
        if !tail.is_empty() {
            list(out, "unparsed_tail", tail.iter().copied());
        }
        let elb_empty = out.buf.len() == empty_elb;
        out.close();
        out.close();
        if elb_empty {
            // The document object already has members, so its comma state is unchanged.
            out.buf.truncate(before_aws);
        }

        if let Some((ip, port)) = destination {
            out.open("destination");
            text(out, "ip", ip);
            out.int("port", port);
            if let Some(geo) = &mut self.geo {
                out.buf.extend_from_slice(geo.members(ip)?);
            }
            out.close();
        }
        if let Some(url) = req.url {
            url_into(out, url);
        }
        if !dash(agent) {
            out.open("user_agent");
            text(out, "original", agent);
            if let Some(agents) = &self.agents {
                out.buf.extend_from_slice(agents.get(agent)?);
            }
            out.close();
        }
        if !dash(trace) {
            out.open("trace");
            text(out, "id", trace);
            out.close();
        }
        if !dash(cipher) || version.is_some() || !dash(domain) {
            out.open("tls");
            if !dash(cipher) {
                text(out, "cipher", cipher);
            }
            if let Some((name, number)) = version {
                text(out, "version_protocol", name);
                out.raw("version", &number);
            }
            if !dash(domain) {
                out.open("client");
                text(out, "server_name", domain);
                out.close();
            }
            out.close();
        }
        out.buf.push(b',');
        out.roots.push(out.buf.len());
        out.buf.extend_from_slice(&self.cloud);
        out.close();
        Some(time)
    }
}

/// elb.tokenize's fields of a line into `t`, and their count; None to decline: a line that is
/// not printable ASCII (tabs, other whitespace Python's split() knows, UTF-8), has a backslash
/// (Python's tokenizer then resolves `\"` escapes), an unclosed quote (read by regex to the end
/// of the line), or more fields than `t` holds. A quoted field is kept whole, spaces included;
/// bare fields are separated by spaces, and a quote ends one too (the AWS docs' `"-"1` is two
/// fields). Every field is thus free of `"`, `\` and control characters, and is written to
/// JSON as it is (see `text`).
fn tokenize<'a>(line: &'a str, t: &mut [&'a str; MAX_FIELDS]) -> Option<usize> {
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
fn dash(field: &str) -> bool {
    matches!(field.as_bytes(), [b'-'])
}

/// Python's `str.split()` on a plain ASCII text: the runs of non-spaces.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(' ').filter(|w| !w.is_empty())
}

/// `"key":"value"` for a piece of the line (or a constant): `tokenize` lets no character through
/// that JSON escapes (quotes, backslashes, control characters), so the bytes go as they are.
fn text(out: &mut Json, key: &str, value: &str) {
    out.raw(key, b"\"");
    out.buf.extend_from_slice(value.as_bytes());
    out.buf.push(b'"');
}

/// A JSON array of strings, pieces of the line (see `text`).
fn list<'a>(out: &mut Json, key: &str, items: impl Iterator<Item = &'a str>) {
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
fn is_iso_utc(value: &str) -> bool {
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
fn host_port(value: &str) -> Option<(&str, i64)> {
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
fn integer(value: &str) -> Option<Option<i64>> {
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
fn seconds(value: &str) -> Option<Option<(&str, &str)>> {
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
fn float(out: &mut Json, key: &str, (whole, fraction): (&str, &str)) {
    out.raw(key, whole.as_bytes());
    out.buf.push(b'.');
    out.buf.extend_from_slice(fraction.as_bytes());
}

/// What ipaddress.IPv4Address reads: four dot-separated decimal octets of 1 to 3 ASCII digits,
/// no leading zero, each up to 255.
fn is_ipv4(value: &str) -> bool {
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
fn tls_version(protocol: &str) -> Option<(&'static str, [u8; 5])> {
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
struct Request<'a> {
    method: Option<&'a str>,
    version: Option<&'a str>,
    url: Option<&'a str>,
}

impl<'a> Request<'a> {
    fn read(request: &'a str) -> Self {
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
fn url_into(out: &mut Json, url: &str) {
    out.open("url");
    text(out, "original", url);
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
            let domain = if host.starts_with('[') {
                host.trim_matches(|c| c == '[' || c == ']')
            } else {
                host
            };
            text(out, "domain", domain);
        }
    }
    if !path.is_empty() {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        text(out, "path", path);
        if !query.is_empty() {
            text(out, "query", query);
        }
    }
    out.close();
}
