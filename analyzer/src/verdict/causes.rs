//! Per-attempt diagnosis: what one failed TCP dial or DNS exchange proves.
//!
//! Rules (errno values of Linux, errno(3); FIELD-NOTES.md for how Go dials):
//! - `connect()` = -ENETUNREACH and nothing sent to the peer: the local
//!   kernel had no route (`kernel`, `no-route`).
//! - SYN out and RST back (RFC 9293 3.10.7.3), SO_ERROR ECONNREFUSED:
//!   `network`, `connection-refused`.
//! - DNS read = -ECONNREFUSED with an ICMP port unreachable quoting the
//!   query (RFC 792 / RFC 4443): `network`, `dns-port-unreachable`.
//! - DNS RCODE 3 (RFC 1035 4.1.1): `network`, `dns-nxdomain`.
//!
//! Everything else is `inconclusive`, with what is missing.

use std::net::SocketAddr;

use super::goerr::GoClues;
use super::{cause, Input, Layer, Target};
use crate::attempt::{sent_near, Attempt, Kind, Step};
use crate::dns::{self, DnsMessage};
use crate::errno;
use crate::icmp::Unreachable;

/// What one failed attempt proves.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// Index of the attempt in [`crate::attempt::Correlation::attempts`].
    pub attempt: usize,
    /// The attempt's start, CLOCK_MONOTONIC ns.
    pub start_ns: u64,
    /// Layer this attempt's evidence proves (or `Inconclusive`).
    pub layer: Layer,
    /// Cause id when decided, else [`cause::INSUFFICIENT_EVIDENCE`].
    pub cause: &'static str,
    /// One sentence.
    pub summary: String,
    /// The decisive events and packets.
    pub evidence: Vec<Step>,
    /// What would be needed to decide.
    pub missing: Vec<String>,
    /// What was being reached.
    pub target: Target,
    /// How well Go's stderr matches this attempt (0 = not mentioned).
    pub stderr_score: u32,
    /// The attempt just has no recorded result (e.g. cancelled by Go).
    pub no_outcome: bool,
    /// Advice when the layer is not proven but the facts point somewhere.
    pub advice: Option<String>,
    /// The words Go's error uses for this outcome (`connection refused`).
    pub go_phrase: Option<&'static str>,
}

impl Diagnosis {
    /// Whether a layer was proven.
    pub fn decided(&self) -> bool {
        self.layer != Layer::Inconclusive
    }
}

/// Diagnoses attempt `i`; `None` when it succeeded or did nothing.
pub fn diagnose(i: usize, a: &Attempt, input: &Input<'_>, clues: &GoClues) -> Option<Diagnosis> {
    let mut d = match a.kind {
        Kind::Tcp => tcp(a, input)?,
        Kind::Dns => dns_exchange(a, input)?,
    };
    d.attempt = i;
    d.start_ns = a.start_ns;
    d.target = target(a, input, clues);
    d.stderr_score = score(a, &d, clues, input.stderr.unwrap_or(""));
    Some(d)
}

fn base(layer: Layer, cause: &'static str, summary: String) -> Diagnosis {
    Diagnosis {
        attempt: 0,
        start_ns: 0,
        layer,
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
        advice: None,
        go_phrase: None,
    }
}

fn undecided(summary: String, missing: Vec<String>) -> Diagnosis {
    let mut d = base(Layer::Inconclusive, cause::INSUFFICIENT_EVIDENCE, summary);
    d.missing = missing;
    d
}

fn ev(a: &Attempt, id: Option<u64>) -> Option<Step> {
    a.event_step(id?).cloned()
}

fn pk(a: &Attempt, number: Option<u64>) -> Option<Step> {
    a.packet_step(number?).cloned()
}

fn tcp(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    let peer = a.peer;
    let connect_errno = a.connect.as_ref().and_then(|c| errno::of_ret(c.value));
    let connect_ev = ev(a, a.connect.as_ref().map(|c| c.id));
    let so_ev = ev(a, a.so_error.as_ref().map(|s| s.id));
    let syn = pk(a, a.syn.as_ref().map(|p| p.number));
    let rst = pk(a, a.rst.as_ref().map(|p| p.number));

    if connect_errno == Some(errno::ENETUNREACH) {
        let sent = input.capture.map(|idx| sent_near(idx, a, input.clock));
        if let Some(p) = sent.as_ref().and_then(|s| s.first()) {
            let mut d = undecided(
                format!("connect() to {peer} failed with ENETUNREACH, yet packet {} went to {} around then", p.number, peer.ip()),
                vec!["a consistent record (capture and trace disagree)".into()],
            );
            d.evidence.extend(connect_ev);
            return Some(d);
        }
        let wire = if sent.is_some() {
            ", and no packet to it is in the capture"
        } else {
            ""
        };
        let mut d = base(
            Layer::Kernel,
            cause::NO_ROUTE,
            format!("connect() to {peer} failed at once with ENETUNREACH: the local kernel has no route to {}{wire} (Go: connect: network is unreachable)", peer.ip()),
        );
        d.evidence.extend(connect_ev);
        if sent.is_none() {
            d.missing.push("capture".into());
        }
        d.go_phrase = errno_phrase(errno::ENETUNREACH);
        return Some(d);
    }
    let so = a.so_error.as_ref().map(|s| s.value);
    let connected_at_once = a.connect.as_ref().is_some_and(|c| c.value == 0);
    if so == Some(0) || connected_at_once || a.established || a.syn_ack.is_some() || a.data_moved {
        return None;
    }
    // A blocking connect() (git, curl) returns ECONNREFUSED itself.
    let refused = so == Some(errno::ECONNREFUSED) || connect_errno == Some(errno::ECONNREFUSED);
    // The wire alone decides only when no SO_ERROR result contradicts it: an
    // RST with SO_ERROR ETIMEDOUT or EHOSTUNREACH is about something else.
    let rst_uncontradicted = so.is_none() && a.rst.is_some() && a.syn.is_some();
    if refused || rst_uncontradicted {
        if let (Some(syn), Some(rst)) = (syn.clone(), rst.clone()) {
            let note = if so.is_none() {
                " (Go's SO_ERROR read was not recorded)"
            } else {
                ""
            };
            let mut d = base(
                Layer::Network,
                cause::CONNECTION_REFUSED,
                format!("{peer} answered the SYN (pkt {}) with RST (pkt {}): nothing accepts connections on port {}{note}", syn.id, rst.id, peer.port()),
            );
            d.evidence.extend(connect_ev);
            d.evidence.extend(so_ev);
            d.evidence.push(syn);
            d.evidence.push(rst);
            d.go_phrase = errno_phrase(errno::ECONNREFUSED);
            return Some(d);
        }
        let (why, missing) = if input.capture.is_none() {
            (
                "without the capture gotrace cannot show whether the RST came over the network",
                "capture",
            )
        } else if !a.capture_searched || a.syn.is_none() {
            (
                "the capture holds no SYN of this connection",
                "the connection's SYN and RST in the capture",
            )
        } else {
            (
                "the capture shows no RST from the peer",
                "the RST in the capture",
            )
        };
        let mut d = undecided(
            format!("the kernel reported ECONNREFUSED for {peer}, but {why}"),
            vec![missing.into()],
        );
        d.evidence.extend(connect_ev);
        d.evidence.extend(so_ev);
        d.evidence.extend(syn);
        d.go_phrase = errno_phrase(errno::ECONNREFUSED);
        return Some(d);
    }
    let wire = wire_story(a, input);
    if let Some(e) = so.filter(|&e| e != 0) {
        let mut d = undecided(
            format!(
                "getsockopt(SO_ERROR) for {peer} returned {}{wire}",
                errno::name(e)
            ),
            vec![missing_for(e, input)],
        );
        d.evidence.extend(connect_ev);
        d.evidence.extend(so_ev);
        d.evidence.extend(syn);
        d.evidence.extend(pk(a, a.icmp.as_ref().map(|p| p.number)));
        d.advice = Some(path_advice(a, input));
        d.go_phrase = errno_phrase(e);
        return Some(d);
    }
    if let Some(e) = connect_errno.filter(|&e| e != errno::EINPROGRESS) {
        let mut d = undecided(
            format!("connect() to {peer} failed with {}", errno::name(e)),
            vec!["a rule for this errno".into()],
        );
        d.evidence.extend(connect_ev);
        d.go_phrase = errno_phrase(e);
        return Some(d);
    }
    // EINPROGRESS and nothing after: Go gave up (i/o timeout) or cancelled
    // the dial (Happy Eyeballs), or the trace ended.
    let mut d = undecided(
        format!("connect() to {peer} started but no result was recorded{wire}"),
        vec!["the dial's SO_ERROR result".into()],
    );
    d.no_outcome = true;
    d.evidence.extend(connect_ev);
    d.evidence.extend(syn);
    d.advice = Some(path_advice(a, input));
    // Go's own dial deadline (net.Dialer, the HTTP transport's 30 s).
    d.go_phrase = Some("i/o timeout");
    Some(d)
}

/// Where to look when a dial got no answer: what the capture shows decides
/// between this host (nothing left) and the path (SYNs unanswered, ICMP).
fn path_advice(a: &Attempt, input: &Input<'_>) -> String {
    let peer = a.peer;
    if input.capture.is_none() {
        return format!("re-run under `gotrace run` with the packet capture to see whether the SYN to {peer} left this host");
    }
    if let Some(i) = &a.icmp {
        return format!("an ICMP {} came back for {peer}: check the routes and firewalls on the path, or set GOPROXY to a proxy this host can reach", i.value.text());
    }
    if a.syn.is_some() {
        format!("the SYN to {peer} left this host and got no answer: a firewall on the path or at {peer} drops it, or the host is down; check it, or set GOPROXY to a reachable proxy")
    } else {
        format!("no SYN to {peer} reached the capture: look for a local firewall dropping it (`nft list ruleset`, iptables OUTPUT) or a policy route; gotrace does not record kernel drops yet")
    }
}

fn missing_for(e: i32, input: &Input<'_>) -> String {
    if input.capture.is_none() {
        "capture".into()
    } else if e == errno::ETIMEDOUT {
        "kernel packet-drop records (not in this bundle)".into()
    } else {
        format!("a rule for SO_ERROR {}", errno::name(e))
    }
}

fn wire_story(a: &Attempt, input: &Input<'_>) -> String {
    if input.capture.is_none() {
        return String::new();
    }
    if let Some(i) = &a.icmp {
        return format!("; ICMP {} came back (pkt {})", i.value.text(), i.number);
    }
    match (&a.syn, a.syn_count) {
        (Some(s), n) => format!("; {n} SYN(s) from pkt {} got no answer", s.number),
        (None, _) => "; no SYN of it is in the capture".into(),
    }
}

fn dns_exchange(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    let server = a.peer;
    let name = a.qname().unwrap_or("?").to_string();
    let query_ev = a.queries.first().and_then(|q| ev(a, Some(q.id)));
    let query_pkt = pk(a, a.wire_queries.first().map(|q| q.number));
    let nx_ev = a
        .answers
        .iter()
        .find(|m| m.value.rcode == dns::RCODE_NXDOMAIN);
    let nx_pkt = a
        .wire_answers
        .iter()
        .find(|m| m.value.rcode == dns::RCODE_NXDOMAIN);
    if nx_ev.is_some() || nx_pkt.is_some() {
        let msg: Option<&DnsMessage> = nx_ev.map(|m| &m.value).or(nx_pkt.map(|m| &m.value));
        let q = msg
            .map(|m| m.question_text())
            .unwrap_or_else(|| name.clone());
        let mut d = base(
            Layer::Network,
            cause::DNS_NXDOMAIN,
            format!("the DNS server {server} answered NXDOMAIN for {q}: the name does not exist there (Go: lookup {name} on {server}: no such host)"),
        );
        d.evidence.extend(query_ev);
        d.evidence.extend(query_pkt);
        d.evidence.extend(pk(a, nx_pkt.map(|m| m.number)));
        d.evidence.extend(ev(a, nx_ev.map(|m| m.id)));
        d.go_phrase = Some("no such host");
        return Some(d);
    }
    let refused = a
        .read_errno
        .as_ref()
        .filter(|r| r.value == errno::ECONNREFUSED);
    let port_unreach = a.icmp.as_ref().filter(|i| i.value == Unreachable::Port);
    if let (Some(icmp), None) = (port_unreach, &query_pkt) {
        // An ICMP error for a query that never showed on the wire was made
        // on this host (a local REJECT rule): not the server's doing.
        let mut d = undecided(
            format!("the DNS query for {name} to {server} got ICMP port unreachable (pkt {}), but the query itself is not in the capture: the error may come from this host's own firewall", icmp.number),
            vec!["the DNS query on the wire".into()],
        );
        d.evidence.extend(query_ev);
        d.evidence.extend(pk(a, Some(icmp.number)));
        d.go_phrase = errno_phrase(errno::ECONNREFUSED);
        d.advice = Some("check this host's firewall for a REJECT rule on UDP port 53 (`nft list ruleset`, iptables OUTPUT), and /etc/resolv.conf".into());
        return Some(d);
    }
    if let Some(icmp) = port_unreach {
        let note = if refused.is_none() {
            " (the failed read was not recorded)"
        } else {
            ""
        };
        let mut d = base(
            Layer::Network,
            cause::DNS_PORT_UNREACHABLE,
            format!("nothing listens on the DNS server's port {server}: the query for {name} got ICMP port unreachable (pkt {}), so read() failed with ECONNREFUSED{note}", icmp.number),
        );
        d.evidence.extend(ev(a, a.connect.as_ref().map(|c| c.id)));
        d.evidence.extend(query_ev);
        d.evidence.extend(query_pkt);
        d.evidence.extend(pk(a, Some(icmp.number)));
        d.evidence.extend(ev(a, refused.map(|r| r.id)));
        d.go_phrase = errno_phrase(errno::ECONNREFUSED);
        return Some(d);
    }
    if let Some(r) = refused {
        let missing = if input.capture.is_none() {
            "capture"
        } else {
            "the ICMP port unreachable in the capture"
        };
        let mut d = undecided(
            format!("read() from DNS server {server} failed with ECONNREFUSED for {name}, but no ICMP port unreachable proves where it came from"),
            vec![missing.into()],
        );
        d.evidence.extend(query_ev);
        d.evidence.extend(ev(a, Some(r.id)));
        d.go_phrase = errno_phrase(errno::ECONNREFUSED);
        return Some(d);
    }
    let any_answer = a
        .answers
        .first()
        .map(|m| &m.value)
        .or(a.wire_answers.first().map(|m| &m.value));
    if let Some(m) = any_answer {
        if m.rcode == 0 {
            return None;
        }
        let mut d = undecided(
            format!(
                "the DNS server {server} answered {} for {} (Go: server misbehaving)",
                dns::rcode_name(m.rcode),
                m.question_text()
            ),
            vec![format!("a rule for RCODE {}", dns::rcode_name(m.rcode))],
        );
        d.evidence.extend(query_ev);
        d.go_phrase = Some("server misbehaving");
        d.advice = Some(format!("the resolver {server} could not answer ({}): check its upstream servers, or point /etc/resolv.conf at a working resolver", dns::rcode_name(m.rcode)));
        return Some(d);
    }
    if a.queries.is_empty() && a.wire_queries.is_empty() {
        return None;
    }
    let mut d = undecided(
        format!("the DNS query for {name} to {server} got no answer in the trace"),
        vec!["the DNS answer (or a record of it being dropped)".into()],
    );
    d.no_outcome = a.read_errno.is_none();
    d.evidence.extend(query_ev);
    d.evidence.extend(query_pkt);
    d.go_phrase = Some("i/o timeout");
    d.advice = Some(format!("the name server {server} did not answer: check that it is reachable and running, and the nameserver lines of /etc/resolv.conf"));
    Some(d)
}

fn target(a: &Attempt, input: &Input<'_>, clues: &GoClues) -> Target {
    let name = match a.kind {
        Kind::Dns => a.qname().map(str::to_string),
        Kind::Tcp => clues
            .dial_names
            .iter()
            .find(|(addr, _)| *addr == a.peer)
            .map(|(_, n)| n.clone())
            .or_else(|| name_from_dns(a.peer, input)),
    };
    Target {
        name,
        ip: Some(a.peer.ip().to_string()),
        port: Some(a.peer.port()),
    }
}

/// The name a DNS answer in the trace gave for `peer`'s address.
fn name_from_dns(peer: SocketAddr, input: &Input<'_>) -> Option<String> {
    input.corr.attempts.iter().find_map(|o| {
        o.answers
            .iter()
            .map(|m| &m.value)
            .chain(o.wire_answers.iter().map(|m| &m.value))
            .find(|m| m.answer_ips.contains(&peer.ip()))
            .and_then(|m| m.qname.clone())
    })
}

/// How strongly Go's stderr points at this attempt.
fn score(a: &Attempt, d: &Diagnosis, clues: &GoClues, stderr: &str) -> u32 {
    let mut s = match a.kind {
        Kind::Tcp => 2 * u32::from(clues.dials.contains(&a.peer)),
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
    if let (true, Some(phrase)) = (s > 0, d.go_phrase) {
        if stderr.contains(phrase) {
            s += 1;
        } else if lines_naming(stderr, a.peer).any(|l| {
            OUTCOME_PHRASES
                .iter()
                .any(|p| *p != phrase && l.contains(p))
        }) {
            s = 0;
        } else {
            s = s.saturating_sub(1).max(1);
        }
    }
    s
}

/// Every outcome wording of [`errno_phrase`] and the DNS/timeout rules.
const OUTCOME_PHRASES: [&str; 8] = [
    "connection refused",
    "connection timed out",
    "no route to host",
    "network is unreachable",
    "connection reset by peer",
    "i/o timeout",
    "no such host",
    "server misbehaving",
];

/// Lines of `stderr` naming `peer` (`198.18.0.2:8080`, `[2001:db8::1]:80`;
/// an IPv4-mapped peer also in its IPv4 form, as Go prints it).
fn lines_naming(stderr: &str, peer: SocketAddr) -> impl Iterator<Item = &str> {
    let plain = peer.to_string();
    let canonical = SocketAddr::new(peer.ip().to_canonical(), peer.port()).to_string();
    stderr
        .lines()
        .filter(move |l| l.contains(&plain) || l.contains(&canonical))
}

/// How Go words an errno in its error text (syscall.Errno strings of
/// Linux, src/syscall/zerrors_linux_*.go).
fn errno_phrase(e: i32) -> Option<&'static str> {
    match e {
        errno::ECONNREFUSED => Some("connection refused"),
        errno::ETIMEDOUT => Some("connection timed out"),
        errno::EHOSTUNREACH => Some("no route to host"),
        errno::ENETUNREACH => Some("network is unreachable"),
        errno::ECONNRESET => Some("connection reset by peer"),
        _ => None,
    }
}
