//! HTTP/1.x message heads (RFC 9112 sections 2.1, 3, 4) over the
//! `httparse` crate: the request line and Host of a request, the status
//! line of a response.
//!
//! Input is often cut: the first TCP segment of a message, or the 128-byte
//! head of a `write`/`read` buffer from the syscall trace. Whatever the
//! buffer reaches is kept: a status line alone gives the status, a request
//! line cut inside its target gives the method and the start of the target.
//! Nothing here panics on input; stored text is bounded ([`MAX_TEXT`]).

use httparse::{Request, Response, Status, EMPTY_HEADER};

/// Request methods recognised when sniffing (RFC 9110 section 9, RFC 5789
/// for PATCH). Any other token is not taken for HTTP.
pub const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];
/// Longest request target, reason phrase or Host value kept, bytes; longer
/// ones are cut (at a character boundary) and end with `…`.
pub const MAX_TEXT: usize = 256;
/// Header fields read per head; a head with more keeps its start line only.
const MAX_HEADERS: usize = 64;

/// An HTTP/1.x request or response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpHead {
    /// A request (RFC 9112 section 3).
    Request(HttpRequest),
    /// A response (RFC 9112 section 4).
    Response(HttpResponse),
}

/// A request head, as far as the buffer reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method, one of [`METHODS`].
    pub method: String,
    /// request-target (RFC 9112 section 3.2): origin-form `/path?q`,
    /// absolute-form `http://host/path` (to a proxy), authority-form
    /// `host:port` (CONNECT). Only its start when `version` is `None` (the
    /// buffer ends inside the request line); empty when nothing of it came.
    pub target: String,
    /// Minor version of `HTTP/1.x`; `None` when the request line is cut.
    pub version: Option<u8>,
    /// Host header field value (RFC 9110 section 7.2), when read.
    pub host: Option<String>,
    /// The whole head (up to its empty line) was in the buffer.
    pub complete: bool,
}

impl HttpRequest {
    /// The origin a request to a forward proxy names: the authority-form
    /// target of `CONNECT host:port` (RFC 9112 3.2.3), or the authority of
    /// an absolute-form `http://host[:port]/path` (RFC 9112 3.2.2; port 80
    /// or 443 by scheme when absent), as (host without brackets, port).
    /// `None` for an origin-form target (`/path`: the peer is the origin).
    pub fn origin(&self) -> Option<(String, u16)> {
        let (authority, default_port) = if self.method == "CONNECT" {
            (self.target.as_str(), None)
        } else if let Some(rest) = self.target.strip_prefix("http://") {
            (rest.split('/').next()?, Some(80))
        } else if let Some(rest) = self.target.strip_prefix("https://") {
            (rest.split('/').next()?, Some(443))
        } else {
            return None;
        };
        let authority = authority.rsplit('@').next()?;
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, p.parse().ok()?),
            _ => (authority, default_port?),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (!host.is_empty()).then(|| (host.to_string(), port))
    }
}

/// A response head, as far as the buffer reached (at least the status code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Minor version of `HTTP/1.x`.
    pub version: u8,
    /// Status code, 3 digits (RFC 9110 section 15).
    pub status: u16,
    /// Reason phrase; `None` when the buffer ends inside it, empty when
    /// the server sent none (or a non-UTF-8 one).
    pub reason: Option<String>,
    /// The whole head (up to its empty line) was in the buffer.
    pub complete: bool,
}

/// Whether `b` starts like an HTTP/1.x message: `HTTP/1.` (a response) or
/// a method of [`METHODS`] and a space (a request). This is how the capture
/// sniffs HTTP by content rather than by port.
pub fn looks_like_http(b: &[u8]) -> bool {
    b.starts_with(b"HTTP/1.") || request_method(b).is_some()
}

/// The method `b` starts with, followed by a space.
fn request_method(b: &[u8]) -> Option<&'static str> {
    METHODS
        .into_iter()
        .find(|m| b.starts_with(m.as_bytes()) && b.get(m.len()) == Some(&b' '))
}

impl HttpResponse {
    /// A 4xx (client error) or 5xx (server error) status, RFC 9110 15.5
    /// and 15.6: the request reached the server and it refused or failed.
    pub fn is_error(&self) -> bool {
        self.status >= 400
    }
}

impl HttpHead {
    /// Decodes the head at the start of `b`; `None` when `b` does not start
    /// like HTTP ([`looks_like_http`]), when a response is cut before its
    /// status code, or when the start line is malformed.
    pub fn parse(b: &[u8]) -> Option<HttpHead> {
        if let Some(method) = request_method(b) {
            return parse_request(b, method).map(HttpHead::Request);
        }
        if b.starts_with(b"HTTP/1.") {
            return parse_response(b).map(HttpHead::Response);
        }
        None
    }

    /// One line in Wireshark's style: `GET /x/@v/list HTTP/1.1 (Host:
    /// proxy.lab.test)`, `CONNECT proxy.golang.org:443 HTTP/1.1`,
    /// `HTTP/1.0 403 Forbidden`; `(partial)` marks a request line cut short.
    pub fn describe(&self) -> String {
        match self {
            HttpHead::Request(r) => {
                let Some(v) = r.version else {
                    return format!("{} {} (partial)", r.method, r.target);
                };
                let host = match &r.host {
                    Some(h) if r.target.starts_with('/') => format!(" (Host: {h})"),
                    _ => String::new(),
                };
                format!("{} {} HTTP/1.{v}{host}", r.method, r.target)
            }
            HttpHead::Response(r) => match r.reason.as_deref() {
                Some(reason) if !reason.is_empty() => {
                    format!("HTTP/1.{} {} {reason}", r.version, r.status)
                }
                _ => format!("HTTP/1.{} {}", r.version, r.status),
            },
        }
    }
}

fn parse_request(b: &[u8], method: &str) -> Option<HttpRequest> {
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let mut req = Request::new(&mut headers);
    let res = req.parse(b);
    let mut out = HttpRequest {
        method: method.to_string(),
        target: req.path.map(clip).unwrap_or_default(),
        version: req.version,
        host: None,
        complete: matches!(res, Ok(Status::Complete(_))),
    };
    match res {
        Ok(Status::Complete(_)) => out.host = host(req.headers),
        Ok(Status::Partial) if out.version.is_some() => out.host = host_of_cut_head(b),
        Ok(Status::Partial) => {
            // Cut inside the request line: keep what came of the target.
            let rest = &b[method.len() + 1..];
            let end = rest
                .iter()
                .position(|&c| c == b' ' || c == b'\r' || c == b'\n')
                .unwrap_or(rest.len());
            out.target = clip(&String::from_utf8_lossy(&rest[..end]));
        }
        // A bad header field (or too many): the request line stands.
        Err(_) if out.version.is_some() => {}
        Err(_) => return None,
    }
    Some(out)
}

fn parse_response(b: &[u8]) -> Option<HttpResponse> {
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let mut resp = Response::new(&mut headers);
    let res = resp.parse(b);
    // A malformed head after a whole status line still has its status.
    if res.is_err() && resp.reason.is_none() {
        return None;
    }
    Some(HttpResponse {
        version: resp.version?,
        status: resp.code?,
        reason: resp.reason.map(clip),
        complete: matches!(res, Ok(Status::Complete(_))),
    })
}

/// The Host value of a head cut inside its header section: the whole lines
/// are parsed again as a head of their own.
fn host_of_cut_head(b: &[u8]) -> Option<String> {
    let end = b.iter().rposition(|&c| c == b'\n')? + 1;
    let mut head = b[..end].to_vec();
    head.extend_from_slice(b"\r\n");
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let mut req = Request::new(&mut headers);
    match req.parse(&head) {
        Ok(Status::Complete(_)) => host(req.headers),
        _ => None,
    }
}

/// The first Host header field's value.
fn host(headers: &[httparse::Header<'_>]) -> Option<String> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .map(|h| clip(&String::from_utf8_lossy(h.value)))
}

/// `s`, cut to at most [`MAX_TEXT`] bytes at a character boundary (then
/// ending with `…`).
fn clip(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            target: target.into(),
            version: Some(1),
            host: None,
            complete: true,
        }
    }

    #[test]
    fn origin_of_proxy_request_targets() {
        let o = |m, t| req(m, t).origin();
        assert_eq!(
            o("CONNECT", "198.18.0.2:8443"),
            Some(("198.18.0.2".into(), 8443))
        );
        assert_eq!(o("CONNECT", "[fd00::2]:443"), Some(("fd00::2".into(), 443)));
        assert_eq!(o("CONNECT", "noport"), None);
        assert_eq!(
            o("GET", "http://198.18.0.2:8080/lab.test/@v/list"),
            Some(("198.18.0.2".into(), 8080))
        );
        assert_eq!(
            o("GET", "http://proxy.lab.test/x"),
            Some(("proxy.lab.test".into(), 80))
        );
        assert_eq!(o("GET", "/lab.test/@v/list"), None);
    }

    /// Real segments from Go 1.19 on 127.0.0.1 (testdata/wire/README.md).
    const GET: &[u8] = include_bytes!("../../testdata/wire/go-http-get.bin");
    const R403: &[u8] = include_bytes!("../../testdata/wire/go-http-403.bin");
    const R400: &[u8] = include_bytes!("../../testdata/wire/go-http-400-to-tls.bin");

    fn request(b: &[u8]) -> HttpRequest {
        match HttpHead::parse(b) {
            Some(HttpHead::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn response(b: &[u8]) -> HttpResponse {
        match HttpHead::parse(b) {
            Some(HttpHead::Response(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn go_request_and_responses() {
        let r = request(GET);
        assert_eq!(
            (r.method.as_str(), r.target.as_str(), r.version),
            ("GET", "/github.com/x/y/@v/list", Some(1))
        );
        assert_eq!(r.host.as_deref(), Some("127.0.0.1:18080"));
        assert!(r.complete);
        assert_eq!(
            HttpHead::parse(GET).unwrap().describe(),
            "GET /github.com/x/y/@v/list HTTP/1.1 (Host: 127.0.0.1:18080)"
        );
        let r = response(R403);
        assert_eq!((r.version, r.status, r.complete), (1, 403, true));
        assert_eq!(
            HttpHead::parse(R403).unwrap().describe(),
            "HTTP/1.1 403 Forbidden"
        );
        assert_eq!(
            HttpHead::parse(R400).unwrap().describe(),
            "HTTP/1.1 400 Bad Request"
        );
    }

    #[test]
    fn partial_heads_keep_what_they_reached() {
        // A status line alone, then cut inside it.
        let r = response(b"HTTP/1.0 403 Forbidden\r\n");
        assert_eq!((r.version, r.status, r.complete), (0, 403, false));
        assert_eq!(r.reason.as_deref(), Some("Forbidden"));
        let r = response(b"HTTP/1.1 407 Proxy Authentication Requ");
        assert_eq!((r.status, r.reason.as_deref()), (407, None));
        assert_eq!(HttpHead::Response(r).describe(), "HTTP/1.1 407");
        assert_eq!(response(b"HTTP/1.1 502").status, 502);
        assert_eq!(HttpHead::parse(b"HTTP/1.1 50"), None);
        // A head cut after its Host line (38 + 23 bytes).
        let r = request(&GET[..61]);
        assert_eq!(r.host.as_deref(), Some("127.0.0.1:18080"));
        assert!(!r.complete);
        // Cut inside the Host line: no host, the request line stands.
        let r = request(&GET[..60]);
        assert_eq!((r.host, r.version), (None, Some(1)));
        // Cut inside the target.
        let r = request(&GET[..20]);
        assert_eq!((r.target.as_str(), r.version), ("/github.com/x/y/", None));
        assert_eq!(
            HttpHead::Request(r).describe(),
            "GET /github.com/x/y/ (partial)"
        );
        assert_eq!(request(b"CONNECT ").target, "");
    }

    #[test]
    fn proxy_forms() {
        let b = b"CONNECT proxy.golang.org:443 HTTP/1.1\r\nHost: proxy.golang.org:443\r\n\r\n";
        assert_eq!(
            HttpHead::parse(b).unwrap().describe(),
            "CONNECT proxy.golang.org:443 HTTP/1.1"
        );
        let b = b"GET http://proxy.lab.test/x/@v/list HTTP/1.1\r\nHost: proxy.lab.test\r\n\r\n";
        assert_eq!(
            HttpHead::parse(b).unwrap().describe(),
            "GET http://proxy.lab.test/x/@v/list HTTP/1.1"
        );
        let b = b"HTTP/1.0 200 Connection Established\r\n\r\n";
        assert_eq!(
            HttpHead::parse(b).unwrap().describe(),
            "HTTP/1.0 200 Connection Established"
        );
    }

    #[test]
    fn not_http_or_malformed() {
        for b in [
            &b""[..],
            b"GET",
            b"GET/",
            b"get / HTTP/1.1\r\n",
            b"FETCH / HTTP/1.1\r\n",
            b"HTTP/2 200\r\n",
            b"HTTP/1.1 abc OK\r\n",
            b"SSH-2.0-OpenSSH_9.6\r\n",
            b"\x16\x03\x01\x02\x00",
            b"GET / HTTP/9.9\r\n\r\n",
        ] {
            assert_eq!(HttpHead::parse(b), None, "{b:?}");
        }
        assert!(looks_like_http(b"HTTP/1.1 200 OK") && looks_like_http(b"PUT /x"));
        assert!(!looks_like_http(b"PUTS /x") && !looks_like_http(b"HTTP/2 200"));
        // A bad header after a good status line or request line.
        assert_eq!(
            response(b"HTTP/1.1 500 Oops\r\nBad Header\r\n\r\n").status,
            500
        );
        let r = request(b"GET / HTTP/1.1\r\nHost: a\r\n: nothing\r\n\r\n");
        assert_eq!((r.version, r.complete), (Some(1), false));
    }

    #[test]
    fn long_text_is_clipped() {
        let mut b = b"GET /".to_vec();
        b.extend(std::iter::repeat_n(b'a', 1000));
        b.extend(b" HTTP/1.1\r\nHost: h\r\n\r\n");
        let r = request(&b);
        assert_eq!(r.target.len(), MAX_TEXT + '…'.len_utf8());
        let mut b = b"HTTP/1.1 200 ".to_vec();
        b.extend("ok ".repeat(300).as_bytes());
        b.extend(b"\r\n\r\n");
        let reason = response(&b).reason.unwrap();
        assert_eq!(reason.len(), MAX_TEXT + '…'.len_utf8());
        // httparse drops a reason with obs-text (bytes >= 0x80).
        let r = response("HTTP/1.1 200 é\r\n\r\n".as_bytes());
        assert_eq!(r.reason.as_deref(), Some(""));
        // Clipping keeps whole characters.
        assert!(clip(&"é".repeat(200)).ends_with("é…"));
    }

    #[test]
    fn every_prefix_and_byte_flip_never_panics() {
        for b in [GET, R403, R400] {
            for n in 0..=b.len() {
                if let Some(h) = HttpHead::parse(&b[..n]) {
                    let _ = h.describe();
                }
            }
            let mut v = b.to_vec();
            for i in 0..v.len() {
                for mask in [0x01, 0x20, 0x80, 0xff] {
                    v[i] ^= mask;
                    if let Some(h) = HttpHead::parse(&v) {
                        let _ = h.describe();
                    }
                    v[i] ^= mask;
                }
            }
        }
    }
}
