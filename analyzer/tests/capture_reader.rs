//! The capture reader on hand-made pcapng: several interfaces with
//! different link types and timestamp resolutions, Simple Packet Blocks,
//! unsupported link types, and classic pcap; and every supported link type
//! from a file through `decode`.

use std::borrow::Cow;
use std::time::Duration;

use etherparse::PacketBuilder;
use gotrace_analyzer::capture::{decode, CaptureReader};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::simple_packet::SimplePacketBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

fn ip_syn() -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .tcp(1234, 80, 1, 100)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    v
}

fn epb(iface: u32, raw_ts: u64, data: &[u8]) -> EnhancedPacketBlock<'_> {
    EnhancedPacketBlock {
        interface_id: iface,
        // pcap-file stores the Duration's ns as the raw timestamp units.
        timestamp: Duration::from_nanos(raw_ts),
        original_len: data.len() as u32,
        data: Cow::Borrowed(data),
        options: vec![],
    }
}

#[test]
fn interfaces_link_types_resolutions_and_spb() {
    let ip = ip_syn();
    let mut eth = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
        .udp(1, 2)
        .write(&mut eth, b"hi")
        .unwrap();
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    // Interface 0: RAW, no if_tsresol (microseconds by default).
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::RAW,
        snaplen: 0,
        options: vec![],
    })
    .unwrap();
    // Interface 1: Ethernet, nanoseconds.
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: 0,
        options: vec![InterfaceDescriptionOption::IfTsResol(9)],
    })
    .unwrap();
    // Interface 2: a link type gotrace does not decode (IEEE 802.11 = 105).
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::from(105u32),
        snaplen: 0,
        options: vec![],
    })
    .unwrap();
    w.write_pcapng_block(epb(0, 1_500_000, &ip)).unwrap();
    w.write_pcapng_block(epb(1, 7, &eth)).unwrap();
    w.write_pcapng_block(epb(2, 7, &ip)).unwrap();
    w.write_pcapng_block(epb(2, 8, &ip)).unwrap();
    w.write_pcapng_block(SimplePacketBlock {
        original_len: ip.len() as u32,
        data: Cow::Borrowed(&ip),
    })
    .unwrap();
    let bytes = w.into_inner();

    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    let mut seen = Vec::new();
    while let Some(f) = r.next_frame() {
        seen.push((
            f.number,
            f.interface,
            f.link_type,
            f.realtime_ns,
            decode(&f).is_some(),
        ));
    }
    assert_eq!(
        seen,
        vec![
            (1, 0, 101, Some(1_500_000_000), true),
            (2, 1, 1, Some(7), true),
            (3, 2, 105, Some(7000), false),
            (4, 2, 105, Some(8000), false),
            (5, 0, 101, None, true),
        ]
    );
    let w = r.take_warnings();
    assert_eq!(w.len(), 1, "one warning per unsupported interface: {w:?}");
    assert!(w[0].contains("link type 105"));
}

#[test]
fn classic_pcap_with_fcs_bits_in_link_type() {
    let ip = ip_syn();
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&(0x4000_0000u32 | 101).to_le_bytes());
    f.extend_from_slice(&3u32.to_le_bytes());
    f.extend_from_slice(&250u32.to_le_bytes());
    f.extend_from_slice(&(ip.len() as u32).to_le_bytes());
    f.extend_from_slice(&(ip.len() as u32).to_le_bytes());
    f.extend_from_slice(&ip);
    let mut r = CaptureReader::new(&f[..]).unwrap();
    let fr = r.next_frame().unwrap();
    assert_eq!(
        (fr.number, fr.link_type, fr.realtime_ns),
        (1, 101, Some(3_000_250_000))
    );
    assert!(decode(&fr).is_some());
    assert!(r.next_frame().is_none());
    // Record length beyond any sane size: corruption, not an allocation.
    let mut bad = f[..24].to_vec();
    bad.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
    let mut r = CaptureReader::new(&bad[..]).unwrap();
    assert!(r.next_frame().is_none());
    assert!(r.warnings()[0].contains("corrupt"), "{:?}", r.warnings());
}

#[test]
fn huge_block_length_is_corruption() {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::RAW,
        snaplen: 0,
        options: vec![],
    })
    .unwrap();
    let mut bytes = w.into_inner();
    let at = bytes.len();
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&0xfffffff0u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 32]);
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    assert!(r.next_frame().is_none());
    assert!(
        r.warnings()[0].contains(&format!("byte offset {at}")),
        "{:?}",
        r.warnings()
    );
}

/// A UDP datagram 198.18.0.1:5353 > 198.18.0.2:53 (IPv4) or
/// [2001:db8::1]:5353 > [2001:db8::2]:53 (IPv6), from the IP header on.
fn ip_udp(v6: bool) -> Vec<u8> {
    let mut v = Vec::new();
    let b = if v6 {
        PacketBuilder::ipv6(
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
    } else {
        PacketBuilder::ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
    };
    b.udp(5353, 53).write(&mut v, b"not dns").unwrap();
    v
}

/// A classic little-endian pcap of `link_type` holding `frames`.
fn pcap_of(link_type: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    f.extend_from_slice(&[2, 0, 4, 0]);
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&link_type.to_le_bytes());
    for d in frames {
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&(d.len() as u32).to_le_bytes());
        f.extend_from_slice(&(d.len() as u32).to_le_bytes());
        f.extend_from_slice(d);
    }
    f
}

/// Every frame of a file through the reader and `decode`: the decoded
/// lines (or "-") and the warnings.
fn decoded(file: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut r = CaptureReader::new(file).unwrap();
    let mut lines = Vec::new();
    while let Some(f) = r.next_frame() {
        lines.push(decode(&f).map_or("-".into(), |p| p.describe()));
    }
    (lines, r.take_warnings())
}

const V4_LINE: &str = "198.18.0.1:5353 > 198.18.0.2:53 UDP";
const V6_LINE: &str = "[2001:db8::1]:5353 > [2001:db8::2]:53 UDP";

fn with_prefix(prefix: &[u8], v6: bool) -> Vec<u8> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(&ip_udp(v6));
    v
}

#[test]
fn every_supported_link_type_through_a_file() {
    let mac = [0xaa; 12];
    let eth = |tags: &[u8], ethertype: [u8; 2], v6| {
        let mut p = mac.to_vec();
        p.extend_from_slice(tags);
        p.extend_from_slice(&ethertype);
        with_prefix(&p, v6)
    };
    // NFLOG: nfgenmsg, a packet-header TLV, then the payload TLV (host order).
    let nflog = |v6: bool| {
        let ip = ip_udp(v6);
        let mut m = vec![if v6 { 10 } else { 2 }, 0, 0, 7];
        m.extend_from_slice(&[8, 0, 1, 0, 0x08, 0x00, 3, 0]);
        m.extend_from_slice(&((4 + ip.len()) as u16).to_le_bytes());
        m.extend_from_slice(&9u16.to_le_bytes());
        m.extend_from_slice(&ip);
        m
    };
    let sll = |proto: [u8; 2], v6| {
        let mut p = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        p.extend_from_slice(&proto);
        with_prefix(&p, v6)
    };
    let sll2 = |proto: [u8; 2], v6| {
        let mut p = proto.to_vec();
        p.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
        with_prefix(&p, v6)
    };
    // (link type, frames with whether they carry IPv6).
    type Frames = Vec<(Vec<u8>, bool)>;
    let cases: Vec<(u32, Frames)> = vec![
        (
            1,
            vec![
                (eth(&[], [0x08, 0x00], false), false),
                (eth(&[0x81, 0x00, 0x00, 0x0a], [0x86, 0xdd], true), true),
                (
                    eth(
                        &[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0a],
                        [0x08, 0x00],
                        false,
                    ),
                    false,
                ),
            ],
        ),
        (
            113,
            vec![
                (sll([0x08, 0x00], false), false),
                (sll([0x86, 0xdd], true), true),
            ],
        ),
        (
            276,
            vec![
                (sll2([0x08, 0x00], false), false),
                (sll2([0x86, 0xdd], true), true),
            ],
        ),
        (101, vec![(ip_udp(false), false), (ip_udp(true), true)]),
        (12, vec![(ip_udp(false), false), (ip_udp(true), true)]),
        (14, vec![(ip_udp(false), false), (ip_udp(true), true)]),
        (228, vec![(ip_udp(false), false)]),
        (229, vec![(ip_udp(true), true)]),
        (
            0,
            vec![
                (with_prefix(&2u32.to_le_bytes(), false), false),
                (with_prefix(&24u32.to_le_bytes(), true), true),
                (with_prefix(&28u32.to_be_bytes(), true), true),
                (with_prefix(&30u32.to_le_bytes(), true), true),
            ],
        ),
        (
            108,
            vec![
                (with_prefix(&2u32.to_be_bytes(), false), false),
                (with_prefix(&24u32.to_be_bytes(), true), true),
            ],
        ),
        (239, vec![(nflog(false), false), (nflog(true), true)]),
    ];
    for (lt, frames) in cases {
        let bytes: Vec<Vec<u8>> = frames.iter().map(|(f, _)| f.clone()).collect();
        let (lines, w) = decoded(&pcap_of(lt, &bytes));
        let want: Vec<&str> = frames
            .iter()
            .map(|(_, v6)| if *v6 { V6_LINE } else { V4_LINE })
            .collect();
        assert_eq!(lines, want, "link type {lt}");
        assert!(w.is_empty(), "link type {lt}: {w:?}");
    }
}

#[test]
fn unsupported_link_type_is_one_warning_not_an_error() {
    let frames = vec![ip_udp(false); 3];
    let (lines, w) = decoded(&pcap_of(147, &frames));
    assert_eq!(lines, vec!["-"; 3]);
    assert_eq!(
        w,
        vec!["capture interface 0 has link type 147 (LINKTYPE_USER0), which gotrace cannot decode; its packets are skipped"]
    );
}

#[test]
fn packets_shorter_than_their_headers_are_counted_not_decoded() {
    let whole = with_prefix(&[0xaa; 12], false);
    let mut eth = whole[..12].to_vec();
    eth.extend_from_slice(&[0x08, 0x00]);
    eth.extend_from_slice(&ip_udp(false));
    let frames = vec![
        Vec::new(),
        eth[..10].to_vec(),      // inside the Ethernet header
        eth[..14 + 12].to_vec(), // inside the IPv4 header
        eth.clone(),
    ];
    let (lines, w) = decoded(&pcap_of(1, &frames));
    assert_eq!(lines, vec!["-", "-", "-", V4_LINE]);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn the_pid_comment_is_found_among_a_packet_s_options() {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
    let ip = ip_syn();
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: DataLink::RAW,
        snaplen: 0,
        options: vec![],
    })
    .unwrap();
    // A bare packet; one with a flags word, an unrelated comment and then
    // ptcpdump's; one whose only comment is not a process's.
    w.write_pcapng_block(epb(0, 1, &ip)).unwrap();
    let mut tagged = epb(0, 2, &ip[..ip.len() - 1]);
    tagged.options = vec![
        EnhancedPacketOption::Flags(2),
        EnhancedPacketOption::Comment("retransmitted".into()),
        EnhancedPacketOption::Comment("PID: 42\nCmd: go\nArgs: go mod tidy".into()),
    ];
    w.write_pcapng_block(tagged).unwrap();
    let mut other = epb(0, 3, &ip);
    other.options = vec![EnhancedPacketOption::Comment("PIDX".into())];
    w.write_pcapng_block(other).unwrap();
    let bytes = w.into_inner();
    let mut r = CaptureReader::new(&bytes[..]).unwrap();
    let mut seen = Vec::new();
    while let Some(f) = r.next_frame() {
        seen.push((f.number, f.data.len(), f.process_comment.to_vec()));
    }
    assert_eq!(
        seen,
        [
            (1, ip.len(), vec![]),
            (
                2,
                ip.len() - 1,
                b"PID: 42\nCmd: go\nArgs: go mod tidy".to_vec()
            ),
            (3, ip.len(), vec![]),
        ]
    );
}
