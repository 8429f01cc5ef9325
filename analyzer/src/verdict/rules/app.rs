//! Rules above TCP, for a connection that was established: TLS (RFC 8446)
//! and plain-HTTP (RFC 9110) outcomes, from the payload heads of the
//! syscalls and the decoded packets ([`crate::correlate::AppObs`]).
//!
//! - A client-sent certificate alert (bad_certificate 42 ... unknown_ca 48,
//!   RFC 8446 6.2), or in TLS 1.3 an encrypted alert-sized record from us
//!   right after the server's flight while Go says `x509: ...`:
//!   `network / tls-untrusted-certificate` (our side refused the peer's
//!   certificate).
//! - A fatal alert from the server: `network / tls-alert`.
//! - An HTTP response with status >= 400: `network / http-status` (Go's
//!   GOPROXY rule: after `,` only 404/410 move on to the next entry,
//!   cmd/go/internal/modfetch/proxy.go).

use std::borrow::Cow;

use super::{base, ev, pk, undecided, Diagnosis};
use crate::capture::AppSummary;
use crate::cause::{Cause, Missing};
use crate::correlate::{AppObs, Attempt, Source, Step};
use crate::proto::http::HttpHead;
use crate::proto::tls::{self, Alert, Message};
use crate::verdict::Input;

pub(super) fn diagnose(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    tls_outcome(a, input).or_else(|| http_status(a, input))
}

fn cite(a: &Attempt, o: &AppObs) -> Option<Step> {
    match o.source {
        Source::Event => ev(a, Some(o.id)),
        Source::Packet => pk(a, Some(o.id)),
    }
}

fn tls_msgs(o: &AppObs) -> &[Message] {
    match &o.summary {
        AppSummary::Tls(t) => &t.messages,
        AppSummary::Http(_) => &[],
    }
}

fn first(a: &Attempt, f: impl Fn(&AppObs) -> bool) -> Option<&AppObs> {
    a.app.iter().find(|o| f(o))
}

fn tls_outcome(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    let hello = first(a, |o| {
        !o.from_peer
            && tls_msgs(o)
                .iter()
                .any(|m| matches!(m, Message::ClientHello(_)))
    })?;
    let sni = tls_msgs(hello).iter().find_map(|m| match m {
        Message::ClientHello(c) => c.sni.clone(),
        _ => None,
    });
    let server = sni.clone().unwrap_or_else(|| a.peer.to_string());
    let server_hello = first(a, |o| {
        o.from_peer
            && tls_msgs(o)
                .iter()
                .any(|m| matches!(m, Message::ServerHello(_)))
    });
    let version = server_hello
        .and_then(|o| {
            tls_msgs(o).iter().find_map(|m| match m {
                Message::ServerHello(s) => Some(s.version()),
                _ => None,
            })
        })
        .map(tls::version_name);
    let alert = |from_peer: bool| {
        a.app.iter().find_map(|o| {
            let al = tls_msgs(o).iter().find_map(|m| match m {
                Message::Alert(al) if al.is_fatal() => Some(*al),
                _ => None,
            });
            al.filter(|_| o.from_peer == from_peer).map(|al| (o, al))
        })
    };
    let x509 = input.clues.x509.clone();
    let in_version = version
        .as_deref()
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    // Our own certificate alert in cleartext (TLS <= 1.2).
    if let Some((o, al)) = alert(false).filter(|(_, al)| al.rejects_certificate()) {
        return Some(untrusted(
            a,
            hello,
            server_hello,
            o,
            &server,
            &format!("sent the alert {}", alert_text(al)),
            x509,
        ));
    }
    // TLS 1.3: our alert is encrypted; an alert-sized record from us after
    // the server's flight, with Go naming an x509 failure, is that alert.
    let enc = a.app.iter().find(|o| {
        !o.from_peer
            && server_hello.is_some_and(|sh| sh.id <= o.id || sh.source != o.source)
            && tls_msgs(o).iter().any(Message::may_be_encrypted_alert)
    });
    if let (Some(o), Some(_)) = (enc, &x509) {
        return Some(untrusted(
            a,
            hello,
            server_hello,
            o,
            &server,
            &format!("ended the handshake{in_version} with an encrypted alert-sized record"),
            x509,
        ));
    }
    if let Some((o, al)) = alert(true) {
        let mut d = base(
            Cause::TlsAlert,
            format!(
                "the TLS server {} ended the handshake with the fatal alert {}",
                server_text(&server, a),
                alert_text(al)
            ),
        );
        d.evidence.extend(cite(a, hello));
        d.evidence.extend(cite(a, o));
        d.go_phrase = Some(Cow::Borrowed("remote error: tls"));
        return Some(d);
    }
    if let Some(words) = x509 {
        // Go says the certificate failed, but the wire does not show our abort.
        let mut d = undecided(
            format!("Go rejected the certificate of {server} ({words}), but the capture does not show how the handshake ended"),
            vec![Missing::HandshakeEnd],
        );
        d.evidence.extend(cite(a, hello));
        d.go_phrase = Some(Cow::Borrowed("x509: "));
        d.advice = Some("the server's certificate is not trusted here: install its CA (system trust store, SSL_CERT_FILE/SSL_CERT_DIR)".into());
        return Some(d);
    }
    None
}

/// `proxy.lab.test (198.18.0.2:8443)`, or just the address without SNI.
fn server_text(server: &str, a: &Attempt) -> String {
    let peer = a.peer.to_string();
    if server == peer {
        peer
    } else {
        format!("{server} ({peer})")
    }
}

fn alert_text(al: Alert) -> String {
    match tls::alert_name(al.description) {
        Some(n) => format!("{n} ({})", al.description),
        None => format!("{}", al.description),
    }
}

fn untrusted(
    a: &Attempt,
    hello: &AppObs,
    server_hello: Option<&AppObs>,
    abort: &AppObs,
    server: &str,
    how: &str,
    x509: Option<String>,
) -> Diagnosis {
    let why = x509
        .as_deref()
        .map(|w| format!(" (Go: {w})"))
        .unwrap_or_default();
    let mut d = base(Cause::TlsUntrustedCertificate,
        format!("the TLS server {} presented a certificate this host does not trust: Go, the client, {how} and closed the connection{why}", server_text(server, a)),
    );
    d.evidence.extend(cite(a, hello));
    d.evidence.extend(server_hello.and_then(|o| cite(a, o)));
    d.evidence.extend(cite(a, abort));
    d.evidence.extend(pk(a, a.client_fin));
    d.go_phrase = Some(Cow::Borrowed(if x509.is_some() {
        "x509: "
    } else {
        "certificate"
    }));
    d.target.name = Some(server.to_string());
    d
}

/// An HTTP error response and the request before it on the connection.
#[derive(Clone)]
struct Failed<'a> {
    /// The request: its observation, method and target.
    req: Option<(&'a AppObs, String, String)>,
    resp: &'a AppObs,
    status: u16,
    reason: String,
}

/// The HTTP error response Go's error is about (its path named in stderr),
/// else the last one.
fn http_status(a: &Attempt, input: &Input<'_>) -> Option<Diagnosis> {
    let mut failed: Vec<Failed<'_>> = Vec::new();
    let mut last_req: Option<(&AppObs, String, String)> = None;
    for o in &a.app {
        match &o.summary {
            AppSummary::Http(HttpHead::Request(r)) if !o.from_peer => {
                last_req = Some((o, r.method.clone(), r.target.clone()));
            }
            AppSummary::Http(HttpHead::Response(r)) if o.from_peer && r.is_error() => {
                failed.push(Failed {
                    req: last_req.clone().filter(|(q, _, _)| q.source == o.source),
                    resp: o,
                    status: r.status,
                    reason: r.reason.clone().unwrap_or_default(),
                });
            }
            _ => {}
        }
    }
    // In a run that succeeded, 404/410 is the GOPROXY protocol's "not
    // here" (cmd/go's module-path prefix probing asks for every prefix of
    // a package path; go help goproxy), not a failure.
    if input.meta.exit == Some(gotrace_bundle::ExitStatus::Code(0)) {
        failed.retain(|f| !matches!(f.status, 404 | 410));
    }
    let stderr = input.stderr.unwrap_or("");
    let named = |f: &&Failed<'_>| {
        f.req
            .as_ref()
            .is_some_and(|(_, _, path)| !path.is_empty() && stderr.contains(path.as_str()))
    };
    let f = failed
        .iter()
        .find(named)
        .or(failed
            .iter()
            .rev()
            .find(|f| f.resp.source == Source::Packet))
        .or(failed.last())?;
    let status = f.status;
    let what = match &f.req {
        Some((_, method, path)) => format!("{method} {path}"),
        None => "a request".into(),
    };
    let status_text = format!("{status} {}", f.reason).trim_end().to_string();
    let rule = match status {
        404 | 410 => "Go reads 404/410 as \"not on this proxy\" and tries the next GOPROXY entry after a `,`; there was none left",
        _ => "only a `|` after this GOPROXY entry would let Go fall back to the next one on this status",
    };
    let mut d = base(Cause::HttpStatus,
        format!("the proxy {} answered {status_text} to {what}: the request reached the proxy and the proxy answered with an error, so the network delivered it; {rule}", a.peer),
    );
    if let Some((host, port)) = a.origin() {
        d.summary.push_str(&format!(
            "; {} is the forward proxy (HTTP_PROXY/HTTPS_PROXY) on the way to {host}:{port}, the origin Go names",
            a.peer
        ));
    }
    d.evidence
        .extend(f.req.as_ref().and_then(|(o, _, _)| cite(a, o)));
    d.evidence.extend(cite(a, f.resp));
    // net/http reports a refused CONNECT by its reason phrase alone
    // (`Forbidden`, transport.go dialConn), other statuses cmd/go prints
    // with their code.
    let connect = f.req.as_ref().is_some_and(|(_, m, _)| m == "CONNECT");
    d.go_phrase = Some(match (connect, f.reason.is_empty()) {
        (true, false) => Cow::Owned(f.reason.clone()),
        _ => Cow::Owned(status.to_string()),
    });
    d.fix = Some(http_fix(status, &what, a));
    Some(d)
}

fn http_fix(status: u16, what: &str, a: &Attempt) -> String {
    let peer = a.peer;
    match status {
        401 | 403 | 407 => format!("{peer} refuses {what} ({status}): the proxy needs credentials or an allow-list entry (a .netrc / GOAUTH entry for a private proxy, HTTPS_PROXY credentials for 407), or the module belongs in GOPRIVATE/GONOPROXY so Go fetches it directly"),
        404 | 410 => format!("{peer} does not have {what} ({status}): check the module path and version; add a fallback entry (GOPROXY=...,https://goproxy.cn,direct) or list private modules in GOPRIVATE"),
        500..=599 => format!("{peer} failed upstream ({status}): the proxy (or the origin it fetches from) is broken; retry later, check its logs, or add a fallback with `|` (GOPROXY=a|b)"),
        _ => format!("{peer} answered {status} to {what}: check the proxy's logs and configuration"),
    }
}
