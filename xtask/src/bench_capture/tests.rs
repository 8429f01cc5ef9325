//! The generator checked from the outside: every frame re-parsed with
//! etherparse (checksums recomputed) and decoded with the analyzer's own
//! reader and decoder, and the flow mix counted back. Small sizes only:
//! no timing here (the figures are the benchmark's job).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use gotrace_analyzer::capture::{decode, AppSummary, CaptureReader, Payload};
use gotrace_analyzer::http::HttpHead;
use gotrace_analyzer::tls::Message;

use super::mix::Failure;
use super::{generator, parse, substitute, Cache};

/// Size of the test capture (bytes): enough sessions for every kind.
const TEST_BYTES: u64 = 12 << 20;

fn capture(bytes: u64) -> (generator::Summary, Vec<u8>) {
    generator::generate(bytes, Vec::new(), |_| {}, || false).unwrap()
}

fn in_bench_range(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v) if v.octets()[0] == 198 && (v.octets()[1] & 0xfe) == 18)
}

/// Recomputes the IPv4 and transport checksums of an Ethernet frame.
fn checksums_ok(frame: &[u8]) -> bool {
    let Ok(p) = SlicedPacket::from_ethernet(frame) else {
        return false;
    };
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        return false;
    };
    let h = ip.header().to_header();
    if h.header_checksum != h.calc_header_checksum() {
        return false;
    }
    match p.transport {
        Some(TransportSlice::Tcp(t)) => {
            t.to_header().calc_checksum_ipv4(&h, t.payload()).ok() == Some(t.checksum())
        }
        Some(TransportSlice::Udp(u)) => {
            u.to_header().calc_checksum_ipv4(&h, u.payload()).ok() == Some(u.checksum())
        }
        Some(TransportSlice::Icmpv4(i)) => i.icmp_type().calc_checksum(i.payload()) == i.checksum(),
        _ => false,
    }
}

/// What the capture holds, counted from its bytes.
#[derive(Default, Debug)]
struct Census {
    frames: u64,
    frame_bytes: u64,
    full_frame_bytes: u64,
    tcp: HashMap<(SocketAddr, SocketAddr), Vec<(bool, bool)>>,
    udp: HashSet<(SocketAddr, SocketAddr)>,
    icmp: u64,
    icmp_quoting_known_flows: u64,
    rcodes: HashMap<u8, u64>,
    http_statuses: HashMap<u16, u64>,
    cleartext_alerts: HashMap<u8, u64>,
    client_hellos: u64,
    rsts: u64,
}

fn key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn census(file: &[u8]) -> Census {
    let mut c = Census::default();
    let mut r = CaptureReader::new(file).unwrap();
    let mut quotes = Vec::new();
    while let Some(f) = r.next_frame() {
        c.frames += 1;
        c.frame_bytes += f.data.len() as u64;
        if f.data.len() == 1514 {
            c.full_frame_bytes += 1514;
        }
        assert!(
            checksums_ok(f.data),
            "frame {} has a bad checksum",
            f.number
        );
        let p = decode(&f).unwrap_or_else(|| panic!("frame {} does not decode", f.number));
        assert!(
            in_bench_range(p.src.ip()) && in_bench_range(p.dst.ip()),
            "{}",
            p.describe()
        );
        match &p.payload {
            Payload::Tcp { flags, app, .. } => {
                c.tcp
                    .entry(key(p.src, p.dst))
                    .or_default()
                    .push((flags.syn, flags.rst));
                c.rsts += u64::from(flags.rst);
                match app.as_deref() {
                    Some(AppSummary::Http(HttpHead::Response(h))) => {
                        *c.http_statuses.entry(h.status).or_default() += 1
                    }
                    Some(AppSummary::Tls(t)) => {
                        for m in &t.messages {
                            match m {
                                Message::ClientHello(h) => {
                                    assert_eq!(h.sni.as_deref(), Some("proxy.lab.test"));
                                    c.client_hellos += 1;
                                }
                                Message::Alert(a) => {
                                    *c.cleartext_alerts.entry(a.description).or_default() += 1
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            Payload::Udp { dns } => {
                c.udp.insert(key(p.src, p.dst));
                let m = dns.as_ref().expect("every UDP datagram is DNS");
                if m.response {
                    *c.rcodes.entry(m.rcode).or_default() += 1;
                }
            }
            Payload::IcmpError(e) => {
                c.icmp += 1;
                let q = e.quoted.as_ref().expect("the ICMP error quotes its flow");
                quotes.push((q.proto, key(q.src, q.dst)));
            }
            Payload::Fragment(_) => panic!("the generator writes no IP fragments"),
        }
    }
    assert!(r.take_warnings().is_empty());
    for (proto, k) in quotes {
        let known = if proto == 6 {
            c.tcp.contains_key(&k)
        } else {
            c.udp.contains(&k)
        };
        c.icmp_quoting_known_flows += u64::from(known);
    }
    c
}

#[test]
fn the_mix_counted_back_from_the_file_matches_the_summary() {
    let (sum, file) = capture(TEST_BYTES);
    let m = &sum.mix;
    assert_eq!(sum.file_bytes, file.len() as u64);
    assert!(sum.file_bytes >= TEST_BYTES);
    let c = census(&file);
    assert_eq!(c.frames, sum.packets);
    assert_eq!(c.tcp.len() as u64, m.tcp_flows, "TCP flows");
    assert_eq!(c.udp.len() as u64, m.udp_flows, "UDP flows");
    assert_eq!(
        (c.icmp, c.icmp_quoting_known_flows),
        (m.icmp_errors, m.icmp_errors)
    );
    for f in Failure::ALL {
        assert!(
            m.failures(f) > 0,
            "no {} in {} sessions",
            f.name(),
            m.sessions
        );
    }
    // Both lookups (A and AAAA) of a failed name carry the RCODE.
    assert_eq!(
        c.rcodes.get(&3).copied(),
        Some(2 * m.failures(Failure::DnsNxdomain))
    );
    assert_eq!(
        c.rcodes.get(&2).copied(),
        Some(2 * m.failures(Failure::DnsServfail))
    );
    // RSTs: one answering each refused SYN, one cutting each reset body.
    assert_eq!(
        c.rsts,
        m.failures(Failure::ConnectionRefused) + m.failures(Failure::ConnectionReset)
    );
    let refused = c
        .tcp
        .values()
        .filter(|v| v.len() == 2 && v[0] == (true, false) && v[1].1)
        .count();
    assert_eq!(refused as u64, m.failures(Failure::ConnectionRefused));
    // Unanswered SYNs: five per timed-out dial, nothing else on the flow.
    let syn_only = c
        .tcp
        .values()
        .filter(|v| v.iter().all(|p| *p == (true, false)))
        .collect::<Vec<_>>();
    let timeouts = syn_only.iter().filter(|v| v.len() == 5).count() as u64;
    assert_eq!(timeouts, m.failures(Failure::ConnectTimeout));
    assert_eq!(
        syn_only.len() as u64,
        timeouts + m.failures(Failure::IcmpUnreachable)
    );
    // The server's handshake_failure alerts (40) and the TLS 1.2 clients'
    // bad_certificate alerts (42), in cleartext.
    let alerts = |d| c.cleartext_alerts.get(&d).copied().unwrap_or(0);
    assert_eq!(alerts(40), m.failures(Failure::TlsAlert));
    assert!((1..m.failures(Failure::TlsUntrustedCertificate)).contains(&alerts(42)));
    // Statuses are readable on plain HTTP only (the TLS ones are encrypted).
    let status = |s| c.http_statuses.get(&s).copied().unwrap_or(0);
    assert!(status(200) > 0 && status(200) <= m.responses_ok);
    assert!((1..=m.failures(Failure::HttpNotFound)).contains(&(status(404) + status(410))));
    assert!(c.client_hellos > 0);
    // Most of the bytes travel in full-size data segments.
    assert!(c.full_frame_bytes * 10 > c.frame_bytes * 7, "{c:?}");
    assert!(
        m.zip_bytes * 10 > c.frame_bytes * 6,
        "module zips are the bulk"
    );
}

#[test]
fn the_same_size_gives_the_same_bytes() {
    let (a, fa) = capture(300 << 10);
    let (b, fb) = capture(300 << 10);
    assert_eq!(fa, fb);
    assert_eq!(a.mix, b.mix);
}

#[test]
fn options() {
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let o = parse(&args(&[])).unwrap().unwrap();
    assert_eq!(
        (o.size_gib, o.rounds, o.keep, o.cache),
        (1.0, 3, false, Cache::Warm)
    );
    let o = parse(&args(&[
        "--size-gib",
        "0.5",
        "--keep",
        "--cold",
        "--rounds",
        "5",
        "--out",
        "/x",
        "--gotrace-cmd",
        "capinfos -c",
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(
        (o.size_gib, o.rounds, o.keep, o.cache),
        (0.5, 5, true, Cache::Cold)
    );
    assert_eq!(o.out.as_deref(), Some(Path::new("/x")));
    assert_eq!(o.gotrace_cmd.as_deref(), Some("capinfos -c"));
    assert!(parse(&args(&["--help"])).unwrap().is_none());
    for bad in [
        &["--size-gib", "0"][..],
        &["--size-gib", "x"],
        &["--rounds", "0"],
        &["--bogus"],
        &["--out"],
        &["--gotrace-cmd", " "],
    ] {
        assert!(parse(&args(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn the_capture_path_goes_where_braces_are_or_last() {
    let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let f = Path::new("/tmp/c.pcapng");
    assert_eq!(
        substitute(&w(&["capinfos", "-c"]), f),
        ["capinfos", "-c", "/tmp/c.pcapng"]
    );
    assert_eq!(
        substitute(&w(&["x", "{}", "-q"]), f),
        ["x", "/tmp/c.pcapng", "-q"]
    );
}
