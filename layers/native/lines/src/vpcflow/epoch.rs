//! Epoch fields (`start`, `end`) as Python's `_epoch` writes them: ISO times in UTC, cached
//! per value.

use super::digits;

/// Slots of the epoch cache (Python's `_remember` keeps up to 4096 values; windows are few).
const TIMES_CACHED: usize = 1024;

/// The ISO times of recent epoch values: a direct-mapped cache (a slot per value's hash, the
/// newest value wins), so a look-up is one compare and it never grows. The records of a file
/// share a handful of aggregation windows.
pub(super) struct Times {
    slots: Vec<(u64, [u8; 20])>,
}

impl Times {
    pub(super) fn new() -> Self {
        // u64::MAX has 20 digits: never an epoch value (at most 11), so an empty slot.
        Times {
            slots: vec![(u64::MAX, [0; 20]); TIMES_CACHED],
        }
    }
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(secs))`. Python's epoch fields have at most
/// 11 digits, so the year has four (1970..=5138).
fn iso(secs: u64) -> [u8; 20] {
    let secs = i64::try_from(secs).unwrap_or(0); // 11 digits at most: always fits
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let time = secs.rem_euclid(86_400);
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: u32, value: i64| {
        for k in 0..width {
            let digit = (value / 10_i64.pow(width - 1 - k)) % 10;
            if let (Some(slot), Ok(digit)) = (out.get_mut(at + k as usize), u8::try_from(digit)) {
                *slot = b'0' + digit;
            }
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, time / 3600);
    put(14, 2, time / 60 % 60);
    put(17, 2, time % 60);
    out
}

/// An epoch field's ISO time, cached: the records of a file share a handful of windows. None
/// where Python's `_epoch` raises (more than 11 digits, anything but ASCII digits).
pub(super) fn epoch(times: &mut Times, value: &str) -> Option<[u8; 20]> {
    let secs = digits(value, 11)?;
    // Fibonacci hashing: windows are multiples of 60 s, so the top bits of a product spread them.
    let slot = (secs.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize % TIMES_CACHED;
    match times.slots.get_mut(slot) {
        Some((cached, text)) if *cached == secs => Some(*text),
        Some(entry) => {
            *entry = (secs, iso(secs));
            Some(entry.1)
        }
        None => Some(iso(secs)), // not reached: the slot is taken modulo the cache's size
    }
}
