//! Rules for one TCP dial (errno values of Linux, errno(3); FIELD-NOTES.md
//! for how Go dials: non-blocking connect, result read with SO_ERROR).
//!
//! - `connect()` itself failing with an errno of the local kernel and
//!   nothing sent (ENETUNREACH, and the route types of ip-route(8):
//!   EINVAL `blackhole`, EACCES `prohibit`, EHOSTUNREACH `unreachable`;
//!   EADDRNOTAVAIL, EPERM...): the kernel cause of
//!   [`crate::cause::errno_layer`] (`kernel / no-route`,
//!   `local-route-blackhole`, ...).
//! - Our own packet dropped by a netfilter hook (`kfree_skb` reason
//!   NETFILTER_DROP on the socket's skb, or retransmits failing with EPERM:
//!   ip_local_out() returns it for NF_DROP) and no SYN on the wire:
//!   `kernel / local-firewall-drop`; when the socket still got an RST or
//!   ICMP error (a REJECT rule answers locally): `local-firewall-reject`.
//! - SO_ERROR ECONNREFUSED from a loopback/own address: `kernel /
//!   local-refused`; from elsewhere, with SYN and RST on the wire (RFC 9293
//!   3.10.7.3): `network / connection-refused`.
//! - SYNs on the wire, none answered, and SO_ERROR ETIMEDOUT (the kernel
//!   gave up after net.ipv4.tcp_syn_retries) or Go closing the socket after
//!   its dial deadline (`i/o timeout`): `network / connect-timeout`.
//! - SO_ERROR EHOSTUNREACH, no SYN on the wire, and our SYN dropped with
//!   `kfree_skb` NEIGH_FAILED: nobody on the link answered ARP / neighbour
//!   solicitation, `network / neighbour-unreachable`.
//! - An ICMP destination unreachable quoting our SYN, which is on the wire:
//!   `network / icmp-unreachable` (RFC 792 type 3, RFC 4443 type 1).
//! - After the handshake: an RST from the peer with read/write failing
//!   ECONNRESET: `network / connection-reset`.

use std::borrow::Cow;
use std::net::SocketAddr;

use super::{
    base, errno_phrase, ev, how_run_ended, pending_long, pk, refused_locally, secs_to_end,
    undecided, Diagnosis,
};
use crate::cause::errno_layer;
use crate::cause::{Cause, Missing};
use crate::correlate::{is_neighbour_failure, is_netfilter, Attempt};
use crate::proto::errno;
use crate::verdict::Input;

/// Go's dial is cancelled, not timed out, when it closes the socket sooner
/// than this (ns) after connect (Happy Eyeballs, a sibling dial won).
const GAVE_UP_AFTER_NS: u64 = 1_000_000_000;

/// cmd/go's HTTP client dials with net/http's DefaultTransport, whose
/// net.Dialer has `Timeout: 30 * time.Second` (src/net/http/transport.go).
const GO_DIAL_TIMEOUT_S: f64 = 30.0;

pub(super) fn diagnose(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    let connect_errno = a.connect.as_ref().and_then(|c| errno::of_ret(c.value));
    if let (Some(d), None) = (refused_locally(a, input), &a.icmp) {
        return Some(d);
    }
    if let Some(d) = local_firewall(a, input) {
        return Some(d);
    }
    let so = a.so_error.as_ref().map(|s| s.value);
    let connected_at_once = a.connect.as_ref().is_some_and(|c| c.value == 0);
    if so == Some(0) || connected_at_once || a.established || a.syn_ack.is_some() || a.data_moved {
        return established(a, input);
    }
    // A blocking connect() (git, curl) returns the errno itself.
    let failure = so
        .filter(|&e| e != 0)
        .or(connect_errno.filter(|&e| e != errno::EINPROGRESS));
    match failure {
        Some(errno::ECONNREFUSED) => Some(refused(a, input)),
        Some(errno::ETIMEDOUT) => Some(timed_out(a, input)),
        Some(errno::EHOSTUNREACH) if a.syn.is_none() && neighbour_failed(a).is_some() => {
            Some(neighbour_unreachable(a, input))
        }
        Some(errno::EHOSTUNREACH | errno::ENETUNREACH | errno::EACCES) if a.icmp.is_some() => {
            Some(icmp_unreachable(a, input))
        }
        Some(e) => Some(other_errno(a, input, e)),
        None if a.rst.is_some() && a.syn.is_some() => Some(refused(a, input)),
        None => Some(no_result(a, input)),
    }
}

fn connect_ev(a: &Attempt) -> Option<crate::correlate::Step> {
    ev(a, a.connect.as_ref().map(|c| c.id))
}

fn so_ev(a: &Attempt) -> Option<crate::correlate::Step> {
    ev(a, a.so_error.as_ref().map(|s| s.id))
}

/// Our own SYN refused by a local netfilter hook.
fn local_firewall(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    let nf_drop = a.drops.iter().find(|d| is_netfilter(&d.value));
    let eperm: Vec<_> = a
        .retransmits
        .iter()
        .filter(|r| r.value == -errno::EPERM)
        .collect();
    if nf_drop.is_none() && eperm.is_empty() {
        return None;
    }
    let peer = a.peer;
    if let Some(syn) = &a.syn {
        // The first SYN left, later ones were refused: a rule that came
        // mid-dial, or a record that contradicts itself.
        let mut d = undecided(
            format!("the SYN to {peer} left this host (pkt {}), yet the local kernel refused to send later ones", syn.number),
            vec![Missing::ConsistentKernelRecord],
        );
        d.evidence.extend(connect_ev(a));
        d.evidence.extend(pk(a, Some(syn.number)));
        return Some(d);
    }
    let reason = nf_drop
        .map(|d| format!("{}, event #{}", d.value, d.id))
        .unwrap_or_else(|| "EPERM from a netfilter hook".into());
    let refused_again = match eperm.len() {
        0 => String::new(),
        1 => ", and refused its retransmit with EPERM".into(),
        n => format!(", and refused its {n} retransmits with EPERM"),
    };
    let wire = match input.capture {
        Some(_) => "; the SYN is not in the capture",
        None => "",
    };
    let so = a.so_error.as_ref().map(|s| s.value).filter(|&e| e != 0);
    let answer = if a.reset_received.is_some() || a.rst.is_some() {
        Some("an RST".to_string())
    } else if let Some(i) = &a.icmp {
        Some(format!("ICMP {}", i.value.text()))
    } else {
        so.filter(|&e| e != errno::ETIMEDOUT).map(errno::name)
    };
    let mut d = match &answer {
        Some(what) => {
            let so_text = so
                .map(|e| format!(" (SO_ERROR {})", errno::name(e)))
                .unwrap_or_default();
            let mut d = base(Cause::LocalFirewallReject,
                format!("this host's packet filter rejected the SYN to {peer}: the kernel dropped it before it left ({reason}) and answered the socket itself with {what}{so_text}{wire}"),
            );
            d.go_phrase = so.and_then(errno_phrase).map(Cow::Borrowed);
            d
        }
        None => {
            let mut d = base(Cause::LocalFirewallDrop,
                format!("the SYN to {peer} never left this host: the kernel dropped it ({reason}){refused_again}{wire}; {}", gave_up(a, input)),
            );
            d.go_phrase = go_timeout_phrase(a).map(Cow::Borrowed);
            d.interrupted = dial_pending(a);
            d
        }
    };
    d.evidence.extend(connect_ev(a));
    d.evidence.extend(nf_drop.and_then(|x| ev(a, Some(x.id))));
    d.evidence
        .extend(eperm.first().and_then(|r| ev(a, Some(r.id))));
    d.evidence
        .extend(ev(a, a.reset_received.as_ref().map(|r| r.id)));
    d.evidence.extend(pk(a, a.rst.as_ref().map(|r| r.number)));
    d.evidence.extend(pk(a, a.icmp.as_ref().map(|r| r.number)));
    d.evidence.extend(so_ev(a));
    d.fix = Some(firewall_fix(peer, input, answer.is_some()));
    Some(d)
}

/// Go's words for how the dial ended: the kernel's ETIMEDOUT or Go's own deadline.
fn go_timeout_phrase(a: &Attempt) -> Option<&'static str> {
    match a.so_error.as_ref().map(|s| s.value) {
        Some(errno::ETIMEDOUT) => errno_phrase(errno::ETIMEDOUT),
        _ => Some("i/o timeout"),
    }
}

/// Who gave up first, the kernel or Go, after how long and how many SYNs.
/// A dial that began before `gotrace attach` is older than the trace shows:
/// its times are lower bounds.
fn gave_up(a: &Attempt, input: &Input<'_>) -> String {
    let start = a.connect.as_ref().map_or(a.start_ns, |c| c.ts_ns);
    let at_least = if a.pre_existing { "at least " } else { "" };
    let secs = |end: u64| end.saturating_sub(start) as f64 / 1e9;
    let syns = syn_count(a, input);
    match (&a.so_error, a.close_ns) {
        (Some(s), _) if s.value == errno::ETIMEDOUT => format!(
            "the kernel gave up after {syns} and {at_least}{:.1} s (net.ipv4.tcp_syn_retries) and reported ETIMEDOUT (Go: connect: connection timed out)",
            secs(s.ts_ns)
        ),
        (None, Some(close)) => format!(
            "Go gave up first: its dial deadline expired after {at_least}{:.1} s while the kernel was still retrying ({syns}), and Go closed the socket (Go: i/o timeout)",
            secs(close)
        ),
        _ => {
            let waited = secs_to_end(start, input);
            let left = GO_DIAL_TIMEOUT_S - waited;
            let deadline = if left > 0.0 && !a.pre_existing {
                format!("; Go's dial deadline would have fired at {GO_DIAL_TIMEOUT_S:.0} s")
            } else {
                String::new()
            };
            format!(
                "{} while the dial was pending ({syns} in {at_least}{waited:.1} s){deadline}",
                how_run_ended(input)
            )
        }
    }
}

/// The dial has no result and its socket is still open: it was pending
/// when the trace ended.
fn dial_pending(a: &Attempt) -> bool {
    a.so_error.is_none() && !a.closed
}

/// "3 SYNs" from the capture, else from the kernel's retransmit records.
/// For a dial that began before `gotrace attach`, the first SYN (and maybe
/// more) left before the trace: the count is of those seen after it.
fn syn_count(a: &Attempt, input: &Input<'_>) -> String {
    let first = usize::from(!a.pre_existing);
    let n = if input.capture.is_some() && a.syn_count > 0 {
        a.syn_count as usize
    } else {
        first + a.retransmits.len()
    };
    let count = if n == 1 {
        "1 SYN".into()
    } else {
        format!("{n} SYNs")
    };
    if a.pre_existing {
        format!("{count} (since the attach)")
    } else {
        count
    }
}

fn firewall_fix(peer: SocketAddr, input: &Input<'_>, reject: bool) -> String {
    let verb = if reject { "rejects" } else { "drops" };
    let rules = input
        .meta
        .firewall
        .as_ref()
        .map(|f| matching_rules(&f.ruleset, peer))
        .filter(|r| !r.is_empty())
        .map(|r| format!(" The ruleset recorded at start has: {}.", r.join("; ")))
        .unwrap_or_default();
    format!("a rule in this host's OUTPUT path {verb} traffic to {peer}: find it with `nft list ruleset` (or `iptables -S OUTPUT`) and allow the proxy, or set GOPROXY (and HTTPS_PROXY/NO_PROXY) to a proxy the firewall allows.{rules}")
}

/// Lines of an `nft list ruleset` dump that drop or reject and mention
/// the peer's address or port, with their chain (at most 3).
fn matching_rules(ruleset: &str, peer: SocketAddr) -> Vec<String> {
    let ip = peer.ip().to_string();
    let port = peer.port().to_string();
    let mut chain = "";
    let mut out = Vec::new();
    for line in ruleset.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("chain ") {
            chain = rest.trim_end_matches('{').trim();
            continue;
        }
        let verdict = line.contains("drop") || line.contains("reject");
        let about = line.contains(&ip) || line.split_whitespace().any(|w| w == port);
        if verdict && about && out.len() < 3 {
            out.push(format!("`{line}` (chain {chain})"));
        }
    }
    out
}

fn refused(a: &Attempt, input: &Input<'_>) -> Diagnosis {
    let peer = a.peer;
    let syn = pk(a, a.syn.as_ref().map(|p| p.number));
    let rst = pk(a, a.rst.as_ref().map(|p| p.number));
    let on_this_host = peer.ip().is_loopback() || a.local.is_some_and(|l| l.ip() == peer.ip());
    if on_this_host {
        let var = proxy_var(peer, input);
        let via = var
            .as_ref()
            .map(|(k, v)| format!("; Go dialed it because {k}={v}"))
            .unwrap_or_default();
        let mut d = base(Cause::LocalRefused,
            format!("nothing listens on {peer} on this host: the local kernel answered the SYN with RST and Go got ECONNREFUSED{via}"),
        );
        d.evidence.extend(connect_ev(a));
        d.evidence.extend(so_ev(a));
        d.evidence.extend(syn);
        d.evidence.extend(rst);
        d.evidence
            .extend(ev(a, a.reset_received.as_ref().map(|r| r.id)));
        d.go_phrase = errno_phrase(errno::ECONNREFUSED).map(Cow::Borrowed);
        d.fix = Some(match var {
            Some((k, v)) => format!("{k}={v} points Go at {peer}, where nothing listens: start that proxy, fix or unset {k} (and its lower-case twin), or list the module host in NO_PROXY"),
            None => format!("nothing listens on {peer} on this host: start the service there, or fix the address in GOPROXY"),
        });
        return d;
    }
    if let (Some(syn), Some(rst)) = (syn.clone(), rst) {
        let note = if a.so_error.is_none() {
            " (Go's SO_ERROR read was not recorded)"
        } else {
            ""
        };
        let mut d = base(Cause::ConnectionRefused,
            format!("{peer} answered the SYN (pkt {}) with RST (pkt {}): nothing accepts connections on port {}{note}", syn.id, rst.id, peer.port()),
        );
        d.evidence.extend(connect_ev(a));
        d.evidence.extend(so_ev(a));
        d.evidence.push(syn);
        d.evidence.push(rst);
        d.go_phrase = errno_phrase(errno::ECONNREFUSED).map(Cow::Borrowed);
        return d;
    }
    let (why, missing) = if input.capture.is_none() {
        (
            "without the capture gotrace cannot show whether the RST came over the network",
            Missing::Capture,
        )
    } else if !a.capture_searched || a.syn.is_none() {
        (
            "the capture holds no SYN of this connection",
            Missing::SynAndRst,
        )
    } else {
        ("the capture shows no RST from the peer", Missing::Rst)
    };
    let mut d = undecided(
        format!("the kernel reported ECONNREFUSED for {peer}, but {why}"),
        vec![missing],
    );
    d.evidence.extend(connect_ev(a));
    d.evidence.extend(so_ev(a));
    d.evidence.extend(syn);
    d.go_phrase = errno_phrase(errno::ECONNREFUSED).map(Cow::Borrowed);
    d
}

/// The proxy variable (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, either case)
/// whose host:port is `peer`.
fn proxy_var(peer: SocketAddr, input: &Input<'_>) -> Option<(String, String)> {
    const VARS: [&str; 6] = [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    VARS.iter().find_map(|k| {
        let v = input.meta.env.get(*k)?;
        let rest = v.split_once("://").map_or(v.as_str(), |(_, r)| r);
        let hostport = rest.split('/').next()?;
        let hostport = hostport.rsplit('@').next()?;
        let addr: SocketAddr = hostport.parse().ok()?;
        (SocketAddr::new(addr.ip().to_canonical(), addr.port()) == peer)
            .then(|| (k.to_string(), v.clone()))
    })
}

/// SYNs that went unanswered until someone gave up.
fn timed_out(a: &Attempt, input: &Input<'_>) -> Diagnosis {
    let peer = a.peer;
    let answered = a.syn_ack.is_some() || a.rst.is_some() || a.icmp.is_some();
    let sent_ok = !a.retransmits.is_empty() && a.retransmits.iter().all(|r| r.value == 0);
    let wire_proof = a.syn.as_ref().filter(|_| !answered);
    let kernel_proof = input.capture.is_none() && sent_ok && a.drops.is_empty();
    if wire_proof.is_none() && !kernel_proof {
        let mut d = undecided(
            format!(
                "the dial to {peer} timed out, but {}",
                timeout_gap(a, input)
            ),
            vec![if input.capture.is_none() {
                Missing::Capture
            } else {
                Missing::SynsOrDrop
            }],
        );
        d.evidence.extend(connect_ev(a));
        d.evidence.extend(so_ev(a));
        d.advice = Some(path_advice(a, input));
        d.go_phrase = go_timeout_phrase(a).map(Cow::Borrowed);
        d.no_outcome = a.so_error.is_none() && !a.closed;
        return d;
    }
    let seen = match wire_proof {
        Some(s) => format!("left this host (first: pkt {})", s.number),
        None => "were sent by the kernel (its retransmits succeeded locally; no capture to show the wire)".into(),
    };
    let mut d = base(Cause::ConnectTimeout,
        format!("{} to {peer} {seen} and none was answered: something on the path or at {peer} drops them silently; {}", syn_count(a, input), gave_up(a, input)),
    );
    d.evidence.extend(connect_ev(a));
    d.evidence.extend(pk(a, wire_proof.map(|s| s.number)));
    d.evidence
        .extend(a.retransmits.last().and_then(|r| ev(a, Some(r.id))));
    d.evidence.extend(so_ev(a));
    d.go_phrase = go_timeout_phrase(a).map(Cow::Borrowed);
    d
}

fn timeout_gap(a: &Attempt, input: &Input<'_>) -> String {
    if input.capture.is_none() {
        return "there is neither a capture nor a kernel record of the SYNs".into();
    }
    if a.syn.is_some() {
        return "the capture shows an answer to the SYN".into();
    }
    "no SYN of it is in the capture and the kernel recorded no drop (was the capture on the right interface?)".into()
}

/// EINPROGRESS and nothing after: Go gave up (its deadline), cancelled the
/// dial (Happy Eyeballs), or the trace ended.
fn no_result(a: &Attempt, input: &Input<'_>) -> Diagnosis {
    let start = a.connect.as_ref().map_or(a.start_ns, |c| c.ts_ns);
    let waited = a
        .close_ns
        .is_some_and(|c| c.saturating_sub(start) >= GAVE_UP_AFTER_NS);
    if waited {
        return timed_out(a, input);
    }
    // Still waiting when the run ended: judged by the SYNs' fate so far.
    if dial_pending(a) && pending_long(start, input) {
        let mut d = timed_out(a, input);
        d.interrupted = d.decided();
        d.no_outcome = !d.interrupted;
        return d;
    }
    let peer = a.peer;
    let mut d = undecided(
        format!(
            "connect() to {peer} started but no result was recorded{}",
            wire_story(a, input)
        ),
        vec![Missing::SoError],
    );
    d.no_outcome = true;
    d.evidence.extend(connect_ev(a));
    d.evidence.extend(pk(a, a.syn.as_ref().map(|p| p.number)));
    d.advice = Some(path_advice(a, input));
    d.go_phrase = Some(Cow::Borrowed("i/o timeout"));
    d
}

fn icmp_unreachable(a: &Attempt, input: &Input<'_>) -> Diagnosis {
    let peer = a.peer;
    let (Some(icmp), Some(syn)) = (&a.icmp, &a.syn) else {
        return other_errno(a, input, a.so_error.as_ref().map_or(0, |s| s.value));
    };
    let sender = a
        .icmp_sender
        .map(|s| s.to_string())
        .unwrap_or_else(|| "a router".into());
    let numbers = a
        .icmp_type_code
        .as_deref()
        .map(|t| format!(", {t}"))
        .unwrap_or_default();
    let so = a.so_error.as_ref().map_or(errno::EHOSTUNREACH, |s| s.value);
    let mut d = base(Cause::IcmpUnreachable,
        format!("{sender} answered the SYN to {peer} (pkt {}) with ICMP destination unreachable: {}{numbers} (pkt {}); the kernel reported {} (Go: connect: {})", syn.number, icmp.value.text(), icmp.number, errno::name(so), errno_phrase(so).unwrap_or("error")),
    );
    d.evidence.extend(connect_ev(a));
    d.evidence.extend(pk(a, Some(syn.number)));
    d.evidence.extend(pk(a, Some(icmp.number)));
    d.evidence.extend(so_ev(a));
    d.go_phrase = errno_phrase(so).map(Cow::Borrowed);
    d.fix = Some(format!("{sender} refuses traffic to {peer} ({}): a firewall there or on the path rejects it; ask for the port to be opened, or set GOPROXY (and HTTPS_PROXY/NO_PROXY) to a proxy you may reach", icmp.value.text()));
    d
}

/// The kernel's record that our SYN waited for a link-layer address that
/// never came.
fn neighbour_failed(a: &Attempt) -> Option<&crate::correlate::EventFact<String>> {
    a.drops.iter().find(|d| is_neighbour_failure(&d.value))
}

/// EHOSTUNREACH because nobody on the link answered ARP / neighbour
/// solicitation for the peer: the SYN never left (no SYN on the wire), the
/// kernel dropped it when the neighbour entry failed and told the socket
/// with an ICMP host unreachable of its own (RFC 4861 7.3.3; net/ipv4/arp.c
/// arp_error_report). The host is missing from the link: not this host's
/// doing.
fn neighbour_unreachable(a: &Attempt, input: &Input<'_>) -> Diagnosis {
    let peer = a.peer;
    let drop = neighbour_failed(a);
    let icmp = a
        .icmp
        .as_ref()
        .map(|i| {
            format!(
                ", and answered the socket itself with ICMP {} (pkt {})",
                i.value.text(),
                i.number
            )
        })
        .unwrap_or_default();
    let wire = match input.capture {
        Some(_) => "; no SYN to it is in the capture",
        None => "",
    };
    let mut d = base(
        Cause::NeighbourUnreachable,
        format!(
            "no host on this link answered for {} (ARP / neighbour solicitation): the kernel kept the SYN to {peer} waiting for a link-layer address, dropped it when the neighbour entry failed ({}){icmp}, and reported EHOSTUNREACH (Go: connect: no route to host){wire}",
            peer.ip(),
            drop.map_or_else(|| "NEIGH_FAILED".to_string(), |x| format!("{}, event #{}", x.value, x.id)),
        ),
    );
    d.evidence.extend(connect_ev(a));
    d.evidence.extend(drop.and_then(|x| ev(a, Some(x.id))));
    d.evidence.extend(pk(a, a.icmp.as_ref().map(|i| i.number)));
    d.evidence.extend(so_ev(a));
    d.go_phrase = errno_phrase(errno::EHOSTUNREACH).map(Cow::Borrowed);
    d
}

fn other_errno(a: &Attempt, input: &Input<'_>, e: i32) -> Diagnosis {
    let peer = a.peer;
    let mut d = undecided(
        format!(
            "the dial to {peer} failed with {}{}",
            errno::name(e),
            wire_story(a, input)
        ),
        vec![errno_gap(e)],
    );
    d.evidence.extend(connect_ev(a));
    d.evidence.extend(so_ev(a));
    d.evidence.extend(pk(a, a.syn.as_ref().map(|p| p.number)));
    d.evidence.extend(pk(a, a.icmp.as_ref().map(|p| p.number)));
    d.advice = Some(path_advice(a, input));
    d.go_phrase = errno_phrase(e).map(Cow::Borrowed);
    d
}

/// What an undecided errno lacks: the evidence its row of the errno table
/// names, or (an errno Linux does not document for connect) a rule.
fn errno_gap(e: i32) -> Missing {
    match errno_layer::lookup(e) {
        Some(r) if r.nature == errno_layer::Nature::Failure => Missing::EvidenceFor(e),
        _ => Missing::RuleFor(e),
    }
}

/// After the handshake: a stage left unanswered in [`super::stage`],
/// resets here, TLS and HTTP outcomes in [`super::app`].
fn established(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    if let Some(d) = super::stage::unanswered(a, input) {
        return Some(d);
    }
    let io_err = a
        .read_errno
        .as_ref()
        .filter(|r| r.value == errno::ECONNRESET)
        .or(a
            .send_errno
            .as_ref()
            .filter(|s| matches!(s.value, errno::ECONNRESET | errno::EPIPE)));
    let Some(io_err) = io_err else {
        return super::app::diagnose(a, input);
    };
    let peer = a.peer;
    let Some(rst) = &a.rst else {
        let mut d = undecided(
            format!("a read/write on the connection to {peer} failed with {}, but no RST from {peer} is in the {}", errno::name(io_err.value), if input.capture.is_some() { "capture" } else { "bundle (no capture)" }),
            vec![Missing::Rst],
        );
        d.evidence.extend(ev(a, Some(io_err.id)));
        d.evidence
            .extend(ev(a, a.reset_received.as_ref().map(|r| r.id)));
        d.go_phrase = errno_phrase(errno::ECONNRESET).map(Cow::Borrowed);
        return Some(d);
    };
    let mut d = base(Cause::ConnectionReset,
        format!("{peer} reset the established connection (RST, pkt {}): {} failed with {} (Go: connection reset by peer)", rst.number, a.event_step(io_err.id).map_or("the read", |s| s.text.split('(').next().unwrap_or("read")), errno::name(io_err.value)),
    );
    d.evidence
        .extend(ev(a, a.reset_received.as_ref().map(|r| r.id)));
    d.evidence.extend(pk(a, Some(rst.number)));
    d.evidence.extend(ev(a, Some(io_err.id)));
    d.go_phrase = errno_phrase(errno::ECONNRESET).map(Cow::Borrowed);
    d.fix = Some(format!("{peer} (or a middlebox on the way) aborted the transfer: check the proxy's logs and limits (timeouts, body size, crashes); with GOPROXY=a|b Go falls back to the next proxy on such errors"));
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
        format!("no SYN to {peer} reached the capture: look for a local firewall dropping it (`nft list ruleset`, iptables OUTPUT) or a policy route")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_that_drop_or_reject_the_peer_are_found_with_their_chain() {
        let ruleset = "table inet gotrace_lab {\n\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n\t\tip daddr 198.18.0.2 tcp dport 8080 drop\n\t\tip daddr 198.18.0.9 accept\n\t}\n}\n";
        let peer: SocketAddr = "198.18.0.2:8080".parse().unwrap();
        let r = matching_rules(ruleset, peer);
        assert_eq!(
            r,
            ["`ip daddr 198.18.0.2 tcp dport 8080 drop` (chain output)"]
        );
        assert!(matching_rules(ruleset, "198.18.0.3:443".parse().unwrap()).is_empty());
    }
}
