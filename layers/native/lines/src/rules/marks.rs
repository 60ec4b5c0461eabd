//! Where a writer wrote the values of a few fields rules often test (`url.path`,
//! `destination.port`, `aws.vpcflow.action`, ...), so that a condition on one reads its value
//! there instead of walking to it from its top-level member.
//!
//! Each writer names its marked fields once (its `MARKED`, dotted paths) and marks a value's
//! first byte as it writes it; 0 stands for "not marked in this document" (no value starts
//! at 0), and a condition whose field is unmarked is read as before, from the top-level marks
//! or the start. A mark can only make a condition cheaper, never change its verdict, provided
//! it points at the value of that field: tests/fast_files.py holds every mark of every line a
//! writer takes to where orjson's bytes of the Python document hold the field's value, and
//! tests/unit/test_fast_rules.py verdicts read at marks to Python's decisions.
//!
//! The same fields are those a writer reads before writing (crate::rules::Known), so that a
//! drop rule on them is decided before the document is written.
//!
//! Measured (each writer alone over the benchmark's 20 MB objects, in one process): reading
//! a condition from its top-level member cost 60-75 ns a line (ALB's `url.path`: the member
//! `url` found among a dozen, `original` skipped); see crate::rules for the figures with marks.

/// The most fields a writer marks.
pub const MAX_MARKED: usize = 10;

/// Where the values of a writer's marked fields start in its document (its `MARKED` order).
pub struct Marks {
    at: [usize; MAX_MARKED],
}

impl Marks {
    pub fn new() -> Self {
        Marks {
            at: [0; MAX_MARKED],
        }
    }

    pub fn clear(&mut self) {
        self.at = [0; MAX_MARKED];
    }

    /// `field`'s value starts at `at` (the index of its first byte).
    pub fn set(&mut self, field: usize, at: usize) {
        self.at[field] = at;
    }

    /// Each of `fields` (a writer's `MARKED`) with where its value starts in the last
    /// document, if marked (for the tests).
    pub fn named(&self, fields: &[&'static str]) -> Vec<(&'static str, Option<usize>)> {
        let at = fields.iter().enumerate();
        at.map(|(i, &field)| (field, self.of(Some(i)))).collect()
    }

    /// Where the value of the marked field `field` starts, if this document marked it.
    pub(super) fn of(&self, field: Option<usize>) -> Option<usize> {
        self.at.get(field?).copied().filter(|&at| at != 0)
    }
}

/// The marked field a condition's path names, if any (`fields`: a writer's `MARKED`).
pub(super) fn field_of(path: &[Vec<u8>], fields: &[&str]) -> Option<usize> {
    let dotted = path.join(&b'.');
    fields.iter().position(|field| field.as_bytes() == dotted)
}
