//! nlb records written straight to JSON (see lib.rs). The reference is
//! layers/logferry/logferry/formats/nlb.py (with elb.py's time check and base.py's TLS version
//! table) followed by logferry.enrich.cloud's fill.
//!
//! Invariant: a line this writer takes gives exactly the document the Python parser gives
//! (after the fill), and its `@timestamp`; every other line is declined (None) and left to the
//! Python parser, which decides whether it is a document or a rejection, and why. In
//! particular no line the Python parser rejects is ever taken. What is declined: lines that are
//! not printable ASCII, fewer than 18 fields, numbers that are not plain digit strings of at
//! most 18 digits (Python's `int()` also reads signs, underscores, surrounding blanks and big
//! numbers), times not in the canonical `YYYY-MM-DDTHH:MM:SS` shape or not a calendar date,
//! an ip:port Python refuses, a TLS protocol Python refuses, and URL escapes (`%XX`) that
//! decode to anything but ASCII (Python decodes those as UTF-8, with replacements).
//!
//! Cost: one pass over the line (a table lookup a byte), one output buffer reused, the
//! `@timestamp` string reused while the time repeats. Measured on the benchmark's lines:
//! 0.63 us a line in a loop; 1.15 us in a list comprehension keeping every 850-byte document
//! alive (where a tuple and a fresh 850-byte bytes object alone cost 0.71 us).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::cpu;
use crate::geo::Geo;
use crate::json;
use crate::rules::{self, Before, Known, Marks, Ruled, Rules};
use crate::time;

/// Fields of a 2.0 line; a 1.0 line has 18, the rest read as the null marker `-`.
const V1_FIELDS: usize = 18;
const V2_FIELDS: usize = 22;

/// Digits of the longest number taken: 18 always fits an i64 (Python's int has no limit).
const MAX_DIGITS: usize = 18;

/// The fields whose values this writer marks as it writes them (crate::rules::marks) and
/// knows before writing (crate::rules::Known), and their places in the list.
const MARKED: [&str; 6] = [
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "tls.version",
    "tls.cipher",
];
const SOURCE_IP: usize = 0;
const SOURCE_PORT: usize = 1;
const DESTINATION_IP: usize = 2;
const DESTINATION_PORT: usize = 3;
const TLS_VERSION: usize = 4;
const TLS_CIPHER: usize = 5;

#[pyclass(module = "logferry.formats._lines")]
pub struct Nlb {
    /// The fill's `cloud` object as JSON: the documents never have their own.
    cloud: Vec<u8>,
    /// The document being written (one buffer, reused line after line).
    buf: Vec<u8>,
    /// URL-decoded text (SNI, ALPN items), reused.
    scratch: String,
    /// The last time field read and its `@timestamp` string: an object's lines share a few
    /// hundred seconds, in order, so consecutive lines mostly repeat it (as Python's _TIMES).
    last_time: String,
    last_stamp: Option<Py<PyString>>,
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
impl Nlb {
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
        Nlb {
            cloud: json::cloud_object(account.as_deref(), region.as_deref()),
            buf: Vec::with_capacity(1024),
            scratch: String::new(),
            last_time: String::new(),
            last_stamp: None,
            geo: geoip.map(|(city, asn)| Geo::new(city.as_deref(), asn.as_deref(), geoip_members)),
            rules: Ruled::new(rules, &MARKED),
            roots: Vec::with_capacity(8),
            marks: Marks::new(),
        }
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
        let record = Record::read(line)?;
        let stamp = self.timestamp(py, record.time)?;
        let before = rules::before(&self.rules, |field| record.known(field));
        if let Before::Write(_) = before {
            self.write(&record)?;
        }
        let (verdict, body) =
            rules::judge(&self.rules, before, &self.buf, &self.roots, &self.marks);
        Some((stamp, PyBytes::new(py, body), verdict))
    }
}

impl Nlb {
    /// `@timestamp` of a time field (the field with a `Z`), the last one's reused.
    fn timestamp<'py>(&mut self, py: Python<'py>, time: &str) -> Option<Bound<'py, PyString>> {
        if let Some(stamp) = &self.last_stamp {
            if self.last_time == time {
                return Some(stamp.bind(py).clone());
            }
        }
        if !is_utc_seconds(time) {
            return None; // Python raises: "time: expected YYYY-MM-DDTHH:MM:SS (UTC)"
        }
        let mut text = String::with_capacity(20);
        text.push_str(time);
        text.push('Z');
        let stamp = PyString::new(py, &text);
        self.last_time.clear();
        self.last_time.push_str(time);
        self.last_stamp = Some(stamp.clone().unbind());
        Some(stamp)
    }

    /// The document of a record read by `Record::read`, into `self.buf`, in the Python
    /// parser's key order (each object's first member is always there: the commas are part
    /// of the keys after it). None for a value the Python parser would read otherwise.
    fn write(&mut self, r: &Record<'_>) -> Option<()> {
        let buf = &mut self.buf;
        buf.clear();
        // Where each top-level member's key starts (after a `{`, a `,` or a `},`).
        let roots = &mut self.roots;
        roots.clear();
        let marks = &mut self.marks;
        marks.clear();
        // The time fields were checked (`timestamp`, `Record::read`): digits and separators.
        roots.push(1);
        buf.extend_from_slice(b"{\"@timestamp\":");
        utc(buf, r.time);
        roots.push(buf.len() + 1);
        buf.extend_from_slice(b",\"event\":{\"dataset\":\"aws.nlb\",\"kind\":\"event\"}");

        // Each endpoint's key starts after its opening text's first byte or two (`,` or `},`).
        for (skip, opening, field, port, (ip_mark, port_mark)) in [
            (
                1,
                &b",\"source\":{\"ip\":"[..],
                CLIENT,
                r.client_port,
                (SOURCE_IP, SOURCE_PORT),
            ),
            (
                2,
                &b"},\"destination\":{\"ip\":"[..],
                DEST,
                r.dest_port,
                (DESTINATION_IP, DESTINATION_PORT),
            ),
        ] {
            roots.push(buf.len() + skip);
            buf.extend_from_slice(opening);
            marks.set(ip_mark, buf.len());
            r.text(buf, field);
            buf.extend_from_slice(b",\"port\":");
            marks.set(port_mark, buf.len());
            int(buf, port);
            // GeoIP's fill appends its members after the endpoint's own (dict.update).
            if let Some(geo) = &mut self.geo {
                buf.extend_from_slice(geo.members(r.f[field])?);
            }
        }

        roots.push(buf.len() + 2);
        buf.extend_from_slice(b"},\"tls\":{\"version_protocol\":\"tls\"");
        match r.version {
            Some(version) => {
                buf.extend_from_slice(b",\"established\":true,\"version\":");
                marks.set(TLS_VERSION, buf.len());
                buf.push(b'"');
                buf.extend_from_slice(version.as_bytes());
                buf.push(b'"');
            }
            None => buf.extend_from_slice(b",\"established\":false"),
        }
        if r.f[CIPHER] != "-" {
            buf.extend_from_slice(b",\"cipher\":");
            marks.set(TLS_CIPHER, buf.len());
            r.text(buf, CIPHER);
        }
        if r.f[SNI] != "-" {
            buf.extend_from_slice(b",\"client\":{\"server_name\":");
            if r.percent & (1 << SNI) != 0 {
                unquote(r.f[SNI], &mut self.scratch)?;
                json::string(buf, &self.scratch);
            } else {
                r.text(buf, SNI);
            }
            buf.push(b'}');
        }

        roots.push(buf.len() + 2);
        buf.extend_from_slice(b"},\"aws\":{\"elb\":{\"type\":");
        r.text(buf, KIND);
        buf.extend_from_slice(b",\"log_version\":");
        r.text(buf, LOG_VERSION);
        buf.extend_from_slice(b",\"name\":");
        r.text(buf, NAME);
        buf.extend_from_slice(b",\"listener\":");
        r.text(buf, LISTENER);
        let numbers: [(&[u8], Option<i64>); 5] = [
            (b",\"connection_time_ms\":", r.connection),
            (b",\"tls_handshake_time_ms\":", r.handshake),
            (b",\"received_bytes\":", r.received),
            (b",\"sent_bytes\":", r.sent),
            (b",\"incoming_tls_alert\":", r.alert),
        ];
        for (key, value) in numbers {
            if let Some(value) = value {
                buf.extend_from_slice(key);
                int(buf, value);
            }
        }
        let texts: [(&[u8], usize); 5] = [
            (b",\"chosen_cert_arn\":", CERT_ARN),
            (b",\"chosen_cert_serial\":", CERT_SERIAL),
            (b",\"tls_keyexchange\":", KEYEXCHANGE),
            (b",\"alpn_fe_protocol\":", FE),
            (b",\"alpn_be_protocol\":", BE),
        ];
        for (key, i) in texts {
            if r.f[i] != "-" {
                buf.extend_from_slice(key);
                r.text(buf, i);
            }
        }
        if r.f[PREFERENCES] != "-" {
            // _alpn_items: the comma-separated items, quotes stripped, empty ones dropped,
            // each URL-decoded.
            buf.extend_from_slice(b",\"alpn_client_preference_list\":[");
            let mut first = true;
            for item in r.f[PREFERENCES].split(',') {
                let item = item.trim_matches('"');
                if item.is_empty() {
                    continue;
                }
                if !first {
                    buf.push(b',');
                }
                first = false;
                if item.contains('%') {
                    unquote(item, &mut self.scratch)?;
                    json::string(buf, &self.scratch);
                } else {
                    json::string(buf, item);
                }
            }
            buf.push(b']');
        }
        if r.f[CREATED] != "-" {
            buf.extend_from_slice(b",\"tls_connection_creation_time\":");
            utc(buf, r.f[CREATED]);
        }
        if let Some(tail) = r.tail {
            buf.extend_from_slice(b",\"unparsed_tail\":");
            json::string(buf, tail);
        }
        roots.push(buf.len() + 3);
        buf.extend_from_slice(b"}},\"cloud\":");
        buf.extend_from_slice(&self.cloud);
        buf.push(b'}');
        Some(())
    }
}

/// `"<time>Z"` for a time checked by `is_utc_seconds` (nothing to escape).
fn utc(buf: &mut Vec<u8>, time: &str) {
    buf.push(b'"');
    buf.extend_from_slice(time.as_bytes());
    buf.extend_from_slice(b"Z\"");
}

fn int(buf: &mut Vec<u8>, value: i64) {
    let mut digits = itoa::Buffer::new();
    buf.extend_from_slice(digits.format(value).as_bytes());
}

// Positions of the fields of a 2.0 line (split(" ")).
const KIND: usize = 0;
const LOG_VERSION: usize = 1;
const TIME: usize = 2;
const NAME: usize = 3;
const LISTENER: usize = 4;
const CLIENT: usize = 5;
const DEST: usize = 6;
const CONNECTION: usize = 7;
const HANDSHAKE: usize = 8;
const RECEIVED: usize = 9;
const SENT: usize = 10;
const ALERT: usize = 11;
const CERT_ARN: usize = 12;
const CERT_SERIAL: usize = 13;
const CIPHER: usize = 14;
const PROTOCOL: usize = 15;
const KEYEXCHANGE: usize = 16;
const SNI: usize = 17;
const FE: usize = 18;
const BE: usize = 19;
const PREFERENCES: usize = 20;
const CREATED: usize = 21;

/// Byte classes of the one pass over a line: most bytes are PLAIN (one table load and one
/// test each); a field with an ESCAPE byte is written through json::string, one with a
/// PERCENT byte is URL-decoded where Python decodes; OTHER (controls, DEL, non-ASCII) declines
/// the line (Python's split(" ") and str semantics are not reproduced for those).
const PLAIN: u8 = 0;
const SPACE: u8 = 1;
const ESCAPE: u8 = 2;
const PERCENT: u8 = 3;
const OTHER: u8 = 4;

static CLASS: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut b = 0x21;
    while b < 0x7f {
        table[b] = PLAIN;
        b += 1;
    }
    table[b' ' as usize] = SPACE;
    table[b'"' as usize] = ESCAPE;
    table[b'\\' as usize] = ESCAPE;
    table[b'%' as usize] = PERCENT;
    table
};

/// A line's fields, checked to be what the Python parser reads the way this writer does.
struct Record<'a> {
    /// split(" ") padded with "-" to the 22 fields of 2.0 (a 1.0 line, a 2.0 line cut short).
    f: [&'a str; V2_FIELDS],
    /// Bit i: field i holds a `"` or `\` (escaped in JSON); a `%` (URL-decoded, SNI and ALPN).
    escape: u32,
    percent: u32,
    time: &'a str,
    client_port: i64,
    dest_port: i64,
    connection: Option<i64>,
    handshake: Option<i64>,
    received: Option<i64>,
    sent: Option<i64>,
    alert: Option<i64>,
    /// ECS tls.version of a handshake made; None for `-` (no handshake).
    version: Option<&'static str>,
    /// What follows the 22nd field: the Python parser's `" ".join(f[22:])`.
    tail: Option<&'a str>,
}

impl<'a> Record<'a> {
    fn read(line: &'a str) -> Option<Self> {
        let mut f = ["-"; V2_FIELDS];
        let (mut escape, mut percent) = (0u32, 0u32);
        let mut n = 0; // the field being read
        let mut start = 0;
        let mut tail = None;
        let bytes = line.as_bytes();
        let mut i = 0; // the next byte to classify
        loop {
            // Plain bytes skipped in a tight loop; the others handled one at a time.
            let rest = bytes.get(i..).unwrap_or_default();
            let Some(skip) = rest.iter().position(|&b| CLASS[usize::from(b)] != PLAIN) else {
                break;
            };
            let Some(&b) = rest.get(skip) else { break };
            i += skip;
            match CLASS[usize::from(b)] {
                SPACE => {
                    *f.get_mut(n)? = line.get(start..i)?;
                    n += 1;
                    start = i + 1;
                    if n == V2_FIELDS {
                        // Extra fields: kept whole as the unparsed tail (rare: checked apart).
                        let rest = line.get(start..)?;
                        if !json::plain_ascii(rest) {
                            return None;
                        }
                        tail = Some(rest);
                        break;
                    }
                }
                ESCAPE => escape |= 1 << n,
                PERCENT => percent |= 1 << n,
                _ => return None,
            }
            i += 1;
        }
        if tail.is_none() {
            *f.get_mut(n)? = line.get(start..)?;
            n += 1;
        }
        if n < V1_FIELDS {
            return None; // Python: "expected at least 18 fields"
        }
        // NLB's own lower-case spellings only; `-` is no handshake; anything else Python
        // refuses ("unknown value").
        let version = match f[PROTOCOL] {
            "tlsv10" => Some("1.0"),
            "tlsv11" => Some("1.1"),
            "tlsv12" => Some("1.2"),
            "tlsv13" => Some("1.3"),
            "-" => None,
            _ => return None,
        };
        // Checked here so that `write` cannot fail half-way on it.
        if f[CREATED] != "-" && !is_utc_seconds(f[CREATED]) {
            return None;
        }
        let (client, client_port) = ip_port(f[CLIENT])?;
        let (dest, dest_port) = ip_port(f[DEST])?;
        f[CLIENT] = client;
        f[DEST] = dest;
        Some(Record {
            f,
            escape,
            percent,
            time: f[TIME],
            client_port,
            dest_port,
            connection: nullable(f[CONNECTION])?,
            handshake: nullable(f[HANDSHAKE])?,
            received: nullable(f[RECEIVED])?,
            sent: nullable(f[SENT])?,
            alert: nullable(f[ALERT])?,
            version,
            tail,
        })
    }

    /// The value of the writer's marked field `field` its document will hold (crate::rules).
    fn known(&self, field: usize) -> Known<'a> {
        let text = |i: usize| Known::Text(self.f[i].as_bytes());
        match field {
            SOURCE_IP => text(CLIENT),
            SOURCE_PORT => Known::Int(self.client_port),
            DESTINATION_IP => text(DEST),
            DESTINATION_PORT => Known::Int(self.dest_port),
            TLS_VERSION => self
                .version
                .map_or(Known::Absent, |v| Known::Text(v.as_bytes())),
            TLS_CIPHER if self.f[CIPHER] == "-" => Known::Absent,
            TLS_CIPHER => text(CIPHER),
            _ => Known::Unknown,
        }
    }

    /// Field `i` as a JSON string.
    fn text(&self, buf: &mut Vec<u8>, i: usize) {
        let value = self.f[i];
        if self.escape & (1 << i) != 0 {
            json::string(buf, value);
        } else {
            buf.push(b'"');
            buf.extend_from_slice(value.as_bytes());
            buf.push(b'"');
        }
    }
}

/// A plain digit string as Python's int() reads it; None for anything else (signs, `_`,
/// blanks, empty, more digits than an i64 surely holds), which Python may read otherwise.
fn digits(value: &str) -> Option<i64> {
    if value.is_empty() || value.len() > MAX_DIGITS {
        return None;
    }
    let mut number: i64 = 0;
    for b in value.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        number = number * 10 + i64::from(b - b'0');
    }
    Some(number)
}

/// A numeric field: `-` is absent (Some(None)); None declines the line.
fn nullable(value: &str) -> Option<Option<i64>> {
    if value == "-" {
        Some(None)
    } else {
        digits(value).map(Some)
    }
}

/// "ip:port" split on the last colon (IPv6 unbracketed): a host that is not empty, a port
/// of digits (Python's check; it takes any host, the null marker too, and any port number).
fn ip_port(value: &str) -> Option<(&str, i64)> {
    let (host, port) = value.rsplit_once(':')?;
    if host.is_empty() {
        return None;
    }
    Some((host, digits(port)?))
}

/// Whether `value` + "Z" passes elb.is_iso_utc at 19 characters: `YYYY-MM-DDTHH:MM:SS` in
/// ASCII digits, fields in range, a real date (year 1 on, the month's days, leap years).
fn is_utc_seconds(value: &str) -> bool {
    value.len() == 19 && time::utc_seconds(value.as_bytes())
}

/// urllib.parse.unquote of an ASCII string into `out`: `%XX` (hex, either case) is the byte
/// XX, any other `%` stays. None when a decoded byte is not ASCII: Python reads those bytes
/// as UTF-8 with replacement characters, which is not reproduced here.
fn unquote(value: &str, out: &mut String) -> Option<()> {
    out.clear();
    let b = value.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            if let (Some(&hi), Some(&lo)) = (b.get(i + 1), b.get(i + 2)) {
                if let (Some(hi), Some(lo)) = (hex(hi), hex(lo)) {
                    let byte = hi * 16 + lo;
                    if !byte.is_ascii() {
                        return None;
                    }
                    out.push(char::from(byte));
                    i += 3;
                    continue;
                }
            }
        }
        out.push(char::from(c));
        i += 1;
    }
    Some(())
}

fn hex(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}
