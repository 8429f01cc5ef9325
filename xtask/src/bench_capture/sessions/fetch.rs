//! Sessions that fetch: a successful lookup, a connection to the module
//! proxy (plain HTTP on 8080 or TLS on 443), 1-3 requests and their
//! responses (some 4xx/5xx, a few bodies cut by a reset), then the close.

use super::{Answer, Planner, Script, PROXY_HTTP, PROXY_TLS};
use crate::bench_capture::mix::Failure;
use crate::bench_capture::packets::{flag, MSS};
use crate::bench_capture::payloads::{self, Stream};
use crate::bench_capture::plan::{Body, Conn, MS, US};

/// What a request asks the proxy for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    List,
    Info,
    Mod,
    Zip,
}

impl Planner {
    /// A successful lookup, a connection and 1-3 requests, then close.
    pub(super) fn fetch(&mut self, s: &mut Script, t0: u64, tls: bool) {
        let (name, server) = if tls {
            ("goproxy.lab.test", PROXY_TLS)
        } else {
            ("proxy.lab.test", PROXY_HTTP)
        };
        let t = self.lookup(s, t0, name, Answer::Addr(*server.ip()));
        let mut k = self.open(s.host, server);
        let mut t = self.handshake(s, &mut k, t);
        if tls {
            t = self.tls_handshake(s, &mut k, t);
        }
        let requests = 1 + self.rng.pick(&[80, 12, 8]);
        for _ in 0..requests {
            match self.exchange(s, &mut k, t, name, tls) {
                Some(end) => t = end + self.rng.range(50 * US, 500 * US),
                None => return,
            }
        }
        if tls {
            // close_notify: a 2-byte alert in a 24-byte encrypted record.
            let body = self.tls_records(2);
            s.push(k.seg(true, t, flag::PSH | flag::ACK, body));
            t += self.rng.range(10 * US, 50 * US);
        }
        self.close(s, &mut k, t);
    }

    /// Application data of `plain` bytes in one segment of TLS records.
    fn tls_records(&mut self, plain: u64) -> Body {
        Body::Stream {
            stream: Stream::Tls { plain },
            off: 0,
            len: payloads::tls_stream_len(plain) as u16,
            salt: self.rng.next_u32(),
        }
    }

    /// ClientHello, the server's flight, the client's ChangeCipherSpec and
    /// encrypted Finished; returns when application data can flow (ns).
    fn tls_handshake(&mut self, s: &mut Script, k: &mut Conn, t: u64) -> u64 {
        s.push(k.seg(
            true,
            t,
            flag::PSH | flag::ACK,
            Body::Static(payloads::TLS13_CLIENT_HELLO),
        ));
        let t = t + k.rtt_ns + self.rng.range(200 * US, MS);
        s.push(k.seg(
            false,
            t,
            flag::PSH | flag::ACK,
            Body::Static(payloads::TLS13_SERVER_FLIGHT),
        ));
        let t = t + self.rng.range(100 * US, 400 * US);
        // ChangeCipherSpec, then Finished in a 58-byte encrypted record.
        let mut fin = vec![
            0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03, 0x00, 0x35,
        ];
        while fin.len() < 11 + 0x35 {
            fin.push(self.rng.next_u32() as u8);
        }
        s.push(k.seg(true, t, flag::PSH | flag::ACK, Body::Owned(fin)));
        t + self.rng.range(10 * US, 50 * US)
    }

    /// One request and its response. `None` when the server reset the
    /// connection mid-body (nothing follows on it).
    fn exchange(
        &mut self,
        s: &mut Script,
        k: &mut Conn,
        t: u64,
        host: &str,
        tls: bool,
    ) -> Option<u64> {
        let object = [Object::List, Object::Info, Object::Mod, Object::Zip]
            [self.rng.pick(&[10, 30, 30, 30])];
        let m = self.rng.range(1, 5000);
        let v = format!("v1.{}.{}", self.rng.range(0, 30), self.rng.range(0, 9));
        let (path, ctype, size) = match object {
            Object::List => (
                format!("/example.com/m{m}/@v/list"),
                "text/plain; charset=UTF-8",
                self.rng.range(20, 400),
            ),
            Object::Info => (
                format!("/example.com/m{m}/@v/{v}.info"),
                "application/json",
                self.rng.range(60, 160),
            ),
            Object::Mod => (
                format!("/example.com/m{m}/@v/{v}.mod"),
                "text/plain; charset=UTF-8",
                self.rng.range(40, 3000),
            ),
            Object::Zip => {
                let size = match self.rng.pick(&[72, 27, 1]) {
                    0 => self.rng.log_uniform(1 << 10, 16 << 10),
                    1 => self.rng.log_uniform(16 << 10, 128 << 10),
                    _ => self.rng.log_uniform(128 << 10, 2 << 20),
                };
                (
                    format!("/example.com/m{m}/@v/{v}.zip"),
                    "application/zip",
                    size,
                )
            }
        };
        let status = [200u16, 404, 410, 403, 500, 502][self.rng.pick(&[935, 30, 20, 5, 5, 5])];
        let request = payloads::http_request(host, &path);
        let body = if tls {
            self.tls_records(request.len() as u64)
        } else {
            Body::Owned(request)
        };
        s.push(k.seg(true, t, flag::PSH | flag::ACK, body));
        let t = t + k.rtt_ns + self.rng.range(100 * US, 2 * MS);
        let (stream, ctype, size) = match (status, object) {
            (200, Object::Zip) => (Stream::Zip, ctype, size),
            (200, _) => (Stream::Text, ctype, size),
            _ => (
                Stream::Text,
                "text/plain; charset=utf-8",
                self.rng.range(20, 80),
            ),
        };
        let head = payloads::http_response_head(status, ctype, size);
        match status {
            200 => self.mix.responses_ok += 1,
            404 | 410 => self.mix.fail(Failure::HttpNotFound),
            _ => self.mix.fail(Failure::HttpError),
        }
        let zip = status == 200 && object == Object::Zip;
        if zip {
            self.mix.zips += 1;
        }
        // Some servers die mid-body: 2% of zips over 8 KiB are cut.
        let cut =
            (zip && size > 8 << 10 && self.rng.chance(0.02)).then(|| self.rng.range(1, size - 1));
        let (t, reset) = if tls {
            let plain = head.len() as u64 + size;
            let total = payloads::tls_stream_len(plain);
            let cut = cut.map(|c| c + head.len() as u64);
            self.send(s, k, t, Stream::Tls { plain }, total, cut)
        } else {
            s.push(k.seg(false, t, flag::PSH | flag::ACK, Body::Owned(head)));
            let t = t + k.gap_ns;
            self.send(s, k, t, stream, size, cut)
        };
        if zip {
            self.mix.zip_bytes += cut.unwrap_or(size).min(size);
        }
        if reset {
            self.mix.fail(Failure::ConnectionReset);
            return None;
        }
        Some(t)
    }

    /// The server sends `total` bytes of `stream` in full-size segments,
    /// the client ACKs every second one; with `cut`, the server sends RST
    /// instead of the segment that would start at or after that offset.
    /// Returns the time after the last packet and whether it was reset.
    fn send(
        &mut self,
        s: &mut Script,
        k: &mut Conn,
        mut t: u64,
        stream: Stream,
        total: u64,
        cut: Option<u64>,
    ) -> (u64, bool) {
        let mut off = 0;
        let mut n = 0u64;
        while off < total {
            if cut.is_some_and(|c| off >= c) {
                s.push(k.seg(false, t, flag::RST | flag::ACK, Body::Empty));
                return (t, true);
            }
            let len = (total - off).min(MSS as u64);
            let last = off + len == total;
            let flags = flag::ACK | if last { flag::PSH } else { 0 };
            let body = Body::Stream {
                stream,
                off,
                len: len as u16,
                salt: self.rng.next_u32(),
            };
            s.push(k.seg(false, t, flags, body));
            off += len;
            n += 1;
            if n.is_multiple_of(2) || last {
                let ta = t + self.rng.range(5 * US, 40 * US);
                s.push(k.seg(true, ta, flag::ACK, Body::Empty));
            }
            t += k.gap_ns + self.rng.range(0, k.gap_ns / 2);
        }
        (t, false)
    }
}
