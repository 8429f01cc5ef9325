//! DNS message decoding (RFC 1035 section 4.1) over the `simple-dns` crate.
//!
//! Input is either a UDP payload from the capture or the head of a
//! `write`/`read` buffer from the syscall trace (at most 128 bytes, so often
//! cut short): the 12-byte header alone is enough for id, QR, TC and RCODE,
//! and the question is recovered even when the answers are cut off.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{header_buffer, Packet, PacketFlag};

/// RCODE 3, "Name Error" (RFC 1035 4.1.1): the name does not exist (NXDOMAIN).
pub const RCODE_NXDOMAIN: u8 = 3;
/// RCODE 2, "Server failure" (RFC 1035 4.1.1); Go says "server misbehaving".
pub const RCODE_SERVFAIL: u8 = 2;
/// RCODE 5, "Refused" (RFC 1035 4.1.1): the server will not answer this client.
pub const RCODE_REFUSED: u8 = 5;
/// Well-known DNS port (RFC 1035 4.2).
pub const PORT: u16 = 53;
/// At most this many answer addresses are kept per message.
const MAX_ANSWER_IPS: usize = 16;

/// The parts of a DNS message the analyzer uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMessage {
    /// Transaction id; a response repeats its query's.
    pub id: u16,
    /// QR bit: true for a response.
    pub response: bool,
    /// TC bit: the answer did not fit (the client should retry over TCP).
    pub truncated: bool,
    /// RCODE (4 bits; RFC 1035 4.1.1, RFC 6895 registry).
    pub rcode: u8,
    /// First question's name without the trailing dot, if readable.
    pub qname: Option<String>,
    /// First question's type (1 A, 28 AAAA, ...), if readable.
    pub qtype: Option<u16>,
    /// ANCOUNT from the header.
    pub answers: u16,
    /// A/AAAA addresses in the answer section (when it was complete).
    pub answer_ips: Vec<IpAddr>,
}

impl DnsMessage {
    /// Decodes `bytes`; `None` when they cannot be a DNS message (shorter
    /// than a header, or not a standard query/response).
    pub fn parse(bytes: &[u8]) -> Option<DnsMessage> {
        let id = header_buffer::id(bytes).ok()?;
        // OPCODE 0 = QUERY: anything else on port 53 is not Go's resolver.
        if u16::from(header_buffer::opcode(bytes).ok()? as u8) != 0 {
            return None;
        }
        let response = header_buffer::has_flags(bytes, PacketFlag::RESPONSE).ok()?;
        let truncated = header_buffer::has_flags(bytes, PacketFlag::TRUNCATION).ok()?;
        let rcode = header_buffer::rcode(bytes).ok()? as u8;
        let qd = header_buffer::questions(bytes).ok()?;
        let an = header_buffer::answers(bytes).ok()?;
        let ns = header_buffer::name_servers(bytes).ok()?;
        let ar = header_buffer::additional_records(bytes).ok()?;
        let mut msg = DnsMessage {
            id,
            response,
            truncated,
            rcode,
            qname: None,
            qtype: None,
            answers: an,
            answer_ips: Vec::new(),
        };
        // A question takes >= 5 bytes and a record >= 11: counts that cannot
        // fit are lies, and simple-dns would reserve memory for them.
        let need =
            12 + 5 * usize::from(qd) + 11 * (usize::from(an) + usize::from(ns) + usize::from(ar));
        if need <= bytes.len() {
            if let Ok(p) = Packet::parse(bytes) {
                msg.fill_from(&p);
                return Some(msg);
            }
        }
        // Cut short: keep the header and the first question only.
        if qd > 0 {
            let mut head: Vec<u8> = bytes.iter().take(512).copied().collect();
            if let Some(counts) = head.get_mut(4..12) {
                counts.copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
            }
            if let Ok(p) = Packet::parse(&head) {
                msg.fill_from(&p);
            }
        }
        Some(msg)
    }

    fn fill_from(&mut self, p: &Packet<'_>) {
        if let Some(q) = p.questions.first() {
            let name = q.qname.to_string();
            self.qname = Some(name.trim_end_matches('.').to_string());
            self.qtype = Some(u16::from(q.qtype));
        }
        for rr in p.answers.iter().take(MAX_ANSWER_IPS) {
            match &rr.rdata {
                RData::A(a) => self.answer_ips.push(IpAddr::V4(Ipv4Addr::from(a.address))),
                RData::AAAA(a) => self.answer_ips.push(IpAddr::V6(Ipv6Addr::from(a.address))),
                _ => {}
            }
        }
    }

    /// `"A proxy.lab.test"`, or `"?"` parts when the question was unreadable.
    pub fn question_text(&self) -> String {
        format!(
            "{} {}",
            self.qtype.map(qtype_name).unwrap_or_else(|| "?".into()),
            self.qname.as_deref().unwrap_or("?")
        )
    }

    /// One-line description: `query A proxy.lab.test (id 0x1a2b)` or
    /// `response NXDOMAIN A proxy.lab.test (id 0x1a2b, 0 answers)`.
    pub fn summary(&self) -> String {
        if self.response {
            format!(
                "response {} {} (id {:#06x}, {} answers{})",
                rcode_name(self.rcode),
                self.question_text(),
                self.id,
                self.answers,
                if self.truncated { ", TC" } else { "" }
            )
        } else {
            format!("query {} (id {:#06x})", self.question_text(), self.id)
        }
    }
}

/// Mnemonic of a DNS RCODE (RFC 1035 4.1.1, RFC 2136, RFC 6895).
pub fn rcode_name(rcode: u8) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE{n}"),
    }
}

/// Mnemonic of a query type (RFC 1035 3.2.2, RFC 3596 for AAAA).
pub fn qtype_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        n => format!("TYPE{n}"),
    }
}

/// Decodes hex text (as in `data_hex`) into bytes; `None` if not hex.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|p| {
            let hi = (*p.first()? as char).to_digit(16)?;
            let lo = (*p.get(1)? as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::{Name, Question, CLASS, QCLASS, QTYPE, TYPE};

    pub(crate) fn query(id: u16, name: &str, qtype: TYPE) -> Vec<u8> {
        let mut p = Packet::new_query(id);
        p.questions.push(Question::new(
            Name::new_unchecked(name),
            QTYPE::TYPE(qtype),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        p.build_bytes_vec().unwrap()
    }

    #[test]
    fn query_and_nxdomain_response() {
        let q = query(0x1a2b, "proxy.lab.test", TYPE::AAAA);
        let m = DnsMessage::parse(&q).unwrap();
        assert_eq!(m.summary(), "query AAAA proxy.lab.test (id 0x1a2b)");
        let mut r = q.clone();
        r[2] |= 0x80; // QR
        r[3] = (r[3] & 0xf0) | RCODE_NXDOMAIN;
        let m = DnsMessage::parse(&r).unwrap();
        assert!(m.response);
        assert_eq!(m.rcode, RCODE_NXDOMAIN);
        assert_eq!(m.qname.as_deref(), Some("proxy.lab.test"));
        assert!(m
            .summary()
            .starts_with("response NXDOMAIN AAAA proxy.lab.test"));
    }

    #[test]
    fn header_only_and_lying_counts() {
        let mut h = vec![0u8; 12];
        h[0] = 0xab;
        h[2] = 0x82; // QR + TC
        h[6] = 0xff; // 65280 answers claimed in 12 bytes
        let m = DnsMessage::parse(&h).unwrap();
        assert!(m.truncated && m.response);
        assert_eq!(m.qname, None);
        assert_eq!(DnsMessage::parse(&h[..11]), None);
    }

    #[test]
    fn cut_short_response_keeps_question() {
        let mut q = query(7, "a.very.long.name.example", TYPE::A);
        q[2] |= 0x80;
        q[7] = 3; // claims three answers that are not there
        let m = DnsMessage::parse(&q).unwrap();
        assert_eq!(m.qname.as_deref(), Some("a.very.long.name.example"));
        assert_eq!(m.answers, 3);
    }

    #[test]
    fn hex() {
        assert_eq!(from_hex("00ff1A"), Some(vec![0, 255, 26]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
