//! What a session plans before any byte is built: packets with their
//! capture time ([`Planned`]), and the per-connection TCP bookkeeping
//! (sequence numbers, timestamps) that keeps every segment consistent.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::packets::{flag, TcpSeg};
use super::payloads::Stream;

/// Nanoseconds per microsecond.
pub const US: u64 = 1_000;
/// Nanoseconds per millisecond.
pub const MS: u64 = 1_000_000;
/// Nanoseconds per second.
pub const S: u64 = 1_000_000_000;

/// A packet's payload, kept small until the frame is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No payload.
    Empty,
    /// Fixed bytes (real Go TLS messages).
    Static(&'static [u8]),
    /// Bytes made when planning (DNS messages, HTTP heads).
    Owned(Vec<u8>),
    /// `len` bytes at offset `off` of a connection's byte stream, made by
    /// [`super::payloads::fill`] when the frame is built.
    Stream {
        /// What the stream holds.
        stream: Stream,
        /// Offset in the stream (bytes).
        off: u64,
        /// Length (bytes).
        len: u16,
        /// Picks the filler bytes.
        salt: u32,
    },
}

impl Body {
    /// Payload length (bytes).
    pub fn len(&self) -> usize {
        match self {
            Body::Empty => 0,
            Body::Static(b) => b.len(),
            Body::Owned(b) => b.len(),
            Body::Stream { len, .. } => usize::from(*len),
        }
    }
}

/// One packet to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkt {
    /// A TCP segment.
    Tcp(TcpSeg, Body),
    /// A UDP datagram.
    Udp {
        /// Sender.
        src: SocketAddrV4,
        /// Receiver.
        dst: SocketAddrV4,
        /// Payload.
        body: Body,
    },
    /// ICMP destination unreachable quoting `quoted`.
    IcmpUnreachable {
        /// Who reports it (the host or a router).
        from: Ipv4Addr,
        /// The sender of the quoted packet.
        to: Ipv4Addr,
        /// 1 host unreachable, 3 port unreachable.
        code: u8,
        /// The packet that could not be delivered.
        quoted: Box<Pkt>,
    },
}

/// A packet and its capture time (ns since the capture's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Capture time (ns since the start of the capture).
    pub at_ns: u64,
    /// The packet.
    pub pkt: Pkt,
}

/// One TCP connection seen from the client, where the capture is taken.
#[derive(Debug, Clone)]
pub struct Conn {
    /// Client socket.
    pub client: SocketAddrV4,
    /// Server socket.
    pub server: SocketAddrV4,
    /// Next sequence numbers of client and server.
    pub cseq: u32,
    /// Server's next sequence number.
    pub sseq: u32,
    /// Timestamp clock offsets (ms ticks) of client and server.
    c_ts: u32,
    s_ts: u32,
    /// Last TSval each side sent (echoed by the other).
    c_last: u32,
    s_last: u32,
    /// Round-trip time (ns).
    pub rtt_ns: u64,
    /// Spacing of back-to-back data segments (ns).
    pub gap_ns: u64,
}

impl Conn {
    /// A connection in CLOSED state with the given initial sequence
    /// numbers and timestamp offsets.
    pub fn new(
        client: SocketAddrV4,
        server: SocketAddrV4,
        isn: (u32, u32),
        ts: (u32, u32),
        rtt_ns: u64,
        gap_ns: u64,
    ) -> Conn {
        Conn {
            client,
            server,
            cseq: isn.0,
            sseq: isn.1,
            c_ts: ts.0,
            s_ts: ts.1,
            c_last: 0,
            s_last: 0,
            rtt_ns,
            gap_ns,
        }
    }

    /// A segment from the client (`from_client`) or the server at `at_ns`,
    /// acknowledging everything the other side sent so far; advances the
    /// sender's sequence number by the payload (and SYN/FIN).
    pub fn seg(&mut self, from_client: bool, at_ns: u64, flags: u8, body: Body) -> Planned {
        let len = body.len() as u32;
        let tick = (at_ns / MS) as u32;
        let syn = flags & flag::SYN != 0;
        let (src, dst, seq, ack, window, ts) = if from_client {
            let val = self.c_ts.wrapping_add(tick);
            self.c_last = val;
            (
                self.client,
                self.server,
                self.cseq,
                self.sseq,
                if syn { 64240 } else { 502 },
                (val, self.s_last),
            )
        } else {
            let val = self.s_ts.wrapping_add(tick);
            self.s_last = val;
            (
                self.server,
                self.client,
                self.sseq,
                self.cseq,
                if syn { 65160 } else { 509 },
                (val, self.c_last),
            )
        };
        let used = len + u32::from(syn) + u32::from(flags & flag::FIN != 0);
        if from_client {
            self.cseq = self.cseq.wrapping_add(used);
        } else {
            self.sseq = self.sseq.wrapping_add(used);
        }
        // Linux sends resets without options.
        let ts = (flags & flag::RST == 0).then_some(ts);
        let seg = TcpSeg {
            src,
            dst,
            seq,
            ack: if flags & flag::ACK != 0 { ack } else { 0 },
            flags,
            window,
            ts,
        };
        Planned {
            at_ns,
            pkt: Pkt::Tcp(seg, body),
        }
    }

    /// The same segment sent again at `at_ns` (a retransmission: same
    /// sequence number, a fresh TSval).
    pub fn again(&self, p: &Planned, at_ns: u64) -> Planned {
        let mut p = p.clone();
        p.at_ns = at_ns;
        if let Pkt::Tcp(seg, _) = &mut p.pkt {
            let base = if seg.src == self.client {
                self.c_ts
            } else {
                self.s_ts
            };
            if let Some((val, _)) = &mut seg.ts {
                *val = base.wrapping_add((at_ns / MS) as u32);
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_follow_the_bytes() {
        let (c, s) = (
            "198.18.16.1:40000".parse().unwrap(),
            "198.18.0.2:8080".parse().unwrap(),
        );
        let mut k = Conn::new(c, s, (100, 5000), (7, 9), MS, 20 * US);
        let syn = k.seg(true, 0, flag::SYN, Body::Empty);
        let synack = k.seg(false, MS, flag::SYN | flag::ACK, Body::Empty);
        let req = k.seg(
            true,
            2 * MS,
            flag::PSH | flag::ACK,
            Body::Owned(vec![0; 10]),
        );
        let resp = k.seg(false, 3 * MS, flag::ACK, Body::Owned(vec![0; 20]));
        let seg = |p: &Planned| match &p.pkt {
            Pkt::Tcp(t, _) => *t,
            _ => unreachable!(),
        };
        assert_eq!((seg(&syn).seq, seg(&syn).ack), (100, 0));
        assert_eq!((seg(&synack).seq, seg(&synack).ack), (5000, 101));
        assert_eq!((seg(&req).seq, seg(&req).ack), (101, 5001));
        assert_eq!((seg(&resp).seq, seg(&resp).ack), (5001, 111));
        assert_eq!(seg(&resp).ts, Some((9 + 3, 7 + 2)));
        let again = seg(&k.again(&syn, 1000 * MS));
        assert_eq!((again.seq, again.ts), (100, Some((7 + 1000, 0))));
    }
}
