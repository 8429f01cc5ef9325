//! The report: the verdict plus warnings, as `verdict.json` / `--json`
//! ([`Report::to_json`]) and as the terminal text ([`render_text`]).

use serde::Serialize;

use crate::bundle::ExitStatus;
use crate::cause::{Cause, Layer, Missing, Target};
use crate::correlate::{Source, Step};

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

/// `verdict.json`'s flat object, fields in documented order.
#[derive(Serialize)]
struct JsonOut<'a> {
    layer: Layer,
    cause: Cause,
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
            layer: v.layer,
            cause: v.cause,
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

    /// The verdict object of docs/BUNDLE.md (`verdict.json`, `--json`),
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

/// `attached to PID 4242 (`go mod tidy`) for 5021 ms; it exited with status 1`.
fn attach_header(at: &Attached, c: &Context, cmd: &str) -> String {
    let how = match (c.exit, at.ended_by.as_deref()) {
        (None, None) => "the trace was not finished (gotrace was killed?)".to_string(),
        (exit, by) => format!("it {}", ended(exit, by)),
    };
    let dur = c
        .duration_ms
        .map(|d| format!(" for {d:.0} ms"))
        .unwrap_or_default();
    format!("attached to PID {} ({cmd}){dur}; {how}", at.pid)
}

fn cite(s: &Step) -> String {
    match s.source {
        Source::Event => format!("#{}", s.id),
        Source::Packet => format!("pkt {}", s.id),
    }
}

fn ms(t: Option<f64>) -> String {
    t.map(|t| format!("{t:.2}")).unwrap_or_else(|| "?".into())
}

/// The terminal report: a short timeline of the decisive steps, then the
/// verdict with target, evidence, advice and caveats.
pub fn render_text(r: &Report) -> String {
    let v = &r.verdict;
    let c = &r.context;
    let mut out = String::new();
    let cmd = if c.argv.is_empty() {
        "the command".to_string()
    } else {
        // One short line: argv may hold whole scripts (`sh -c '...'`).
        let full = c.argv.join(" ");
        let line: String = full.lines().next().unwrap_or("").chars().take(72).collect();
        let cut = if line.len() < full.len() { " ..." } else { "" };
        format!("`{line}{cut}`")
    };
    let how = match c.exit {
        Some(ExitStatus::Code(0)) => "succeeded".to_string(),
        Some(ExitStatus::Code(n)) => format!("exited with status {n}"),
        Some(ExitStatus::Signal(s)) => format!("was killed by signal {s}"),
        None => "did not finish while traced".to_string(),
    };
    let dur = c
        .duration_ms
        .map(|d| format!(" after {d:.0} ms"))
        .unwrap_or_default();
    match (&c.capture, &c.attached) {
        (Some(cf), _) => out.push_str(&format!("\ngotrace: {}\n", capture_header(cf))),
        (None, None) => out.push_str(&format!("\ngotrace: {cmd} {how}{dur}\n")),
        (None, Some(at)) => out.push_str(&format!("\ngotrace: {}\n", attach_header(at, c, &cmd))),
    }

    if !c.timeline.is_empty() {
        out.push_str(if c.capture.is_some() {
            "\n  ms since the first packet\n"
        } else {
            "\n  ms since start\n"
        });
        if let Some(line) = &c.before_attach {
            out.push_str(&format!(
                "  {:>9}  {:<7} {line} (socket() and connect() happened before the attach)\n",
                "before", "attach"
            ));
        }
        for s in &c.timeline {
            out.push_str(&format!("  {:>9}  {:<7} {}\n", ms(s.t_ms), cite(s), s.text));
        }
    }
    if let Some(line) = c.go_error.as_ref().filter(|_| v.layer != Layer::None) {
        if c.timeline.is_empty() {
            let who = speaker(&c.argv);
            out.push_str(&format!("\n  {who} said: {line}\n"));
        } else {
            out.push_str(&format!("  {:>9}  {:<7} {}\n", "end", "go", line));
        }
    }

    let what = v.layer.verdict_words();
    out.push_str(&format!(
        "\nverdict: {what} ({} / {})\n",
        v.layer.as_str(),
        v.cause
    ));
    out.push_str(&format!("  {}\n", v.summary));
    if let Some(t) = &v.target {
        let addr = t.addr().unwrap_or_default();
        let name = t
            .name
            .as_deref()
            .map(|n| format!("{n} "))
            .unwrap_or_default();
        out.push_str(&format!("  target:   {name}{addr}\n"));
    }
    if !v.evidence.is_empty() {
        let ids: Vec<String> = v
            .evidence
            .iter()
            .map(|e| match e.source {
                Source::Event => format!("event #{}", e.id),
                Source::Packet => format!("pkt {}", e.id),
            })
            .collect();
        out.push_str(&format!("  evidence: {}\n", ids.join(", ")));
    }
    if !v.remediation.is_empty() && v.layer != Layer::None {
        out.push_str(&format!("  fix:      {}\n", v.remediation));
    }
    if !v.missing.is_empty() {
        let missing: Vec<String> = v.missing.iter().map(Missing::to_string).collect();
        out.push_str(&format!("  missing:  {}\n", missing.join("; ")));
    }
    if !v.other_failures.is_empty() {
        out.push_str("  also failed:\n");
        for o in &v.other_failures {
            out.push_str(&format!("    - {o}\n"));
        }
    }
    if let Some(cf) = &c.capture {
        out.push_str(&format!("  capture:  {}\n", cf.seen));
        push_warnings(&mut out, &r.warnings);
        return out;
    }
    let events = c
        .events
        .map(|n| format!("{n} events ({} lost)", c.lost_events))
        .unwrap_or_else(|| "no events".into());
    let packets = c
        .packets
        .map(|n| format!("{n} packets ({} dropped)", c.dropped_packets))
        .unwrap_or_else(|| "no capture".into());
    out.push_str(&format!(
        "  trace:    {events}, {} network attempt{}, {packets}\n",
        c.attempts,
        if c.attempts == 1 { "" } else { "s" }
    ));
    push_warnings(&mut out, &r.warnings);
    out
}

fn push_warnings(out: &mut String, warnings: &[String]) {
    if !warnings.is_empty() {
        out.push_str("  warnings:\n");
        for w in warnings {
            out.push_str(&format!("    - {w}\n"));
        }
    }
}

/// `capture-only analysis of x.pcap: 9 packets over 8.0 s`.
fn capture_header(cf: &CaptureFacts) -> String {
    let of = if cf.source.is_empty() {
        String::new()
    } else {
        format!(" of {}", cf.source)
    };
    let over = cf
        .span_ms
        .map(|ms| format!(" over {:.1} s", ms / 1000.0))
        .unwrap_or_default();
    format!(
        "capture-only analysis{of}: {} packet{}{over}",
        cf.packets,
        if cf.packets == 1 { "" } else { "s" }
    )
}

/// How the traced process ended, completing "the command ...": `exited
/// with status 1`, `was killed by signal 9`; without an exit status,
/// from `ended_by` (meta.json `attach.ended_by`, `None` for `gotrace run`):
/// `was still running when gotrace detached (Ctrl-C)` (`interrupted`),
/// `... (--duration elapsed)` (`duration`), `exited, but its status was not
/// recorded` (`exited`), else `did not finish while traced`.
pub(crate) fn ended(exit: Option<ExitStatus>, ended_by: Option<&str>) -> String {
    match (exit, ended_by) {
        (Some(ExitStatus::Code(c)), _) => format!("exited with status {c}"),
        (Some(ExitStatus::Signal(s)), _) => format!("was killed by signal {s}"),
        (None, Some("interrupted")) => "was still running when gotrace detached (Ctrl-C)".into(),
        (None, Some("duration")) => {
            "was still running when gotrace detached (--duration elapsed)".into()
        }
        (None, Some("exited")) => "exited, but its status was not recorded".into(),
        (None, _) => "did not finish while traced".into(),
    }
}

/// "Go" when the traced command is the go tool, else "the command".
pub(crate) fn speaker(argv: &[String]) -> &'static str {
    let prog = argv.first().map(|a| a.rsplit('/').next().unwrap_or(a));
    if prog == Some("go") {
        "Go"
    } else {
        "the command"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(layer: Layer) -> Report {
        Report {
            verdict: Verdict {
                layer,
                cause: Cause::NoRoute,
                summary: "connect() failed".into(),
                target: Some(Target {
                    name: None,
                    ip: Some("2001:db8::2".into()),
                    port: Some(443),
                }),
                evidence: vec![Step {
                    source: Source::Event,
                    id: 4,
                    t_ms: Some(1.25),
                    text: "connect(fd 3, [2001:db8::2]:443) = -ENETUNREACH".into(),
                }],
                remediation: "add a route".into(),
                missing: vec![],
                other_failures: vec!["x".into()],
                analysis: Analysis::Bundle,
            },
            warnings: vec!["w".into()],
            context: Context {
                argv: vec!["go".into(), "mod".into(), "tidy".into()],
                exit: Some(ExitStatus::Code(1)),
                ..Context::default()
            },
        }
    }

    #[test]
    fn json_keys_in_documented_order() {
        let j = report(Layer::Kernel).to_json();
        let order = [
            "\"layer\"",
            "\"cause\"",
            "\"summary\"",
            "\"target\"",
            "\"evidence\"",
            "\"remediation\"",
            "\"missing\"",
            "\"other_failures\"",
            "\"warnings\"",
            "\"analysis\"",
        ];
        let pos: Vec<usize> = order.iter().map(|k| j.find(k).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{j}");
        assert!(j.contains("\"layer\": \"kernel\""));
    }

    #[test]
    fn text_has_timeline_verdict_and_caveats() {
        let mut r = report(Layer::Kernel);
        r.context.timeline = r.verdict.evidence.clone();
        let t = render_text(&r);
        assert!(t.contains("`go mod tidy` exited with status 1"), "{t}");
        assert!(t.contains("     1.25  #4      connect(fd 3"), "{t}");
        assert!(t.contains("kernel / no-route"), "{t}");
        assert!(t.contains("target:   [2001:db8::2]:443"), "{t}");
        assert!(t.contains("evidence: event #4"), "{t}");
        assert!(t.contains("fix:      add a route"), "{t}");
        assert!(t.contains("    - x") && t.contains("    - w"), "{t}");
    }

    #[test]
    fn repeated_lines_fold_to_first_and_last() {
        let step = |id: u64, text: &str| Step {
            source: Source::Packet,
            id,
            t_ms: Some(id as f64),
            text: text.into(),
        };
        let mut steps = vec![step(1, "connect")];
        steps.extend((2..=7).map(|i| step(i, "[SYN]")));
        steps.push(step(8, "close"));
        let ev = vec![steps[3].clone()];
        let t = trim_timeline(&steps, &ev);
        let got: Vec<(u64, &str)> = t.iter().map(|s| (s.id, s.text.as_str())).collect();
        assert_eq!(
            got,
            [
                (1, "connect"),
                (2, "[SYN]  [x6]"),
                (4, "[SYN]"),
                (7, "[SYN]"),
                (8, "close")
            ]
        );
    }

    #[test]
    fn long_timelines_keep_evidence_and_ends() {
        let steps: Vec<Step> = (1..=40)
            .map(|i| Step {
                source: Source::Event,
                id: i,
                t_ms: Some(i as f64),
                text: format!("step {i}"),
            })
            .collect();
        let ev = vec![steps[19].clone()];
        let t = trim_timeline(&steps, &ev);
        let ids: Vec<u64> = t.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 20, 38, 39, 40]);
    }

    #[test]
    fn speaker_is_go_only_for_go() {
        assert_eq!(speaker(&["/usr/lib/go/bin/go".into(), "mod".into()]), "Go");
        assert_eq!(speaker(&["sh".into()]), "the command");
        assert_eq!(speaker(&[]), "the command");
    }
}
