//! Streaming reader for pcapng (and classic pcap) files.
//!
//! Blocks are framed here, with their byte offsets, so a file cut short or
//! damaged mid-way still yields every whole block before the damage; block
//! bodies are decoded by the `pcap-file` crate. Memory is one block (at most
//! [`MAX_BLOCK_BYTES`]) whatever the file size. Packet numbers count every
//! packet block in file order from 1, as Wireshark numbers frames.
//!
//! Formats: pcapng (IETF draft-ietf-opsawg-pcapng), classic pcap
//! (draft-ietf-opsawg-pcap).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::blocks::{ENHANCED_PACKET_BLOCK, PACKET_BLOCK, SIMPLE_PACKET_BLOCK};
use pcap_file::pcapng::Block;
use pcap_file::{Endianness, TsResolution};

use super::packet::link_type_supported;
use crate::error::AnalyzeError;

/// Largest block or record accepted (bytes); longer lengths are corruption.
/// Wireshark caps blocks at 16 MiB for the same reason.
pub const MAX_BLOCK_BYTES: u32 = 16 << 20;
/// pcapng Section Header Block type (a byte palindrome, any endianness).
const SHB: u32 = 0x0A0D_0D0A;
/// pcapng byte-order magic, as read big-endian.
const BOM_BIG: u32 = 0x1A2B_3C4D;
const BOM_LITTLE: u32 = 0x4D3C_2B1A;
/// Systemd Journal Export Block (pcapng 4.7): a record, not a packet.
const SYSTEMD_JOURNAL_BLOCK: u32 = 0x0000_0009;
/// Custom Blocks (pcapng 4.8), copyable and not.
const CUSTOM_BLOCK: u32 = 0x0000_0BAD;
const CUSTOM_BLOCK_NO_COPY: u32 = 0x4000_0BAD;

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based packet number over all packet blocks in file order.
    pub number: u64,
    /// pcapng interface id (0 for classic pcap).
    pub interface: u32,
    /// LINKTYPE_* of the interface (`u32::MAX` if the interface is undeclared).
    pub link_type: u32,
    /// Capture time, CLOCK_REALTIME ns since the Unix epoch; `None` for
    /// Simple Packet Blocks (they carry no time) or unrepresentable values.
    pub realtime_ns: Option<i64>,
    /// Captured bytes, starting with the link-layer header.
    pub data: &'a [u8],
    /// Length on the wire (bytes), may exceed `data.len()` (snaplen).
    pub original_len: u32,
}

#[derive(Debug, Clone)]
struct Iface {
    link_type: u32,
    snaplen: u32,
    /// if_tsresol: units per second as in the spec (bit 7: power of 2).
    tsresol: u8,
    /// if_tsoffset, seconds.
    tsoffset: i64,
}

#[derive(Debug)]
enum Format {
    PcapNg {
        big: bool,
        ifaces: Vec<Iface>,
    },
    Pcap {
        big: bool,
        nanos: bool,
        link_type: u32,
    },
}

/// A streaming capture reader over any [`Read`].
#[derive(Debug)]
pub struct CaptureReader<R> {
    input: R,
    /// Bytes consumed so far (offset of the next block).
    offset: u64,
    format: Format,
    buf: Vec<u8>,
    number: u64,
    done: bool,
    warnings: Vec<String>,
    warned_ifaces: Vec<u32>,
}

impl CaptureReader<BufReader<File>> {
    /// Opens a capture file.
    ///
    /// # Errors
    /// [`AnalyzeError::Unreadable`] or [`AnalyzeError::Capture`] when the file
    /// cannot be opened or does not start like pcap/pcapng.
    pub fn open(path: &Path) -> Result<Self, AnalyzeError> {
        let f = File::open(path).map_err(|e| AnalyzeError::Unreadable {
            path: path.to_path_buf(),
            source: e,
        })?;
        CaptureReader::new(BufReader::with_capacity(1 << 16, f)).map_err(|problem| {
            AnalyzeError::Capture {
                path: path.to_path_buf(),
                problem,
            }
        })
    }
}

impl<R: Read> CaptureReader<R> {
    /// Starts reading: checks the magic and reads the first header.
    ///
    /// # Errors
    /// A description of the problem when the input is empty, unreadable or
    /// neither pcapng nor pcap.
    pub fn new(input: R) -> Result<Self, String> {
        let mut r = CaptureReader {
            input,
            offset: 0,
            format: Format::PcapNg {
                big: false,
                ifaces: Vec::new(),
            },
            buf: Vec::with_capacity(1 << 16),
            number: 0,
            done: false,
            warnings: Vec::new(),
            warned_ifaces: Vec::new(),
        };
        let n = r.fill(0, 4).map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            return Err("empty file".into());
        }
        if n < 4 {
            return Err(format!("only {n} bytes, too short for a capture"));
        }
        let magic = be32(&r.buf, 0);
        match magic {
            SHB => {
                // The SHB is read like any block; it sets the byte order.
                if !r.pcapng_block_after_type()? {
                    return Err("truncated inside its section header block".into());
                }
                Ok(r)
            }
            0xA1B2_C3D4 | 0xA1B2_3C4D | 0xD4C3_B2A1 | 0x4D3C_B2A1 => {
                let n = r.fill(4, 20).map_err(|e| format!("read error: {e}"))?;
                if n < 20 {
                    return Err("truncated inside the pcap file header".into());
                }
                let (_, hdr) = pcap_file::pcap::PcapHeader::from_slice(&r.buf)
                    .map_err(|e| format!("bad pcap header: {e}"))?;
                let big = hdr.endianness == Endianness::Big;
                // The link type field's upper bits carry FCS information.
                let link_type = rd32(&r.buf, 20, big) & 0xFFFF;
                r.offset = 24;
                r.format = Format::Pcap {
                    big,
                    nanos: hdr.ts_resolution == TsResolution::NanoSecond,
                    link_type,
                };
                r.note_link_type(0, link_type);
                Ok(r)
            }
            _ => Err(format!(
                "not a pcapng or pcap file (starts with {:02x} {:02x} {:02x} {:02x})",
                r.buf.first().copied().unwrap_or(0),
                r.buf.get(1).copied().unwrap_or(0),
                r.buf.get(2).copied().unwrap_or(0),
                r.buf.get(3).copied().unwrap_or(0)
            )),
        }
    }

    /// Problems met so far (truncation, corrupt blocks, unsupported links).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Takes the warnings out of the reader.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Records seen so far: packet blocks plus the custom and journal
    /// blocks Wireshark also numbers as frames.
    pub fn packets_seen(&self) -> u64 {
        self.number
    }

    /// The next packet, or `None` at the end of the file or at the first
    /// damage (then a warning says where).
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        loop {
            if self.done {
                return None;
            }
            let meta = match self.format {
                Format::PcapNg { .. } => self.next_pcapng(),
                Format::Pcap { .. } => self.next_pcap(),
            };
            if let Some((meta, range)) = meta {
                let data = self.buf.get(range).unwrap_or(&[]);
                return Some(Frame { data, ..meta });
            }
        }
    }

    /// Reads up to `n` bytes into `buf[at..at+n]`; returns how many arrived.
    /// The buffer grows with the data actually read, so a lying length field
    /// in a short file costs nothing.
    fn fill(&mut self, at: usize, n: usize) -> std::io::Result<usize> {
        self.buf.truncate(at);
        let want = u64::try_from(n).unwrap_or(u64::MAX);
        (&mut self.input).take(want).read_to_end(&mut self.buf)
    }

    fn stop(&mut self, why: String) {
        self.warnings.push(why);
        self.done = true;
    }

    /// Reads the `n`-byte header of the next record into the buffer's start.
    /// False at a clean end of file, on truncation or a read error (the last
    /// two recorded as warnings), so the caller simply stops.
    fn read_header(&mut self, n: usize) -> bool {
        match self.fill(0, n) {
            Ok(0) => {
                self.done = true;
                false
            }
            Ok(k) if k == n => true,
            Ok(_) => {
                self.truncated();
                false
            }
            Err(e) => {
                self.stop(format!(
                    "capture read error at byte offset {}: {e}",
                    self.offset
                ));
                false
            }
        }
    }

    fn truncated(&mut self) {
        let at = self.offset;
        self.stop(format!(
            "capture truncated at byte offset {at}: packets after it are lost (capture cut short?)"
        ));
    }

    fn note_link_type(&mut self, iface: u32, link_type: u32) {
        if !link_type_supported(link_type) && !self.warned_ifaces.contains(&iface) {
            self.warned_ifaces.push(iface);
            self.warnings.push(format!(
                "capture interface {iface} has link type {link_type}, which gotrace cannot decode; its packets are skipped"
            ));
        }
    }

    /// Reads the rest of a pcapng block whose 4-byte type is in `buf`.
    /// Returns Ok(false) at a truncation, Err for a bad first block.
    fn pcapng_block_after_type(&mut self) -> Result<bool, String> {
        let btype = be32(&self.buf, 0);
        let is_shb = btype == SHB;
        let want = if is_shb { 8 } else { 4 };
        let n = self.fill(4, want).map_err(|e| e.to_string())?;
        if n < want {
            return Ok(false);
        }
        let big = if is_shb {
            match be32(&self.buf, 8) {
                BOM_BIG => true,
                BOM_LITTLE => false,
                m => return Err(format!("bad section header byte-order magic {m:#010x}")),
            }
        } else {
            match self.format {
                Format::PcapNg { big, .. } => big,
                Format::Pcap { .. } => false,
            }
        };
        let len = rd32(&self.buf, 4, big);
        if len < 12 || !len.is_multiple_of(4) || len > MAX_BLOCK_BYTES {
            return Err(format!(
                "corrupt block at byte offset {} (type {btype:#x}, length {len})",
                self.offset
            ));
        }
        let have = 4 + want;
        let rest = len as usize - have;
        let n = self.fill(have, rest).map_err(|e| e.to_string())?;
        if n < rest {
            return Ok(false);
        }
        if is_shb {
            if let Format::PcapNg { big: b, ifaces } = &mut self.format {
                *b = big;
                ifaces.clear();
            }
        }
        Ok(true)
    }

    fn next_pcapng(&mut self) -> Option<(Frame<'static>, std::ops::Range<usize>)> {
        // The very first SHB was framed by `new`; `offset` is still 0 then.
        if self.offset != 0 || self.buf.len() < 12 {
            if !self.read_header(4) {
                return None;
            }
            match self.pcapng_block_after_type() {
                Ok(true) => {}
                Ok(false) => {
                    self.truncated();
                    return None;
                }
                Err(e) => {
                    self.stop(format!("capture: {e}; later packets are not used"));
                    return None;
                }
            }
        }
        let start = self.offset;
        self.offset += self.buf.len() as u64;
        let Format::PcapNg { big, .. } = self.format else {
            return None;
        };
        let btype = rd32(&self.buf, 0, big);
        // Wireshark numbers every record block as a frame, custom and
        // journal blocks included; so do we, to cite the same numbers.
        let is_packet = matches!(
            btype,
            ENHANCED_PACKET_BLOCK
                | SIMPLE_PACKET_BLOCK
                | PACKET_BLOCK
                | SYSTEMD_JOURNAL_BLOCK
                | CUSTOM_BLOCK
                | CUSTOM_BLOCK_NO_COPY
        );
        if is_packet {
            self.number += 1;
        }
        let parsed = if big {
            Block::from_slice::<byteorder::BigEndian>(&self.buf)
        } else {
            Block::from_slice::<byteorder::LittleEndian>(&self.buf)
        };
        let block = match parsed {
            Ok((_, b)) => b,
            Err(e) => {
                if btype == pcap_file::pcapng::blocks::INTERFACE_DESCRIPTION_BLOCK {
                    // Keep interface numbering right: the link type is the
                    // first field, readable even when the options are bad.
                    let lt = u32::from(rd16(&self.buf, 8, big));
                    self.push_iface(lt, 0, 6, 0);
                }
                self.warnings.push(format!(
                    "capture block at byte offset {start} (type {btype:#x}) is malformed ({e}); skipped"
                ));
                return None;
            }
        };
        let number = self.number;
        match block {
            Block::SectionHeader(_) => None,
            Block::InterfaceDescription(idb) => {
                let mut tsresol = 6;
                let mut tsoffset = 0;
                for o in &idb.options {
                    match o {
                        InterfaceDescriptionOption::IfTsResol(r) => tsresol = *r,
                        InterfaceDescriptionOption::IfTsOffset(s) => tsoffset = *s as i64,
                        _ => {}
                    }
                }
                let lt = u32::from(idb.linktype);
                self.push_iface(lt, idb.snaplen, tsresol, tsoffset);
                None
            }
            Block::EnhancedPacket(epb) => {
                let raw = u64::try_from(epb.timestamp.as_nanos()).unwrap_or(u64::MAX);
                let len = epb.data.len();
                let orig = epb.original_len;
                let iface = epb.interface_id;
                Some(self.packet(number, iface, Some(raw), orig, 28..28 + len))
            }
            Block::Packet(pb) => {
                let len = pb.data.len();
                let orig = pb.original_len;
                let iface = u32::from(pb.interface_id);
                // pcap-file 2.0.0 reads this timestamp as one u64, but the
                // obsolete Packet Block stores two u32, high then low
                // (draft-ietf-opsawg-pcapng, "Packet Block (obsolete!)"):
                // its halves are swapped in little-endian files. Rebuilt
                // from the block bytes: type 4, length 4, interface id 2,
                // drops count 2, then timestamp high and low.
                let ts = (u64::from(rd32(&self.buf, 12, big)) << 32)
                    | u64::from(rd32(&self.buf, 16, big));
                Some(self.packet(number, iface, Some(ts), orig, 28..28 + len))
            }
            Block::SimplePacket(spb) => {
                // The SPB body is padded; its real length is bounded by the
                // original length and interface 0's snaplen (pcapng 4.4).
                let mut len = spb.data.len().min(spb.original_len as usize);
                if let Format::PcapNg { ifaces, .. } = &self.format {
                    if let Some(i) = ifaces.first() {
                        if i.snaplen > 0 {
                            len = len.min(i.snaplen as usize);
                        }
                    }
                }
                let orig = spb.original_len;
                Some(self.packet(number, 0, None, orig, 12..12 + len))
            }
            _ => None,
        }
    }

    fn push_iface(&mut self, link_type: u32, snaplen: u32, tsresol: u8, tsoffset: i64) {
        let id = if let Format::PcapNg { ifaces, .. } = &mut self.format {
            ifaces.push(Iface {
                link_type,
                snaplen,
                tsresol,
                tsoffset,
            });
            ifaces.len() as u32 - 1
        } else {
            0
        };
        self.note_link_type(id, link_type);
    }

    fn packet(
        &mut self,
        number: u64,
        iface: u32,
        raw_ts: Option<u64>,
        original_len: u32,
        range: std::ops::Range<usize>,
    ) -> (Frame<'static>, std::ops::Range<usize>) {
        let found = match &self.format {
            Format::PcapNg { ifaces, .. } => ifaces.get(iface as usize).cloned(),
            Format::Pcap { .. } => None,
        };
        let (link_type, realtime_ns) = match found {
            Some(i) => (
                i.link_type,
                raw_ts.and_then(|t| ts_to_ns(t, i.tsresol, i.tsoffset)),
            ),
            None => {
                if !self.warned_ifaces.contains(&iface) {
                    self.warned_ifaces.push(iface);
                    self.warnings.push(format!(
                        "capture packet {number} refers to interface {iface}, which no interface block declared; such packets are skipped"
                    ));
                }
                (u32::MAX, None)
            }
        };
        let frame = Frame {
            number,
            interface: iface,
            link_type,
            realtime_ns,
            data: &[],
            original_len,
        };
        (frame, range)
    }

    fn next_pcap(&mut self) -> Option<(Frame<'static>, std::ops::Range<usize>)> {
        let Format::Pcap {
            big,
            nanos,
            link_type,
        } = self.format
        else {
            return None;
        };
        if !self.read_header(16) {
            return None;
        }
        let sec = u64::from(rd32(&self.buf, 0, big));
        let frac = u64::from(rd32(&self.buf, 4, big));
        let incl = rd32(&self.buf, 8, big);
        let orig = rd32(&self.buf, 12, big);
        if incl > MAX_BLOCK_BYTES {
            let at = self.offset;
            self.stop(format!(
                "capture record at byte offset {at} claims {incl} bytes: corrupt; later packets are not used"
            ));
            return None;
        }
        match self.fill(16, incl as usize) {
            Ok(n) if n == incl as usize => {}
            Ok(_) => {
                self.truncated();
                return None;
            }
            Err(e) => {
                self.stop(format!(
                    "capture read error at byte offset {}: {e}",
                    self.offset
                ));
                return None;
            }
        }
        self.offset += 16 + u64::from(incl);
        self.number += 1;
        // Invalid fractions (>= 1 s) are kept as written: times are only
        // ever compared, never used to index.
        let ns = sec
            .checked_mul(1_000_000_000)
            .and_then(|s| s.checked_add(if nanos { frac } else { frac * 1000 }))
            .and_then(|v| i64::try_from(v).ok());
        let frame = Frame {
            number: self.number,
            interface: 0,
            link_type,
            realtime_ns: ns,
            data: &[],
            original_len: orig,
        };
        Some((frame, 16..16 + incl as usize))
    }
}

/// Converts a pcapng timestamp in interface units to ns since the epoch.
/// `tsresol` bit 7 clear: 10^-n s units; set: 2^-n s units (pcapng 4.2).
fn ts_to_ns(raw: u64, tsresol: u8, tsoffset_s: i64) -> Option<i64> {
    let raw = u128::from(raw);
    let n = u32::from(tsresol & 0x7f);
    let ns: u128 = if tsresol & 0x80 == 0 {
        if n <= 9 {
            raw.checked_mul(10u128.checked_pow(9 - n)?)?
        } else {
            raw / 10u128.checked_pow(n - 9)?
        }
    } else if n < 64 {
        raw.checked_mul(1_000_000_000)? >> n
    } else {
        0
    };
    let ns = i64::try_from(ns).ok()?;
    ns.checked_add(tsoffset_s.checked_mul(1_000_000_000)?)
}

fn be32(b: &[u8], at: usize) -> u32 {
    rd32(b, at, true)
}

fn rd32(b: &[u8], at: usize, big: bool) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

fn rd16(b: &[u8], at: usize, big: bool) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    if big {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

#[cfg(test)]
mod tests {
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
    }

    /// SHB, an Ethernet IDB (µs timestamps) and one obsolete Packet Block
    /// with `ts` split into high and low u32, in the given byte order.
    fn packet_block_file(big: bool, ts: u64, data: &[u8; 4]) -> Vec<u8> {
        let u16b = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = Vec::new();
        // Section Header Block: type, length 28, BOM, version 1.0, section length -1.
        f.extend_from_slice(&SHB.to_be_bytes());
        f.extend_from_slice(&u32b(28));
        f.extend_from_slice(&u32b(0x1A2B_3C4D));
        f.extend_from_slice(&u16b(1));
        f.extend_from_slice(&u16b(0));
        f.extend_from_slice(&[0xff; 8]);
        f.extend_from_slice(&u32b(28));
        // Interface Description Block: Ethernet, snaplen 65535, no options.
        f.extend_from_slice(&u32b(1));
        f.extend_from_slice(&u32b(20));
        f.extend_from_slice(&u16b(1));
        f.extend_from_slice(&u16b(0));
        f.extend_from_slice(&u32b(65535));
        f.extend_from_slice(&u32b(20));
        // Packet Block: interface 0, drops 0, ts high, ts low, caplen, len, data.
        f.extend_from_slice(&u32b(PACKET_BLOCK));
        f.extend_from_slice(&u32b(36));
        f.extend_from_slice(&u16b(0));
        f.extend_from_slice(&u16b(0));
        f.extend_from_slice(&u32b((ts >> 32) as u32));
        f.extend_from_slice(&u32b(ts as u32));
        f.extend_from_slice(&u32b(4));
        f.extend_from_slice(&u32b(60));
        f.extend_from_slice(data);
        f.extend_from_slice(&u32b(36));
        f
    }

    #[test]
    fn obsolete_packet_block_timestamp_is_high_then_low() {
        // 2025-11-13T02:13:20.123456Z in µs: both halves non-zero.
        let ts_us: u64 = 1_763_000_000_123_456;
        assert!(ts_us >> 32 != 0 && ts_us as u32 != 0);
        for big in [false, true] {
            let file = packet_block_file(big, ts_us, &[0xde, 0xad, 0xbe, 0xef]);
            let mut r = CaptureReader::new(&file[..]).unwrap();
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
        assert!(CaptureReader::new(&b""[..]).is_err());
        assert!(CaptureReader::new(&b"hello world, not a capture"[..]).is_err());
        assert!(CaptureReader::new(&[0x0a, 0x0d, 0x0d, 0x0a, 0xff][..]).is_err());
    }
}
