//! Rewriting the finished capture.pcapng with what the analysis learnt
//! about each packet ([`gotrace_analyzer::annotate`]): `opt_comment`s
//! (ptcpdump's `PID:`/`Cmd:`/`Args:` first, then gotrace's lines) and
//! `epb_processid_threadid` on every packet tied to a traced socket.
//! Blocks, their order and so every packet number stay as they were:
//! the verdict's packet numbers still point at the same frames.

use std::borrow::Cow;
use std::io::{Read, Write};

use gotrace_analyzer::annotate::{PacketNote, PacketNotes};
use pcap_file::pcapng::blocks::section_header::SectionHeaderOption;
use pcap_file::pcapng::{PcapNgReader, PcapNgWriter, RawBlock};
use pcap_file::{Endianness, PcapError};

/// Block types that Wireshark numbers as frames (draft-ietf-opsawg-pcapng):
/// Enhanced Packet, Simple Packet and the obsolete Packet Block.
const ENHANCED_PACKET_BLOCK: u32 = 6;
const SIMPLE_PACKET_BLOCK: u32 = 3;
const PACKET_BLOCK: u32 = 2;
/// Option codes: `opt_endofopt`, `opt_comment`, `epb_processid_threadid`
/// (the process ID then the thread ID, each a u32 in the section's byte
/// order, 0 when unknown).
const OPT_ENDOFOPT: u16 = 0;
const OPT_COMMENT: u16 = 1;
const EPB_PROCESSID_THREADID: u16 = 8;
/// An EPB body before its packet data: interface id, timestamp (high,
/// low), captured length, original length.
const EPB_FIXED: usize = 20;

/// The Section Header Block comment saying what the packet comments hold
/// (docs/capture-annotations.md says the same at more length).
const SECTION_COMMENT: &str = "Written by gotrace. Packets of the traced processes carry comments: \
\"PID: <tgid>\\nCmd: <executable>[\\nArgs: <argv>]\" (ptcpdump's keys), \"TID: <tid>\", \
\"gotrace: attempt <n> (<proto> <local> > <peer>)\", \"gotrace: the kernel dropped it: <skb drop reason>\", \
\"gotrace: RST sent by this host: <sk_rst_reason>\", \"gotrace: evidence for <cause>\"; \
and the epb_processid_threadid option. In Wireshark: frame.comment contains \"gotrace\".";

/// Copies the pcapng `src` to `dst`, adding each note of `notes` to its
/// packet (by 1-based packet number over all packet blocks, as Wireshark
/// numbers frames); returns how many packets got a note. Blocks are
/// copied as raw bytes: an annotated EPB keeps its options and gets the
/// new ones after them.
///
/// # Errors
/// The first [`PcapError`] reading or writing a block, or
/// [`PcapError::InvalidField`] for an EPB whose lengths do not fit its
/// block; the caller keeps the original file then.
pub(crate) fn annotate<R: Read, W: Write>(
    src: R,
    dst: W,
    notes: &PacketNotes,
) -> Result<u64, PcapError> {
    let mut reader = PcapNgReader::new(src)?;
    let mut section = reader.section().clone();
    section
        .options
        .push(SectionHeaderOption::Comment(Cow::Borrowed(SECTION_COMMENT)));
    let mut out = PcapNgWriter::with_section_header(dst, section)?;
    let (mut number, mut annotated) = (0u64, 0u64);
    loop {
        // The section in force for the next block (a Section Header Block
        // read last time changed it).
        let endianness = reader.section().endianness;
        let Some(block) = reader.next_raw_block() else {
            break;
        };
        let mut block = block?;
        if matches!(
            block.type_,
            ENHANCED_PACKET_BLOCK | SIMPLE_PACKET_BLOCK | PACKET_BLOCK
        ) {
            number += 1;
        }
        if block.type_ == ENHANCED_PACKET_BLOCK {
            if let Some(note) = notes.get(&number) {
                block = with_note(block, note, endianness)?;
                annotated += 1;
            }
        }
        out.write_raw_block(&block)?;
    }
    out.into_inner().flush().map_err(PcapError::IoError)?;
    Ok(annotated)
}

/// `block` (an EPB) with `note`'s options before its `opt_endofopt`.
fn with_note<'a>(
    block: RawBlock<'_>,
    note: &PacketNote,
    e: Endianness,
) -> Result<RawBlock<'a>, PcapError> {
    let body = &block.body[..];
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = body.get(at..at + 4)?.try_into().ok()?;
        Some(match e {
            Endianness::Little => u32::from_le_bytes(b),
            Endianness::Big => u32::from_be_bytes(b),
        })
    };
    let bad = || PcapError::InvalidField("EnhancedPacketBlock: captured length past the block");
    let caplen = u32_at(12).ok_or_else(bad)? as usize;
    let opts_start = EPB_FIXED
        .checked_add(caplen.div_ceil(4) * 4)
        .filter(|&s| s <= body.len())
        .ok_or_else(bad)?;
    // Existing options up to (not including) opt_endofopt, or to the end.
    let mut at = opts_start;
    while at + 4 <= body.len() {
        let code = u16_of(&body[at..at + 2], e);
        let len = usize::from(u16_of(&body[at + 2..at + 4], e));
        if code == OPT_ENDOFOPT {
            break;
        }
        at = (at + 4 + len.div_ceil(4) * 4).min(body.len());
    }
    let mut out = body[..at].to_vec();
    for c in note.comments() {
        push_option(&mut out, OPT_COMMENT, c.as_bytes(), e);
    }
    let mut pid_tid = Vec::with_capacity(8);
    for v in [note.pid, note.tid] {
        pid_tid.extend(match e {
            Endianness::Little => v.to_le_bytes(),
            Endianness::Big => v.to_be_bytes(),
        });
    }
    push_option(&mut out, EPB_PROCESSID_THREADID, &pid_tid, e);
    push_option(&mut out, OPT_ENDOFOPT, &[], e);
    let len = u32::try_from(out.len() + 12)
        .map_err(|_| PcapError::InvalidField("EnhancedPacketBlock: too long with comments"))?;
    Ok(RawBlock {
        type_: ENHANCED_PACKET_BLOCK,
        initial_len: len,
        body: Cow::Owned(out),
        trailer_len: len,
    })
}

fn u16_of(b: &[u8], e: Endianness) -> u16 {
    let b = [b[0], b[1]];
    match e {
        Endianness::Little => u16::from_le_bytes(b),
        Endianness::Big => u16::from_be_bytes(b),
    }
}

/// One option: code, length (u16 each), value padded to 4 bytes. A
/// comment longer than an option can hold is cut at a char boundary.
fn push_option(out: &mut Vec<u8>, code: u16, value: &[u8], e: Endianness) {
    let mut n = value.len().min(usize::from(u16::MAX) - 3);
    while n < value.len() && std::str::from_utf8(&value[..n]).is_err() {
        n -= 1;
    }
    let value = &value[..n];
    for v in [code, n as u16] {
        out.extend(match e {
            Endianness::Little => v.to_le_bytes(),
            Endianness::Big => v.to_be_bytes(),
        });
    }
    out.extend_from_slice(value);
    out.resize(out.len() + (4 - n % 4) % 4, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::Block;
    use pcap_file::DataLink;
    use std::time::Duration;

    fn capture(packets: usize) -> Vec<u8> {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::RAW,
            snaplen: 0,
            options: vec![],
        })
        .unwrap();
        for i in 0..packets {
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_micros(i as u64),
                original_len: 1,
                data: Cow::Owned(vec![i as u8]),
                options: vec![EnhancedPacketOption::Flags(0b10)],
            })
            .unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn notes_go_to_their_packet_numbers_and_nothing_else_changes() {
        let note = PacketNote {
            pid: 300,
            tid: 301,
            cmd: "go".into(),
            attempt: (1, "tcp 198.18.0.1:1 > 198.18.0.2:2".into()),
            ..PacketNote::default()
        };
        let notes = PacketNotes::from([(2, note.clone())]);
        let mut out = Vec::new();
        assert_eq!(annotate(&capture(3)[..], &mut out, &notes).unwrap(), 1);
        let mut r = PcapNgReader::new(&out[..]).unwrap();
        assert!(r
            .section()
            .options
            .iter()
            .any(|o| matches!(o, SectionHeaderOption::Comment(c) if c.contains("PID: <tgid>"))));
        let mut seen = Vec::new();
        while let Some(b) = r.next_block() {
            if let Block::EnhancedPacket(p) = b.unwrap() {
                seen.push((
                    p.data.to_vec(),
                    p.options
                        .clone()
                        .into_iter()
                        .map(|o| o.into_owned())
                        .collect::<Vec<_>>(),
                ));
            }
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(seen.iter().map(|s| s.0[0]).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(seen[0].1, [EnhancedPacketOption::Flags(0b10)]);
        let opts = &seen[1].1;
        assert_eq!(opts[0], EnhancedPacketOption::Flags(0b10));
        let comments: Vec<_> = opts
            .iter()
            .filter_map(|o| match o {
                EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(comments, note.comments());
        let pid_tid = opts.iter().find_map(|o| match o {
            EnhancedPacketOption::Unknown(u) if u.code == EPB_PROCESSID_THREADID => {
                Some(u.value.to_vec())
            }
            _ => None,
        });
        let mut want = 300u32.to_le_bytes().to_vec();
        want.extend(301u32.to_le_bytes());
        assert_eq!(pid_tid, Some(want));
    }

    #[test]
    fn a_truncated_capture_is_an_error_not_a_panic() {
        let bytes = capture(2);
        let cut = &bytes[..bytes.len() - 3];
        let mut out = Vec::new();
        assert!(annotate(cut, &mut out, &PacketNotes::new()).is_err());
    }
}
