//! The timeline: one SVG row per attempt, its stages as bars on a shared
//! time axis, each step a tick (packets below the bar, syscalls above),
//! the verdict's cited steps red and linked to their table rows, and Go's
//! 30 s dial deadline where a dial was still unanswered.

use std::fmt::Write as _;

use super::view::AttemptView;
use super::{anchor, esc, step_name};
use crate::correlate::{Source, Step};

/// Go's dial deadline for module fetches (cmd/go's HTTP client): the
/// time after which a dial still without SYN-ACK gives `i/o timeout`.
const GO_DIAL_DEADLINE_MS: f64 = 30_000.0;
const LABEL_W: f64 = 330.0;
const PLOT_W: f64 = 720.0;
const ROW_H: f64 = 34.0;
const TOP: f64 = 26.0;

fn stage_colour(name: &str) -> &'static str {
    match name {
        "DNS" => "#5dade2",
        "TCP connect" => "#58d68d",
        "TLS" => "#f5b041",
        "HTTP" => "#af7ac5",
        _ => "#aab7b8",
    }
}

pub(super) fn render(h: &mut String, attempts: &[AttemptView], evidence: &[Step]) {
    if attempts.is_empty() {
        return;
    }
    let t0 = attempts
        .iter()
        .map(|a| a.start_ms)
        .fold(f64::INFINITY, f64::min);
    let t1 = attempts
        .iter()
        .map(|a| a.end_ms)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = (t1 - t0).max(1.0);
    let x = |t: f64| LABEL_W + (t - t0) / span * PLOT_W;
    let height = TOP + ROW_H * attempts.len() as f64 + 10.0;
    let _ = write!(
        h,
        "<section id=\"timeline\"><h2>Timeline</h2><p class=\"note\">One row per attempt; bars are stages (<span style=\"color:#5dade2\">DNS</span>, <span style=\"color:#58d68d\">TCP connect</span>, <span style=\"color:#f5b041\">TLS</span>, <span style=\"color:#af7ac5\">HTTP</span>); ticks above are syscalls, below are packets; red ticks are the verdict's evidence.</p>\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\">",
        w = LABEL_W + PLOT_W + 20.0
    );
    // Axis: start, middle, end.
    for (i, t) in [t0, t0 + span / 2.0, t1].into_iter().enumerate() {
        let anchor_pos = ["start", "middle", "end"][i];
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"14\" text-anchor=\"{anchor_pos}\">{:.1} ms</text><line x1=\"{0:.1}\" y1=\"18\" x2=\"{0:.1}\" y2=\"{height}\" stroke=\"#eee\"/>",
            x(t),
            t
        );
    }
    for (row, a) in attempts.iter().enumerate() {
        let y = TOP + ROW_H * row as f64;
        let mid = y + ROW_H / 2.0;
        let weight = if a.cited { "bold" } else { "normal" };
        let _ = write!(
            h,
            "<a href=\"#attempt-{}\"><text x=\"4\" y=\"{:.1}\" font-weight=\"{weight}\">{} {} PID {}</text><text x=\"4\" y=\"{:.1}\" fill=\"#555\">{}</text></a>",
            a.number,
            mid - 3.0,
            a.number,
            esc(&a.comm),
            a.pid,
            mid + 10.0,
            esc(&a.flow)
        );
        for s in &a.stages {
            let (x0, x1) = (x(s.start_ms), x(s.end_ms).max(x(s.start_ms) + 2.0));
            let _ = write!(
                h,
                "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\" fill=\"{}\"><title>{} {:.1}-{:.1} ms</title></rect>",
                mid - 5.0,
                x1 - x0,
                stage_colour(s.name),
                s.name,
                s.start_ms,
                s.end_ms
            );
        }
        for s in &a.steps {
            let Some(t) = s.t_ms else { continue };
            let cited = evidence
                .iter()
                .any(|e| e.source == s.source && e.id == s.id);
            let (y0, y1) = match s.source {
                Source::Event => (mid - 13.0, mid - 6.0),
                Source::Packet => (mid + 6.0, mid + 13.0),
            };
            let (colour, width) = if cited {
                ("#c0392b", 3)
            } else {
                ("#34495e", 1)
            };
            let _ = write!(
                h,
                "<a href=\"#{id}\"><line x1=\"{px:.1}\" y1=\"{y0:.1}\" x2=\"{px:.1}\" y2=\"{y1:.1}\" stroke=\"{colour}\" stroke-width=\"{width}\"><title>{name} {t:.1} ms: {text}</title></line></a>",
                id = anchor(s.source, s.id),
                px = x(t),
                name = esc(&step_name(s)),
                text = esc(&s.text)
            );
        }
        let unanswered = a
            .stages
            .last()
            .is_some_and(|s| s.name == "TCP connect" && a.stages.len() == 1);
        let deadline = a.start_ms + GO_DIAL_DEADLINE_MS;
        if unanswered && a.syns > 1 && deadline <= t1 {
            let _ = write!(
                h,
                "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#c0392b\" stroke-dasharray=\"3,2\"><title>Go's dial deadline (30 s after the dial)</title></line>",
                x(deadline),
                y + 2.0,
                y + ROW_H - 2.0
            );
        }
    }
    h.push_str("</svg></section>\n");
}
