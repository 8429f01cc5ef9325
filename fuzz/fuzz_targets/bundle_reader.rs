//! A whole bundle from one input: `meta.json`, `events.jsonl`,
//! `stderr.log` and `capture.pcapng`, separated by SEP (a missing part is
//! a missing file). Parsed in memory as `gotrace analyze` reads a
//! directory, then analysed and rendered as text and JSON.
#![no_main]

use std::path::Path;

use gotrace_analyzer::capture::{CaptureIndex, CaptureReader};
use gotrace_analyzer::{analyze, render_text};
use gotrace_bundle::bundle_from_bytes;
use libfuzzer_sys::fuzz_target;

/// Separates the bundle's files in an input (xtask's seeds use the same).
const SEP: &[u8] = b"\n\0--gotrace-fuzz--\0\n";

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while parts.len() < 3 {
        match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + SEP.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}

fuzz_target!(|data: &[u8]| {
    let parts = split(data);
    let Ok(bundle) = bundle_from_bytes(
        Path::new("fuzz"),
        parts[0],
        parts.get(1).copied(),
        parts.get(2).copied(),
    ) else {
        return;
    };
    let capture = parts
        .get(3)
        .and_then(|c| CaptureReader::new(*c).ok())
        .map(CaptureIndex::from_reader);
    let report = analyze(&bundle, capture);
    let _ = render_text(&report);
    let _ = report.to_json();
});
