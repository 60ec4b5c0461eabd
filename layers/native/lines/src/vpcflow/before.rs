//! What the drop rules read of a record before it is written (crate::rules::before): the
//! values of the writer's marked fields, and whether the writer takes the record at all, so
//! that a record a rule drops costs no writing.
//!
//! Invariant: `known` gives what the document will hold at each field (Unknown where the
//! record does not read: the writer then declines it), and `taken` fails for every record
//! `VpcFlow::write` declines but for GeoIP's declines (Python drops those by the same rule):
//! a record Python rejects is never dropped. tests/unit/test_fast_rules.py holds the writers'
//! drops to Python's decisions on mutated records.
//!
//! Rejected: reading every field into a record first, then writing from it (ALB's and NLB's
//! writers are shaped so): VPC flow's writer then spent 40-60 ns more a line with no rule
//! (552-589 -> 611-629 ns over the 20 MB object, one process), more than writing no dropped
//! record saves at the generator's 11%. Here a record pays for the fields its rules test, and
//! for the checks only when a rule drops it.

use crate::rules::Known;

use super::layout::{transport, Layout};
use super::{digits, ip_shaped, port, present};
use super::{
    ACTION, DESTINATION_IP, DESTINATION_PORT, LOG_STATUS, SOURCE_IP, SOURCE_PORT, TRANSPORT,
};

/// The value the document of a record will hold at the writer's marked field `field` (`get`:
/// the record's field `i`, None for the null marker or a field the header lacks).
pub(super) fn known<'a>(
    lay: &Layout,
    get: impl Fn(Option<usize>) -> Option<&'a str>,
    field: usize,
) -> Known<'a> {
    let address = |at| match get(at) {
        Some(ip) if !ip_shaped(ip) => Known::Unknown,
        ip => Known::text(ip),
    };
    let number = |at| match present(get(at), port) {
        Some(value) => Known::int(value.map(|port| port as i64)), // <= 65535
        None => Known::Unknown,
    };
    match field {
        SOURCE_IP => address(lay.srcaddr),
        SOURCE_PORT => number(lay.srcport),
        DESTINATION_IP => address(lay.dstaddr),
        DESTINATION_PORT => number(lay.dstport),
        TRANSPORT => match get(lay.protocol) {
            None => Known::Absent,
            Some(number) => match digits(number, 3) {
                None => Known::Unknown,
                // PROTOCOLS is looked up by the text: `06` has no name.
                Some(_) if number.len() > 1 && number.starts_with('0') => Known::Absent,
                Some(value) => Known::text(transport(value)),
            },
        },
        ACTION => Known::text(get(lay.action)),
        LOG_STATUS => Known::text(get(lay.log_status)),
        _ => Known::Unknown,
    }
}

/// Whether the writer takes the record, its times read: every check of `VpcFlow::write` after
/// them whose failure Python raises on.
pub(super) fn taken<'a>(lay: &Layout, get: impl Fn(Option<usize>) -> Option<&'a str>) -> bool {
    let long = |value: &str| digits(value, 18).is_some();
    lay.ints.iter().all(|(i, _)| get(Some(*i)).is_none_or(long))
        && lay
            .ips
            .iter()
            .all(|(i, _)| get(Some(*i)).is_none_or(ip_shaped))
        && [(lay.srcaddr, lay.srcport), (lay.dstaddr, lay.dstport)]
            .into_iter()
            .all(|(addr, at)| get(addr).is_none_or(ip_shaped) && present(get(at), port).is_some())
        && get(lay.protocol).is_none_or(|number| digits(number, 3).is_some())
        && get(lay.bytes).is_none_or(long)
        && get(lay.packets).is_none_or(long)
}
