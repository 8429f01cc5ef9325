//! ICMP errors that end a dial: destination unreachable for ICMPv4
//! (RFC 792, codes extended by RFC 1122/1812) and ICMPv6 (RFC 4443 3.1).
//! The quoted datagram (IP header plus at least 8 bytes of the transport
//! header) names the flow that caused the error.

use std::net::{IpAddr, SocketAddr};

use etherparse::{LaxNetSlice, LaxSlicedPacket};

use super::IPPROTO_UDP;

/// What the unreachable message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// ICMPv4 code 0 / ICMPv6 code 0: no route to the network.
    Net,
    /// ICMPv4 code 1 / ICMPv6 code 3: host (address) unreachable.
    Host,
    /// ICMPv4 code 3 / ICMPv6 code 4: nothing listens on the port.
    Port,
    /// ICMPv4 codes 9, 10, 13 / ICMPv6 code 1: administratively prohibited.
    Prohibited,
    /// Any other code.
    Other(u8),
}

impl Unreachable {
    /// Words as tcpdump prints them.
    pub fn text(self) -> String {
        match self {
            Unreachable::Net => "net unreachable".into(),
            Unreachable::Host => "host unreachable".into(),
            Unreachable::Port => "port unreachable".into(),
            Unreachable::Prohibited => "administratively prohibited".into(),
            Unreachable::Other(c) => format!("unreachable code {c}"),
        }
    }
}

/// The flow an ICMP error quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoted {
    /// IP protocol of the quoted datagram.
    pub proto: u8,
    /// Its source (our side, for errors about our packets).
    pub src: SocketAddr,
    /// Its destination.
    pub dst: SocketAddr,
    /// DNS id when the quote is a UDP datagram long enough to hold one.
    pub dns_id: Option<u16>,
}

/// A destination-unreachable error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpError {
    /// Which message.
    pub kind: Unreachable,
    /// The quoted datagram's flow, when readable.
    pub quoted: Option<Quoted>,
    /// ICMPv6 (RFC 4443) rather than ICMPv4 (RFC 792).
    pub v6: bool,
    /// The raw code (ICMPv4 type 3 / ICMPv6 type 1).
    pub code: u8,
}

impl IcmpError {
    /// `ICMP type 3 code 13` / `ICMPv6 type 1 code 1`, as the RFCs number them.
    pub fn type_code(&self) -> String {
        if self.v6 {
            format!("ICMPv6 type 1 code {}", self.code)
        } else {
            format!("ICMP type 3 code {}", self.code)
        }
    }
}

/// Parses an ICMPv4 message; `None` unless type 3 (destination unreachable).
pub fn from_v4(icmp_type: u8, code: u8, quoted: &[u8]) -> Option<IcmpError> {
    if icmp_type != 3 {
        return None;
    }
    let kind = match code {
        0 => Unreachable::Net,
        1 => Unreachable::Host,
        3 => Unreachable::Port,
        9 | 10 | 13 => Unreachable::Prohibited,
        c => Unreachable::Other(c),
    };
    Some(IcmpError {
        kind,
        quoted: parse_quote(quoted),
        v6: false,
        code,
    })
}

/// Parses an ICMPv6 message; `None` unless type 1 (destination unreachable).
pub fn from_v6(icmp_type: u8, code: u8, quoted: &[u8]) -> Option<IcmpError> {
    if icmp_type != 1 {
        return None;
    }
    let kind = match code {
        0 => Unreachable::Net,
        1 => Unreachable::Prohibited,
        3 => Unreachable::Host,
        4 => Unreachable::Port,
        c => Unreachable::Other(c),
    };
    Some(IcmpError {
        kind,
        quoted: parse_quote(quoted),
        v6: true,
        code,
    })
}

fn parse_quote(bytes: &[u8]) -> Option<Quoted> {
    // Lax: the quote is cut after a few transport bytes by design.
    let p = LaxSlicedPacket::from_ip(bytes).ok()?;
    let (src, dst, payload) = match p.net? {
        LaxNetSlice::Ipv4(s) => (
            IpAddr::V4(s.header().source_addr()),
            IpAddr::V4(s.header().destination_addr()),
            s.payload().clone(),
        ),
        LaxNetSlice::Ipv6(s) => (
            IpAddr::V6(s.header().source_addr()),
            IpAddr::V6(s.header().destination_addr()),
            s.payload().clone(),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    let proto = payload.ip_number.0;
    let t = payload.payload;
    let port =
        |at: usize| -> Option<u16> { Some(u16::from_be_bytes([*t.get(at)?, *t.get(at + 1)?])) };
    let (sport, dport) = (port(0)?, port(2)?);
    let dns_id = if proto == IPPROTO_UDP { port(8) } else { None };
    Some(Quoted {
        proto,
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        dns_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    #[test]
    fn port_unreachable_quotes_udp_flow_and_dns_id() {
        let mut quoted = Vec::new();
        PacketBuilder::ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .udp(39283, 53)
            .write(&mut quoted, &[0xbe, 0xef, 1, 0])
            .unwrap();
        let e = from_v4(3, 3, &quoted).unwrap();
        assert_eq!(e.kind, Unreachable::Port);
        let q = e.quoted.unwrap();
        assert_eq!(q.dst, "198.18.0.2:53".parse().unwrap());
        assert_eq!(q.src.port(), 39283);
        assert_eq!(q.dns_id, Some(0xbeef));
        assert_eq!(from_v4(0, 0, &quoted), None);
    }

    #[test]
    fn truncated_quotes_do_not_panic() {
        for n in 0..30 {
            let bytes = vec![0x45u8; n];
            let _ = from_v4(3, 1, &bytes);
            let _ = from_v6(1, 0, &bytes);
        }
        let e = from_v6(1, 4, &[0x60, 0, 0]).unwrap();
        assert_eq!((e.kind, e.quoted), (Unreachable::Port, None));
    }
}
