//! Issue 13 item 2's stages after the TCP connect (scenario.rs `stages`):
//! a forward proxy refusing with an HTTP status, a TLS server that never
//! answers, a server that closes (FIN) or resets without a response, an
//! HTTP server silent until Ctrl-C; and item 5, a success with Go's
//! module-path prefix probing (404 on `lab.test/@v/list`). Each runs plain
//! go (Go's text, measured) and go under gotrace, asserting the layer, the
//! cause and what every cited event and packet is.
//!
//! Needs root, like e2e.rs. tls-silent takes Go's 10 s TLS handshake
//! deadline.

mod support;

use serde_json::Value;
use support::{bundle, cited_events, cited_matching, tshark, Traced};

/// The kinds of the cited events, in order.
fn kinds(t: &Traced) -> Vec<String> {
    cited_events(t)
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The payload of a cited send/recv event, decoded from its hex head.
fn payload(e: &Value) -> String {
    let hex = e["data_hex"].as_str().unwrap_or("");
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn summary(t: &Traced) -> String {
    t.verdict["summary"].as_str().unwrap_or("").to_string()
}

/// A proxy answering with an HTTP error: the cited events are our request
/// to the forward proxy on 3128 (naming the origin) and its answer.
fn refused_by_forward_proxy(name: &str, request: &str, status: &str) {
    let t = support::trace(name);
    let cited = cited_events(&t);
    assert_eq!(kinds(&t), ["send", "recv"], "{}", t.verdict);
    assert!(cited.iter().all(
        |e| bundle::peer(e).is_none() || bundle::peer(e).as_deref() == Some("198.18.0.2:3128")
    ));
    assert!(
        payload(&cited[0]).starts_with(request),
        "{}",
        payload(&cited[0])
    );
    assert!(
        payload(&cited[1]).contains(status),
        "{}",
        payload(&cited[1])
    );
    assert_eq!(t.verdict["target"]["port"], 3128, "{}", t.verdict);
    let s = summary(&t);
    assert!(s.contains("is the forward proxy"), "{s}");
}

#[test]
fn lab_go_proxy_connect_403() {
    support::plain_go("proxy-connect-403");
}

#[test]
fn gotrace_proxy_connect_403_is_the_proxys_status() {
    refused_by_forward_proxy(
        "proxy-connect-403",
        "CONNECT 198.18.0.2:8443 HTTP/1.1",
        " 403 ",
    );
}

#[test]
fn lab_go_http_proxy_502() {
    support::plain_go("http-proxy-502");
}

#[test]
fn gotrace_http_proxy_502_is_the_proxys_status() {
    refused_by_forward_proxy(
        "http-proxy-502",
        "GET http://198.18.0.2:8080/lab.test/greet/@v/",
        " 502 ",
    );
}

/// The request left and the peer's kernel ACKed it: the cited event is
/// our send (`starts`), the cited packet the peer's bare ACK of it, and
/// nothing with a payload came back from the peer.
fn unanswered(name: &str, starts: &[u8]) -> Traced {
    let t = support::trace(name);
    let cited = cited_events(&t);
    assert_eq!(kinds(&t), ["send"], "{}", t.verdict);
    let head = cited[0]["data_hex"].as_str().unwrap_or("");
    let want: String = starts.iter().map(|b| format!("{b:02x}")).collect();
    assert!(head.starts_with(&want), "{head}");
    let acks = cited_matching(
        &t,
        "ip.src==198.18.0.2 && tcp.srcport==8443 && tcp.flags.ack==1 && tcp.len==0",
    );
    assert_eq!(acks.len(), 1, "{}", t.verdict);
    assert_eq!(bundle::cited(&t.verdict, "packet").len(), 1);
    let data = tshark::fields(
        &t.bundle.join("capture.pcapng"),
        "ip.src==198.18.0.2 && tcp.srcport==8443 && tcp.len>0",
        &["frame.number"],
    );
    assert!(data.is_empty(), "the server sent data: {data:?}");
    t
}

#[test]
fn lab_go_tls_silent() {
    support::plain_go("tls-silent");
}

/// A ClientHello (TLS handshake record, 0x16 0x03) ACKed and never
/// answered; Go's 10 s handshake deadline.
#[test]
fn gotrace_tls_silent_is_no_response_to_the_client_hello() {
    let t = unanswered("tls-silent", &[0x16, 0x03]);
    let s = summary(&t);
    assert!(
        s.contains("TLS handshake") && s.contains("Go gave up"),
        "{s}"
    );
    assert!(t.verdict.get("pending").is_none(), "{}", t.verdict);
}

/// A GET ACKed and never answered, the run cut short by Ctrl-C.
#[test]
fn gotrace_ctrl_c_http_silent_is_no_response_pending() {
    let t = unanswered("ctrl-c-http-silent", b"GET /lab.test/greet/@v/");
    assert_eq!(t.verdict["pending"], true, "{}", t.verdict);
    let s = summary(&t);
    assert!(
        s.contains("HTTP response") && s.contains("the run ended"),
        "{s}"
    );
}

/// The server ended the connection after our GET and before any answer:
/// the cited packet is its FIN (`fin`) or RST, the cited events our GET
/// and the syscall/kernel records of the close (`then`).
fn closed(name: &str, flag: &str, then: &[&str]) {
    let t = support::trace(name);
    let cited = cited_events(&t);
    let mut want = vec!["send"];
    want.extend_from_slice(then);
    assert_eq!(kinds(&t), want, "{}", t.verdict);
    assert!(payload(&cited[0]).starts_with("GET /lab.test/greet/@v/"));
    let close = cited_matching(
        &t,
        &format!("ip.src==198.18.0.2 && tcp.srcport==8080 && tcp.flags.{flag}==1"),
    );
    assert_eq!(close.len(), 1, "{}", t.verdict);
    assert_eq!(bundle::cited(&t.verdict, "packet").len(), 1);
    let answers = tshark::fields(
        &t.bundle.join("capture.pcapng"),
        "ip.src==198.18.0.2 && tcp.srcport==8080 && tcp.len>0",
        &["frame.number"],
    );
    assert!(answers.is_empty(), "the server answered: {answers:?}");
}

#[test]
fn lab_go_server_closes() {
    support::plain_go("server-closes");
}

/// FIN: the kernel's CLOSE_WAIT and Go's read returning 0 (EOF).
#[test]
fn gotrace_server_closes_is_closed_without_response() {
    closed("server-closes", "fin", &["tcp_state", "recv"]);
}

#[test]
fn lab_go_server_resets_request() {
    support::plain_go("server-resets-request");
}

/// RST: the kernel's tcp_receive_reset and Go's read failing ECONNRESET.
#[test]
fn gotrace_server_resets_request_is_closed_without_response() {
    closed(
        "server-resets-request",
        "reset",
        &["tcp_receive_reset", "recv"],
    );
}

#[test]
fn lab_go_success_prefix_probing() {
    let stderr = support::plain_go("success-prefix-probing");
    assert!(stderr.contains("go: finding module for package lab.test/greet"));
}

/// Go asked for lab.test/@v/list (404) on the way to lab.test/greet: a
/// successful run says nothing failed and cites nothing.
#[test]
fn gotrace_success_prefix_probing_stays_quiet() {
    let t = support::trace("success-prefix-probing");
    let probes = tshark::fields(
        &t.bundle.join("capture.pcapng"),
        "http.response.code==404",
        &["frame.number"],
    );
    assert!(
        !probes.is_empty(),
        "no 404 in the capture: no prefix probing"
    );
    assert_eq!(
        t.verdict["other_failures"],
        serde_json::json!([]),
        "{}",
        t.verdict
    );
    assert_eq!(
        t.verdict["evidence"],
        serde_json::json!([]),
        "{}",
        t.verdict
    );
    assert_eq!(summary(&t), "the command exited 0: nothing failed");
}

#[test]
fn lab_go_proxy_connect_closes() {
    support::plain_go("proxy-connect-closes");
}

/// The forward proxy read our CONNECT and closed (FIN): the cited events
/// are the CONNECT, the kernel's CLOSE_WAIT and Go's read of 0; the cited
/// packet the proxy's FIN.
#[test]
fn gotrace_proxy_connect_closes_is_closed_without_response() {
    let t = support::trace("proxy-connect-closes");
    let cited = cited_events(&t);
    assert_eq!(kinds(&t), ["send", "tcp_state", "recv"], "{}", t.verdict);
    assert!(payload(&cited[0]).starts_with("CONNECT 198.18.0.2:8443 HTTP/1.1"));
    let fin = cited_matching(
        &t,
        "ip.src==198.18.0.2 && tcp.srcport==3128 && tcp.flags.fin==1",
    );
    assert_eq!(fin.len(), 1, "{}", t.verdict);
    let s = summary(&t);
    assert!(
        s.contains("proxy CONNECT") && s.contains("forward proxy"),
        "{s}"
    );
}

#[test]
fn lab_go_tls_alert() {
    support::plain_go("tls-alert");
}

/// The server answered the ClientHello with a fatal alert in cleartext:
/// the cited items are our ClientHello and the server's alert record
/// (TLS content type 21), whichever timeline carries them.
#[test]
fn gotrace_tls_alert_is_the_servers_alert() {
    let t = support::trace("tls-alert");
    let alerts = cited_matching(
        &t,
        "ip.src==198.18.0.2 && tcp.srcport==8443 && tls.record.content_type==21",
    );
    let alert_read = cited_events(&t).iter().any(|e| {
        e["kind"] == "recv" && e["data_hex"].as_str().is_some_and(|h| h.starts_with("15"))
    });
    assert!(alerts.len() == 1 || alert_read, "{}", t.verdict);
    let hello_sent = cited_events(&t).iter().any(|e| {
        e["kind"] == "send" && e["data_hex"].as_str().is_some_and(|h| h.starts_with("16"))
    });
    let hello_pkt = cited_matching(&t, "tls.handshake.type==1");
    assert!(hello_sent || hello_pkt.len() == 1, "{}", t.verdict);
    let s = summary(&t);
    assert!(s.contains("handshake_failure"), "{s}");
}
