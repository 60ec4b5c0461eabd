//! logferry.formats._lines: see Cargo.toml. One class per format; each instance is one
//! object's state (its layout, its cloud facts, its rules) and `line(text)` returns
//! `(timestamp, json, verdict)` for a record it writes (crate::rules; KEEP without rules), or
//! None for a line it leaves to the Python parser (anything unusual: the Python parser decides
//! whether it is a document or a rejection, and why).

use pyo3::prelude::*;

mod alb;
mod cpu;
mod geo;
mod json;
mod nlb;
mod rules;
mod time;
mod vpcflow;

#[pymodule]
fn _lines(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<alb::Alb>()?;
    m.add_class::<nlb::Nlb>()?;
    m.add_class::<vpcflow::VpcFlow>()?;
    m.add_class::<rules::Rules>()?;
    Ok(())
}
