//! vpcflow records written straight to JSON (see lib.rs). The reference is
//! layers/logferry/logferry/formats/vpcflow.py (`_Parser.record`, `_build`, `Layout`) with
//! logferry.enrich.cloud's fill (`CloudFacts(account, region)`, no Organizations).
//!
//! Invariant: a line this writer takes gives exactly the document the Python parser (and the
//! fill) gives; every other line is declined (None) and left to Python, which decides whether
//! it is a document or a rejection. So a value is taken only in the one shape whose Python
//! reading is certain (`[0-9]+` for numbers, not whatever `int()` also accepts), and every
//! condition under which Python raises ParseError is a decline here. JSON records (`{...}`)
//! and lines that are not printable ASCII are always declined.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::cpu;
use crate::geo::Geo;
use crate::json;
use crate::rules::{self, Before, Marks, Ruled, Rules};

mod before;
mod epoch;
mod layout;

use epoch::{epoch, Times};
use layout::{transport, Layout};

/// The fields whose values this writer marks as it writes them (crate::rules::marks) and
/// knows before writing (crate::rules::Known), and their places in the list.
const MARKED: [&str; 7] = [
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "network.transport",
    "aws.vpcflow.action",
    "aws.vpcflow.log_status",
];
const SOURCE_IP: usize = 0;
const SOURCE_PORT: usize = 1;
const DESTINATION_IP: usize = 2;
const DESTINATION_PORT: usize = 3;
const TRANSPORT: usize = 4;
const ACTION: usize = 5;
const LOG_STATUS: usize = 6;

/// Python's DEFAULT_HEADER: the layout until a header line says otherwise.
const DEFAULT_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport \
                              protocol packets bytes start end action log-status";

/// The value of `[0-9]{1,max}` (max <= 18, so it fits an i64), else None: the one shape whose
/// Python `int()` is certain (no sign, underscore, whitespace or non-ASCII digit).
pub(super) fn digits(value: &str, max: usize) -> Option<u64> {
    if value.is_empty() || value.len() > max {
        return None;
    }
    value.bytes().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// A field read by `read` where present: `Some(None)` for an absent one, None for one that
/// does not read (Python rejects the record).
fn present<T>(value: Option<&str>, read: impl FnOnce(&str) -> Option<T>) -> Option<Option<T>> {
    match value {
        None => Some(None),
        Some(value) => read(value).map(Some),
    }
}

/// A port: `int(value)` in 0..=65535 (leading zeros are fine: `00443` is 443).
fn port(value: &str) -> Option<u64> {
    digits(value, 18).filter(|&port| port <= 65535)
}

/// Python's IP shape check: only address characters, and a `.` or a `:` among them.
fn ip_shaped(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        && value.bytes().any(|b| b == b'.' || b == b':')
}

/// A comma before an object's member unless it is the first (`start`: just after its `{`).
fn comma(buf: &mut Vec<u8>, start: usize) {
    if buf.len() > start {
        buf.push(b',');
    }
}

/// `value` as a JSON string; a printable ASCII value needs escaping only for `"` and `\`.
fn quoted(buf: &mut Vec<u8>, value: &str) {
    if value
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b))
    {
        json::string(buf, value);
    } else {
        buf.push(b'"');
        buf.extend_from_slice(value.as_bytes());
        buf.push(b'"');
    }
}

/// `"key":"value"` (value escaped) as a member of the object opened at `start`.
fn text(buf: &mut Vec<u8>, start: usize, key: &[u8], value: &str) {
    comma(buf, start);
    buf.extend_from_slice(key);
    quoted(buf, value);
}

/// `"key":n` as a member of the object opened at `start`.
fn number(buf: &mut Vec<u8>, start: usize, key: &[u8], value: u64) {
    comma(buf, start);
    buf.extend_from_slice(key);
    int(buf, value);
}

fn int(buf: &mut Vec<u8>, value: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// `"key":` as a member of the object opened at `start`, the value to come marked as the
/// writer's field `field` (crate::rules::marks).
fn marked(buf: &mut Vec<u8>, start: usize, key: &[u8], marks: &mut Marks, field: usize) {
    comma(buf, start);
    buf.extend_from_slice(key);
    marks.set(field, buf.len());
}

#[pyclass(module = "logferry.formats._lines")]
pub struct VpcFlow {
    layout: Layout,
    times: Times,
    /// The document being written (reused: one allocation per object, not per line).
    buf: Vec<u8>,
    /// The fields of the line being read (reused the same way; empty between calls).
    spans: Vec<(usize, usize)>,
    /// The fill of a document without a `cloud` of its own, as JSON: `"cloud":{...}`.
    cloud: Vec<u8>,
    /// The object's region as a JSON string, for a record's cloud without one.
    region: Option<Vec<u8>>,
    /// With GeoIP on (logferry.enrich.geoip): the endpoints' `geo` and `as` (crate::geo).
    geo: Option<Geo>,
    /// Drop and sample rules (crate::rules: decided before writing or on the document
    /// written), where its top-level members' keys start, and where its marked fields'
    /// values start.
    rules: Option<Ruled>,
    roots: Vec<usize>,
    marks: Marks,
}

#[pymethods]
impl VpcFlow {
    /// The object's cloud facts (logferry.enrich.cloud.CloudFacts without Organizations).
    #[new]
    /// `geoip`: the (City, ASN) database paths of GeoIP's fill, either None; `geoip_members`:
    /// its lookup for the addresses left to Python (crate::geo).
    #[pyo3(signature = (account=None, region=None, *, geoip=None, geoip_members=None, rules=None))]
    fn new(
        account: Option<String>,
        region: Option<String>,
        geoip: Option<(Option<String>, Option<String>)>,
        geoip_members: Option<Py<PyAny>>,
        rules: Option<Py<Rules>>,
    ) -> Self {
        let mut cloud = b"\"cloud\":{\"provider\":\"aws\"".to_vec();
        if let Some(account) = &account {
            cloud.extend_from_slice(b",\"account\":{\"id\":");
            json::string(&mut cloud, account);
            cloud.push(b'}');
        }
        let region = region.map(|region| {
            let mut out = Vec::new();
            json::string(&mut out, &region);
            out
        });
        if let Some(region) = &region {
            cloud.extend_from_slice(b",\"region\":");
            cloud.extend_from_slice(region);
        }
        cloud.push(b'}');
        VpcFlow {
            layout: Layout::of(DEFAULT_HEADER.split(' ')),
            times: Times::new(),
            buf: Vec::with_capacity(1024),
            spans: Vec::with_capacity(32),
            cloud,
            region,
            geo: geoip.map(|(city, asn)| Geo::new(city.as_deref(), asn.as_deref(), geoip_members)),
            rules: Ruled::new(rules, &MARKED),
            roots: Vec::with_capacity(8),
            marks: Marks::new(),
        }
    }

    /// A header line's names (as Python's `line.split()`): the layout of the records after it.
    fn header(&mut self, names: Vec<String>) {
        self.layout = Layout::of(names.iter().map(String::as_str));
    }

    /// Where the last document's top-level members' keys start (crate::rules; for the tests).
    #[getter]
    fn roots(&self) -> Vec<usize> {
        self.roots.clone()
    }

    /// Each field this writer marks, with where its value starts in the last document
    /// (crate::rules::marks; for the tests).
    #[getter]
    fn marks(&self) -> Vec<(&'static str, Option<usize>)> {
        self.marks.named(&MARKED)
    }

    /// `(@timestamp, document JSON, verdict)` of a record, or None: the Python parser's to read.
    fn line<'py>(
        &mut self,
        py: Python<'py>,
        line: &str,
    ) -> Option<(Bound<'py, PyString>, Bound<'py, PyBytes>, u32)> {
        cpu::clear_upper_vector_state();
        // The spans' Vec is lent to `write` (a local there: its length stays in a register).
        let mut spans = std::mem::take(&mut self.spans);
        let taken = self.write(line, &mut spans);
        spans.clear();
        self.spans = spans;
        let (timestamp, before) = taken?;
        let timestamp = std::str::from_utf8(&timestamp).ok()?;
        let (verdict, body) =
            rules::judge(&self.rules, before, &self.buf, &self.roots, &self.marks);
        Some((
            PyString::new(py, timestamp),
            PyBytes::new(py, body),
            verdict,
        ))
    }
}

impl VpcFlow {
    /// Writes the document of `line` into `self.buf` (`spans`: empty, for the fields' places in
    /// `line`) and returns its @timestamp and what the drop rules decided before it was
    /// written (nothing written for a drop), or None (the buffer then holds nothing of use)
    /// for a line left to Python.
    fn write(&mut self, line: &str, spans: &mut Vec<(usize, usize)>) -> Option<([u8; 20], Before)> {
        // JSON records (an envelope, or field names as keys) are Python's.
        if line.starts_with('{') {
            return None;
        }
        let VpcFlow {
            layout: lay,
            times,
            buf,
            cloud,
            region,
            geo,
            rules,
            roots,
            marks,
            ..
        } = self;
        // The fields, split on runs of spaces. Only printable ASCII is taken (json::plain_ascii,
        // here as a fold the compiler vectorises): then this is Python's `split()`, which also
        // splits on tabs and other whitespace, and a value needs escaping only for `"` and `\`.
        if !line
            .bytes()
            .fold(true, |plain, b| plain & (0x20..0x7f).contains(&b))
        {
            return None;
        }
        let mut at = 0;
        for field in line.as_bytes().split(|&b| b == b' ') {
            if !field.is_empty() {
                spans.push((at, at + field.len()));
            }
            at += field.len() + 1;
        }
        let n = spans.len();
        // Fewer fields than the header names (a blank line too): Python rejects the record.
        // A layout with clashing keys: every record is Python's (see `Layout::clashes`).
        if n == 0 || n < lay.width || lay.clashes {
            return None;
        }
        // Field `i`, None for the null marker `-` or a field the header does not have.
        let get = |i: Option<usize>| -> Option<&str> {
            let (from, to) = *spans.get(i?)?;
            line.get(from..to)
                .filter(|value| !matches!(value.as_bytes(), b"-"))
        };

        // A record needs a time: start, else end (each as Python converts it, or declined).
        let (start, end) = match (get(lay.start), get(lay.end)) {
            (Some(start), end) => {
                let start = epoch(times, start)?;
                (Some(start), present(end, |end| epoch(times, end))?)
            }
            (None, Some(end)) => (None, Some(epoch(times, end)?)),
            (None, None) => return None,
        };
        let timestamp = start.or(end)?;
        let before = rules::before(rules, |field| before::known(lay, get, field));
        if let Before::Drop = before {
            return before::taken(lay, get).then_some((timestamp, before));
        }

        buf.clear();
        // Where each top-level member's key starts (after a `{`, a `,` or a `},`).
        roots.clear();
        roots.push(1);
        marks.clear();
        buf.extend_from_slice(b"{\"@timestamp\":\"");
        buf.extend_from_slice(&timestamp);
        roots.push(buf.len() + 2);
        buf.extend_from_slice(b"\",\"event\":{\"dataset\":\"aws.vpcflow\",\"kind\":\"event\"");
        if let Some(start) = start {
            buf.extend_from_slice(b",\"start\":\"");
            buf.extend_from_slice(&start);
            buf.push(b'"');
        }
        if let Some(end) = end {
            buf.extend_from_slice(b",\"end\":\"");
            buf.extend_from_slice(&end);
            buf.push(b'"');
        }
        let action = get(lay.action);
        match action {
            Some("ACCEPT") => buf.extend_from_slice(b",\"outcome\":\"success\""),
            Some("REJECT") => buf.extend_from_slice(b",\"outcome\":\"failure\""),
            _ => {}
        }

        roots.push(buf.len() + 2);
        buf.extend_from_slice(b"},\"aws\":{\"vpcflow\":{");
        let object = buf.len();
        for (i, key) in &lay.texts {
            if let Some(value) = get(Some(*i)) {
                text(buf, object, key, value);
            }
        }
        if let Some(action) = action {
            marked(buf, object, b"\"action\":", marks, ACTION);
            quoted(buf, action);
        }
        if let Some(status) = get(lay.log_status) {
            marked(buf, object, b"\"log_status\":", marks, LOG_STATUS);
            quoted(buf, status);
        }
        for (i, key) in &lay.ints {
            if let Some(value) = get(Some(*i)) {
                number(buf, object, key, digits(value, 18)?);
            }
        }
        for (i, key) in &lay.ips {
            if let Some(value) = get(Some(*i)) {
                if !ip_shaped(value) {
                    return None;
                }
                text(buf, object, key, value);
            }
        }
        if n > lay.width {
            // Fields beyond the header's, joined by single spaces.
            let tail: Vec<&str> = spans
                .iter()
                .skip(lay.width)
                .filter_map(|&(from, to)| line.get(from..to))
                .collect();
            text(buf, object, b"\"unparsed_tail\":", &tail.join(" "));
        }
        buf.extend_from_slice(b"}}");

        // The record's own account (12 digits) and region, completed as the fill does.
        let own_account = get(lay.account_id)
            .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()));
        if let Some(id) = own_account {
            roots.push(buf.len() + 1);
            buf.extend_from_slice(b",\"cloud\":{\"account\":{\"id\":\"");
            buf.extend_from_slice(id.as_bytes());
            buf.extend_from_slice(b"\"}");
            match (get(lay.region), region.as_ref()) {
                (Some(own), _) => {
                    buf.extend_from_slice(b",\"region\":");
                    json::string(buf, own);
                    buf.extend_from_slice(b",\"provider\":\"aws\"");
                }
                (None, Some(object_region)) => {
                    buf.extend_from_slice(b",\"provider\":\"aws\",\"region\":");
                    buf.extend_from_slice(object_region);
                }
                (None, None) => buf.extend_from_slice(b",\"provider\":\"aws\""),
            }
            buf.push(b'}');
        }

        for (addr, port_at, name, (ip_mark, port_mark)) in [
            (
                lay.srcaddr,
                lay.srcport,
                &b",\"source\":{"[..],
                (SOURCE_IP, SOURCE_PORT),
            ),
            (
                lay.dstaddr,
                lay.dstport,
                &b",\"destination\":{"[..],
                (DESTINATION_IP, DESTINATION_PORT),
            ),
        ] {
            let ip = get(addr);
            if ip.is_some_and(|ip| !ip_shaped(ip)) {
                return None;
            }
            let port = present(get(port_at), port)?;
            if ip.is_none() && port.is_none() {
                continue;
            }
            roots.push(buf.len() + 1);
            buf.extend_from_slice(name);
            let object = buf.len();
            if let Some(ip) = ip {
                marked(buf, object, b"\"ip\":", marks, ip_mark);
                quoted(buf, ip);
            }
            if let Some(port) = port {
                marked(buf, object, b"\"port\":", marks, port_mark);
                int(buf, port);
            }
            // GeoIP's fill appends its members after the endpoint's own (dict.update), for
            // an endpoint with an address only.
            if let (Some(geo), Some(ip)) = (geo.as_mut(), ip) {
                buf.extend_from_slice(geo.members(ip)?);
            }
            buf.push(b'}');
        }

        let protocol = get(lay.protocol);
        // An unnamed protocol keeps its number, if it is one of at most 3 digits (else Python
        // rejects the record). PROTOCOLS is looked up by the text: `06` has no name.
        let name = match protocol {
            Some(number) => {
                let value = digits(number, 3)?;
                let canonical = number.len() == 1 || !number.starts_with('0');
                if canonical {
                    transport(value)
                } else {
                    None
                }
            }
            None => None,
        };
        // Counters are LONG: more than 18 digits would not fit (Python rejects them).
        let bytes = present(get(lay.bytes), |value| digits(value, 18))?;
        let packets = present(get(lay.packets), |value| digits(value, 18))?;
        if protocol.is_some() || bytes.is_some() || packets.is_some() {
            roots.push(buf.len() + 1);
            buf.extend_from_slice(b",\"network\":{");
            let object = buf.len();
            if let Some(name) = name {
                marked(buf, object, b"\"transport\":", marks, TRANSPORT);
                quoted(buf, name);
            }
            if let Some(number) = protocol {
                text(buf, object, b"\"iana_number\":", number);
            }
            if let Some(bytes) = bytes {
                number(buf, object, b"\"bytes\":", bytes);
            }
            if let Some(packets) = packets {
                number(buf, object, b"\"packets\":", packets);
            }
            buf.push(b'}');
        }

        if own_account.is_none() {
            buf.push(b',');
            roots.push(buf.len());
            buf.extend_from_slice(cloud);
        }
        buf.push(b'}');
        Some((timestamp, before))
    }
}
