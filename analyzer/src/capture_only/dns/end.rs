//! What a finished DNS exchange proved (the rules are in the parent
//! module's doc), worded with its evidence lines.

use std::net::SocketAddr;

use super::{bases, qpkts_first, Rare, Txn, TxnKey, DNS_WAIT_NS};
use crate::capture_only::record::{secs, target_of, DnsFacts, Ev, Failure, Findings, Silence};
use crate::cause::Cause;
use crate::proto::dns::{rcode_name, RCODE_NXDOMAIN, RCODE_REFUSED, RCODE_SERVFAIL};
use crate::proto::icmp::Unreachable;

/// What a finished exchange proved: a failure, a note, or nothing.
pub(super) fn finish(key: TxnKey, t: Txn, now: i64, out: &mut Findings) {
    let client = key.client;
    let q = t.question_text();
    let empty = Rare::default();
    let rare = t.rare.as_deref().unwrap_or(&empty);
    let over = if rare.over_tcp { " over TCP" } else { "" };
    let query_line = |server: SocketAddr| {
        format!(
            "{client} > {server} DNS{over} query {q} (id {:#06x})",
            key.id
        )
    };
    // RFC 1035 4.2.1 / RFC 7766 5: TC=1 sends the client to TCP.
    let link = rare
        .after_truncated
        .map(|p| format!(", retried over TCP after a truncated UDP answer (packet {p})"))
        .unwrap_or_default();
    let retry = match (rare.over_tcp, link.is_empty()) {
        (true, true) => ", over TCP".to_string(),
        _ => link.clone(),
    };
    let mut ev: Vec<Ev> = t
        .first
        .iter()
        .map(|a| Ev::new(a.0, a.1, query_line(t.server)))
        .collect();
    ev.extend(
        t.more
            .iter()
            .map(|(a, s)| Ev::new(a.0, a.1, query_line(*s))),
    );
    let qpkts: Vec<String> = ev.iter().map(|e| e.pkt.to_string()).collect();
    let qpkts = qpkts.join(", ");
    let server = rare.from.unwrap_or(t.server);
    let target = target_of(server, t.qname.clone());
    let facts = |answer_ns| DnsFacts {
        client: client.ip(),
        server,
        question: t.question,
        bases: bases(client.ip(), t.qname.as_deref().unwrap_or("")),
        answer_ns,
    };
    if let Some(a) = &t.answer {
        let Some(c) = Cause::of_rcode(a.rcode) else {
            if rare.over_tcp && out.wants_info() {
                out.infos.push((qpkts_first(&ev), format!("the DNS query for {q} from {client} to {server} over TCP (pkt {qpkts}{link}) was answered (pkt {})", a.at.0)));
            }
            if t.sends >= 2 && out.wants_note() {
                let frag = rare
                    .frag
                    .as_ref()
                    .filter(|(f, _)| f.0 < a.at.0)
                    .map(|(f, _)| format!("; an earlier answer came as IP fragments that never completed (pkt {})", f.0))
                    .unwrap_or_default();
                out.note(qpkts_first(&ev), format!("the DNS query for {q} from {client} was answered only after {} transmissions (pkts {qpkts}, answer pkt {}){frag}: a slow or lossy path to {server}", t.sends, a.at.0));
            }
            return;
        };
        ev.push(Ev::new(
            a.at.0,
            a.at.1,
            rare.text.clone().unwrap_or_default(),
        ));
        let asked = if qpkts.is_empty() {
            format!("answer pkt {}; the query is not in the capture", a.at.0)
        } else {
            format!("query pkt {qpkts}, answer pkt {}", a.at.0)
        };
        let what = match a.rcode {
            RCODE_NXDOMAIN => "the name does not exist there".to_string(),
            RCODE_SERVFAIL => "it could not resolve the name".to_string(),
            RCODE_REFUSED => "it refuses to answer this client".to_string(),
            n => format!("error RCODE {n}"),
        };
        let summary = format!(
            "the DNS server {server} answered {} for {q} ({asked}{retry}): {what}",
            rcode_name(a.rcode)
        );
        let mut f = Failure::new(c, summary, target, ev);
        f.dns = Some(facts(a.at.1));
        out.fail(f);
        return;
    }
    let Some(first) = t.first else {
        return;
    };
    if let Some(h) = &rare.icmp {
        ev.push(Ev::new(h.at.0, h.at.1, h.text.clone()));
        let (c, summary) = if h.kind == Unreachable::Port {
            (Cause::DnsPortUnreachable, format!("nothing listens on the DNS server's port {server}: the query for {q} (pkt {qpkts}) got ICMP port unreachable from {} (pkt {})", h.sender, h.at.0))
        } else {
            (Cause::IcmpUnreachable, format!("{} answered the DNS query for {q} to {server} (pkt {qpkts}) with ICMP {} ({}, pkt {})", h.sender, h.what, h.type_code, h.at.0))
        };
        let mut f = Failure::new(c, summary, target, ev);
        f.dns = Some(facts(None));
        out.fail(f);
        return;
    }
    out.silence(Silence {
        from: client.ip(),
        to: t.server,
        pkt: first.0,
        ns: first.1,
        what: "DNS query",
    });
    let last = t.last_query().unwrap_or(first);
    let waited = secs(last.1, Some(now)).is_some_and(|s| s * 1e9 >= DNS_WAIT_NS as f64);
    let mut fix = None;
    let why = if let Some((at, text, found, expected)) = &rare.bad {
        fix = Some(format!("the answers of {server} arrive damaged (bad UDP checksum): something on the way (a NIC or driver, a middlebox rewriting DNS) corrupts them; capture next to the resolver to find where, or use another resolver"));
        ev.push(Ev::new(at.0, at.1, text.clone()));
        format!("the answer from {server} (pkt {}) has a bad UDP checksum ({found:#06x}, should be {expected:#06x}): the client's kernel drops it (RFC 768), so the client got no answer and timed out", at.0)
    } else if let Some((at, text)) = &rare.frag {
        fix = Some(format!("the answers of {server} are too large for the path and their IP fragments are lost: let fragments through the firewalls on the way, or make the resolver send smaller answers (EDNS buffer size 1232) or answer over TCP"));
        ev.push(Ev::new(at.0, at.1, text.clone()));
        format!("the answer came only as IP fragments that never completed (pkt {}): the client's kernel cannot reassemble and drops it, so the query went unanswered", at.0)
    } else if t.sends >= 2 || t.retried || waited {
        let within = secs(first.1, last.1.max(Some(now)))
            .map(|s| format!(" in {s:.1} s"))
            .unwrap_or_default();
        let again = if t.retried {
            "; the client then asked again in a new query"
        } else {
            ""
        };
        format!(
            "no answer came{within}{again}: {} does not answer, or its answers are lost on the way",
            server.ip()
        )
    } else {
        if out.wants_note() {
            out.note(first.0, format!("the DNS query for {q} from {client} to {server} (pkt {}) got no answer before the capture ended, and was not sent again: too early to call it a timeout", first.0));
        }
        return;
    };
    let n = 1 + t.more.len();
    let servers: Vec<String> = {
        let mut v = vec![t.server.to_string()];
        for (_, s) in &t.more {
            let s = s.to_string();
            if !v.contains(&s) {
                v.push(s);
            }
        }
        v
    };
    let queries = if n == 1 {
        format!(
            "the DNS query for {q} from {client} to {} (pkt {qpkts}{retry})",
            servers.join(" and ")
        )
    } else {
        format!(
            "{n} DNS queries for {q} from {client} to {} (pkts {qpkts}{retry})",
            servers.join(" and ")
        )
    };
    let mut f = Failure::new(Cause::DnsTimeout, format!("{queries}: {why}"), target, ev);
    f.dns = Some(facts(None));
    f.fix = fix;
    out.fail(f);
}
