//! TCP connections (RFC 9293), one small state machine per 5-tuple.
//!
//! The client is the side that sent the SYN (else the side that sent a
//! ClientHello or an HTTP request). What a finished connection proves:
//!
//! - SYN answered by RST (acceptable per RFC 9293 3.10.7.3: its ACK acks
//!   the SYN) and no SYN-ACK: `connection-refused`; when the refusing
//!   address is loopback (127.0.0.0/8, ::1) it is this host itself:
//!   `kernel / local-refused`. Retries on the same port (Windows resends
//!   the SYN after an RST) are the same attempt.
//! - SYN sent at least twice (a retransmission, not a copy: see
//!   [`super::dedup`]) and never answered: `connect-timeout`. A single
//!   unanswered SYN is only a note: the capture may have stopped before
//!   the sender's first retransmission (1 s, RFC 6298 2.1).
//! - ICMP destination unreachable quoting our SYN: `icmp-unreachable`
//!   ([`super::icmp`] routes it here).
//! - RST from the server on an established connection the client had not
//!   closed yet: `connection-reset`. An RST from the client, or after the
//!   client's FIN, is the client ending it.
//! - TLS and HTTP outcomes: [`super::app`].
//! - Notes: data retransmitted 3+ times and never acknowledged (a stall),
//!   an RST with a bad checksum (the receiver drops it, so it refused
//!   nothing), a non-TLS answer to a ClientHello.
//!
//! The verdict wording of a finished connection is in `end`.
//!
//! Memory: 120 bytes per live connection (`Flow` plus its key);
//! what only troubled connections need is boxed on demand. A connection
//! leaves the table as soon as both sides sent FIN, 3 s after an RST (to
//! catch the client's retries), or when idle; at most [`MAX_FLOWS`] are
//! live.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

mod end;

use super::app::{App, Ends};
use super::record::{Failure, Findings};
use crate::capture::packet::Checksum;
use crate::capture::{AppSummary, TcpFlags};
use crate::proto::http::HttpHead;
use crate::proto::icmp::Unreachable;
use crate::proto::tls::Message;
use end::finish;

/// Live connections tracked at most; beyond, new connections are counted
/// as untracked. Half of what a hash table of 2^18 slots holds (7/8 of
/// them, hashbrown's load factor): at most half full, the table reuses the
/// slots of finished connections in place instead of doubling, so it never
/// exceeds 2^18 x 120 bytes, about 30 MiB.
pub const MAX_FLOWS: usize = 7 << 14;
/// With the table full, a sweep under pressure is tried once per this
/// many flows that could not be tracked (a sweep reads the whole table).
pub(crate) const PRESSURE_SWEEP_EVERY: u64 = 4096;
/// An unanswered SYN is kept this long (ns): Linux's retransmissions
/// (tcp_syn_retries 6) are up to 64 s apart.
const SYN_IDLE_NS: i64 = 130_000_000_000;
/// A closed connection is kept this long (ns) for retries and late copies.
const CLOSED_LINGER_NS: i64 = 3_000_000_000;
/// Any other connection is dropped after this long without a packet (ns).
const IDLE_NS: i64 = 300_000_000_000;
/// Retransmitted SYNs and RSTs kept per connection for evidence.
const KEEP: usize = 8;

/// A frame number and capture time.
pub(crate) type At = (u64, Option<i64>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct End {
    ip: [u8; 16],
    port: u16,
}

impl End {
    fn of(s: SocketAddr) -> End {
        let ip = match s.ip() {
            IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            IpAddr::V6(a) => a.octets(),
        };
        End { ip, port: s.port() }
    }

    fn addr(self) -> SocketAddr {
        SocketAddr::new(Ipv6Addr::from(self.ip).to_canonical(), self.port)
    }
}

/// A connection's endpoints in canonical order (`a` < `b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    a: End,
    b: End,
}

impl Key {
    /// The key and whether `src` is endpoint `a`.
    fn of(src: SocketAddr, dst: SocketAddr) -> (Key, bool) {
        let (s, d) = (End::of(src), End::of(dst));
        if (s.ip, s.port) <= (d.ip, d.port) {
            (Key { a: s, b: d }, true)
        } else {
            (Key { a: d, b: s }, false)
        }
    }
}

const REFUSED: u16 = 1;
const RESET: u16 = 1 << 1;
const CLOSED: u16 = 1 << 2;
const FIN_A: u16 = 1 << 3;
const FIN_B: u16 = 1 << 4;
const DATA_A: u16 = 1 << 5;
const DATA_B: u16 = 1 << 6;
const CLIENT_CLOSED: u16 = 1 << 7;

/// One TCP segment, as the tracker needs it.
#[derive(Debug)]
pub(crate) struct Segment {
    /// Frame number and time.
    pub at: At,
    /// Source.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
    /// Control bits.
    pub flags: TcpFlags,
    /// Payload bytes.
    pub len: usize,
    /// What the payload starts with.
    pub app: Option<Box<AppSummary>>,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Checksum verdict.
    pub checksum: Checksum,
}

/// An ICMP error about a connection's SYN.
#[derive(Debug, Clone)]
pub(crate) struct IcmpHit {
    /// The ICMP packet.
    pub at: At,
    /// Who sent it.
    pub sender: IpAddr,
    /// What it says.
    pub kind: Unreachable,
    /// `host unreachable`.
    pub what: String,
    /// `ICMP type 3 code 1`.
    pub type_code: String,
    /// Its tcpdump-style line.
    pub text: String,
}

#[derive(Debug, Default)]
struct Extra {
    syns: Vec<At>,
    rsts: Vec<At>,
    client_close: Option<At>,
    icmp: Option<Box<IcmpHit>>,
    app: App,
    failure: Option<Box<Failure>>,
    bad_rst: Option<u64>,
}

/// A capture time that is not known.
const NO_TIME: i64 = i64::MIN;

/// One connection: a few numbers, and what only troubled connections need
/// in `extra`. Field order keeps it at 80 bytes.
#[derive(Debug, Default)]
struct Flow {
    last_ns: i64,
    /// The first SYN's frame (0: none) and time ([`NO_TIME`]: unknown).
    syn_pkt: u64,
    syn_ns: i64,
    synack: u64,
    /// Per direction (0: a to b): the first retransmission since the data
    /// was last acknowledged.
    rtx_pkt: [u64; 2],
    extra: Option<Box<Extra>>,
    /// Per direction: highest sequence number sent + 1.
    hi: [u32; 2],
    syn_seq: u32,
    /// Per direction: retransmissions since the peer acknowledged.
    rtx: [u16; 2],
    syn_sends: u16,
    bits: u16,
    /// 0 unknown, 1 endpoint a, 2 endpoint b.
    client: u8,
}

fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Flow {
    fn syn(&self) -> Option<At> {
        (self.syn_pkt != 0).then_some((self.syn_pkt, Some(self.syn_ns).filter(|&t| t != NO_TIME)))
    }

    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// Whether endpoint a (`from_a`) is the client, if known.
    fn is_client(&self, from_a: bool) -> Option<bool> {
        match self.client {
            1 => Some(from_a),
            2 => Some(!from_a),
            _ => None,
        }
    }

    fn set_client(&mut self, from_a: bool, is_client: bool) {
        if self.client == 0 {
            self.client = if from_a == is_client { 1 } else { 2 };
        }
    }

    /// Client and server; unknown roles are guessed from the ports (the
    /// lower port serves).
    fn ends(&self, key: &Key) -> Ends {
        let (a, b) = (key.a.addr(), key.b.addr());
        let a_client = match self.client {
            1 => true,
            2 => false,
            _ => a.port() > b.port(),
        };
        if a_client {
            Ends {
                client: a,
                server: b,
            }
        } else {
            Ends {
                client: b,
                server: a,
            }
        }
    }

    fn data_from_server(&self) -> bool {
        match self.client {
            1 => self.bits & DATA_B != 0,
            2 => self.bits & DATA_A != 0,
            _ => false,
        }
    }

    fn established(&self) -> bool {
        self.synack != 0 || self.bits & (DATA_A | DATA_B) != 0
    }

    /// Over at once: both sides sent FIN. One an RST ended stays a while
    /// ([`CLOSED_LINGER_NS`]) for the client's retries on the same port
    /// and the peer's last segments in flight.
    fn done(&self) -> bool {
        self.bits & (FIN_A | FIN_B) == FIN_A | FIN_B && self.bits & CLOSED == 0
    }

    fn expired(&self, now: i64, pressure: bool) -> bool {
        let both_fins = self.bits & (FIN_A | FIN_B) == FIN_A | FIN_B;
        let limit = if self.bits & CLOSED != 0 || both_fins {
            CLOSED_LINGER_NS
        } else if self.syn_pkt != 0 && !self.established() {
            SYN_IDLE_NS
        } else {
            IDLE_NS
        };
        let limit = if pressure { limit / 16 } else { limit };
        now.saturating_sub(self.last_ns) > limit
    }
}

/// Counts for the report.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TcpStats {
    /// Connections seen (a SYN, or data of one whose start is not captured).
    pub flows: u64,
    /// Connections whose SYN was answered with SYN-ACK.
    pub handshakes: u64,
    /// Segments of no tracked connection (pure ACKs or FINs after it
    /// ended, a lone RST).
    pub strays: u64,
    /// Connections not tracked because [`MAX_FLOWS`] were live.
    pub untracked: u64,
}

/// Every live connection.
#[derive(Debug, Default)]
pub(crate) struct TcpTracker {
    flows: HashMap<Key, Flow>,
    /// Counts.
    pub stats: TcpStats,
}

impl TcpTracker {
    /// Feeds one segment; `now` is the latest capture time seen.
    pub(crate) fn segment(&mut self, s: Segment, now: i64, out: &mut Findings) {
        let (key, from_a) = Key::of(s.src, s.dst);
        if !self.flows.contains_key(&key) {
            // A lone RST (even one carrying an RFC 9293 3.5.3 diagnostic
            // payload), ACK or FIN opens nothing.
            if !(s.flags.syn || (s.len > 0 && !s.flags.rst)) {
                // The last ACK of a closed connection is no news.
                if s.flags.rst || s.flags.fin || s.len > 0 {
                    self.stats.strays += 1;
                }
                return;
            }
            if self.flows.len() >= MAX_FLOWS {
                // A sweep costs the whole table: not for every new flow.
                if self.stats.untracked.is_multiple_of(PRESSURE_SWEEP_EVERY) {
                    self.sweep(now, true, out);
                }
                if self.flows.len() >= MAX_FLOWS {
                    self.stats.untracked += 1;
                    return;
                }
            }
            self.flows.insert(key, Flow::default());
            self.stats.flows += 1;
        }
        // The same 5-tuple reused with a new initial sequence number.
        let reused = s.flags.syn
            && !s.flags.ack
            && self
                .flows
                .get(&key)
                .is_some_and(|f| f.syn_pkt != 0 && s.seq != f.syn_seq);
        if reused {
            if let Some(old) = self.flows.remove(&key) {
                finish(&key, old, now, out);
            }
            self.flows.insert(key, Flow::default());
            self.stats.flows += 1;
        }
        // Updated in place: a remove and insert per packet would leave
        // tombstones that make the table grow.
        let Some(f) = self.flows.get_mut(&key) else {
            return;
        };
        f.last_ns = f.last_ns.max(now);
        update(f, &key, from_a, s, &mut self.stats);
        if f.done() {
            if let Some(f) = self.flows.remove(&key) {
                finish(&key, f, now, out);
            }
        }
    }

    /// Attaches an ICMP error quoting a segment from `src` to `dst`; true
    /// when that is the SYN of a connection still waiting for an answer.
    pub(crate) fn icmp(&mut self, src: SocketAddr, dst: SocketAddr, hit: IcmpHit) -> bool {
        let (key, from_a) = Key::of(src, dst);
        let Some(f) = self.flows.get_mut(&key) else {
            return false;
        };
        if f.syn_pkt == 0 || f.established() || f.is_client(from_a) != Some(true) {
            return false;
        }
        f.extra().icmp.get_or_insert(Box::new(hit));
        true
    }

    /// Finishes every connection idle past its limit (all, under
    /// `pressure`, idle past a sixteenth of it).
    pub(crate) fn sweep(&mut self, now: i64, pressure: bool, out: &mut Findings) {
        let done: Vec<Key> = self
            .flows
            .iter()
            .filter(|(_, f)| f.expired(now, pressure))
            .map(|(k, _)| *k)
            .collect();
        for k in done {
            if let Some(f) = self.flows.remove(&k) {
                finish(&k, f, now, out);
            }
        }
    }

    /// Finishes every connection (end of capture at `now`).
    pub(crate) fn finish_all(&mut self, now: i64, out: &mut Findings) {
        for (k, f) in self.flows.drain() {
            finish(&k, f, now, out);
        }
    }
}

/// The state change one segment makes.
fn update(f: &mut Flow, key: &Key, from_a: bool, s: Segment, stats: &mut TcpStats) {
    let d = usize::from(!from_a);
    let fl = s.flags;
    if fl.syn {
        f.set_client(from_a, !fl.ack);
    }
    if let Some(app) = &s.app {
        match &**app {
            AppSummary::Tls(t) => match t.messages.first() {
                Some(Message::ClientHello(_)) => f.set_client(from_a, true),
                Some(Message::ServerHello(_)) => f.set_client(from_a, false),
                _ => {}
            },
            AppSummary::Http(HttpHead::Request(_)) => f.set_client(from_a, true),
            AppSummary::Http(HttpHead::Response(_)) => f.set_client(from_a, false),
        }
    }
    let from_client = f.is_client(from_a);
    if fl.syn && !fl.ack {
        if f.syn_pkt == 0 {
            f.syn_pkt = s.at.0;
            f.syn_ns = s.at.1.unwrap_or(NO_TIME);
            f.syn_seq = s.seq;
            f.syn_sends = 1;
        } else {
            f.syn_sends = f.syn_sends.saturating_add(1);
            let x = f.extra();
            if x.syns.len() < KEEP {
                x.syns.push(s.at);
            }
        }
    }
    if fl.syn && fl.ack && from_client == Some(false) && f.synack == 0 {
        f.synack = s.at.0;
        stats.handshakes += 1;
    }
    if fl.rst {
        rst(f, &s, from_client);
    }
    if fl.fin {
        f.bits |= if from_a { FIN_A } else { FIN_B };
        if from_client == Some(true) {
            client_closed(f, s.at);
        }
    }
    if fl.ack {
        // The peer acknowledged everything this direction sent.
        let o = 1 - d;
        if f.rtx[o] > 0 && !seq_lt(s.ack, f.hi[o]) {
            f.rtx[o] = 0;
        }
    }
    if s.len > 0 {
        data(f, d, &s);
        f.bits |= if from_a { DATA_A } else { DATA_B };
    }
    match (s.app, from_client) {
        (Some(app), Some(c)) => {
            let ends = f.ends(key);
            let failed = f.extra().app.observe(app, c, s.at, ends);
            if let Some(fail) = failed {
                f.extra().failure.get_or_insert(Box::new(fail));
            }
        }
        (None, Some(false)) if s.len > 0 => {
            if let Some(x) = f.extra.as_mut() {
                x.app.server_data_unrecognised(s.at.0);
            }
        }
        _ => {}
    }
}

fn rst(f: &mut Flow, s: &Segment, from_client: Option<bool>) {
    if s.checksum.is_bad() {
        f.extra().bad_rst.get_or_insert(s.at.0);
        return;
    }
    f.bits |= CLOSED;
    match from_client {
        // RFC 9293 3.10.7.3: in SYN-SENT an RST counts if it acks the SYN.
        Some(false)
            if f.syn_pkt != 0
                && f.synack == 0
                && !f.data_from_server()
                && (!s.flags.ack || s.ack == f.syn_seq.wrapping_add(1)) =>
        {
            f.bits |= REFUSED;
            let x = f.extra();
            if x.rsts.len() < KEEP {
                x.rsts.push(s.at);
            }
        }
        // Another RST before an answer acks nothing of ours: ignored.
        Some(false) if f.syn_pkt != 0 && f.synack == 0 && !f.data_from_server() => {}
        // An RST after the client's FIN or RST ends nothing it still used.
        Some(false) if f.established() && f.bits & (CLIENT_CLOSED | RESET) == 0 => {
            f.bits |= RESET;
            f.extra().rsts.push(s.at);
        }
        Some(true) => client_closed(f, s.at),
        _ => {}
    }
}

/// The client sent FIN or RST at `at`: remembered as a bit, and with its
/// packet when the connection keeps TLS state (only that needs it).
fn client_closed(f: &mut Flow, at: At) {
    f.bits |= CLIENT_CLOSED;
    if let Some(x) = f.extra.as_mut() {
        x.client_close.get_or_insert(at);
    }
}

/// Retransmission bookkeeping for data sent in direction `d`.
fn data(f: &mut Flow, d: usize, s: &Segment) {
    let len = u32::try_from(s.len).unwrap_or(u32::MAX);
    let end = s.seq.wrapping_add(len);
    let seen = f.bits & if d == 0 { DATA_A } else { DATA_B } != 0;
    if seen && seq_lt(s.seq, f.hi[d]) {
        if f.rtx[d] == 0 {
            f.rtx_pkt[d] = s.at.0;
        }
        f.rtx[d] = f.rtx[d].saturating_add(1);
    } else {
        if !seen || seq_lt(f.hi[d], end) {
            f.hi[d] = end;
        }
        f.rtx[d] = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::Cause;

    fn seg(
        at: u64,
        ms: i64,
        src: SocketAddr,
        dst: SocketAddr,
        flags: &str,
        seq: u32,
        ack: u32,
    ) -> Segment {
        Segment {
            at: (at, Some(ms * 1_000_000)),
            src,
            dst,
            flags: TcpFlags {
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                rst: flags.contains('R'),
                fin: flags.contains('F'),
                psh: false,
            },
            len: 0,
            app: None,
            seq,
            ack,
            checksum: Checksum::Good,
        }
    }

    #[test]
    fn a_connection_costs_at_most_120_bytes() {
        use std::mem::size_of;
        assert!(size_of::<Flow>() <= 80, "{}", size_of::<Flow>());
        assert!(
            size_of::<(Key, Flow)>() <= 120,
            "{}",
            size_of::<(Key, Flow)>()
        );
    }

    #[test]
    fn finished_connections_leave_the_table() {
        // 20 000 refused connections over 200 s of capture time: only the
        // last few seconds' worth stay live.
        let mut t = TcpTracker::default();
        let mut out = Findings::default();
        let server: SocketAddr = "198.18.0.2:8080".parse().unwrap();
        for i in 0..20_000u64 {
            let client =
                SocketAddr::new("198.18.0.1".parse().unwrap(), 10_000 + (i % 50_000) as u16);
            let ms = (i * 10) as i64;
            t.segment(
                seg(2 * i + 1, ms, client, server, "S", 7, 0),
                ms * 1_000_000,
                &mut out,
            );
            t.segment(
                seg(2 * i + 2, ms, server, client, "RA", 0, 8),
                ms * 1_000_000,
                &mut out,
            );
            if i % 100 == 0 {
                t.sweep(ms * 1_000_000, false, &mut out);
            }
        }
        assert!(t.flows.len() <= 400, "{} live", t.flows.len());
        t.finish_all(200_000_000_000, &mut out);
        out.trim();
        assert_eq!(t.stats.flows, 20_000);
        assert_eq!(out.failures.len() as u64 + out.failures_dropped, 20_000);
        assert_eq!(out.failures[0].cause, Cause::ConnectionRefused);
        assert_eq!(out.failures[0].pkts(), "1, 2");
    }

    #[test]
    fn a_full_table_counts_what_it_cannot_track() {
        let mut t = TcpTracker::default();
        let mut out = Findings::default();
        let server: SocketAddr = "198.18.0.2:443".parse().unwrap();
        // One SYN each from MAX_FLOWS + 10 clients within one second: none
        // is old enough to leave, so the last 10 are not tracked.
        for i in 0..(MAX_FLOWS as u64 + 10) {
            let client = SocketAddr::new(
                std::net::Ipv4Addr::from(0x0a00_0000 + i as u32).into(),
                40_000,
            );
            t.segment(seg(i + 1, 0, client, server, "S", 1, 0), 0, &mut out);
        }
        assert_eq!(t.flows.len(), MAX_FLOWS);
        assert_eq!(t.stats.untracked, 10);
    }
}
