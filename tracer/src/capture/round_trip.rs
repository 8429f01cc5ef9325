//! The longest TCP handshake round trip seen on the wire during a run: a
//! SYN and the SYN-ACK or RST that answers it (RFC 9293 3.5). It bounds
//! how long an answer to the command's last packets can still take, which
//! is how long the end of a run waits for them ([`crate::record::session`]).
//!
//! Only handshakes count: a SYN-ACK or a RST with the reversed 5-tuple of
//! a SYN answers nothing else, whereas a UDP datagram's reply cannot be
//! told from the next request on the same ports.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

use crate::redact::frame::Link;

/// SYNs waiting for an answer that are remembered; beyond it new SYNs are
/// not timed (a SYN flood must not grow gotrace's memory).
const MAX_OPEN: usize = 4096;

/// A TCP 5-tuple, source first.
type Key = (IpAddr, u16, IpAddr, u16);

/// Times handshakes in the frames given to [`RoundTrips::observe`].
pub(crate) struct RoundTrips {
    /// SYN without ACK -> its capture time (CLOCK_REALTIME ns); a
    /// retransmitted SYN replaces the first, so a late answer is timed
    /// from the SYN it answers.
    open: HashMap<Key, u64>,
    /// The longest round trip so far in ns, 0 for none; shared with the
    /// [`super::Capture`] that reports it.
    longest_ns: Arc<AtomicU64>,
}

impl RoundTrips {
    /// A tracker that publishes its longest round trip in `longest_ns`.
    pub(crate) fn new(longest_ns: Arc<AtomicU64>) -> RoundTrips {
        RoundTrips {
            open: HashMap::new(),
            longest_ns,
        }
    }

    /// Looks at one frame of link type `link` captured at `time_ns`.
    pub(crate) fn observe(&mut self, link: Link, frame: &[u8], time_ns: u64) {
        let sliced = match link {
            Link::Ethernet => SlicedPacket::from_ethernet(frame),
            Link::RawIp => SlicedPacket::from_ip(frame),
        };
        let Ok(p) = sliced else { return };
        let (src, dst) = match &p.net {
            Some(NetSlice::Ipv4(ip)) => (
                IpAddr::V4(ip.header().source_addr()),
                IpAddr::V4(ip.header().destination_addr()),
            ),
            Some(NetSlice::Ipv6(ip)) => (
                IpAddr::V6(ip.header().source_addr()),
                IpAddr::V6(ip.header().destination_addr()),
            ),
            _ => return,
        };
        let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
            return;
        };
        let key = (src, tcp.source_port(), dst, tcp.destination_port());
        if tcp.syn() && !tcp.ack() {
            if self.open.len() < MAX_OPEN || self.open.contains_key(&key) {
                self.open.insert(key, time_ns);
            }
        } else if tcp.syn() || tcp.rst() {
            let reversed = (key.2, key.3, key.0, key.1);
            if let Some(sent) = self.open.remove(&reversed) {
                self.longest_ns
                    .fetch_max(time_ns.saturating_sub(sent), Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn segment(from: [u8; 4], sport: u16, to: [u8; 4], dport: u16, flags: &str) -> Vec<u8> {
        let mut b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(from, to, 64)
            .tcp(sport, dport, 1, 64240);
        for f in flags.chars() {
            b = match f {
                'S' => b.syn(),
                'A' => b.ack(1),
                'R' => b.rst(),
                _ => b,
            };
        }
        let mut out = Vec::new();
        b.write(&mut out, &[]).unwrap();
        out
    }

    #[test]
    fn the_longest_answered_handshake_is_kept() {
        let longest = Arc::new(AtomicU64::new(0));
        let mut rt = RoundTrips::new(longest.clone());
        let (c, s) = ([198, 18, 0, 1], [198, 18, 0, 2]);
        rt.observe(Link::Ethernet, &segment(c, 40000, s, 443, "S"), 1_000);
        rt.observe(Link::Ethernet, &segment(s, 443, c, 40000, "SA"), 1_500);
        rt.observe(Link::Ethernet, &segment(c, 40001, s, 80, "S"), 2_000);
        // A retransmitted SYN: the RST answers the latest one.
        rt.observe(Link::Ethernet, &segment(c, 40001, s, 80, "S"), 3_000);
        rt.observe(Link::Ethernet, &segment(s, 80, c, 40001, "RA"), 3_200);
        assert_eq!(longest.load(Ordering::Relaxed), 500);
        // A SYN-ACK answering no SYN seen, and an unanswered SYN: nothing.
        rt.observe(Link::Ethernet, &segment(s, 443, c, 40009, "SA"), 9_000_000);
        rt.observe(Link::Ethernet, &segment(c, 40002, s, 443, "S"), 10_000);
        assert_eq!(longest.load(Ordering::Relaxed), 500);
        rt.observe(Link::Ethernet, &segment(s, 443, c, 40002, "SA"), 12_000);
        assert_eq!(longest.load(Ordering::Relaxed), 2_000);
    }

    #[test]
    fn garbage_is_ignored() {
        let longest = Arc::new(AtomicU64::new(0));
        let mut rt = RoundTrips::new(longest.clone());
        for frame in [&[][..], &[0xff; 7][..], &[0x45; 40][..]] {
            rt.observe(Link::Ethernet, frame, 5);
            rt.observe(Link::RawIp, frame, 5);
        }
        assert_eq!(longest.load(Ordering::Relaxed), 0);
    }
}
