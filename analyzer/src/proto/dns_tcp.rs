//! DNS over TCP (RFC 1035 4.2.2, RFC 7766): a streaming decoder of one
//! direction of a TCP connection to or from port 53.
//!
//! On TCP every DNS message is preceded by a two-byte big-endian length
//! (RFC 1035 4.2.2); a connection may carry several queries, pipelined,
//! whose answers may come out of order and are matched by id (RFC 7766
//! 6.2.1.1); a message may span several segments and one segment may hold
//! several messages (RFC 7766 8). A resolver asks over TCP when the UDP
//! answer had TC=1 (RFC 1035 4.2.1, RFC 7766 5); Go's pure-Go resolver
//! does so to the same server (src/net/dnsclient_unix.go `exchange`).
//!
//! [`DnsTcpStream`] is fed segments in capture order with their sequence
//! numbers: bytes already seen (retransmissions) are skipped, a gap (a
//! segment lost from the capture or out of order, or cut by the snaplen)
//! ends decoding, since the next length prefix can no longer be found.
//! So does a length below a DNS header or bytes that are not a DNS
//! message ([`Desync`]). Memory is bounded: at most one message (65535
//! bytes, the largest length a prefix can give) plus its prefix is held.

use thiserror::Error;

use super::dns::DnsMessage;

/// Largest DNS message over TCP (bytes): what a 16-bit length allows
/// (RFC 1035 4.2.2).
pub const MAX_MESSAGE: usize = u16::MAX as usize;
/// A DNS message is at least its header (RFC 1035 4.1.1), in bytes.
const HEADER_LEN: usize = 12;

/// Why a stream stopped being decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Desync {
    /// Bytes are missing before this frame (lost from the capture, out of
    /// order, or cut by the snaplen).
    #[error("{missing} byte(s) of the stream are missing before frame {frame}")]
    Gap {
        /// Frame where the gap was seen.
        frame: u64,
        /// Bytes missing (sequence space, modulo 2^32).
        missing: u32,
    },
    /// A length prefix too small for a DNS header.
    #[error("frame {frame} has a DNS length prefix of {len}, less than a 12-byte header")]
    TooShort {
        /// Frame holding the prefix's last byte.
        frame: u64,
        /// The length read.
        len: u16,
    },
    /// A complete message that is not a DNS query or response.
    #[error("the {len}-byte message completed by frame {frame} is not a DNS message")]
    NotDns {
        /// Frame that completed it.
        frame: u64,
        /// Its length.
        len: u16,
    },
}

/// One message decoded from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpDnsMessage {
    /// Frame (1-based packet number) of the segment that completed it.
    pub frame: u64,
    /// Frame of the segment that held its length prefix's first byte.
    pub first_frame: u64,
    /// Its length (bytes, without the prefix).
    pub len: u16,
    /// The decoded message.
    pub msg: DnsMessage,
}

/// One direction of a DNS-over-TCP connection being decoded.
#[derive(Debug, Default, Clone)]
pub struct DnsTcpStream {
    /// Sequence number of the next byte expected, once known.
    next_seq: Option<u32>,
    /// Bytes of the current prefix and message so far (at most
    /// 2 + [`MAX_MESSAGE`]).
    buf: Vec<u8>,
    /// Frame holding the current message's first byte.
    first_frame: u64,
    /// Set once decoding stopped.
    desync: Option<Desync>,
    /// Messages decoded.
    decoded: u32,
}

impl DnsTcpStream {
    /// A stream whose first byte has sequence number `first_seq` (the
    /// SYN's plus one, RFC 9293 3.4), or, with `None`, the first data
    /// segment fed.
    pub fn new(first_seq: Option<u32>) -> DnsTcpStream {
        DnsTcpStream {
            next_seq: first_seq,
            ..DnsTcpStream::default()
        }
    }

    /// Why decoding stopped, if it did.
    pub fn desync(&self) -> Option<Desync> {
        self.desync
    }

    /// Messages decoded so far.
    pub fn decoded(&self) -> u32 {
        self.decoded
    }

    /// Bytes of an unfinished message held (its prefix included): a
    /// message the stream ended inside.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Feeds one segment of frame `frame`: `data` are its captured payload
    /// bytes starting at sequence number `seq`, `wire_len` its payload
    /// length on the wire (more than `data` when the snaplen cut it).
    /// Returns the messages it completed, in stream order.
    pub fn feed(
        &mut self,
        frame: u64,
        seq: u32,
        data: &[u8],
        wire_len: usize,
    ) -> Vec<TcpDnsMessage> {
        let mut out = Vec::new();
        if self.desync.is_some() || wire_len == 0 {
            return out;
        }
        let expected = *self.next_seq.get_or_insert(seq);
        // Modulo-2^32 distance (RFC 9293 3.4): positive when bytes are
        // missing, negative when the segment starts with old bytes.
        let ahead = seq.wrapping_sub(expected) as i32;
        if ahead > 0 {
            self.desync = Some(Desync::Gap {
                frame,
                missing: ahead.unsigned_abs(),
            });
            return out;
        }
        let skip = usize::try_from(ahead.unsigned_abs()).unwrap_or(usize::MAX);
        let Some(new) = data.get(skip..) else {
            // Entirely a retransmission of what was seen (or cut before
            // its new bytes: then the gap shows at the next segment).
            return out;
        };
        let cut = data.len() < wire_len;
        self.next_seq = Some(expected.wrapping_add(u32::try_from(new.len()).unwrap_or(u32::MAX)));
        self.eat(frame, new, &mut out);
        if cut && self.desync.is_none() {
            self.desync = Some(Desync::Gap {
                frame,
                missing: u32::try_from(wire_len - data.len()).unwrap_or(u32::MAX),
            });
        }
        out
    }

    fn eat(&mut self, frame: u64, mut bytes: &[u8], out: &mut Vec<TcpDnsMessage>) {
        while !bytes.is_empty() && self.desync.is_none() {
            if self.buf.is_empty() {
                self.first_frame = frame;
            }
            if self.buf.len() < 2 {
                let take = (2 - self.buf.len()).min(bytes.len());
                self.buf.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if self.buf.len() < 2 {
                    return;
                }
                let len = self.len();
                if usize::from(len) < HEADER_LEN {
                    self.desync = Some(Desync::TooShort { frame, len });
                    return;
                }
                self.buf.reserve_exact(usize::from(len));
            }
            let want = 2 + usize::from(self.len()) - self.buf.len();
            let take = want.min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if take == want {
                self.complete(frame, out);
            }
        }
    }

    /// The current message's length, from its (complete) prefix.
    fn len(&self) -> u16 {
        match self.buf.get(..2) {
            Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
            _ => 0,
        }
    }

    fn complete(&mut self, frame: u64, out: &mut Vec<TcpDnsMessage>) {
        let len = self.len();
        match self.buf.get(2..).and_then(DnsMessage::parse) {
            Some(msg) => {
                self.decoded = self.decoded.saturating_add(1);
                out.push(TcpDnsMessage {
                    frame,
                    first_frame: self.first_frame,
                    len,
                    msg,
                });
            }
            None => self.desync = Some(Desync::NotDns { frame, len }),
        }
        // Drop the buffer: a large message must not pin its memory.
        self.buf = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::{Name, Packet, Question, CLASS, QCLASS, QTYPE, TYPE};

    fn query(id: u16, name: &str) -> Vec<u8> {
        let mut p = Packet::new_query(id);
        p.questions.push(Question::new(
            Name::new_unchecked(name),
            QTYPE::TYPE(TYPE::A),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        p.build_bytes_vec().unwrap()
    }

    fn framed(id: u16, name: &str) -> Vec<u8> {
        let q = query(id, name);
        let mut v = u16::try_from(q.len()).unwrap().to_be_bytes().to_vec();
        v.extend_from_slice(&q);
        v
    }

    fn ids(v: &[TcpDnsMessage]) -> Vec<(u64, u16)> {
        v.iter().map(|m| (m.frame, m.msg.id)).collect()
    }

    #[test]
    fn several_messages_in_one_segment() {
        let mut bytes = framed(1, "a.test");
        bytes.extend(framed(2, "b.test"));
        bytes.extend(framed(3, "c.test"));
        let mut s = DnsTcpStream::new(Some(100));
        let got = s.feed(7, 100, &bytes, bytes.len());
        assert_eq!(ids(&got), vec![(7, 1), (7, 2), (7, 3)]);
        assert_eq!(got[1].msg.qname.as_deref(), Some("b.test"));
        assert_eq!((s.decoded(), s.pending(), s.desync()), (3, 0, None));
    }

    #[test]
    fn one_message_over_three_segments() {
        let bytes = framed(0x1a2b, "proxy.lab.test");
        let (a, rest) = bytes.split_at(5);
        let (b, c) = rest.split_at(9);
        let mut s = DnsTcpStream::new(None);
        assert!(s.feed(3, 1000, a, a.len()).is_empty());
        assert!(s.feed(4, 1005, b, b.len()).is_empty());
        // A retransmission of the second segment changes nothing.
        assert!(s.feed(5, 1005, b, b.len()).is_empty());
        let got = s.feed(6, 1014, c, c.len());
        assert_eq!(ids(&got), vec![(6, 0x1a2b)]);
        assert_eq!(got[0].first_frame, 3);
        assert_eq!(usize::from(got[0].len) + 2, bytes.len());
    }

    #[test]
    fn a_length_prefix_split_across_segments() {
        let mut bytes = framed(1, "a.test");
        let second = framed(2, "b.test");
        let split = bytes.len() + 1;
        bytes.extend(second);
        let (a, b) = bytes.split_at(split);
        let mut s = DnsTcpStream::new(Some(u32::MAX - 3)); // wraps
        assert_eq!(ids(&s.feed(1, u32::MAX - 3, a, a.len())), vec![(1, 1)]);
        assert_eq!(s.pending(), 1);
        let seq = (u32::MAX - 3).wrapping_add(u32::try_from(a.len()).unwrap());
        assert_eq!(ids(&s.feed(2, seq, b, b.len())), vec![(2, 2)]);
        assert_eq!(s.desync(), None);
    }

    #[test]
    fn a_segment_overlapping_old_bytes_keeps_only_the_new_ones() {
        let bytes = framed(9, "a.test");
        let mut s = DnsTcpStream::new(Some(0));
        assert!(s.feed(1, 0, &bytes[..6], 6).is_empty());
        assert_eq!(
            ids(&s.feed(2, 3, &bytes[3..], bytes.len() - 3)),
            vec![(2, 9)]
        );
    }

    #[test]
    fn gaps_and_cut_segments_stop_decoding() {
        let bytes = framed(1, "a.test");
        let mut s = DnsTcpStream::new(Some(0));
        assert!(s.feed(1, 4, &bytes[4..], bytes.len() - 4).is_empty());
        assert_eq!(
            s.desync(),
            Some(Desync::Gap {
                frame: 1,
                missing: 4
            })
        );
        // Nothing after a desync is decoded, even a whole message.
        assert!(s.feed(2, 0, &bytes, bytes.len()).is_empty());
        let mut s = DnsTcpStream::new(Some(0));
        assert!(s.feed(1, 0, &bytes[..10], 200).is_empty());
        assert_eq!(
            s.desync(),
            Some(Desync::Gap {
                frame: 1,
                missing: 190
            })
        );
    }

    #[test]
    fn garbage_desyncs_without_panicking() {
        let mut s = DnsTcpStream::new(None);
        assert!(s.feed(1, 0, &[0, 3, 1, 2, 3], 5).is_empty());
        assert_eq!(s.desync(), Some(Desync::TooShort { frame: 1, len: 3 }));
        // 12 bytes of header with OPCODE 2 (STATUS): not Go's resolver.
        let mut s = DnsTcpStream::new(None);
        let mut m = vec![0, 12, 0, 1, 0x10, 0];
        m.extend([0; 8]);
        assert!(s.feed(1, 0, &m, m.len()).is_empty());
        assert_eq!(s.desync(), Some(Desync::NotDns { frame: 1, len: 12 }));
        // HTTP on port 53: a huge length, then the stream just ends.
        let mut s = DnsTcpStream::new(None);
        let http = b"GET / HTTP/1.1\r\n\r\n";
        assert!(s.feed(1, 0, http, http.len()).is_empty());
        assert_eq!((s.desync(), s.pending()), (None, http.len()));
    }

    #[test]
    fn memory_is_bounded_by_one_message() {
        let mut s = DnsTcpStream::new(Some(0));
        let chunk = vec![0xffu8; 1400];
        let mut seq = 0u32;
        for f in 0..100u64 {
            let _ = s.feed(f, seq, &chunk, chunk.len());
            seq = seq.wrapping_add(1400);
            assert!(s.pending() <= 2 + MAX_MESSAGE);
        }
    }
}
