//! DNS over TCP (issue 16 item 5): the lab's DNS server answers UDP
//! queries for proxy.lab.test with TC=1 and no records
//! (`tests/lab/dns_truncate.py`), so Go 1.19's resolver asks again over
//! TCP to the same server (RFC 1035 4.2.1, RFC 7766 5; measured: one TCP
//! connection per question, A and AAAA). The bundle must decode the TCP
//! exchange (RFC 1035 4.2.2 length prefixes) and link it to the
//! truncated UDP answer; with nothing listening on TCP port 53, the
//! verdict names the DNS server and the refused TCP connection. The
//! capture-only analysis of the same capture must do the same.
//!
//! Needs root, like e2e.rs.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{tshark, Traced};

fn warnings(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Frame numbers of the packets matching the tshark `filter`.
fn frames(t: &Traced, filter: &str) -> Vec<u64> {
    tshark::fields(&t.bundle.join("capture.pcapng"), filter, &["frame.number"])
        .iter()
        .filter_map(|f| f.first()?.parse().ok())
        .collect()
}

/// `gotrace analyze --json CAPTURE` (capture-only).
fn capture_only(t: &Traced) -> Value {
    let out = Command::new(support::gotrace())
        .args(["analyze", "--json"])
        .arg(t.bundle.join("capture.pcapng"))
        .output()
        .expect("running gotrace analyze");
    serde_json::from_slice(&out.stdout).expect("verdict JSON")
}

#[test]
fn lab_go_dns_truncated_tcp_ok() {
    support::plain_go("dns-truncated-tcp-ok");
}

#[test]
fn lab_go_dns_truncated_tcp_refused() {
    support::plain_go("dns-truncated-tcp-refused");
}

#[test]
fn gotrace_dns_truncated_tcp_ok() {
    let t = support::trace("dns-truncated-tcp-ok");
    let truncated = frames(&t, "udp.srcport == 53 && dns.flags.truncated == 1");
    let tcp_answers = frames(&t, "tcp.srcport == 53 && dns.flags.response == 1");
    assert!(
        !truncated.is_empty() && !tcp_answers.is_empty(),
        "{}",
        t.verdict
    );
    let w = warnings(&t.verdict);
    let line = w
        .iter()
        .find(|l| l.starts_with("DNS over TCP: the query for A proxy.lab.test to 198.18.0.2:53 was retried over TCP after a truncated UDP answer (packet "))
        .unwrap_or_else(|| panic!("no DNS-over-TCP line in {w:?}"));
    // The packets it names are a truncated UDP answer and a TCP answer.
    let nums: Vec<u64> = line
        .split("packet ")
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect();
    assert_eq!(nums.len(), 2, "{line}");
    assert!(
        truncated.contains(&nums[0]),
        "{line}: truncated {truncated:?}"
    );
    assert!(
        tcp_answers.contains(&nums[1]),
        "{line}: TCP answers {tcp_answers:?}"
    );
    assert!(line.contains(", answered NOERROR (packet "), "{line}");
    // Capture-only: the TCP exchange is decoded and linked too.
    let c = capture_only(&t);
    let text = c.to_string();
    assert!(
        text.contains(&format!(
            "retried over TCP after a truncated UDP answer (packet {})) was answered (pkt {})",
            nums[0], nums[1]
        )),
        "{text}"
    );
}

#[test]
fn gotrace_dns_truncated_tcp_refused() {
    let t = support::trace("dns-truncated-tcp-refused");
    let summary = t.verdict["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with(
            "the DNS server 198.18.0.2:53 was asked over TCP after its truncated UDP answer for "
        ),
        "{}",
        t.verdict
    );
    assert_eq!(
        t.verdict["target"]["name"], "proxy.lab.test",
        "{}",
        t.verdict
    );
    assert_eq!(t.verdict["target"]["port"], 53, "{}", t.verdict);
    // Cited: the truncated UDP answer, our SYN to port 53 and its RST.
    let cited_tc = support::cited_matching(&t, "udp.srcport == 53 && dns.flags.truncated == 1");
    let cited_rst = support::cited_matching(&t, "tcp.srcport == 53 && tcp.flags.reset == 1");
    assert_eq!(cited_tc.len(), 1, "{}", t.verdict);
    assert_eq!(cited_rst.len(), 1, "{}", t.verdict);
    // Capture-only names the same server and cause.
    let c = capture_only(&t);
    assert_eq!(c["cause"], "connection-refused", "{c}");
    assert!(
        c["summary"]
            .as_str()
            .unwrap_or_default()
            .starts_with("the DNS server 198.18.0.2:53 could not be asked over TCP, where its truncated UDP answer for "),
        "{c}"
    );
}
