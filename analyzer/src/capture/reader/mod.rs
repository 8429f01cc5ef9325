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

mod pcap;
mod pcapng;
#[cfg(test)]
mod tests;

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

/// Why a capture cannot be read at all: its start is not a usable pcap or
/// pcapng header. Damage after that start is a warning instead
/// ([`CaptureReader::warnings`]).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Reading the input failed.
    #[error("read error: {0}")]
    Read(#[source] std::io::Error),
    /// The input holds no byte.
    #[error("empty file")]
    Empty,
    /// Fewer bytes than a magic number.
    #[error("only {bytes} bytes, too short for a capture")]
    TooShort {
        /// Bytes the input held.
        bytes: usize,
    },
    /// The input ends inside the first pcapng Section Header Block.
    #[error("truncated inside its first section header block")]
    TruncatedSectionHeader,
    /// The first Section Header Block has a length or byte-order magic
    /// that cannot be right.
    #[error("{0}")]
    BadSectionHeader(
        /// What is wrong, with its byte offset.
        String,
    ),
    /// The input ends inside the 24-byte pcap file header.
    #[error("truncated inside the pcap file header")]
    TruncatedPcapHeader,
    /// The first four bytes are neither pcapng's nor pcap's magic.
    #[error("not a pcapng or pcap file (starts with {:02x} {:02x} {:02x} {:02x})", head[0], head[1], head[2], head[3])]
    NotACapture {
        /// The first four bytes.
        head: [u8; 4],
    },
}

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
    /// The packet's first `opt_comment` that starts with `PID: `, as
    /// gotrace and ptcpdump write them (`PID: 42\nCmd: go...`); empty
    /// when there is none (always for pcap).
    pub process_comment: &'a [u8],
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
    /// A packet: its frame (data and comment empty), where its bytes are
    /// in `buf`, and where its `PID: ` comment is (an empty range: none).
    Packet(Frame<'static>, Range<usize>, Range<usize>),
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
    /// [`CaptureError`] when the input is empty, unreadable, neither pcapng
    /// nor pcap, or cut or damaged inside that first header.
    pub fn new(input: R) -> Result<Self, CaptureError> {
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
        let n = r.fill(0, 4).map_err(CaptureError::Read)?;
        if n == 0 {
            return Err(CaptureError::Empty);
        }
        if n < 4 {
            return Err(CaptureError::TooShort { bytes: n });
        }
        match be32(&r.buf, 0) {
            pcapng::SHB => {
                r.start_pcapng()?;
                Ok(r)
            }
            magic if pcap::is_magic(magic) => {
                r.start_pcap(magic)?;
                Ok(r)
            }
            _ => {
                let b = |i: usize| r.buf.get(i).copied().unwrap_or(0);
                Err(CaptureError::NotACapture {
                    head: [b(0), b(1), b(2), b(3)],
                })
            }
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
                Step::Packet(meta, range, comment) => {
                    let data = self.buf.get(range).unwrap_or(&[]);
                    let process_comment = self.buf.get(comment).unwrap_or(&[]);
                    return Some(Frame {
                        data,
                        process_comment,
                        ..meta
                    });
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
