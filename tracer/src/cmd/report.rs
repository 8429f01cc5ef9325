//! Printing the verdict at the end of a run and for `gotrace analyze`.

use std::path::Path;

use gotrace_analyzer::capture::CaptureIndex;
use gotrace_analyzer::{AnalyzeError, Report};
use gotrace_bundle::{files, Meta};

use crate::bundle::BundleWriter;

/// Analyses the finished bundle, stores verdict.json, and prints the report
/// on stderr (or the JSON on stdout). An analysis failure is reported but
/// does not change gotrace's exit status, which stays the command's.
/// `unwritten`: the final meta.json, which could not be written (a full
/// disk, a name taken over): the report is made from it, not from the
/// bundle's meta.json of the start, so it still tells how the command
/// ended and why the bundle is short.
pub fn finish_run(bundle: &BundleWriter, json: bool, unwritten: Option<&Meta>) {
    let analysed = match unwritten {
        None => gotrace_analyzer::analyze_bundle(bundle.dir()),
        Some(meta) => analyze_with_meta(bundle.dir(), meta),
    };
    match analysed {
        Ok(report) => {
            let verdict = report.to_json();
            if let Err(e) = bundle.write_verdict(&verdict) {
                eprintln!("gotrace: {e}");
            }
            print(&report, json);
            eprintln!(
                "gotrace: trace bundle: {} (re-analyse with `gotrace analyze {}`)",
                bundle.dir().display(),
                bundle.dir().display()
            );
        }
        Err(e) => eprintln!("gotrace: analysing {}: {e}", bundle.dir().display()),
    }
}

/// [`gotrace_analyzer::analyze_bundle`] of `dir` with `meta` in place of
/// its meta.json.
fn analyze_with_meta(dir: &Path, meta: &Meta) -> Result<Report, AnalyzeError> {
    let meta_json = serde_json::to_vec(meta).map_err(|e| {
        AnalyzeError::from(gotrace_bundle::ReadError::MetaCorrupt {
            path: dir.join(files::META),
            source: e,
        })
    })?;
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    let (events, stderr) = (read(files::EVENTS), read(files::STDERR));
    let mut b =
        gotrace_bundle::bundle_from_bytes(dir, &meta_json, events.as_deref(), stderr.as_deref())?;
    let capture_path = dir.join(files::CAPTURE);
    let capture = match CaptureIndex::from_path(&capture_path) {
        Ok(idx) => Some(idx),
        Err(e) => {
            b.warnings.push(format!("{e}; the capture is not used"));
            None
        }
    };
    b.capture = capture.is_some().then_some(capture_path);
    Ok(gotrace_analyzer::analyze(&b, capture))
}

/// Prints `report` as text on stderr, or as JSON on stdout. A closed
/// pipe (`gotrace analyze --json x.pcap | head`) is not an error.
pub fn print(report: &gotrace_analyzer::Report, json: bool) {
    use std::io::Write;
    let _ = if json {
        writeln!(std::io::stdout().lock(), "{}", report.to_json())
    } else {
        write!(
            std::io::stderr().lock(),
            "{}",
            gotrace_analyzer::render_text(report)
        )
    };
}
