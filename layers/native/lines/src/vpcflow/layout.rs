//! Where each field of a VPC flow record sits under one header (Python's `Layout.of`), and
//! the names fields take in the document.

use std::collections::HashMap;

use crate::json;

/// Python's _ECS_FIELDS: read by position, never under aws.vpcflow.
const ECS_FIELDS: [&str; 11] = [
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];
/// Python's _INT_FIELDS (INTEGER or LONG: both read the same way, at most 18 digits).
const INT_FIELDS: [&str; 6] = [
    "tcp-flags",
    "traffic-path",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
];
/// Python's _IP_FIELDS.
const IP_FIELDS: [&str; 2] = ["pkt-srcaddr", "pkt-dstaddr"];
/// Python's PROTOCOLS: an IANA protocol number -> ECS network.transport (the table's keys are
/// numbers as written without leading zeros: the caller looks up only those).
pub(super) fn transport(number: u64) -> Option<&'static str> {
    Some(match number {
        0 => "hopopt",
        1 => "icmp",
        2 => "igmp",
        4 => "ipv4",
        6 => "tcp",
        8 => "egp",
        17 => "udp",
        27 => "rdp",
        33 => "dccp",
        41 => "ipv6",
        43 => "ipv6-route",
        44 => "ipv6-frag",
        46 => "rsvp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        59 => "ipv6-nonxt",
        60 => "ipv6-opts",
        88 => "eigrp",
        89 => "ospfigp",
        94 => "ipip",
        103 => "pim",
        112 => "vrrp",
        115 => "l2tp",
        132 => "sctp",
        136 => "udplite",
        137 => "mpls-in-ip",
        _ => return None,
    })
}

/// A member's `"key":` of an object, written once per layout (keys from a header are escaped:
/// `header` is callable from Python with any names, not only those a header line allows).
fn key_json(key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 3);
    json::string(&mut out, key);
    out.push(b':');
    out
}

/// Where each field sits in a record of one header: Python's `Layout.of`.
pub(super) struct Layout {
    pub(super) width: usize,
    /// (position, `"key":`) of the fields under aws.vpcflow, by kind, in the header's order.
    pub(super) texts: Vec<(usize, Vec<u8>)>,
    pub(super) ints: Vec<(usize, Vec<u8>)>,
    pub(super) ips: Vec<(usize, Vec<u8>)>,
    pub(super) srcaddr: Option<usize>,
    pub(super) dstaddr: Option<usize>,
    pub(super) srcport: Option<usize>,
    pub(super) dstport: Option<usize>,
    pub(super) protocol: Option<usize>,
    pub(super) packets: Option<usize>,
    pub(super) bytes: Option<usize>,
    pub(super) start: Option<usize>,
    pub(super) end: Option<usize>,
    pub(super) action: Option<usize>,
    pub(super) log_status: Option<usize>,
    /// The text fields `account_id` and `region`: the record's own cloud facts.
    pub(super) account_id: Option<usize>,
    pub(super) region: Option<usize>,
    /// A header whose aws.vpcflow keys clash (two text fields with one key, or a field named
    /// `unparsed-tail`): Python's dict keeps the last value written, a case too odd to copy,
    /// so every record of such a layout is left to Python.
    pub(super) clashes: bool,
}

impl Layout {
    pub(super) fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Layout {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut lay = Layout {
            width: 0,
            texts: Vec::new(),
            ints: Vec::new(),
            ips: Vec::new(),
            srcaddr: None,
            dstaddr: None,
            srcport: None,
            dstport: None,
            protocol: None,
            packets: None,
            bytes: None,
            start: None,
            end: None,
            action: None,
            log_status: None,
            account_id: None,
            region: None,
            clashes: false,
        };
        let mut text_keys: Vec<String> = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            lay.width = i + 1;
            let mut name = name.replace('_', "-");
            if seen.contains_key(&name) {
                // A repeated name: the first one wins, the second is kept apart.
                name = format!("{name}-{i}");
            }
            seen.insert(name.clone(), i);
            let key = name.replace('-', "_");
            if ECS_FIELDS.contains(&name.as_str()) {
                continue;
            }
            if INT_FIELDS.contains(&name.as_str()) {
                lay.ints.push((i, key_json(&key)));
            } else if IP_FIELDS.contains(&name.as_str()) {
                lay.ips.push((i, key_json(&key)));
            } else {
                lay.clashes |= key == "unparsed_tail" || text_keys.contains(&key);
                lay.texts.push((i, key_json(&key)));
                text_keys.push(key);
            }
        }
        // Python's `seen.get(name, _ABSENT)`: the last position recorded under a name.
        let at = |name: &str| seen.get(name).copied();
        lay.srcaddr = at("srcaddr");
        lay.dstaddr = at("dstaddr");
        lay.srcport = at("srcport");
        lay.dstport = at("dstport");
        lay.protocol = at("protocol");
        lay.packets = at("packets");
        lay.bytes = at("bytes");
        lay.start = at("start");
        lay.end = at("end");
        lay.action = at("action");
        lay.log_status = at("log-status");
        // `aws.get("account_id")`: the text field whose key it is (unique unless `clashes`).
        let text = |key: &str| {
            let i = text_keys.iter().position(|k| k == key)?;
            lay.texts.get(i).map(|(at, _)| *at)
        };
        lay.account_id = text("account_id");
        lay.region = text("region");
        lay
    }
}
