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
use crate::rules::{self, Before, Known, Ruled, Rules};

mod fields;

use fields::{
    dash, float, host_port, integer, is_ipv4, is_iso_utc, list, marked_text, seconds, text,
    tls_version, tokenize, url_into, words, Request, Url,
};

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

/// The fields whose values this writer marks as it writes them (crate::rules::marks) and
/// knows before writing (crate::rules::Known), and their places in the list.
const MARKED: [&str; 10] = [
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "http.request.method",
    "http.response.status_code",
    "url.domain",
    "url.path",
    "user_agent.original",
    "tls.version",
];
const SOURCE_IP: usize = 0;
const SOURCE_PORT: usize = 1;
const DESTINATION_IP: usize = 2;
const DESTINATION_PORT: usize = 3;
const METHOD: usize = 4;
const STATUS: usize = 5;
const DOMAIN: usize = 6;
const PATH: usize = 7;
const AGENT: usize = 8;
const TLS_VERSION: usize = 9;

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
    /// Drop and sample rules (crate::rules: decided before writing or on the document written).
    rules: Option<Ruled>,
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
            rules: Ruled::new(rules, &MARKED),
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

    /// Each field this writer marks, with where its value starts in the last document
    /// (crate::rules::marks; for the tests).
    #[getter]
    fn marks(&self) -> Vec<(&'static str, Option<usize>)> {
        self.out.marks.named(&MARKED)
    }

    /// `(@timestamp, document JSON, verdict)` of a record, or None: the Python parser's to read.
    fn line<'py>(
        &mut self,
        py: Python<'py>,
        line: &str,
    ) -> Option<(Bound<'py, PyString>, Bound<'py, PyBytes>, u32)> {
        cpu::clear_upper_vector_state();
        let (time, before) = self.write(line)?;
        let out = &self.out;
        let (verdict, body) = rules::judge(&self.rules, before, &out.buf, &out.roots, &out.marks);
        Some((PyString::new(py, time), PyBytes::new(py, body), verdict))
    }
}

impl Alb {
    /// The document of `line` into `self.out`, returning its @timestamp and what the drop
    /// rules decided before it was written (nothing written for a drop); None to decline.
    fn write<'a>(&mut self, line: &'a str) -> Option<(&'a str, Before)> {
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
        // The drop rules on the fields this writer knows, now that it takes the line.
        let url = req.url.map(|url| (url, Url::read(url)));
        let before = rules::before(&self.rules, |field| match field {
            SOURCE_IP => Known::Text(client_ip.as_bytes()),
            SOURCE_PORT => Known::Int(client_port),
            DESTINATION_IP => Known::text(destination.map(|(ip, _)| ip)),
            DESTINATION_PORT => Known::int(destination.map(|(_, port)| port)),
            METHOD => Known::text(req.method),
            STATUS => Known::int(status),
            DOMAIN => Known::text(url.as_ref().and_then(|(_, parts)| parts.domain)),
            PATH => Known::text(url.as_ref().and_then(|(_, parts)| parts.path)),
            AGENT => Known::text((!dash(agent)).then_some(agent)),
            TLS_VERSION => version
                .as_ref()
                .map_or(Known::Absent, |(_, number)| Known::Text(&number[1..4])),
            _ => Known::Unknown,
        });
        if let Before::Drop = before {
            return Some((time, before));
        }

        let out = &mut self.out;
        out.clear();
        out.begin();
        text(out, "@timestamp", time);
        // The fixed members in one piece (the document has a member now: commas go first).
        out.roots.push(out.buf.len() + 1);
        out.buf
            .extend_from_slice(b",\"event\":{\"dataset\":\"aws.alb\",\"kind\":\"event\"}");
        let fields = (SOURCE_IP, SOURCE_PORT);
        endpoint(out, &mut self.geo, "source", fields, client_ip, client_port)?;
        if status.is_some() || req.method.is_some() || req.version.is_some() {
            out.open("http");
            if let Some(status) = status {
                out.open("response");
                out.marked_int("status_code", status, STATUS);
                out.close();
            }
            if let Some(method) = req.method {
                out.open("request");
                marked_text(out, "method", method, METHOD);
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
            let fields = (DESTINATION_IP, DESTINATION_PORT);
            endpoint(out, &mut self.geo, "destination", fields, ip, port)?;
        }
        if let Some((url, parts)) = &url {
            url_into(out, url, parts);
        }
        if !dash(agent) {
            out.open("user_agent");
            marked_text(out, "original", agent, AGENT);
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
                out.marked("version", TLS_VERSION);
                out.buf.extend_from_slice(&number);
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
        Some((time, before))
    }
}

/// An endpoint object, `"name":{"ip":...,"port":...}` (their values marked as `fields`), and
/// with GeoIP what its fill appends after the endpoint's own members (dict.update); None when
/// GeoIP declines the address.
fn endpoint(
    out: &mut Json,
    geo: &mut Option<Geo>,
    name: &str,
    (ip_field, port_field): (usize, usize),
    ip: &str,
    port: i64,
) -> Option<()> {
    out.open(name);
    marked_text(out, "ip", ip, ip_field);
    out.marked_int("port", port, port_field);
    if let Some(geo) = geo {
        out.buf.extend_from_slice(geo.members(ip)?);
    }
    out.close();
    Some(())
}
