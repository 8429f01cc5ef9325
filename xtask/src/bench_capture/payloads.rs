//! Application payloads of the synthetic capture: DNS messages (RFC 1035,
//! EDNS0 per RFC 6891), HTTP/1.1 heads as Go's client and a module proxy
//! write them, and TLS records (RFC 8446 section 5). The TLS handshake
//! messages are real Go 1.19 wire bytes from `analyzer/testdata/wire/`, so
//! the analyzer's own decoders recognise them.

use std::net::Ipv4Addr;

/// Go's TLS 1.3 ClientHello (SNI proxy.lab.test), 280 bytes.
pub const TLS13_CLIENT_HELLO: &[u8] =
    include_bytes!("../../../analyzer/testdata/wire/go-tls13-client-hello.bin");
/// ServerHello (TLS 1.3), ChangeCipherSpec and 4 encrypted records, 673 bytes.
pub const TLS13_SERVER_FLIGHT: &[u8] =
    include_bytes!("../../../analyzer/testdata/wire/go-tls13-server-flight.bin");
/// The client's ChangeCipherSpec + encrypted bad_certificate alert, 30 bytes.
pub const TLS13_CLIENT_ENCRYPTED_ALERT: &[u8] =
    include_bytes!("../../../analyzer/testdata/wire/go-tls13-client-encrypted-alert.bin");
/// Go's ClientHello with MaxVersion TLS 1.2, 230 bytes.
pub const TLS12_CLIENT_HELLO: &[u8] =
    include_bytes!("../../../analyzer/testdata/wire/go-tls12-client-hello.bin");
/// ServerHello (TLS 1.2), Certificate, ServerKeyExchange, ServerHelloDone, 525 bytes.
pub const TLS12_SERVER_FLIGHT: &[u8] =
    include_bytes!("../../../analyzer/testdata/wire/go-tls12-server-flight.bin");
/// Cleartext Alert, fatal, 42 bad_certificate (the client rejects the certificate).
pub const TLS12_CLIENT_ALERT: &[u8] =
    include_bytes!("../../../analyzer/testdata/wire/go-tls12-client-alert.bin");
/// Cleartext Alert, fatal, 40 handshake_failure (the server refuses the hello).
pub const TLS_SERVER_HANDSHAKE_FAILURE: &[u8] = &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];

/// TLS content type of encrypted records (RFC 8446 5.1).
const APPLICATION_DATA: u8 = 23;
/// Largest TLSInnerPlaintext content (bytes); a full record adds 5 header
/// bytes, 1 content-type byte and a 16-byte AEAD tag.
pub const TLS_MAX_PLAIN: u64 = 16_384;
/// Bytes a record adds to its plaintext: header 5 + inner type 1 + tag 16.
pub const TLS_RECORD_OVERHEAD: u64 = 22;

/// DNS record types (RFC 1035 3.2.2, RFC 3596).
pub const QTYPE_A: u16 = 1;
/// AAAA.
pub const QTYPE_AAAA: u16 = 28;
/// DNS RCODEs (RFC 1035 4.1.1).
pub const RCODE_NOERROR: u8 = 0;
/// SERVFAIL.
pub const RCODE_SERVFAIL: u8 = 2;
/// NXDOMAIN.
pub const RCODE_NXDOMAIN: u8 = 3;

/// A recursive query for `name`/`qtype` with an EDNS0 OPT record (UDP
/// size 1232), as Go's resolver sends it.
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = dns_header(id, 0x0100, 0, 1);
    question(&mut m, name, qtype);
    opt_record(&mut m);
    m
}

/// The server's answer to [`dns_query`]: `rcode`, and one A record when
/// `addr` is given (an AAAA question with NOERROR and no address is the
/// usual "no IPv6" NODATA answer).
pub fn dns_response(id: u16, name: &str, qtype: u16, rcode: u8, addr: Option<Ipv4Addr>) -> Vec<u8> {
    // QR, RD, RA and the RCODE.
    let flags = 0x8180 | u16::from(rcode & 0x0f);
    let answers = u16::from(addr.is_some() && qtype == QTYPE_A);
    let mut m = dns_header(id, flags, answers, 1);
    question(&mut m, name, qtype);
    if let (Some(a), 1) = (addr, answers) {
        // Name: a pointer to the question's name at offset 12.
        m.extend_from_slice(&[0xc0, 0x0c]);
        m.extend_from_slice(&QTYPE_A.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&300u32.to_be_bytes());
        m.extend_from_slice(&4u16.to_be_bytes());
        m.extend_from_slice(&a.octets());
    }
    opt_record(&mut m);
    m
}

fn dns_header(id: u16, flags: u16, answers: u16, additional: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    for v in [id, flags, 1, answers, 0, additional] {
        m.extend_from_slice(&v.to_be_bytes());
    }
    m
}

fn question(m: &mut Vec<u8>, name: &str, qtype: u16) {
    for label in name.trim_end_matches('.').split('.') {
        let label = &label.as_bytes()[..label.len().min(63)];
        m.push(label.len() as u8);
        m.extend_from_slice(label);
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
}

/// EDNS0 OPT pseudo-record: root name, type 41, UDP payload size 1232.
fn opt_record(m: &mut Vec<u8>) {
    m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
}

/// `GET PATH HTTP/1.1` with the headers Go's http.Client sends.
pub fn http_request(host: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n"
    )
    .into_bytes()
}

/// A module proxy's response head for a body of `len` bytes.
pub fn http_response_head(status: u16, content_type: &str, len: u64) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nDate: Mon, 02 Jun 2025 09:00:00 GMT\r\n\r\n"
    )
    .into_bytes()
}

/// Wire length (bytes) of `plain` bytes sent as TLS 1.3 application data
/// in full-size records.
pub fn tls_stream_len(plain: u64) -> u64 {
    plain + TLS_RECORD_OVERHEAD * plain.div_ceil(TLS_MAX_PLAIN).max(1)
}

/// What a byte stream of a connection holds; its bytes are made on demand
/// by [`fill`], so a 2 MB body costs no memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// A module zip: `PK\x03\x04` then compressed-looking bytes.
    Zip,
    /// Printable text (version lists, go.mod files, JSON, error texts).
    Text,
    /// TLS 1.3 application-data records carrying `plain` bytes in all
    /// (16 KiB records, the last one shorter).
    Tls {
        /// Plaintext bytes of the whole stream.
        plain: u64,
    },
}

/// 64 KiB of pseudo-random bytes the payloads are cut from.
pub struct Pool(Vec<u8>);

impl Pool {
    /// Size of the pool (bytes).
    pub const LEN: usize = 1 << 16;

    /// A pool filled from `rng`.
    pub fn new(rng: &mut super::prng::Rng) -> Pool {
        let mut v = Vec::with_capacity(Pool::LEN);
        while v.len() < Pool::LEN {
            v.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        Pool(v)
    }
}

/// Appends to `out` the `len` bytes at offset `off` of a `stream`, taking
/// the filler from `pool` at a position derived from `salt`.
pub fn fill(out: &mut Vec<u8>, pool: &Pool, stream: Stream, off: u64, len: usize, salt: u32) {
    let len = len.min(Pool::LEN / 2);
    let start = (salt as usize) % (Pool::LEN - len);
    let base = out.len();
    out.extend_from_slice(&pool.0[start..start + len]);
    let seg = &mut out[base..];
    match stream {
        Stream::Zip => {
            for (i, b) in b"PK\x03\x04".iter().enumerate() {
                if let Some(j) = (i as u64).checked_sub(off) {
                    if let Some(x) = seg.get_mut(j as usize) {
                        *x = *b;
                    }
                }
            }
        }
        Stream::Text => {
            for x in seg.iter_mut() {
                *x = b"abcdefghijklmnopqrstuvwxyz0123456789./-\n"[usize::from(*x) % 40];
            }
        }
        Stream::Tls { plain } => tls_headers(seg, off, plain),
    }
}

/// Writes the record headers that fall inside `seg` (stream offset `off`).
fn tls_headers(seg: &mut [u8], off: u64, plain: u64) {
    let full = TLS_MAX_PLAIN + TLS_RECORD_OVERHEAD;
    let records = plain.div_ceil(TLS_MAX_PLAIN).max(1);
    let end = off + seg.len() as u64;
    let mut rec = off / full;
    loop {
        let start = rec * full;
        if start >= end || rec >= records {
            break;
        }
        let content = if rec + 1 < records {
            TLS_MAX_PLAIN
        } else {
            plain - (records - 1) * TLS_MAX_PLAIN
        };
        let len = (content + TLS_RECORD_OVERHEAD - 5) as u16;
        let header = [APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8];
        for (i, b) in header.iter().enumerate() {
            let at = start + i as u64;
            if (off..end).contains(&at) {
                seg[(at - off) as usize] = *b;
            }
        }
        rec += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_capture::prng::Rng;

    #[test]
    fn tls_stream_is_a_sequence_of_records() {
        let pool = Pool::new(&mut Rng::new(1));
        for plain in [1u64, 100, 16_384, 16_385, 50_000] {
            let total = tls_stream_len(plain);
            let mut s = Vec::new();
            let mut off = 0;
            while off < total {
                let n = (total - off).min(1448) as usize;
                fill(&mut s, &pool, Stream::Tls { plain }, off, n, off as u32);
                off += n as u64;
            }
            // Walk the records: each header's length reaches the next one.
            let (mut at, mut sum) = (0usize, 0u64);
            while at < s.len() {
                assert_eq!(&s[at..at + 3], &[23, 3, 3], "plain {plain} at {at}");
                let len = usize::from(u16::from_be_bytes([s[at + 3], s[at + 4]]));
                sum += len as u64 - 17;
                at += 5 + len;
            }
            assert_eq!((at, sum), (s.len(), plain));
        }
    }

    #[test]
    fn zip_starts_with_its_magic_and_text_is_printable() {
        let pool = Pool::new(&mut Rng::new(1));
        let mut z = Vec::new();
        fill(&mut z, &pool, Stream::Zip, 0, 2, 5);
        fill(&mut z, &pool, Stream::Zip, 2, 100, 9);
        assert_eq!(&z[..4], b"PK\x03\x04");
        let mut t = Vec::new();
        fill(&mut t, &pool, Stream::Text, 0, 500, 77);
        assert!(t.iter().all(|b| b.is_ascii_graphic() || *b == b'\n'));
    }
}
