//! DNS exchanges over UDP port 53 (RFC 1035 4.2.1), and over TCP (RFC
//! 1035 4.2.2, RFC 7766; decoded by [`tcp`]): a query and its answer share
//! the client's address and port and the 16-bit id; a query sent again
//! with the same id is a retransmission of the same exchange.
//!
//! A UDP answer with TC=1 is not a usable answer: it tells the client to
//! ask again over TCP (RFC 1035 4.2.1, RFC 7766 5). A TCP exchange whose
//! question matches an earlier truncated UDP answer from the same server
//! to the same client is linked to it ("retried over TCP after a
//! truncated UDP answer (packet N)"); the same rules then judge it, and a
//! TCP connection to port 53 that fails is tied to that answer by the
//! report.
//!
//! What a finished exchange proves:
//!
//! - Answer with RCODE 3 (RFC 1035 4.1.1): `dns-nxdomain`; another error
//!   RCODE (SERVFAIL, REFUSED, ...): `dns-server-failure`. An error answer
//!   whose query is not captured still counts (the question is in it).
//! - No usable answer: `dns-timeout` when the query was sent at least
//!   twice, or asked again in a new query (Go re-asks with a new id), or
//!   when the capture goes on [`DNS_WAIT_NS`] after it; also when the only
//!   answer has a bad UDP checksum (RFC 768; RFC 8200 8.1 for IPv6): the
//!   client's kernel drops it (UDP InCsumErrors), so for the resolver
//!   nothing came; and when the answer came as IP fragments that never
//!   completed. A single query the capture ends right after is a note.
//! - ICMP destination unreachable quoting the query ([`super::icmp`]):
//!   port unreachable is `dns-port-unreachable`, other codes
//!   `icmp-unreachable`.
//!
//! The report later drops failures a later answer made harmless
//! ([`DnsTracker::answered`], [`DnsTracker::names`]): the same question
//! answered, or a search-list expansion (`name.corp.example` NXDOMAIN,
//! then `name` answered, as with resolv.conf `search`/`ndots`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

mod end;
pub(crate) mod tcp;

use super::record::{Ev, Findings};
use super::tcp::{At, IcmpHit};
use crate::capture::packet::Checksum;
use crate::proto::dns::{qtype_name, DnsMessage};
use end::finish;

/// Live exchanges tracked at most: half of what a hash table of 2^16
/// slots holds, so that it reuses slots in place and stays under 16 MiB
/// (see [`super::tcp::MAX_FLOWS`]).
pub const MAX_EXCHANGES: usize = 7 << 12;
/// How long a resolver waits for an answer before trying again (ns): 5 s,
/// glibc's and Go's default (resolv.conf `options timeout:`, man 5
/// resolv.conf).
pub const DNS_WAIT_NS: i64 = 5_000_000_000;
/// An exchange leaves the table this long after its last packet (ns).
const LINGER_NS: i64 = 12_000_000_000;
/// Retransmissions kept per exchange for evidence.
const KEEP: usize = 8;
/// Answered questions and names remembered for the report's cross-check.
const MAX_REMEMBERED: usize = 1 << 16;

/// An exchange: the client's address and port, and the DNS id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TxnKey {
    client: SocketAddr,
    id: u16,
}

#[derive(Debug, Clone, Copy)]
struct Answer {
    at: At,
    rcode: u8,
}

/// What only troubled exchanges need, boxed to keep [`Txn`] small.
#[derive(Debug, Default)]
struct Rare {
    /// The answer's source, when not the server first asked.
    from: Option<SocketAddr>,
    /// The answer's tcpdump-style line, for error answers.
    text: Option<String>,
    /// An answer with a bad checksum: packet, line, found, expected.
    bad: Option<(At, String, u16, u16)>,
    /// The first piece of a fragmented answer.
    frag: Option<(At, String)>,
    icmp: Option<IcmpHit>,
    /// Asked over TCP.
    over_tcp: bool,
    /// The truncated UDP answer this TCP exchange retries (packet).
    after_truncated: Option<u64>,
}

#[derive(Debug)]
struct Txn {
    last_ns: i64,
    server: SocketAddr,
    qname: Option<String>,
    qtype: Option<u16>,
    question: u64,
    first: Option<At>,
    /// Later transmissions (time, server asked).
    more: Vec<(At, SocketAddr)>,
    sends: u16,
    answer: Option<Answer>,
    rare: Option<Box<Rare>>,
    retried: bool,
}

impl Txn {
    fn question_text(&self) -> String {
        format!(
            "{} {}",
            self.qtype.map(qtype_name).unwrap_or_else(|| "?".into()),
            self.qname.as_deref().unwrap_or("?")
        )
    }

    fn last_query(&self) -> Option<At> {
        self.more.last().map(|m| m.0).or(self.first)
    }

    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Default::default)
    }

    fn frag(&self) -> Option<&(At, String)> {
        self.rare.as_ref()?.frag.as_ref()
    }
}

/// One DNS message on the wire.
#[derive(Debug)]
pub(crate) struct Datagram {
    /// Frame number and time.
    pub at: At,
    /// Source.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
    /// The message (its head, for a cut one).
    pub msg: DnsMessage,
    /// The UDP checksum verdict ([`Checksum::Unverified`] over TCP).
    pub checksum: Checksum,
    /// Carried over TCP ([`tcp`]).
    pub tcp: bool,
}

/// A UDP answer with TC=1 (RFC 1035 4.1.1), kept to link the TCP retry.
#[derive(Debug, Clone)]
pub(crate) struct Truncation {
    /// Its packet.
    pub pkt: u64,
    /// Question hash (client, name, type).
    pub question: u64,
    /// `A proxy.lab.test`.
    pub text: String,
    /// The name asked.
    pub qname: Option<String>,
}

/// Counts for the report.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DnsStats {
    /// Exchanges seen (queries with a new client/id).
    pub exchanges: u64,
    /// Exchanges with a usable answer.
    pub answered: u64,
    /// Answers dropped for a bad UDP checksum.
    pub bad_checksums: u64,
    /// Exchanges not tracked because [`MAX_EXCHANGES`] were live.
    pub untracked: u64,
    /// Exchanges over TCP.
    pub over_tcp: u64,
    /// UDP answers with TC=1.
    pub truncated: u64,
}

/// Every live DNS exchange.
#[derive(Debug, Default)]
pub(crate) struct DnsTracker {
    txns: HashMap<TxnKey, Txn>,
    /// (client, server) -> its latest exchange, for fragmented answers.
    by_pair: HashMap<(IpAddr, IpAddr), TxnKey>,
    /// Question hash -> its latest exchange, to spot a question re-asked.
    by_question: HashMap<u64, TxnKey>,
    /// Question hash (client, name, type) -> the last packet that answered
    /// it without error.
    pub answered: HashMap<u64, u64>,
    /// (client, name) hash ([`name_hash`]) -> the last packet that
    /// answered it without error.
    pub names: HashMap<u64, u64>,
    /// (client, server) addresses -> their latest truncated UDP answers
    /// (at most [`KEEP`] each).
    pub truncated: HashMap<(IpAddr, IpAddr), Vec<Truncation>>,
    /// Counts.
    pub stats: DnsStats,
}

fn qpkts_first(ev: &[Ev]) -> u64 {
    ev.first().map_or(0, |e| e.pkt)
}

/// FNV-1a over the client address, the lower-cased name and the type.
fn hash(client: IpAddr, name: &str, qtype: Option<u16>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    match client {
        IpAddr::V4(a) => a.octets().into_iter().for_each(&mut eat),
        IpAddr::V6(a) => a.octets().into_iter().for_each(&mut eat),
    }
    name.bytes().for_each(|b| eat(b.to_ascii_lowercase()));
    match qtype {
        Some(t) => t.to_be_bytes().into_iter().for_each(&mut eat),
        None => eat(0xff),
    }
    h
}

/// A name resolved for a client, whatever the type.
pub(crate) fn name_hash(client: IpAddr, name: &str) -> u64 {
    hash(client, name, None)
}

/// Hashes of the names `name` is a search-list expansion of: `a.b.c`
/// gives `a.b` and `a`.
fn bases(client: IpAddr, name: &str) -> Vec<u64> {
    let mut v = Vec::new();
    let mut n = name.trim_end_matches('.');
    while let Some(i) = n.rfind('.') {
        n = &n[..i];
        v.push(name_hash(client, n));
    }
    v
}

fn remember(map: &mut HashMap<u64, u64>, k: u64, pkt: u64) {
    if map.len() < MAX_REMEMBERED || map.contains_key(&k) {
        map.insert(k, pkt);
    }
}

impl DnsTracker {
    /// Feeds one DNS message.
    pub(crate) fn message(&mut self, d: Datagram, now: i64, out: &mut Findings) {
        if d.msg.response {
            self.response(d, now, out);
        } else {
            self.query(d, now, out);
        }
    }

    fn query(&mut self, d: Datagram, now: i64, out: &mut Findings) {
        let Datagram {
            at,
            src,
            dst,
            msg,
            tcp,
            ..
        } = d;
        let key = TxnKey {
            client: src,
            id: msg.id,
        };
        if let Some(t) = self.txns.get_mut(&key) {
            if t.answer.is_none() {
                t.sends = t.sends.saturating_add(1);
                t.last_ns = t.last_ns.max(now);
                if t.more.len() < KEEP {
                    t.more.push((at, dst));
                }
                return;
            }
            if let Some(old) = self.txns.remove(&key) {
                finish(key, old, now, out);
            }
        }
        if self.txns.len() >= MAX_EXCHANGES {
            if self
                .stats
                .untracked
                .is_multiple_of(super::tcp::PRESSURE_SWEEP_EVERY)
            {
                self.sweep(now, true, out);
            }
            if self.txns.len() >= MAX_EXCHANGES {
                self.stats.untracked += 1;
                return;
            }
        }
        let question = hash(src.ip(), msg.qname.as_deref().unwrap_or(""), msg.qtype);
        if let Some(prev) = self.by_question.insert(question, key) {
            if let Some(t) = self.txns.get_mut(&prev).filter(|_| prev != key) {
                t.retried |= t.answer.is_none();
            }
        }
        self.by_pair.insert((src.ip(), dst.ip()), key);
        self.stats.exchanges += 1;
        let rare = tcp.then(|| {
            self.stats.over_tcp += 1;
            let after_truncated = self
                .truncated
                .get(&(src.ip(), dst.ip()))
                .and_then(|v| v.iter().rev().find(|t| t.question == question))
                .map(|t| t.pkt);
            Box::new(Rare {
                over_tcp: true,
                after_truncated,
                ..Rare::default()
            })
        });
        self.txns.insert(
            key,
            Txn {
                last_ns: now,
                server: dst,
                qname: msg.qname,
                qtype: msg.qtype,
                question,
                first: Some(at),
                more: Vec::new(),
                sends: 1,
                answer: None,
                rare,
                retried: false,
            },
        );
    }

    fn response(&mut self, d: Datagram, now: i64, out: &mut Findings) {
        let Datagram {
            at,
            src,
            dst,
            msg,
            checksum,
            tcp,
        } = d;
        let key = TxnKey {
            client: dst,
            id: msg.id,
        };
        if let Checksum::Bad { found, expected } = checksum {
            self.stats.bad_checksums += 1;
            let text = format!("{src} > {dst} DNS {}", msg.summary());
            match self.txns.get_mut(&key) {
                Some(t) => {
                    t.last_ns = t.last_ns.max(now);
                    t.rare().bad.get_or_insert((at, text, found, expected));
                }
                None if out.wants_note() => out.note(
                    at.0,
                    format!("the DNS answer in pkt {} ({text}) has a bad UDP checksum ({found:#06x}, should be {expected:#06x}): the receiving kernel drops it", at.0),
                ),
                None => {}
            }
            return;
        }
        let text = (msg.rcode != 0).then(|| format!("{src} > {dst} DNS {}", msg.summary()));
        let answer = Answer {
            at,
            rcode: msg.rcode,
        };
        let truncated = msg.truncated && !tcp;
        if truncated {
            self.stats.truncated += 1;
        }
        if let Some(t) = self.txns.get_mut(&key) {
            if t.answer.is_none() {
                t.last_ns = t.last_ns.max(now);
                let pair = (dst.ip(), src.ip());
                let room =
                    self.truncated.len() < MAX_REMEMBERED || self.truncated.contains_key(&pair);
                if truncated && room {
                    let v = self.truncated.entry(pair).or_default();
                    if v.len() >= KEEP {
                        v.remove(0);
                    }
                    v.push(Truncation {
                        pkt: at.0,
                        question: t.question,
                        text: t.question_text(),
                        qname: t.qname.clone(),
                    });
                }
                if msg.rcode == 0 && !truncated {
                    self.stats.answered += 1;
                    remember(&mut self.answered, t.question, at.0);
                    let name = name_hash(dst.ip(), t.qname.as_deref().unwrap_or(""));
                    remember(&mut self.names, name, at.0);
                }
                t.answer = Some(answer);
                if src != t.server || text.is_some() {
                    let r = t.rare();
                    r.from = Some(src);
                    r.text = text;
                }
            }
            return;
        }
        // The query is not in the capture.
        let name = msg.qname.as_deref().unwrap_or("");
        if msg.rcode == 0 {
            if !truncated {
                remember(&mut self.names, name_hash(dst.ip(), name), at.0);
            }
            return;
        }
        let t = Txn {
            last_ns: now,
            server: src,
            question: hash(dst.ip(), name, msg.qtype),
            qname: msg.qname,
            qtype: msg.qtype,
            first: None,
            more: Vec::new(),
            sends: 0,
            answer: Some(answer),
            rare: Some(Box::new(Rare {
                text,
                over_tcp: tcp,
                ..Rare::default()
            })),
            retried: false,
        };
        finish(key, t, now, out);
    }

    /// A fragmented UDP datagram from `server` to `client` began with
    /// `at` (described by `text`): the answer to their latest unanswered
    /// exchange is on its way.
    pub(crate) fn fragment_started(&mut self, client: IpAddr, server: IpAddr, at: At, text: &str) {
        let Some(k) = self.by_pair.get(&(client, server)) else {
            return;
        };
        if let Some(t) = self
            .txns
            .get_mut(k)
            .filter(|t| t.answer.is_none() && t.frag().is_none())
        {
            t.rare().frag = Some((at, text.to_string()));
        }
    }

    /// Attaches an ICMP error quoting a query from `client` to `server`
    /// (its DNS `id` when the quote is long enough; RFC 792 only promises
    /// 8 bytes past the IP header, which end before it); true when that
    /// exchange is still unanswered.
    pub(crate) fn icmp(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        id: Option<u16>,
        hit: IcmpHit,
    ) -> bool {
        let key = match id {
            Some(id) => TxnKey { client, id },
            None => match self.by_pair.get(&(client.ip(), server.ip())) {
                Some(k) if k.client == client => *k,
                _ => return false,
            },
        };
        match self.txns.get_mut(&key) {
            Some(t) if t.answer.is_none() => {
                t.rare().icmp.get_or_insert(hit);
                true
            }
            _ => false,
        }
    }

    /// Finishes exchanges quiet for [`LINGER_NS`] (a sixteenth of it under
    /// `pressure`).
    pub(crate) fn sweep(&mut self, now: i64, pressure: bool, out: &mut Findings) {
        let limit = if pressure { LINGER_NS / 16 } else { LINGER_NS };
        let done: Vec<TxnKey> = self
            .txns
            .iter()
            .filter(|(_, t)| now.saturating_sub(t.last_ns) > limit)
            .map(|(k, _)| *k)
            .collect();
        for k in done {
            if let Some(t) = self.txns.remove(&k) {
                finish(k, t, now, out);
            }
        }
        let live = &self.txns;
        self.by_pair.retain(|_, k| live.contains_key(k));
        self.by_question.retain(|_, k| live.contains_key(k));
    }

    /// Finishes every exchange (end of capture at `now`).
    pub(crate) fn finish_all(&mut self, now: i64, out: &mut Findings) {
        let mut all: Vec<(TxnKey, Txn)> = self.txns.drain().collect();
        all.sort_by_key(|(_, t)| t.first.map_or(0, |a| a.0));
        for (k, t) in all {
            finish(k, t, now, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exchange_stays_small() {
        assert!(
            std::mem::size_of::<(TxnKey, Txn)>() <= 240,
            "{}",
            std::mem::size_of::<(TxnKey, Txn)>()
        );
    }

    #[test]
    fn search_list_bases_strip_trailing_labels() {
        let c: IpAddr = "198.18.0.1".parse().unwrap();
        let b = bases(c, "proxy.golang.org.svc.cluster.local.");
        assert_eq!(b.len(), 5);
        assert_eq!(b[2], name_hash(c, "proxy.golang.org"));
        assert_eq!(
            name_hash(c, "Proxy.Golang.ORG"),
            name_hash(c, "proxy.golang.org")
        );
        assert_ne!(hash(c, "a", Some(1)), hash(c, "a", Some(28)));
        assert!(bases(c, "appserver").is_empty());
    }
}
