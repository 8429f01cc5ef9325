//! The terminal report: the run, the timeline of the attempt the evidence
//! comes from, the verdict with its target, evidence, advice and caveats.

use super::{Attached, CaptureFacts, Context, Report};
use crate::cause::{Layer, Missing};
use crate::correlate::{Source, Step};
use gotrace_bundle::ExitStatus;

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
