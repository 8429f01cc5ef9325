//! TLS and HTTP outcomes of established connections, from real payloads
//! (analyzer/testdata/wire/, a Go 1.19 client and server on loopback).

mod common;

use common::*;
use gotrace_analyzer::correlate::Source;
use gotrace_analyzer::{analyze_bundle, render_text, Layer};
use gotrace_bundle::Op;

const X509_STDERR: &str = "go: lab.test/greet@v1.0.0: Get \"https://198.18.0.2:8443/lab.test/greet/@v/v1.0.0.info\": x509: certificate signed by unknown authority\n";

fn tls_bundle(version: &str) -> (Bundle, u64, u64) {
    let mut b = Bundle::new(Some(1));
    established_dial(&mut b, 8443);
    let (c, s) = (socket_addr(CLIENT, 40122), socket_addr(SERVER, 8443));
    let hello = b.pkt(
        10.3,
        tcp_data(c, s, &wire(&format!("go-tls{version}-client-hello.bin"))),
    );
    b.pkt(
        10.5,
        tcp_data(s, c, &wire(&format!("go-tls{version}-server-flight.bin"))),
    );
    let alert_file = if version == "13" {
        "go-tls13-client-encrypted-alert.bin"
    } else {
        "go-tls12-client-alert.bin"
    };
    let alert = b.pkt(10.7, tcp_data(c, s, &wire(alert_file)));
    b.ev(10.8, Op::close(7));
    (b, hello, alert)
}

#[test]
fn tls13_untrusted_certificate_is_our_encrypted_alert_with_go_saying_x509() {
    let (mut b, hello, alert) = tls_bundle("13");
    b.stderr = Some(X509_STDERR.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "tls-untrusted-certificate");
    let s = &r.verdict.summary;
    assert!(
        s.contains("proxy.lab.test") && s.contains("TLS 1.3") && s.contains("x509"),
        "{s}"
    );
    assert!(cites(&r, Source::Packet, hello) && cites(&r, Source::Packet, alert));
    assert!(r.verdict.remediation.contains("CA"));
}

#[test]
fn tls13_abort_without_go_words_is_not_called_a_certificate_problem() {
    let (mut b, _, _) = tls_bundle("13");
    b.stderr = Some("go: lab.test/greet@v1.0.0: Get \"https://198.18.0.2:8443/x\": EOF\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_ne!(
        r.verdict.cause,
        "tls-untrusted-certificate",
        "{}",
        render_text(&r)
    );
}

#[test]
fn tls12_cleartext_bad_certificate_alert_names_who_sent_it() {
    let (mut b, _, alert) = tls_bundle("12");
    b.stderr = Some(X509_STDERR.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "tls-untrusted-certificate");
    assert!(
        r.verdict
            .summary
            .contains("Go, the client, sent the alert bad_certificate (42)"),
        "{}",
        r.verdict.summary
    );
    assert!(cites(&r, Source::Packet, alert));
}

#[test]
fn http_403_names_status_and_path_from_the_syscalls() {
    let mut b = Bundle::new(Some(1));
    established_dial(&mut b, 8080);
    let req = b"GET /lab.test/greet/@v/v1.0.0.info HTTP/1.1\r\nHost: 198.18.0.2:8080\r\nUser-Agent: Go-http-client/1.1\r\n\r\n";
    let resp = b"HTTP/1.0 403 Forbidden\r\nServer: SimpleHTTP/0.6 Python/3.11\r\nContent-Length: 9\r\n\r\nforbidden";
    let w = b.ev(10.3, write_ev(7, req));
    let rd = b.ev(10.6, read_ev(7, resp));
    b.ev(10.8, Op::close(7));
    b.stderr = Some("go: lab.test/greet@v1.0.0: reading http://198.18.0.2:8080/lab.test/greet/@v/v1.0.0.info: 403 Forbidden\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "http-status");
    let s = &r.verdict.summary;
    assert!(
        s.contains("403 Forbidden") && s.contains("GET /lab.test/greet/@v/v1.0.0.info"),
        "{s}"
    );
    assert!(cites(&r, Source::Event, w) && cites(&r, Source::Event, rd));
    assert!(r.verdict.remediation.contains("GOPRIVATE"));
}
