//! Credential headers in one captured frame: find the TCP payload (IPv4 or
//! IPv6, over Ethernet or raw IP), overwrite the header values
//! ([`super::http::overwrite_secret_headers`]) and update the TCP checksum.

use super::http::overwrite_secret_headers;

/// How a frame starts, from its interface's link type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// LINKTYPE_ETHERNET: a 14-byte header, maybe 802.1Q/802.1ad tags.
    Ethernet,
    /// LINKTYPE_RAW: the IP header first.
    RawIp,
}

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const IPPROTO_TCP: u8 = 6;

/// Overwrites the credential header values in `frame`'s TCP payload and
/// fixes its TCP checksum; returns how many values were overwritten (0
/// for anything that is not an unfragmented TCP segment).
///
/// The checksum is updated incrementally (RFC 1624, eqn. 3: `HC' = ~(~HC +
/// ~m + m')` over the changed 16-bit words), not recomputed: a checksum
/// that was right stays right, and one that was not (an outgoing segment
/// captured before the NIC or veth filled it in, CHECKSUM_PARTIAL) stays
/// as wrong as it was, so the overwrite never changes what a reader of the
/// capture concludes from it. It also works on a frame cut by the snap
/// length, whose payload is not all there.
pub fn redact_frame(link: Link, frame: &mut [u8]) -> u64 {
    let Some((tcp, end)) = tcp_segment(link, frame) else {
        return 0;
    };
    let Some(&offset_byte) = frame.get(tcp + 12) else {
        return 0;
    };
    let payload = tcp + usize::from(offset_byte >> 4) * 4;
    if payload + 1 > end || tcp + 18 > end {
        return 0;
    }
    let old = ones_sum(&frame[payload..end]);
    let n = overwrite_secret_headers(&mut frame[payload..end]);
    if n > 0 {
        let new = ones_sum(&frame[payload..end]);
        let hc = u16::from_be_bytes([frame[tcp + 16], frame[tcp + 17]]);
        let sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
        frame[tcp + 16..tcp + 18].copy_from_slice(&(!fold(sum)).to_be_bytes());
    }
    n
}

/// Where the TCP header starts and where the segment ends in `frame`.
fn tcp_segment(link: Link, frame: &[u8]) -> Option<(usize, usize)> {
    let ip = match link {
        Link::RawIp => 0,
        Link::Ethernet => {
            let mut at = 12;
            let mut ethertype = be16(frame, at)?;
            while ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD {
                at += 4;
                ethertype = be16(frame, at)?;
            }
            if ethertype != ETH_P_IP && ethertype != ETH_P_IPV6 {
                return None;
            }
            at + 2
        }
    };
    match frame.get(ip)? >> 4 {
        4 => ipv4(frame, ip),
        6 => ipv6(frame, ip),
        _ => None,
    }
}

fn ipv4(frame: &[u8], ip: usize) -> Option<(usize, usize)> {
    let ihl = usize::from(frame.get(ip)? & 0x0f) * 4;
    let total = usize::from(be16(frame, ip + 2)?);
    let frag = be16(frame, ip + 6)?;
    // A fragment's checksum covers the reassembled segment: leave it.
    if frame.get(ip + 9) != Some(&IPPROTO_TCP) || frag & 0x3fff != 0 || ihl < 20 {
        return None;
    }
    // A GSO super-packet over 64 KiB carries total length 0 (BIG TCP).
    let end = if total == 0 { frame.len() } else { ip + total };
    Some((ip + ihl, end.min(frame.len())))
}

fn ipv6(frame: &[u8], ip: usize) -> Option<(usize, usize)> {
    let len = usize::from(be16(frame, ip + 4)?);
    let end = if len == 0 {
        frame.len()
    } else {
        (ip + 40 + len).min(frame.len())
    };
    let mut next = *frame.get(ip + 6)?;
    let mut at = ip + 40;
    loop {
        match next {
            IPPROTO_TCP => return Some((at, end)),
            // Hop-by-hop, routing, destination options (RFC 8200 4.3-4.6).
            0 | 43 | 60 => {
                next = *frame.get(at)?;
                at += (usize::from(*frame.get(at + 1)?) + 1) * 8;
            }
            // Fragments (44) and everything else: not a whole TCP segment here.
            _ => return None,
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The ones' complement sum of `b` as 16-bit big-endian words (an odd
/// last byte padded with zero), RFC 1071.
fn ones_sum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = b.chunks_exact(2);
    for w in &mut words {
        sum = fold_once(sum + u32::from(u16::from_be_bytes([w[0], w[1]])));
    }
    if let [last] = words.remainder() {
        sum = fold_once(sum + (u32::from(*last) << 8));
    }
    fold(sum)
}

fn fold_once(s: u32) -> u32 {
    (s & 0xffff) + (s >> 16)
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = fold_once(s);
    }
    s as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    const REQUEST: &[u8] = b"GET http://198.18.0.2:8080/lab.test/greet/@v/list HTTP/1.1\r\n\
Host: 198.18.0.2:8080\r\nUser-Agent: Go-http-client/1.1\r\n\
Proxy-Authorization: Basic dTpwdw==\r\nAuthorization: Basic dXNlcjpzM2NyZXQ=\r\n\r\n";

    fn redacted_request() -> Vec<u8> {
        let mut r = REQUEST.to_vec();
        overwrite_secret_headers(&mut r);
        r
    }

    /// Ethernet + IPv4 or IPv6 + TCP around `payload`, with etherparse's
    /// own (correct) checksums.
    fn frame(v6: bool, payload: &[u8]) -> Vec<u8> {
        let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let ip = if v6 {
            eth.ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
        } else {
            eth.ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        };
        let b = ip.tcp(40000, 8080, 1234, 64240).ack(99).psh();
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn the_overwrite_keeps_the_tcp_checksum_valid_on_ipv4_and_ipv6() {
        for v6 in [false, true] {
            let mut f = frame(v6, REQUEST);
            assert_eq!(redact_frame(Link::Ethernet, &mut f), 2, "v6={v6}");
            // Byte for byte what etherparse builds around the redacted
            // payload, checksum included.
            assert_eq!(f, frame(v6, &redacted_request()), "v6={v6}");
        }
    }

    #[test]
    fn raw_ip_and_vlan_tagged_frames_are_found() {
        let mut raw = frame(false, REQUEST)[14..].to_vec();
        assert_eq!(redact_frame(Link::RawIp, &mut raw), 2);
        assert_eq!(raw, frame(false, &redacted_request())[14..]);

        let mut tagged = frame(true, REQUEST);
        tagged.splice(12..12, [0x81, 0x00, 0x00, 0x05]);
        assert_eq!(redact_frame(Link::Ethernet, &mut tagged), 2);
        let mut want = frame(true, &redacted_request());
        want.splice(12..12, [0x81, 0x00, 0x00, 0x05]);
        assert_eq!(tagged, want);
    }

    #[test]
    fn a_wrong_checksum_stays_exactly_as_wrong() {
        let mut f = frame(false, REQUEST);
        let mut want = frame(false, &redacted_request());
        // 14 Ethernet + 20 IPv4 + 16: the TCP checksum, off by 0x1234 in
        // ones' complement arithmetic (the checksum's own).
        for g in [&mut f, &mut want] {
            let c = u16::from_be_bytes([g[50], g[51]]);
            let wrong = fold(u32::from(c) + 0x1234);
            g[50..52].copy_from_slice(&wrong.to_be_bytes());
        }
        redact_frame(Link::Ethernet, &mut f);
        assert_eq!(f, want);
    }

    #[test]
    fn non_tcp_fragments_and_short_frames_are_left_alone() {
        let udp = {
            let mut out = Vec::new();
            PacketBuilder::ethernet2([0; 6], [0; 6])
                .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
                .udp(1, 2)
                .write(&mut out, REQUEST)
                .unwrap();
            out
        };
        let mut fragment = frame(false, REQUEST);
        fragment[14 + 6] = 0x20; // More Fragments
        for f in [udp, fragment, frame(false, REQUEST)[..40].to_vec(), vec![]] {
            let mut g = f.clone();
            assert_eq!(redact_frame(Link::Ethernet, &mut g), 0);
            assert_eq!(g, f);
        }
    }
}
