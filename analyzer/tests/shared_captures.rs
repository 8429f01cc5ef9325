//! Runs the capture reader over the real-world captures of the shared
//! directory (read-only): no panic, no error for pcap/pcapng files, and
//! packet counts that match what tshark reports for a few.
//!
//! The directory is found by `shared::dir` (`$GOTRACE_SHARED_CAPTURES`,
//! else `<workspace>/../shared/captures`).

mod shared;

use gotrace_analyzer::capture::{CaptureIndex, CaptureReader};
use shared::{capture, dir};

#[test]
fn every_shared_capture_reads_without_error() {
    let dir = dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut n = 0;
    for e in entries.flatten() {
        let p = e.path();
        let ext = p.extension().and_then(|s| s.to_str()).unwrap_or("");
        if ext != "pcap" && ext != "pcapng" {
            continue;
        }
        let idx =
            CaptureIndex::from_path(&p).unwrap_or_else(|err| panic!("{}: {err}", p.display()));
        eprintln!(
            "{}: {} packets, {} decoded, warnings {:?}",
            p.display(),
            idx.packets,
            idx.decoded,
            idx.warnings
        );
        n += 1;
    }
    assert!(n > 0, "no captures found in {}", dir.display());
}

/// (last frame number, warnings); asserts numbers only grow.
fn count(name: &str) -> (u64, Vec<String>) {
    let mut r = CaptureReader::open(&capture(name)).unwrap();
    let mut last = 0;
    while let Some(f) = r.next_frame() {
        assert!(f.number > last, "packet numbers grow");
        last = f.number;
    }
    (last, r.take_warnings())
}

#[test]
fn known_counts_and_truncation() {
    let (n, w) = count("cs_tcp_refuseconnection.pcapng");
    assert_eq!(n, 2);
    assert!(w.is_empty(), "{w:?}");

    let (n, w) = count("cs_ppa1e_http-fault-post.pcap");
    // tshark/capinfos: 25 whole packets, then a record cut short.
    assert_eq!(n, 25);
    assert!(
        w.iter().any(|w| w.contains("truncated at byte offset")),
        "{w:?}"
    );

    let (n, _) = count("td_empty.pcapng");
    assert_eq!(n, 0);

    let (n, w) = count("td_kday6.pcap");
    assert!(n > 0);
    assert!(w.iter().any(|w| w.contains("link type 182")), "{w:?}");

    let (n, _) = count("pg_be_test009.pcapng");
    assert_eq!(n, 2);

    // Sections of both byte orders, SPBs, ISBs and custom blocks: tshark
    // numbers 11 frames (6 EPB, 2 SPB, 3 custom blocks), the last an EPB.
    let (n, w) = count("pg_le_test202.pcapng");
    assert_eq!(n, 11);
    assert!(w.is_empty(), "{w:?}");

    let (n, _) = count("cs_nowebaccess1.pcapng");
    assert_eq!(n, 9);
}

/// Decoded packets of a shared capture (which must exist).
fn packets(name: &str) -> Vec<gotrace_analyzer::capture::Packet> {
    let mut r = CaptureReader::open(&capture(name)).unwrap();
    let mut v = Vec::new();
    while let Some(f) = r.next_frame() {
        v.extend(gotrace_analyzer::capture::decode(&f));
    }
    v
}

#[test]
fn real_packets_decode_as_the_index_says() {
    use gotrace_analyzer::capture::Payload;
    use gotrace_analyzer::icmp::Unreachable;
    {
        let p = packets("cs_tcp_refuseconnection.pcapng");
        let d: Vec<String> = p.iter().map(|p| p.describe()).collect();
        assert!(d[0].ends_with("192.168.100.1:80 [SYN]"), "{d:?}");
        assert!(
            d[1].starts_with("192.168.100.1:80 >") && d[1].ends_with("[RST, ACK]"),
            "{d:?}"
        );
    }
    {
        let p = packets("cs_dns_query_nonexistent.pcapng");
        let Payload::Udp { dns: Some(m) } = &p[1].payload else {
            panic!("{:?}", p[1])
        };
        assert!(m.response);
        assert_eq!(m.rcode, gotrace_analyzer::dns::RCODE_NXDOMAIN);
        assert_eq!(m.qname.as_deref(), Some("12498283719301382971974.net"));
    }
    {
        let p = packets("cs_stranded_clientside.pcapng");
        let Payload::Udp { dns: Some(m) } = &p[1].payload else {
            panic!("{:?}", p[1])
        };
        assert_eq!((m.rcode, m.qname.as_deref()), (2, Some("appserver")));
    }
    {
        let p = packets("zk_icmp-destunreach-udp.pcap");
        let Payload::IcmpError(e) = &p[0].payload else {
            panic!("{:?}", p[0])
        };
        assert_eq!(e.kind, Unreachable::Port);
        let q = e.quoted.as_ref().unwrap();
        assert_eq!((q.proto, q.src.port()), (17, 53), "quotes the DNS response");
        assert!(q.dns_id.is_some());
    }
    {
        let p = packets("zk_icmp6-destunreach-ip6ext-udp.pcap");
        let Payload::IcmpError(e) = &p[0].payload else {
            panic!("{:?}", p[0])
        };
        assert_eq!(e.kind, Unreachable::Net);
        assert_eq!(
            e.quoted.as_ref().map(|q| q.proto),
            Some(17),
            "through the extension header"
        );
    }
    {
        let p = packets("td_LINKTYPE_RAW_ipv6.pcap");
        let Payload::Udp { dns: Some(m) } = &p[0].payload else {
            panic!("{:?}", p[0])
        };
        assert_eq!(m.qname.as_deref(), Some("example.com"));
        assert!(p[0].dst.ip().is_ipv6());
    }
}

/// `describe()` of packet `number` of a shared capture.
fn line(name: &str, number: u64) -> String {
    packets(name)
        .iter()
        .find(|p| p.number == number)
        .unwrap_or_else(|| panic!("{name}: no decoded packet #{number}"))
        .describe()
}

#[test]
fn real_tls_and_http_payloads_are_summarised() {
    for (name, number, end) in [
        // Client rejects the server certificate: cleartext alert 48.
        (
            "zk_tls13draft16-ff52.a01.pcap",
            8,
            "[PSH, ACK] (7 bytes) TLS Alert (Level: Fatal, Description: Unknown CA)",
        ),
        (
            "zk_tls13draft16-ff52.a01.pcap",
            6,
            "TLS Server Hello (TLS 1.3 draft 16), Application Data, Application Data, \
             Application Data, Application Data",
        ),
        (
            "zk_tls-1.2-handshake-failure.pcap",
            6,
            "TLS Alert (Level: Fatal, Description: Handshake Failure)",
        ),
        // A warning before the ServerHello; the Certificate runs on.
        (
            "zk_tls-early-alert.pcap",
            6,
            "TLS Alert (Level: Warning, Description: Unrecognized Name), \
             Server Hello (TLS 1.2), Certificate (partial)",
        ),
        (
            "zk_tls12-decryption.pcap",
            6,
            "TLS Server Hello (TLS 1.2), Certificate, Server Key Exchange, Server Hello Done",
        ),
        (
            "zk_chrome-1250-tls-x25519-kyber.pcap",
            4,
            "(1756 bytes) TLS Client Hello (SNI=lh3.google.com)",
        ),
        (
            "zk_chrome-1250-tls-x25519-kyber.pcap",
            6,
            "TLS Server Hello (TLS 1.3), Change Cipher Spec, Application Data",
        ),
        // The HTTPS_PROXY path: CONNECT, 200, then TLS inside the tunnel.
        (
            "zk_http-connect-with-header.pcap",
            5,
            "CONNECT secure.newegg.com:443 HTTP/1.1",
        ),
        (
            "zk_http-connect-with-header.pcap",
            7,
            "HTTP/1.0 200 Connection Established",
        ),
        (
            "zk_http-connect-with-header.pcap",
            9,
            "TLS Client Hello (SNI=secure.newegg.com)",
        ),
        (
            "cs_ppa1e_http-fault-post.pcap",
            8,
            "[ACK] (1460 bytes) HTTP/1.1 403 Forbidden",
        ),
        (
            "cs_http_ip4and6.pcapng",
            14,
            "GET / HTTP/1.1 (Host: [2001:db8:1:2::1000])",
        ),
        // Sniffed by content: a ClientHello to port 80.
        (
            "zk_https-to-http.pcap",
            4,
            "127.0.0.1:50382 > 127.0.0.1:80 [PSH, ACK] (517 bytes) TLS Client Hello",
        ),
        // Python's answer has no status line (HTTP/0.9 style): no summary.
        ("zk_https-to-http.pcap", 6, "[PSH, ACK] (468 bytes)"),
    ] {
        let got = line(name, number);
        assert!(got.ends_with(end), "{name} #{number}: {got}");
    }
}

/// The link types of the shared captures, each checked against tshark's
/// reading (INDEX.md lists which file uses which).
#[test]
fn shared_link_types_decode_as_tshark_reads_them() {
    let lines =
        |name: &str| -> Vec<String> { packets(name).iter().map(|p| p.describe()).collect() };
    // NFLOG (239): four DNS answers inside NFULA_PAYLOAD TLVs.
    let nflog = lines("td_nflog.pcap");
    assert_eq!(nflog.len(), 4, "{nflog:?}");
    assert_eq!(
        nflog[1],
        "74.82.42.42:53 > 10.0.0.20:45190 DNS response NOERROR AAAA example.com (id 0xceda, 1 answers)"
    );
    // BSD loopback (0), IPv4 and IPv6 (AF 30 on macOS).
    assert!(lines("td_tcp_rst_diag_payload-trunc.pcap")[0]
        .starts_with("192.0.2.1:43018 > 192.168.0.1:8080 [RST, ACK]"));
    assert_eq!(
        lines("zk_http-connect-with-header.pcap")[0],
        "[::1]:52522 > [::1]:80 [SYN]"
    );
    // Ethernet and NULL interfaces in one pcapng.
    assert_eq!(lines("pg_le_test006.pcapng").len(), 5);
    // Linux cooked v1 (nanosecond pcap) and v2.
    assert_eq!(
        lines("td_tcp-handshake-nano.pcap")[1],
        "137.116.81.94:80 > 131.155.215.69:46656 [SYN, ACK]"
    );
    assert!(
        lines("zk_openjdk-25.0.2-zeek.org.pcap")[3].ends_with("TLS Client Hello (SNI=zeek.org)")
    );
    // LINKTYPE_IPV6 holding an IPv4 packet: tshark says "Bogus IPv6
    // version"; not decoded as IPv4.
    let (n, w) = count("td_LINKTYPE_IPV6_invalid.pcap");
    assert_eq!((n, w.len()), (1, 0));
    assert!(packets("td_LINKTYPE_IPV6_invalid.pcap").is_empty());
    // Juniper MFR (182): one warning naming it, no error.
    let (_, w) = count("td_kday6.pcap");
    assert_eq!(
        w,
        vec!["capture interface 0 has link type 182 (LINKTYPE_MFR), which gotrace cannot decode; its packets are skipped"]
    );
}
