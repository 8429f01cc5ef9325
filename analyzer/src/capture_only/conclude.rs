//! The capture-only report: cross-checks the failures the trackers found,
//! orders them by their first cited packet (capture order), makes the
//! first one the verdict and lists the rest, one line each.
//!
//! Without a failure the verdict is `inconclusive`, never `none`: a
//! capture shows what crossed the wire, not that the command succeeded.
//! Its exit status, drops by this host before the capture point, and
//! errors inside TLS (an HTTP 404 in an HTTPS response) are not in it.

use std::collections::BTreeMap;

use super::dns::DnsTracker;
use super::record::{DnsFacts, Ev, Failure, Findings, Silence};
use super::Seen;
use crate::cause::{Cause, Layer, Missing};
use crate::correlate::{Source, Step};
use crate::report::{Analysis, CaptureFacts, Context, Report, Verdict};

/// First warning of every capture-only report: what it cannot judge.
pub const SCOPE: &str = "capture only: without a syscall trace the before-syscall and kernel layers cannot be judged: a packet this host's own firewall drops never reaches the capture (or looks like silence on the network), and a refusal this host makes itself looks like the peer's; run the command under `gotrace run` to see them";
/// A resolver's own upstream query this close (ns) to its error answer is
/// taken as the one that answer depended on.
const UPSTREAM_WINDOW_NS: i64 = 5_000_000_000;
/// Lines of `other_failures`.
const MAX_OTHER_LINES: usize = 10;

/// Builds the report from what the trackers found.
pub(crate) fn build(
    mut f: Findings,
    seen: &Seen,
    dns: &DnsTracker,
    reader_warnings: Vec<String>,
) -> Report {
    f.trim();
    let mut search_misses = 0u64;
    let mut failures: Vec<Failure> = Vec::with_capacity(f.failures.len());
    for mut x in std::mem::take(&mut f.failures) {
        if search_list_miss(&x, dns) {
            search_misses += 1;
            continue;
        }
        over_tcp(&mut x, dns);
        recovered(&mut x, dns);
        upstream(&mut x, &f.silences);
        failures.push(x);
    }
    failures.sort_by_key(Failure::first_pkt);
    let t0 = seen.t0;
    let chosen = failures.iter().position(|x| x.recovered.is_none());
    let mut verdict = match chosen {
        Some(i) => decided(&failures[i], t0),
        None => undecided(seen, &failures, &f),
    };
    verdict.other_failures = other_lines(&failures, chosen, f.failures_dropped);
    let mut warnings = vec![SCOPE.to_string()];
    warnings.extend(reader_warnings);
    if let Some(&(copy, orig, gap)) = seen.copies.first() {
        warnings.push(format!(
            "{} packet(s) were captured twice (pkt {copy} is a copy of pkt {orig}, {:.3} ms later) and counted once: the capture saw them on two interfaces or ports (loopback, \"any\", a mirror port), these are not retransmissions",
            seen.copies_count,
            gap as f64 / 1e6
        ));
    }
    if search_misses > 0 {
        warnings.push(format!("{search_misses} NXDOMAIN answer(s) for search-list expansions of a name (resolv.conf `search`) were followed by an answer for the name itself: not failures"));
    }
    if let Some(d) = &seen.dns_tcp.1 {
        warnings.push(d.clone());
    }
    let mut notes = std::mem::take(&mut f.notes);
    notes.extend(std::mem::take(&mut f.infos));
    notes.sort_by_key(|n| n.0);
    warnings.extend(notes.into_iter().map(|n| n.1));
    if f.notes_dropped > 0 {
        warnings.push(format!("{} more notes not listed", f.notes_dropped));
    }
    for (n, what) in [
        (seen.tcp.untracked, "TCP connections"),
        (seen.dns.untracked, "DNS exchanges"),
        (seen.dns_tcp.0, "DNS-over-TCP connections"),
        (seen.icmp.untracked, "distinct ICMP errors"),
        (seen.frag.untracked, "fragmented datagrams"),
    ] {
        if n > 0 {
            warnings.push(format!(
                "{n} {what} were not analysed: too many were open at once (memory bound)"
            ));
        }
    }
    let timeline = verdict.evidence.clone();
    let context = Context {
        timeline,
        packets: Some(seen.packets),
        capture: Some(CaptureFacts {
            source: String::new(),
            packets: seen.packets,
            span_ms: match (seen.t0, seen.t_last) {
                (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e6),
                _ => None,
            },
            seen: seen_text(seen),
        }),
        ..Context::default()
    };
    Report {
        verdict,
        warnings,
        context,
    }
}

/// An NXDOMAIN for `name.search.domain` when `name` was answered later.
fn search_list_miss(x: &Failure, dns: &DnsTracker) -> bool {
    let Some(d) = &x.dns else {
        return false;
    };
    x.cause == Cause::DnsNxdomain
        && d.bases
            .iter()
            .any(|b| dns.names.get(b).is_some_and(|&p| p > x.first_pkt()))
}

/// A TCP connection to a DNS server that failed (refused, reset, timed
/// out, ICMP) after that server sent the client a truncated UDP answer:
/// the client was asking again over TCP (RFC 1035 4.2.1, RFC 7766 5), so
/// the lookup failed at that server. Worded and named as a DNS failure,
/// with the truncated answer as evidence; the cause stays the TCP one.
fn over_tcp(x: &mut Failure, dns: &DnsTracker) {
    let (Some(client), Some(port), Some(ip)) = (
        x.client,
        x.target.port,
        x.target.ip.as_deref().and_then(|i| i.parse().ok()),
    ) else {
        return;
    };
    if port != crate::proto::dns::PORT || x.dns.is_some() {
        return;
    }
    let first = x.first_pkt();
    let Some(t) = dns
        .truncated
        .get(&(client, ip))
        .and_then(|v| v.iter().rev().find(|t| t.pkt < first))
    else {
        return;
    };
    let server = std::net::SocketAddr::new(ip, port);
    x.summary = format!(
        "the DNS server {server} could not be asked over TCP, where its truncated UDP answer for {} (TC=1, packet {}) sent {client}: {}",
        t.text, t.pkt, x.summary
    );
    x.target.name = t.qname.clone();
    x.evidence.insert(
        0,
        Ev::new(
            t.pkt,
            None,
            format!(
                "{server} > {client} DNS response NOERROR {} (TC: truncated, ask over TCP)",
                t.text
            ),
        ),
    );
    x.evidence.sort_by_key(|e| e.pkt);
    x.fix = Some(format!("{server} tells clients to ask over TCP (its UDP answers are truncated) but does not take TCP connections on port 53: let TCP port 53 through to it (RFC 7766 makes TCP support mandatory), or make its answers fit in UDP (EDNS0, fewer records)"));
    x.dns = Some(DnsFacts {
        client,
        server,
        question: t.question,
        bases: Vec::new(),
        answer_ns: None,
    });
}

/// A DNS failure whose question was answered by a later exchange.
fn recovered(x: &mut Failure, dns: &DnsTracker) {
    let Some(d) = &x.dns else {
        return;
    };
    if let Some(&p) = dns
        .answered
        .get(&d.question)
        .filter(|&&p| p > x.first_pkt())
    {
        x.recovered = Some(format!("the same question was answered later (pkt {p})"));
    }
}

/// A resolver's error answer next to its own unanswered upstream query:
/// the upstream is the one that failed.
fn upstream(x: &mut Failure, silences: &[Silence]) {
    if x.cause != Cause::DnsServerFailure {
        return;
    }
    let Some(d) = &x.dns else {
        return;
    };
    let near = |s: &&Silence| match (s.ns, d.answer_ns) {
        (Some(a), Some(b)) => a.saturating_sub(b).unsigned_abs() <= UPSTREAM_WINDOW_NS as u64,
        _ => true,
    };
    let Some(s) = silences
        .iter()
        .filter(|s| s.from == d.server.ip() && s.to != d.server)
        .find(near)
    else {
        return;
    };
    x.summary.push_str(&format!(
        "; it asked its own upstream (pkt {}) and got no answer: the resolver's upstream {} did not answer, the failure is one hop further on",
        s.pkt, s.to
    ));
    x.evidence.push(Ev::new(
        s.pkt,
        s.ns,
        format!(
            "{} > {} {} (the resolver's upstream query, unanswered)",
            s.from, s.to, s.what
        ),
    ));
    x.evidence.sort_by_key(|e| e.pkt);
}

fn steps(ev: &[Ev], t0: Option<i64>) -> Vec<Step> {
    ev.iter()
        .map(|e| Step {
            source: Source::Packet,
            id: e.pkt,
            t_ms: match (e.ns, t0) {
                (Some(t), Some(z)) => Some(t.saturating_sub(z) as f64 / 1e6),
                _ => None,
            },
            text: e.text.clone(),
        })
        .collect()
}

fn decided(x: &Failure, t0: Option<i64>) -> Verdict {
    let known = x.target.ip.is_some() || x.target.name.is_some();
    let target = known.then(|| x.target.clone());
    let advice = x
        .fix
        .clone()
        .unwrap_or_else(|| x.cause.remediation(target.as_ref(), &BTreeMap::new()));
    Verdict {
        layer: x.cause.layer(),
        cause: x.cause,
        pending: false,
        summary: x.summary.clone(),
        target,
        evidence: steps(&x.evidence, t0),
        remediation: advice,
        missing: Vec::new(),
        other_failures: Vec::new(),
        analysis: Analysis::CaptureOnly,
    }
}

fn undecided(seen: &Seen, failures: &[Failure], f: &Findings) -> Verdict {
    let summary = if seen.packets == 0 {
        "the capture holds no packets: nothing to judge".to_string()
    } else if seen.decoded == 0 {
        format!("none of the {} packets is TCP, UDP, an ICMP error or an IP fragment that gotrace decodes (ARP, pings, other link types): nothing to judge", seen.packets)
    } else {
        let mut s = format!("no failure on the wire: {}", seen_text(seen));
        if !failures.is_empty() {
            s.push_str(&format!(
                "; {} failed exchange(s) were answered on a later try",
                failures.len()
            ));
        }
        if let Some((_, first)) = f.notes.iter().min_by_key(|n| n.0) {
            s.push_str(&format!("; but {first}"));
            let more = (f.notes.len() - 1) as u64 + f.notes_dropped;
            if more > 0 {
                s.push_str(&format!(" ({more} more notes in warnings)"));
            }
        }
        s
    };
    Verdict {
        layer: Layer::Inconclusive,
        cause: Cause::InsufficientEvidence,
        pending: false,
        summary,
        target: None,
        evidence: Vec::new(),
        remediation: "run the command under `gotrace run -- CMD`: its syscalls, exit status and capture together decide; this capture alone shows no failure on the wire".into(),
        missing: vec![Missing::CommandResult],
        other_failures: Vec::new(),
        analysis: Analysis::CaptureOnly,
    }
}

/// One line per failure but the chosen one, like ones grouped (same cause
/// and target), at most [`MAX_OTHER_LINES`].
fn other_lines(failures: &[Failure], chosen: Option<usize>, dropped: u64) -> Vec<String> {
    let mut groups: Vec<(String, &Failure, Vec<&Failure>)> = Vec::new();
    for (i, x) in failures.iter().enumerate() {
        if Some(i) == chosen {
            continue;
        }
        let t = &x.target;
        let key = format!(
            "{}|{:?}|{:?}|{:?}|{}",
            x.cause,
            t.ip,
            t.port,
            t.name,
            x.recovered.is_some()
        );
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.2.push(x),
            None => groups.push((key, x, Vec::new())),
        }
    }
    let mut lines: Vec<String> = groups
        .iter()
        .take(MAX_OTHER_LINES)
        .map(|(_, x, like)| {
            let mut l = format!("{} / {}: {}", x.cause.layer().as_str(), x.cause, x.summary);
            if let Some(r) = &x.recovered {
                l.push_str(&format!(" (not fatal: {r})"));
            }
            if !like.is_empty() {
                let pkts: Vec<String> = like.iter().map(|y| y.first_pkt().to_string()).collect();
                l.push_str(&format!(
                    " (and {} more like it, from pkts {})",
                    like.len(),
                    pkts.join(", ")
                ));
            }
            l
        })
        .collect();
    let more = groups.len().saturating_sub(MAX_OTHER_LINES) as u64 + dropped;
    if more > 0 {
        lines.push(format!("... and {more} more failures"));
    }
    lines
}

/// `9 packets: 2 TCP connections (1 handshake completed), 3 DNS exchanges
/// (2 answered), 1 ICMP error`.
pub(crate) fn seen_text(s: &Seen) -> String {
    let mut parts = Vec::new();
    if s.tcp.flows > 0 {
        parts.push(format!(
            "{} TCP connection(s) ({} handshake(s) completed)",
            s.tcp.flows, s.tcp.handshakes
        ));
    }
    if s.dns.exchanges > 0 {
        let tcp = if s.dns.over_tcp > 0 || s.dns.truncated > 0 {
            format!(
                ", {} over TCP, {} truncated UDP answer(s)",
                s.dns.over_tcp, s.dns.truncated
            )
        } else {
            String::new()
        };
        parts.push(format!(
            "{} DNS exchange(s) ({} answered{tcp})",
            s.dns.exchanges, s.dns.answered
        ));
    }
    if s.icmp.errors > 0 {
        parts.push(format!("{} ICMP error(s)", s.icmp.errors));
    }
    if s.frag.datagrams > 0 {
        parts.push(format!(
            "{} fragmented datagram(s) ({} completed)",
            s.frag.datagrams, s.frag.completed
        ));
    }
    if s.other_udp > 0 {
        parts.push(format!("{} other UDP datagram(s)", s.other_udp));
    }
    if s.tcp.strays > 0 {
        parts.push(format!(
            "{} TCP segment(s) of no tracked connection",
            s.tcp.strays
        ));
    }
    let what = if parts.is_empty() {
        "no connection, DNS exchange (a query with its answers) or ICMP error to follow".to_string()
    } else {
        parts.join(", ")
    };
    let copies = if s.copies_count > 0 {
        format!(" ({} more were duplicate copies)", s.copies_count)
    } else {
        String::new()
    };
    format!(
        "{} packet(s), {} decoded{copies}: {what}",
        s.packets, s.decoded
    )
}
