//! Correlation: turning the event stream and the capture into "attempts",
//! one per TCP dial or DNS exchange, each with its syscalls, its packets and
//! the facts that decide its outcome.
//!
//! Sockets are followed per (tgid, fd), since threads share a descriptor
//! table. A TCP attempt is linked to its packets by 5-tuple: the
//! `tcp_state` SYN_SENT event gives the local port (RFC 9293 3.3.2 state
//! names); a DNS attempt by server address and DNS id (the query is in the
//! `write` payload head).
//!
//! A bundle of `gotrace attach` also has sockets that were open before the
//! trace started: `preexisting` seeds one attempt for each from meta.json's
//! snapshot, and the same passes continue it.

mod dns_tcp;
mod drop_location;
mod events;
mod kept;
mod kernel;
mod order;
mod packets;
mod preexisting;
mod route;

pub use dns_tcp::{retry_lines, Truncated};
pub use kept::Kept;
pub use kernel::{is_neighbour_failure, is_netfilter};
pub use order::OutOfOrder;
pub use packets::sent_near;
pub use route::{fact as route_fact, Refusal, RouteLookup};

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

use crate::capture::{AppSummary, CaptureIndex};
use crate::clock::Clock;
use crate::proto::dns::DnsMessage;
use crate::proto::icmp::Unreachable;
use gotrace_bundle::{Event, Meta};

/// Where a piece of evidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `events.jsonl`; id = event id.
    Event,
    /// `capture.pcapng`; id = 1-based packet number.
    Packet,
}

/// One syscall or packet, as cited in reports and `verdict.json` evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Event or packet.
    pub source: Source,
    /// Event id or packet number.
    pub id: u64,
    /// ms since the trace started; `null` when the packet has no time.
    pub t_ms: Option<f64>,
    /// strace/tcpdump-like description.
    pub text: String,
}

/// What kind of network attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A TCP connection (the module proxy, a git server, an HTTP proxy).
    Tcp,
    /// A DNS exchange over UDP with a name server (DNS over TCP is a
    /// [`Kind::Tcp`] attempt to port 53 whose messages are decoded too).
    Dns,
}

/// A fact read from one syscall event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFact<T> {
    /// The event id.
    pub id: u64,
    /// Event time, CLOCK_MONOTONIC ns.
    pub ts_ns: u64,
    /// The value (a return value, an errno, a DNS message).
    pub value: T,
}

/// A fact read from one packet.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketFact<T> {
    /// 1-based packet number.
    pub number: u64,
    /// The value.
    pub value: T,
}

/// A TLS or HTTP message seen on a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct AppObs {
    /// Syscall payload head or packet.
    pub source: Source,
    /// Event id or packet number.
    pub id: u64,
    /// Sent by the peer (server), not by us.
    pub from_peer: bool,
    /// What it decoded to.
    pub summary: AppSummary,
}

/// One TCP dial or DNS exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// TCP or DNS.
    pub kind: Kind,
    /// Process that made it.
    pub tgid: u32,
    /// Its comm.
    pub comm: String,
    /// The socket.
    pub fd: i32,
    /// The remote end (proxy, server, name server).
    pub peer: SocketAddr,
    /// Our end, when known (from `tcp_state` or the capture).
    pub local: Option<SocketAddr>,
    /// First event, CLOCK_MONOTONIC ns.
    pub start_ns: u64,
    /// Last event, CLOCK_MONOTONIC ns.
    pub end_ns: u64,
    /// Syscalls and packets in time order.
    pub steps: Vec<Step>,
    /// `connect()`'s return value.
    pub connect: Option<EventFact<i64>>,
    /// The SO_ERROR value Go read (0 = connected).
    pub so_error: Option<EventFact<i32>>,
    /// A `tcp_state` change to ESTABLISHED was seen, or the socket was
    /// already connected when `gotrace attach` started (`state_at_attach`
    /// ESTABLISHED or a later state of a connection).
    pub established: bool,
    /// Data moved on the socket (a successful read or write).
    pub data_moved: bool,
    /// First SYN we sent.
    pub syn: Option<PacketFact<()>>,
    /// How many SYNs we sent (retransmissions included).
    pub syn_count: u32,
    /// SYN-ACK from the peer.
    pub syn_ack: Option<PacketFact<()>>,
    /// RST from the peer.
    pub rst: Option<PacketFact<()>>,
    /// ICMP unreachable quoting this flow.
    pub icmp: Option<PacketFact<Unreachable>>,
    /// DNS queries written (from `write`/`send` payload heads).
    pub queries: Vec<EventFact<DnsMessage>>,
    /// A `read`/`recv` that failed: its errno.
    pub read_errno: Option<EventFact<i32>>,
    /// DNS responses read by the process.
    pub answers: Vec<EventFact<DnsMessage>>,
    /// DNS queries seen on the wire.
    pub wire_queries: Vec<PacketFact<DnsMessage>>,
    /// DNS responses seen on the wire.
    pub wire_answers: Vec<PacketFact<DnsMessage>>,
    /// Whether the capture was searched for this attempt's packets.
    pub capture_searched: bool,
    /// A `close` of the socket was seen (bounds the packet window).
    pub closed: bool,
    /// The kernel `struct sock *` (hex) of a TCP attempt, from its
    /// SYN_SENT change: kernel events of the socket are linked by it.
    pub sock: Option<String>,
    /// `tcp_retransmit_skb` events of the socket: the transmit's result
    /// (0, or -errno; -EPERM = refused by a local netfilter hook).
    pub retransmits: Vec<EventFact<i32>>,
    /// `tcp_receive_reset`: the kernel accepted an RST for the socket.
    pub reset_received: Option<EventFact<()>>,
    /// `tcp_send_reset`: this host sent an RST on the socket.
    pub reset_sent: Option<EventFact<()>>,
    /// `kfree_skb` drops of the attempt's own packets: the drop reason's
    /// name (`NETFILTER_DROP`), or `reason N` when the table lacks it.
    pub drops: Vec<EventFact<String>>,
    /// A `send`/`write` that failed: its errno (EPERM for a UDP datagram
    /// the local firewall dropped).
    pub send_errno: Option<EventFact<i32>>,
    /// ICMP error's sender (the router or host that refused), with `icmp`.
    pub icmp_sender: Option<std::net::IpAddr>,
    /// The ICMP error's numbers (`ICMP type 3 code 13`), with `icmp`.
    pub icmp_type_code: Option<String>,
    /// `close()` of the socket, CLOCK_MONOTONIC ns.
    pub close_ns: Option<u64>,
    /// A DNS answer that arrived after the socket was closed (packet number).
    pub late_answer: Option<u64>,
    /// TLS records and HTTP heads seen on a TCP attempt, from payload heads
    /// of its send/recv syscalls and from its packets, in that order.
    pub app: Vec<AppObs>,
    /// Our FIN on the wire (packet number): how a client ends a handshake.
    pub client_fin: Option<u64>,
    /// The peer's FIN on the wire (packet number): it closed its side
    /// (RFC 9293 3.6).
    pub peer_fin: Option<u64>,
    /// The first packet from the peer carrying payload (not a bare ACK).
    pub peer_payload: Option<u64>,
    /// The peer's ACK covering all the payload we had sent up to then
    /// (packet number): its kernel received our last data (RFC 9293 3.4).
    /// Cleared when we send more.
    pub peer_acked: Option<u64>,
    /// A `read`/`recv` on the socket returned data (ret > 0).
    pub received: bool,
    /// Time (CLOCK_MONOTONIC ns) of our last successful send/write.
    pub last_send_ns: Option<u64>,
    /// A `read`/`recv` on the TCP socket returned 0: end of stream, the
    /// peer's FIN reached the process (recv(2) RETURN VALUE).
    pub read_eof: Option<EventFact<()>>,
    /// A `tcp_state` change to CLOSE_WAIT: the kernel received the peer's
    /// FIN (RFC 9293 3.3.2).
    pub close_wait: Option<EventFact<()>>,
    /// The socket was already open when `gotrace attach` started (meta.json
    /// `attach.pre_existing`): its socket() and connect() happened before
    /// the trace, so `connect` is `None` and `start_ns` is the attach time,
    /// not the dial's start.
    pub pre_existing: bool,
    /// For a [`Attempt::pre_existing`] socket: its state in the snapshot
    /// taken at attach (`SYN_SENT`, `ESTABLISHED`, ...; UDP `ESTABLISHED`
    /// means connected), as /proc/net/{tcp,udp} named it.
    pub state_at_attach: Option<gotrace_bundle::TcpState>,
    /// Failed route lookups the dialing thread made to the peer inside
    /// its connect (`route_lookup` events, [`RouteLookup`]).
    pub route_lookups: Vec<EventFact<RouteLookup>>,
    /// For a TCP attempt to port 53 (DNS over TCP, RFC 7766): the
    /// truncated UDP answer (TC=1) it asks again after.
    pub after_truncated: Option<Truncated>,
}

impl Attempt {
    fn new(kind: Kind, ev: &Event, fd: i32, peer: SocketAddr) -> Attempt {
        Attempt::at(kind, ev.tgid, &ev.comm, ev.ts_ns, fd, peer)
    }

    /// An attempt of process `tgid` (`comm`) on `fd` to `peer`, starting at
    /// `ts_ns` (CLOCK_MONOTONIC), with nothing recorded yet.
    pub(crate) fn at(
        kind: Kind,
        tgid: u32,
        comm: &str,
        ts_ns: u64,
        fd: i32,
        peer: SocketAddr,
    ) -> Attempt {
        Attempt {
            kind,
            tgid,
            comm: comm.to_string(),
            fd,
            peer,
            local: None,
            start_ns: ts_ns,
            end_ns: ts_ns,
            steps: Vec::new(),
            connect: None,
            so_error: None,
            established: false,
            data_moved: false,
            syn: None,
            syn_count: 0,
            syn_ack: None,
            rst: None,
            icmp: None,
            queries: Vec::new(),
            read_errno: None,
            answers: Vec::new(),
            wire_queries: Vec::new(),
            wire_answers: Vec::new(),
            capture_searched: false,
            closed: false,
            sock: None,
            retransmits: Vec::new(),
            reset_received: None,
            reset_sent: None,
            drops: Vec::new(),
            send_errno: None,
            icmp_sender: None,
            icmp_type_code: None,
            close_ns: None,
            late_answer: None,
            app: Vec::new(),
            client_fin: None,
            peer_fin: None,
            peer_payload: None,
            peer_acked: None,
            received: false,
            last_send_ns: None,
            read_eof: None,
            close_wait: None,
            pre_existing: false,
            state_at_attach: None,
            route_lookups: Vec::new(),
            after_truncated: None,
        }
    }

    /// Whether this is a TCP connection to a DNS server (DNS over TCP,
    /// RFC 7766: Go's retry after a truncated UDP answer).
    pub fn is_dns_tcp(&self) -> bool {
        self.kind == Kind::Tcp && self.peer.port() == crate::proto::dns::PORT
    }

    /// The step citing event `id`, if this attempt has it.
    pub fn event_step(&self, id: u64) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| s.source == Source::Event && s.id == id)
    }

    /// The step citing packet `number`, if this attempt has it.
    pub fn packet_step(&self, number: u64) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| s.source == Source::Packet && s.id == number)
    }

    /// The DNS ids of the queries the process wrote (none for TCP).
    pub fn query_ids(&self) -> Vec<u16> {
        self.queries.iter().map(|q| q.value.id).collect()
    }

    /// The origin this connection carried a request to when its peer is a
    /// forward proxy: the target of our first `CONNECT host:port` or
    /// absolute-form request ([`crate::proto::http::HttpRequest::origin`]).
    pub fn origin(&self) -> Option<(String, u16)> {
        self.app
            .iter()
            .filter(|o| !o.from_peer)
            .find_map(|o| match &o.summary {
                AppSummary::Http(crate::proto::http::HttpHead::Request(r)) => r.origin(),
                _ => None,
            })
    }

    /// The first DNS name this attempt asked for (from events or the wire).
    pub fn qname(&self) -> Option<&str> {
        self.queries
            .iter()
            .map(|q| &q.value)
            .chain(self.wire_queries.iter().map(|q| &q.value))
            .chain(self.answers.iter().map(|q| &q.value))
            .chain(self.wire_answers.iter().map(|q| &q.value))
            .find_map(|m| m.qname.as_deref())
    }
}

/// Everything correlation produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Correlation {
    /// Attempts in start-time order.
    pub attempts: Vec<Attempt>,
    /// Whether any AF_INET/AF_INET6 socket or connect was seen at all (an
    /// internet socket open before `gotrace attach` counts: its socket()
    /// and connect() happened, only earlier).
    pub any_network_syscall: bool,
    /// `exec` events: (event id, ts_ns, filename), for the timeline.
    pub execs: Vec<(u64, u64, String)>,
}

/// Builds attempts from `events` and links them to `capture` packets.
/// `drop_reasons` names `kfree_skb` reasons the events leave unnamed
/// (meta.json `drop_reasons`).
pub fn correlate(
    events: &[Event],
    capture: Option<&CaptureIndex>,
    clock: &Clock,
    drop_reasons: &BTreeMap<u32, String>,
) -> Correlation {
    correlate_seeded(events, capture, clock, drop_reasons, Vec::new()).0
}

/// [`correlate`] for the bundle `meta` describes: `drop_reasons` from it,
/// and for a `gotrace attach` bundle one attempt per socket that was
/// already open (meta.json `attach.pre_existing`), continued by the later
/// syscalls on its fd, the kernel events and the packets of its 5-tuple.
pub fn correlate_bundle(
    events: &[Event],
    capture: Option<&CaptureIndex>,
    clock: &Clock,
    meta: &Meta,
) -> Correlation {
    correlate_bundle_kept(events, capture, clock, meta).0
}

/// Every pass over `events` (sorted here into canonical order), with the
/// attempts of `seeds` to continue.
fn correlate_seeded(
    events: &[Event],
    capture: Option<&CaptureIndex>,
    clock: &Clock,
    drop_reasons: &BTreeMap<u32, String>,
    seeds: Vec<Attempt>,
) -> (Correlation, Kept) {
    let mut pass = events::Pass::new(clock, seeds);
    for ev in order::canonical(events).iter() {
        pass.push(ev.clone());
    }
    finish(pass, capture, clock, drop_reasons)
}

/// [`correlate_bundle`] over events given one at a time, in file order:
/// only per-socket state and what the later passes need ([`Kept`]) are
/// held, not the events.
pub struct Stream<'c> {
    pass: events::Pass<'c>,
    reorder: order::Reorder,
    meta: &'c Meta,
}

impl<'c> Stream<'c> {
    /// A correlation of the bundle `meta` describes (its pre-existing
    /// sockets seeded, as [`correlate_bundle`] does).
    pub fn new(clock: &'c Clock, meta: &'c Meta) -> Stream<'c> {
        Stream {
            pass: events::Pass::new(clock, preexisting::seeds(meta)),
            reorder: order::Reorder::default(),
            meta,
        }
    }

    /// The next event of the file.
    ///
    /// # Errors
    /// [`OutOfOrder`] when it belongs before events already correlated
    /// (farther out of time order than the reorder window): the caller
    /// then correlates the sorted events with [`correlate_bundle`].
    pub fn push(&mut self, ev: Event) -> Result<(), OutOfOrder> {
        let pass = &mut self.pass;
        self.reorder.push(ev, |e| pass.push(e))
    }

    /// What [`correlate_bundle`] gives for the same events, and what was
    /// kept of them.
    pub fn finish(self, capture: Option<&CaptureIndex>) -> (Correlation, Kept) {
        let Stream {
            mut pass,
            reorder,
            meta,
        } = self;
        reorder.finish(|e| pass.push(e));
        let clock = pass.clock();
        finish(pass, capture, clock, &meta.drop_reasons)
    }
}

/// [`correlate_bundle`] with what was kept of the events, for the outputs
/// beyond the verdict (the capture's packet notes).
pub fn correlate_bundle_kept(
    events: &[Event],
    capture: Option<&CaptureIndex>,
    clock: &Clock,
    meta: &Meta,
) -> (Correlation, Kept) {
    let seeds = preexisting::seeds(meta);
    correlate_seeded(events, capture, clock, &meta.drop_reasons, seeds)
}

/// The passes after the first: pre-existing sockets, kernel evidence,
/// packets, then the steps and attempts in their final order.
fn finish(
    pass: events::Pass<'_>,
    capture: Option<&CaptureIndex>,
    clock: &Clock,
    drop_reasons: &BTreeMap<u32, String>,
) -> (Correlation, Kept) {
    let (mut c, kept) = pass.finish();
    preexisting::link(&mut c, &kept.kernel, clock);
    kernel::link(
        &mut c.attempts,
        &kept.kernel,
        &kept.sends,
        clock,
        drop_reasons,
    );
    if let Some(idx) = capture {
        packets::link(&mut c.attempts, idx, clock);
        dns_tcp::link(&mut c.attempts);
    }
    for a in &mut c.attempts {
        a.steps.sort_by(|x, y| {
            let tx = x.t_ms.unwrap_or(f64::MAX);
            let ty = y.t_ms.unwrap_or(f64::MAX);
            tx.total_cmp(&ty)
                .then((x.source == Source::Packet).cmp(&(y.source == Source::Packet)))
                .then(x.id.cmp(&y.id))
        });
    }
    // Equal starts (equal-time events) by what the attempt is, not by the
    // order its events arrived in: the verdict's choice among equals is
    // then the same for any order (issue 13 item 6).
    c.attempts
        .sort_by_key(|a| (a.start_ns, a.tgid, a.fd, a.peer, a.kind == Kind::Dns));
    (c, kept)
}
