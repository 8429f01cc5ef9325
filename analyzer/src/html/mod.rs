//! report.html: one self-contained page (inline CSS and SVG, no script,
//! nothing fetched) with the verdict, its evidence linked to the steps
//! and packet numbers it cites, Go's error, the fix, the Go settings the
//! command ran with, and a timeline of every attempt's stages.
//!
//! Everything shown comes from a bundle or capture made by someone else:
//! every text goes through [`esc`], and the page holds no link that
//! leaves it.

mod timeline;
mod view;

use std::fmt::Write as _;

pub(crate) use view::attempts;
pub use view::{AttemptView, Stage};

use crate::correlate::{Source, Step};
use crate::report::Report;

/// The variables of meta.json's environment shown under "Go settings",
/// in this order (the ones that route a fetch or its checksum lookup).
const SETTINGS: &[&str] = &[
    "GOPROXY",
    "GOPRIVATE",
    "GONOPROXY",
    "GONOSUMDB",
    "GOSUMDB",
    "GOINSECURE",
    "GOFLAGS",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "NO_PROXY",
    "no_proxy",
];

/// What the page shows besides the report.
#[derive(Debug, Clone, Default)]
pub struct HtmlInput {
    /// The attempts drawn ([`view::MAX_ATTEMPTS`] at most).
    pub attempts: Vec<AttemptView>,
    /// Attempts left out by that bound.
    pub attempts_omitted: usize,
    /// (name, value) of the Go settings in the environment (already
    /// redacted as meta.json holds them).
    pub settings: Vec<(String, String)>,
}

impl HtmlInput {
    /// The [`SETTINGS`] found in `env`, in that order.
    pub(crate) fn settings_from(
        env: &std::collections::BTreeMap<String, String>,
    ) -> Vec<(String, String)> {
        SETTINGS
            .iter()
            .filter_map(|k| env.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect()
    }
}

/// The page for `report`, with `input`'s attempts and settings.
pub fn render_html(report: &Report, input: &HtmlInput) -> String {
    let v = &report.verdict;
    let c = &report.context;
    let mut h = String::with_capacity(64 * 1024);
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>gotrace: {}</title><style>{}</style></head><body>",
        esc(&v.summary),
        STYLE
    );
    let layer = serde_json::to_value(v.layer)
        .ok()
        .and_then(|x| x.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<header class=\"layer-{layer}\"><h1 id=\"verdict\"><span class=\"layer\">{}</span> <span class=\"cause\">{}</span>{}</h1><p class=\"summary\">{}</p></header>",
        esc(&layer),
        esc(v.cause.as_str()),
        if v.pending { " <span class=\"pending\">pending when the run ended</span>" } else { "" },
        esc(&v.summary)
    );
    if !c.argv.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"cmd\">command: <code>{}</code></p>",
            esc(&c.argv.join(" "))
        );
    }
    if let Some(e) = &c.go_error {
        let _ = writeln!(
            h,
            "<section><h2>Go said</h2><pre class=\"goerr\">{}</pre></section>",
            esc(e)
        );
    }
    if !v.remediation.is_empty() {
        let _ = writeln!(
            h,
            "<section id=\"fix\"><h2>What to do</h2><p>{}</p></section>",
            esc(&v.remediation)
        );
    }
    evidence(&mut h, &v.evidence, &input.attempts);
    if !v.missing.is_empty() {
        h.push_str("<section><h2>What the trace lacks</h2><ul>");
        for m in &v.missing {
            let _ = write!(h, "<li>{}</li>", esc(&m.to_string()));
        }
        h.push_str("</ul></section>\n");
    }
    timeline::render(&mut h, &input.attempts, &v.evidence);
    if input.attempts_omitted > 0 {
        let _ = write!(h, "<p class=\"note\">{} more attempts are not drawn (the page keeps the cited and failed ones first).</p>", input.attempts_omitted);
    }
    attempts_detail(&mut h, &input.attempts, &v.evidence);
    if !v.other_failures.is_empty() {
        h.push_str("<section><h2>Also failed</h2><ul>");
        for o in &v.other_failures {
            let _ = write!(h, "<li>{}</li>", esc(o));
        }
        h.push_str("</ul></section>\n");
    }
    settings(&mut h, &input.settings);
    if !report.warnings.is_empty() {
        h.push_str("<section><h2>Warnings</h2><ul>");
        for w in &report.warnings {
            let _ = write!(h, "<li>{}</li>", esc(w));
        }
        h.push_str("</ul></section>\n");
    }
    h.push_str("<footer>Packet numbers are Wireshark's frame numbers in capture.pcapng; event numbers are line ids in events.jsonl. Re-analyse with <code>gotrace analyze</code>.</footer>\n</body></html>\n");
    h
}

/// The anchor of a step in the attempt tables: `pkt-N` or `ev-N`.
pub(crate) fn anchor(source: Source, id: u64) -> String {
    match source {
        Source::Packet => format!("pkt-{id}"),
        Source::Event => format!("ev-{id}"),
    }
}

/// `pkt N` / `event N`, as the text report names them.
pub(crate) fn step_name(s: &Step) -> String {
    match s.source {
        Source::Packet => format!("pkt {}", s.id),
        Source::Event => format!("event {}", s.id),
    }
}

/// The cited steps, each linked to its row when an attempt table lists it
/// (a capture-only report has no tables: plain text then).
fn evidence(h: &mut String, ev: &[Step], attempts: &[AttemptView]) {
    if ev.is_empty() {
        return;
    }
    h.push_str("<section id=\"evidence\"><h2>Evidence</h2><ol class=\"evidence\">");
    for s in ev {
        let listed = attempts
            .iter()
            .any(|a| a.steps.iter().any(|x| x.source == s.source && x.id == s.id));
        let name = esc(&step_name(s));
        let name = if listed {
            format!("<a href=\"#{}\">{name}</a>", anchor(s.source, s.id))
        } else {
            format!("<b>{name}</b>")
        };
        let _ = write!(
            h,
            "<li>{name} <span class=\"t\">{}</span> {}</li>",
            ms(s.t_ms),
            esc(&s.text)
        );
    }
    h.push_str("</ol></section>\n");
}

fn attempts_detail(h: &mut String, attempts: &[AttemptView], ev: &[Step]) {
    if attempts.is_empty() {
        return;
    }
    h.push_str("<section id=\"attempts\"><h2>Every attempt, step by step</h2>");
    for a in attempts {
        let _ = write!(
            h,
            "<details id=\"attempt-{}\"{}><summary>attempt {} &middot; PID {} {} &middot; {} &middot; {}</summary><table><tr><th>step</th><th>ms</th><th>what</th></tr>",
            a.number,
            if a.cited { " open class=\"cited\"" } else { "" },
            a.number,
            a.pid,
            esc(&a.comm),
            esc(&a.flow),
            a.stages.iter().map(|s| s.name).collect::<Vec<_>>().join(" &rarr; ")
        );
        for s in &a.steps {
            let cited = ev.iter().any(|e| e.source == s.source && e.id == s.id);
            let _ = write!(
                h,
                "<tr id=\"{}\"{}><td>{}</td><td>{}</td><td>{}</td></tr>",
                anchor(s.source, s.id),
                if cited { " class=\"cited\"" } else { "" },
                esc(&step_name(s)),
                ms(s.t_ms),
                esc(&s.text)
            );
        }
        if a.steps_omitted > 0 {
            let _ = write!(
                h,
                "<tr><td colspan=\"3\">{} more steps not listed</td></tr>",
                a.steps_omitted
            );
        }
        h.push_str("</table></details>\n");
    }
    h.push_str("</section>\n");
}

fn settings(h: &mut String, s: &[(String, String)]) {
    h.push_str("<section id=\"settings\"><h2>Go settings used</h2>");
    if s.is_empty() {
        h.push_str("<p>None of GOPROXY, GOPRIVATE, GONOSUMDB, GOSUMDB, GOFLAGS or the proxy variables was set: Go used its defaults (GOPROXY=https://proxy.golang.org,direct, GOSUMDB=sum.golang.org).</p>");
    } else {
        h.push_str("<table>");
        for (k, v) in s {
            let _ = write!(
                h,
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                esc(k),
                esc(v)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>\n");
}

fn ms(t: Option<f64>) -> String {
    t.map_or_else(|| "-".into(), |t| format!("{t:.1} ms"))
}

/// `s` safe as HTML text or a double-quoted attribute: `& < > " '`
/// escaped, control characters other than newline and tab shown as
/// U+FFFD (a stranger's bundle must not shape the page).
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#1b1b1b}\
header{border-left:8px solid #888;padding:.4em 1em;background:#f6f6f6}\
header.layer-network{border-color:#c0392b}header.layer-kernel{border-color:#d68910}\
header.layer-before-syscall{border-color:#7d3c98}header.layer-none{border-color:#229954}header.layer-inconclusive{border-color:#566573}\
h1{font-size:1.4em;margin:.2em 0}h1 .layer{text-transform:uppercase;letter-spacing:.05em}h1 .cause{font-family:monospace;color:#444}\
.pending{font-size:.7em;background:#fdebd0;padding:.1em .4em;border-radius:3px}\
h2{font-size:1.1em;margin-top:1.4em;border-bottom:1px solid #ddd}\
pre.goerr{background:#fbeeee;padding:.6em;white-space:pre-wrap}code{font-family:monospace}\
ol.evidence li{margin:.2em 0}.t{color:#777;font-size:.9em}\
table{border-collapse:collapse;font-size:.92em}td,th{padding:.15em .6em;text-align:left;vertical-align:top}\
tr.cited{background:#fdedec;font-weight:600}details{margin:.3em 0}details.cited>summary{font-weight:600;color:#a93226}\
svg text{font:11px monospace}.note,footer{color:#666;font-size:.9em;margin-top:1.5em}";

#[cfg(test)]
mod tests;
