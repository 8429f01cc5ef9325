//! Writes the synthetic capture: [`CONCURRENCY`] sessions in flight at a
//! time, their packets merged in time order and written as pcapng
//! Enhanced Packet Blocks as they are built. Memory is the planned
//! sessions (packet descriptors, not bytes), whatever the file size.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::Write;
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness};

use super::mix::Mix;
use super::packets;
use super::payloads::{self, Pool};
use super::plan::{Body, Pkt, Planned, MS, US};
use super::prng::Rng;
use super::sessions::Planner;

/// The fixed seed: the same size gives the same file, byte for byte.
pub const SEED: u64 = 0x676f_7472_6163_6535;
/// Sessions in flight at once (so the file holds this many live flows
/// and more, as a busy client host or a proxy's uplink would).
pub const CONCURRENCY: usize = 64;
/// Capture start: 2025-06-02T09:00:00Z (ns since the Unix epoch).
const EPOCH_NS: u64 = 1_748_854_800 * 1_000_000_000;
/// Snap length declared for the interface (bytes), as tcpdump's default.
const SNAPLEN: u32 = 262_144;

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// File size (bytes).
    pub file_bytes: u64,
    /// Packets (Enhanced Packet Blocks).
    pub packets: u64,
    /// Of which full-size 1514-byte frames.
    pub full_frames: u64,
    /// Capture time from the first to the last packet (ns).
    pub span_ns: u64,
    /// Flows, sessions and failures.
    pub mix: Mix,
}

/// Writes a capture of at least `target_bytes` (bytes) to `out`: sessions
/// are started until that size is reached, then the ones in flight are
/// finished, so no flow is cut. `stop` is polled now and then; when it
/// returns true the capture ends early with an error.
///
/// # Errors
/// Write errors (with what was being written) and `stop`.
pub fn generate<W: Write>(
    target_bytes: u64,
    out: W,
    mut progress: impl FnMut(u64),
    stop: impl Fn() -> bool,
) -> Result<(Summary, W), String> {
    let io = |e: pcap_file::PcapError| format!("writing the capture: {e}");
    // Little-endian whatever the host, so the file is the same everywhere.
    let mut w = PcapNgWriter::with_endianness(out, Endianness::Little).map_err(io)?;
    // The writer has written the Section Header Block: 28 bytes, no options.
    let mut sum = Summary {
        file_bytes: 28,
        ..Summary::default()
    };
    let idb = InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: SNAPLEN,
        options: vec![
            InterfaceDescriptionOption::IfName(Cow::Borrowed("eth0")),
            InterfaceDescriptionOption::IfTsResol(9),
        ],
    };
    sum.file_bytes += w.write_pcapng_block(idb).map_err(io)? as u64;

    let mut rng = Rng::new(SEED);
    let pool = Pool::new(&mut rng);
    let mut planner = Planner::new(rng);
    let mut slots: Vec<VecDeque<Planned>> = Vec::with_capacity(CONCURRENCY);
    let mut heap = BinaryHeap::new();
    for slot in 0..CONCURRENCY {
        let start = planner.rng().range(0, 2 * MS);
        let q = planner.session(start);
        if let Some(p) = q.front() {
            heap.push(Reverse((p.at_ns, slot)));
        }
        slots.push(q);
    }
    let mut frame = Vec::with_capacity(2048);
    let mut payload = Vec::with_capacity(2048);
    let mut quoted = Vec::with_capacity(2048);
    let mut first = None;
    while let Some(Reverse((at, slot))) = heap.pop() {
        let Some(p) = slots[slot].pop_front() else {
            continue;
        };
        build(&p.pkt, &pool, &mut frame, &mut payload, &mut quoted)?;
        let len = frame.len() as u32;
        let block = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(EPOCH_NS + at),
            original_len: len,
            data: Cow::Borrowed(&frame),
            options: vec![],
        };
        sum.file_bytes += w.write_pcapng_block(block).map_err(io)? as u64;
        sum.packets += 1;
        sum.full_frames += u64::from(len == 1514);
        first.get_or_insert(at);
        sum.span_ns = at - first.unwrap_or(at);
        if sum.packets.is_multiple_of(8192) {
            progress(sum.file_bytes);
            if stop() {
                return Err("interrupted while writing the capture".into());
            }
        }
        if let Some(next) = slots[slot].front() {
            heap.push(Reverse((next.at_ns, slot)));
        } else if sum.file_bytes < target_bytes {
            let start = at + planner.rng().range(50 * US, 3 * MS);
            slots[slot] = planner.session(start);
            if let Some(next) = slots[slot].front() {
                heap.push(Reverse((next.at_ns, slot)));
            }
        }
    }
    progress(sum.file_bytes);
    sum.mix = planner.mix;
    Ok((sum, w.into_inner()))
}

/// Builds the Ethernet frame of `pkt` into `frame` (`payload` and
/// `quoted` are scratch buffers).
fn build(
    pkt: &Pkt,
    pool: &Pool,
    frame: &mut Vec<u8>,
    payload: &mut Vec<u8>,
    quoted: &mut Vec<u8>,
) -> Result<(), String> {
    match pkt {
        Pkt::Tcp(seg, body) => {
            body_bytes(body, pool, payload);
            packets::tcp_frame(frame, seg, payload)
        }
        Pkt::Udp { src, dst, body } => {
            body_bytes(body, pool, payload);
            packets::udp_frame(frame, *src, *dst, payload)
        }
        Pkt::IcmpUnreachable {
            from,
            to,
            code,
            quoted: q,
        } => {
            let mut inner = Vec::new();
            build(q, pool, quoted, payload, &mut inner)?;
            packets::icmp_unreachable_frame(frame, *from, *to, *code, quoted)
        }
    }
}

fn body_bytes(body: &Body, pool: &Pool, out: &mut Vec<u8>) {
    out.clear();
    match body {
        Body::Empty => {}
        Body::Static(b) => out.extend_from_slice(b),
        Body::Owned(b) => out.extend_from_slice(b),
        Body::Stream {
            stream,
            off,
            len,
            salt,
        } => payloads::fill(out, pool, *stream, *off, usize::from(*len), *salt),
    }
}
