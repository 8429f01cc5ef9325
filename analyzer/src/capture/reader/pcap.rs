//! Classic pcap framing (draft-ietf-opsawg-pcap): the file header
//! (both byte orders, microsecond and nanosecond magic) and its records.

use std::io::Read;

use super::{rd32, CaptureError, CaptureReader, Damage, Format, Frame, Step, MAX_BLOCK_BYTES};

/// Classic pcap magic numbers, as read big-endian: microsecond and
/// nanosecond timestamps, each in the writer's byte order.
pub(super) const PCAP_MICRO: u32 = 0xA1B2_C3D4;
pub(super) const PCAP_NANO: u32 = 0xA1B2_3C4D;
pub(super) const PCAP_MICRO_SWAPPED: u32 = 0xD4C3_B2A1;
pub(super) const PCAP_NANO_SWAPPED: u32 = 0x4D3C_B2A1;
/// Classic pcap file header and record header sizes (bytes).
pub(super) const PCAP_HEADER: usize = 24;
pub(super) const PCAP_RECORD_HEADER: usize = 16;

/// Whether `magic` (the first four bytes, read big-endian) starts a
/// classic pcap file.
pub(super) fn is_magic(magic: u32) -> bool {
    matches!(
        magic,
        PCAP_MICRO | PCAP_NANO | PCAP_MICRO_SWAPPED | PCAP_NANO_SWAPPED
    )
}

impl<R: Read> CaptureReader<R> {
    /// Reads the rest of the file header whose `magic` is in `buf`: byte
    /// order, timestamp unit, snaplen and link type.
    pub(super) fn start_pcap(&mut self, magic: u32) -> Result<(), CaptureError> {
        let n = self.fill(4, PCAP_HEADER - 4).map_err(CaptureError::Read)?;
        if n < PCAP_HEADER - 4 {
            return Err(CaptureError::TruncatedPcapHeader);
        }
        let big = matches!(magic, PCAP_MICRO | PCAP_NANO);
        let nanos = matches!(magic, PCAP_NANO | PCAP_NANO_SWAPPED);
        // Bytes 4..16: version, thiszone, sigfigs (unused).
        let snaplen = rd32(&self.buf, 16, big);
        // The upper bits of the link type field carry FCS
        // information (draft-ietf-opsawg-pcap, LinkType).
        let link_type = rd32(&self.buf, 20, big) & 0xFFFF;
        self.offset = PCAP_HEADER as u64;
        self.format = Format::Pcap {
            big,
            nanos,
            link_type,
            snaplen,
        };
        self.note_link_type(0, 0, link_type);
        Ok(())
    }

    pub(super) fn next_pcap(&mut self) -> Step {
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
            process_comment: &[],
        };
        Step::Packet(frame, PCAP_RECORD_HEADER..PCAP_RECORD_HEADER + keep, 0..0)
    }
}
