//! The rules that need the kernel's own records (skb drops, retransmits,
//! resets) or tell "this host" from "the network": one synthetic bundle per
//! rule, analysed through `analyze_bundle`.

mod common;

use common::*;
use gotrace_analyzer::correlate::Source;
use gotrace_analyzer::{analyze_bundle, render_text, Layer, Report};
use gotrace_bundle::{Op, ResolvConf, SockAddr};
use simple_dns::TYPE;

const SOCK: &str = "0xffff888001";
const TIMEOUT_STDERR: &str = "go: lab.test/greet@v1.0.0: Get \"http://198.18.0.2:8080/lab.test/greet/@v/v1.0.0.zip\": dial tcp 198.18.0.2:8080: i/o timeout\n";

fn verdict_of(b: &Bundle) -> Report {
    analyze_bundle(&b.write()).unwrap()
}

/// A dial to SERVER:8080 whose SYN the local OUTPUT chain drops; Go gives
/// up after 30 s. Returns (connect id, drop id).
fn locally_dropped_dial(b: &mut Bundle) -> (u64, u64) {
    let peer = sa(SERVER, 8080);
    b.ev(10.0, sock_ev(7, true));
    b.ev(
        10.05,
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), peer.clone()),
    );
    let drop = b.ev(10.07, skb_drop(12, "NETFILTER_DROP"));
    let c = b.ev(10.1, connect_ev(7, peer.clone(), -115));
    b.ev(1010.0, retransmit(-1));
    b.ev(3010.0, retransmit(-1));
    b.ev(30_010.0, Op::close(7));
    b.ev(
        30_010.1,
        tcp_state("SYN_SENT", "CLOSE", sa(CLIENT, 40122), peer),
    );
    b.stderr = Some(TIMEOUT_STDERR.into());
    (c, drop)
}

#[test]
fn local_drop_is_the_kernel_and_go_gave_up_first() {
    let mut b = Bundle::new(Some(1));
    b.meta.firewall = Some(gotrace_bundle::Firewall {
        command: "nft list ruleset".into(),
        ruleset: "table inet t {\n\tchain output {\n\t\tip daddr 198.18.0.2 tcp dport 8080 drop\n\t}\n}\n".into(),
    });
    let (c, drop) = locally_dropped_dial(&mut b);
    let r = verdict_of(&b);
    assert_cause(&r, Layer::Kernel, "local-firewall-drop");
    let s = &r.verdict.summary;
    assert!(
        s.contains("NETFILTER_DROP") && s.contains("2 retransmits"),
        "{s}"
    );
    assert!(
        s.contains("Go gave up first") && s.contains("30.0 s"),
        "{s}"
    );
    assert!(cites(&r, Source::Event, c) && cites(&r, Source::Event, drop));
    assert!(
        r.verdict
            .remediation
            .contains("ip daddr 198.18.0.2 tcp dport 8080 drop"),
        "{}",
        r.verdict.remediation
    );
}

#[test]
fn local_drop_without_capture_is_still_the_kernel_and_says_what_is_missing() {
    let mut b = Bundle::new(Some(1));
    locally_dropped_dial(&mut b);
    b.capture = false;
    let r = verdict_of(&b);
    assert_cause(&r, Layer::Kernel, "local-firewall-drop");
    assert!(r
        .verdict
        .missing
        .contains(&gotrace_analyzer::Missing::Capture));
}

#[test]
fn a_syn_on_the_wire_contradicts_a_local_drop() {
    let mut b = Bundle::new(Some(1));
    locally_dropped_dial(&mut b);
    b.pkt(
        10.08,
        tcp(
            socket_addr(CLIENT, 40122),
            socket_addr(SERVER, 8080),
            true,
            false,
            false,
        ),
    );
    let r = verdict_of(&b);
    assert_eq!(r.verdict.layer, Layer::Inconclusive, "{}", render_text(&r));
}

#[test]
fn local_reject_with_rst_is_not_the_servers_refusal() {
    let mut b = Bundle::new(Some(1));
    let peer = sa(SERVER, 8080);
    let local = sa(CLIENT, 40122);
    b.ev(10.0, sock_ev(7, true));
    b.ev(
        10.05,
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), peer.clone()),
    );
    let drop = b.ev(10.07, skb_drop(12, "NETFILTER_DROP"));
    // The REJECT rule's RST, delivered over lo: on the capture, no SYN.
    let rst = b.pkt(
        10.08,
        tcp(peer.socket_addr(), local.socket_addr(), false, true, true),
    );
    b.ev(
        10.09,
        Op::TcpReceiveReset {
            sock: SOCK.into(),
            local: local.clone(),
            peer: peer.clone(),
        },
    );
    b.ev(10.1, connect_ev(7, peer.clone(), -115));
    b.ev(
        10.2,
        Op::SoError {
            fd: 7,
            ret: 0,
            so_error: 111,
            so_error_name: Some("ECONNREFUSED".into()),
            sock: None,
        },
    );
    b.ev(10.3, Op::close(7));
    b.stderr = Some(REFUSED_STDERR.into());
    let r = verdict_of(&b);
    assert_cause(&r, Layer::Kernel, "local-firewall-reject");
    assert!(
        r.verdict.summary.contains("an RST"),
        "{}",
        r.verdict.summary
    );
    assert!(cites(&r, Source::Event, drop), "{:?}", r.verdict.evidence);
    assert!(cites(&r, Source::Packet, rst), "{:?}", r.verdict.evidence);
}

#[test]
fn refused_by_a_local_proxy_port_names_the_variable() {
    let mut b = Bundle::new(Some(1));
    b.meta
        .env
        .insert("HTTP_PROXY".into(), "http://127.0.0.1:3128".into());
    let lo = |port| SockAddr {
        ip: "127.0.0.1".parse().unwrap(),
        port,
    };
    b.ev(10.0, sock_ev(7, true));
    b.ev(10.05, tcp_state("CLOSE", "SYN_SENT", lo(0), lo(3128)));
    b.ev(10.1, connect_ev(7, lo(3128), -115));
    b.pkt(
        10.08,
        tcp(
            lo(50000).socket_addr(),
            lo(3128).socket_addr(),
            true,
            false,
            false,
        ),
    );
    b.pkt(
        10.09,
        tcp(
            lo(3128).socket_addr(),
            lo(50000).socket_addr(),
            false,
            true,
            true,
        ),
    );
    b.ev(10.1, tcp_state("SYN_SENT", "CLOSE", lo(50000), lo(3128)));
    b.ev(
        10.2,
        Op::SoError {
            fd: 7,
            ret: 0,
            so_error: 111,
            so_error_name: Some("ECONNREFUSED".into()),
            sock: None,
        },
    );
    b.stderr = Some("go: lab.test/greet@v1.0.0: Get \"http://198.18.0.2:8080/lab.test/greet/@v/v1.0.0.zip\": proxyconnect tcp: dial tcp 127.0.0.1:3128: connect: connection refused\n".into());
    let r = verdict_of(&b);
    assert_cause(&r, Layer::Kernel, "local-refused");
    assert!(r
        .verdict
        .summary
        .contains("HTTP_PROXY=http://127.0.0.1:3128"));
    assert!(r.verdict.remediation.contains("HTTP_PROXY"));
}

/// A DNS exchange with `server` refused by ICMP port unreachable.
fn refused_lookup(b: &mut Bundle, server: SockAddr, local: SockAddr, ms: f64) {
    let q = dns_query(0x77, "proxy.lab.test", TYPE::A);
    b.ev(ms, sock_ev(9, false));
    b.ev(ms + 0.1, connect_ev(9, server.clone(), 0));
    b.ev(ms + 0.2, write_ev(9, &q));
    let ip = |a: &SockAddr| match a.ip {
        std::net::IpAddr::V4(v) => v.octets(),
        _ => panic!("v4"),
    };
    let query = udp(local.socket_addr(), server.socket_addr(), &q);
    b.pkt(ms + 0.25, query.clone());
    b.pkt(
        ms + 0.3,
        icmp_port_unreachable(ip(&server), ip(&local), &query),
    );
    b.ev(ms + 0.4, read_err(9, 111, "ECONNREFUSED"));
    b.ev(ms + 0.5, Op::close(9));
}

#[test]
fn missing_resolv_conf_is_no_resolver_and_names_the_file() {
    let mut b = Bundle::new(Some(1));
    b.meta.resolv_conf = Some(ResolvConf {
        path: "/etc/resolv.conf".into(),
        present: false,
        error: Some("No such file or directory".into()),
        nameservers: vec![],
    });
    let lo = |port| SockAddr {
        ip: "127.0.0.1".parse().unwrap(),
        port,
    };
    refused_lookup(&mut b, lo(53), lo(40000), 2.0);
    b.stderr = Some("go: lab.test/greet@v1.0.0: Get \"http://proxy.lab.test:8080/lab.test/greet/@v/v1.0.0.zip\": dial tcp: lookup proxy.lab.test on 127.0.0.1:53: read udp 127.0.0.1:40000->127.0.0.1:53: read: connection refused\n".into());
    let r = verdict_of(&b);
    assert_cause(&r, Layer::Kernel, "no-resolver");
    let s = &r.verdict.summary;
    assert!(
        s.contains("/etc/resolv.conf is missing") && s.contains("127.0.0.1:53"),
        "{s}"
    );
    assert!(r.verdict.remediation.contains("nameserver"));
}

#[test]
fn unanswered_syns_until_go_gives_up_are_a_network_timeout() {
    let mut b = Bundle::new(Some(1));
    let peer = sa(SERVER, 8080);
    let local = sa(CLIENT, 40122);
    b.ev(10.0, sock_ev(7, true));
    b.ev(
        10.05,
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), peer.clone()),
    );
    b.ev(10.1, connect_ev(7, peer.clone(), -115));
    let syn = tcp(local.socket_addr(), peer.socket_addr(), true, false, false);
    let first = b.pkt(10.08, syn.clone());
    for (i, ms) in [1010.0, 3010.0, 7010.0].into_iter().enumerate() {
        b.pkt(ms, syn.clone());
        b.ev(ms, retransmit(0));
        assert!(i < 3);
    }
    b.ev(30_010.0, Op::close(7));
    b.stderr = Some(TIMEOUT_STDERR.into());
    let r = verdict_of(&b);
    assert_cause(&r, Layer::Network, "connect-timeout");
    let s = &r.verdict.summary;
    assert!(
        s.contains("4 SYNs") && s.contains("Go gave up first"),
        "{s}"
    );
    assert!(cites(&r, Source::Packet, first));
}

#[test]
fn servfail_is_a_server_failure() {
    let mut b = Bundle::new(Some(1));
    let q = dns_query(0x55, "proxy.lab.test", TYPE::A);
    let a = dns_response(&q, 2);
    b.ev(1.0, sock_ev(9, false));
    b.ev(1.1, connect_ev(9, sa(SERVER, 53), 0));
    b.ev(1.2, write_ev(9, &q));
    b.pkt(
        1.3,
        udp(socket_addr(CLIENT, 40000), socket_addr(SERVER, 53), &q),
    );
    let ap = b.pkt(
        1.4,
        udp(socket_addr(SERVER, 53), socket_addr(CLIENT, 40000), &a),
    );
    b.ev(1.5, read_ev(9, &a));
    b.ev(1.6, Op::close(9));
    b.stderr = Some("go: lab.test/greet@v1.0.0: Get \"http://proxy.lab.test:8080/x\": dial tcp: lookup proxy.lab.test on 198.18.0.2:53: server misbehaving\n".into());
    let r = verdict_of(&b);
    assert_cause(&r, Layer::Network, "dns-server-failure");
    assert!(
        r.verdict.summary.contains("SERVFAIL"),
        "{}",
        r.verdict.summary
    );
    assert!(cites(&r, Source::Packet, ap));
}

#[test]
fn a_silent_name_server_is_a_dns_timeout() {
    let mut b = Bundle::new(Some(1));
    let q = dns_query(0x66, "proxy.lab.test", TYPE::A);
    b.ev(1.0, sock_ev(9, false));
    b.ev(1.1, connect_ev(9, sa(SERVER, 53), 0));
    b.ev(1.2, write_ev(9, &q));
    let qp = b.pkt(
        1.3,
        udp(socket_addr(CLIENT, 40000), socket_addr(SERVER, 53), &q),
    );
    b.ev(5001.2, Op::close(9));
    b.stderr = Some("go: lab.test/greet@v1.0.0: Get \"http://proxy.lab.test:8080/x\": dial tcp: lookup proxy.lab.test on 198.18.0.2:53: read udp 198.18.0.1:40000->198.18.0.2:53: i/o timeout\n".into());
    let r = verdict_of(&b);
    assert_cause(&r, Layer::Network, "dns-timeout");
    assert!(r.verdict.summary.contains("5.0 s"), "{}", r.verdict.summary);
    assert!(cites(&r, Source::Packet, qp));
}

#[test]
fn a_reset_after_the_handshake_is_a_connection_reset() {
    let mut b = Bundle::new(Some(1));
    let peer = sa(SERVER, 8080);
    let local = sa(CLIENT, 40122);
    b.ev(10.0, sock_ev(7, true));
    b.ev(
        10.05,
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), peer.clone()),
    );
    b.ev(10.1, connect_ev(7, peer.clone(), -115));
    b.ev(
        10.2,
        tcp_state("SYN_SENT", "ESTABLISHED", local.clone(), peer.clone()),
    );
    b.ev(
        10.3,
        Op::SoError {
            fd: 7,
            ret: 0,
            so_error: 0,
            so_error_name: None,
            sock: None,
        },
    );
    let rst = b.pkt(
        20.0,
        tcp(peer.socket_addr(), local.socket_addr(), false, true, true),
    );
    let read = b.ev(20.1, read_err(7, 104, "ECONNRESET"));
    b.stderr = Some("go: lab.test/greet@v1.0.0: Get \"http://198.18.0.2:8080/lab.test/greet/@v/v1.0.0.zip\": read tcp 198.18.0.1:40122->198.18.0.2:8080: read: connection reset by peer\n".into());
    let r = verdict_of(&b);
    assert_cause(&r, Layer::Network, "connection-reset");
    assert!(cites(&r, Source::Packet, rst) && cites(&r, Source::Event, read));
}

fn no_network(stderr: &str) -> Report {
    let mut b = Bundle::new(Some(1));
    b.ev(
        1.0,
        Op::Exec {
            filename: "/usr/bin/go".into(),
        },
    );
    b.stderr = Some(stderr.into());
    verdict_of(&b)
}

#[test]
fn go_words_name_the_before_syscall_cause() {
    let r = no_network("go: lab.test/greet.git@v1.0.0: git ls-remote -q origin in /tmp/x: exec: \"git\": executable file not found in $PATH\n");
    assert_cause(&r, Layer::BeforeSyscall, "vcs-unavailable");
    assert!(r.verdict.summary.contains("`git`"));
    let r = no_network("go: lab.test/greet@v1.0.0: refusing to pass credentials to insecure URL: http://user:xxxxx@198.18.0.2:8080/lab.test/greet/@v/v1.0.0.info\n");
    assert_cause(&r, Layer::BeforeSyscall, "insecure-url-refused");
    assert!(
        r.verdict
            .summary
            .contains("http://user:xxxxx@198.18.0.2:8080"),
        "{}",
        r.verdict.summary
    );
    assert!(
        r.verdict.remediation.contains("https://") && r.verdict.remediation.contains("GOINSECURE")
    );
    let r = no_network("go: lab.test/greet@v1.0.0: invalid proxy URL missing scheme: bad\n");
    assert_cause(&r, Layer::BeforeSyscall, "bad-proxy-config");
    assert!(r
        .verdict
        .summary
        .contains("invalid proxy URL missing scheme"));
    let r = no_network("go: inconsistent vendoring in /tmp/m\n");
    assert_cause(&r, Layer::BeforeSyscall, "no-network-attempt");
}
