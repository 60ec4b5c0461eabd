//! Writing JSON by hand into one buffer: objects are opened and closed by the caller, values
//! are appended with their key. Strings are escaped as JSON requires (`"`, `\`, control
//! characters); the fast paths only take printable ASCII lines, so nothing else needs care.

use crate::rules::Marks;

pub struct Json {
    pub buf: Vec<u8>,
    /// Whether the object being written has a member yet (a comma goes before the next).
    first: Vec<bool>,
    /// Where the document's top-level members' keys start (crate::rules reads from them);
    /// a member written into `buf` directly is marked by its writer.
    pub roots: Vec<usize>,
    /// Where the values of the writer's marked fields start (crate::rules::marks).
    pub marks: Marks,
}

impl Json {
    pub fn new() -> Self {
        Json {
            buf: Vec::with_capacity(1024),
            first: Vec::with_capacity(8),
            roots: Vec::with_capacity(16),
            marks: Marks::new(),
        }
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.first.clear();
        self.roots.clear();
        self.marks.clear();
    }

    fn comma(&mut self) {
        if let Some(first) = self.first.last_mut() {
            if *first {
                *first = false;
            } else {
                self.buf.push(b',');
            }
        }
    }

    fn key(&mut self, key: &str) {
        self.comma();
        if self.first.len() == 1 {
            self.roots.push(self.buf.len());
        }
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes()); // keys are ours: plain ASCII names
        self.buf.extend_from_slice(b"\":");
    }

    /// `"key":`, the value to come marked as the writer's field `field` (crate::rules::marks).
    pub fn marked(&mut self, key: &str, field: usize) {
        self.key(key);
        self.marks.set(field, self.buf.len());
    }

    /// `{` of the document itself.
    pub fn begin(&mut self) {
        self.buf.push(b'{');
        self.first.push(true);
    }

    /// `"key":{`
    pub fn open(&mut self, key: &str) {
        self.key(key);
        self.buf.push(b'{');
        self.first.push(true);
    }

    pub fn close(&mut self) {
        self.buf.push(b'}');
        self.first.pop();
    }

    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        string(&mut self.buf, value);
    }

    pub fn int(&mut self, key: &str, value: i64) {
        self.key(key);
        self.digits(value);
    }

    /// `int`, the value marked as the writer's field `field` (crate::rules::marks).
    pub fn marked_int(&mut self, key: &str, value: i64, field: usize) {
        self.marked(key, field);
        self.digits(value);
    }

    fn digits(&mut self, value: i64) {
        let mut digits = itoa::Buffer::new();
        self.buf.extend_from_slice(digits.format(value).as_bytes());
    }

    /// A value already written as JSON (a number's digits, a nested object).
    pub fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key);
        self.buf.extend_from_slice(json);
    }
}

/// logferry.enrich.cloud.CloudFacts' `cloud` of an object (no Organizations): `{"provider":
/// "aws"}`, then the account's id and the region when known.
pub fn cloud_object(account: Option<&str>, region: Option<&str>) -> Vec<u8> {
    let mut cloud = Json::new();
    cloud.begin();
    cloud.str("provider", "aws");
    if let Some(account) = account {
        cloud.open("account");
        cloud.str("id", account);
        cloud.close();
    }
    if let Some(region) = region {
        cloud.str("region", region);
    }
    cloud.close();
    cloud.buf
}

/// `value` as a JSON string.
pub fn string(buf: &mut Vec<u8>, value: &str) {
    buf.push(b'"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                buf.extend_from_slice(&bytes[start..i]);
                buf.extend_from_slice(format!("\\u{:04x}", b).as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(escaped);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// Whether a line may take a fast path at all: printable ASCII only (space to `~`). Anything
/// else (tabs, other whitespace Python's split() knows, UTF-8) is left to the Python parser.
pub fn plain_ascii(line: &str) -> bool {
    line.bytes().all(|b| (0x20..0x7f).contains(&b))
}
