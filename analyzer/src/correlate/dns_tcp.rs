//! DNS over TCP in a bundle: a TCP attempt to port 53 is Go's resolver
//! asking again over TCP after a truncated UDP answer (RFC 1035 4.2.1,
//! RFC 7766 5; Go's src/net/dnsclient_unix.go `exchange` tries "udp"
//! then "tcp" to the same server). Its packets are decoded by
//! [`crate::proto::dns_tcp`] into the attempt's wire queries and answers,
//! so the rules and the naming of addresses see them like UDP ones, and
//! the attempt is linked to the truncated UDP answer it retries.

use super::{Attempt, Kind, PacketFact, Source};
use crate::capture::{Packet, Payload};
use crate::proto::dns::DnsMessage;
use crate::proto::dns_tcp::DnsTcpStream;

/// A truncated UDP answer a TCP attempt retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    /// Its packet number.
    pub packet: u64,
    /// The question (`A proxy.lab.test`).
    pub question: String,
}

/// Decodes the DNS messages of the attempt's packets `pkts` (capture
/// order) into its wire queries and answers, and names them in its steps.
pub(super) fn decode(a: &mut Attempt, pkts: &[&Packet]) {
    // Ours to the server, the server's to us.
    let mut dirs = [DnsTcpStream::new(None), DnsTcpStream::new(None)];
    for p in pkts {
        let Payload::Tcp {
            flags,
            len,
            dns_tcp,
            ..
        } = &p.payload
        else {
            continue;
        };
        let from_peer = p.src == a.peer;
        let s = &mut dirs[usize::from(from_peer)];
        if flags.syn {
            // The SYN takes one sequence number (RFC 9293 3.4).
            *s = DnsTcpStream::new(Some(p.headers.seq.wrapping_add(1)));
        }
        for m in s.feed(p.number, p.headers.seq, dns_tcp, *len) {
            push(a, m.frame, m.msg);
        }
    }
}

fn push(a: &mut Attempt, number: u64, msg: DnsMessage) {
    let text = format!(" DNS over TCP {}", msg.summary());
    if let Some(step) = a
        .steps
        .iter_mut()
        .find(|s| s.source == Source::Packet && s.id == number)
    {
        step.text.push_str(&text);
    }
    let fact = PacketFact { number, value: msg };
    if fact.value.response {
        a.wire_answers.push(fact);
    } else {
        a.wire_queries.push(fact);
    }
}

/// Links each DNS-over-TCP attempt to the truncated UDP answer (TC=1) of
/// the same process and server for the question it asks, the latest one
/// before its first query on the wire (before its SYN when it carried no
/// query).
pub(super) fn link(attempts: &mut [Attempt]) {
    let truncated: Vec<(u32, std::net::SocketAddr, u64, DnsMessage)> = attempts
        .iter()
        .filter(|a| a.kind == Kind::Dns)
        .flat_map(|a| {
            a.wire_answers
                .iter()
                .filter(|m| m.value.truncated)
                .map(|m| (a.tgid, a.peer, m.number, m.value.clone()))
        })
        .collect();
    for a in attempts.iter_mut().filter(|a| a.is_dns_tcp()) {
        // A connection that never carried a query (refused, reset, timed
        // out) is tied by time: the latest truncated answer before its SYN.
        let q = a.wire_queries.first();
        let Some(before) = q.map(|q| q.number).or(a.syn.as_ref().map(|s| s.number)) else {
            continue;
        };
        let same = |m: &DnsMessage| {
            q.is_none_or(|q| {
                m.qtype == q.value.qtype
                    && m.qname.as_deref().map(str::to_ascii_lowercase)
                        == q.value.qname.as_deref().map(str::to_ascii_lowercase)
            })
        };
        a.after_truncated = truncated
            .iter()
            .filter(|(tgid, peer, n, m)| {
                *tgid == a.tgid && *peer == a.peer && *n < before && same(m)
            })
            .max_by_key(|t| t.2)
            .map(|(_, _, n, m)| Truncated {
                packet: *n,
                question: m.question_text(),
            });
    }
}

/// One line per DNS-over-TCP attempt linked to a truncated UDP answer:
/// how its retry went, for the report (also when nothing failed).
pub fn retry_lines(attempts: &[Attempt]) -> Vec<String> {
    attempts
        .iter()
        .filter_map(|a| {
            let t = a.after_truncated.as_ref()?;
            let q = a
                .wire_queries
                .first()
                .map_or_else(|| t.question.clone(), |q| q.value.question_text());
            let outcome = match (a.wire_answers.first(), a.wire_queries.is_empty()) {
                (Some(m), _) => format!(
                    "answered {} (packet {}, {} answer record(s))",
                    crate::proto::dns::rcode_name(m.value.rcode),
                    m.number,
                    m.value.answers
                ),
                (None, false) => "not answered over TCP".into(),
                (None, true) => "but the TCP connection carried no query".into(),
            };
            Some(format!(
                "DNS over TCP: the query for {q} to {} was retried over TCP after a truncated UDP answer (packet {}), {outcome}",
                a.peer, t.packet
            ))
        })
        .collect()
}
