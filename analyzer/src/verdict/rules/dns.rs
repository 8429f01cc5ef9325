//! Rules for one DNS exchange (Go's pure-Go resolver: a connected UDP
//! socket, `write` the query, `read` the answer; FIELD-NOTES.md).
//!
//! - The UDP socket's connect() failing at once with a local errno (a
//!   `blackhole`/`prohibit`/`unreachable` route to the server, no route):
//!   the kernel cause of the errno table, as for a TCP dial.
//! - A name server on loopback refusing (read ECONNREFUSED, ICMP port
//!   unreachable on lo): `kernel / no-resolver`, with what resolv.conf said
//!   (missing or empty: Go asks 127.0.0.1:53 and [::1]:53,
//!   src/net/dnsconfig_unix.go).
//! - The query refused by a local netfilter hook (write EPERM, `kfree_skb`
//!   NETFILTER_DROP): `kernel / local-firewall-drop`.
//! - RCODE 3 (RFC 1035 4.1.1): `network / dns-nxdomain`.
//! - Read ECONNREFUSED with an ICMP port unreachable quoting the query
//!   (RFC 792 / RFC 4443), the query on the wire: `network /
//!   dns-port-unreachable`.
//! - Another error RCODE (SERVFAIL 2, REFUSED 5, ...): `network /
//!   dns-server-failure` (Go: server misbehaving).
//! - Queries on the wire, no answer, Go closing the socket: `network /
//!   dns-timeout` (Go's resolver: 5 s per try, 2 tries, resolv.conf
//!   `options timeout:`/`attempts:`).

use super::{
    base, errno_phrase, ev, how_run_ended, pending_long, pk, refused_locally, secs_to_end,
    undecided, Diagnosis,
};
use crate::cause::{Cause, Missing};
use crate::correlate::{is_netfilter, Attempt};
use crate::proto::dns::{self, DnsMessage};
use crate::proto::errno;
use crate::proto::icmp::Unreachable;
use crate::verdict::Input;
use std::borrow::Cow;

pub(super) fn diagnose(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    // The UDP socket's connect() does the route lookup: a blackhole,
    // prohibit or unreachable route to the server fails it at once.
    if let Some(mut d) = refused_locally(a, input) {
        let ip = a.peer.ip();
        d.fix = Some(format!("this host refuses to send to the name server {}: fix the route to it (`ip route get {ip}`) or the local address setup, or point /etc/resolv.conf at a resolver this host can reach", a.peer));
        return Some(d);
    }
    let server = a.peer;
    let name = a.qname().unwrap_or("?").to_string();
    let query_ev = a.queries.first().and_then(|q| ev(a, Some(q.id)));
    let query_pkt = pk(a, a.wire_queries.first().map(|q| q.number));
    let refused = a
        .read_errno
        .as_ref()
        .filter(|r| r.value == errno::ECONNREFUSED);
    let port_unreach = a.icmp.as_ref().filter(|i| i.value == Unreachable::Port);
    if server.ip().is_loopback() && (refused.is_some() || port_unreach.is_some()) {
        let mut d = base(Cause::NoResolver,
            format!("no DNS server runs on this host's {server}: {}; the query for {name} was refused locally (Go: read: connection refused)", resolv_story(input, server)),
        );
        d.evidence.extend(query_ev);
        d.evidence.extend(query_pkt);
        d.evidence.extend(pk(a, port_unreach.map(|i| i.number)));
        d.evidence.extend(ev(a, refused.map(|r| r.id)));
        d.go_phrase = errno_phrase(errno::ECONNREFUSED).map(Cow::Borrowed);
        d.fix = Some(resolv_fix(input, server));
        return Some(d);
    }
    if let Some(d) = local_drop(a, &name) {
        return Some(d);
    }
    let proves = |m: &DnsMessage, c: Cause| Cause::of_rcode(m.rcode) == Some(c);
    let nx_ev = a
        .answers
        .iter()
        .find(|m| proves(&m.value, Cause::DnsNxdomain));
    let nx_pkt = a
        .wire_answers
        .iter()
        .find(|m| proves(&m.value, Cause::DnsNxdomain));
    if nx_ev.is_some() || nx_pkt.is_some() {
        let msg: Option<&DnsMessage> = nx_ev.map(|m| &m.value).or(nx_pkt.map(|m| &m.value));
        let q = msg
            .map(|m| m.question_text())
            .unwrap_or_else(|| name.clone());
        let mut d = base(Cause::DnsNxdomain,
            format!("the DNS server {server} answered NXDOMAIN for {q}: the name does not exist there (Go: lookup {name} on {server}: no such host)"),
        );
        d.evidence.extend(query_ev);
        d.evidence.extend(query_pkt);
        d.evidence.extend(pk(a, nx_pkt.map(|m| m.number)));
        d.evidence.extend(ev(a, nx_ev.map(|m| m.id)));
        d.go_phrase = Some(Cow::Borrowed("no such host"));
        return Some(d);
    }
    if let (Some(icmp), None) = (port_unreach, &query_pkt) {
        // An ICMP error for a query that never showed on the wire was made
        // on this host (a local REJECT rule): not the server's doing.
        let mut d = undecided(
            format!("the DNS query for {name} to {server} got ICMP port unreachable (pkt {}), but the query itself is not in the capture: the error may come from this host's own firewall", icmp.number),
            vec![Missing::DnsQueryOnWire],
        );
        d.evidence.extend(query_ev);
        d.evidence.extend(pk(a, Some(icmp.number)));
        d.go_phrase = errno_phrase(errno::ECONNREFUSED).map(Cow::Borrowed);
        d.advice = Some("check this host's firewall for a REJECT rule on UDP port 53 (`nft list ruleset`, iptables OUTPUT), and /etc/resolv.conf".into());
        return Some(d);
    }
    if let Some(icmp) = port_unreach {
        let note = if refused.is_none() {
            " (the failed read was not recorded)"
        } else {
            ""
        };
        let mut d = base(Cause::DnsPortUnreachable,
            format!("nothing listens on the DNS server's port {server}: the query for {name} got ICMP port unreachable (pkt {}), so read() failed with ECONNREFUSED{note}", icmp.number),
        );
        d.evidence.extend(ev(a, a.connect.as_ref().map(|c| c.id)));
        d.evidence.extend(query_ev);
        d.evidence.extend(query_pkt);
        d.evidence.extend(pk(a, Some(icmp.number)));
        d.evidence.extend(ev(a, refused.map(|r| r.id)));
        d.go_phrase = errno_phrase(errno::ECONNREFUSED).map(Cow::Borrowed);
        return Some(d);
    }
    if let Some(r) = refused {
        let missing = if input.capture.is_none() {
            Missing::Capture
        } else {
            Missing::IcmpPortUnreachable
        };
        let mut d = undecided(
            format!("read() from DNS server {server} failed with ECONNREFUSED for {name}, but no ICMP port unreachable proves where it came from"),
            vec![missing],
        );
        d.evidence.extend(query_ev);
        d.evidence.extend(ev(a, Some(r.id)));
        d.go_phrase = errno_phrase(errno::ECONNREFUSED).map(Cow::Borrowed);
        return Some(d);
    }
    // NXDOMAIN was decided above: any error RCODE left is a server failure.
    let failed = |m: &DnsMessage| Cause::of_rcode(m.rcode).is_some();
    let failed_ev = a.answers.iter().find(|m| failed(&m.value));
    let failed_pkt = a.wire_answers.iter().find(|m| failed(&m.value));
    let failed_answer = failed_ev.map(|m| &m.value).or(failed_pkt.map(|m| &m.value));
    if let Some(m) = failed_answer {
        let (ev_id, pkt) = (failed_ev.map(|m| m.id), failed_pkt.map(|m| m.number));
        let rcode = dns::rcode_name(m.rcode);
        let meaning = match m.rcode {
            dns::RCODE_SERVFAIL => "it could not resolve the name (its upstream or zone failed)",
            dns::RCODE_REFUSED => {
                "it refuses to resolve for this client (policy, or no recursion for it)"
            }
            _ => "it reports an error",
        };
        let mut d = base(Cause::DnsServerFailure,
            format!("the DNS server {server} answered {rcode} for {}: {meaning} (Go: server misbehaving)", m.question_text()),
        );
        d.evidence.extend(query_ev);
        d.evidence.extend(query_pkt);
        d.evidence.extend(pk(a, pkt));
        d.evidence.extend(ev(a, ev_id));
        d.go_phrase = Some(Cow::Borrowed("server misbehaving"));
        d.fix = Some(format!("the resolver {server} failed ({rcode}): check its upstream servers and logs, or point /etc/resolv.conf at a working resolver; for private module hosts make sure the internal DNS serves them"));
        return Some(d);
    }
    if !a.answers.is_empty() || !a.wire_answers.is_empty() {
        return None;
    }
    if a.queries.is_empty() && a.wire_queries.is_empty() {
        return None;
    }
    Some(timeout(a, input, &name))
}

/// The query left (or the kernel sent it) and no answer came.
fn timeout(a: &Attempt, input: &Input<'_>, name: &str) -> Diagnosis {
    let server = a.peer;
    let query_ev = a.queries.first().and_then(|q| ev(a, Some(q.id)));
    let on_wire = a.wire_queries.first();
    let sent = a.queries.len();
    if on_wire.is_none() && input.capture.is_some() {
        let mut d = undecided(
            format!("the DNS query for {name} to {server} got no answer, and it is not in the capture either"),
            vec![Missing::DnsQueryOrDrop],
        );
        d.no_outcome = !a.closed;
        d.evidence.extend(query_ev);
        d.go_phrase = Some(Cow::Borrowed("i/o timeout"));
        d.advice = Some("look for a local firewall dropping UDP port 53 (`nft list ruleset`), and check /etc/resolv.conf".into());
        return d;
    }
    let wait = match (a.queries.first(), a.close_ns) {
        (Some(q), Some(c)) => format!(" after {:.1} s", c.saturating_sub(q.ts_ns) as f64 / 1e9),
        _ => String::new(),
    };
    let seen = match on_wire {
        Some(p) => format!("left this host (pkt {})", p.number),
        None => "was written without error (no capture to show the wire)".into(),
    };
    let count = if sent > 1 {
        format!("{sent} queries")
    } else {
        "the query".into()
    };
    let late = a
        .late_answer
        .map(|n| {
            format!("; an answer arrived only after that (pkt {n}): the server is slow, not silent")
        })
        .unwrap_or_default();
    let first = a.queries.first().map_or(a.start_ns, |q| q.ts_ns);
    // Still waiting when the run ended, long past any working answer:
    // the silence so far is the state at the end.
    let interrupted = !a.closed && pending_long(first, input);
    let gave_up = if a.closed {
        format!("Go's resolver gave up{wait} (its timeout: 5 s per try, 2 tries unless resolv.conf `options timeout:`/`attempts:` say otherwise; Go: i/o timeout)")
    } else if interrupted {
        format!("{} while Go was still waiting ({:.1} s after the first query; Go's resolver would have given up after 5 s per try, 2 tries)", how_run_ended(input), secs_to_end(first, input))
    } else {
        "the trace ended while Go was still waiting".into()
    };
    let mut d = base(Cause::DnsTimeout,
        format!("{count} for {name} to the DNS server {server} {seen} and no answer came back in time; {gave_up}{late}"),
    );
    d.evidence.extend(query_ev);
    d.evidence.extend(pk(a, on_wire.map(|p| p.number)));
    d.evidence.extend(pk(a, a.late_answer));
    d.no_outcome = !a.closed && !interrupted;
    d.interrupted = interrupted;
    d.go_phrase = Some(Cow::Borrowed("i/o timeout"));
    d.fix = Some(format!("the name server {server} does not answer: check that it runs and that UDP port 53 to it is open on every firewall on the way, or put a reachable resolver in /etc/resolv.conf"));
    d
}

/// The query refused by this host's own packet filter.
fn local_drop(a: &Attempt, name: &str) -> Option<Diagnosis> {
    let eperm = a.send_errno.as_ref().filter(|s| s.value == errno::EPERM);
    let nf_drop = a.drops.iter().find(|d| is_netfilter(&d.value));
    if eperm.is_none() && nf_drop.is_none() {
        return None;
    }
    let server = a.peer;
    if let Some(p) = a.wire_queries.first() {
        let mut d = undecided(
            format!("the DNS query for {name} to {server} is on the wire (pkt {}), yet the local kernel refused to send one", p.number),
            vec![Missing::ConsistentKernelRecord],
        );
        d.evidence.extend(pk(a, Some(p.number)));
        return Some(d);
    }
    let reason = nf_drop
        .map(|d| format!(" ({}, event #{})", d.value, d.id))
        .unwrap_or_default();
    let mut d = base(Cause::LocalFirewallDrop,
        format!("the DNS query for {name} to {server} never left this host: the kernel's packet filter dropped it{reason} and the send failed with EPERM (Go: write: operation not permitted)"),
    );
    d.evidence.extend(nf_drop.and_then(|x| ev(a, Some(x.id))));
    d.evidence.extend(eperm.and_then(|x| ev(a, Some(x.id))));
    d.go_phrase = errno_phrase(errno::EPERM).map(Cow::Borrowed);
    d.fix = Some(format!("a rule in this host's OUTPUT path drops DNS to {server}: find it with `nft list ruleset` (or `iptables -S OUTPUT`) and allow UDP port 53 to the resolver, or use a resolver the firewall allows"));
    Some(d)
}

/// What resolv.conf said, for a loopback name server that is not there.
fn resolv_story(input: &Input<'_>, server: std::net::SocketAddr) -> String {
    let Some(r) = &input.meta.resolv_conf else {
        return format!("Go asked {server}, as it does when /etc/resolv.conf is missing or names no server (the file was not recorded)");
    };
    if !r.present {
        let why = r.error.as_deref().unwrap_or("unreadable");
        format!(
            "{} is missing ({why}), so Go fell back to 127.0.0.1:53 and [::1]:53",
            r.path
        )
    } else if r.nameservers.is_empty() {
        format!(
            "{} names no nameserver, so Go fell back to 127.0.0.1:53 and [::1]:53",
            r.path
        )
    } else {
        format!(
            "{} names {}, but nothing listens on {server}",
            r.path,
            r.nameservers.join(", ")
        )
    }
}

fn resolv_fix(input: &Input<'_>, server: std::net::SocketAddr) -> String {
    let missing = input
        .meta
        .resolv_conf
        .as_ref()
        .is_some_and(|r| !r.present || r.nameservers.is_empty());
    if missing {
        "give this host (or its network namespace / container) an /etc/resolv.conf with a `nameserver` line for a resolver it can reach".into()
    } else {
        format!("start the local resolver on {server} (systemd-resolved, dnsmasq, unbound), or point /etc/resolv.conf at a resolver that runs")
    }
}
