//! ICMP and ICMPv6 destination unreachable (RFC 792, RFC 4443 3.1),
//! matched back to the flow they quote:
//!
//! - quoting a SYN of a connection still waiting: that connection's
//!   failure ([`super::tcp`], `icmp-unreachable`);
//! - quoting a DNS query still unanswered: that exchange's failure
//!   ([`super::dns`]: port unreachable is `dns-port-unreachable`);
//! - quoting a DNS *answer* (source port 53), sent by the answer's
//!   destination: the client had already closed that socket when the
//!   answer came (it gave up, or already had its answer): a note, not a
//!   failure;
//! - fragmentation needed (ICMPv4 code 4) is path MTU discovery (RFC
//!   1191), not a failure;
//! - anything else (a ping, a flow whose start is not captured, a quote
//!   cut too short to read) is a failure of its own, one per (sender,
//!   quoted destination, code): `icmp-unreachable`, or
//!   `dns-port-unreachable` for port unreachable quoting a query to port 53.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::dns::DnsTracker;
use super::record::{target_of, Ev, Failure, Findings};
use super::tcp::{At, IcmpHit, TcpTracker};
use crate::cause::{Cause, Target};
use crate::proto::icmp::{IcmpError, Unreachable};
use crate::proto::{IPPROTO_TCP, IPPROTO_UDP};

/// Distinct standalone errors kept; beyond, they are counted.
const MAX_GROUPS: usize = 4096;
/// Packets cited per standalone error.
const KEEP: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    sender: IpAddr,
    about: Option<IpAddr>,
    code: u8,
    v6: bool,
}

#[derive(Debug)]
struct Group {
    pkts: Vec<At>,
    texts: Vec<String>,
    count: u64,
    err: IcmpError,
    to: IpAddr,
}

/// One destination-unreachable message.
#[derive(Debug)]
pub(crate) struct Message {
    /// Frame number and time.
    pub at: At,
    /// Its sender (port 0).
    pub src: SocketAddr,
    /// Its destination (port 0).
    pub dst: SocketAddr,
    /// What it says and quotes.
    pub err: IcmpError,
    /// Its tcpdump-style line.
    pub text: String,
}

/// Counts for the report.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IcmpStats {
    /// Destination-unreachable messages seen.
    pub errors: u64,
    /// Of them, fragmentation needed (path MTU discovery).
    pub frag_needed: u64,
    /// Not kept because [`MAX_GROUPS`] were open.
    pub untracked: u64,
}

/// Errors that matched no tracked flow.
#[derive(Debug, Default)]
pub(crate) struct IcmpTracker {
    groups: HashMap<Key, Group>,
    order: Vec<Key>,
    /// Counts.
    pub stats: IcmpStats,
}

impl IcmpTracker {
    /// Routes one ICMP error to the connection or exchange it quotes.
    pub(crate) fn error(
        &mut self,
        m: Message,
        tcp: &mut TcpTracker,
        dns: &mut DnsTracker,
        out: &mut Findings,
    ) {
        let Message {
            at,
            src,
            dst,
            err,
            text,
        } = m;
        self.stats.errors += 1;
        if !err.v6 && err.code == 4 {
            self.stats.frag_needed += 1;
            return;
        }
        let hit = IcmpHit {
            at,
            sender: src.ip(),
            kind: err.kind,
            what: err.kind.text(),
            type_code: err.type_code(),
            text,
        };
        if let Some(q) = &err.quoted {
            if q.proto == IPPROTO_TCP && tcp.icmp(q.src, q.dst, hit.clone()) {
                return;
            }
            if q.proto == IPPROTO_UDP && q.src.port() == crate::proto::dns::PORT {
                if out.wants_note() {
                    out.note(at.0, format!("{} refused a DNS answer from {} with ICMP {} (pkt {}): the client had already closed that socket when the answer came (it gave up waiting, or already had its answer)", src.ip(), q.src, hit.what, at.0));
                }
                return;
            }
            if q.proto == IPPROTO_UDP
                && q.dst.port() == crate::proto::dns::PORT
                && dns.icmp(q.src, q.dst, q.dns_id, hit.clone())
            {
                return;
            }
        }
        let key = Key {
            sender: src.ip(),
            about: err.quoted.as_ref().map(|q| q.dst.ip()),
            code: err.code,
            v6: err.v6,
        };
        if let Some(g) = self.groups.get_mut(&key) {
            g.count += 1;
            if g.pkts.len() < KEEP {
                g.pkts.push(at);
                g.texts.push(hit.text);
            }
            return;
        }
        if self.groups.len() >= MAX_GROUPS {
            self.stats.untracked += 1;
            return;
        }
        self.order.push(key);
        self.groups.insert(
            key,
            Group {
                pkts: vec![at],
                texts: vec![hit.text],
                count: 1,
                err,
                to: dst.ip(),
            },
        );
    }

    /// Reports every standalone error (end of capture).
    pub(crate) fn finish_all(&mut self, out: &mut Findings) {
        for k in std::mem::take(&mut self.order) {
            if let Some(g) = self.groups.remove(&k) {
                out.fail(standalone(k, g));
            }
        }
    }
}

fn standalone(k: Key, g: Group) -> Failure {
    let ev: Vec<Ev> = g
        .pkts
        .iter()
        .zip(g.texts)
        .map(|(a, t)| Ev::new(a.0, a.1, t))
        .collect();
    let pkts: Vec<String> = g.pkts.iter().map(|a| a.0.to_string()).collect();
    let times = if g.count > 1 {
        format!("{} times (pkts {})", g.count, pkts.join(", "))
    } else {
        format!("(pkt {})", pkts.join(", "))
    };
    let what = format!("ICMP {} ({})", g.err.kind.text(), g.err.type_code());
    let sender = k.sender;
    match &g.err.quoted {
        Some(q) => {
            let proto = match q.proto {
                IPPROTO_TCP => "TCP".to_string(),
                IPPROTO_UDP => "UDP".to_string(),
                1 => "ICMP".to_string(),
                58 => "ICMPv6".to_string(),
                n => format!("protocol {n}"),
            };
            let dns_query = q.proto == IPPROTO_UDP && q.dst.port() == crate::proto::dns::PORT;
            let (c, flow, target) = if q.proto == IPPROTO_TCP || q.proto == IPPROTO_UDP {
                let c = if dns_query && g.err.kind == Unreachable::Port {
                    Cause::DnsPortUnreachable
                } else {
                    Cause::IcmpUnreachable
                };
                (
                    c,
                    format!("{proto} {} > {}", q.src, q.dst),
                    target_of(q.dst, None),
                )
            } else {
                let t = Target {
                    name: None,
                    ip: Some(q.dst.ip().to_string()),
                    port: None,
                };
                (
                    Cause::IcmpUnreachable,
                    format!("{proto} {} > {}", q.src.ip(), q.dst.ip()),
                    t,
                )
            };
            let summary = format!(
                "{sender} answered {flow} with {what} {times}: {} cannot be reached from {}",
                q.dst.ip(),
                q.src.ip(),
            );
            Failure::new(c, summary, target, ev)
        }
        None => {
            let summary = format!(
                "{sender} sent {} {what} {times}; the packet it answers is cut too short in the message to name its flow",
                g.to
            );
            let target = Target {
                name: None,
                ip: None,
                port: None,
            };
            Failure::new(Cause::IcmpUnreachable, summary, target, ev)
        }
    }
}
