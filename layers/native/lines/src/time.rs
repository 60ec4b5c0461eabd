//! Times as the Python parsers check them (logferry.formats.elb.is_iso_utc and kin).

/// Whether `head` starts with `YYYY-MM-DDTHH:MM:SS` in ASCII digits, every field in range and
/// the date a real one (year 1 on, the month's days, leap years): what Python's regex and
/// `date.fromisoformat` accept together.
pub fn utc_seconds(head: &[u8]) -> bool {
    let number = |from: usize, to: usize| -> Option<u32> {
        head.get(from..to)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| head.get(i) != Some(&c)) {
        return false;
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        number(0, 4),
        number(5, 7),
        number(8, 10),
        number(11, 13),
        number(14, 16),
        number(17, 19),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day) && hour < 24 && minute < 60 && second < 60
}
