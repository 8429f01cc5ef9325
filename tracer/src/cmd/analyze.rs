//! `gotrace analyze BUNDLE_DIR|FILE|-`: offline analysis, no privileges
//! needed. A directory is a bundle (`gotrace run`); anything else is a
//! capture (pcap or pcapng, told by its magic, whatever its name) analysed
//! on its own, and `-` reads that capture from standard input.

use std::io::BufReader;
use std::path::Path;

use crate::cmd::report;
use crate::error::TracerError;

/// The argument that means "read the capture from standard input".
pub const STDIN: &str = "-";

/// Analyses `input` and prints the report; returns 0 when a report was
/// produced.
pub fn analyze(input: &Path, json: bool) -> Result<i32, TracerError> {
    let report = if input == Path::new(STDIN) {
        let stdin = BufReader::with_capacity(1 << 16, std::io::stdin().lock());
        gotrace_analyzer::analyze_capture_input(stdin, "standard input")?
    } else if input.is_dir() {
        gotrace_analyzer::analyze_bundle(input)?
    } else {
        gotrace_analyzer::analyze_capture_path(input)?
    };
    report::print(&report, json);
    Ok(0)
}
