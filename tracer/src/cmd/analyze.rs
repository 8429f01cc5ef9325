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

/// Analyses `input` and prints the report, and with `html` writes it as a
/// page there too; returns 0 when a report was produced.
///
/// # Errors
/// The analysis's errors ([`TracerError::Analyze`]); the HTML file's as
/// [`TracerError::Output`].
pub fn analyze(input: &Path, json: bool, html: Option<&Path>) -> Result<i32, TracerError> {
    let (report, page) = if input == Path::new(STDIN) {
        let stdin = BufReader::with_capacity(1 << 16, std::io::stdin().lock());
        (
            gotrace_analyzer::analyze_capture_input(stdin, "standard input")?,
            None,
        )
    } else if input.is_dir() && html.is_some() {
        let full = gotrace_analyzer::analyze_bundle_full(input)?;
        (full.report, Some(full.html))
    } else if input.is_dir() {
        (gotrace_analyzer::analyze_bundle(input)?, None)
    } else {
        (gotrace_analyzer::analyze_capture_path(input)?, None)
    };
    if let Some(out) = html {
        let page = gotrace_analyzer::html::render_html(&report, &page.unwrap_or_default());
        crate::cmd::json_out::write_private_file(out, None, page.as_bytes()).map_err(|source| {
            TracerError::Output {
                what: "--html",
                path: out.to_path_buf(),
                source,
            }
        })?;
    }
    report::print(&report, json);
    Ok(0)
}
