//! One synthetic bundle per verdict rule, analysed through the public
//! entry point `analyze_bundle`.

mod common;

use common::*;
use gotrace_analyzer::correlate::Source;
use gotrace_analyzer::{analyze_bundle, render_text, Layer, Report};
use gotrace_bundle::Op;
use simple_dns::TYPE;

fn ids(r: &Report, source: Source) -> Vec<u64> {
    r.verdict
        .evidence
        .iter()
        .filter(|e| e.source == source)
        .map(|e| e.id)
        .collect()
}

#[test]
fn connection_refused_with_syn_and_rst_on_the_wire() {
    let mut b = Bundle::new(Some(1));
    let (c, s, syn, rst) = refused_dial(&mut b, true);
    assert_eq!((syn, rst), (2, 3));
    b.stderr = Some(REFUSED_STDERR.into());
    let r = analyze_bundle(&b.write()).unwrap();
    let v = &r.verdict;
    assert_eq!(v.layer, Layer::Network, "{}", render_text(&r));
    assert_eq!(v.cause, "connection-refused");
    assert_eq!(ids(&r, Source::Event), vec![c, s]);
    assert_eq!(ids(&r, Source::Packet), vec![syn, rst]);
    let t = v.target.as_ref().unwrap();
    assert_eq!(
        (t.name.as_deref(), t.ip.as_deref(), t.port),
        (Some("proxy.lab.test"), Some("198.18.0.2"), Some(8080))
    );
    let syn_ev = v
        .evidence
        .iter()
        .find(|e| e.id == syn && e.source == Source::Packet)
        .unwrap();
    assert_eq!(syn_ev.text, "198.18.0.1:40122 > 198.18.0.2:8080 [SYN]");
    assert_eq!(syn_ev.t_ms, Some(10.08));
    let connect = v.evidence.first().unwrap();
    assert_eq!(
        connect.text,
        "connect(fd 7, 198.18.0.2:8080) = -EINPROGRESS"
    );
    assert!(v.missing.is_empty());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    for k in [
        "layer",
        "cause",
        "summary",
        "target",
        "evidence",
        "remediation",
        "missing",
        "other_failures",
        "warnings",
        "analysis",
    ] {
        assert!(keys.contains(&k), "{k} missing in {json}");
    }
    assert_eq!(json["layer"], "network");
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json,
        "Serialize == to_json"
    );
    assert_eq!(json["analysis"], "bundle");
    assert_eq!(json["evidence"][2]["source"], "packet");
    assert_eq!(json["evidence"][2]["id"], 2);

    let text = render_text(&r);
    eprintln!("{text}\n{}", r.to_json());
    assert!(text.contains("connection-refused"), "{text}");
    assert!(text.contains("pkt 3"), "{text}");
    assert!(text.contains("#3"), "{text}");
}

#[test]
fn refused_without_capture_is_inconclusive() {
    let mut b = Bundle::new(Some(1));
    refused_dial(&mut b, false);
    b.stderr = Some(REFUSED_STDERR.into());
    b.capture = false;
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
    assert_eq!(r.verdict.cause, "insufficient-evidence");
    assert_eq!(r.verdict.missing, vec!["capture".to_string()]);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("capture.pcapng missing")));
}

#[test]
fn rst_without_so_error_is_still_refused() {
    let mut b = Bundle::new(Some(1));
    let (_, s, syn, rst) = refused_dial(&mut b, false);
    b.events.retain(|e| e.id != s);
    b.stderr = Some(REFUSED_STDERR.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(
        (r.verdict.layer, r.verdict.cause.as_str()),
        (Layer::Network, "connection-refused")
    );
    assert_eq!(ids(&r, Source::Packet), vec![syn, rst]);
    assert!(
        r.verdict.summary.contains("SO_ERROR"),
        "{}",
        r.verdict.summary
    );
}

#[test]
fn no_route_is_the_kernel() {
    let mut b = Bundle::new(Some(1));
    b.ev(3.0, sock_ev(7, true));
    let c = b.ev(3.1, connect_ev(7, sa(SERVER, 8080), -101));
    b.ev(3.2, Op::close(7));
    // Some unrelated packet so the capture is not empty.
    b.pkt(
        1.0,
        udp(
            socket_addr(CLIENT, 5353),
            socket_addr([224, 0, 0, 251], 5353),
            b"x",
        ),
    );
    b.stderr = Some("go: example.com/m@v1.0.0: Get \"http://198.18.0.2:8080/example.com/m/@v/list\": dial tcp 198.18.0.2:8080: connect: network is unreachable\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Kernel, "{}", render_text(&r));
    assert_eq!(r.verdict.cause, "no-route");
    assert_eq!(ids(&r, Source::Event), vec![c]);
    assert!(r.verdict.remediation.contains("route"));
    assert_eq!(
        r.verdict.evidence[0].text,
        "connect(fd 7, 198.18.0.2:8080) = -ENETUNREACH"
    );
}

#[test]
fn no_route_but_packets_to_the_peer_is_inconclusive() {
    let mut b = Bundle::new(Some(1));
    b.ev(3.0, sock_ev(7, true));
    b.ev(3.1, connect_ev(7, sa(SERVER, 8080), -101));
    b.pkt(
        3.15,
        tcp(
            socket_addr(CLIENT, 1),
            socket_addr(SERVER, 8080),
            true,
            false,
            false,
        ),
    );
    b.stderr = Some("dial tcp 198.18.0.2:8080: connect: network is unreachable".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
}

/// A refused DNS exchange from CLIENT:`port`; returns (query pkt, ICMP pkt, read event).
fn refused_exchange(b: &mut Bundle, fd: i32, port: u16, ms: f64, id: u16) -> (u64, u64, u64) {
    let server = sa(SERVER, 53);
    let q = dns_query(id, "proxy.lab.test", TYPE::A);
    b.ev(ms, sock_ev(i64::from(fd), false));
    b.ev(ms + 0.1, connect_ev(fd, server.clone(), 0));
    b.ev(ms + 0.2, write_ev(fd, &q));
    let query = udp(socket_addr(CLIENT, port), socket_addr(SERVER, 53), &q);
    let qp = b.pkt(ms + 0.25, query.clone());
    let ip = b.pkt(ms + 0.3, icmp_port_unreachable(SERVER, CLIENT, &query));
    let read = b.ev(ms + 0.4, read_err(fd, 111, "ECONNREFUSED"));
    b.ev(ms + 0.5, Op::close(fd));
    (qp, ip, read)
}

const DNS_REFUSED_STDERR: &str = "go: example.com/m@v1.0.0: Get \"https://proxy.lab.test/example.com/m/@v/list\": dial tcp: lookup proxy.lab.test on 198.18.0.2:53: read udp 198.18.0.1:39283->198.18.0.2:53: read: connection refused\n";

fn dns_refused_bundle() -> (Bundle, u64, u64, u64) {
    let mut b = Bundle::new(Some(1));
    let (qp, ip, read) = refused_exchange(&mut b, 9, 39283, 2.0, 0x1234);
    b.stderr = Some(DNS_REFUSED_STDERR.into());
    (b, qp, ip, read)
}

#[test]
fn dns_port_unreachable() {
    let (b, qp, ip, read) = dns_refused_bundle();
    let r = analyze_bundle(&b.write()).unwrap();
    let v = &r.verdict;
    assert_eq!(v.layer, Layer::Network, "{}", render_text(&r));
    assert_eq!(v.cause, "dns-port-unreachable");
    assert_eq!(ids(&r, Source::Packet), vec![qp, ip]);
    assert!(ids(&r, Source::Event).contains(&read));
    let t = v.target.as_ref().unwrap();
    assert_eq!(
        (t.name.as_deref(), t.ip.as_deref(), t.port),
        (Some("proxy.lab.test"), Some("198.18.0.2"), Some(53))
    );
    assert!(v.summary.contains("proxy.lab.test") && v.summary.contains("198.18.0.2:53"));
    assert!(v.remediation.contains("resolv.conf"));
}

#[test]
fn dns_refused_without_icmp_is_inconclusive() {
    let (mut b, _, ip, _) = dns_refused_bundle();
    b.packets.truncate(ip as usize - 1);
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
    assert!(r
        .verdict
        .missing
        .iter()
        .any(|m| m.to_string().contains("ICMP")));
}

/// One UDP exchange: query written, answer read, both on the wire.
fn exchange(
    b: &mut Bundle,
    fd: i32,
    port: u16,
    ms: f64,
    (id, name, t): (u16, &str, TYPE),
    rcode: u8,
) -> (u64, u64) {
    let server = sa(SERVER, 53);
    let q = dns_query(id, name, t);
    let a = dns_response(&q, rcode);
    b.ev(ms, sock_ev(i64::from(fd), false));
    b.ev(ms + 0.01, connect_ev(fd, server, 0));
    b.ev(ms + 0.02, write_ev(fd, &q));
    b.pkt(
        ms + 0.03,
        udp(socket_addr(CLIENT, port), socket_addr(SERVER, 53), &q),
    );
    let ap = b.pkt(
        ms + 0.5,
        udp(socket_addr(SERVER, 53), socket_addr(CLIENT, port), &a),
    );
    let rd = b.ev(ms + 0.6, read_ev(fd, &a));
    b.ev(ms + 0.7, Op::close(fd));
    (ap, rd)
}

#[test]
fn nxdomain_picks_the_name_go_names() {
    let mut b = Bundle::new(Some(1));
    // Search-domain variant first, then A and AAAA for the real name.
    exchange(
        &mut b,
        9,
        40001,
        1.0,
        (0x0101, "proxy.lab.test.corp.example", TYPE::A),
        3,
    );
    let (ap, rd) = exchange(
        &mut b,
        10,
        40002,
        3.0,
        (0x0202, "proxy.lab.test", TYPE::A),
        3,
    );
    exchange(
        &mut b,
        11,
        40003,
        3.1,
        (0x0303, "proxy.lab.test", TYPE::AAAA),
        3,
    );
    b.stderr = Some("go: example.com/m@v1.0.0: Get \"https://proxy.lab.test/example.com/m/@v/list\": dial tcp: lookup proxy.lab.test on 198.18.0.2:53: no such host\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    let v = &r.verdict;
    assert_eq!(
        (v.layer, v.cause.as_str()),
        (Layer::Network, "dns-nxdomain"),
        "{}",
        render_text(&r)
    );
    assert_eq!(
        v.target.as_ref().unwrap().name.as_deref(),
        Some("proxy.lab.test")
    );
    let pk = ids(&r, Source::Packet);
    let evs = ids(&r, Source::Event);
    // The chosen exchange is one of the two for proxy.lab.test, not the search variant.
    assert!(pk.contains(&ap) || pk.contains(&(ap + 2)), "{pk:?}");
    assert!(evs.contains(&rd) || evs.contains(&(rd + 5)), "{evs:?}");
    assert!(v.summary.contains("NXDOMAIN"));
    assert!(!v.other_failures.is_empty());
}

#[test]
fn exit_zero_is_none_but_lists_failures() {
    let mut b = Bundle::new(Some(0));
    refused_dial(&mut b, false);
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(
        (r.verdict.layer, r.verdict.cause.as_str()),
        (Layer::None, "none")
    );
    assert_eq!(
        r.verdict.other_failures.len(),
        1,
        "{:?}",
        r.verdict.other_failures
    );
    assert!(r.verdict.evidence.is_empty());
}

#[test]
fn goproxy_off_is_before_syscall() {
    let mut b = Bundle::new(Some(1));
    b.ev(
        0.5,
        Op::Exec {
            filename: "/usr/bin/go".into(),
        },
    );
    b.stderr = Some("go: example.com/m@v1.0.0: module lookup disabled by GOPROXY=off\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(
        (r.verdict.layer, r.verdict.cause.as_str()),
        (Layer::BeforeSyscall, "proxy-disabled")
    );
    assert!(r.verdict.remediation.contains("GOPROXY"));
}

#[test]
fn no_socket_without_hint_is_no_network_attempt() {
    let mut b = Bundle::new(Some(1));
    b.ev(
        0.5,
        Op::Exec {
            filename: "/usr/bin/go".into(),
        },
    );
    // An AF_UNIX socket is not a network attempt.
    b.ev(
        0.6,
        Op::Socket {
            ret: 3,
            errno: None,
            domain: 1,
            sock_type: 1,
            protocol: 0,
            sock: None,
        },
    );
    b.stderr = Some("go: go.mod file not found in current directory\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(
        (r.verdict.layer, r.verdict.cause.as_str()),
        (Layer::BeforeSyscall, "no-network-attempt")
    );
}

#[test]
fn missing_events_cannot_claim_before_syscall() {
    let mut b = Bundle::new(Some(1));
    b.stderr = Some("go: module lookup disabled by GOPROXY=off\n".into());
    let dir = b.write();
    std::fs::remove_file(dir.join("events.jsonl")).unwrap();
    let r = analyze_bundle(&dir).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
    assert_eq!(r.verdict.missing, vec!["events.jsonl".to_string()]);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("events.jsonl missing")));
}

#[test]
fn lost_events_cannot_claim_before_syscall() {
    let mut b = Bundle::new(Some(1));
    b.meta.lost_events = 12;
    b.stderr = Some("go: something failed\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
}

#[test]
fn failure_go_does_not_name_is_inconclusive() {
    // A refused dial happened, but Go's error is about something else.
    let mut b = Bundle::new(Some(1));
    refused_dial(&mut b, false);
    b.stderr = Some(
        "go: example.com/m@v1.0.0: reading https://proxy.example/m/@v/list: 404 Not Found\n".into(),
    );
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
    assert_eq!(r.verdict.other_failures.len(), 1);
}

#[test]
fn refused_dial_is_linked_by_time_without_tcp_state() {
    let mut b = Bundle::new(Some(1));
    let (_, _, syn, rst) = refused_dial(&mut b, true);
    b.events.retain(|e| !matches!(e.op, Op::TcpState { .. }));
    b.stderr = Some(REFUSED_STDERR.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.cause, "connection-refused", "{}", render_text(&r));
    assert_eq!(ids(&r, Source::Packet), vec![syn, rst]);
}

#[test]
fn mapped_ipv6_peer_matches_the_ipv4_wire() {
    let mut b = Bundle::new(Some(1));
    let (_, _, syn, rst) = refused_dial(&mut b, false);
    let mapped = |a: &mut gotrace_bundle::SockAddr| {
        if let std::net::IpAddr::V4(v4) = a.ip {
            a.ip = v4.to_ipv6_mapped().into();
        }
    };
    for e in &mut b.events {
        match &mut e.op {
            Op::Connect { peer: Some(p), .. } => mapped(p),
            Op::TcpState { local, peer, .. } => {
                mapped(local);
                mapped(peer);
            }
            _ => {}
        }
    }
    b.stderr = Some(REFUSED_STDERR.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.cause, "connection-refused", "{}", render_text(&r));
    assert_eq!(ids(&r, Source::Packet), vec![syn, rst]);
}

#[test]
fn io_timeout_with_nothing_on_the_wire_is_inconclusive_and_says_so() {
    let mut b = Bundle::new(Some(1));
    b.ev(1.0, sock_ev(7, true));
    let c = b.ev(1.1, connect_ev(7, sa(SERVER, 8080), -115));
    b.pkt(
        0.5,
        udp(
            socket_addr(CLIENT, 5353),
            socket_addr([224, 0, 0, 251], 5353),
            b"x",
        ),
    );
    b.stderr = Some("go: example.com/m@v1.0.0: Get \"http://198.18.0.2:8080/example.com/m/@v/list\": dial tcp 198.18.0.2:8080: i/o timeout\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
    assert!(
        r.verdict.summary.contains("no SYN"),
        "{}",
        r.verdict.summary
    );
    assert_eq!(ids(&r, Source::Event), vec![c]);
}

#[test]
fn blocking_connect_refused_with_rst() {
    // git/curl style: a blocking connect() returns -ECONNREFUSED itself.
    let mut b = Bundle::new(Some(1));
    let (c, s, syn, rst) = refused_dial(&mut b, false);
    b.events.retain(|e| e.id != s);
    for e in &mut b.events {
        if let Op::Connect { ret, .. } = &mut e.op {
            *ret = -111;
        }
    }
    b.stderr = Some(REFUSED_STDERR.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.cause, "connection-refused");
    assert_eq!(ids(&r, Source::Event), vec![c]);
    assert_eq!(ids(&r, Source::Packet), vec![syn, rst]);
}

#[test]
fn without_stderr_agreeing_failures_still_decide() {
    let mut b = Bundle::new(Some(1));
    refused_dial(&mut b, false);
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.cause, "connection-refused");
    assert!(
        r.warnings.iter().any(|w| w.starts_with("stderr.log")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn without_stderr_a_later_success_makes_it_inconclusive() {
    let mut b = Bundle::new(Some(1));
    refused_dial(&mut b, false);
    b.ev(50.0, sock_ev(8, true));
    b.ev(50.1, connect_ev(8, sa(SERVER, 8081), -115));
    b.ev(
        50.2,
        Op::SoError {
            fd: 8,
            ret: 0,
            so_error: 0,
            so_error_name: None,
            sock: None,
        },
    );
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive, "{}", render_text(&r));
    assert!(r
        .verdict
        .missing
        .contains(&gotrace_analyzer::Missing::Stderr));
    assert_eq!(r.verdict.other_failures.len(), 1);
}

#[test]
fn goproxy_off_with_other_successful_traffic() {
    let mut b = Bundle::new(Some(1));
    b.ev(1.0, sock_ev(7, true));
    b.ev(1.1, connect_ev(7, sa(SERVER, 443), -115));
    b.ev(
        1.2,
        Op::SoError {
            fd: 7,
            ret: 0,
            so_error: 0,
            so_error_name: None,
            sock: None,
        },
    );
    b.stderr =
        Some("go: example.com/private@v1.0.0: module lookup disabled by GOPROXY=off\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(
        (r.verdict.layer, r.verdict.cause.as_str()),
        (Layer::BeforeSyscall, "proxy-disabled")
    );
}

#[test]
fn go_names_the_exact_exchange_by_its_local_port() {
    let mut b = Bundle::new(Some(1));
    // Go tried twice (A, then a retry); its error names the first's port.
    let (qp, ip, read) = refused_exchange(&mut b, 9, 39283, 2.0, 0x1111);
    refused_exchange(&mut b, 10, 41000, 3.0, 0x2222);
    b.stderr = Some(DNS_REFUSED_STDERR.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.cause, "dns-port-unreachable");
    assert_eq!(ids(&r, Source::Packet), vec![qp, ip]);
    assert!(ids(&r, Source::Event).contains(&read));
    assert_eq!(r.verdict.other_failures.len(), 1);
}

#[test]
fn go_wording_picks_the_attempt_it_reports() {
    // A refused dial, then a later dial to the same address that Go gave up
    // on: Go's "i/o timeout" is about the second, which proves no layer.
    let mut b = Bundle::new(Some(1));
    refused_dial(&mut b, false);
    b.ev(40.0, sock_ev(8, true));
    let c = b.ev(40.1, connect_ev(8, sa(SERVER, 8080), -115));
    b.stderr = Some(
        "go: example.com/m@v1.0.0: Get \"http://proxy.lab.test:8080/x\": dial tcp 198.18.0.2:8080: i/o timeout\n"
            .into(),
    );
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive, "{}", render_text(&r));
    assert_eq!(ids(&r, Source::Event), vec![c]);
    assert_eq!(r.verdict.other_failures.len(), 1);
}

#[test]
fn icmp_without_the_query_on_the_wire_is_not_the_server() {
    // A local REJECT: the query never left, the ICMP was made on this host.
    let (mut b, qp, _, _) = dns_refused_bundle();
    b.packets.remove(qp as usize - 1);
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive, "{}", render_text(&r));
    assert!(r.verdict.remediation.contains("firewall"));
}

#[test]
fn our_own_port_unreachable_for_a_late_answer_is_not_the_servers() {
    // Go gave up and closed the socket; the answer came late and this host
    // answered it with port unreachable. That ICMP quotes the server's
    // packet, not our query.
    let mut b = Bundle::new(Some(1));
    let q = dns_query(0x4242, "proxy.lab.test", TYPE::A);
    let a = dns_response(&q, 0);
    b.ev(1.0, sock_ev(9, false));
    b.ev(1.1, connect_ev(9, sa(SERVER, 53), 0));
    b.ev(1.2, write_ev(9, &q));
    b.pkt(
        1.25,
        udp(socket_addr(CLIENT, 40000), socket_addr(SERVER, 53), &q),
    );
    b.ev(900.0, Op::close(9));
    let late = udp(socket_addr(SERVER, 53), socket_addr(CLIENT, 40000), &a);
    b.pkt(900.5, late.clone());
    b.pkt(900.6, icmp_port_unreachable(CLIENT, SERVER, &late));
    b.stderr = Some("go: lookup proxy.lab.test on 198.18.0.2:53: read udp 198.18.0.1:40000->198.18.0.2:53: i/o timeout\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    // Go's deadline expired before the answer: a timeout, with the late answer cited.
    assert_eq!(
        (r.verdict.layer, r.verdict.cause.as_str()),
        (Layer::Network, "dns-timeout"),
        "{}",
        render_text(&r)
    );
    assert!(
        r.verdict.summary.contains("only after that (pkt 2)"),
        "{}",
        r.verdict.summary
    );
}

#[test]
fn unfinished_trace_before_go_spoke_says_so() {
    let mut b = Bundle::new(None);
    refused_dial(&mut b, false);
    b.stderr = Some("go: downloading example.com/m v1.0.0\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
    assert!(
        r.verdict.summary.contains("before Go reported"),
        "{}",
        r.verdict.summary
    );
    assert!(
        r.verdict.remediation.contains("finish"),
        "{}",
        r.verdict.remediation
    );
    assert_eq!(r.verdict.other_failures.len(), 1);
}

#[test]
fn connection_refused_over_ipv6() {
    let mut b = Bundle::new(Some(1));
    let sa6 = |ip: &str, port| gotrace_bundle::SockAddr {
        ip: ip.parse().unwrap(),
        port,
    };
    let (local, peer) = (sa6("2001:db8::1", 40122), sa6("2001:db8::2", 443));
    b.ev(
        1.0,
        Op::Socket {
            ret: 7,
            errno: None,
            domain: 10,
            sock_type: 1,
            protocol: 0,
            sock: None,
        },
    );
    b.ev(
        1.05,
        tcp_state("CLOSE", "SYN_SENT", sa6("2001:db8::1", 0), peer.clone()),
    );
    let c = b.ev(1.1, connect_ev(7, peer.clone(), -115));
    let syn = b.pkt(
        1.08,
        tcp(local.socket_addr(), peer.socket_addr(), true, false, false),
    );
    let rst = b.pkt(
        1.2,
        tcp(peer.socket_addr(), local.socket_addr(), false, true, true),
    );
    b.ev(
        1.3,
        tcp_state("SYN_SENT", "CLOSE", local.clone(), peer.clone()),
    );
    let s = b.ev(
        1.5,
        Op::SoError {
            fd: 7,
            ret: 0,
            so_error: 111,
            so_error_name: None,
            sock: None,
        },
    );
    b.stderr = Some("go: Get \"https://proxy.lab.test/x\": dial tcp [2001:db8::2]:443: connect: connection refused\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.cause, "connection-refused", "{}", render_text(&r));
    assert_eq!(ids(&r, Source::Event), vec![c, s]);
    assert_eq!(ids(&r, Source::Packet), vec![syn, rst]);
    let t = r.verdict.target.as_ref().unwrap();
    assert_eq!(
        (t.ip.as_deref(), t.name.as_deref()),
        (Some("2001:db8::2"), Some("proxy.lab.test"))
    );
    assert!(render_text(&r).contains("[2001:db8::2]:443"));
}

#[test]
fn rst_on_the_wire_with_so_error_etimedout_is_not_refused() {
    // SYN and RST on the wire, but SO_ERROR says ETIMEDOUT: the RST does
    // not explain what the kernel reported, so no confident verdict.
    let mut b = Bundle::new(Some(1));
    let (_, s, _, _) = refused_dial(&mut b, false);
    for e in &mut b.events {
        if e.id == s {
            e.op = Op::SoError {
                fd: 7,
                ret: 0,
                so_error: 110,
                so_error_name: Some("ETIMEDOUT".into()),
                sock: None,
            };
        }
    }
    b.stderr = Some(
        "go: example.com/m@v1.0.0: Get \"http://proxy.lab.test:8080/x\": dial tcp 198.18.0.2:8080: connect: connection timed out\n"
            .into(),
    );
    let r = analyze_bundle(&b.write()).unwrap();
    assert_ne!(
        (r.verdict.layer, r.verdict.cause.as_str()),
        (Layer::Network, "connection-refused"),
        "{}",
        render_text(&r)
    );
    assert_eq!(r.verdict.layer, Layer::Inconclusive, "{}", render_text(&r));
    assert_eq!(r.verdict.cause, "insufficient-evidence");
}

#[test]
fn go_wording_of_another_outcome_excludes_the_attempt() {
    // The only dial to the address was refused, but Go's line naming that
    // address says "i/o timeout": Go reports something not recorded, so
    // the refused dial must not be the verdict.
    let mut b = Bundle::new(Some(1));
    refused_dial(&mut b, false);
    b.stderr = Some(
        "go: example.com/m@v1.0.0: Get \"http://proxy.lab.test:8080/x\": dial tcp 198.18.0.2:8080: i/o timeout\n"
            .into(),
    );
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive, "{}", render_text(&r));
    assert_eq!(r.verdict.cause, "insufficient-evidence");
    assert_eq!(r.verdict.other_failures.len(), 1, "{}", render_text(&r));
    // The same wording about another address leaves the match alone.
    b.stderr = Some(format!(
        "{REFUSED_STDERR}go: also: dial tcp 198.18.0.9:443: i/o timeout\n"
    ));
    let r = analyze_bundle(&b.write()).unwrap();
    assert_eq!(r.verdict.cause, "connection-refused", "{}", render_text(&r));
}
