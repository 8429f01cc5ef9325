//! Header facts that capture-only analysis needs beyond addresses and
//! flags: the transport checksum verdict (UDP RFC 768, TCP RFC 9293 3.1,
//! the IPv6 pseudo-header of RFC 8200 8.1), IP fragments (IPv4 RFC 791
//! 3.2, the IPv6 Fragment header of RFC 8200 4.5), and a fingerprint that
//! is equal for two copies of one packet (a loopback or mirror-port
//! capture sees some packets twice) and differs for a retransmission.
//!
//! Everything here reads only the captured bytes and never panics.

use std::net::IpAddr;

use etherparse::{Ipv6ExtensionSlice, LaxIpPayloadSlice, LaxNetSlice};

use crate::proto::dns::DnsMessage;
use crate::proto::{IPPROTO_TCP, IPPROTO_UDP};

/// Bytes of the IP payload (transport header and the start of its data)
/// that go into [`Headers::fingerprint`].
const FINGERPRINT_PAYLOAD: usize = 64;

/// Whether the transport checksum of a packet is right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Checksum {
    /// Not checked: the packet is cut short by the snaplen, is a fragment,
    /// is not UDP/TCP, or is a TCP segment without SYN or RST (data
    /// segments are not summed: the sender retransmits a damaged one, so
    /// no verdict depends on them).
    #[default]
    Unverified,
    /// The checksum is right.
    Good,
    /// UDP over IPv4 with checksum 0: the sender computed none (RFC 768).
    /// (Over IPv6 a zero UDP checksum is invalid, RFC 8200 8.1: [`Checksum::Bad`].)
    Absent,
    /// The field holds only the pseudo-header sum: the packet was captured
    /// on the host that sent it, before its NIC filled the checksum in
    /// (checksum offload, Linux CHECKSUM_PARTIAL). Right on the wire.
    Offloaded,
    /// Wrong: the receiving kernel drops the packet (Linux counts it in
    /// UDP InCsumErrors, or TCP_CSUM), so the application never sees it.
    Bad {
        /// The checksum field as captured.
        found: u16,
        /// The value it should hold.
        expected: u16,
    },
}

impl Checksum {
    /// True for [`Checksum::Bad`]: the receiver drops the packet.
    pub fn is_bad(self) -> bool {
        matches!(self, Checksum::Bad { .. })
    }
}

/// IP and transport header facts of one packet (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Headers {
    /// 64-bit hash of the IP header (without the IPv4 TTL and header
    /// checksum or the IPv6 hop limit, which a router changes) and the
    /// first 64 bytes of the IP payload. Two copies of one packet have the
    /// same fingerprint; a retransmission differs in the IPv4 id, the TCP
    /// timestamp or the DNS id, except from stacks that resend identical
    /// bytes, which only the time between them tells apart.
    pub fingerprint: u64,
    /// TCP sequence number (RFC 9293 3.1); 0 for other protocols.
    pub seq: u32,
    /// TCP acknowledgment number; 0 for other protocols.
    pub ack: u32,
    /// Transport checksum verdict.
    pub checksum: Checksum,
}

/// One IP fragment: a piece of a datagram that the receiver reassembles
/// (RFC 791 3.2, RFC 8200 4.5). The datagram is delivered only when every
/// piece arrived, within 60 s (RFC 8200 4.5; Linux ipfrag_time 30 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// IP protocol of the datagram (17 UDP, 6 TCP).
    pub proto: u8,
    /// Identification: 16 bits for IPv4, 32 for IPv6.
    pub id: u32,
    /// Where this piece starts in the datagram's payload, bytes.
    pub offset: u32,
    /// Bytes of the datagram this piece carries (from the IP length).
    pub len: u32,
    /// More Fragments flag: false on the last piece.
    pub more: bool,
    /// IPv6 (RFC 8200) rather than IPv4 (RFC 791).
    pub v6: bool,
    /// On the first piece (offset 0) of a UDP datagram to or from port 53:
    /// the DNS message head it carries (id, flags, question).
    pub dns: Option<Box<DnsMessage>>,
}

/// The IP-level identity of a packet: header bytes without the fields a
/// router rewrites, then the start of the payload.
pub(super) fn fingerprint(net: &LaxNetSlice<'_>, ip_payload: &[u8]) -> u64 {
    let mut head = [0u8; 60];
    let n = match net {
        LaxNetSlice::Ipv4(s) => {
            let h = s.header().slice();
            let n = h.len().min(head.len());
            head[..n].copy_from_slice(&h[..n]);
            // TTL (byte 8) and header checksum (bytes 10-11), RFC 791 3.1.
            for i in [8, 10, 11] {
                if let Some(b) = head.get_mut(i) {
                    *b = 0;
                }
            }
            n
        }
        LaxNetSlice::Ipv6(s) => {
            let h = s.header().slice();
            let n = h.len().min(head.len());
            head[..n].copy_from_slice(&h[..n]);
            // Hop limit (byte 7), RFC 8200 3.
            if let Some(b) = head.get_mut(7) {
                *b = 0;
            }
            n
        }
        LaxNetSlice::Arp(_) => 0,
    };
    let h = hash(0x9e37_79b9_7f4a_7c15, &head[..n]);
    let tail = &ip_payload[..ip_payload.len().min(FINGERPRINT_PAYLOAD)];
    hash(h, tail)
}

fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95)
}

fn hash(mut h: u64, b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(w));
    }
    let mut w = [0u8; 8];
    let rest = chunks.remainder();
    w[..rest.len()].copy_from_slice(rest);
    mix(mix(h, u64::from_le_bytes(w)), b.len() as u64)
}

/// (identification, byte offset, more fragments, datagram bytes in this
/// piece) when the packet is a fragment of a larger datagram.
pub(super) fn fragment_of(
    net: &LaxNetSlice<'_>,
    payload: &LaxIpPayloadSlice<'_>,
) -> Option<(u32, u32, bool, u32)> {
    if !payload.fragmented {
        return None;
    }
    match net {
        LaxNetSlice::Ipv4(s) => {
            let h = s.header();
            let wire = usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4);
            let len = if payload.incomplete {
                wire
            } else {
                payload.payload.len()
            };
            Some((
                u32::from(h.identification()),
                u32::from(h.fragments_offset().byte_offset()),
                h.more_fragments(),
                u32::try_from(len).unwrap_or(u32::MAX),
            ))
        }
        LaxNetSlice::Ipv6(s) => {
            let f = s.extensions().clone().into_iter().find_map(|e| match e {
                Ipv6ExtensionSlice::Fragment(f) => Some(f),
                _ => None,
            })?;
            let wire = usize::from(s.header().payload_length())
                .saturating_sub(s.extensions().slice().len());
            let len = if payload.incomplete {
                wire
            } else {
                payload.payload.len()
            };
            Some((
                f.identification(),
                u32::from(f.fragment_offset().byte_offset()),
                f.more_fragments(),
                u32::try_from(len).unwrap_or(u32::MAX),
            ))
        }
        LaxNetSlice::Arp(_) => None,
    }
}

/// The checksum verdict of a whole UDP datagram or TCP segment `seg`
/// (header and data) between `src` and `dst`. The caller passes only
/// complete, unfragmented segments.
pub(super) fn verify(src: IpAddr, dst: IpAddr, proto: u8, seg: &[u8]) -> Checksum {
    let at = match proto {
        IPPROTO_UDP => 6,
        IPPROTO_TCP => 16,
        _ => return Checksum::Unverified,
    };
    let Some(&[hi, lo]) = seg.get(at..at + 2) else {
        return Checksum::Unverified;
    };
    let found = u16::from_be_bytes([hi, lo]);
    if proto == IPPROTO_UDP && found == 0 && src.is_ipv4() {
        return Checksum::Absent;
    }
    let Ok(len) = u32::try_from(seg.len()) else {
        return Checksum::Unverified;
    };
    // Pseudo-header: addresses, protocol, length (RFC 768, RFC 8200 8.1).
    let mut pseudo: u64 = u64::from(proto) + u64::from(len);
    for ip in [src, dst] {
        match ip {
            IpAddr::V4(a) => pseudo += sum_words(&a.octets()),
            IpAddr::V6(a) => pseudo += sum_words(&a.octets()),
        }
    }
    let data = sum_words(seg);
    if fold(pseudo + data) == 0xffff {
        return Checksum::Good;
    }
    let without = fold(pseudo + data + u64::from(!found));
    let mut expected = !without;
    if proto == IPPROTO_UDP && expected == 0 {
        expected = 0xffff;
    }
    if found == fold(pseudo) {
        return Checksum::Offloaded;
    }
    if proto == IPPROTO_TCP && found == 0 {
        // A blanked TCP checksum: capture rewriters and anonymisers zero
        // the field (the zeek trace chrome-1250-tls-x25519-kyber.pcap does)
        // rather than recompute it; nothing can be said of the original.
        return Checksum::Unverified;
    }
    Checksum::Bad { found, expected }
}

/// One's-complement sum of big-endian 16-bit words, not yet folded; an
/// odd last byte is padded with zero (RFC 1071).
fn sum_words(b: &[u8]) -> u64 {
    let mut s: u64 = 0;
    let mut chunks = b.chunks_exact(4);
    for c in &mut chunks {
        s += u64::from(u16::from_be_bytes([c[0], c[1]]))
            + u64::from(u16::from_be_bytes([c[2], c[3]]));
    }
    let mut rest = chunks.remainder().chunks(2);
    for c in &mut rest {
        let hi = c[0];
        let lo = c.get(1).copied().unwrap_or(0);
        s += u64::from(u16::from_be_bytes([hi, lo]));
    }
    s
}

fn fold(mut s: u64) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp_v4(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ipv4([198, 18, 0, 2], [198, 18, 0, 1], 64)
            .udp(53, 40000)
            .write(&mut v, payload)
            .unwrap();
        v
    }

    const S: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 2));
    const C: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 1));

    #[test]
    fn udp_checksums() {
        let v = udp_v4(b"hello dns");
        let seg = &v[20..];
        assert_eq!(verify(S, C, IPPROTO_UDP, seg), Checksum::Good);
        let good = u16::from_be_bytes([seg[6], seg[7]]);
        let mut bad = seg.to_vec();
        bad[6..8].copy_from_slice(&0x1234u16.to_be_bytes());
        assert_eq!(
            verify(S, C, IPPROTO_UDP, &bad),
            Checksum::Bad {
                found: 0x1234,
                expected: good
            }
        );
        let mut none = seg.to_vec();
        none[6..8].copy_from_slice(&[0, 0]);
        assert_eq!(verify(S, C, IPPROTO_UDP, &none), Checksum::Absent);
        // A damaged payload byte is caught too.
        let mut flipped = seg.to_vec();
        flipped[9] ^= 0x40;
        assert!(verify(S, C, IPPROTO_UDP, &flipped).is_bad());
    }

    #[test]
    fn offloaded_checksum_is_the_pseudo_header_sum() {
        let v = udp_v4(b"abc");
        let mut seg = v[20..].to_vec();
        let pseudo = 17u64 + seg.len() as u64 + sum_words(&[198, 18, 0, 2, 198, 18, 0, 1]);
        seg[6..8].copy_from_slice(&fold(pseudo).to_be_bytes());
        assert_eq!(verify(S, C, IPPROTO_UDP, &seg), Checksum::Offloaded);
    }

    #[test]
    fn ipv6_zero_udp_checksum_is_bad() {
        let mut v = Vec::new();
        PacketBuilder::ipv6([0x20; 16], [0x21; 16], 64)
            .udp(53, 40000)
            .write(&mut v, b"x")
            .unwrap();
        let mut seg = v[40..].to_vec();
        let (s, d) = (IpAddr::from([0x20u8; 16]), IpAddr::from([0x21u8; 16]));
        assert_eq!(verify(s, d, IPPROTO_UDP, &seg), Checksum::Good);
        seg[6..8].copy_from_slice(&[0, 0]);
        assert!(verify(s, d, IPPROTO_UDP, &seg).is_bad());
    }

    #[test]
    fn blanked_tcp_checksum_is_unverified() {
        let mut v = Vec::new();
        PacketBuilder::ipv4([198, 18, 0, 2], [198, 18, 0, 1], 64)
            .tcp(80, 40000, 1, 1000)
            .rst()
            .write(&mut v, &[])
            .unwrap();
        let mut seg = v[20..].to_vec();
        assert_eq!(verify(S, C, IPPROTO_TCP, &seg), Checksum::Good);
        seg[16..18].copy_from_slice(&[0, 0]);
        assert_eq!(verify(S, C, IPPROTO_TCP, &seg), Checksum::Unverified);
        seg[16..18].copy_from_slice(&[0xbe, 0xef]);
        assert!(verify(S, C, IPPROTO_TCP, &seg).is_bad());
    }

    #[test]
    fn short_segments_are_unverified() {
        assert_eq!(verify(S, C, IPPROTO_UDP, &[0, 53]), Checksum::Unverified);
        assert_eq!(verify(S, C, 1, &[0; 20]), Checksum::Unverified);
    }

    #[test]
    fn hash_depends_on_every_byte_and_the_length() {
        let a = hash(1, b"0123456789");
        assert_ne!(a, hash(1, b"0123456788"));
        assert_ne!(hash(1, b"\0"), hash(1, b"\0\0"));
        assert_eq!(a, hash(1, b"0123456789"));
    }
}
