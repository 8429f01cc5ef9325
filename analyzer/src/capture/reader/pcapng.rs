//! pcapng framing (draft-ietf-opsawg-pcapng): blocks with their lengths
//! checked, sections with their own byte order, interfaces with their
//! link type, `if_tsresol` and `if_tsoffset`, and the three packet blocks.

use std::io::Read;
use std::ops::Range;

use super::{
    be32, iface_name, rd16, rd32, CaptureError, CaptureReader, Damage, Format, Frame, Iface, Step,
};
use super::{MAX_BLOCK_BYTES, MAX_BUFFERED};

/// pcapng Section Header Block type (a byte palindrome, any endianness).
pub(super) const SHB: u32 = 0x0A0D_0D0A;
/// pcapng byte-order magic, as read big-endian.
pub(super) const BOM_BIG: u32 = 0x1A2B_3C4D;
pub(super) const BOM_LITTLE: u32 = 0x4D3C_2B1A;
/// Interface Description Block.
pub(super) const IDB: u32 = 0x0000_0001;
/// Packet Block (obsolete).
pub(super) const PB: u32 = 0x0000_0002;
/// Simple Packet Block.
pub(super) const SPB: u32 = 0x0000_0003;
/// Enhanced Packet Block.
pub(super) const EPB: u32 = 0x0000_0006;
/// Systemd Journal Export Block: a record, not a packet.
pub(super) const SYSTEMD_JOURNAL_BLOCK: u32 = 0x0000_0009;
/// Custom Blocks, copyable and not.
pub(super) const CUSTOM_BLOCK: u32 = 0x0000_0BAD;
pub(super) const CUSTOM_BLOCK_NO_COPY: u32 = 0x4000_0BAD;
/// IDB options read (draft-ietf-opsawg-pcapng, Interface Description Block).
pub(super) const OPT_END: u16 = 0;
pub(super) const IF_TSRESOL: u16 = 9;
pub(super) const IF_TSOFFSET: u16 = 14;
/// `opt_comment`, in any block's options.
pub(super) const OPT_COMMENT: u16 = 1;
/// if_tsresol when the option is absent: microseconds.
pub(super) const DEFAULT_TSRESOL: u8 = 6;

impl<R: Read> CaptureReader<R> {
    /// Frames the first Section Header Block, whose magic is in `buf`;
    /// [`Self::next_pcapng`] then reads it like any later one.
    pub(super) fn start_pcapng(&mut self) -> Result<(), CaptureError> {
        self.frame_block().map_err(|problem| match problem {
            Damage::Truncated { .. } => CaptureError::TruncatedSectionHeader,
            Damage::Io(e) => CaptureError::Read(e),
            Damage::Bad(why) => CaptureError::BadSectionHeader(why),
        })?;
        self.pending_shb = true;
        Ok(())
    }

    /// Frames the pcapng block at `offset` whose first 4 bytes are in
    /// `buf`: checks its lengths (leading and trailing) and leaves its
    /// first [`MAX_BUFFERED`] bytes in `buf` (the trailing length
    /// excluded); the rest of a longer block is read and dropped. A Section
    /// Header Block is read in the byte order of its own magic, any other
    /// block in its section's.
    pub(super) fn frame_block(&mut self) -> Result<Block, Damage> {
        let start = self.offset;
        let is_shb = be32(&self.buf, 0) == SHB;
        // An SHB's byte order is in its own third word.
        let head = if is_shb { 12 } else { 8 };
        let n = self.fill(4, head - 4).map_err(Damage::Io)?;
        if n < head - 4 {
            return Err(Damage::Truncated {
                what: "block header".into(),
                need: head as u64,
                have: (4 + n) as u64,
            });
        }
        let big = if is_shb {
            match be32(&self.buf, 8) {
                BOM_BIG => true,
                BOM_LITTLE => false,
                m => {
                    return Err(Damage::Bad(format!(
                        "section header block at byte offset {start} has byte-order magic {m:#010x}, not 0x1a2b3c4d"
                    )))
                }
            }
        } else {
            match self.format {
                Format::PcapNg { big, .. } => big,
                Format::Pcap { .. } => false,
            }
        };
        let btype = rd32(&self.buf, 0, big);
        let len = rd32(&self.buf, 4, big);
        let bad_len = if len < 12 {
            Some("less than the 12-byte minimum")
        } else if !len.is_multiple_of(4) {
            Some("not a multiple of 4")
        } else if len > MAX_BLOCK_BYTES {
            Some("over the 16 MiB limit")
        } else if is_shb && len < 28 {
            Some("less than a section header's 28 bytes")
        } else {
            None
        };
        if let Some(why) = bad_len {
            return Err(Damage::Bad(format!(
                "block at byte offset {start} (type {btype:#x}) has length {len}, {why}"
            )));
        }
        let len = len as usize;
        let body = len - 4;
        let keep = body.min(MAX_BUFFERED);
        let n = self.fill(head, keep - head).map_err(Damage::Io)?;
        let mut have = (head + n) as u64;
        if head + n < keep {
            return Err(Damage::Truncated {
                what: format!("block of type {btype:#x} ({len} bytes)"),
                need: len as u64,
                have,
            });
        }
        if body > keep {
            let dropped = self.skip((body - keep) as u64).map_err(Damage::Io)?;
            have += dropped;
            if have < body as u64 {
                return Err(Damage::Truncated {
                    what: format!("block of type {btype:#x} ({len} bytes)"),
                    need: len as u64,
                    have,
                });
            }
        }
        let mut trailer = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match self.input.read(&mut trailer[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Damage::Io(e)),
            }
        }
        if got < 4 {
            return Err(Damage::Truncated {
                what: format!("block of type {btype:#x} ({len} bytes)"),
                need: len as u64,
                have: have + got as u64,
            });
        }
        let trail = rd32(&trailer, 0, big);
        if trail != len as u32 {
            return Err(Damage::Bad(format!(
                "block at byte offset {start} (type {btype:#x}) ends with length {trail}, not {len} as it starts"
            )));
        }
        Ok(Block { btype, len, big })
    }

    pub(super) fn next_pcapng(&mut self) -> Step {
        let start = self.offset;
        let block = if self.pending_shb {
            self.pending_shb = false;
            let big = be32(&self.buf, 8) == BOM_BIG;
            let len = rd32(&self.buf, 4, big) as usize;
            Block {
                btype: SHB,
                len,
                big,
            }
        } else {
            match self.fill(0, 4) {
                Ok(0) => return Step::Stop,
                Ok(4) => {}
                Ok(n) => {
                    self.damage(
                        start,
                        Damage::Truncated {
                            what: "block header".into(),
                            need: 8,
                            have: n as u64,
                        },
                    );
                    return Step::Stop;
                }
                Err(e) => {
                    self.damage(start, Damage::Io(e));
                    return Step::Stop;
                }
            }
            match self.frame_block() {
                Ok(b) => b,
                Err(d) => {
                    self.damage(start, d);
                    return Step::Stop;
                }
            }
        };
        self.offset += block.len as u64;
        match block.btype {
            SHB => self.section_header(start, &block),
            IDB => {
                self.interface_description(start, &block);
                Step::Skip
            }
            EPB | PB | SPB => {
                self.number += 1;
                self.packet_block(start, &block)
            }
            // Wireshark numbers these records as frames too; so do we, to
            // cite the same numbers. They carry no packet.
            SYSTEMD_JOURNAL_BLOCK | CUSTOM_BLOCK | CUSTOM_BLOCK_NO_COPY => {
                self.number += 1;
                Step::Skip
            }
            // Name Resolution, Interface Statistics, Decryption Secrets,
            // and block types this reader does not know.
            _ => Step::Skip,
        }
    }

    /// A new section: its own byte order (set by [`Self::frame_block`]) and
    /// no interfaces yet.
    fn section_header(&mut self, start: u64, block: &Block) -> Step {
        let major = rd16(&self.buf, 12, block.big);
        let minor = rd16(&self.buf, 14, block.big);
        if major != 1 {
            self.warn(format!(
                "capture section at byte offset {start} is pcapng version {major}.{minor}, which gotrace cannot read; later packets are not used"
            ));
            return Step::Stop;
        }
        if let Format::PcapNg {
            big,
            ifaces,
            section,
        } = &mut self.format
        {
            *big = block.big;
            ifaces.clear();
            *section += 1;
        }
        Step::Skip
    }

    fn interface_description(&mut self, start: u64, block: &Block) {
        let big = block.big;
        let Format::PcapNg {
            ifaces, section, ..
        } = &self.format
        else {
            return;
        };
        let (id, section) = (ifaces.len() as u32, *section);
        // type 4, length 4, LinkType 2, reserved 2, SnapLen 4, options.
        if block.len < 20 {
            self.warn(format!(
                "capture interface description at byte offset {start} has length {}, less than its 20 bytes of fields; interface {id} is unusable",
                block.len
            ));
            self.push_iface(
                section,
                Iface {
                    link_type: u32::MAX,
                    snaplen: 0,
                    tsresol: DEFAULT_TSRESOL,
                    tsoffset: 0,
                },
            );
            return;
        }
        let link_type = u32::from(rd16(&self.buf, 8, big));
        let snaplen = rd32(&self.buf, 12, big);
        let mut iface = Iface {
            link_type,
            snaplen,
            tsresol: DEFAULT_TSRESOL,
            tsoffset: 0,
        };
        let end = self.buf.len();
        let mut at = 16;
        // Each option: code 2, length 2, value padded to 4 bytes.
        while at + 4 <= end {
            let code = rd16(&self.buf, at, big);
            let olen = usize::from(rd16(&self.buf, at + 2, big));
            if code == OPT_END {
                break;
            }
            let value = at + 4;
            if value + olen > end {
                self.warn(format!(
                    "capture interface description at byte offset {start}: option {code} at byte {at} of the block runs past its end; the options after it are ignored"
                ));
                break;
            }
            match (code, olen) {
                (IF_TSRESOL, 1) => iface.tsresol = self.buf[value],
                (IF_TSOFFSET, 8) => {
                    // A 64-bit integer in the section's byte order.
                    let first = u64::from(rd32(&self.buf, value, big));
                    let second = u64::from(rd32(&self.buf, value + 4, big));
                    let v = if big {
                        (first << 32) | second
                    } else {
                        (second << 32) | first
                    };
                    iface.tsoffset = v as i64;
                }
                _ => {}
            }
            at = value + ((olen + 3) & !3);
        }
        self.push_iface(section, iface);
    }

    fn push_iface(&mut self, section: u32, iface: Iface) {
        let lt = iface.link_type;
        let id = if let Format::PcapNg { ifaces, .. } = &mut self.format {
            ifaces.push(iface);
            ifaces.len() as u32 - 1
        } else {
            0
        };
        if lt != u32::MAX {
            self.note_link_type(section, id, lt);
        }
    }

    /// An Enhanced, Simple or obsolete Packet Block whose number is
    /// already counted.
    fn packet_block(&mut self, start: u64, block: &Block) -> Step {
        let big = block.big;
        let number = self.number;
        let (fixed, name) = match block.btype {
            EPB => (28, "enhanced packet block"),
            PB => (28, "packet block"),
            _ => (12, "simple packet block"),
        };
        if block.len < fixed + 4 {
            self.warn(format!(
                "capture {name} at byte offset {start} (packet {number}) has length {}, less than the {} bytes of its fields; skipped",
                block.len,
                fixed + 4
            ));
            return Step::Skip;
        }
        // Room for packet data (and padding, and options) in the block.
        let room = block.len - 4 - fixed;
        let (iface, raw_ts, caplen, orig) = match block.btype {
            // type 4, length 4, interface 4, timestamp high 4, low 4,
            // captured length 4, original length 4, data.
            EPB => {
                let ts = (u64::from(rd32(&self.buf, 12, big)) << 32)
                    | u64::from(rd32(&self.buf, 16, big));
                (
                    rd32(&self.buf, 8, big),
                    Some(ts),
                    rd32(&self.buf, 20, big),
                    rd32(&self.buf, 24, big),
                )
            }
            // type 4, length 4, interface 2, drops 2, timestamp high 4,
            // low 4, captured length 4, original length 4, data.
            PB => {
                let ts = (u64::from(rd32(&self.buf, 12, big)) << 32)
                    | u64::from(rd32(&self.buf, 16, big));
                (
                    u32::from(rd16(&self.buf, 8, big)),
                    Some(ts),
                    rd32(&self.buf, 20, big),
                    rd32(&self.buf, 24, big),
                )
            }
            // type 4, length 4, original length 4, data: the captured
            // length is the smallest of the original length, interface
            // 0's snaplen and the room in the block.
            _ => {
                let orig = rd32(&self.buf, 8, big);
                let mut cap = orig.min(room as u32);
                if let Format::PcapNg { ifaces, .. } = &self.format {
                    if let Some(i) = ifaces.first() {
                        if i.snaplen > 0 {
                            cap = cap.min(i.snaplen);
                        }
                    }
                }
                (0, None, cap, orig)
            }
        };
        let mut len = caplen as usize;
        if len > room {
            self.warn(format!(
                "capture {name} at byte offset {start} (packet {number}) claims {caplen} captured bytes but the block holds {room}; using those"
            ));
            len = room;
        }
        let (section, found) = match &self.format {
            Format::PcapNg {
                ifaces, section, ..
            } => (*section, ifaces.get(iface as usize).cloned()),
            Format::Pcap { .. } => (0, None),
        };
        if let Some(i) = &found {
            if i.snaplen > 0 && len > i.snaplen as usize && !self.warned_snaplen {
                self.warned_snaplen = true;
                self.warn(format!(
                    "capture {name} at byte offset {start} (packet {number}) has {len} captured bytes, more than interface {iface}'s snaplen {}; used as they are",
                    i.snaplen
                ));
            }
        }
        len = self.cap_packet(start, number, len);
        let (link_type, realtime_ns) = match found {
            Some(i) => (
                i.link_type,
                raw_ts.and_then(|t| ts_to_ns(t, i.tsresol, i.tsoffset)),
            ),
            None => {
                if !self.warned_ifaces.contains(&(section, iface)) {
                    self.warned_ifaces.push((section, iface));
                    self.warn(format!(
                        "capture packet {number} at byte offset {start} refers to interface {}which no interface block declared; such packets are skipped",
                        iface_name(section, iface)
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
            original_len: orig,
            process_comment: &[],
        };
        // `buf` holds at most MAX_BUFFERED bytes of the block: a packet cut
        // by that bound was warned about in `cap_packet`.
        let end = (fixed + len).min(self.buf.len());
        let comment = match block.btype {
            EPB => self.process_comment(block, fixed + caplen as usize),
            _ => 0..0,
        };
        Step::Packet(frame, fixed.min(end)..end, comment)
    }

    /// Where in `buf` the first `opt_comment` starting with `PID: ` of the
    /// EPB in `buf` is; options start after the packet data (`data_end`,
    /// padded to 4 bytes) and run to the block's trailing length. An empty
    /// range when there is none or the options are not all in `buf`.
    fn process_comment(&self, block: &Block, data_end: usize) -> Range<usize> {
        let end = block.len.saturating_sub(4).min(self.buf.len());
        let mut at = data_end.div_ceil(4).saturating_mul(4);
        while at + 4 <= end {
            let code = rd16(&self.buf, at, block.big);
            let len = usize::from(rd16(&self.buf, at + 2, block.big));
            let value = at + 4..at + 4 + len;
            if code == OPT_END || value.end > end {
                break;
            }
            if code == OPT_COMMENT && self.buf[value.clone()].starts_with(b"PID: ") {
                return value;
            }
            at = value.start + len.div_ceil(4) * 4;
        }
        0..0
    }
}

/// A framed pcapng block; its first bytes are in the reader's buffer.
pub(super) struct Block {
    /// Block type, in the section's byte order.
    pub(super) btype: u32,
    /// Block Total Length, bytes (checked: >= 12, a multiple of 4, at
    /// most [`MAX_BLOCK_BYTES`], equal to the trailing copy).
    pub(super) len: usize,
    /// Byte order of its section.
    pub(super) big: bool,
}

/// Converts a pcapng timestamp in interface units to ns since the epoch.
/// `tsresol` bit 7 clear: 10^-n s units; set: 2^-n s units
/// (draft-ietf-opsawg-pcapng, if_tsresol). `tsoffset_s` is if_tsoffset.
pub(super) fn ts_to_ns(raw: u64, tsresol: u8, tsoffset_s: i64) -> Option<i64> {
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
