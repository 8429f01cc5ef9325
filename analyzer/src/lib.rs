//! gotrace's analyzer: reads a trace bundle (or a bare capture), correlates
//! the traced tree's syscalls with the packets on the wire, and decides where
//! a Go module fetch failed: before any syscall, in the local kernel, or on
//! the network. Pure library: no eBPF, no root.
//!
//! Entry points: [`analyze_bundle`] -> [`Report`], then [`Report::to_json`]
//! or [`render_text`] ([`analyze_open_full`] for a bundle opened from
//! handles, as `gotrace run` does at its end; [`analyze`] for one in
//! memory); for a bare pcap/pcapng capture (no bundle),
//! [`analyze_capture_path`], [`analyze_capture_input`] or
//! [`analyze_capture`] ([`capture_only`]: network-layer causes from packets
//! alone, `analysis: "capture-only"`). The pieces are public too:
//! [`capture::CaptureReader`], [`capture::CaptureIndex`], and the
//! [`proto`] decoders ([`dns`], [`icmp`], [`tls`], [`http`]).
//! [`describe::describe`] words one event as one strace-style line (the
//! live view while tracing, and the report's steps).
//!
//! Layout, one job per module, each using only those above it:
//! - [`proto`]: decoders (DNS over UDP and TCP, TLS, HTTP, ICMP, errno, Go's error text);
//! - [`gotrace_bundle`] (its own crate) and [`capture`]: the inputs (bundle
//!   files; pcap/pcapng frames, packets and the per-flow index);
//! - [`cause`]: the cause model both engines share ([`Cause`] with its layer,
//!   remediation and the evidence it needs; [`Missing`]);
//! - [`correlate`]: events -> sockets -> attempts -> packets -> kernel evidence;
//! - [`verdict`]: the bundle verdict (per-attempt rules, then the pick);
//! - [`capture_only`]: streaming trackers over a bare capture -> verdict;
//! - `report`: the [`Report`] as verdict.json and as terminal text.

#![warn(missing_docs)]

pub mod annotate;
pub mod capture;
pub mod capture_only;
pub mod cause;
pub mod clock;
pub mod correlate;
pub mod describe;
mod error;
pub mod html;
pub mod proto;
mod report;
pub mod verdict;

use std::path::Path;

pub use capture_only::{analyze_capture, analyze_capture_input, analyze_capture_path};
pub use cause::{Cause, Layer, Missing, Target};
pub use error::AnalyzeError;
// The decoders keep their short paths (`gotrace_analyzer::dns`, ...): the
// tracer, xtask and the fuzz targets use them.
pub use proto::{dns, dns_tcp, errno, http, icmp, tls};
pub use report::{
    render_text, Analysis, Attached, CaptureFacts, Context, Report, Verdict, VERDICT_FORMAT_VERSION,
};

use crate::capture::CaptureIndex;
use crate::clock::Clock;
use crate::correlate::Source;

/// Analyses the bundle directory `dir` (as written by `gotrace run`).
///
/// # Errors
/// [`AnalyzeError`] when `dir` or its `meta.json` is missing, unreadable or
/// corrupt. Damage elsewhere (events, capture) only adds warnings.
///
/// Streams `events.jsonl`: correlation keeps per-socket state and what
/// the later passes need ([`correlate::Kept`]), never every event. The
/// result is [`analyze`]'s of the whole bundle read into memory, byte for
/// byte (tests/streaming.rs compares them).
pub fn analyze_bundle(dir: &Path) -> Result<Report, AnalyzeError> {
    Ok(analyze_streaming(dir, |_| ())?.0)
}

/// [`analyze_bundle`] keeping what [`FullAnalysis`] adds (packet notes,
/// the HTML report's attempts).
///
/// # Errors
/// As [`analyze_bundle`].
pub fn analyze_bundle_full(dir: &Path) -> Result<FullAnalysis, AnalyzeError> {
    let (report, (packet_notes, html)) = analyze_streaming(dir, full_extra)?;
    Ok(FullAnalysis {
        report,
        packet_notes,
        html,
    })
}

/// The bundle in `dir` analysed with its events streamed (see
/// [`analyze_bundle`]).
fn analyze_streaming<T>(
    dir: &Path,
    extra: impl FnOnce(&Derived<'_>) -> T,
) -> Result<(Report, T), AnalyzeError> {
    let mut open = gotrace_bundle::open_bundle(dir)?;
    let capture = index_capture(&mut open.bundle);
    let again = || gotrace_bundle::open_bundle(dir).ok().and_then(|o| o.events);
    Ok(analyze_open_with(open, capture, again, extra))
}

/// [`analyze_full`] of a bundle whose events are streamed from
/// `open.events` ([`analyze_bundle`]); the capture's warnings join the
/// bundle's. `again` opens events.jsonl once more, from its start: a file
/// whose events are farther out of time order than correlation's reorder
/// window is then read whole and sorted, as [`gotrace_bundle::read_bundle`]
/// does.
pub fn analyze_open_full(
    open: gotrace_bundle::OpenBundle,
    capture: Option<CaptureIndex>,
    again: impl FnOnce() -> Option<gotrace_bundle::EventsInput>,
) -> FullAnalysis {
    let (report, (packet_notes, html)) = analyze_open_with(open, capture, again, full_extra);
    FullAnalysis {
        report,
        packet_notes,
        html,
    }
}

fn analyze_open_with<T>(
    open: gotrace_bundle::OpenBundle,
    capture: Option<CaptureIndex>,
    again: impl FnOnce() -> Option<gotrace_bundle::EventsInput>,
    extra: impl FnOnce(&Derived<'_>) -> T,
) -> (Report, T) {
    let gotrace_bundle::OpenBundle { mut bundle, events } = open;
    let clock = Clock::of(&bundle.meta);
    let Some(input) = events else {
        return analyze_in_memory(&bundle, capture, extra);
    };
    let mut stream = correlate::Stream::new(&clock, &bundle.meta);
    let mut in_order = true;
    let damaged = input.for_each(&mut bundle.warnings, |ev| {
        in_order = in_order && stream.push(ev).is_ok();
    });
    bundle.events_damaged = damaged;
    if !in_order {
        drop(stream);
        // The warnings of this second read are those of the first.
        let mut all = Vec::new();
        match again() {
            Some(input) => {
                input.for_each(&mut Vec::new(), |ev| all.push(ev));
            }
            None => {
                bundle.warnings.push("events.jsonl: its events are out of time order and the file could not be opened again to sort them: the syscall trace is not used".into());
                bundle.events_damaged = true;
            }
        }
        gotrace_bundle::sort_events(&mut all);
        bundle.events = Some(all);
        return analyze_in_memory(&bundle, capture, extra);
    }
    let (corr, kept) = stream.finish(capture.as_ref());
    let count = kept.count;
    analyze_with(&bundle, Some(count), &corr, &kept, capture, extra)
}

/// The index of the capture the bundle reader opened (never a link or
/// FIFO, not the path again), if it is readable (else a warning).
fn index_capture(b: &mut gotrace_bundle::Bundle) -> Option<CaptureIndex> {
    match (b.take_capture(), &b.capture) {
        (Some(f), Some(p)) => match CaptureIndex::from_file(f, p) {
            Ok(idx) => Some(idx),
            Err(e) => {
                b.warnings.push(format!("{e}; the capture is not used"));
                None
            }
        },
        _ => None,
    }
}

/// Analyses a bundle already read (from disk by [`gotrace_bundle::read_bundle`],
/// or from memory by [`gotrace_bundle::bundle_from_bytes`]) with its indexed
/// capture, if any; the capture's warnings join the bundle's.
pub fn analyze(b: &gotrace_bundle::Bundle, capture: Option<CaptureIndex>) -> Report {
    analyze_in_memory(b, capture, |_| ()).0
}

/// [`analyze_with`] of a bundle whose events are in memory.
fn analyze_in_memory<T>(
    b: &gotrace_bundle::Bundle,
    capture: Option<CaptureIndex>,
    extra: impl FnOnce(&Derived<'_>) -> T,
) -> (Report, T) {
    let clock = Clock::of(&b.meta);
    let events = b.events.as_deref().unwrap_or(&[]);
    let (corr, kept) = correlate::correlate_bundle_kept(events, capture.as_ref(), &clock, &b.meta);
    let count = b.events.as_ref().map(Vec::len);
    analyze_with(b, count, &corr, &kept, capture, extra)
}

/// [`analyze`]'s report with what the tracer's other outputs need.
#[derive(Debug, Clone)]
pub struct FullAnalysis {
    /// The report ([`analyze`]).
    pub report: Report,
    /// A note for every captured packet the analysis tied to an attempt of
    /// the traced tree ([`annotate`]): what the tracer writes into
    /// capture.pcapng's packet options. Empty without a capture.
    pub packet_notes: annotate::PacketNotes,
    /// The attempts and settings report.html draws ([`html`]).
    pub html: html::HtmlInput,
}

/// [`analyze`], keeping what [`FullAnalysis`] adds to the report.
pub fn analyze_full(b: &gotrace_bundle::Bundle, capture: Option<CaptureIndex>) -> FullAnalysis {
    let (report, (packet_notes, html)) = analyze_in_memory(b, capture, full_extra);
    FullAnalysis {
        report,
        packet_notes,
        html,
    }
}

/// What [`FullAnalysis`] adds to the report.
fn full_extra(d: &Derived<'_>) -> (annotate::PacketNotes, html::HtmlInput) {
    let packet_notes = d.capture.map_or_else(Default::default, |idx| {
        annotate::packet_notes(d.corr, d.kept, d.meta, idx, d.clock, d.verdict)
    });
    let (attempts, attempts_omitted) = html::attempts(d.corr, d.clock, d.verdict);
    let html = html::HtmlInput {
        attempts,
        attempts_omitted,
        settings: html::HtmlInput::settings_from(&d.meta.env),
    };
    (packet_notes, html)
}

/// What the analysis derived, for the outputs beyond the report.
struct Derived<'a> {
    meta: &'a gotrace_bundle::Meta,
    corr: &'a correlate::Correlation,
    kept: &'a correlate::Kept,
    capture: Option<&'a CaptureIndex>,
    clock: &'a Clock,
    verdict: &'a Verdict,
}

/// The report of `b`, correlated as `corr` (`events`: how many events
/// were read, `None` without events.jsonl), and what `extra` makes of the
/// analysis's intermediate results (computed only by the callers that
/// need them).
fn analyze_with<T>(
    b: &gotrace_bundle::Bundle,
    events: Option<usize>,
    corr: &correlate::Correlation,
    kept: &correlate::Kept,
    capture: Option<CaptureIndex>,
    extra: impl FnOnce(&Derived<'_>) -> T,
) -> (Report, T) {
    let mut warnings = b.warnings.clone();
    if let Some(idx) = &capture {
        warnings.extend(idx.warnings.iter().cloned());
    }
    let clock = Clock::of(&b.meta);
    // Go's stderr is read once: its clues serve the verdict and the report.
    let clues = proto::goerr::parse(b.stderr.as_deref().unwrap_or(""));
    let input = verdict::Input {
        meta: &b.meta,
        have_events: events.is_some(),
        events_damaged: b.events_damaged,
        corr,
        capture: capture.as_ref(),
        stderr: b.stderr.as_deref(),
        clues: &clues,
        clock: &clock,
    };
    let verdict = verdict::decide(&input);
    warnings.extend(correlate::retry_lines(&corr.attempts));
    // The timeline is the attempt the evidence comes from (by its events;
    // by its packets when only packets are cited, as for a dial still
    // pending when `gotrace attach` detached).
    let cites = |a: &correlate::Attempt, source: Source| {
        verdict.evidence.iter().any(|e| {
            e.source == source
                && match source {
                    Source::Event => a.event_step(e.id).is_some(),
                    Source::Packet => a.packet_step(e.id).is_some(),
                }
        })
    };
    let chosen = corr
        .attempts
        .iter()
        .find(|a| cites(a, Source::Event))
        .or_else(|| corr.attempts.iter().find(|a| cites(a, Source::Packet)));
    let timeline = chosen
        .map(|a| report::trim_timeline(&a.steps, &verdict.evidence))
        .unwrap_or_else(|| verdict.evidence.clone());
    let attached = verdict::is_attach(&b.meta).then(|| Attached {
        pid: b.meta.attach.as_ref().map_or(b.meta.root_pid, |a| a.pid),
        ended_by: b.meta.attach.as_ref().and_then(|a| a.ended_by.clone()),
    });
    let duration_ms = b.meta.end_monotonic_ns.map(|end| clock.event_ms(end));
    let context = Context {
        argv: b.meta.argv.clone(),
        exit: b.meta.exit,
        duration_ms,
        timeline,
        go_error: clues.error_line,
        events,
        attempts: corr.attempts.len(),
        packets: capture.as_ref().map(|c| c.packets),
        lost_events: b.meta.lost_events,
        dropped_packets: b.meta.dropped_packets,
        attached,
        before_attach: chosen.and_then(|a| a.at_attach()),
        capture: None,
    };
    let more = extra(&Derived {
        meta: &b.meta,
        corr,
        kept,
        capture: capture.as_ref(),
        clock: &clock,
        verdict: &verdict,
    });
    let report = Report {
        verdict,
        warnings,
        context,
    };
    (report, more)
}
