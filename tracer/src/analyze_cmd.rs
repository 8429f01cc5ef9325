//! `gotrace analyze BUNDLE`: offline analysis, no privileges needed.

use std::path::Path;

use gotrace_analyzer::AnalyzeError;

use crate::error::TracerError;
use crate::report;

/// Analyses the bundle at `path` and prints the report; returns 0 when a
/// report was produced.
pub fn analyze(path: &Path, json: bool) -> Result<i32, TracerError> {
    let report = gotrace_analyzer::analyze_bundle(path)?;
    report::print(&report, json);
    Ok(0)
}

/// 66 (EX_NOINPUT) when the input does not exist, 65 (EX_DATAERR) when it
/// exists but cannot be read as a bundle (sysexits.h).
pub fn exit_code(e: &AnalyzeError) -> i32 {
    if e.is_missing_input() {
        66
    } else {
        65
    }
}
