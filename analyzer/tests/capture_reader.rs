//! The capture reader on hand-made pcapng: several interfaces with
//! different link types and timestamp resolutions, Simple Packet Blocks,
//! unsupported link types, and classic pcap.

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
