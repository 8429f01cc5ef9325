//! Printing the verdict at the end of a run and for `gotrace analyze`.

use crate::bundle::BundleWriter;
use crate::cmd::json_out::JsonOutput;

/// Analyses the finished bundle, stores verdict.json, and prints the report
/// on stderr unless `--json`; the JSON goes where `json` says. An analysis
/// failure is reported but does not change gotrace's exit status, which
/// stays the command's.
pub fn finish_run(bundle: &BundleWriter, json: &JsonOutput) {
    match gotrace_analyzer::analyze_bundle(bundle.dir()) {
        Ok(report) => {
            let verdict = report.to_json();
            if let Err(e) = bundle.write_verdict(&verdict) {
                eprintln!("gotrace: {e}");
            }
            if !json.stdout {
                print(&report, false);
            }
            if let Err(e) = json.emit(&verdict) {
                eprintln!("gotrace: {e}");
            }
            eprintln!(
                "gotrace: trace bundle: {} (re-analyse with `gotrace analyze {}`)",
                bundle.dir().display(),
                bundle.dir().display()
            );
        }
        Err(e) => eprintln!("gotrace: analysing {}: {e}", bundle.dir().display()),
    }
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
