//! Per-attempt diagnosis: what one failed TCP dial or DNS exchange proves,
//! as a [`crate::cause::Cause`]. The rules live in `tcp`, `dns` and `app`
//! (each module's doc lists them);
//! this module holds what they share: the [`Diagnosis`], how strongly Go's
//! stderr points at an attempt, and the target it names.
//!
//! Every rule needs two independent witnesses (a syscall result and the
//! wire, or a syscall result and the kernel's own drop record); with one
//! missing it says `inconclusive` and what is missing.

mod app;
mod dns;
mod names;
mod route;
mod source_address;
mod stage;
mod tcp;

use std::borrow::Cow;
use std::net::SocketAddr;

pub use names::DnsNames;

use super::Input;
use crate::cause::errno_layer;
use crate::cause::{Cause, Layer, Missing, Target};
use crate::correlate::{sent_near, Attempt, Kind, Step, Truncated};
use crate::proto::errno;
use crate::proto::goerr::GoClues;

/// What one failed attempt proves.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// Index of the attempt in [`crate::correlate::Correlation::attempts`].
    pub attempt: usize,
    /// The attempt's start, CLOCK_MONOTONIC ns.
    pub start_ns: u64,
    /// What this attempt's evidence proves, else
    /// [`Cause::InsufficientEvidence`]; its layer is the attempt's.
    pub cause: Cause,
    /// One sentence.
    pub summary: String,
    /// The decisive events and packets.
    pub evidence: Vec<Step>,
    /// What would be needed to decide.
    pub missing: Vec<Missing>,
    /// What was being reached.
    pub target: Target,
    /// How well Go's stderr matches this attempt (0 = not mentioned).
    pub stderr_score: u32,
    /// The attempt just has no recorded result (e.g. cancelled by Go).
    pub no_outcome: bool,
    /// The stage was still pending when the trace ended (a signal,
    /// `--duration`, a detach), long enough to be judged by its evidence
    /// so far: the cause is its state at the end.
    pub interrupted: bool,
    /// Advice when the layer is not proven but the facts point somewhere.
    pub advice: Option<String>,
    /// The words Go's error uses for this outcome (`connection refused`).
    pub go_phrase: Option<Cow<'static, str>>,
    /// Advice specific to this attempt (the rule that dropped it, the
    /// proxy variable); replaces the cause's generic remediation.
    pub fix: Option<String>,
}

impl Diagnosis {
    /// Whether a layer was proven.
    pub fn decided(&self) -> bool {
        self.cause.decided()
    }

    /// The layer the evidence proves (`Inconclusive` when undecided).
    pub fn layer(&self) -> Layer {
        self.cause.layer()
    }
}

/// Diagnoses attempt `i`; `None` when it succeeded or did nothing.
/// `names` is [`DnsNames::of`] the attempts, built once for all.
pub fn diagnose(i: usize, a: &Attempt, input: &Input<'_>, names: &DnsNames) -> Option<Diagnosis> {
    let clues = input.clues;
    // An error RCODE over TCP (RFC 7766) is judged like one over UDP.
    let dns_error = |a: &Attempt| {
        a.wire_answers
            .iter()
            .any(|m| Cause::of_rcode(m.value.rcode).is_some())
    };
    let mut d = match a.kind {
        Kind::Tcp if a.is_dns_tcp() && dns_error(a) => dns::diagnose(a, input)?,
        Kind::Tcp => tcp::diagnose(a, input)?,
        Kind::Dns => dns::diagnose(a, input)?,
    };
    d.attempt = i;
    d.start_ns = a.start_ns;
    if d.cause.rests_on_silence() && input.capture.is_none() {
        d.missing.push(Missing::Capture);
    }
    // A socket open before `gotrace attach` has no connect in the trace:
    // say why, rather than leave it looking skipped.
    if let Some(note) = a.attach_note() {
        d.summary = format!("{}; {note}", d.summary);
    }
    d.target = target(a, clues, names);
    if let Some(t) = &a.after_truncated {
        after_truncated(&mut d, a, t, input);
    }
    d.stderr_score = score(a, &d, clues, input.stderr.unwrap_or(""));
    Some(d)
}

/// A failed DNS-over-TCP connection is the lookup failing at that DNS
/// server: Go asked over TCP because its UDP answer was truncated (RFC
/// 1035 4.2.1, RFC 7766 5), and reports the TCP error as the lookup's
/// (`lookup NAME on SERVER: dial tcp SERVER: ...`).
fn after_truncated(d: &mut Diagnosis, a: &Attempt, t: &Truncated, input: &Input<'_>) {
    let server = a.peer;
    d.summary = format!(
        "the DNS server {server} was asked over TCP after its truncated UDP answer for {} (TC=1, pkt {}): {}",
        t.question, t.packet, d.summary
    );
    let step = input
        .corr
        .attempts
        .iter()
        .find_map(|o| o.packet_step(t.packet))
        .cloned();
    if let Some(s) = step {
        d.evidence.insert(0, s);
    }
    if d.target.name.is_none() {
        d.target.name = t.question.split_once(' ').map(|(_, n)| n.to_string());
    }
    if matches!(
        d.cause,
        Cause::ConnectionRefused | Cause::ConnectionReset | Cause::ConnectTimeout
    ) {
        d.fix = Some(format!("{server} truncates its UDP answers (TC=1) but cannot be reached over TCP port 53: let TCP port 53 through to it and make it listen there (RFC 7766 requires TCP), make its answers fit in UDP, or point /etc/resolv.conf at a resolver that serves TCP"));
    }
}

pub(super) fn base(cause: Cause, summary: String) -> Diagnosis {
    Diagnosis {
        attempt: 0,
        start_ns: 0,
        cause,
        summary,
        evidence: Vec::new(),
        missing: Vec::new(),
        target: Target {
            name: None,
            ip: None,
            port: None,
        },
        stderr_score: 0,
        no_outcome: false,
        interrupted: false,
        advice: None,
        go_phrase: None,
        fix: None,
    }
}

pub(super) fn undecided(summary: String, missing: Vec<Missing>) -> Diagnosis {
    let mut d = base(Cause::InsufficientEvidence, summary);
    d.missing = missing;
    d
}

/// How long (ns) a stage must have waited, unanswered, when the trace
/// ended for its silence to count: an initial SYN RTO (RFC 6298 2.1,
/// 1 s) or far longer than any DNS answer on a working path.
const PENDING_COUNTS_AFTER_NS: u64 = 1_000_000_000;

/// Whether a stage that started at `since` (CLOCK_MONOTONIC ns) and never
/// ended was pending long enough when the trace ended to be judged by its
/// evidence so far.
pub(super) fn pending_long(since: u64, input: &Input<'_>) -> bool {
    input
        .meta
        .end_monotonic_ns
        .is_some_and(|end| end.saturating_sub(since) >= PENDING_COUNTS_AFTER_NS)
}

/// Seconds from `since` to the end of the trace.
pub(super) fn secs_to_end(since: u64, input: &Input<'_>) -> f64 {
    let end = input.meta.end_monotonic_ns.unwrap_or(since);
    end.saturating_sub(since) as f64 / 1e9
}

/// How the trace ended, for "the run ended (...) while ...": the signal
/// that killed the command, or why gotrace detached.
pub(super) fn how_run_ended(input: &Input<'_>) -> String {
    let by = input
        .meta
        .attach
        .as_ref()
        .and_then(|a| a.ended_by.as_deref());
    match (input.meta.exit, by) {
        (Some(gotrace_bundle::ExitStatus::Signal(s)), _) => {
            format!("the run ended (the command was killed by signal {s})")
        }
        (None, Some("interrupted")) => "the run ended (gotrace detached: Ctrl-C)".into(),
        (None, Some("duration")) => "the run ended (gotrace detached: --duration)".into(),
        _ => "the trace ended".into(),
    }
}

pub(super) fn ev(a: &Attempt, id: Option<u64>) -> Option<Step> {
    a.event_step(id?).cloned()
}

pub(super) fn pk(a: &Attempt, number: Option<u64>) -> Option<Step> {
    a.packet_step(number?).cloned()
}

fn target(a: &Attempt, clues: &GoClues, names: &DnsNames) -> Target {
    let name = match a.kind {
        Kind::Dns => a.qname().map(str::to_string),
        Kind::Tcp => clues
            .dial_names
            .iter()
            .find(|(addr, _)| *addr == a.peer)
            .map(|(_, n)| n.clone())
            .or_else(|| names.get(a.peer.ip()).map(str::to_string)),
    };
    Target {
        name,
        ip: Some(a.peer.ip().to_string()),
        port: Some(a.peer.port()),
    }
}

/// How strongly Go's stderr points at this attempt.
fn score(a: &Attempt, d: &Diagnosis, clues: &GoClues, stderr: &str) -> u32 {
    let mut s = match a.kind {
        Kind::Tcp => {
            let mut s = 2 * u32::from(clues.dials.contains(&a.peer));
            // A TLS or HTTP failure names only the URL: its host (an IP
            // literal, or the name DNS gave this address) and port.
            let url_hit = clues.urls.iter().any(|u| {
                u.port == a.peer.port()
                    && (u
                        .addr()
                        .is_some_and(|x| x.ip().to_canonical() == a.peer.ip())
                        || d.target.name.as_deref() == Some(u.host.as_str()))
            });
            // Through a forward proxy the URL names the origin, which the
            // CONNECT or absolute-form request on this connection names too.
            let origin = a.origin();
            let via_proxy = origin.as_ref().is_some_and(|(host, port)| {
                clues
                    .urls
                    .iter()
                    .any(|u| u.port == *port && u.host == *host)
            });
            if url_hit || via_proxy {
                s = s.max(1);
            }
            if clues.tcp_peers.contains(&a.peer) {
                s = s.max(2);
                // `read tcp A->B` names our port too: the very connection.
                if a.local.is_some_and(|l| clues.tcp_locals.contains(&l)) {
                    s += 2;
                }
            }
            s
        }
        Kind::Dns => {
            let q = a.qname().map(|n| n.trim_end_matches('.'));
            let mut s = 0;
            for (name, server) in &clues.lookups {
                let server_ok = server.is_none_or(|sv| sv == a.peer);
                let name_ok = q == Some(name.as_str());
                s = s.max(match (server_ok && server.is_some(), name_ok) {
                    (true, true) => 3,
                    (false, true) if server_ok => 2,
                    (true, false) => 1,
                    _ => 0,
                });
            }
            if clues.udp_peers.contains(&a.peer) {
                s = s.max(1) + 1;
                // `read udp A->B` names our port too: the very exchange.
                if a.local.is_some_and(|l| clues.udp_locals.contains(&l)) {
                    s += 2;
                }
            }
            s
        }
    };
    // Go's wording for this outcome confirms the match; another outcome's
    // wording on a line naming the same address means Go reports a
    // different attempt, so this one is excluded (score 0).
    if let (true, Some(phrase)) = (s > 0, d.go_phrase.as_deref()) {
        if stderr.contains(phrase) {
            s += 1;
        } else if lines_naming(stderr, a.peer)
            .any(|l| outcome_phrases().any(|p| p != phrase && l.contains(p)))
        {
            s = 0;
        } else {
            s = s.saturating_sub(1).max(1);
        }
    }
    s
}

/// Every outcome wording: Go's text of each failing errno of
/// [`errno_layer::TABLE`], and the DNS/timeout ones.
fn outcome_phrases() -> impl Iterator<Item = &'static str> {
    errno_layer::TABLE
        .iter()
        .filter(|r| r.nature == errno_layer::Nature::Failure)
        .map(|r| r.go_text)
        .chain(["i/o timeout", "no such host", "server misbehaving"])
}

/// Lines of `stderr` naming `peer` (`198.18.0.2:8080`, `[2001:db8::1]:80`;
/// an IPv4-mapped peer also in its IPv4 form, as Go prints it).
fn lines_naming(stderr: &str, peer: SocketAddr) -> impl Iterator<Item = &str> {
    let plain = peer.to_string();
    let canonical = SocketAddr::new(peer.ip().to_canonical(), peer.port()).to_string();
    stderr
        .lines()
        .filter(move |l| l.contains(&plain) || l.contains(&canonical))
}

/// `connect()` (TCP, or the UDP socket of a DNS exchange) returned an
/// errno itself that the errno table gives a local cause: the route lookup
/// or the socket's own setup refused it before any packet
/// (tcp_v4_connect / ip4_datagram_connect -> ip_route_connect), unless a
/// packet to the peer is in the capture anyway. `None` when connect() did
/// not fail so.
pub(super) fn refused_locally(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    let e = a.connect.as_ref().and_then(|c| errno::of_ret(c.value))?;
    let cause = errno_layer::local_cause(errno_layer::Call::Connect, e)?;
    let peer = a.peer;
    let name = errno::name(e);
    let sent = input.capture.map(|idx| sent_near(idx, a, input.clock));
    if let Some(p) = sent.as_ref().and_then(|s| s.first()) {
        let mut d = undecided(
            format!(
                "connect() to {peer} failed with {name}, yet packet {} went to {} around then",
                p.number,
                peer.ip()
            ),
            vec![Missing::ConsistentTraceRecord],
        );
        d.evidence.extend(ev(a, a.connect.as_ref().map(|c| c.id)));
        return Some(d);
    }
    let wire = if sent.is_some() {
        ", and no packet to it is in the capture"
    } else {
        ""
    };
    let refined = if e == errno::EADDRNOTAVAIL {
        source_address::addr_not_avail(peer.ip(), input.meta.local_network.as_ref())
    } else {
        None
    };
    let (cause, meaning) = match refined {
        Some(r) => r,
        None => (
            cause,
            errno_layer::lookup(e)
                .map(|r| r.local_meaning.replace("{ip}", &peer.ip().to_string()))
                .unwrap_or_default(),
        ),
    };
    // The kernel's own route lookup, where recorded, names the route.
    let (cause, meaning, lookup) = match route::judged(a, e, input.meta) {
        Some((c, why, id)) => (c, why, id),
        None => (cause, meaning, None),
    };
    let go = errno_phrase(e).unwrap_or("error");
    let mut d = base(
        cause,
        format!(
            "connect() to {peer} failed at once with {name}: {meaning}{wire} (Go: connect: {go})"
        ),
    );
    d.evidence.extend(ev(a, lookup));
    d.evidence.extend(ev(a, a.connect.as_ref().map(|c| c.id)));
    d.go_phrase = errno_phrase(e).map(Cow::Borrowed);
    Some(d)
}

/// How Go words an errno in its error text (the errno table's
/// [`errno_layer::go_text`]).
pub(super) fn errno_phrase(e: i32) -> Option<&'static str> {
    errno_layer::go_text(e)
}
