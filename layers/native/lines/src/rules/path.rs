//! Reading the value at a path of a document's JSON, compact as the writers and orjson write
//! it, without decoding it: what a rule's condition compares.

/// A value found at a path of the document (strings without their quotes).
pub(super) enum Value<'a> {
    Absent,
    Text(&'a [u8]),
    Number(&'a [u8]),
    Bool(&'a [u8]),
    Container,
}

/// The end (the closing quote's index) of the string opening at `start`, and whether it has
/// an escape, looked for eight bytes at a time.
fn string_end(body: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    let mut at = start + 1;
    loop {
        while let Some(word) = body.get(at..at + 8) {
            let found = quote_or_backslash(u64::from_le_bytes(word.try_into().ok()?));
            if found != 0 {
                at += found.trailing_zeros() as usize / 8;
                break;
            }
            at += 8;
        }
        match body.get(at)? {
            b'"' => return Some((at, escaped)),
            b'\\' => {
                escaped = true;
                at += 2;
            }
            _ => at += 1,
        }
    }
}

/// The high bit of each byte of `word` that is a quote or a backslash; exact up to the first
/// (the borrow may mark bytes after it).
fn quote_or_backslash(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = word ^ (ONES * b'"' as u64);
    let backslash = word ^ (ONES * b'\\' as u64);
    (quote.wrapping_sub(ONES) & !quote | backslash.wrapping_sub(ONES) & !backslash) & HIGH
}

/// The index after the value starting at `start` (compact JSON, as orjson and the writers
/// write it).
fn skip(body: &[u8], start: usize) -> Option<usize> {
    match body.get(start)? {
        b'"' => Some(string_end(body, start)?.0 + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = start;
            loop {
                match body.get(at)? {
                    b'"' => at = string_end(body, at)?.0,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => Some(start + body[start..].iter().position(|b| b",}]".contains(b))?),
    }
}

/// The value at `path` in the value starting at `at` (the document at 0; None: not read with
/// certainty).
pub(super) fn lookup<'a>(body: &'a [u8], mut at: usize, path: &[Vec<u8>]) -> Option<Value<'a>> {
    for key in path {
        if body.get(at) != Some(&b'{') {
            return Some(Value::Absent); // Python's lookup fails on a non-object: absent
        }
        at += 1;
        loop {
            match body.get(at)? {
                b'}' => return Some(Value::Absent),
                b'"' => {}
                _ => return None,
            }
            let (end, escaped) = string_end(body, at)?;
            if escaped {
                return None; // a key that might decode to the one sought
            }
            let found = &body[at + 1..end];
            if body.get(end + 1) != Some(&b':') {
                return None;
            }
            at = end + 2;
            if found == key.as_slice() {
                break;
            }
            at = skip(body, at)?;
            match body.get(at)? {
                b',' => at += 1,
                b'}' => return Some(Value::Absent),
                _ => return None,
            }
        }
    }
    Some(match body.get(at)? {
        b'"' => match string_end(body, at)? {
            (_, true) => return None,
            (end, false) => Value::Text(&body[at + 1..end]),
        },
        b'{' | b'[' => Value::Container,
        b'n' => Value::Absent, // null: Python's decision reads None as absent
        b't' | b'f' => Value::Bool(&body[at..skip(body, at)?]),
        _ => Value::Number(&body[at..skip(body, at)?]),
    })
}
