//! Drop and sample rules (logferry.enrich.rules) decided on the JSON a writer has just written,
//! so that the pipeline neither decodes a document nor calls Python to decide on it.
//!
//! A verdict is KEEP, DROP, SAMPLE + k (sample rule k is the first that holds: Python draws
//! from the document's id) or UNDECIDED (Python decodes the document and decides). Meaning
//! stays Python's (logferry.enrich.decision): this module decides only the cases whose answer
//! it is sure of, and says UNDECIDED for the rest — floats, lists and objects under `=`, text
//! under `<`/`>`, escaped strings or keys, `[` patterns, integers beyond 15 digits, anything
//! it does not expect to read. The tests hold its verdicts to Python's decisions on random
//! documents (tests/unit/test_fast_rules.py).
//!
//! Each condition carries needles from Python (`Condition.needles`): JSON members a document
//! meeting it must contain (`"path":"/healthz"`, `"port":443`, `"port":[`, ...), any one of
//! them. A rule whose needles are all absent cannot hold, and that costs a substring search
//! (~20 ns); only documents that hold them are read for the values (~0.2 us), so a rule costs
//! little more than the documents it drops save (a bulk line, ~0.6 us each).

use memchr::memchr2;
use memchr::memmem::Finder;
use pyo3::prelude::*;

pub const KEEP: u32 = 0;
pub const DROP: u32 = 1;
pub const UNDECIDED: u32 = 2;
pub const SAMPLE: u32 = 3;

/// Integers with more digits may not be exact as f64 (Python compares ints with floats
/// exactly): `<` and `>` on them are left to Python.
const MAX_EXACT_DIGITS: usize = 15;

enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
}

/// A `*`/`?` pattern (fnmatch's meaning), or one with a `[` class, left to Python.
enum Pattern {
    None,
    Wildcards,
    Classes,
}

struct Condition {
    path: Vec<Vec<u8>>,
    op: Op,
    /// `=`/`!=`: the value as text, and as a whole number's digits when it is one (compared
    /// with an integer as a number, as Python's decision does).
    text: Vec<u8>,
    digits: Option<Vec<u8>>,
    pattern: Pattern,
    /// `<`/`>`: the bound.
    bound: f64,
    needles: Vec<Finder<'static>>,
}

/// A value found at a path of the document (strings without their quotes).
enum Value<'a> {
    Absent,
    Text(&'a [u8]),
    Number(&'a [u8]),
    Bool(&'a [u8]),
    Container,
}

type Spec = (
    Vec<String>,
    String,
    String,
    Option<String>,
    Option<f64>,
    Vec<Vec<u8>>,
);

impl Condition {
    fn new((path, op, text, digits, bound, needles): Spec) -> PyResult<Self> {
        let op = match op.as_str() {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            ">" => Op::Gt,
            _ => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "operator {op:?}"
                )))
            }
        };
        let pattern = if text.contains('[') {
            Pattern::Classes
        } else if text.contains(['*', '?']) {
            Pattern::Wildcards
        } else {
            Pattern::None
        };
        Ok(Condition {
            path: path.into_iter().map(String::into_bytes).collect(),
            op,
            text: text.into_bytes(),
            digits: digits.map(String::into_bytes),
            pattern,
            bound: bound.unwrap_or(f64::NAN),
            needles: needles
                .iter()
                .map(|n| Finder::new(n).into_owned())
                .collect(),
        })
    }

    /// Whether the body holds one of the needles (true when there are none).
    fn may_hold(&self, body: &[u8]) -> bool {
        self.needles.is_empty() || self.needles.iter().any(|n| n.find(body).is_some())
    }

    /// Whether the condition holds for the value (None: Python's to say).
    fn holds(&self, value: &Value) -> Option<bool> {
        match self.op {
            Op::Eq => self.equal(value),
            Op::Ne => self.equal(value).map(|equal| !equal),
            Op::Lt | Op::Gt => {
                let number = match value {
                    Value::Number(token) => number(token)?,
                    Value::Text(_) => return None, // Python reads text as float()
                    _ => return Some(false),       // absent, null, booleans, containers
                };
                Some(if matches!(self.op, Op::Lt) {
                    number < self.bound
                } else {
                    number > self.bound
                })
            }
        }
    }

    fn equal(&self, value: &Value) -> Option<bool> {
        match value {
            Value::Absent => Some(false),
            Value::Text(text) => self.matches(text),
            Value::Bool(text) => self.matches(text),
            Value::Number(token) if token.iter().all(|&b| b == b'-' || b.is_ascii_digit()) => {
                match &self.digits {
                    Some(digits) => Some(token == digits),
                    None => self.matches(token), // str() of an int: its JSON digits
                }
            }
            Value::Number(_) | Value::Container => None, // floats' repr(), lists, dicts
        }
    }

    fn matches(&self, text: &[u8]) -> Option<bool> {
        match self.pattern {
            Pattern::None => Some(text == self.text.as_slice()),
            // `?` is one character: one byte only in ASCII text
            Pattern::Wildcards if text.is_ascii() => Some(wildcard(&self.text, text)),
            _ => None,
        }
    }
}

/// A JSON number token as f64, when Python's comparison of it is the same.
fn number(token: &[u8]) -> Option<f64> {
    let integer = token.iter().all(|&b| b == b'-' || b.is_ascii_digit());
    if integer && token.len() > MAX_EXACT_DIGITS {
        return None;
    }
    std::str::from_utf8(token).ok()?.parse().ok()
}

/// fnmatch with `*` (any run) and `?` (one byte), over the whole text.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The end (the closing quote's index) of the string opening at `start`, and whether it has
/// an escape.
fn string_end(body: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut at = start + 1;
    let mut escaped = false;
    loop {
        at += memchr2(b'"', b'\\', &body[at..])?;
        if body[at] == b'"' {
            return Some((at, escaped));
        }
        escaped = true;
        at += 2;
        if at > body.len() {
            return None;
        }
    }
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

/// The value at `path` in the document (None: not read with certainty).
fn lookup<'a>(body: &'a [u8], path: &[Vec<u8>]) -> Option<Value<'a>> {
    let mut at = 0;
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

struct Rule {
    conditions: Vec<Condition>,
}

impl Rule {
    /// Whether every condition holds (None: Python's to say). A condition that surely fails
    /// decides, whatever the others.
    fn holds(&self, body: &[u8]) -> Option<bool> {
        if !self.conditions.iter().all(|c| c.may_hold(body)) {
            return Some(false);
        }
        let mut sure = true;
        for condition in &self.conditions {
            match lookup(body, &condition.path).and_then(|value| condition.holds(&value)) {
                Some(true) => {}
                Some(false) => return Some(false),
                None => sure = false,
            }
        }
        sure.then_some(true)
    }
}

/// One source's drop rules (any that holds drops) and sample rules (the first that holds
/// decides), as logferry.enrich.decision.Rules.native gives them.
#[pyclass(module = "logferry.formats._lines", frozen)]
pub struct Rules {
    drops: Vec<Rule>,
    samples: Vec<Rule>,
}

fn rules(specs: Vec<Vec<Spec>>) -> PyResult<Vec<Rule>> {
    specs
        .into_iter()
        .map(|conditions| {
            let conditions = conditions
                .into_iter()
                .map(Condition::new)
                .collect::<PyResult<_>>()?;
            Ok(Rule { conditions })
        })
        .collect()
}

#[pymethods]
impl Rules {
    /// Each rule a list of conditions: (path, op, value, whole number's digits or None,
    /// bound or None, needles).
    #[new]
    fn new(drops: Vec<Vec<Spec>>, samples: Vec<Vec<Spec>>) -> PyResult<Self> {
        Ok(Rules {
            drops: rules(drops)?,
            samples: rules(samples)?,
        })
    }

    /// The verdict on a document's JSON (what the writers add to each line they write).
    fn verdict(&self, body: &[u8]) -> u32 {
        self.decide(body)
    }
}

impl Rules {
    pub fn decide(&self, body: &[u8]) -> u32 {
        let mut sure = true;
        for rule in &self.drops {
            match rule.holds(body) {
                Some(true) => return DROP,
                Some(false) => {}
                None => sure = false,
            }
        }
        if !sure {
            return UNDECIDED;
        }
        for (k, rule) in self.samples.iter().enumerate() {
            match rule.holds(body) {
                Some(true) => return SAMPLE + k as u32,
                Some(false) => {}
                None => return UNDECIDED,
            }
        }
        KEEP
    }
}

/// A writer's verdict on its document: KEEP without rules.
pub fn verdict(rules: &Option<Py<Rules>>, body: &[u8]) -> u32 {
    rules
        .as_ref()
        .map_or(KEEP, |rules| rules.get().decide(body))
}
