//! The traffic mix of a Go module fetch workload. A session is what one
//! dial of `go` puts on the wire: the A and AAAA lookups of the proxy's
//! name, then (when they answer) a TCP connection with one or more module
//! proxy requests (`@v/list`, `.info`, `.mod`, `.zip`) over plain HTTP on
//! 8080 or TLS on 443, or one of the failures of [`Failure`].
//!
//! Every address is in 198.18.0.0/15 (RFC 2544): servers in 198.18.0.0/24,
//! clients from 198.18.16.0, unreachable hosts in 198.18.3.0/24. Client
//! sockets are never reused, so each flow has its own 4-tuple.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::mix::{Failure, Mix};
use super::packets::flag;
use super::payloads;
use super::plan::{Body, Conn, Pkt, Planned, MS, S, US};
use super::prng::Rng;

mod failures;
mod fetch;

/// The DNS server in every resolv.conf.
pub const DNS_SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 53), 53);
/// A resolver address where nothing listens (ICMP port unreachable).
pub const DNS_DEAD: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 54), 53);
/// The module proxy over plain HTTP (`proxy.lab.test`).
pub const PROXY_HTTP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 8080);
/// The module proxy over TLS (`goproxy.lab.test`).
pub const PROXY_TLS: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 3), 443);
/// A host whose port is closed (RST).
pub const REFUSING: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 4), 8080);
/// A host that drops every SYN.
pub const BLACKHOLE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 5), 8080);
/// The clients' router; it reports unreachable hosts.
pub const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// First client address; clients are `CLIENT_BASE + host`.
const CLIENT_BASE: u32 = u32::from_be_bytes([198, 18, 16, 0]);
/// Client hosts in use at a time.
const CLIENT_HOSTS: u32 = 256;
/// Blocks of 256 client addresses left in 198.18.16.0-198.19.255.255.
const CLIENT_BLOCKS: u64 = 496;
/// Linux's default ephemeral port range, 32768-60999.
const PORT_FIRST: u16 = 32768;
const PORTS: u64 = 28_232;

/// What a session does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    HttpFetch,
    TlsFetch,
    DnsNxdomain,
    DnsServfail,
    DnsTimeout,
    DnsPortUnreachable,
    Refused,
    ConnectTimeout,
    HostUnreachable,
    TlsServerAlert,
    TlsUntrusted,
}

/// Sessions of each kind per 1000.
const KINDS: [(Kind, u32); 11] = [
    (Kind::HttpFetch, 600),
    (Kind::TlsFetch, 220),
    (Kind::DnsNxdomain, 40),
    (Kind::DnsServfail, 15),
    (Kind::DnsTimeout, 10),
    (Kind::DnsPortUnreachable, 10),
    (Kind::Refused, 40),
    (Kind::ConnectTimeout, 15),
    (Kind::HostUnreachable, 15),
    (Kind::TlsServerAlert, 15),
    (Kind::TlsUntrusted, 20),
];

/// How a lookup is answered.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Addr(Ipv4Addr),
    Rcode(u8),
    Silent,
    PortUnreachable,
}

/// Plans sessions and counts what it planned in [`Planner::mix`].
pub struct Planner {
    rng: Rng,
    /// Sockets opened so far per client host.
    host_sockets: Vec<u64>,
    /// Counts of everything planned.
    pub mix: Mix,
}

/// The packets of one session being planned.
struct Script {
    out: Vec<Planned>,
    host: u32,
}

impl Script {
    fn push(&mut self, p: Planned) {
        self.out.push(p);
    }
}

impl Planner {
    /// A planner drawing from `rng`.
    pub fn new(rng: Rng) -> Planner {
        Planner {
            rng,
            host_sockets: vec![0; CLIENT_HOSTS as usize],
            mix: Mix::default(),
        }
    }

    /// The planner's random source (for start times).
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Plans one session starting at `t0` (ns); its packets in time order.
    pub fn session(&mut self, t0: u64) -> VecDeque<Planned> {
        self.mix.sessions += 1;
        let weights: Vec<u32> = KINDS.iter().map(|k| k.1).collect();
        let kind = KINDS[self.rng.pick(&weights)].0;
        let host = self.rng.next_u32() % CLIENT_HOSTS;
        let mut s = Script {
            out: Vec::new(),
            host,
        };
        let n = self.mix.sessions;
        match kind {
            Kind::HttpFetch => self.fetch(&mut s, t0, false),
            Kind::TlsFetch => self.fetch(&mut s, t0, true),
            Kind::DnsNxdomain => {
                let name = format!("nosuch-{n}.lab.test");
                self.lookup(&mut s, t0, &name, Answer::Rcode(payloads::RCODE_NXDOMAIN));
                self.mix.fail(Failure::DnsNxdomain);
            }
            Kind::DnsServfail => {
                let a = Answer::Rcode(payloads::RCODE_SERVFAIL);
                self.lookup(&mut s, t0, "proxy.lab.test", a);
                self.mix.fail(Failure::DnsServfail);
            }
            Kind::DnsTimeout => {
                self.lookup(&mut s, t0, "proxy.lab.test", Answer::Silent);
                self.mix.fail(Failure::DnsTimeout);
            }
            Kind::DnsPortUnreachable => {
                self.lookup(&mut s, t0, "proxy.lab.test", Answer::PortUnreachable);
                self.mix.fail(Failure::DnsPortUnreachable);
            }
            Kind::Refused => self.refused(&mut s, t0),
            Kind::ConnectTimeout => self.connect_timeout(&mut s, t0),
            Kind::HostUnreachable => self.host_unreachable(&mut s, t0, n),
            Kind::TlsServerAlert => self.tls_server_alert(&mut s, t0),
            Kind::TlsUntrusted => self.tls_untrusted(&mut s, t0),
        }
        // Stable: packets planned for the same instant keep their order.
        s.out.sort_by_key(|p| p.at_ns);
        VecDeque::from(s.out)
    }

    /// A new client socket on `host`; never reused (a host that ran through
    /// its port range moves to the next block of addresses).
    fn socket(&mut self, host: u32) -> SocketAddrV4 {
        let n = self.host_sockets[host as usize];
        self.host_sockets[host as usize] += 1;
        let block = ((n / PORTS) % CLIENT_BLOCKS) as u32;
        let ip = Ipv4Addr::from(CLIENT_BASE + block * CLIENT_HOSTS + host);
        SocketAddrV4::new(ip, PORT_FIRST + (n % PORTS) as u16)
    }

    /// Go's lookup of `name`: A and AAAA queries in parallel, each on its
    /// own socket; returns when it is over (ns).
    fn lookup(&mut self, s: &mut Script, t: u64, name: &str, answer: Answer) -> u64 {
        let rtt = self.rng.range(300 * US, 3 * MS);
        let server = match answer {
            Answer::PortUnreachable => DNS_DEAD,
            _ => DNS_SERVER,
        };
        // Go's resolver tries twice, 5 s apart, each try on new sockets.
        let tries = if matches!(answer, Answer::Silent) {
            2
        } else {
            1
        };
        let mut end = t;
        for attempt in 0..tries {
            let ta = t + attempt * 5 * S;
            for (i, qtype) in [payloads::QTYPE_A, payloads::QTYPE_AAAA]
                .into_iter()
                .enumerate()
            {
                let src = self.socket(s.host);
                self.mix.udp_flows += 1;
                let id = self.rng.next_u32() as u16;
                let tq = ta + i as u64 * self.rng.range(10 * US, 60 * US);
                let query = Pkt::Udp {
                    src,
                    dst: server,
                    body: Body::Owned(payloads::dns_query(id, name, qtype)),
                };
                let tr = tq + rtt + self.rng.range(0, 200 * US);
                let reply = match answer {
                    Answer::Addr(a) => Some(Pkt::Udp {
                        src: server,
                        dst: src,
                        body: Body::Owned(payloads::dns_response(
                            id,
                            name,
                            qtype,
                            payloads::RCODE_NOERROR,
                            Some(a),
                        )),
                    }),
                    Answer::Rcode(r) => Some(Pkt::Udp {
                        src: server,
                        dst: src,
                        body: Body::Owned(payloads::dns_response(id, name, qtype, r, None)),
                    }),
                    Answer::Silent => None,
                    Answer::PortUnreachable => {
                        self.mix.icmp_errors += 1;
                        Some(Pkt::IcmpUnreachable {
                            from: *server.ip(),
                            to: *src.ip(),
                            code: 3,
                            quoted: Box::new(query.clone()),
                        })
                    }
                };
                s.push(Planned {
                    at_ns: tq,
                    pkt: query,
                });
                if let Some(pkt) = reply {
                    s.push(Planned { at_ns: tr, pkt });
                }
                end = end.max(tr);
            }
        }
        if matches!(answer, Answer::Silent) {
            end = t + 10 * S;
        }
        end + self.rng.range(20 * US, 100 * US)
    }

    /// A connection from a new client socket to `server` (counted as a flow).
    fn open(&mut self, host: u32, server: SocketAddrV4) -> Conn {
        let client = self.socket(host);
        self.mix.tcp_flows += 1;
        let isn = (self.rng.next_u32(), self.rng.next_u32());
        let ts = (self.rng.next_u32(), self.rng.next_u32());
        let rtt = self.rng.range(200 * US, 3 * MS);
        let gap = self.rng.range(12 * US, 40 * US);
        Conn::new(client, server, isn, ts, rtt, gap)
    }

    /// SYN, SYN-ACK, ACK; returns when the client can send (ns).
    fn handshake(&mut self, s: &mut Script, k: &mut Conn, t: u64) -> u64 {
        s.push(k.seg(true, t, flag::SYN, Body::Empty));
        let t = t + k.rtt_ns;
        s.push(k.seg(false, t, flag::SYN | flag::ACK, Body::Empty));
        let t = t + self.rng.range(5 * US, 30 * US);
        s.push(k.seg(true, t, flag::ACK, Body::Empty));
        t + self.rng.range(10 * US, 50 * US)
    }

    /// Client FIN, server FIN, client ACK.
    fn close(&mut self, s: &mut Script, k: &mut Conn, t: u64) {
        s.push(k.seg(true, t, flag::FIN | flag::ACK, Body::Empty));
        let t = t + k.rtt_ns;
        s.push(k.seg(false, t, flag::FIN | flag::ACK, Body::Empty));
        s.push(k.seg(
            true,
            t + self.rng.range(5 * US, 30 * US),
            flag::ACK,
            Body::Empty,
        ));
    }
}
