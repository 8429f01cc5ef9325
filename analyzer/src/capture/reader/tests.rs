use super::pcap::*;
use super::pcapng::*;
use super::*;

#[test]
fn timestamp_resolutions() {
    assert_eq!(ts_to_ns(5, 9, 0), Some(5));
    assert_eq!(ts_to_ns(5, 6, 0), Some(5000));
    assert_eq!(ts_to_ns(5000, 12, 0), Some(5));
    assert_eq!(ts_to_ns(1 << 10, 0x80 | 10, 0), Some(1_000_000_000));
    assert_eq!(ts_to_ns(u64::MAX, 6, 0), None);
    assert_eq!(ts_to_ns(1, 200, 0), Some(0));
    assert_eq!(ts_to_ns(0, 9, 2), Some(2_000_000_000));
    assert_eq!(ts_to_ns(1, 6, i64::MAX), None);
}

/// A pcapng file built block by block, in one byte order per section.
struct Ng {
    big: bool,
    out: Vec<u8>,
}

impl Ng {
    /// A file that starts with a Section Header Block.
    fn new(big: bool) -> Ng {
        let mut n = Ng {
            big,
            out: Vec::new(),
        };
        n.shb(big);
        n
    }

    fn u16b(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32b(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// Appends a block (body padded to 4 bytes); returns its offset.
    fn block(&mut self, btype: u32, body: &[u8]) -> usize {
        let at = self.out.len();
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        let (t, l) = (self.u32b(btype), self.u32b(len));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(body);
        self.out.extend(std::iter::repeat_n(0, pad));
        self.out.extend_from_slice(&l);
        at
    }

    /// A new section in byte order `big` (version 1.0, length unknown).
    fn shb(&mut self, big: bool) -> usize {
        self.big = big;
        let mut body = self.u32b(0x1A2B_3C4D).to_vec();
        body.extend_from_slice(&self.u16b(1));
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&[0xff; 8]);
        self.block(SHB, &body)
    }

    /// An interface with options `(code, value)`.
    fn idb(&mut self, link_type: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> usize {
        let mut body = self.u16b(link_type).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.u32b(snaplen));
        for (code, v) in opts {
            body.extend_from_slice(&self.u16b(*code));
            body.extend_from_slice(&self.u16b(v.len() as u16));
            body.extend_from_slice(v);
            body.extend(std::iter::repeat_n(0, (4 - v.len() % 4) % 4));
        }
        if !opts.is_empty() {
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        self.block(IDB, &body)
    }

    /// An Enhanced Packet Block with explicit captured length.
    fn epb_len(&mut self, iface: u32, ts: u64, caplen: u32, data: &[u8]) -> usize {
        let mut body = self.u32b(iface).to_vec();
        body.extend_from_slice(&self.u32b((ts >> 32) as u32));
        body.extend_from_slice(&self.u32b(ts as u32));
        body.extend_from_slice(&self.u32b(caplen));
        body.extend_from_slice(&self.u32b(data.len() as u32 + 100));
        body.extend_from_slice(data);
        self.block(EPB, &body)
    }

    fn epb(&mut self, iface: u32, ts: u64, data: &[u8]) -> usize {
        self.epb_len(iface, ts, data.len() as u32, data)
    }

    fn spb(&mut self, orig: u32, data: &[u8]) -> usize {
        let mut body = self.u32b(orig).to_vec();
        body.extend_from_slice(data);
        self.block(SPB, &body)
    }
}

/// Every frame as (number, interface, link type, time, data), then the
/// warnings.
type Seen = Vec<(u64, u32, u32, Option<i64>, Vec<u8>)>;

fn read_all(bytes: &[u8]) -> (Seen, Vec<String>) {
    let mut r = CaptureReader::new(bytes).unwrap();
    let mut seen = Vec::new();
    while let Some(f) = r.next_frame() {
        seen.push((
            f.number,
            f.interface,
            f.link_type,
            f.realtime_ns,
            f.data.to_vec(),
        ));
    }
    (seen, r.take_warnings())
}

fn numbers(seen: &Seen) -> Vec<u64> {
    seen.iter().map(|s| s.0).collect()
}

/// A valid little pcapng: Ethernet interface (ns), three packets.
/// Returns the file and the offsets of its three EPBs.
fn three_packets(big: bool) -> (Ng, [usize; 3]) {
    let mut ng = Ng::new(big);
    ng.idb(1, 0, &[(IF_TSRESOL, &[9])]);
    let a = ng.epb(0, 10, b"pkt-one");
    let b = ng.epb(0, 20, b"pkt-two!");
    let c = ng.epb(0, 30, b"3");
    (ng, [a, b, c])
}

#[test]
fn pcap_byte_orders_and_resolutions() {
    for big in [false, true] {
        for (magic, nanos) in [(PCAP_MICRO, false), (PCAP_NANO, true)] {
            let u32b = |v: u32| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            };
            let mut f = u32b(magic).to_vec();
            f.extend_from_slice(&[0; 8]);
            f.extend_from_slice(&[0; 4]);
            f.extend_from_slice(&u32b(65535));
            f.extend_from_slice(&u32b(101));
            for (sec, frac, data) in [(7u32, 250u32, &b"abcd"[..]), (8, 0, b"ef")] {
                f.extend_from_slice(&u32b(sec));
                f.extend_from_slice(&u32b(frac));
                f.extend_from_slice(&u32b(data.len() as u32));
                f.extend_from_slice(&u32b(60));
                f.extend_from_slice(data);
            }
            let (seen, w) = read_all(&f);
            let unit = if nanos { 1 } else { 1000 };
            assert_eq!(
                seen,
                vec![
                    (
                        1,
                        0,
                        101,
                        Some(7_000_000_000 + 250 * unit),
                        b"abcd".to_vec()
                    ),
                    (2, 0, 101, Some(8_000_000_000), b"ef".to_vec()),
                ],
                "big {big} nanos {nanos}"
            );
            assert!(w.is_empty(), "{w:?}");
        }
    }
}

#[test]
fn sections_reset_interfaces_and_byte_order() {
    let mut ng = Ng::new(false);
    // Section 1: interface 0 in µs with a 100 s offset, interface 1 in
    // 2^-10 s units.
    ng.idb(1, 0, &[(IF_TSOFFSET, &100i64.to_le_bytes())]);
    ng.idb(101, 0, &[(IF_TSRESOL, &[0x80 | 10])]);
    ng.epb(0, 5, b"a");
    ng.epb(1, 1024, b"b");
    // Section 2, big-endian: interface 0 is now raw IPv4 in ns, and
    // interface 1 does not exist any more.
    ng.shb(true);
    ng.idb(
        228,
        0,
        &[(IF_TSRESOL, &[9]), (IF_TSOFFSET, &(-1i64).to_be_bytes())],
    );
    ng.epb(0, 5_000_000_000, b"c");
    let stale = ng.epb(1, 1, b"d");
    let (seen, w) = read_all(&ng.out);
    assert_eq!(
        seen,
        vec![
            (1, 0, 1, Some(100_000_005_000), b"a".to_vec()),
            (2, 1, 101, Some(1_000_000_000), b"b".to_vec()),
            (3, 0, 228, Some(4_000_000_000), b"c".to_vec()),
            (4, 1, u32::MAX, None, b"d".to_vec()),
        ]
    );
    assert_eq!(
        w,
        vec![format!(
            "capture packet 4 at byte offset {stale} refers to interface 1 of section 2 which no interface block declared; such packets are skipped"
        )]
    );
}

#[test]
fn non_packet_blocks_are_skipped_and_records_numbered() {
    let mut ng = Ng::new(false);
    ng.idb(1, 64, &[]);
    ng.block(4, &[0, 0, 0, 0]); // Name Resolution Block, empty.
    ng.epb(0, 1, b"first");
    ng.block(5, &[0; 12]); // Interface Statistics Block.
    ng.block(0x0A, &[0x4b, 0x53, 0x4c, 0x54, 0, 0, 0, 0]); // Decryption Secrets.
    ng.block(CUSTOM_BLOCK, &[0, 0, 0x7e, 0xd9, 1, 2, 3]); // PEN + data.
    ng.block(0x0000_1234, &[9; 20]); // A type nobody defined.
    ng.block(SYSTEMD_JOURNAL_BLOCK, b"MESSAGE=x\n");
    ng.spb(5, b"second-and-padding");
    let (seen, w) = read_all(&ng.out);
    assert_eq!(numbers(&seen), vec![1, 4]);
    assert_eq!(
        seen[1].4, b"secon",
        "SPB data bounded by its original length"
    );
    assert_eq!(seen[1].3, None, "an SPB has no time");
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn obsolete_packet_block_timestamp_is_high_then_low() {
    // 2025-11-13T02:13:20.123456Z in µs: both halves non-zero.
    let ts_us: u64 = 1_763_000_000_123_456;
    assert!(ts_us >> 32 != 0 && ts_us as u32 != 0);
    for big in [false, true] {
        let mut ng = Ng::new(big);
        ng.idb(1, 65535, &[]);
        // interface 0, drops 0, ts high, ts low, caplen, len, data.
        let mut body = ng.u16b(0).to_vec();
        body.extend_from_slice(&ng.u16b(0));
        body.extend_from_slice(&ng.u32b((ts_us >> 32) as u32));
        body.extend_from_slice(&ng.u32b(ts_us as u32));
        body.extend_from_slice(&ng.u32b(4));
        body.extend_from_slice(&ng.u32b(60));
        body.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        ng.block(PB, &body);
        let mut r = CaptureReader::new(&ng.out[..]).unwrap();
        let f = r.next_frame().unwrap();
        assert_eq!(f.number, 1);
        assert_eq!(f.link_type, 1);
        assert_eq!(f.data, &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(f.original_len, 60);
        assert_eq!(f.realtime_ns, Some(ts_us as i64 * 1000), "big-endian {big}");
        assert!(r.next_frame().is_none());
        assert!(r.take_warnings().is_empty());
    }
}

#[test]
fn rejects_garbage_and_empty() {
    assert_eq!(
        CaptureReader::new(&b""[..]).unwrap_err().to_string(),
        "empty file"
    );
    assert!(CaptureReader::new(&b"hello world, not a capture"[..])
        .unwrap_err()
        .to_string()
        .starts_with("not a pcapng or pcap file (starts with 68 65 6c 6c)"));
    assert_eq!(
        CaptureReader::new(&[0x0a, 0x0d, 0x0d, 0x0a, 0xff][..])
            .unwrap_err()
            .to_string(),
        "truncated inside its first section header block"
    );
    let (ng, _) = three_packets(false);
    let mut bad_bom = ng.out.clone();
    bad_bom[8] = 0x77;
    assert!(CaptureReader::new(&bad_bom[..])
        .unwrap_err()
        .to_string()
        .contains("byte-order magic"));
    assert_eq!(
        CaptureReader::new(&ng.out[..20]).unwrap_err().to_string(),
        "truncated inside its first section header block"
    );
    let pcap = PCAP_MICRO.to_le_bytes();
    assert_eq!(
        CaptureReader::new(&pcap[..]).unwrap_err().to_string(),
        "truncated inside the pcap file header"
    );
}

#[test]
fn cut_mid_block() {
    for big in [false, true] {
        let (ng, [_, _, c]) = three_packets(big);
        // Cut inside the third EPB (36 bytes long), and inside its header.
        for (cut, have) in [(ng.out.len() - 3, 33), (c + 5, 5)] {
            let (seen, w) = read_all(&ng.out[..cut]);
            assert_eq!(numbers(&seen), vec![1, 2]);
            let want = if have < 8 {
                format!("capture truncated at byte offset {c}: the block header there needs 8 bytes but the file has {have} (capture cut short?); packets from there on are lost")
            } else {
                format!("capture truncated at byte offset {c}: the block of type 0x6 (36 bytes) there needs 36 bytes but the file has {have} (capture cut short?); packets from there on are lost")
            };
            assert_eq!(w, vec![want]);
        }
    }
}

/// Sets the 4-byte length at `at` (in `ng`'s byte order).
fn set_len(ng: &mut Ng, at: usize, v: u32) {
    let b = ng.u32b(v);
    ng.out[at..at + 4].copy_from_slice(&b);
}

#[test]
fn bad_block_lengths_stop_with_the_offset() {
    for (len, why) in [
        (8, "less than the 12-byte minimum"),
        (34, "not a multiple of 4"),
        (0x7fff_fff0, "over the 16 MiB limit"),
    ] {
        let (mut ng, [_, b, _]) = three_packets(false);
        set_len(&mut ng, b + 4, len);
        let (seen, w) = read_all(&ng.out);
        assert_eq!(numbers(&seen), vec![1], "length {len}");
        assert_eq!(
            w,
            vec![format!(
                "capture block at byte offset {b} (type 0x6) has length {len}, {why}: the file is damaged there; later packets are not used"
            )]
        );
    }
    // Longer than the rest of the file: a truncation.
    let (mut ng, [_, b, _]) = three_packets(true);
    let left = ng.out.len() - b;
    set_len(&mut ng, b + 4, 1000);
    let (seen, w) = read_all(&ng.out);
    assert_eq!(numbers(&seen), vec![1]);
    assert_eq!(
        w,
        vec![format!(
            "capture truncated at byte offset {b}: the block of type 0x6 (1000 bytes) there needs 1000 bytes but the file has {left} (capture cut short?); packets from there on are lost"
        )]
    );
    // The trailing copy of the length disagrees.
    let (mut ng, [_, b, c]) = three_packets(false);
    set_len(&mut ng, c - 4, 44);
    let (seen, w) = read_all(&ng.out);
    assert_eq!(numbers(&seen), vec![1]);
    assert_eq!(
        w,
        vec![format!(
            "capture block at byte offset {b} (type 0x6) ends with length 44, not 40 as it starts: the file is damaged there; later packets are not used"
        )]
    );
}

#[test]
fn packet_blocks_shorter_than_their_fields_are_skipped() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    ng.epb(0, 1, b"ok");
    let short = ng.block(EPB, &[0; 8]);
    let short_spb = ng.block(SPB, &[]);
    ng.epb(0, 2, b"after");
    let (seen, w) = read_all(&ng.out);
    // Counted (Wireshark numbers every packet block), not handed out.
    assert_eq!(numbers(&seen), vec![1, 4]);
    assert_eq!(seen[1].4, b"after");
    assert_eq!(
        w,
        vec![
            format!("capture enhanced packet block at byte offset {short} (packet 2) has length 20, less than the 32 bytes of its fields; skipped"),
            format!("capture simple packet block at byte offset {short_spb} (packet 3) has length 12, less than the 16 bytes of its fields; skipped"),
        ]
    );
}

#[test]
fn captured_length_beyond_the_block_or_the_snaplen() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    ng.idb(1, 4, &[]);
    // Claims 200 bytes in a block with room for 8 (data + padding).
    let lying = ng.epb_len(0, 1, 200, b"abcdefg");
    let over_snap = ng.epb(1, 2, b"longer than four");
    let over_again = ng.epb(1, 3, b"also longer");
    let (seen, w) = read_all(&ng.out);
    assert_eq!(numbers(&seen), vec![1, 2, 3]);
    assert_eq!(seen[0].4, b"abcdefg\0", "what the block holds");
    assert_eq!(seen[1].4, b"longer than four");
    assert_eq!(
        w,
        vec![
            format!("capture enhanced packet block at byte offset {lying} (packet 1) claims 200 captured bytes but the block holds 8; using those"),
            format!("capture enhanced packet block at byte offset {over_snap} (packet 2) has 16 captured bytes, more than interface 1's snaplen 4; used as they are"),
        ],
        "the snaplen warning comes once, not for {over_again}"
    );
}

#[test]
fn an_over_long_packet_is_cut_at_the_bound_and_reading_goes_on() {
    let big = vec![0x5a; MAX_PACKET_BYTES + 5000];
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    let at = ng.epb(0, 1, &big);
    ng.epb(0, 2, b"next");
    let (seen, w) = read_all(&ng.out);
    assert_eq!(numbers(&seen), vec![1, 2]);
    assert_eq!(seen[0].4.len(), MAX_PACKET_BYTES);
    assert_eq!(seen[1].4, b"next");
    assert_eq!(
        w,
        vec![format!("capture packet 1 at byte offset {at} has 267144 captured bytes, more than the 262144 gotrace reads; only the first 262144 are used")]
    );
}

/// Classic pcap, little-endian, Ethernet, snaplen 8, with records
/// `(captured length field, data)`.
fn pcap(records: &[(u32, &[u8])]) -> Vec<u8> {
    let mut f = PCAP_MICRO.to_le_bytes().to_vec();
    f.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&8u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    for (i, (incl, data)) in records.iter().enumerate() {
        f.extend_from_slice(&(i as u32).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&incl.to_le_bytes());
        f.extend_from_slice(&100u32.to_le_bytes());
        f.extend_from_slice(data);
    }
    f
}

#[test]
fn pcap_damage() {
    // Cut inside the second record's data, then inside its header.
    let f = pcap(&[(4, b"abcd"), (6, b"efghij")]);
    let second = 24 + 16 + 4;
    let (seen, w) = read_all(&f[..f.len() - 2]);
    assert_eq!(numbers(&seen), vec![1]);
    assert_eq!(
        w,
        vec![format!("capture truncated at byte offset {second}: the record there needs 22 bytes but the file has 20 (capture cut short?); packets from there on are lost")]
    );
    let (seen, w) = read_all(&f[..second + 10]);
    assert_eq!(numbers(&seen), vec![1]);
    assert_eq!(
        w,
        vec![format!("capture truncated at byte offset {second}: the record header there needs 16 bytes but the file has 10 (capture cut short?); packets from there on are lost")]
    );
    // An absurd captured length: corruption, nothing allocated.
    let f = pcap(&[(4, b"abcd"), (0x7fff_ffff, b"")]);
    let (seen, w) = read_all(&f);
    assert_eq!(numbers(&seen), vec![1]);
    assert_eq!(
        w,
        vec![format!("capture record at byte offset {second} claims 2147483647 captured bytes: corrupt (over the 16 MiB limit); later packets are not used")]
    );
    // Over the snaplen (8): used, one warning for the file.
    let f = pcap(&[(10, b"0123456789"), (9, b"012345678"), (1, b"z")]);
    let (seen, w) = read_all(&f);
    assert_eq!(numbers(&seen), vec![1, 2, 3]);
    assert_eq!(seen[0].4, b"0123456789");
    assert_eq!(
        w,
        vec!["capture record at byte offset 24 (packet 1) has 10 captured bytes, more than the file's snaplen 8; used as they are".to_string()]
    );
    // Over the packet bound: the first MAX_PACKET_BYTES, then on.
    let huge = vec![1u8; MAX_PACKET_BYTES + 1];
    let f = pcap(&[(huge.len() as u32, &huge), (1, b"z")]);
    let (seen, w) = read_all(&f);
    assert_eq!(numbers(&seen), vec![1, 2]);
    assert_eq!(seen[0].4.len(), MAX_PACKET_BYTES);
    assert_eq!(seen[1].4, b"z");
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(w[1], "capture packet 1 at byte offset 24 has 262145 captured bytes, more than the 262144 gotrace reads; only the first 262144 are used");
    // A packet shorter than any header is handed out as it is.
    let f = pcap(&[(0, b""), (3, b"abc")]);
    let (seen, w) = read_all(&f);
    assert_eq!(numbers(&seen), vec![1, 2]);
    assert!(seen[0].4.is_empty() && w.is_empty());
}

#[test]
fn section_header_damage_mid_file() {
    let (mut ng, _) = three_packets(false);
    let second = ng.shb(false);
    ng.idb(1, 0, &[]);
    ng.epb(0, 1, b"x");
    let mut bad_bom = ng.out.clone();
    bad_bom[second + 8] = 0;
    let (seen, w) = read_all(&bad_bom);
    assert_eq!(numbers(&seen), vec![1, 2, 3]);
    assert_eq!(
        w,
        vec![format!("capture section header block at byte offset {second} has byte-order magic 0x003c2b1a, not 0x1a2b3c4d: the file is damaged there; later packets are not used")]
    );
    let mut v2 = ng.out.clone();
    v2[second + 12] = 2;
    let (seen, w) = read_all(&v2);
    assert_eq!(numbers(&seen), vec![1, 2, 3]);
    assert_eq!(
        w,
        vec![format!("capture section at byte offset {second} is pcapng version 2.0, which gotrace cannot read; later packets are not used")]
    );
    let (seen, w) = read_all(&ng.out);
    assert_eq!(numbers(&seen), vec![1, 2, 3, 4]);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn interface_damage() {
    let mut ng = Ng::new(false);
    // An option claiming 200 bytes: default resolution (µs) kept.
    let idb = ng.idb(1, 0, &[(IF_TSRESOL, &[9])]);
    ng.out[idb + 16 + 2] = 200;
    let short = ng.block(IDB, &[1, 0]);
    ng.epb(0, 3, b"a");
    ng.epb(1, 3, b"b");
    let (seen, w) = read_all(&ng.out);
    assert_eq!((seen[0].2, seen[0].3), (1, Some(3000)));
    assert_eq!(seen[1].2, u32::MAX, "the short IDB still takes id 1");
    assert_eq!(
        w,
        vec![
            format!("capture interface description at byte offset {idb}: option 9 at byte 16 of the block runs past its end; the options after it are ignored"),
            format!("capture interface description at byte offset {short} has length 16, less than its 20 bytes of fields; interface 1 is unusable"),
        ]
    );
}

#[test]
fn unsupported_link_types_warn_once_per_interface() {
    let mut ng = Ng::new(true);
    ng.idb(105, 0, &[]);
    ng.idb(1, 0, &[]);
    ng.idb(4242, 0, &[]);
    for i in [0, 1, 2, 0, 2] {
        ng.epb(i, 1, b"x");
    }
    let (seen, w) = read_all(&ng.out);
    assert_eq!(numbers(&seen), vec![1, 2, 3, 4, 5]);
    assert_eq!(
        w,
        vec![
            "capture interface 0 has link type 105 (LINKTYPE_IEEE802_11), which gotrace cannot decode; its packets are skipped",
            "capture interface 2 has link type 4242 (unassigned), which gotrace cannot decode; its packets are skipped",
        ]
    );
}

#[test]
fn warnings_are_capped() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    for _ in 0..100 {
        ng.block(EPB, &[0; 4]);
    }
    ng.epb(0, 1, b"last");
    let (seen, w) = read_all(&ng.out);
    assert_eq!(numbers(&seen), vec![101]);
    assert_eq!(w.len(), MAX_WARNINGS + 1);
    assert_eq!(
        w[MAX_WARNINGS],
        "capture: more than 32 problems; the rest are not listed"
    );
}

/// A reader over a block header, `n` generated bytes and a trailer:
/// nothing the size of `n` exists in memory.
fn huge_epb(n: u32) -> impl Read {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    let len = 32 + n;
    let mut head = ng.out;
    head.extend_from_slice(&EPB.to_le_bytes());
    head.extend_from_slice(&len.to_le_bytes());
    head.extend_from_slice(&[0; 12]);
    head.extend_from_slice(&n.to_le_bytes());
    head.extend_from_slice(&n.to_le_bytes());
    let mut tail = len.to_le_bytes().to_vec();
    // Then one small packet.
    let mut after = Ng {
        big: false,
        out: Vec::new(),
    };
    after.epb(0, 1, b"after");
    tail.extend_from_slice(&after.out);
    std::io::Cursor::new(head)
        .chain(std::io::repeat(0x42).take(u64::from(n)))
        .chain(std::io::Cursor::new(tail))
}

#[test]
fn memory_stays_bounded_by_the_packet_cap() {
    // A 15 MiB packet (under the 16 MiB block limit) streams through a
    // buffer of MAX_BUFFERED bytes.
    let n = 15 << 20;
    let mut r = CaptureReader::new(huge_epb(n)).unwrap();
    let f = r.next_frame().unwrap();
    assert_eq!((f.number, f.data.len()), (1, MAX_PACKET_BYTES));
    assert!(f.data.iter().all(|&b| b == 0x42));
    let f = r.next_frame().unwrap();
    assert_eq!((f.number, f.data), (2, &b"after"[..]));
    assert!(r.next_frame().is_none());
    assert!(
        r.buf.capacity() <= 2 * MAX_BUFFERED,
        "buffer grew to {}",
        r.buf.capacity()
    );
    assert_eq!(r.take_warnings().len(), 1);
}
