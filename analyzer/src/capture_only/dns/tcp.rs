//! DNS over TCP in a bare capture: the segments of each TCP connection to
//! port 53 go through one [`DnsTcpStream`] per direction, and every
//! message they complete becomes a [`Datagram`] for the DNS tracker, like
//! a UDP one (RFC 1035 4.2.2, RFC 7766). The connection's own fate (a
//! refused SYN, a reset) is the TCP tracker's; the report ties it to the
//! truncated UDP answer that sent the client there.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::Datagram;
use crate::capture::packet::Checksum;
use crate::capture::TcpFlags;
use crate::capture_only::tcp::At;
use crate::proto::dns::PORT;
use crate::proto::dns_tcp::DnsTcpStream;

/// Live DNS-over-TCP connections decoded at once: each may hold up to two
/// 64 KiB messages, so the bound keeps the worst case near 8 MiB.
pub const MAX_CONNS: usize = 64;
/// A connection leaves the table this long after its last segment (ns).
const LINGER_NS: i64 = 12_000_000_000;

/// One segment of a connection to or from port 53.
#[derive(Debug)]
pub(crate) struct Seg<'a> {
    /// Frame number and time.
    pub at: At,
    /// Source.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
    /// Control bits.
    pub flags: TcpFlags,
    /// Sequence number.
    pub seq: u32,
    /// Captured payload.
    pub data: &'a [u8],
    /// Payload length on the wire.
    pub wire_len: usize,
}

#[derive(Debug)]
struct Conn {
    /// Client to server, server to client.
    dirs: [DnsTcpStream; 2],
    fins: [bool; 2],
    last_ns: i64,
}

/// Every live DNS-over-TCP connection, keyed by (client, server).
#[derive(Debug, Default)]
pub(crate) struct TcpStreams {
    conns: HashMap<(SocketAddr, SocketAddr), Conn>,
    /// Connections not decoded because [`MAX_CONNS`] were live.
    pub untracked: u64,
    /// Streams that stopped decoding ([`crate::proto::dns_tcp::Desync`]),
    /// the first one's reason.
    pub desynced: u64,
    /// The first desync, worded, for the report.
    pub first_desync: Option<String>,
}

impl TcpStreams {
    /// Feeds one segment; returns the DNS messages it completed.
    pub(crate) fn segment(&mut self, s: Seg<'_>, now: i64) -> Vec<Datagram> {
        let (key, dir) = if s.dst.port() == PORT {
            ((s.src, s.dst), 0)
        } else if s.src.port() == PORT {
            ((s.dst, s.src), 1)
        } else {
            return Vec::new();
        };
        if s.flags.rst {
            self.conns.remove(&key);
            return Vec::new();
        }
        if !self.conns.contains_key(&key) {
            if !(s.flags.syn || s.wire_len > 0) {
                return Vec::new();
            }
            if self.conns.len() >= MAX_CONNS {
                self.sweep(now);
                if self.conns.len() >= MAX_CONNS {
                    self.untracked += 1;
                    return Vec::new();
                }
            }
            self.conns.insert(
                key,
                Conn {
                    dirs: Default::default(),
                    fins: [false; 2],
                    last_ns: now,
                },
            );
        }
        let Some(c) = self.conns.get_mut(&key) else {
            return Vec::new();
        };
        c.last_ns = now;
        let stream = &mut c.dirs[dir];
        if s.flags.syn {
            // The SYN takes one sequence number (RFC 9293 3.4).
            *stream = DnsTcpStream::new(Some(s.seq.wrapping_add(1)));
        }
        let was = stream.desync();
        let msgs = stream.feed(s.at.0, s.seq, s.data, s.wire_len);
        if let (None, Some(d)) = (was, stream.desync()) {
            self.desynced += 1;
            self.first_desync.get_or_insert_with(|| {
                format!(
                    "DNS over TCP from {} to {}: {d}; the rest of that stream is not decoded",
                    s.src, s.dst
                )
            });
        }
        c.fins[dir] |= s.flags.fin;
        if c.fins == [true, true] {
            self.conns.remove(&key);
        }
        msgs.into_iter()
            .map(|m| Datagram {
                at: (m.frame, s.at.1),
                src: s.src,
                dst: s.dst,
                msg: m.msg,
                checksum: Checksum::Unverified,
                tcp: true,
            })
            .collect()
    }

    /// Drops connections quiet for [`LINGER_NS`].
    pub(crate) fn sweep(&mut self, now: i64) {
        self.conns
            .retain(|_, c| now.saturating_sub(c.last_ns) <= LINGER_NS);
    }
}
