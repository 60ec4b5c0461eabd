//! vrl-bench: Vector's VRL parsers over a gzipped log file, for `make bench`.
//!
//! `vrl-bench FORMAT FILE.gz` compiles one VRL program for FORMAT (`alb`:
//! `encode_json(parse_aws_alb_log!(.message, strict_mode: false))`, `vpcflow`:
//! `encode_json(parse_aws_vpc_flow_log!(.message))`), reads FILE.gz through a `zcat` child process, runs the program
//! once per line with the line as `.message`, and writes each result, one per line, to stdout
//! (the bench sends it to /dev/null). A line the parser refuses counts as an error and the run
//! goes on (the first one's reason is printed to stderr: a VPC flow object's header line is
//! one). At the end it prints one line to stderr:
//!
//!     lines=N ok=N errors=N cpu_s=S
//!
//! where `cpu_s` is user + system time of this process and of `zcat` (the inflate step is
//! counted, as it is on our side).
//!
//! `strict_mode: false` for ALB: in strict mode vrl 0.38 refuses every line of today's layout
//! (it ends in fields the crate does not know, "Log should be fully consumed"); non-strict, it
//! ignores them. Rejected alternative: inflating in-process with flate2 would
//! measure a different gunzip than the one the bench names; `zcat` is what an operator runs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::{Command, Stdio};

use vrl::compiler::{Context, TargetValue, TimeZone, state::RuntimeState};
use vrl::value::{Secrets, Value};

fn program_source(format: &str) -> Option<&'static str> {
    match format {
        "alb" => Some("encode_json(parse_aws_alb_log!(.message, strict_mode: false))"),
        "vpcflow" => Some("encode_json(parse_aws_vpc_flow_log!(.message))"),
        _ => None,
    }
}

fn cpu_seconds(who: libc::c_int) -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: vrl-bench alb|vpcflow FILE.gz");
        std::process::exit(2);
    }
    let Some(source) = program_source(&args[1]) else {
        eprintln!("vrl-bench: unknown format {:?} (alb, vpcflow)", args[1]);
        std::process::exit(2);
    };
    let functions = vrl::stdlib::all();
    let compiled = match vrl::compiler::compile(source, &functions) {
        Ok(result) => result,
        Err(diagnostics) => {
            eprintln!("vrl-bench: {source}: {diagnostics:?}");
            std::process::exit(2);
        }
    };
    let program = compiled.program;

    let mut zcat = Command::new("zcat")
        .arg(&args[2])
        .stdout(Stdio::piped())
        .spawn()
        .expect("vrl-bench: cannot run zcat");
    let input = BufReader::with_capacity(1 << 20, zcat.stdout.take().expect("zcat stdout"));
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let timezone = TimeZone::default();
    let mut state = RuntimeState::default();
    let (mut lines, mut ok, mut errors) = (0u64, 0u64, 0u64);

    for line in input.split(b'\n') {
        let mut line = line.expect("vrl-bench: read error");
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        lines += 1;
        let mut fields = BTreeMap::new();
        fields.insert("message".into(), Value::Bytes(line.into()));
        let mut target = TargetValue {
            value: Value::Object(fields),
            metadata: Value::Object(BTreeMap::new()),
            secrets: Secrets::default(),
        };
        state.clear();
        let mut ctx = Context::new(&mut target, &mut state, &timezone);
        match program.resolve(&mut ctx) {
            Ok(Value::Bytes(json)) => {
                ok += 1;
                out.write_all(&json).expect("vrl-bench: write error");
                out.write_all(b"\n").expect("vrl-bench: write error");
            }
            Ok(Value::String(json)) => {
                ok += 1;
                out.write_all(json.as_bytes())
                    .expect("vrl-bench: write error");
                out.write_all(b"\n").expect("vrl-bench: write error");
            }
            Ok(other) => {
                if errors == 0 {
                    eprintln!("vrl-bench: line {lines}: the program gave {other:?}, not a string");
                }
                errors += 1;
            }
            Err(error) => {
                if errors == 0 {
                    eprintln!("vrl-bench: line {lines}: {error}");
                }
                errors += 1;
            }
        }
    }
    out.flush().expect("vrl-bench: write error");
    let status = zcat.wait().expect("vrl-bench: zcat");
    if !status.success() {
        eprintln!("vrl-bench: zcat failed: {status}");
        std::process::exit(1);
    }
    let cpu = cpu_seconds(libc::RUSAGE_SELF) + cpu_seconds(libc::RUSAGE_CHILDREN);
    eprintln!("lines={lines} ok={ok} errors={errors} cpu_s={cpu:.3}");
}
