//! Ethernet II / IPv4 frames built with etherparse, which fills in lengths
//! and the IPv4, TCP, UDP and ICMP checksums. TCP segments carry the
//! options Linux sends: MSS, SACK-permitted, timestamps and window scale on
//! SYNs (RFC 9293, RFC 7323, RFC 2018), the timestamp option on the rest
//! (so a full data segment is 1448 payload bytes in a 1514-byte frame).

use std::net::{Ipv4Addr, SocketAddrV4};

use etherparse::{PacketBuilder, TcpOptionElement};

/// TCP payload bytes in a full-size segment: 1500 (Ethernet MTU) - 20 (IPv4)
/// - 32 (TCP with the timestamp option).
pub const MSS: usize = 1448;
/// MSS announced on SYNs (bytes): MTU 1500 minus 40.
const SYN_MSS: u16 = 1460;
/// Time to live of every packet (Linux's default).
const TTL: u8 = 64;
/// Bytes of the offending IP packet an ICMP error quotes at most: Linux
/// fills the error up to 576 bytes (RFC 1812 4.3.2.3).
const ICMP_QUOTE_MAX: usize = 576 - 20 - 8;

/// TCP control bits as on the wire (RFC 9293 3.1).
pub mod flag {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// One TCP segment's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSeg {
    /// Sender.
    pub src: SocketAddrV4,
    /// Receiver.
    pub dst: SocketAddrV4,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (sent only with [`flag::ACK`]).
    pub ack: u32,
    /// [`flag`] bits.
    pub flags: u8,
    /// Window field (unscaled on SYNs, scaled by 2^7 after).
    pub window: u16,
    /// Timestamp option (TSval, TSecr in ms ticks); `None` for a bare RST.
    pub ts: Option<(u32, u32)>,
}

/// A locally administered MAC address derived from an IPv4 address, so
/// each host keeps one MAC.
pub fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

/// Replaces `out` with the Ethernet frame of segment `t` carrying `payload`.
///
/// # Errors
/// When etherparse refuses the segment (a payload over 65 495 bytes).
pub fn tcp_frame(out: &mut Vec<u8>, t: &TcpSeg, payload: &[u8]) -> Result<(), String> {
    out.clear();
    let mut b = PacketBuilder::ethernet2(mac_of(*t.src.ip()), mac_of(*t.dst.ip()))
        .ipv4(t.src.ip().octets(), t.dst.ip().octets(), TTL)
        .tcp(t.src.port(), t.dst.port(), t.seq, t.window);
    if t.flags & flag::ACK != 0 {
        b = b.ack(t.ack);
    }
    if t.flags & flag::SYN != 0 {
        b = b.syn();
    }
    if t.flags & flag::FIN != 0 {
        b = b.fin();
    }
    if t.flags & flag::RST != 0 {
        b = b.rst();
    }
    if t.flags & flag::PSH != 0 {
        b = b.psh();
    }
    let opts: &[TcpOptionElement] = match t.ts {
        Some((val, ecr)) if t.flags & flag::SYN != 0 => &[
            TcpOptionElement::MaximumSegmentSize(SYN_MSS),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(val, ecr),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ],
        Some((val, ecr)) => &[
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::Timestamp(val, ecr),
        ],
        None => &[],
    };
    if !opts.is_empty() {
        b = b
            .options(opts)
            .map_err(|e| format!("TCP options for {t:?}: {e}"))?;
    }
    b.write(out, payload)
        .map_err(|e| format!("building TCP segment {t:?}: {e}"))
}

/// Replaces `out` with the Ethernet frame of a UDP datagram.
///
/// # Errors
/// When etherparse refuses it (a payload over 65 507 bytes).
pub fn udp_frame(
    out: &mut Vec<u8>,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload: &[u8],
) -> Result<(), String> {
    out.clear();
    PacketBuilder::ethernet2(mac_of(*src.ip()), mac_of(*dst.ip()))
        .ipv4(src.ip().octets(), dst.ip().octets(), TTL)
        .udp(src.port(), dst.port())
        .write(out, payload)
        .map_err(|e| format!("building UDP datagram {src} > {dst}: {e}"))
}

/// Replaces `out` with an ICMP destination unreachable (type 3, `code`:
/// 1 host, 3 port; RFC 792) from `from` to `to`, quoting the IP packet of
/// the Ethernet frame `offending` (its IP header and the start of its
/// payload, as Linux quotes it).
///
/// # Errors
/// When `offending` is not an Ethernet frame (shorter than its header).
pub fn icmp_unreachable_frame(
    out: &mut Vec<u8>,
    from: Ipv4Addr,
    to: Ipv4Addr,
    code: u8,
    offending: &[u8],
) -> Result<(), String> {
    let ip = offending
        .get(14..)
        .ok_or("ICMP error: the quoted frame is shorter than an Ethernet header")?;
    let quote = &ip[..ip.len().min(ICMP_QUOTE_MAX)];
    out.clear();
    PacketBuilder::ethernet2(mac_of(from), mac_of(to))
        .ipv4(from.octets(), to.octets(), TTL)
        .icmpv4_raw(3, code, [0; 4])
        .write(out, quote)
        .map_err(|e| format!("building ICMP unreachable {from} > {to}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn addr(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    /// Re-parses `frame` and checks the IPv4 header checksum and the
    /// transport checksum against what etherparse computes from scratch.
    fn assert_checksums_valid(frame: &[u8]) {
        let p = SlicedPacket::from_ethernet(frame).unwrap();
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            panic!("not IPv4")
        };
        let h = ip.header().to_header();
        assert_eq!(h.header_checksum, h.calc_header_checksum(), "IPv4 checksum");
        match p.transport.unwrap() {
            TransportSlice::Tcp(t) => {
                let want = t.to_header().calc_checksum_ipv4(&h, t.payload()).unwrap();
                assert_eq!(t.checksum(), want, "TCP checksum");
            }
            TransportSlice::Udp(u) => {
                let want = u.to_header().calc_checksum_ipv4(&h, u.payload()).unwrap();
                assert_eq!(u.checksum(), want, "UDP checksum");
            }
            TransportSlice::Icmpv4(i) => {
                let want = i.icmp_type().calc_checksum(i.payload());
                assert_eq!(i.checksum(), want, "ICMP checksum");
            }
            other => panic!("unexpected transport {other:?}"),
        }
    }

    #[test]
    fn syn_and_full_data_segment_sizes_and_checksums() {
        let mut f = Vec::new();
        let syn = TcpSeg {
            src: addr("198.18.16.1:40000"),
            dst: addr("198.18.0.2:8080"),
            seq: 1,
            ack: 0,
            flags: flag::SYN,
            window: 64240,
            ts: Some((100, 0)),
        };
        tcp_frame(&mut f, &syn, &[]).unwrap();
        assert_eq!(f.len(), 74, "Linux SYN: 14 + 20 + 40");
        assert_checksums_valid(&f);
        let data = TcpSeg {
            src: syn.dst,
            dst: syn.src,
            seq: 77,
            ack: 2,
            flags: flag::ACK,
            window: 509,
            ts: Some((5, 100)),
        };
        tcp_frame(&mut f, &data, &[0xab; MSS]).unwrap();
        assert_eq!(f.len(), 1514);
        assert_checksums_valid(&f);
        {
            let p = SlicedPacket::from_ethernet(&f).unwrap();
            let Some(TransportSlice::Tcp(t)) = p.transport else {
                panic!()
            };
            assert!(t.ack() && !t.syn() && !t.psh());
            assert_eq!((t.sequence_number(), t.acknowledgment_number()), (77, 2));
        }
        let rst = TcpSeg {
            flags: flag::RST | flag::ACK,
            ts: None,
            ..data
        };
        tcp_frame(&mut f, &rst, &[]).unwrap();
        assert_eq!(f.len(), 54);
        assert_checksums_valid(&f);
    }

    #[test]
    fn udp_and_icmp_quote_checksums() {
        let mut q = Vec::new();
        let (c, s) = (addr("198.18.16.9:33000"), addr("198.18.0.54:53"));
        udp_frame(&mut q, c, s, b"\x12\x34query").unwrap();
        assert_checksums_valid(&q);
        let mut e = Vec::new();
        icmp_unreachable_frame(&mut e, *s.ip(), *c.ip(), 3, &q).unwrap();
        assert_checksums_valid(&e);
        // The quote is the whole offending IP packet (it is short).
        assert_eq!(&e[14 + 20 + 8..], &q[14..]);
        assert!(icmp_unreachable_frame(&mut e, *s.ip(), *c.ip(), 3, &q[..10]).is_err());
    }
}
