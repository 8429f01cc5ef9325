//! What TLS and cleartext HTTP on one TCP connection prove, from the
//! [`AppSummary`] of each segment (sniffed by content, not port).
//!
//! - A fatal alert (RFC 8446 6.2; AlertLevel fatal, or in TLS 1.3 any
//!   alert but close_notify and user_canceled) from the server:
//!   `tls-alert`. From the client: a certificate alert (bad_certificate
//!   42 ... unknown_ca 48) means the client's own verification of the
//!   server's certificate failed, `tls-untrusted-certificate`, not the
//!   server; another client alert is `tls-alert`, naming the client.
//! - TLS 1.3 encrypts alerts (RFC 8446 5.2): a client whose first record
//!   after the ServerHello is alert-sized ([`tls::ENCRYPTED_ALERT_LEN`];
//!   a Finished is at least 36 bytes larger) and that then closes without
//!   sending anything else aborted the handshake right after reading the
//!   server's certificate: `tls-untrusted-certificate`, with the caveat
//!   that the alert itself is not readable.
//! - A warning alert in TLS <= 1.2 (unrecognized_name before a completed
//!   handshake) is not a failure; neither is an encrypted TLS 1.2 alert
//!   after the handshake (close_notify, most often).
//! - An HTTP/1.x response with status >= 400 (RFC 9110 15.5, 15.6):
//!   `http-status`, citing the request it answers when captured.
//! - A ClientHello answered by bytes that are not TLS is a note: the
//!   server does not speak TLS on that port.

use std::net::SocketAddr;

use super::record::{target_of, Ev, Failure};
use crate::capture::AppSummary;
use crate::cause::Cause;
use crate::proto::http::HttpHead;
use crate::proto::tls::{self, Alert, Message};

/// A packet: frame number and capture time.
type At = (u64, Option<i64>);

/// Application-layer state of one connection.
#[derive(Debug, Default)]
pub(crate) struct App {
    client_hello: Option<At>,
    sni: Option<String>,
    server_hello: Option<(At, u16)>,
    /// The latest HTTP request, for the response that answers it.
    request: Option<(At, Box<AppSummary>)>,
    /// TLS 1.3: the client's first record after the ServerHello, when
    /// alert-sized (its length).
    enc_alert: Option<(At, u16)>,
    client_spoke_after_hello: bool,
    client_more: bool,
    server_spoke: bool,
    /// A failure was already proven on this connection.
    pub failed: bool,
    /// The server answered a ClientHello with non-TLS bytes (that packet).
    pub not_tls: Option<u64>,
}

/// The two ends of the connection, client first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ends {
    /// The side that opened (SYN) or spoke first (ClientHello, request).
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
}

/// The name in a Host header value (RFC 9110 7.2), without its port;
/// `None` when it is an address (the target already says it).
fn host_name(host: &str) -> Option<String> {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    (!bare.is_empty() && bare.parse::<std::net::IpAddr>().is_err()).then(|| name.to_string())
}

fn tls13(version: u16) -> bool {
    version == 0x0304 || (0x7f00..=0x7fff).contains(&version)
}

impl App {
    fn is_tls13(&self) -> bool {
        self.server_hello.is_some_and(|(_, v)| tls13(v))
    }

    /// Fatal per RFC 8446 6: level 2, or any but close_notify (0) and
    /// user_canceled (90) once TLS 1.3 was negotiated; close_notify is an
    /// orderly close whatever its level.
    fn fatal(&self, a: Alert) -> bool {
        a.description != 0 && (a.level == 2 || (self.is_tls13() && a.description != 90))
    }

    /// Observes the summary of a segment sent by the client
    /// (`from_client`) or the server; returns the failure it proves.
    pub(crate) fn observe(
        &mut self,
        summary: Box<AppSummary>,
        from_client: bool,
        at: At,
        ends: Ends,
    ) -> Option<Failure> {
        let from_server = !from_client;
        if from_server && !self.server_spoke {
            self.server_spoke = true;
            if self.client_hello.is_some() && !matches!(*summary, AppSummary::Tls(_)) {
                self.not_tls = Some(at.0);
            }
        }
        match *summary {
            AppSummary::Tls(mut t) => {
                for m in t.messages.iter_mut() {
                    if let Some(f) = self.tls_message(m, from_client, at, ends) {
                        return Some(f);
                    }
                }
                None
            }
            AppSummary::Http(HttpHead::Request(_)) if from_client => {
                self.request = Some((at, summary));
                None
            }
            AppSummary::Http(HttpHead::Response(ref r)) if from_server && r.is_error() => {
                if self.failed {
                    return None;
                }
                self.failed = true;
                Some(self.http_failure(&summary, at, ends))
            }
            AppSummary::Http(_) => None,
        }
    }

    /// A data segment from the server that starts with no recognisable
    /// record or head.
    pub(crate) fn server_data_unrecognised(&mut self, pkt: u64) {
        if !self.server_spoke {
            self.server_spoke = true;
            if self.client_hello.is_some() {
                self.not_tls = Some(pkt);
            }
        }
    }

    fn tls_message(
        &mut self,
        m: &mut Message,
        from_client: bool,
        at: At,
        ends: Ends,
    ) -> Option<Failure> {
        match m {
            Message::ClientHello(c) if from_client && self.client_hello.is_none() => {
                self.client_hello = Some(at);
                self.sni = c.sni.take();
            }
            Message::ServerHello(s) if !from_client && self.server_hello.is_none() => {
                self.server_hello = Some((at, s.version()));
            }
            Message::Alert(a) if self.fatal(*a) && !self.failed => {
                self.failed = true;
                return Some(self.alert_failure(*a, from_client, at, ends));
            }
            Message::ChangeCipherSpec => {}
            _ if from_client && self.server_hello.is_some() => {
                if !self.client_spoke_after_hello {
                    self.client_spoke_after_hello = true;
                    if self.is_tls13() && m.may_be_encrypted_alert() {
                        if let Message::ApplicationData { len } = m {
                            self.enc_alert = Some((at, *len));
                        }
                    }
                } else if self.enc_alert.is_some() {
                    self.client_more = true;
                }
            }
            _ => {}
        }
        None
    }

    fn hello_evidence(&self, ends: Ends) -> Vec<Ev> {
        let mut ev = Vec::new();
        if let Some((pkt, ns)) = self.client_hello {
            let sni = self
                .sni
                .as_deref()
                .map(|s| format!(" (SNI={s})"))
                .unwrap_or_default();
            let text = format!("{} > {} TLS Client Hello{sni}", ends.client, ends.server);
            ev.push(Ev::new(pkt, ns, text));
        }
        if let Some(((pkt, ns), v)) = self.server_hello {
            let text = format!(
                "{} > {} TLS Server Hello ({})",
                ends.server,
                ends.client,
                tls::version_name(v)
            );
            ev.push(Ev::new(pkt, ns, text));
        }
        ev
    }

    fn alert_failure(&self, a: Alert, from_client: bool, at: At, ends: Ends) -> Failure {
        let (src, dst) = if from_client {
            (ends.client, ends.server)
        } else {
            (ends.server, ends.client)
        };
        let mut ev = self.hello_evidence(ends);
        ev.push(Ev::new(at.0, at.1, format!("{src} > {dst} TLS {a}")));
        let name = tls::alert_name(a.description)
            .map(str::to_string)
            .unwrap_or_else(|| format!("alert {}", a.description));
        let after = match self.server_hello {
            Some(((p, _), v)) => {
                format!(" after the ServerHello ({}, pkt {p})", tls::version_name(v))
            }
            None => match self.client_hello {
                Some((p, _)) => format!(" in answer to the ClientHello (pkt {p})"),
                None => String::new(),
            },
        };
        let target = target_of(ends.server, self.sni.clone());
        if from_client && a.rejects_certificate() {
            let summary = format!(
                "the client {} rejected the certificate of {}: it sent the fatal alert {name} (pkt {}){after}; its own certificate verification failed, not the server",
                ends.client, ends.server, at.0
            );
            return Failure::new(Cause::TlsUntrustedCertificate, summary, target, ev);
        }
        let who = if from_client {
            format!(
                "the client {} aborted the TLS handshake with {}",
                ends.client, ends.server
            )
        } else {
            format!("{} ended the TLS handshake", ends.server)
        };
        let summary = format!("{who} with the fatal alert {name} (pkt {}){after}", at.0);
        Failure::new(Cause::TlsAlert, summary, target, ev)
    }

    fn http_failure(&self, resp: &AppSummary, at: At, ends: Ends) -> Failure {
        let line = resp.describe();
        let mut ev = Vec::new();
        let (asked, name) = match &self.request {
            Some(((pkt, ns), req)) => {
                let text = req.describe();
                ev.push(Ev::new(
                    *pkt,
                    *ns,
                    format!("{} > {} {text}", ends.client, ends.server),
                ));
                let host = match &**req {
                    AppSummary::Http(HttpHead::Request(r)) => r.host.as_deref().and_then(host_name),
                    _ => None,
                };
                (format!(" the request `{text}` (pkt {pkt})"), host)
            }
            None => (String::new(), None),
        };
        ev.push(Ev::new(
            at.0,
            at.1,
            format!("{} > {} {line}", ends.server, ends.client),
        ));
        let missing = if asked.is_empty() {
            "; the request is not in the capture"
        } else {
            ""
        };
        let summary = format!(
            "{} answered{asked} with {line} (pkt {}){missing}",
            ends.server, at.0
        );
        Failure::new(Cause::HttpStatus, summary, target_of(ends.server, name), ev)
    }

    /// At the end of the connection (`closed`: the client's FIN or RST):
    /// the TLS 1.3 encrypted-alert failure, if the client aborted so.
    pub(crate) fn finish(&mut self, closed: Option<At>, ends: Ends) -> Option<Failure> {
        let ((pkt, ns), len) = self.enc_alert?;
        let (close, _) = closed?;
        if self.failed || self.client_more || close < pkt {
            return None;
        }
        self.failed = true;
        let mut ev = self.hello_evidence(ends);
        ev.push(Ev::new(
            pkt,
            ns,
            format!(
                "{} > {} TLS Application Data ({len} bytes)",
                ends.client, ends.server
            ),
        ));
        let summary = format!(
            "the client {} aborted the TLS 1.3 handshake with {} right after the server's certificate: its first record (pkt {pkt}) is an alert-sized encrypted record ({len} bytes; a Finished is longer) and then it closed (pkt {close}); TLS 1.3 encrypts the alert, so which check failed is not visible, most often the server's certificate is not trusted here",
            ends.client, ends.server
        );
        Some(Failure::new(
            Cause::TlsUntrustedCertificate,
            summary,
            target_of(ends.server, self.sni.clone()),
            ev,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::tls::TlsSummary;

    fn ends() -> Ends {
        Ends {
            client: "198.18.0.1:40000".parse().unwrap(),
            server: "198.18.0.2:443".parse().unwrap(),
        }
    }

    fn tls(b: &[u8]) -> Box<AppSummary> {
        Box::new(AppSummary::Tls(TlsSummary::parse(b).unwrap()))
    }

    fn alert(level: u8, desc: u8) -> Box<AppSummary> {
        tls(&[21, 3, 3, 0, 2, level, desc])
    }

    const HELLO: &[u8] = include_bytes!("../../testdata/wire/go-tls13-client-hello.bin");
    const FLIGHT13: &[u8] = include_bytes!("../../testdata/wire/go-tls13-server-flight.bin");
    const FLIGHT12: &[u8] = include_bytes!("../../testdata/wire/go-tls12-server-flight.bin");
    const ENC_ALERT: &[u8] =
        include_bytes!("../../testdata/wire/go-tls13-client-encrypted-alert.bin");

    #[test]
    fn client_certificate_alert_is_untrusted_certificate_server_alert_is_tls_alert() {
        let mut a = App::default();
        assert!(a.observe(tls(HELLO), true, (4, None), ends()).is_none());
        assert!(a.observe(tls(FLIGHT12), false, (6, None), ends()).is_none());
        let f = a.observe(alert(2, 48), true, (8, None), ends()).unwrap();
        assert_eq!(f.cause, Cause::TlsUntrustedCertificate);
        assert_eq!(f.pkts(), "4, 6, 8");
        assert!(f.summary.contains("unknown_ca (pkt 8)"), "{}", f.summary);
        assert_eq!(f.target.name.as_deref(), Some("proxy.lab.test"));
        // One failure per connection.
        assert!(a.observe(alert(2, 40), false, (9, None), ends()).is_none());

        let mut b = App::default();
        b.observe(tls(HELLO), true, (4, None), ends());
        let f = b.observe(alert(2, 40), false, (6, None), ends()).unwrap();
        assert_eq!(f.cause, Cause::TlsAlert);
        assert!(f.summary.starts_with("198.18.0.2:443 ended the TLS handshake with the fatal alert handshake_failure (pkt 6) in answer to the ClientHello (pkt 4)"), "{}", f.summary);
    }

    #[test]
    fn warning_alert_before_a_tls12_handshake_is_not_a_failure() {
        let mut a = App::default();
        a.observe(tls(HELLO), true, (4, None), ends());
        assert!(a.observe(alert(1, 112), false, (6, None), ends()).is_none());
        assert!(a.observe(alert(1, 0), true, (9, None), ends()).is_none());
    }

    #[test]
    fn tls13_alert_sized_first_client_record_then_close() {
        let mut a = App::default();
        a.observe(tls(HELLO), true, (4, None), ends());
        a.observe(tls(FLIGHT13), false, (6, None), ends());
        a.observe(tls(ENC_ALERT), true, (8, None), ends());
        let f = a.finish(Some((9, None)), ends()).unwrap();
        assert_eq!(f.cause, Cause::TlsUntrustedCertificate);
        assert_eq!(f.pkts(), "4, 6, 8");
        // Without a close by the client, nothing is claimed.
        let mut b = App::default();
        b.observe(tls(HELLO), true, (4, None), ends());
        b.observe(tls(FLIGHT13), false, (6, None), ends());
        b.observe(tls(ENC_ALERT), true, (8, None), ends());
        assert!(b.finish(None, ends()).is_none());
        // A Finished-sized first record is a completed handshake.
        let mut c = App::default();
        c.observe(tls(HELLO), true, (4, None), ends());
        c.observe(tls(FLIGHT13), false, (6, None), ends());
        c.observe(tls(&[23, 3, 3, 0, 53]), true, (8, None), ends());
        assert!(c.finish(Some((9, None)), ends()).is_none());
    }

    #[test]
    fn http_error_cites_the_request() {
        let mut a = App::default();
        let get = include_bytes!("../../testdata/wire/go-http-get.bin");
        let req = Box::new(AppSummary::sniff(get).unwrap());
        assert!(a.observe(req, true, (4, None), ends()).is_none());
        let ok = Box::new(AppSummary::sniff(b"HTTP/1.1 302 Found\r\n\r\n").unwrap());
        assert!(a.observe(ok, false, (5, None), ends()).is_none());
        let resp = include_bytes!("../../testdata/wire/go-http-403.bin");
        let resp = Box::new(AppSummary::sniff(resp).unwrap());
        let f = a.observe(resp, false, (6, None), ends()).unwrap();
        assert_eq!(f.cause, Cause::HttpStatus);
        assert_eq!(f.pkts(), "4, 6");
        assert!(
            f.summary
                .contains("the request `GET /github.com/x/y/@v/list HTTP/1.1"),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("403"), "{}", f.summary);
    }

    #[test]
    fn host_header_names_without_port_or_address() {
        assert_eq!(
            host_name("proxy.lab.test:8080").as_deref(),
            Some("proxy.lab.test")
        );
        assert_eq!(
            host_name("proxy.lab.test").as_deref(),
            Some("proxy.lab.test")
        );
        assert_eq!(host_name("127.0.0.1:8000"), None);
        assert_eq!(host_name("[2001:db8:1:2::1000]"), None);
        assert_eq!(host_name("[2001:db8::1]:443"), None);
        assert_eq!(host_name(""), None);
    }

    #[test]
    fn non_tls_answer_to_a_client_hello_is_noted() {
        let mut a = App::default();
        a.observe(tls(HELLO), true, (4, None), ends());
        a.server_data_unrecognised(6);
        assert_eq!(a.not_tls, Some(6));
        let mut b = App::default();
        b.observe(tls(HELLO), true, (4, None), ends());
        b.observe(tls(FLIGHT12), false, (6, None), ends());
        assert_eq!(b.not_tls, None);
    }
}
