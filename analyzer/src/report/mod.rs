//! The report: the verdict plus warnings, as `verdict.json` / `--json`
//! ([`Report::to_json`]) and as the terminal text ([`render_text`]).
//!
//! This module holds the data and its JSON shape; `text` words it for the
//! terminal.

#[cfg(test)]
mod tests;
mod text;

use serde::Serialize;

use crate::cause::{Cause, Layer, Missing, Target};
use crate::correlate::{Source, Step};
use gotrace_bundle::ExitStatus;
pub use text::render_text;
pub(crate) use text::{ended, speaker};

/// Which engine decided a verdict (`analysis` in verdict.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Analysis {
    /// A trace bundle: syscalls, kernel records and the capture
    /// ([`crate::verdict`]).
    Bundle,
    /// A bare pcap/pcapng capture ([`crate::capture_only`]).
    CaptureOnly,
}

impl PartialEq<&str> for Analysis {
    fn eq(&self, other: &&str) -> bool {
        let id = match self {
            Analysis::Bundle => "bundle",
            Analysis::CaptureOnly => "capture-only",
        };
        id == *other
    }
}

/// The decision, as stored in `verdict.json` (without `warnings`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Failure layer.
    pub layer: Layer,
    /// Cause id; its layer is `layer`.
    pub cause: Cause,
    /// The failing stage was still pending when the run ended (Ctrl-C, a
    /// signal, `--duration`, a detach): the cause is its state then.
    pub pending: bool,
    /// One sentence saying what happened.
    pub summary: String,
    /// What was being reached.
    pub target: Option<Target>,
    /// Events and packets that prove it.
    pub evidence: Vec<Step>,
    /// One line of advice.
    pub remediation: String,
    /// What would have been needed to decide (for `inconclusive`).
    pub missing: Vec<Missing>,
    /// Other failed attempts, one line each.
    pub other_failures: Vec<String>,
    /// Which engine decided.
    pub analysis: Analysis,
}

/// Most timeline lines printed.
const TIMELINE_MAX: usize = 14;

/// The result of an analysis. Serializes as the flat `verdict.json`
/// object (the same as [`Report::to_json`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The decision.
    pub verdict: Verdict,
    /// Problems with the input (truncation, missing files, lost events).
    pub warnings: Vec<String>,
    /// What the text report needs besides the verdict.
    pub context: Context,
}

/// Run facts for the text report (not part of `verdict.json`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The traced command line.
    pub argv: Vec<String>,
    /// How it ended, if known.
    pub exit: Option<ExitStatus>,
    /// Traced duration, ms.
    pub duration_ms: Option<f64>,
    /// Decisive steps, in time order.
    pub timeline: Vec<Step>,
    /// The line of stderr that states Go's error.
    pub go_error: Option<String>,
    /// Events read from `events.jsonl` (`None` without it).
    pub events: Option<usize>,
    /// Network attempts found.
    pub attempts: usize,
    /// Packets read from the capture (`None` without a capture).
    pub packets: Option<u64>,
    /// Events the tracer's ring buffer could not take (meta.json `lost_events`).
    pub lost_events: u64,
    /// Packets the capture socket dropped (meta.json `dropped_packets`).
    pub dropped_packets: u64,
    /// Set for a `gotrace attach` bundle: the header then names the PID and
    /// says how the trace ended.
    pub attached: Option<Attached>,
    /// The timeline's connection was open before gotrace attached: what the
    /// snapshot said of it ([`crate::correlate::Attempt::at_attach`]), shown
    /// first, since its socket() and connect() are not in the trace.
    pub before_attach: Option<String>,
    /// Set for a capture-only analysis ([`crate::capture_only`]): the header then
    /// names the capture and the footer counts what it held.
    pub capture: Option<CaptureFacts>,
}

/// What a capture-only analysis read, for the text report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaptureFacts {
    /// The file name, `standard input`, or empty when not known.
    pub source: String,
    /// Packet records read (numbered as Wireshark numbers frames).
    pub packets: u64,
    /// Time from the first to the last packet, ms.
    pub span_ms: Option<f64>,
    /// One line of counts: connections, DNS exchanges, ICMP errors.
    pub seen: String,
}

/// What a `gotrace attach` bundle says about the attach (meta.json `attach`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attached {
    /// The PID attached to.
    pub pid: u32,
    /// Why tracing stopped: `exited`, `interrupted` (gotrace detached on
    /// Ctrl-C or a signal), `duration` (`--duration` elapsed); `None` when
    /// gotrace was killed.
    pub ended_by: Option<String>,
}

/// The version of the verdict object (`verdict.json`, `--json`; its
/// schema is docs/verdict.schema.json): bumped whenever its keys or their
/// meaning change.
pub const VERDICT_FORMAT_VERSION: u32 = 1;

/// `verdict.json`'s flat object, fields in documented order.
#[derive(Serialize)]
struct JsonOut<'a> {
    format_version: u32,
    layer: Layer,
    cause: Cause,
    /// Only when true: absent means the stage ended on its own.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pending: bool,
    summary: &'a str,
    target: &'a Option<Target>,
    evidence: &'a [Step],
    remediation: &'a str,
    missing: &'a [Missing],
    other_failures: &'a [String],
    warnings: &'a [String],
    analysis: Analysis,
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json_out().serialize(s)
    }
}

impl Report {
    fn json_out(&self) -> JsonOut<'_> {
        let v = &self.verdict;
        JsonOut {
            format_version: VERDICT_FORMAT_VERSION,
            layer: v.layer,
            cause: v.cause,
            pending: v.pending,
            summary: &v.summary,
            target: &v.target,
            evidence: &v.evidence,
            remediation: &v.remediation,
            missing: &v.missing,
            other_failures: &v.other_failures,
            warnings: &self.warnings,
            analysis: v.analysis,
        }
    }

    /// The verdict object of bundle/BUNDLE.md (`verdict.json`, `--json`),
    /// pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.json_out()).unwrap_or_else(|e| {
            format!("{{\"layer\":\"inconclusive\",\"cause\":\"insufficient-evidence\",\"summary\":\"report serialization failed: {e}\"}}")
        })
    }
}

/// A line repeated this often (SYN retransmits, their drops) shows only
/// its first and last time.
const FOLD_FROM: usize = 3;

/// Keeps the evidence steps and the ends of a long attempt; a line that
/// repeats (retransmitted SYNs, the kernel dropping each) is folded to its
/// first and last time, the first saying how many there were.
pub(crate) fn trim_timeline(steps: &[Step], evidence: &[Step]) -> Vec<Step> {
    let is_evidence = |s: &Step| {
        evidence
            .iter()
            .any(|e| e.source == s.source && e.id == s.id)
    };
    // (source is a packet, text) -> (count, first index, last index)
    let mut seen: std::collections::HashMap<(bool, &str), (usize, usize, usize)> =
        std::collections::HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        let e = seen
            .entry((s.source == Source::Packet, s.text.as_str()))
            .or_insert((0, i, i));
        e.0 += 1;
        e.2 = i;
    }
    let mut folded: Vec<Step> = Vec::with_capacity(steps.len());
    for (i, s) in steps.iter().enumerate() {
        let (n, first, last) = seen
            .get(&(s.source == Source::Packet, s.text.as_str()))
            .copied()
            .unwrap_or((1, i, i));
        if n >= FOLD_FROM && i == first {
            let mut f = s.clone();
            f.text = format!("{}  [x{n}]", s.text);
            folded.push(f);
        } else if n < FOLD_FROM || is_evidence(s) || i == last {
            folded.push(s.clone());
        }
    }
    let steps = &folded[..];
    if steps.len() <= TIMELINE_MAX {
        return steps.to_vec();
    }
    let n = steps.len();
    steps
        .iter()
        .enumerate()
        .filter(|(i, s)| *i < 3 || *i + 3 >= n || is_evidence(s))
        .map(|(_, s)| s.clone())
        .take(TIMELINE_MAX * 2)
        .collect()
}
