//! Streaming reader for pcapng and classic pcap files.
//!
//! Formats: pcapng (draft-ietf-opsawg-pcapng): any number of sections, each
//! with its own byte order and interfaces (each with its own link type,
//! `if_tsresol` and `if_tsoffset`); Enhanced, Simple and obsolete Packet
//! Blocks are packets, every other block is skipped. Classic pcap
//! (draft-ietf-opsawg-pcap): both byte orders, microsecond (`0xA1B2C3D4`)
//! and nanosecond (`0xA1B23C4D`) magic.
//!
//! Blocks and records are framed here, with their byte offsets, so a file
//! cut short or damaged mid-way still yields every whole packet before the
//! damage, and every warning names the byte offset where it was found.
//! Memory is bounded whatever the file and whatever its length fields say:
//! at most [`MAX_PACKET_BYTES`] of a packet (plus its block's fixed fields)
//! is kept, the rest of an over-long block is read and dropped, and at most
//! [`MAX_WARNINGS`] warnings are kept. Packet numbers count every packet
//! block in file order from 1, as Wireshark numbers frames.

use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::Range;
use std::path::Path;

use super::link;
use crate::error::AnalyzeError;

/// Largest block or record length accepted (bytes); a longer length is
/// corruption, not data (Wireshark's pcapng reader has the same 16 MiB cap).
pub const MAX_BLOCK_BYTES: u32 = 16 << 20;
/// Most bytes of one packet kept (262144, libpcap's `MAXIMUM_SNAPLEN` and
/// Wireshark's `WTAP_MAX_PACKET_SIZE_STANDARD`); a longer packet is cut
/// there, as a snaplen would cut it.
pub const MAX_PACKET_BYTES: usize = 256 << 10;
/// Warnings kept per file; past this one line says the rest were dropped.
pub const MAX_WARNINGS: usize = 32;
/// Block bytes buffered at most: the fixed fields of the largest packet
/// block (28 bytes) plus [`MAX_PACKET_BYTES`], padded.
const MAX_BUFFERED: usize = MAX_PACKET_BYTES + 32;

/// pcapng Section Header Block type (a byte palindrome, any endianness).
const SHB: u32 = 0x0A0D_0D0A;
/// pcapng byte-order magic, as read big-endian.
const BOM_BIG: u32 = 0x1A2B_3C4D;
const BOM_LITTLE: u32 = 0x4D3C_2B1A;
/// Interface Description Block.
const IDB: u32 = 0x0000_0001;
/// Packet Block (obsolete).
const PB: u32 = 0x0000_0002;
/// Simple Packet Block.
const SPB: u32 = 0x0000_0003;
/// Enhanced Packet Block.
const EPB: u32 = 0x0000_0006;
/// Systemd Journal Export Block: a record, not a packet.
const SYSTEMD_JOURNAL_BLOCK: u32 = 0x0000_0009;
/// Custom Blocks, copyable and not.
const CUSTOM_BLOCK: u32 = 0x0000_0BAD;
const CUSTOM_BLOCK_NO_COPY: u32 = 0x4000_0BAD;
/// IDB options read (draft-ietf-opsawg-pcapng, Interface Description Block).
const OPT_END: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;
/// if_tsresol when the option is absent: microseconds.
const DEFAULT_TSRESOL: u8 = 6;

/// Classic pcap magic numbers, as read big-endian: microsecond and
/// nanosecond timestamps, each in the writer's byte order.
const PCAP_MICRO: u32 = 0xA1B2_C3D4;
const PCAP_NANO: u32 = 0xA1B2_3C4D;
const PCAP_MICRO_SWAPPED: u32 = 0xD4C3_B2A1;
const PCAP_NANO_SWAPPED: u32 = 0x4D3C_B2A1;
/// Classic pcap file header and record header sizes (bytes).
const PCAP_HEADER: usize = 24;
const PCAP_RECORD_HEADER: usize = 16;

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based packet number over all packet blocks in file order.
    pub number: u64,
    /// pcapng interface id within its section (0 for classic pcap).
    pub interface: u32,
    /// LINKTYPE_* of the interface (`u32::MAX` if the interface is undeclared).
    pub link_type: u32,
    /// Capture time, CLOCK_REALTIME ns since the Unix epoch; `None` for
    /// Simple Packet Blocks (they carry no time) or unrepresentable values.
    pub realtime_ns: Option<i64>,
    /// Captured bytes, starting with the link-layer header (at most
    /// [`MAX_PACKET_BYTES`]).
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
        /// Byte order of the current section.
        big: bool,
        /// Interfaces of the current section, by id.
        ifaces: Vec<Iface>,
        /// Sections seen (1 for the first).
        section: u32,
    },
    Pcap {
        big: bool,
        nanos: bool,
        link_type: u32,
        snaplen: u32,
    },
}

/// What the next block or record turned out to be.
enum Step {
    /// A packet: its frame (data empty) and where its bytes are in `buf`.
    Packet(Frame<'static>, Range<usize>),
    /// Nothing to hand out (an interface, statistics, a skipped block).
    Skip,
    /// The end: clean, truncated or damaged (then a warning says so).
    Stop,
}

/// A streaming capture reader over any [`Read`].
#[derive(Debug)]
pub struct CaptureReader<R> {
    input: R,
    /// Bytes consumed so far (offset of the next block or record).
    offset: u64,
    format: Format,
    /// The current block or record, at most [`MAX_BUFFERED`] bytes of it.
    buf: Vec<u8>,
    number: u64,
    done: bool,
    /// The first SHB was framed by `new` and is still in `buf`.
    pending_shb: bool,
    warnings: Vec<String>,
    warnings_dropped: bool,
    /// (section, interface) pairs already warned about.
    warned_ifaces: Vec<(u32, u32)>,
    warned_snaplen: bool,
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
    /// Starts reading: checks the magic and reads the first header (the
    /// pcap file header, or the whole first Section Header Block).
    ///
    /// # Errors
    /// A description of the problem when the input is empty, unreadable,
    /// neither pcapng nor pcap, or cut or damaged inside that first header.
    pub fn new(input: R) -> Result<Self, String> {
        let mut r = CaptureReader {
            input,
            offset: 0,
            format: Format::PcapNg {
                big: false,
                ifaces: Vec::new(),
                section: 0,
            },
            buf: Vec::new(),
            number: 0,
            done: false,
            pending_shb: false,
            warnings: Vec::new(),
            warnings_dropped: false,
            warned_ifaces: Vec::new(),
            warned_snaplen: false,
        };
        let n = r.fill(0, 4).map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            return Err("empty file".into());
        }
        if n < 4 {
            return Err(format!("only {n} bytes, too short for a capture"));
        }
        match be32(&r.buf, 0) {
            SHB => {
                // Framed like any block; `next_frame` then handles it.
                if let Err(problem) = r.frame_block() {
                    return Err(match problem {
                        Damage::Truncated { .. } => {
                            "truncated inside its first section header block".to_string()
                        }
                        Damage::Io(e) => format!("read error: {e}"),
                        Damage::Bad(why) => why,
                    });
                }
                r.pending_shb = true;
                Ok(r)
            }
            magic @ (PCAP_MICRO | PCAP_NANO | PCAP_MICRO_SWAPPED | PCAP_NANO_SWAPPED) => {
                let n = r
                    .fill(4, PCAP_HEADER - 4)
                    .map_err(|e| format!("read error: {e}"))?;
                if n < PCAP_HEADER - 4 {
                    return Err("truncated inside the pcap file header".into());
                }
                let big = matches!(magic, PCAP_MICRO | PCAP_NANO);
                let nanos = matches!(magic, PCAP_NANO | PCAP_NANO_SWAPPED);
                // Bytes 4..16: version, thiszone, sigfigs (unused).
                let snaplen = rd32(&r.buf, 16, big);
                // The upper bits of the link type field carry FCS
                // information (draft-ietf-opsawg-pcap, LinkType).
                let link_type = rd32(&r.buf, 20, big) & 0xFFFF;
                r.offset = PCAP_HEADER as u64;
                r.format = Format::Pcap {
                    big,
                    nanos,
                    link_type,
                    snaplen,
                };
                r.note_link_type(0, 0, link_type);
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

    /// Problems met so far (truncation, damaged blocks, unsupported links),
    /// each naming the byte offset where it was found.
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

    /// Bytes of the file consumed so far: the offset of the next block.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next packet, or `None` at the end of the file or at damage that
    /// loses the framing (then a warning says where). Damage confined to
    /// one block (a packet block too short for its fields) skips that block
    /// with a warning and goes on.
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        loop {
            if self.done {
                return None;
            }
            let step = match self.format {
                Format::PcapNg { .. } => self.next_pcapng(),
                Format::Pcap { .. } => self.next_pcap(),
            };
            match step {
                Step::Packet(meta, range) => {
                    let data = self.buf.get(range).unwrap_or(&[]);
                    return Some(Frame { data, ..meta });
                }
                Step::Skip => {}
                Step::Stop => {
                    self.done = true;
                    return None;
                }
            }
        }
    }

    /// Keeps a warning, up to [`MAX_WARNINGS`].
    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else if !self.warnings_dropped {
            self.warnings_dropped = true;
            self.warnings.push(format!(
                "capture: more than {MAX_WARNINGS} problems; the rest are not listed"
            ));
        }
    }

    /// Reads up to `n` bytes into `buf[at..at+n]`; returns how many arrived.
    /// The buffer grows with the data actually read (never past
    /// `at + n`, and callers keep that under [`MAX_BUFFERED`]), so a lying
    /// length field in a short file costs nothing.
    fn fill(&mut self, at: usize, n: usize) -> std::io::Result<usize> {
        self.buf.truncate(at);
        let want = u64::try_from(n).unwrap_or(u64::MAX);
        (&mut self.input).take(want).read_to_end(&mut self.buf)
    }

    /// Reads and drops `n` bytes; returns how many there were.
    fn skip(&mut self, n: u64) -> std::io::Result<u64> {
        std::io::copy(&mut (&mut self.input).take(n), &mut std::io::sink())
    }

    fn note_link_type(&mut self, section: u32, iface: u32, link_type: u32) {
        if link::supported(link_type) || self.warned_ifaces.contains(&(section, iface)) {
            return;
        }
        self.warned_ifaces.push((section, iface));
        self.warn(format!(
            "capture interface {}has link type {}, which gotrace cannot decode; its packets are skipped",
            iface_name(section, iface),
            link::describe(link_type)
        ));
    }

    /// Frames the pcapng block at `offset` whose first 4 bytes are in
    /// `buf`: checks its lengths (leading and trailing) and leaves its
    /// first [`MAX_BUFFERED`] bytes in `buf` (the trailing length
    /// excluded); the rest of a longer block is read and dropped. A Section
    /// Header Block is read in the byte order of its own magic, any other
    /// block in its section's.
    fn frame_block(&mut self) -> Result<Block, Damage> {
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

    fn next_pcapng(&mut self) -> Step {
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

    /// Records a framing problem found at byte offset `start`.
    fn damage(&mut self, start: u64, d: Damage) {
        let w = match d {
            Damage::Truncated { what, need, have } => format!(
                "capture truncated at byte offset {start}: the {what} there needs {need} bytes but the file has {have} (capture cut short?); packets from there on are lost"
            ),
            Damage::Io(e) => format!("capture read error at byte offset {start}: {e}"),
            Damage::Bad(why) => format!(
                "capture {why}: the file is damaged there; later packets are not used"
            ),
        };
        self.warn(w);
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
        };
        // `buf` holds at most MAX_BUFFERED bytes of the block: a packet cut
        // by that bound was warned about in `cap_packet`.
        let end = (fixed + len).min(self.buf.len());
        Step::Packet(frame, fixed.min(end)..end)
    }

    /// Bounds a packet's captured length to [`MAX_PACKET_BYTES`], with a
    /// warning when it was longer.
    fn cap_packet(&mut self, start: u64, number: u64, len: usize) -> usize {
        if len > MAX_PACKET_BYTES {
            self.warn(format!(
                "capture packet {number} at byte offset {start} has {len} captured bytes, more than the {MAX_PACKET_BYTES} gotrace reads; only the first {MAX_PACKET_BYTES} are used"
            ));
            return MAX_PACKET_BYTES;
        }
        len
    }

    fn next_pcap(&mut self) -> Step {
        let Format::Pcap {
            big,
            nanos,
            link_type,
            snaplen,
        } = self.format
        else {
            return Step::Stop;
        };
        let start = self.offset;
        match self.fill(0, PCAP_RECORD_HEADER) {
            Ok(0) => return Step::Stop,
            Ok(PCAP_RECORD_HEADER) => {}
            Ok(n) => {
                self.damage(
                    start,
                    Damage::Truncated {
                        what: "record header".into(),
                        need: PCAP_RECORD_HEADER as u64,
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
        // ts seconds 4, ts fraction 4, captured length 4, original length 4.
        let sec = u64::from(rd32(&self.buf, 0, big));
        let frac = u64::from(rd32(&self.buf, 4, big));
        let incl = rd32(&self.buf, 8, big);
        let orig = rd32(&self.buf, 12, big);
        if incl > MAX_BLOCK_BYTES {
            self.warn(format!(
                "capture record at byte offset {start} claims {incl} captured bytes: corrupt (over the 16 MiB limit); later packets are not used"
            ));
            return Step::Stop;
        }
        self.number += 1;
        let number = self.number;
        if snaplen > 0 && incl > snaplen && !self.warned_snaplen {
            self.warned_snaplen = true;
            self.warn(format!(
                "capture record at byte offset {start} (packet {number}) has {incl} captured bytes, more than the file's snaplen {snaplen}; used as they are"
            ));
        }
        let keep = self.cap_packet(start, number, incl as usize);
        let mut have = match self.fill(PCAP_RECORD_HEADER, keep) {
            Ok(n) => n as u64,
            Err(e) => {
                self.damage(start, Damage::Io(e));
                return Step::Stop;
            }
        };
        if have == keep as u64 && u64::from(incl) > have {
            match self.skip(u64::from(incl) - have) {
                Ok(n) => have += n,
                Err(e) => {
                    self.damage(start, Damage::Io(e));
                    return Step::Stop;
                }
            }
        }
        if have < u64::from(incl) {
            // The cut record is not a packet (tshark does not count it).
            self.number -= 1;
            self.damage(
                start,
                Damage::Truncated {
                    what: "record".into(),
                    need: PCAP_RECORD_HEADER as u64 + u64::from(incl),
                    have: PCAP_RECORD_HEADER as u64 + have,
                },
            );
            return Step::Stop;
        }
        self.offset += (PCAP_RECORD_HEADER as u64) + u64::from(incl);
        // Invalid fractions (>= 1 s) are kept as written: times are only
        // ever compared, never used to index.
        let ns = sec
            .checked_mul(1_000_000_000)
            .and_then(|s| s.checked_add(if nanos { frac } else { frac * 1000 }))
            .and_then(|v| i64::try_from(v).ok());
        let frame = Frame {
            number,
            interface: 0,
            link_type,
            realtime_ns: ns,
            data: &[],
            original_len: orig,
        };
        Step::Packet(frame, PCAP_RECORD_HEADER..PCAP_RECORD_HEADER + keep)
    }
}

/// A framed pcapng block; its first bytes are in the reader's buffer.
struct Block {
    /// Block type, in the section's byte order.
    btype: u32,
    /// Block Total Length, bytes (checked: >= 12, a multiple of 4, at
    /// most [`MAX_BLOCK_BYTES`], equal to the trailing copy).
    len: usize,
    /// Byte order of its section.
    big: bool,
}

/// Why framing stopped.
enum Damage {
    /// The file ends inside `what`, which needs `need` bytes from its start.
    Truncated { what: String, need: u64, have: u64 },
    /// A read error.
    Io(std::io::Error),
    /// A length or magic that cannot be right (the description, with the
    /// byte offset).
    Bad(String),
}

/// `2 ` or `0 of section 2 ` (with the trailing space), for warnings.
fn iface_name(section: u32, iface: u32) -> String {
    if section > 1 {
        format!("{iface} of section {section} ")
    } else {
        format!("{iface} ")
    }
}

/// Converts a pcapng timestamp in interface units to ns since the epoch.
/// `tsresol` bit 7 clear: 10^-n s units; set: 2^-n s units
/// (draft-ietf-opsawg-pcapng, if_tsresol). `tsoffset_s` is if_tsoffset.
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
    if let Some(s) = b.get(at..at.saturating_add(4)) {
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
    if let Some(s) = b.get(at..at.saturating_add(2)) {
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
        assert_eq!(CaptureReader::new(&b""[..]).unwrap_err(), "empty file");
        assert!(CaptureReader::new(&b"hello world, not a capture"[..])
            .unwrap_err()
            .starts_with("not a pcapng or pcap file (starts with 68 65 6c 6c)"));
        assert_eq!(
            CaptureReader::new(&[0x0a, 0x0d, 0x0d, 0x0a, 0xff][..]).unwrap_err(),
            "truncated inside its first section header block"
        );
        let (ng, _) = three_packets(false);
        let mut bad_bom = ng.out.clone();
        bad_bom[8] = 0x77;
        assert!(CaptureReader::new(&bad_bom[..])
            .unwrap_err()
            .contains("byte-order magic"));
        assert_eq!(
            CaptureReader::new(&ng.out[..20]).unwrap_err(),
            "truncated inside its first section header block"
        );
        let pcap = PCAP_MICRO.to_le_bytes();
        assert_eq!(
            CaptureReader::new(&pcap[..]).unwrap_err(),
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
}
