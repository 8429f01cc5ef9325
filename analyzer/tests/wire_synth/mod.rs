//! Small synthetic captures for the capture-only tests: raw IPv4 packets
//! (etherparse's PacketBuilder, with the IPv4 id chosen so a copy and a
//! retransmission differ as they do on the wire) in a classic pcap file
//! (LINKTYPE_RAW, µs timestamps), analysed in memory.
#![allow(dead_code)]

use etherparse::{IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header, PacketBuilder};
use gotrace_analyzer::capture::CaptureReader;
use gotrace_analyzer::Report;
use simple_dns::{Name, Packet, Question, CLASS, QCLASS, QTYPE, TYPE};

pub(crate) const CLIENT: [u8; 4] = [198, 18, 0, 1];
pub(crate) const SERVER: [u8; 4] = [198, 18, 0, 2];

/// One record: time (ms since the capture start), the IP packet, and how
/// many of its bytes were captured (`None`: all).
pub(crate) struct Rec {
    pub ms: f64,
    pub ip: Vec<u8>,
    pub caplen: Option<usize>,
}

pub(crate) fn rec(ms: f64, ip: Vec<u8>) -> Rec {
    Rec {
        ms,
        ip,
        caplen: None,
    }
}

/// A classic pcap file (LINKTYPE_RAW = 101) holding `recs`.
pub(crate) fn pcap(recs: &[Rec]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    let start_us: u64 = 1_763_000_000_000_000;
    for r in recs {
        let us = start_us + (r.ms * 1000.0).round() as u64;
        let cap = r.caplen.unwrap_or(r.ip.len()).min(r.ip.len());
        f.extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&(cap as u32).to_le_bytes());
        f.extend_from_slice(&(r.ip.len() as u32).to_le_bytes());
        f.extend_from_slice(&r.ip[..cap]);
    }
    f
}

/// The capture-only report of `recs`.
pub(crate) fn analyze(recs: &[Rec]) -> Report {
    let bytes = pcap(recs);
    gotrace_analyzer::analyze_capture(CaptureReader::new(&bytes[..]).expect("a pcap"))
}

/// A TCP segment from `src:sport` to `dst:dport` with IPv4 id `id`;
/// `flags` among "S", "SA", "RA", "R", "A", "PA", "FA".
pub(crate) fn tcp(
    (src, sport): ([u8; 4], u16),
    (dst, dport): ([u8; 4], u16),
    id: u16,
    flags: &str,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut h = Ipv4Header::new(0, 64, IpNumber::TCP, src, dst).expect("header");
    h.identification = id;
    h.dont_fragment = true;
    let mut b = PacketBuilder::ip(IpHeaders::Ipv4(h, Ipv4Extensions::default()))
        .tcp(sport, dport, seq, 64240);
    for c in flags.chars() {
        b = match c {
            'S' => b.syn(),
            'A' => b.ack(ack),
            'R' => b.rst(),
            'P' => b.psh(),
            'F' => b.fin(),
            other => panic!("flag {other}"),
        };
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).expect("tcp");
    v
}

/// A UDP datagram with IPv4 id `id`.
pub(crate) fn udp(
    (src, sport): ([u8; 4], u16),
    (dst, dport): ([u8; 4], u16),
    id: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut h = Ipv4Header::new(0, 64, IpNumber::UDP, src, dst).expect("header");
    h.identification = id;
    let mut v = Vec::new();
    PacketBuilder::ip(IpHeaders::Ipv4(h, Ipv4Extensions::default()))
        .udp(sport, dport)
        .write(&mut v, payload)
        .expect("udp");
    v
}

/// A DNS query for `name` (type A).
pub(crate) fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut p = Packet::new_query(id);
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(TYPE::A),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    p.build_bytes_vec().expect("query")
}

/// The answer to `query` with RCODE `rcode` and no records.
pub(crate) fn dns_answer(query: &[u8], rcode: u8) -> Vec<u8> {
    let mut r = query.to_vec();
    r[2] |= 0x80;
    r[3] = (r[3] & 0xf0) | rcode;
    r
}

/// Sets the UDP checksum of an IPv4 datagram (20-byte header) to `sum`.
pub(crate) fn set_udp_checksum(ip: &mut [u8], sum: u16) {
    ip[26..28].copy_from_slice(&sum.to_be_bytes());
}

/// ICMP destination unreachable (type 3, `code`) from `from` to `to`,
/// quoting `quoted` (RFC 792 asks for the IP header + 8 bytes; Linux
/// quotes as much as fits in 576 bytes).
pub(crate) fn icmp_unreachable(from: [u8; 4], to: [u8; 4], code: u8, quoted: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(from, to, 64)
        .icmpv4_raw(3, code, [0; 4])
        .write(&mut v, quoted)
        .expect("icmp");
    v
}
