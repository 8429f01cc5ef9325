//! IP fragments (RFC 791 3.2, RFC 8200 4.5): which pieces of each
//! datagram arrived, without keeping their bytes. A datagram is complete
//! when its last piece (More Fragments clear) gives the total length and
//! the pieces cover it; the receiver then delivers it, else it gives up
//! 60 s after the first piece (RFC 8200 4.5) and the datagram is lost.
//!
//! A completed UDP datagram to or from port 53 is handed on as a DNS
//! message (its head is in the first piece), cited at the piece that
//! completed it, as Wireshark shows the reassembled datagram. One that
//! never completes is reported as a note, never dropped silently.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::record::Findings;
use super::tcp::At;
use crate::capture::packet::Fragment;
use crate::proto::dns::DnsMessage;

/// Datagrams being reassembled at most; beyond, new ones are counted
/// (half of what a table of 2^15 slots holds, see
/// [`super::tcp::MAX_FLOWS`]).
pub const MAX_SETS: usize = 7 << 11;
/// Reassembly time limit (ns), RFC 8200 4.5.
const REASSEMBLY_NS: i64 = 60_000_000_000;
/// Distinct pieces tracked per datagram (more are counted, and the
/// datagram is then never called complete).
const MAX_PIECES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

#[derive(Debug)]
struct Set {
    first: At,
    ranges: Vec<(u32, u32)>,
    overflow: bool,
    total: Option<u32>,
    pieces: u32,
    ports: (u16, u16),
    dns: Option<Box<DnsMessage>>,
    text: String,
    v6: bool,
}

impl Set {
    /// Adds bytes `[from, to)`, merging touching ranges.
    fn cover(&mut self, from: u32, to: u32) {
        if self.ranges.len() >= MAX_PIECES {
            self.overflow = true;
            return;
        }
        self.ranges.push((from, to));
        self.ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(self.ranges.len());
        for &(a, b) in &self.ranges {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.ranges = merged;
    }

    fn complete(&self) -> bool {
        !self.overflow
            && matches!((self.total, self.ranges.as_slice()), (Some(t), [(0, end)]) if *end >= t)
    }
}

/// A datagram whose pieces all arrived.
#[derive(Debug)]
pub(crate) struct Completed {
    /// The piece that completed it.
    pub at: At,
    /// Source address and port (from the first piece).
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Its DNS message head, for port 53.
    pub dns: Option<DnsMessage>,
}

/// What one piece did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The first piece of a new datagram arrived (its line).
    pub started: Option<String>,
    /// The datagram is complete.
    pub completed: Option<Completed>,
}

/// Counts for the report.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FragStats {
    /// Fragmented datagrams seen.
    pub datagrams: u64,
    /// Completed.
    pub completed: u64,
    /// Never completed.
    pub incomplete: u64,
    /// Not tracked because [`MAX_SETS`] were open.
    pub untracked: u64,
}

/// Datagrams being reassembled.
#[derive(Debug, Default)]
pub(crate) struct FragTracker {
    sets: HashMap<Key, Set>,
    /// Counts.
    pub stats: FragStats,
}

impl FragTracker {
    /// Feeds one piece `f` from `src` to `dst`.
    pub(crate) fn piece(
        &mut self,
        at: At,
        src: SocketAddr,
        dst: SocketAddr,
        f: Fragment,
    ) -> Outcome {
        let key = Key {
            src: src.ip(),
            dst: dst.ip(),
            id: f.id,
            proto: f.proto,
        };
        let mut o = Outcome::default();
        if !self.sets.contains_key(&key) {
            if self.sets.len() >= MAX_SETS {
                self.stats.untracked += 1;
                return o;
            }
            let text = format!("{} > {} {}", src.ip(), dst.ip(), f.describe());
            o.started = Some(text.clone());
            self.stats.datagrams += 1;
            self.sets.insert(
                key,
                Set {
                    first: at,
                    ranges: Vec::new(),
                    overflow: false,
                    total: None,
                    pieces: 0,
                    ports: (0, 0),
                    dns: None,
                    text,
                    v6: f.v6,
                },
            );
        }
        let Some(s) = self.sets.get_mut(&key) else {
            return o;
        };
        s.pieces += 1;
        s.cover(f.offset, f.offset.saturating_add(f.len));
        if !f.more {
            s.total = Some(f.offset.saturating_add(f.len));
        }
        if f.offset == 0 {
            s.ports = (src.port(), dst.port());
            if f.dns.is_some() {
                s.dns = f.dns;
            }
        }
        if s.complete() {
            if let Some(s) = self.sets.remove(&key) {
                self.stats.completed += 1;
                o.completed = Some(Completed {
                    at,
                    src: SocketAddr::new(key.src, s.ports.0),
                    dst: SocketAddr::new(key.dst, s.ports.1),
                    dns: s.dns.map(|b| *b),
                });
            }
        }
        o
    }

    /// Gives up on datagrams older than the reassembly limit.
    pub(crate) fn sweep(&mut self, now: i64, out: &mut Findings) {
        let old: Vec<Key> = self
            .sets
            .iter()
            .filter(|(_, s)| {
                s.first
                    .1
                    .is_some_and(|t| now.saturating_sub(t) > REASSEMBLY_NS)
            })
            .map(|(k, _)| *k)
            .collect();
        for k in old {
            if let Some(s) = self.sets.remove(&k) {
                self.incomplete(s, out);
            }
        }
    }

    /// Every open datagram is incomplete at the end of the capture.
    pub(crate) fn finish_all(&mut self, out: &mut Findings) {
        let mut all: Vec<Set> = self.sets.drain().map(|(_, s)| s).collect();
        all.sort_by_key(|s| s.first.0);
        for s in all {
            self.incomplete(s, out);
        }
    }

    fn incomplete(&mut self, s: Set, out: &mut Findings) {
        self.stats.incomplete += 1;
        if !out.wants_note() {
            return;
        }
        let have: u32 = s.ranges.iter().map(|(a, b)| b - a).sum();
        let of = s
            .total
            .map(|t| format!("{have} of {t} bytes"))
            .unwrap_or_else(|| format!("{have} bytes, the last piece missing"));
        out.note(
            s.first.0,
            format!(
                "an IP datagram arrived only in part: {} piece(s) from pkt {} on ({}; {of}) never completed, so the receiving kernel cannot reassemble it and drops it ({}); the other pieces were lost on the way or not captured",
                s.pieces,
                s.first.0,
                s.text,
                if s.v6 { "RFC 8200 4.5" } else { "RFC 791 3.2" }
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(offset: u32, len: u32, more: bool) -> Fragment {
        Fragment {
            proto: 17,
            id: 1,
            offset,
            len,
            more,
            v6: true,
            dns: None,
        }
    }

    #[test]
    fn completes_in_any_order_and_reports_the_incomplete() {
        let (s, d) = (
            "[2001:db8::53]:53".parse().unwrap(),
            "[2001:db8::1]:0".parse().unwrap(),
        );
        let mut t = FragTracker::default();
        let mut out = Findings::default();
        let o = t.piece((4, None), s, d, piece(2896, 508, false));
        assert!(o.started.is_some() && o.completed.is_none());
        assert!(t
            .piece((6, None), s, d, piece(0, 1448, true),)
            .completed
            .is_none());
        let done = t.piece((7, None), s, d, piece(1448, 1448, true)).completed;
        assert_eq!(done.map(|c| (c.at.0, c.src.port())), Some((7, 53)));
        // Only the last piece of another datagram: incomplete at the end.
        let mut other = piece(2896, 508, false);
        other.id = 2;
        t.piece((9, None), s, d, other);
        t.finish_all(&mut out);
        assert_eq!((t.stats.completed, t.stats.incomplete), (1, 1));
        assert_eq!(out.notes.len(), 1);
        assert!(
            out.notes[0].1.contains("1 piece(s) from pkt 9 on"),
            "{:?}",
            out.notes
        );
        assert!(
            out.notes[0].1.contains("508 of 3404 bytes"),
            "{:?}",
            out.notes
        );
    }
}
