//! Capture-only analysis (`analyze_capture_path`) over every file of the
//! shared real-world captures (read-only; see `shared::dir`), and the
//! traps they hold, with synthetic twins where a real file cannot isolate
//! the rule.
//!
//! The cited packet numbers were checked with `tshark -r FILE`: they are
//! the frames of the SYN, RST, query, answer, alert or status line; for an
//! HTTP response, the segment that carries the status line (Wireshark
//! shows the reassembled response in a later frame).

mod shared;
mod wire_synth;

use std::collections::BTreeSet;

use gotrace_analyzer::{analyze_capture_path, render_text, Layer, Report};
use shared::{capture, dir};
use wire_synth::{
    analyze, dns_answer, dns_query, icmp_unreachable, rec, set_udp_checksum, tcp, udp, Rec, CLIENT,
    SERVER,
};

/// What a shared capture must yield.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A failure: layer, cause id, and the exact packets cited.
    Fails(&'static str, &'static str, &'static [u64]),
    /// Decoded traffic and no failure: inconclusive, "no failure on the
    /// wire", the summary mentioning the given text (or nothing more).
    NoFailure(Option<&'static str>),
    /// Nothing gotrace decodes (empty, ARP, pings, unsupported link type).
    Nothing,
    /// Malformed packets whose decoding is lenient: inconclusive, any summary.
    Inconclusive,
    /// Not a capture: the error names the reason.
    Unreadable(&'static str),
}

use Want::*;

/// Every file of the shared captures directory and its expected outcome.
const TABLE: &[(&str, Want)] = &[
    ("INDEX.md", Unreadable("not a pcapng or pcap file")),
    ("SHA256SUMS", Unreadable("not a pcapng or pcap file")),
    (
        "cs_dns_isp_hijack.pcapng",
        NoFailure(Some("2 DNS exchange(s) (2 answered)")),
    ),
    (
        "cs_dns_query_nonexistent.pcapng",
        Fails("network", "dns-nxdomain", &[1, 2]),
    ),
    (
        "cs_http_ip4and6.pcapng",
        NoFailure(Some("2 TCP connection(s) (2 handshake(s) completed)")),
    ),
    (
        "cs_nowebaccess1.pcapng",
        Fails("network", "dns-timeout", &[3, 4, 5, 6, 7, 8, 9]),
    ),
    (
        "cs_nowebaccess2.pcapng",
        Fails("network", "connection-refused", &[3, 4, 5, 6, 7, 8]),
    ),
    (
        "cs_nowebaccess3.pcapng",
        Fails("network", "connect-timeout", &[3, 5]),
    ),
    (
        "cs_ppa1e_destunreachable.pcap",
        Fails("network", "icmp-unreachable", &[2, 4, 6]),
    ),
    (
        "cs_ppa1e_ftpserverdenied.pcap",
        Fails("network", "connect-timeout", &[1, 2, 3]),
    ),
    (
        "cs_ppa1e_http-fault-post.pcap",
        Fails("network", "http-status", &[4, 8]),
    ),
    (
        "cs_stranded_branchdns.pcapng",
        Fails("network", "dns-server-failure", &[1, 2, 3]),
    ),
    (
        "cs_stranded_clientside.pcapng",
        Fails("network", "dns-server-failure", &[1, 2]),
    ),
    (
        "cs_tcp_refuseconnection.pcapng",
        Fails("network", "connection-refused", &[1, 2]),
    ),
    (
        "cs_tcp_retransmissions.pcapng",
        NoFailure(Some("retransmitted 5 times")),
    ),
    (
        "cs_udp_dnsrequest.pcapng",
        NoFailure(Some("too early to call it a timeout")),
    ),
    (
        "pg_be_test009.pcapng",
        NoFailure(Some("2 other UDP datagram(s)")),
    ),
    (
        "pg_le_test006.pcapng",
        NoFailure(Some("5 other UDP datagram(s)")),
    ),
    (
        "pg_le_test009.pcapng",
        NoFailure(Some("2 other UDP datagram(s)")),
    ),
    (
        "pg_le_test101.pcapng",
        NoFailure(Some("4 other UDP datagram(s)")),
    ),
    ("pg_le_test200.pcapng", Nothing),
    (
        "pg_le_test202.pcapng",
        NoFailure(Some("7 other UDP datagram(s)")),
    ),
    (
        "pt_curl-thread.pcapng",
        NoFailure(Some("1 handshake(s) completed")),
    ),
    (
        "pt_curl-user.pcapng",
        NoFailure(Some("1 handshake(s) completed")),
    ),
    (
        "pt_dns.pcapng",
        NoFailure(Some("1 DNS exchange(s) (1 answered)")),
    ),
    ("pt_tcp.pcapng", Fails("network", "http-status", &[7, 11])),
    ("td_LINKTYPE_IPV6_invalid.pcap", Inconclusive),
    (
        "td_LINKTYPE_RAW_ipv6.pcap",
        NoFailure(Some("too early to call it a timeout")),
    ),
    ("td_dns-uri.pcap", Fails("network", "dns-nxdomain", &[3, 4])),
    (
        "td_dns_tcp.pcap",
        NoFailure(Some("1 DNS exchange(s) (1 answered, 1 over TCP")),
    ),
    ("td_empty.pcapng", Nothing),
    ("td_esp_truncated.pcap", Inconclusive),
    ("td_ipv4_invalid_hdr_length.pcap", Inconclusive),
    ("td_ipv4_invalid_total_length.pcap", Inconclusive),
    ("td_ipv6_invalid_length.pcap", Inconclusive),
    ("td_kday6.pcap", Nothing),
    // NFLOG (239): four DNS answers whose queries are not in the capture.
    ("td_nflog.pcap", NoFailure(Some("4 packet(s), 4 decoded"))),
    (
        "td_tcp-handshake-nano.pcap",
        NoFailure(Some("1 handshake(s) completed")),
    ),
    (
        "td_tcp_rst_diag_payload-trunc.pcap",
        NoFailure(Some("1 TCP segment(s) of no tracked connection")),
    ),
    (
        "td_timestamp_invalid_micro.pcap",
        NoFailure(Some("1 handshake(s) completed")),
    ),
    (
        "td_timestamp_invalid_nano.pcap",
        NoFailure(Some("1 handshake(s) completed")),
    ),
    (
        "zk_certificate-request-failed.pcap",
        Fails("network", "tls-alert", &[4, 6, 9]),
    ),
    ("zk_chrome-1250-tls-x25519-kyber.pcap", NoFailure(None)),
    (
        "zk_dns-corrupt.pcap",
        Fails("network", "dns-timeout", &[1, 2]),
    ),
    (
        "zk_dns-long-connection.pcap",
        Fails("network", "dns-nxdomain", &[19, 20]),
    ),
    ("zk_http-connect-with-header.pcap", NoFailure(None)),
    ("zk_http-proxy.pcap", NoFailure(None)),
    (
        "zk_https-to-http.pcap",
        NoFailure(Some("with data that is not TLS (pkt 6)")),
    ),
    (
        "zk_icmp-destunreach-udp.pcap",
        NoFailure(Some("refused a DNS answer")),
    ),
    (
        "zk_icmp6-destunreach-ip6ext-trunc.pcap",
        Fails("network", "icmp-unreachable", &[1]),
    ),
    (
        "zk_icmp6-destunreach-ip6ext-udp.pcap",
        Fails("network", "icmp-unreachable", &[1]),
    ),
    (
        "zk_ipv6-fragmented-dns.pcap",
        NoFailure(Some("answered only after 2 transmissions")),
    ),
    ("zk_linux_dlt_sll2.pcap", Nothing),
    ("zk_linuxsll-arp.pcap", Nothing),
    (
        "zk_missing-intermediate.pcap",
        NoFailure(Some("3 TCP connection(s) (3 handshake(s) completed)")),
    ),
    ("zk_openjdk-25.0.2-zeek.org.pcap", NoFailure(None)),
    (
        "zk_tls-1.2-handshake-failure.pcap",
        Fails("network", "tls-alert", &[4, 6]),
    ),
    ("zk_tls-early-alert.pcap", NoFailure(None)),
    ("zk_tls-expired-cert.pcap", NoFailure(None)),
    ("zk_tls12-decryption.pcap", NoFailure(None)),
    (
        "zk_tls13draft16-chrome55-canary-aborted.pcap",
        Fails("network", "tls-alert", &[4, 6]),
    ),
    (
        "zk_tls13draft16-ff52.a01.pcap",
        Fails("network", "tls-untrusted-certificate", &[4, 6, 8]),
    ),
    (
        "zk_www-odd-url.pcap",
        Fails("network", "http-status", &[4, 6]),
    ),
];

fn report(name: &str) -> Report {
    analyze_capture_path(&capture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn pkts(r: &Report) -> Vec<u64> {
    r.verdict.evidence.iter().map(|e| e.id).collect()
}

fn check(name: &str, want: Want) {
    let path = dir().join(name);
    let got = analyze_capture_path(&path);
    let r = match (want, got) {
        (Unreadable(why), Err(e)) => {
            let msg = e.to_string();
            assert!(msg.contains(why) && msg.contains(name), "{name}: {msg}");
            return;
        }
        (Unreadable(_), Ok(r)) => panic!("{name}: expected an error, got {}", r.to_json()),
        (_, Err(e)) => panic!("{name}: {e}"),
        (_, Ok(r)) => r,
    };
    let v = &r.verdict;
    let text = render_text(&r);
    assert!(text.contains("capture-only analysis of"), "{name}: {text}");
    assert_eq!(v.analysis, "capture-only", "{name}");
    assert!(!v.summary.is_empty(), "{name}");
    assert_eq!(
        r.warnings.first().map(String::as_str),
        Some(gotrace_analyzer::capture_only::SCOPE),
        "{name}"
    );
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).expect("valid JSON");
    assert_eq!(json["analysis"], "capture-only", "{name}");
    match want {
        Fails(layer, cause, packets) => {
            assert_eq!(
                (v.layer.as_str(), v.cause.as_str()),
                (layer, cause),
                "{name}: {}",
                v.summary
            );
            assert_eq!(pkts(&r), packets, "{name}: {}", v.summary);
            assert!(!v.remediation.is_empty(), "{name}");
        }
        NoFailure(said) => {
            assert_eq!(v.layer, Layer::Inconclusive, "{name}: {}", v.summary);
            assert!(
                v.summary.starts_with("no failure on the wire: "),
                "{name}: {}",
                v.summary
            );
            if let Some(s) = said {
                assert!(v.summary.contains(s), "{name}: {}", v.summary);
            }
            assert!(
                v.evidence.is_empty() && v.other_failures.is_empty(),
                "{name}"
            );
            assert_eq!(
                v.missing,
                [gotrace_analyzer::Missing::CommandResult],
                "{name}"
            );
        }
        Nothing => {
            assert_eq!(v.layer, Layer::Inconclusive, "{name}");
            assert!(
                v.summary.ends_with("nothing to judge"),
                "{name}: {}",
                v.summary
            );
        }
        Inconclusive => assert_eq!(v.layer, Layer::Inconclusive, "{name}: {}", v.summary),
        Unreadable(_) => unreachable!(),
    }
}

#[test]
fn every_shared_file_has_its_expected_outcome() {
    let dir = dir();
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = TABLE.iter().map(|(n, _)| n.to_string()).collect();
    let new: Vec<&String> = on_disk.difference(&listed).collect();
    assert!(
        new.is_empty(),
        "files in {} without an expected outcome in TABLE: {new:?}; add them",
        dir.display()
    );
    let gone: Vec<&String> = listed.difference(&on_disk).collect();
    assert!(
        gone.is_empty(),
        "TABLE lists files missing from {}: {gone:?}",
        dir.display()
    );
    for (name, want) in TABLE {
        check(name, *want);
    }
    let failures = TABLE.iter().filter(|(_, w)| matches!(w, Fails(..))).count();
    assert!(failures >= 15, "only {failures} golden failures");
}

#[test]
fn several_failures_are_all_listed_in_capture_order() {
    let r = report("cs_ppa1e_http-fault-post.pcap");
    let others = &r.verdict.other_failures;
    assert_eq!(others.len(), 1, "{others:?}");
    assert!(
        others[0].starts_with("network / http-status: ")
            && others[0].contains("(pkt 7)")
            && others[0].contains("(pkt 11)"),
        "{others:?}"
    );
    assert!(
        r.verdict.summary.contains("403 Forbidden (pkt 8)"),
        "{}",
        r.verdict.summary
    );

    let r = report("zk_tls13draft16-chrome55-canary-aborted.pcap");
    assert!(
        r.verdict.summary.contains("protocol_version (pkt 6)"),
        "{}",
        r.verdict.summary
    );
    let others = &r.verdict.other_failures;
    assert!(
        others.len() == 1 && others[0].contains("(pkt 18)") && others[0].contains("(pkt 16)"),
        "{others:?}"
    );
}

#[test]
fn summaries_name_what_failed() {
    for (name, said) in [
        ("cs_nowebaccess2.pcapng", "172.16.0.102:80 answered each of the 3 SYNs (pkts 3, 5, 7) with RST (pkts 4, 6, 8)"),
        ("cs_ppa1e_ftpserverdenied.pcap", "3 SYNs from 192.168.0.193:1637 to 192.168.0.182:21 (pkts 1, 2, 3) over 9.0 s got no answer"),
        ("cs_ppa1e_destunreachable.pcap", "10.2.99.99 answered ICMP 10.2.10.2 > 10.4.88.88 with ICMP host unreachable (ICMP type 3 code 1) 3 times"),
        ("cs_dns_query_nonexistent.pcapng", "answered NXDOMAIN for A 12498283719301382971974.net (query pkt 1, answer pkt 2)"),
        ("zk_tls-1.2-handshake-failure.pcap", "74.125.239.37:443 ended the TLS handshake with the fatal alert handshake_failure (pkt 6)"),
        ("zk_www-odd-url.pcap", "with HTTP/1.1 404 Not Found (pkt 6)"),
    ] {
        let r = report(name);
        assert!(r.verdict.summary.contains(said), "{name}: {}", r.verdict.summary);
    }
}

// ---- Traps -------------------------------------------------------------

/// A loopback capture holds every packet twice: the copies are not
/// retransmissions, and are neither counted nor cited.
#[test]
fn trap_loopback_copies_are_not_retransmissions() {
    let r = report("pt_tcp.pcapng");
    assert_eq!(pkts(&r), [7, 11], "the first copies only");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("12 packet(s) were captured twice (pkt 2 is a copy of pkt 1")),
        "{:?}",
        r.warnings
    );
    // tshark marks pkt 4 as a retransmitted SYN; it is the same SYN 5 ms
    // later (same IPv4 id and sequence number): one transmission, and the
    // real retransmission (pkt 5, 1 s later) makes the timeout.
    let r = report("cs_nowebaccess3.pcapng");
    assert_eq!(pkts(&r), [3, 5]);
    assert!(
        r.verdict.summary.starts_with("2 SYNs"),
        "{}",
        r.verdict.summary
    );
}

/// Synthetic twin: one SYN captured twice 40 µs apart, unanswered, is a
/// single SYN (too early to call a timeout); the same SYN resent 1 s later
/// is a retransmission (connect-timeout).
#[test]
fn trap_a_copied_syn_is_one_syn() {
    let c = (CLIENT, 40000);
    let s = (SERVER, 8080);
    let syn = tcp(c, s, 7, "S", 1000, 0, &[]);
    let r = analyze(&[rec(0.0, syn.clone()), rec(0.04, syn.clone())]);
    assert_eq!(
        r.verdict.layer,
        Layer::Inconclusive,
        "{}",
        r.verdict.summary
    );
    assert!(
        r.verdict.summary.contains("too early to call it a timeout"),
        "{}",
        r.verdict.summary
    );
    let resent = tcp(c, s, 8, "S", 1000, 0, &[]);
    let r = analyze(&[rec(0.0, syn.clone()), rec(0.04, syn), rec(1000.0, resent)]);
    assert_eq!(r.verdict.cause, "connect-timeout", "{}", r.verdict.summary);
    assert_eq!(pkts(&r), [1, 3]);
}

/// An answer with a bad UDP checksum is dropped by the client's kernel:
/// for the client the query timed out, although the answer is on the wire.
#[test]
fn trap_bad_udp_checksum_answer_is_a_timeout() {
    let r = report("zk_dns-corrupt.pcap");
    assert_eq!(r.verdict.cause, "dns-timeout");
    assert!(
        r.verdict
            .summary
            .contains("bad UDP checksum (0x1234, should be 0xfbb8)"),
        "{}",
        r.verdict.summary
    );
    assert!(
        r.verdict.remediation.contains("damaged"),
        "{}",
        r.verdict.remediation
    );

    let c = (CLIENT, 40000);
    let s = (SERVER, 53);
    let q = dns_query(0x1a2b, "proxy.lab.test");
    let query = udp(c, s, 1, &q);
    let good = udp(s, c, 2, &dns_answer(&q, 3));
    let mut bad = good.clone();
    set_udp_checksum(&mut bad, 0x1234);
    // Right checksum: the NXDOMAIN counts.
    let r = analyze(&[rec(0.0, query.clone()), rec(1.0, good)]);
    assert_eq!(r.verdict.cause, "dns-nxdomain", "{}", r.verdict.summary);
    // Bad checksum: the NXDOMAIN never reached the resolver.
    let r = analyze(&[rec(0.0, query.clone()), rec(1.0, bad.clone())]);
    assert_eq!(r.verdict.cause, "dns-timeout", "{}", r.verdict.summary);
    assert_eq!(pkts(&r), [1, 2]);
    // Cut by the snaplen: the sum cannot be checked, the answer counts.
    let cut = Rec {
        ms: 1.0,
        caplen: Some(bad.len() - 4),
        ip: bad,
    };
    let r = analyze(&[rec(0.0, query), cut]);
    assert_eq!(r.verdict.cause, "dns-nxdomain", "{}", r.verdict.summary);
}

/// A certificate alert sent by the client is the client's own
/// verification failing, not the server's doing.
#[test]
fn trap_client_sent_certificate_alert_is_local_verification() {
    let r = report("zk_tls13draft16-ff52.a01.pcap");
    assert_eq!(r.verdict.cause, "tls-untrusted-certificate");
    let s = &r.verdict.summary;
    assert!(
        s.starts_with(
            "the client 192.150.187.20:36778 rejected the certificate of 138.68.41.77:443"
        ),
        "{s}"
    );
    assert!(
        s.contains("unknown_ca (pkt 8)") && s.contains("not the server"),
        "{s}"
    );
    // The same kind of alert from the server is the server's.
    let r = report("zk_tls-1.2-handshake-failure.pcap");
    assert_eq!(r.verdict.cause, "tls-alert");
    assert!(
        r.verdict.summary.starts_with("74.125.239.37:443 ended"),
        "{}",
        r.verdict.summary
    );
    // A warning alert before a handshake that completes is no failure.
    assert_eq!(
        report("zk_tls-early-alert.pcap").verdict.layer,
        Layer::Inconclusive
    );
}

/// A SERVFAIL from a resolver whose own upstream query is silent names
/// the upstream.
#[test]
fn trap_servfail_names_the_silent_upstream() {
    let r = report("cs_stranded_branchdns.pcapng");
    let s = &r.verdict.summary;
    assert!(
        s.contains("the resolver's upstream 172.16.16.250:53 did not answer"),
        "{s}"
    );
    assert!(s.contains("(pkt 3)"), "{s}");
    // Without the upstream's packets the capture cannot name it.
    let r = report("cs_stranded_clientside.pcapng");
    assert!(
        !r.verdict.summary.contains("upstream"),
        "{}",
        r.verdict.summary
    );
}

/// IPv6 fragments that never complete are reported, not dropped.
#[test]
fn trap_incomplete_ipv6_fragments_are_reported() {
    let r = report("zk_ipv6-fragmented-dns.pcap");
    let note = r
        .warnings
        .iter()
        .find(|w| w.contains("arrived only in part"))
        .unwrap_or_else(|| panic!("{:?}", r.warnings));
    assert!(
        note.contains("from pkt 4 on")
            && note.contains("IPv6 fragment (offset 2896")
            && note.contains("RFC 8200 4.5"),
        "{note}"
    );
    // The retransmitted query was answered by the datagram completed in pkt 8.
    assert!(
        r.verdict.summary.contains("(pkts 3, 5, answer pkt 8)"),
        "{}",
        r.verdict.summary
    );
    assert!(
        r.verdict
            .summary
            .contains("IP fragments that never completed (pkt 4)"),
        "{}",
        r.verdict.summary
    );
}

/// Synthetic twin: the only answer arrives as a last fragment whose other
/// pieces never come: the query went unanswered.
#[test]
fn trap_an_answer_in_lost_fragments_is_a_timeout() {
    let c = (CLIENT, 40000);
    let s = (SERVER, 53);
    let q = dns_query(9, "big.lab.test");
    let mut h =
        etherparse::Ipv4Header::new(100, 64, etherparse::IpNumber::UDP, SERVER, CLIENT).unwrap();
    h.identification = 77;
    h.fragment_offset = etherparse::IpFragOffset::try_new(185).unwrap();
    h.header_checksum = h.calc_header_checksum();
    let mut last = h.to_bytes().to_vec();
    last.extend_from_slice(&[0u8; 100]);
    let r = analyze(&[rec(0.0, udp(c, s, 1, &q)), rec(20.0, last)]);
    assert_eq!(r.verdict.cause, "dns-timeout", "{}", r.verdict.summary);
    assert_eq!(pkts(&r), [1, 2]);
    assert!(
        r.verdict
            .summary
            .contains("IP fragments that never completed (pkt 2)"),
        "{}",
        r.verdict.summary
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("arrived only in part") && w.contains("100 of 1580 bytes")),
        "{:?}",
        r.warnings
    );
}

// ---- Rules on synthetic captures -----------------------------------------

#[test]
fn refusal_by_a_loopback_address_is_this_host() {
    let c = ([127, 0, 0, 1], 40000);
    let s = ([127, 0, 0, 1], 3128);
    let r = analyze(&[
        rec(0.0, tcp(c, s, 1, "S", 1000, 0, &[])),
        rec(0.1, tcp(s, c, 0, "RA", 0, 1001, &[])),
    ]);
    assert_eq!(
        (r.verdict.layer, r.verdict.cause.as_str()),
        (Layer::Kernel, "local-refused"),
        "{}",
        r.verdict.summary
    );
    // An RST that does not ack the SYN refuses nothing (RFC 9293 3.10.7.3).
    let r = analyze(&[
        rec(0.0, tcp(c, s, 1, "S", 1000, 0, &[])),
        rec(0.1, tcp(s, c, 0, "RA", 0, 5, &[])),
    ]);
    assert_eq!(
        r.verdict.layer,
        Layer::Inconclusive,
        "{}",
        r.verdict.summary
    );
}

#[test]
fn reset_after_the_handshake_is_connection_reset_unless_the_client_closed() {
    let c = (CLIENT, 40000);
    let s = (SERVER, 8080);
    let open = [
        rec(0.0, tcp(c, s, 1, "S", 1000, 0, &[])),
        rec(1.0, tcp(s, c, 0, "SA", 5000, 1001, &[])),
        rec(2.0, tcp(c, s, 2, "A", 1001, 5001, &[])),
        rec(
            3.0,
            tcp(
                c,
                s,
                3,
                "PA",
                1001,
                5001,
                b"GET /x HTTP/1.1\r\nHost: p\r\n\r\n",
            ),
        ),
    ];
    let mut v: Vec<Rec> = open.iter().map(|r| rec(r.ms, r.ip.clone())).collect();
    v.push(rec(4.0, tcp(s, c, 0, "R", 5001, 0, &[])));
    let r = analyze(&v);
    assert_eq!(r.verdict.cause, "connection-reset", "{}", r.verdict.summary);
    assert_eq!(pkts(&r), [1, 5]);
    let mut v: Vec<Rec> = open.iter().map(|r| rec(r.ms, r.ip.clone())).collect();
    v.push(rec(4.0, tcp(c, s, 4, "FA", 1030, 5001, &[])));
    v.push(rec(5.0, tcp(s, c, 0, "R", 5001, 0, &[])));
    assert_eq!(analyze(&v).verdict.layer, Layer::Inconclusive);
}

#[test]
fn a_later_answer_to_the_same_question_makes_a_timeout_harmless() {
    let c = (CLIENT, 40000);
    let c2 = (CLIENT, 40001);
    let s = (SERVER, 53);
    let q1 = dns_query(1, "proxy.lab.test");
    let q2 = dns_query(2, "proxy.lab.test");
    let r = analyze(&[
        rec(0.0, udp(c, s, 1, &q1)),
        rec(5000.0, udp(c2, s, 2, &q2)),
        rec(5001.0, udp(s, c2, 3, &dns_answer(&q2, 0))),
    ]);
    assert_eq!(
        r.verdict.layer,
        Layer::Inconclusive,
        "{}",
        r.verdict.summary
    );
    assert!(
        r.verdict
            .summary
            .contains("1 failed exchange(s) were answered on a later try"),
        "{}",
        r.verdict.summary
    );
    assert!(
        r.verdict.other_failures[0].contains("not fatal"),
        "{:?}",
        r.verdict.other_failures
    );
}

#[test]
fn search_list_nxdomain_followed_by_the_plain_name_is_no_failure() {
    let c = (CLIENT, 40000);
    let s = (SERVER, 53);
    let q1 = dns_query(1, "proxy.golang.org.default.svc.cluster.local");
    let q2 = dns_query(2, "proxy.golang.org");
    let r = analyze(&[
        rec(0.0, udp(c, s, 1, &q1)),
        rec(1.0, udp(s, c, 2, &dns_answer(&q1, 3))),
        rec(2.0, udp(c, s, 3, &q2)),
        rec(3.0, udp(s, c, 4, &dns_answer(&q2, 0))),
    ]);
    assert_eq!(
        r.verdict.layer,
        Layer::Inconclusive,
        "{}",
        r.verdict.summary
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("search-list")),
        "{:?}",
        r.warnings
    );
    // Without the later answer it is an NXDOMAIN.
    let r = analyze(&[
        rec(0.0, udp(c, s, 1, &q1)),
        rec(1.0, udp(s, c, 2, &dns_answer(&q1, 3))),
    ]);
    assert_eq!(r.verdict.cause, "dns-nxdomain");
}

#[test]
fn output_is_deterministic() {
    for name in [
        "cs_dns_isp_hijack.pcapng",
        "zk_missing-intermediate.pcap",
        "pt_tcp.pcapng",
    ] {
        assert_eq!(report(name).to_json(), report(name).to_json(), "{name}");
    }
}

/// Captures are untrusted: every shared capture cut anywhere, or with
/// bytes flipped, is analysed without a panic and yields a report.
#[test]
fn damaged_captures_never_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut runs = 0;
    for (name, want) in TABLE {
        if matches!(want, Unreadable(_)) {
            continue;
        }
        let bytes = std::fs::read(capture(name)).expect("read");
        let step = (bytes.len() / 48).max(1);
        let mut variants: Vec<Vec<u8>> = (0..bytes.len())
            .step_by(step)
            .map(|n| bytes[..n].to_vec())
            .collect();
        for _ in 0..16 {
            let mut v = bytes.clone();
            for _ in 0..(1 + next() % 8) {
                let at = 24 + (next() as usize) % v.len().saturating_sub(24).max(1);
                if let Some(b) = v.get_mut(at) {
                    *b ^= 1 << (next() % 8);
                }
            }
            variants.push(v);
        }
        for v in variants {
            if let Ok(reader) = gotrace_analyzer::capture::CaptureReader::new(&v[..]) {
                let r = gotrace_analyzer::analyze_capture(reader);
                assert!(
                    !render_text(&r).is_empty() && !r.to_json().is_empty(),
                    "{name}"
                );
                runs += 1;
            }
        }
    }
    assert!(runs > 1000, "only {runs} damaged captures analysed");
}

#[test]
fn icmp_errors_are_matched_to_the_flow_they_quote() {
    let c = (CLIENT, 40000);
    let router = [198, 18, 0, 254];
    // Host unreachable from a router, quoting our SYN.
    let syn = tcp(c, (SERVER, 443), 1, "S", 1000, 0, &[]);
    let r = analyze(&[
        rec(0.0, syn.clone()),
        rec(3.0, icmp_unreachable(router, CLIENT, 1, &syn)),
    ]);
    assert_eq!(r.verdict.cause, "icmp-unreachable", "{}", r.verdict.summary);
    assert_eq!(pkts(&r), [1, 2]);
    assert!(r.verdict.summary.starts_with("198.18.0.254 answered the SYN from 198.18.0.1:40000 to 198.18.0.2:443 (pkt 1) with ICMP host unreachable (ICMP type 3 code 1, pkt 2)"), "{}", r.verdict.summary);
    // Port unreachable from the server, quoting our DNS query.
    let q = udp(c, (SERVER, 53), 2, &dns_query(5, "proxy.lab.test"));
    let r = analyze(&[
        rec(0.0, q.clone()),
        rec(1.0, icmp_unreachable(SERVER, CLIENT, 3, &q)),
    ]);
    assert_eq!(
        r.verdict.cause, "dns-port-unreachable",
        "{}",
        r.verdict.summary
    );
    assert_eq!(pkts(&r), [1, 2]);
    // A quote that ends before the DNS id (28 bytes) still finds the query.
    let r = analyze(&[
        rec(0.0, q.clone()),
        rec(1.0, icmp_unreachable(SERVER, CLIENT, 3, &q[..28])),
    ]);
    assert_eq!(pkts(&r), [1, 2], "{}", r.verdict.summary);
    // Fragmentation needed is path MTU discovery, not a failure.
    let r = analyze(&[
        rec(0.0, syn.clone()),
        rec(3.0, icmp_unreachable(router, CLIENT, 4, &syn)),
    ]);
    assert_eq!(
        r.verdict.layer,
        Layer::Inconclusive,
        "{}",
        r.verdict.summary
    );
}

/// `query` behind its two-byte length (RFC 1035 4.2.2).
fn framed(query: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(query.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(query);
    v
}

/// A UDP query answered with TC=1 (pkts 1, 2), then the TCP handshake to
/// the same server (3-5); what follows is the caller's.
fn truncated_then_tcp(rest: Vec<Rec>) -> Report {
    let cu = (CLIENT, 40000);
    let ct = (CLIENT, 40001);
    let s = (SERVER, 53);
    let q = dns_query(7, "proxy.lab.test");
    let mut tc = dns_answer(&q, 0);
    tc[2] |= 0x02; // TC
    let mut recs = vec![
        rec(0.0, udp(cu, s, 1, &q)),
        rec(1.0, udp(s, cu, 2, &tc)),
        rec(2.0, tcp(ct, s, 3, "S", 1000, 0, &[])),
    ];
    if !rest.is_empty() {
        recs.push(rec(3.0, tcp(s, ct, 4, "SA", 5000, 1001, &[])));
        recs.push(rec(4.0, tcp(ct, s, 5, "A", 1001, 5001, &[])));
    }
    recs.extend(rest);
    analyze(&recs)
}

#[test]
fn dns_over_tcp_after_a_truncated_answer_is_decoded_and_linked() {
    let ct = (CLIENT, 40001);
    let s = (SERVER, 53);
    // Two pipelined queries, the first split inside its length prefix.
    let q1 = framed(&dns_query(8, "proxy.lab.test"));
    let q2 = framed(&dns_query(9, "other.lab.test"));
    let mut both = q1.clone();
    both.extend_from_slice(&q2);
    let (a, b) = both.split_at(1);
    let len = |v: &[u8]| u32::try_from(v.len()).unwrap();
    // The answers come out of order, both in one segment.
    let mut answers = framed(&dns_answer(&dns_query(9, "other.lab.test"), 3));
    answers.extend(framed(&dns_answer(&dns_query(8, "proxy.lab.test"), 0)));
    let r = truncated_then_tcp(vec![
        rec(5.0, tcp(ct, s, 6, "PA", 1001, 5001, a)),
        rec(6.0, tcp(ct, s, 7, "PA", 1001 + len(a), 5001, b)),
        rec(7.0, tcp(s, ct, 8, "PA", 5001, 1001 + len(&both), &answers)),
    ]);
    let text = render_text(&r);
    // The NXDOMAIN for the second name came over TCP.
    assert_eq!(r.verdict.cause, "dns-nxdomain", "{text}");
    assert_eq!(pkts(&r), vec![7, 8], "{text}");
    assert!(text.contains("over TCP"), "{text}");
    assert!(
        text.contains("the DNS query for A proxy.lab.test from 198.18.0.1:40001 to 198.18.0.2:53 over TCP (pkt 7, retried over TCP after a truncated UDP answer (packet 2)) was answered (pkt 8)"),
        "{text}"
    );
    assert!(
        text.contains("3 DNS exchange(s) (1 answered, 2 over TCP, 1 truncated UDP answer(s))"),
        "{text}"
    );
}

#[test]
fn a_refused_tcp_retry_after_a_truncated_answer_is_the_dns_servers_failure() {
    let ct = (CLIENT, 40001);
    let s = (SERVER, 53);
    let cu = (CLIENT, 40000);
    let q = dns_query(7, "proxy.lab.test");
    let mut tc = dns_answer(&q, 0);
    tc[2] |= 0x02; // TC
    let r = analyze(&[
        rec(0.0, udp(cu, s, 1, &q)),
        rec(1.0, udp(s, cu, 2, &tc)),
        rec(2.0, tcp(ct, s, 3, "S", 1000, 0, &[])),
        rec(2.1, tcp(s, ct, 4, "RA", 0, 1001, &[])),
    ]);
    let text = render_text(&r);
    assert_eq!(r.verdict.cause, "connection-refused", "{text}");
    assert_eq!(pkts(&r), vec![2, 3, 4], "{text}");
    assert_eq!(
        r.verdict.target.as_ref().and_then(|t| t.name.as_deref()),
        Some("proxy.lab.test"),
        "{text}"
    );
    assert!(
        r.verdict.summary.starts_with("the DNS server 198.18.0.2:53 could not be asked over TCP, where its truncated UDP answer for A proxy.lab.test (TC=1, packet 2) sent 198.18.0.1: 198.18.0.2:53 answered the SYN (pkt 3) with RST (pkt 4)"),
        "{text}"
    );
    // The truncated answer is not an answer.
    assert!(
        text.contains("1 DNS exchange(s) (0 answered, 0 over TCP, 1 truncated UDP answer(s))"),
        "{text}"
    );
}
