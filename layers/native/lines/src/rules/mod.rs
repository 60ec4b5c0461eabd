//! Drop and sample rules (logferry.enrich.rules) decided by the writers, so that the pipeline
//! neither decodes a document nor calls Python to decide on it.
//!
//! A verdict is KEEP, DROP, SAMPLE + k (sample rule k is the first that holds: Python draws
//! from the document's id) or UNDECIDED (Python decodes the document and decides). Meaning
//! stays Python's (logferry.enrich.decision): this module decides only the cases whose answer
//! it is sure of, and says UNDECIDED for the rest — floats, lists and objects under `=`, text
//! under `<`/`>`, escaped strings or keys, `[` patterns, integers beyond 15 digits, anything
//! it does not expect to read. The tests hold its verdicts to Python's decisions on random
//! documents (tests/unit/test_fast_rules.py).
//!
//! Each writer names a few fields rules often test (crate::rules::marks: `url.path`,
//! `destination.port`, `aws.vpcflow.action`, ...). A drop rule whose every condition is on
//! one of them is decided before the record is written (`before`), on the values the writer
//! has read (`Known`) once it knows it takes the record: a document it drops is never written
//! (the test of mutated lines holds that only records Python takes, and drops, are). The
//! other rules are decided on the JSON just written (`judge`): a condition on a marked field
//! reads its value where the writer marked it; another reads its field from its top-level
//! member (`roots`: where each top-level member's key starts; a mark counts only if the key
//! it points at is the field's first); one with neither (a member the writer did not mark,
//! or none in the document) is read from the start, and only where the document holds one of
//! its needles from Python (`Condition.needles`: JSON members a document meeting it must
//! contain, `"path":"/healthz"`, `"port":443`, `"port":[`: a rule whose needles are all
//! absent cannot hold). Conditions come shallowest first; the first that fails ends the rule.
//!
//! Measured with the writers alone over the benchmark's 20 MB objects, in one process (the
//! benchmark's drop rules and rules of their shape that drop nothing, interleaved): read from
//! the start, VPC flow's accepted-HTTPS rule cost ~0.55 us more on the records holding its
//! needles (a quarter) than on the others; from the top-level members, a rule cost a writer
//! 60-75 ns a line; from the marked values, 20-50 ns (VPC flow), 0-40 (ALB), 20-30 (NLB);
//! decided before writing, 15-25 ns (ALB), 24-28 (VPC flow), 11-19 (NLB), and a dropped
//! record's writing is saved: ALB's writer with its `/healthz` rule (7.6% dropped) 1,274-1,280
//! ns a line against 1,309-1,315 with no rule, VPC flow's (10.7%) 567-568 against 564-568.

use memchr::memmem::Finder;
use pyo3::prelude::*;

mod marks;
mod path;

use marks::field_of;
pub use marks::Marks;
use marks::MAX_MARKED;
use path::{lookup, Value};

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

    /// Whether the text holds one of the needles (true when there are none).
    fn may_hold(&self, text: &[u8]) -> bool {
        self.needles.is_empty() || self.needles.iter().any(|n| n.find(text).is_some())
    }

    /// Where the value of the field's top-level member starts, from the writer's marks; None
    /// when no mark points at that member.
    fn member(&self, body: &[u8], roots: &[usize]) -> Option<usize> {
        let key = self.path.first()?;
        roots.iter().find_map(|&at| {
            let value = at + key.len() + 3;
            let marked = body.get(at) == Some(&b'"')
                && body.get(at + 1) == key.first()
                && body.get(at + 1..value - 2) == Some(key.as_slice())
                && body.get(value - 2..value) == Some(b"\":".as_slice());
            marked.then_some(value)
        })
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

    /// Whether the condition holds for a value a writer read before writing it.
    fn holds_known(&self, value: &Known) -> Option<bool> {
        match *value {
            Known::Absent => self.holds(&Value::Absent),
            Known::Text(text) => self.holds(&Value::Text(text)),
            Known::Int(number) => {
                let mut digits = itoa::Buffer::new();
                self.holds(&Value::Number(digits.format(number).as_bytes()))
            }
            Known::Unknown => None,
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

struct Rule {
    conditions: Vec<Condition>,
}

impl Rule {
    /// Whether every condition holds (None: Python's to say). A condition that surely fails
    /// decides, whatever the others. `fields`: the writer's marked field of each condition
    /// (crate::rules::marks; empty: none).
    fn holds(
        &self,
        body: &[u8],
        roots: &[usize],
        fields: &[Option<usize>],
        marks: &Marks,
    ) -> Option<bool> {
        let mut sure = true;
        let mut update = |found: Option<bool>| match found {
            Some(false) => false,
            found => {
                sure &= found.is_some();
                true
            }
        };
        // Conditions on a marked field or member, read there (in the order given: shallowest
        // first).
        let mut unmarked = Vec::new();
        for (i, condition) in self.conditions.iter().enumerate() {
            let value = match marks.of(fields.get(i).copied().flatten()) {
                Some(at) => lookup(body, at, &[]),
                None => match condition.member(body, roots) {
                    Some(at) => lookup(body, at, &condition.path[1..]),
                    None => {
                        unmarked.push(condition);
                        continue;
                    }
                },
            };
            if !update(value.and_then(|value| condition.holds(&value))) {
                return Some(false);
            }
        }
        // The others: their needles anywhere in the document, then their values.
        if !unmarked.iter().all(|condition| condition.may_hold(body)) {
            return Some(false);
        }
        for condition in unmarked {
            let value = lookup(body, 0, &condition.path);
            if !update(value.and_then(|value| condition.holds(&value))) {
                return Some(false);
            }
        }
        sure.then_some(true)
    }

    /// Whether every condition holds for the values a writer read before writing (`fields`:
    /// each condition's marked field, all marked; `value`: the record's value of one).
    fn holds_known<'a>(
        &self,
        fields: &[Option<usize>],
        value: &impl Fn(usize) -> Known<'a>,
    ) -> Option<bool> {
        let mut sure = true;
        for (condition, field) in self.conditions.iter().zip(fields) {
            match condition.holds_known(&value((*field)?)) {
                Some(false) => return Some(false),
                Some(true) => {}
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
    /// Whether a dropped document's JSON is still wanted (`logferry parse --show-dropped`);
    /// else the writers give an empty body for it (what a drop saves: ~0.1 us of copying).
    dropped_bodies: bool,
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
    #[pyo3(signature = (drops, samples, dropped_bodies=false))]
    fn new(drops: Vec<Vec<Spec>>, samples: Vec<Vec<Spec>>, dropped_bodies: bool) -> PyResult<Self> {
        Ok(Rules {
            drops: rules(drops)?,
            samples: rules(samples)?,
            dropped_bodies,
        })
    }

    /// The verdict on a document's JSON (what the writers add to each line they write), with
    /// the offsets of its top-level members' keys where known, and fields marked as a writer
    /// marks them: (dotted path, where its value starts), at most MAX_MARKED.
    #[pyo3(signature = (body, roots=Vec::new(), marked=Vec::new()))]
    fn verdict(
        &self,
        body: &[u8],
        roots: Vec<usize>,
        marked: Vec<(String, usize)>,
    ) -> PyResult<u32> {
        if marked.len() > MAX_MARKED {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "too many marked fields",
            ));
        }
        let mut marks = Marks::new();
        for (i, (_, at)) in marked.iter().enumerate() {
            marks.set(i, *at);
        }
        let names: Vec<&str> = marked.iter().map(|(field, _)| field.as_str()).collect();
        Ok(self.decide(body, &roots, &Fields::new(self, &names), &marks, 0))
    }
}

impl Rules {
    /// The verdict; `fields`: which of the writer's marked fields each condition reads;
    /// `failed`: the drop rules known to fail (bit j: rule j; see `Ruled::before`).
    fn decide(
        &self,
        body: &[u8],
        roots: &[usize],
        fields: &Fields,
        marks: &Marks,
        failed: u64,
    ) -> u32 {
        let mut sure = true;
        for (j, rule) in self.drops.iter().enumerate() {
            if j < 64 && failed >> j & 1 == 1 {
                continue;
            }
            let marked = fields.drops.get(j).map_or(&[][..], Vec::as_slice);
            match rule.holds(body, roots, marked, marks) {
                Some(true) => return DROP,
                Some(false) => {}
                None => sure = false,
            }
        }
        if !sure {
            return UNDECIDED;
        }
        for (k, rule) in self.samples.iter().enumerate() {
            let marked = fields.samples.get(k).map_or(&[][..], Vec::as_slice);
            match rule.holds(body, roots, marked, marks) {
                Some(true) => return SAMPLE + k as u32,
                Some(false) => {}
                None => return UNDECIDED,
            }
        }
        KEEP
    }
}

/// The marked field (crate::rules::marks) each condition of each rule reads, if any.
struct Fields {
    drops: Vec<Vec<Option<usize>>>,
    samples: Vec<Vec<Option<usize>>>,
}

impl Fields {
    /// `marked`: a writer's marked fields, in the order of its marks.
    fn new(rules: &Rules, marked: &[&str]) -> Self {
        Fields {
            drops: Fields::of(&rules.drops, marked),
            samples: Fields::of(&rules.samples, marked),
        }
    }

    fn of(rules: &[Rule], marked: &[&str]) -> Vec<Vec<Option<usize>>> {
        rules
            .iter()
            .map(|rule| {
                let paths = rule.conditions.iter().map(|c| field_of(&c.path, marked));
                paths.collect()
            })
            .collect()
    }
}

/// A value of a writer's marked field (crate::rules::marks) as it reads it from its record
/// before writing: what the document will hold there. Text is the record's own (the JSON
/// string's decoded value), a number the integer whose digits the writer will write.
pub enum Known<'a> {
    Absent,
    Text(&'a [u8]),
    Int(i64),
    /// Not read before writing: the rule is decided on the document.
    Unknown,
}

impl<'a> Known<'a> {
    /// A text field's value, absent where None.
    pub fn text(value: Option<&'a str>) -> Self {
        value.map_or(Known::Absent, |text| Known::Text(text.as_bytes()))
    }

    /// A number field's value, absent where None.
    pub fn int(value: Option<i64>) -> Self {
        value.map_or(Known::Absent, Known::Int)
    }
}

/// What the drop rules decided before a record was written: drop it (nothing to write), or
/// write it, with the rules known to fail (bit j: drop rule j).
pub enum Before {
    Drop,
    Write(u64),
}

/// A writer's rules, with the fields it marks that their conditions read.
pub struct Ruled {
    rules: Py<Rules>,
    fields: Fields,
    /// The drop rules whose every condition is on a marked field (the first 64), decided
    /// before writing; none when dropped documents' JSON is wanted (`dropped_bodies`).
    before: Vec<usize>,
}

impl Ruled {
    /// `marked`: the writer's marked fields, in the order of its marks.
    pub fn new(rules: Option<Py<Rules>>, marked: &[&str]) -> Option<Self> {
        let rules = rules?;
        let all = rules.get();
        let fields = Fields::new(all, marked);
        let before = if all.dropped_bodies {
            Vec::new()
        } else {
            let known = |j: &usize| fields.drops[*j].iter().all(Option::is_some);
            (0..fields.drops.len().min(64)).filter(known).collect()
        };
        Some(Ruled {
            rules,
            fields,
            before,
        })
    }
}

/// The drop rules a writer can decide before writing a record, on the values it has read
/// (`value`: of each of its marked fields): a document surely dropped is not written at all
/// (what that saves the writers: 0.2-0.7 us a record), and a rule surely failing is not read
/// again from the document.
pub fn before<'a>(ruled: &Option<Ruled>, value: impl Fn(usize) -> Known<'a>) -> Before {
    let mut failed = 0;
    if let Some(ruled) = ruled {
        let rules = ruled.rules.get();
        for &j in &ruled.before {
            match rules.drops[j].holds_known(&ruled.fields.drops[j], &value) {
                Some(true) => return Before::Drop,
                Some(false) => failed |= 1 << j,
                None => {}
            }
        }
    }
    Before::Write(failed)
}

/// A writer's verdict on its document (`before`: what the rules decided before it was
/// written; `roots`: where its top-level members' keys start, in the order written; `marks`:
/// where its marked fields' values start), and the body to give with it: KEEP and the
/// document without rules.
pub fn judge<'a>(
    ruled: &Option<Ruled>,
    before: Before,
    body: &'a [u8],
    roots: &[usize],
    marks: &Marks,
) -> (u32, &'a [u8]) {
    match (ruled, before) {
        (_, Before::Drop) => (DROP, b""),
        (None, _) => (KEEP, body),
        (Some(Ruled { rules, fields, .. }), Before::Write(failed)) => {
            let rules = rules.get();
            match rules.decide(body, roots, fields, marks, failed) {
                DROP if !rules.dropped_bodies => (DROP, b""),
                verdict => (verdict, body),
            }
        }
    }
}
