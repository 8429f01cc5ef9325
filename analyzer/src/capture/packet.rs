//! Decoding one captured frame into the facts correlation needs: addresses,
//! ports, TCP flags (RFC 9293 3.1), DNS messages, ICMP errors, and what a
//! TCP payload starts with at the application layer (TLS records, an
//! HTTP/1.x head: [`AppSummary`]).
//!
//! Uses etherparse's lax slicing so snaplen-truncated packets still decode.
//! [`Packet::headers`] adds what capture-only analysis needs (checksum
//! verdict, TCP sequence numbers, a duplicate-copy fingerprint; see
//! [`Headers`]), and IP fragments decode as [`Payload::Fragment`].

mod headers;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use etherparse::err::packet::SliceError;
use etherparse::err::Layer;
use etherparse::{ip_number, EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

use super::reader::Frame;
use crate::proto::dns::{self, DnsMessage};
use crate::proto::http::{self, HttpHead};
use crate::proto::icmp::{self, IcmpError};
use crate::proto::tls::{self, TlsSummary};
use crate::proto::{IPPROTO_TCP, IPPROTO_UDP};
pub use headers::{Checksum, Fragment, Headers};

/// TCP control bits (RFC 9293 3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN: opens a connection.
    pub syn: bool,
    /// ACK.
    pub ack: bool,
    /// RST: refuses or aborts a connection.
    pub rst: bool,
    /// FIN: orderly close.
    pub fin: bool,
    /// PSH.
    pub psh: bool,
}

impl fmt::Display for TcpFlags {
    /// `[SYN]`, `[SYN, ACK]`, `[RST, ACK]`, as Wireshark lists them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::new();
        for (on, name) in [
            (self.syn, "SYN"),
            (self.fin, "FIN"),
            (self.rst, "RST"),
            (self.psh, "PSH"),
            (self.ack, "ACK"),
        ] {
            if on {
                v.push(name);
            }
        }
        write!(f, "[{}]", v.join(", "))
    }
}

/// What a decoded packet carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A TCP segment.
    Tcp {
        /// Control bits.
        flags: TcpFlags,
        /// Payload bytes on the wire (from the IP length; may exceed captured).
        len: usize,
        /// What the captured payload starts with (TLS records or an HTTP
        /// head), sniffed by content; boxed, and only the decoded summary is
        /// kept, never the payload.
        app: Option<Box<AppSummary>>,
        /// The captured payload of a segment to or from port 53, for the
        /// DNS-over-TCP decoder ([`crate::proto::dns_tcp`]: the messages
        /// of a stream need its bytes in order, not one segment's head).
        /// Empty for other ports and for segments without payload.
        dns_tcp: Box<[u8]>,
    },
    /// A UDP datagram; `dns` when either port is 53 and it parses.
    Udp {
        /// Decoded DNS message.
        dns: Option<DnsMessage>,
    },
    /// An ICMP/ICMPv6 destination unreachable.
    IcmpError(IcmpError),
    /// A piece of a fragmented IP datagram (its transport header, if any,
    /// is only in the first piece).
    Fragment(Fragment),
}

/// The application-layer start of one TCP segment's payload, sniffed by
/// content, not by port: TLS when it starts with a record header
/// ([`tls::looks_like_record`]: content type 20..=23, version 3.0..=3.4),
/// HTTP when it starts with a method and a space or with `HTTP/1.`
/// ([`http::looks_like_http`]). A segment that starts inside a record or a
/// body has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSummary {
    /// TLS records (RFC 8446 section 5).
    Tls(TlsSummary),
    /// An HTTP/1.x request or response head (RFC 9112).
    Http(HttpHead),
}

impl AppSummary {
    /// Decodes the start of `payload`; `None` when it is neither TLS nor
    /// HTTP/1.x (or too cut to say anything).
    pub fn sniff(payload: &[u8]) -> Option<AppSummary> {
        if tls::looks_like_record(payload) {
            return TlsSummary::parse(payload).map(AppSummary::Tls);
        }
        if http::looks_like_http(payload) {
            return HttpHead::parse(payload).map(AppSummary::Http);
        }
        None
    }

    /// `TLS Client Hello (SNI=proxy.lab.test)`, `TLS Alert (Level: Fatal,
    /// Description: Unknown CA)`, `HTTP/1.0 403 Forbidden`, `GET /x
    /// HTTP/1.1 (Host: proxy.lab.test)`.
    pub fn describe(&self) -> String {
        match self {
            AppSummary::Tls(t) => format!("TLS {}", t.describe()),
            AppSummary::Http(h) => h.describe(),
        }
    }
}

/// A decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// 1-based packet number in the file.
    pub number: u64,
    /// Capture time, CLOCK_REALTIME ns.
    pub realtime_ns: Option<i64>,
    /// Source address and port (port 0 for ICMP).
    pub src: SocketAddr,
    /// Destination address and port (port 0 for ICMP).
    pub dst: SocketAddr,
    /// Transport-level content.
    pub payload: Payload,
    /// Header facts for capture-only analysis (checksum, TCP sequence
    /// numbers, duplicate fingerprint).
    pub headers: Headers,
}

impl Packet {
    /// One line in tcpdump's style, e.g.
    /// `198.18.0.1:40122 > 198.18.0.2:8080 [SYN]`, or with a payload
    /// `198.18.0.2:8080 > 198.18.0.1:40122 [PSH, ACK] (177 bytes) HTTP/1.1
    /// 403 Forbidden` ([`AppSummary::describe`]).
    pub fn describe(&self) -> String {
        match &self.payload {
            Payload::Tcp {
                flags, len, app, ..
            } => {
                let data = if *len > 0 {
                    format!(" ({len} bytes)")
                } else {
                    String::new()
                };
                let app = app
                    .as_ref()
                    .map(|a| format!(" {}", a.describe()))
                    .unwrap_or_default();
                format!("{} > {} {flags}{data}{app}", self.src, self.dst)
            }
            Payload::Udp { dns: Some(m) } => {
                format!("{} > {} DNS {}", self.src, self.dst, m.summary())
            }
            Payload::Udp { dns: None } => format!("{} > {} UDP", self.src, self.dst),
            Payload::IcmpError(e) => {
                let q = match &e.quoted {
                    Some(q) => match q.proto {
                        IPPROTO_TCP => format!(" for TCP {} > {}", q.src, q.dst),
                        IPPROTO_UDP => format!(" for UDP {} > {}", q.src, q.dst),
                        // No ports: what follows the IP header is not TCP/UDP.
                        1 => format!(" for ICMP {} > {}", q.src.ip(), q.dst.ip()),
                        58 => format!(" for ICMPv6 {} > {}", q.src.ip(), q.dst.ip()),
                        n => format!(" for IP proto {n} {} > {}", q.src.ip(), q.dst.ip()),
                    },
                    None => String::new(),
                };
                format!(
                    "{} > {} ICMP {}{q}",
                    self.src.ip(),
                    self.dst.ip(),
                    e.kind.text()
                )
            }
            Payload::Fragment(f) => format!("{} > {} {}", self.src, self.dst, f.describe()),
        }
    }
}

/// Decodes a frame; `None` for unsupported link types and for packets that
/// are not TCP, UDP, an ICMP unreachable or an IP fragment (ARP, echo, ...).
pub fn decode(frame: &Frame<'_>) -> Option<Packet> {
    let net = super::link::network(frame.link_type, frame.data)?;
    let sliced = LaxSlicedPacket::from_ether_type(EtherType(net.ether_type), net.data);
    let (src_ip, dst_ip, ip_payload) = match sliced.net.as_ref()? {
        LaxNetSlice::Ipv4(s) => (
            IpAddr::V4(s.header().source_addr()),
            IpAddr::V4(s.header().destination_addr()),
            s.payload(),
        ),
        LaxNetSlice::Ipv6(s) => (
            IpAddr::V6(s.header().source_addr()),
            IpAddr::V6(s.header().destination_addr()),
            s.payload(),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    let ip_payload_len = ip_payload.payload.len();
    let net = sliced.net.as_ref()?;
    let mut headers = Headers {
        fingerprint: headers::fingerprint(net, ip_payload.payload),
        ..Headers::default()
    };
    if let Some((id, offset, more, len)) = headers::fragment_of(net, ip_payload) {
        let v6 = matches!(net, LaxNetSlice::Ipv6(_));
        let (sport, dport, f) = fragment(
            ip_payload.ip_number.0,
            ip_payload.payload,
            v6,
            id,
            offset,
            more,
            len,
        );
        return Some(Packet {
            number: frame.number,
            realtime_ns: frame.realtime_ns,
            src: SocketAddr::new(src_ip, sport),
            dst: SocketAddr::new(dst_ip, dport),
            payload: Payload::Fragment(f),
            headers,
        });
    }
    // A checksum covers the whole segment: not for snaplen-cut packets.
    let whole = !ip_payload.incomplete && !ip_payload.fragmented;
    let Some(transport) = sliced.transport.as_ref() else {
        // etherparse gives up on a TCP header cut inside its options
        // (snaplen); the fixed 20 bytes still hold the ports and flags.
        let cut_tcp = ip_payload.ip_number == ip_number::TCP
            && !ip_payload.fragmented
            && matches!(
                sliced.stop_err,
                Some((SliceError::Len(_), Layer::TcpHeader))
            );
        if !cut_tcp {
            return None;
        }
        let (sport, dport, payload, seq, ack) = cut_tcp_header(ip_payload.payload)?;
        headers.seq = seq;
        headers.ack = ack;
        return Some(Packet {
            number: frame.number,
            realtime_ns: frame.realtime_ns,
            src: SocketAddr::new(src_ip, sport),
            dst: SocketAddr::new(dst_ip, dport),
            payload,
            headers,
        });
    };
    let (sport, dport, payload) = match transport {
        TransportSlice::Tcp(t) => {
            let flags = TcpFlags {
                syn: t.syn(),
                ack: t.ack(),
                rst: t.rst(),
                fin: t.fin(),
                psh: t.psh(),
            };
            let len = ip_payload_len.saturating_sub(usize::from(t.data_offset()) * 4);
            let len = len.max(t.payload().len());
            let app = AppSummary::sniff(t.payload()).map(Box::new);
            let dns_tcp = if t.source_port() == dns::PORT || t.destination_port() == dns::PORT {
                t.payload().into()
            } else {
                Box::default()
            };
            headers.seq = t.sequence_number();
            headers.ack = t.acknowledgment_number();
            if whole && (flags.syn || flags.rst) {
                headers.checksum = headers::verify(src_ip, dst_ip, IPPROTO_TCP, ip_payload.payload);
            }
            (
                t.source_port(),
                t.destination_port(),
                Payload::Tcp {
                    flags,
                    len,
                    app,
                    dns_tcp,
                },
            )
        }
        TransportSlice::Udp(u) => {
            let (s, d) = (u.source_port(), u.destination_port());
            let dns = if s == dns::PORT || d == dns::PORT {
                DnsMessage::parse(u.payload())
            } else {
                None
            };
            if whole {
                headers.checksum = headers::verify(src_ip, dst_ip, IPPROTO_UDP, ip_payload.payload);
            }
            (s, d, Payload::Udp { dns })
        }
        TransportSlice::Icmpv4(i) => {
            let e = icmp::from_v4(i.type_u8(), i.code_u8(), i.payload())?;
            (0, 0, Payload::IcmpError(e))
        }
        TransportSlice::Icmpv6(i) => {
            let e = icmp::from_v6(i.type_u8(), i.code_u8(), i.payload())?;
            (0, 0, Payload::IcmpError(e))
        }
        TransportSlice::Igmp(_) => return None,
    };
    Some(Packet {
        number: frame.number,
        realtime_ns: frame.realtime_ns,
        src: SocketAddr::new(src_ip, sport),
        dst: SocketAddr::new(dst_ip, dport),
        payload,
        headers,
    })
}

/// Ports and the [`Fragment`] of one piece of a fragmented datagram of
/// protocol `proto` whose captured data is `b`. Only the first piece
/// (offset 0) holds the transport header: its ports (UDP and TCP both
/// start with them, RFC 768, RFC 9293 3.1) and, for DNS, the message head
/// after the 8-byte UDP header.
fn fragment(
    proto: u8,
    b: &[u8],
    v6: bool,
    id: u32,
    offset: u32,
    more: bool,
    len: u32,
) -> (u16, u16, Fragment) {
    let mut ports = (0, 0);
    let mut dns = None;
    if offset == 0 && (proto == IPPROTO_UDP || proto == IPPROTO_TCP) {
        if let Some(&[a, b2, c, d]) = b.get(..4) {
            ports = (u16::from_be_bytes([a, b2]), u16::from_be_bytes([c, d]));
        }
        if proto == IPPROTO_UDP && (ports.0 == dns::PORT || ports.1 == dns::PORT) {
            dns = b.get(8..).and_then(DnsMessage::parse).map(Box::new);
        }
    }
    let f = Fragment {
        proto,
        id,
        offset,
        len,
        more,
        v6,
        dns,
    };
    (ports.0, ports.1, f)
}

impl Fragment {
    /// `IPv6 fragment (offset 2896, 508 bytes, last, id 0x1)`, with the
    /// DNS head on a first piece that carries one.
    pub fn describe(&self) -> String {
        let dns = self
            .dns
            .as_ref()
            .map(|m| format!(" DNS {}", m.summary()))
            .unwrap_or_default();
        format!(
            "IPv{} fragment (offset {}, {} bytes, {}, id {:#x}){dns}",
            if self.v6 { 6 } else { 4 },
            self.offset,
            self.len,
            if self.more { "more follow" } else { "last" },
            self.id
        )
    }
}

/// Ports, flags, sequence and acknowledgment numbers from a TCP header
/// whose options were cut off: needs the fixed 20-byte header (RFC 9293
/// 3.1). The payload length is unknown (0).
fn cut_tcp_header(b: &[u8]) -> Option<(u16, u16, Payload, u32, u32)> {
    let h = b.get(..20)?;
    if h[12] >> 4 < 5 {
        return None;
    }
    let bits = h[13];
    let flags = TcpFlags {
        fin: bits & 0x01 != 0,
        syn: bits & 0x02 != 0,
        rst: bits & 0x04 != 0,
        psh: bits & 0x08 != 0,
        ack: bits & 0x10 != 0,
    };
    Some((
        u16::from_be_bytes([h[0], h[1]]),
        u16::from_be_bytes([h[2], h[3]]),
        Payload::Tcp {
            flags,
            len: 0,
            app: None,
            dns_tcp: Box::default(),
        },
        u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::link;
    use etherparse::PacketBuilder;

    fn frame(link_type: u32, data: &[u8]) -> Frame<'_> {
        Frame {
            number: 1,
            interface: 0,
            link_type,
            realtime_ns: Some(1),
            data,
            original_len: data.len() as u32,
            process_comment: &[],
        }
    }

    fn syn() -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .tcp(40122, 8080, 1, 64240)
            .syn()
            .write(&mut v, &[])
            .unwrap();
        v
    }

    #[test]
    fn ethernet_syn() {
        let v = syn();
        let p = decode(&frame(link::ETHERNET, &v)).unwrap();
        assert_eq!(p.describe(), "198.18.0.1:40122 > 198.18.0.2:8080 [SYN]");
    }

    #[test]
    fn cooked_and_raw_and_null() {
        let v = syn();
        let ip = &v[14..];
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(ip);
        assert!(decode(&frame(link::LINUX_SLL, &sll)).is_some());
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(ip);
        assert!(decode(&frame(link::LINUX_SLL2, &sll2)).is_some());
        assert!(decode(&frame(link::RAW, ip)).is_some());
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        assert!(decode(&frame(link::NULL, &null)).is_some());
        assert!(decode(&frame(147, ip)).is_none());
    }

    /// A SYN with MSS and window-scale options (header 28 bytes), as
    /// Linux sends them.
    fn syn_with_options() -> Vec<u8> {
        use etherparse::TcpOptionElement::{MaximumSegmentSize, Noop, WindowScale};
        let mut v = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .tcp(40122, 8080, 1, 64240)
            .syn()
            .options(&[MaximumSegmentSize(1460), Noop, WindowScale(7)])
            .unwrap()
            .write(&mut v, &[])
            .unwrap();
        v
    }

    /// An Ethernet frame with a PSH/ACK TCP segment carrying `payload`.
    fn data(src: ([u8; 4], u16), dst: ([u8; 4], u16), payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src.0, dst.0, 64)
            .tcp(src.1, dst.1, 1, 64240)
            .psh()
            .ack(1)
            .write(&mut v, payload)
            .unwrap();
        v
    }

    const CLIENT: ([u8; 4], u16) = ([198, 18, 0, 1], 40122);
    const SERVER: ([u8; 4], u16) = ([198, 18, 0, 2], 8080);

    fn describe_data(from: ([u8; 4], u16), to: ([u8; 4], u16), payload: &[u8]) -> String {
        let v = data(from, to, payload);
        decode(&frame(link::ETHERNET, &v)).unwrap().describe()
    }

    #[test]
    fn tcp_payloads_carry_tls_and_http_summaries() {
        let hello = include_bytes!("../../testdata/wire/go-tls13-client-hello.bin");
        assert_eq!(
            describe_data(CLIENT, SERVER, hello),
            "198.18.0.1:40122 > 198.18.0.2:8080 [PSH, ACK] (280 bytes) \
             TLS Client Hello (SNI=proxy.lab.test)"
        );
        let alert = include_bytes!("../../testdata/wire/go-tls12-client-alert.bin");
        assert_eq!(
            describe_data(CLIENT, SERVER, alert),
            "198.18.0.1:40122 > 198.18.0.2:8080 [PSH, ACK] (7 bytes) \
             TLS Alert (Level: Fatal, Description: Bad Certificate)"
        );
        assert_eq!(
            describe_data(SERVER, CLIENT, b"HTTP/1.0 403 Forbidden\r\n\r\n"),
            "198.18.0.2:8080 > 198.18.0.1:40122 [PSH, ACK] (26 bytes) HTTP/1.0 403 Forbidden"
        );
        let get = include_bytes!("../../testdata/wire/go-http-get.bin");
        assert!(describe_data(CLIENT, SERVER, get)
            .ends_with("(118 bytes) GET /github.com/x/y/@v/list HTTP/1.1 (Host: 127.0.0.1:18080)"));
        // Sniffed by content: the port says nothing, a segment that starts
        // inside a record or a body has no summary.
        let v = data(CLIENT, ([198, 18, 0, 2], 443), b"GET / HTTP/1.1\r\n\r\n");
        let p = decode(&frame(link::ETHERNET, &v)).unwrap();
        assert!(matches!(&p.payload, Payload::Tcp { app: Some(a), .. }
            if matches!(**a, AppSummary::Http(_))));
        for payload in [&hello[100..], b"forbidden by policy\n", b"\x16\x03"] {
            let v = data(SERVER, CLIENT, payload);
            let p = decode(&frame(link::ETHERNET, &v)).unwrap();
            assert!(matches!(p.payload, Payload::Tcp { app: None, .. }), "{p:?}");
        }
    }

    #[test]
    fn the_summary_keeps_packets_small() {
        // The index keeps up to 48 packets per flow: the summary is boxed so
        // it costs a packet one pointer (and the TCP variant stays smaller
        // than the UDP/DNS and ICMP ones).
        use std::mem::size_of;
        assert_eq!(size_of::<Option<Box<AppSummary>>>(), size_of::<usize>());
        assert!(size_of::<TcpFlags>() + 2 * size_of::<usize>() < size_of::<Option<DnsMessage>>());
    }

    /// A DNS response head (id 0x9f91, NOERROR, one question `a.test` A).
    fn dns_head() -> Vec<u8> {
        let mut m = vec![0x9f, 0x91, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        m
    }

    /// Raw IPv4 packet: `payload` as one piece of datagram `id`.
    fn v4_piece(id: u16, offset_units: u16, more: bool, payload: &[u8]) -> Vec<u8> {
        let mut h = etherparse::Ipv4Header::new(
            payload.len() as u16,
            64,
            ip_number::UDP,
            [198, 18, 0, 2],
            [198, 18, 0, 1],
        )
        .unwrap();
        h.identification = id;
        h.more_fragments = more;
        h.fragment_offset = etherparse::IpFragOffset::try_new(offset_units).unwrap();
        h.header_checksum = h.calc_header_checksum();
        let mut v = h.to_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn fragments_decode_with_offset_and_the_first_piece_dns_head() {
        let mut first = vec![0, 53, 0x9c, 0x40, 0x01, 0x00, 0, 0];
        first.extend_from_slice(&dns_head());
        first.resize(1480, 0);
        let p = decode(&frame(link::RAW, &v4_piece(7, 0, true, &first))).unwrap();
        let Payload::Fragment(f) = &p.payload else {
            panic!("{p:?}")
        };
        assert_eq!(
            (f.id, f.offset, f.len, f.more, f.v6),
            (7, 0, 1480, true, false)
        );
        assert_eq!(
            f.dns.as_ref().map(|m| (m.id, m.response)),
            Some((0x9f91, true))
        );
        assert_eq!(p.src, "198.18.0.2:53".parse().unwrap());
        assert_eq!(p.headers.checksum, Checksum::Unverified);
        let last = decode(&frame(link::RAW, &v4_piece(7, 185, false, &[1; 100]))).unwrap();
        let Payload::Fragment(f) = &last.payload else {
            panic!("{last:?}")
        };
        assert_eq!(
            (f.offset, f.len, f.more, f.dns.is_none()),
            (1480, 100, false, true)
        );
        assert_eq!(last.src.port(), 0, "only the first piece has ports");
        assert_eq!(
            last.describe(),
            "198.18.0.2:0 > 198.18.0.1:0 IPv4 fragment (offset 1480, 100 bytes, last, id 0x7)"
        );
    }

    #[test]
    fn udp_checksum_verdict_on_decoded_packets() {
        let mut v = Vec::new();
        PacketBuilder::ipv4([198, 18, 0, 2], [198, 18, 0, 1], 64)
            .udp(53, 40000)
            .write(&mut v, &dns_head())
            .unwrap();
        let p = decode(&frame(link::RAW, &v)).unwrap();
        assert_eq!(p.headers.checksum, Checksum::Good);
        v[26..28].copy_from_slice(&0x1234u16.to_be_bytes());
        let p = decode(&frame(link::RAW, &v)).unwrap();
        assert!(p.headers.checksum.is_bad(), "{:?}", p.headers.checksum);
        // Cut by the snaplen: the sum cannot be checked.
        let p = decode(&frame(link::RAW, &v[..v.len() - 3])).unwrap();
        assert_eq!(p.headers.checksum, Checksum::Unverified);
    }

    #[test]
    fn fingerprint_ignores_ttl_but_not_the_ip_id_and_seq_is_read() {
        let v = syn();
        let a = decode(&frame(link::ETHERNET, &v)).unwrap();
        assert_eq!(a.headers.seq, 1);
        assert_eq!(a.headers.checksum, Checksum::Good);
        let mut ttl = v.clone();
        ttl[14 + 8] = 63;
        let b = decode(&frame(link::ETHERNET, &ttl)).unwrap();
        assert_eq!(a.headers.fingerprint, b.headers.fingerprint);
        let mut id = v.clone();
        id[14 + 5] ^= 1;
        let c = decode(&frame(link::ETHERNET, &id)).unwrap();
        assert_ne!(a.headers.fingerprint, c.headers.fingerprint);
    }

    #[test]
    fn every_prefix_decodes_without_panic() {
        let hello = include_bytes!("../../testdata/wire/go-tls13-client-hello.bin");
        for v in [syn(), syn_with_options(), data(CLIENT, SERVER, hello)] {
            for n in 0..v.len() {
                for lt in [0, 1, 101, 113, 276] {
                    let _ = decode(&frame(lt, &v[..n]));
                }
            }
        }
    }

    #[test]
    fn snaplen_cut_inside_the_tcp_options_is_still_a_syn() {
        let v = syn_with_options();
        // Ethernet 14 + IPv4 20 + TCP 20 fixed + 8 of options.
        assert_eq!(v.len(), 14 + 20 + 28);
        assert_eq!(v[14 + 20 + 12] >> 4, 7, "data offset covers the options");
        let cut = &v[..v.len() - 2];
        // etherparse alone gives up on the TCP header...
        let lax = LaxSlicedPacket::from_ethernet(cut).unwrap();
        assert!(lax.transport.is_none());
        // ...but the fixed header still names the ports and the flags.
        let p = decode(&frame(link::ETHERNET, cut)).unwrap();
        assert_eq!(p.describe(), "198.18.0.1:40122 > 198.18.0.2:8080 [SYN]");
        // Cut inside the fixed header: nothing trustworthy is left.
        assert!(decode(&frame(link::ETHERNET, &v[..14 + 20 + 19])).is_none());
        // The whole packet decodes as before.
        let whole = decode(&frame(link::ETHERNET, &v)).unwrap();
        assert_eq!(whole.describe(), p.describe());
    }
}
