//! Printing the verdict at the end of a run and for `gotrace analyze`.

use std::io::{BufReader, BufWriter, Read};

use gotrace_analyzer::annotate::PacketNotes;
use gotrace_analyzer::capture::{CaptureIndex, CaptureReader};
use gotrace_analyzer::{AnalyzeError, FullAnalysis};
use gotrace_bundle::{files, EventsInput, Meta, ReadError, WriteError};

use crate::bundle::BundleWriter;
use crate::cmd::json_out::JsonOutput;

/// Analyses the finished bundle, stores verdict.json, and prints the report
/// on stderr unless `--json`; the JSON goes where `json` says. An analysis
/// failure is reported but does not change gotrace's exit status, which
/// stays the command's. `unwritten`: the final meta.json, which could not
/// be written (a full disk, a name taken over): the report is made from
/// it, not from the bundle's meta.json of the start, so it still tells how
/// the command ended and why the bundle is short.
pub fn finish_run(bundle: &BundleWriter, json: &JsonOutput, unwritten: Option<&Meta>) {
    match analyze_own(bundle, unwritten) {
        Ok(full) => {
            let (report, notes) = (&full.report, &full.packet_notes);
            let verdict = report.to_json();
            if let Err(e) = bundle.write_verdict(&verdict) {
                eprintln!("gotrace: {e}");
            }
            let page = gotrace_analyzer::html::render_html(report, &full.html);
            if let Err(e) = bundle.write_report_html(&page) {
                eprintln!("gotrace: {e}");
            }
            if let Err(e) = annotate_capture(bundle, notes) {
                eprintln!("gotrace: {e}; capture.pcapng is kept without packet comments");
            }
            if !json.stdout {
                print(report, false);
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

/// [`gotrace_analyzer::analyze_bundle`] of what gotrace itself wrote:
/// each file read through the writer's own handle ([`BundleWriter::reopen`]),
/// never by name. The command may have put a link to a file only root can
/// read (/etc/shadow as stderr.log) in the bundle directory: gotrace, as
/// root, must not read it and print it in the report. `meta` replaces the
/// bundle's meta.json when given.
fn analyze_own(bundle: &BundleWriter, meta: Option<&Meta>) -> Result<FullAnalysis, AnalyzeError> {
    let dir = bundle.dir();
    let read = |name: &str| -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        bundle.reopen(name)?.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    };
    let meta_json = match meta {
        Some(m) => serde_json::to_vec(m).map_err(|e| ReadError::MetaCorrupt {
            path: dir.join(files::META),
            source: e,
        })?,
        None => read(files::META).ok_or_else(|| ReadError::MetaMissing {
            dir: dir.to_path_buf(),
        })?,
    };
    // events.jsonl is streamed, never read whole (issue 15: a 1M-event
    // run's file is ~180 MiB, its events ~270 MiB more in memory).
    let stderr = read(files::STDERR);
    let mut open = gotrace_bundle::open_bundle_from(
        dir,
        &meta_json,
        bundle.reopen(files::EVENTS),
        stderr.as_deref(),
    )?;
    let b = &mut open.bundle;
    let path = dir.join(files::CAPTURE);
    let capture = match bundle.reopen(files::CAPTURE) {
        Some(f) => match CaptureReader::new(BufReader::with_capacity(1 << 16, f)) {
            Ok(r) => Some(CaptureIndex::from_reader(r)),
            Err(problem) => {
                let e = AnalyzeError::Capture {
                    path: path.clone(),
                    problem,
                };
                b.warnings.push(format!("{e}; the capture is not used"));
                None
            }
        },
        None => {
            b.warnings.push("capture.pcapng missing: no packet evidence, network failures cannot be confirmed on the wire".into());
            None
        }
    };
    b.capture = capture.is_some().then_some(path);
    let again = || bundle.reopen(files::EVENTS).map(EventsInput::from_file);
    Ok(gotrace_analyzer::analyze_open_full(open, capture, again))
}

/// Captures larger than this (bytes) are not rewritten with annotations.
const ANNOTATE_MAX_BYTES: u64 = 256 << 20;

/// Rewrites the bundle's capture.pcapng with `notes` as packet options
/// ([`crate::capture::annotate`]), reading the file gotrace wrote (never
/// what is at the name now) and replacing it only if it is still that
/// file. Nothing to do without notes.
fn annotate_capture(bundle: &BundleWriter, notes: &PacketNotes) -> Result<(), WriteError> {
    if notes.is_empty() {
        return Ok(());
    }
    let Some(src) = bundle.reopen(files::CAPTURE) else {
        return Ok(());
    };
    // The rewrite copies the whole file while the user waits for the
    // prompt: past this size the capture stays as captured.
    let size = src.metadata().map(|m| m.len()).unwrap_or(0);
    if size > ANNOTATE_MAX_BYTES {
        eprintln!(
            "gotrace: capture.pcapng is {} MiB: its packets are not annotated (the limit is {} MiB), the report's packet numbers still apply",
            size >> 20,
            ANNOTATE_MAX_BYTES >> 20
        );
        return Ok(());
    }
    bundle.replace_with(files::CAPTURE, |dst| {
        let src = BufReader::with_capacity(1 << 16, src);
        let dst = BufWriter::with_capacity(1 << 16, dst);
        crate::capture::annotate::annotate(src, dst, notes)
            .map(|_| ())
            .map_err(|e| std::io::Error::other(format!("adding packet comments: {e}")))
    })
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
            // Bundle-derived text (Go's stderr, names) must not drive the terminal.
            crate::term::escape(&gotrace_analyzer::render_text(report))
        )
    };
}
