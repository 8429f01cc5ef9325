//! Packets captured twice. A capture on `lo` or on "any" sees a loopback
//! packet on the way out and on the way in; a mirror port can copy a
//! packet twice. Wireshark then marks the copy "TCP Retransmission", but
//! the sender sent it once: counting it as a retransmitted SYN or DNS
//! query would invent a timeout.
//!
//! A copy has the same [`Headers::fingerprint`] (the IP header without TTL
//! and checksum, and the start of the payload: the IPv4 id, TCP sequence
//! number and timestamp, DNS id all match) and comes within
//! [`DUP_WINDOW_NS`] of the first. A real retransmission comes later: a
//! SYN is resent after at least 1 s (RFC 6298 2.1, the initial RTO; Linux
//! TCP_TIMEOUT_INIT), data after at least 200 ms (Linux TCP_RTO_MIN), a
//! DNS query after at least 1 s (resolv.conf `timeout`, default 5 s); and
//! Linux changes the IPv4 id and TCP timestamp of every transmission.
//!
//! [`Headers::fingerprint`]: crate::capture::packet::Headers::fingerprint

/// Two packets with one fingerprint closer than this (ns) are one packet
/// captured twice.
pub const DUP_WINDOW_NS: i64 = 10_000_000;
/// Recent packets compared against (copies are a few packets apart).
const RING: usize = 32;
/// Copies remembered for the report.
const KEEP: usize = 4;

/// The recent-packet ring.
#[derive(Debug)]
pub(crate) struct Dedup {
    ring: [(u64, i64, u64); RING],
    next: usize,
    /// Copies skipped.
    pub copies: u64,
    /// The first few (copy, original, ns between them).
    pub examples: Vec<(u64, u64, i64)>,
}

impl Default for Dedup {
    fn default() -> Self {
        Dedup {
            ring: [(0, i64::MIN, 0); RING],
            next: 0,
            copies: 0,
            examples: Vec::new(),
        }
    }
}

impl Dedup {
    /// True when packet `pkt` (fingerprint `fp`, time `ns`) is a copy of
    /// a recent one; otherwise it is remembered. Packets without a time
    /// are never copies.
    pub(crate) fn is_copy(&mut self, fp: u64, ns: Option<i64>, pkt: u64) -> bool {
        let Some(ns) = ns else {
            return false;
        };
        let hit = self.ring.iter().find(|(f, t, _)| {
            *f == fp
                && *t != i64::MIN
                && ns.saturating_sub(*t).unsigned_abs() < DUP_WINDOW_NS as u64
        });
        if let Some(&(_, t, orig)) = hit {
            self.copies += 1;
            if self.examples.len() < KEEP {
                self.examples.push((pkt, orig, ns.saturating_sub(t)));
            }
            return true;
        }
        self.ring[self.next] = (fp, ns, pkt);
        self.next = (self.next + 1) % RING;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_within_the_window_is_skipped_a_later_resend_is_not() {
        let mut d = Dedup::default();
        assert!(!d.is_copy(7, Some(1_000), 1));
        // The loopback copy, 635 µs later (as in ptcpdump's tcp.pcapng).
        assert!(d.is_copy(7, Some(636_000), 2));
        // The same bytes 1 s later: a retransmission by a stack that
        // resends identical packets.
        assert!(!d.is_copy(7, Some(1_000_001_000), 3));
        assert!(!d.is_copy(8, Some(1_000_002_000), 4));
        assert!(!d.is_copy(9, None, 5));
        assert!(!d.is_copy(9, None, 6), "no time, no verdict");
        assert_eq!(d.copies, 1);
        assert_eq!(d.examples, vec![(2, 1, 635_000)]);
    }
}
