//! Issue 13 items 3 and 4 on synthetic bundles: connect() refused at once
//! by the local kernel (the errno table's local causes), with and without
//! contrary evidence on the wire; and runs cut short by Ctrl-C or a
//! detach while a stage was pending, judged by that stage's evidence.

mod common;

use common::*;
use gotrace_analyzer::correlate::Source;
use gotrace_analyzer::{analyze_bundle, Layer, Report};
use gotrace_bundle::{ExitStatus, Op};
use simple_dns::TYPE;

/// The lab's Go progress line: all Go prints before Ctrl-C kills it.
const PROGRESS: &str = "go: downloading lab.test/greet v1.0.0\n";

fn analyze(b: &Bundle) -> Report {
    analyze_bundle(&b.write()).unwrap()
}

/// A Go dial to `peer` whose connect() returns `-errno` itself, and Go's
/// error line with `go_text`.
fn refused_at_once(peer: [u8; 4], errno: i64, go_text: &str) -> (Bundle, u64) {
    let mut b = Bundle::new(Some(1));
    let ip = std::net::Ipv4Addr::from(peer);
    b.ev(10.0, sock_ev(8, true));
    let c = b.ev(10.1, connect_ev(8, sa(peer, 8080), -errno));
    b.ev(10.2, Op::close(8));
    b.stderr = Some(format!(
        "go: lab.test/greet@v1.0.0: Get \"http://{ip}:8080/lab.test/greet/@v/v1.0.0.zip\": dial tcp {ip}:8080: connect: {go_text}\n"
    ));
    (b, c)
}

#[test]
fn connect_errnos_of_the_local_kernel_have_their_cause() {
    const PEER: [u8; 4] = [198, 19, 255, 2];
    for (errno, go_text, cause) in [
        (22, "invalid argument", "local-route-blackhole"),
        (13, "permission denied", "local-route-prohibit"),
        (113, "no route to host", "local-route-unreachable"),
        (
            99,
            "cannot assign requested address",
            "local-address-unavailable",
        ),
        (1, "operation not permitted", "local-policy-denied"),
        (101, "network is unreachable", "no-route"),
    ] {
        let (b, c) = refused_at_once(PEER, errno, go_text);
        let r = analyze(&b);
        assert_cause(&r, Layer::Kernel, cause);
        assert!(!r.verdict.pending && !r.to_json().contains("pending"));
        assert!(cites(&r, Source::Event, c), "{cause}");
        assert!(
            r.verdict.missing.is_empty(),
            "{cause}: {:?}",
            r.verdict.missing
        );
        let s = &r.verdict.summary;
        assert!(
            s.contains("failed at once") && s.contains(&format!("(Go: connect: {go_text})")),
            "{s}"
        );
        assert!(!r.verdict.remediation.is_empty());
    }
}

/// The wire contradicts "nothing left": a packet to the peer right then.
#[test]
fn a_packet_to_the_peer_makes_a_local_errno_inconclusive() {
    const PEER: [u8; 4] = [198, 19, 255, 3];
    let (mut b, _) = refused_at_once(PEER, 13, "permission denied");
    b.pkt(
        10.15,
        tcp(
            socket_addr(CLIENT, 40200),
            socket_addr(PEER, 8080),
            true,
            false,
            false,
        ),
    );
    let r = analyze(&b);
    assert_cause(&r, Layer::Inconclusive, "insufficient-evidence");
}

/// EHOSTUNREACH with the router's ICMP on the wire is the network's, not
/// an `unreachable` route.
#[test]
fn ehostunreach_with_a_router_icmp_is_the_network() {
    let mut b = Bundle::new(Some(1));
    let (local, peer) = (socket_addr(CLIENT, 40300), socket_addr(SERVER, 8080));
    b.ev(10.0, sock_ev(8, true));
    b.ev(
        10.05,
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), sa(SERVER, 8080)),
    );
    let syn = tcp(local, peer, true, false, false);
    b.pkt(10.1, syn.clone());
    b.ev(10.2, connect_ev(8, sa(SERVER, 8080), -115));
    b.pkt(10.5, icmp_host_unreachable(SERVER, CLIENT, &syn));
    b.ev(10.6, so_error_ev(8, 113, Some("EHOSTUNREACH")));
    b.stderr = Some("go: Get \"http://198.18.0.2:8080/x\": dial tcp 198.18.0.2:8080: connect: no route to host\n".into());
    let r = analyze(&b);
    assert_cause(&r, Layer::Network, "icmp-unreachable");
}

/// ICMP type 3 code 1 (host unreachable, RFC 792) from `from` quoting `frame`.
fn icmp_host_unreachable(from: [u8; 4], to: [u8; 4], frame: &[u8]) -> Vec<u8> {
    let mut f = icmp_port_unreachable(from, to, frame);
    // Ethernet 14 + IPv4 20: the ICMP header. Code 3 -> 1, checksum += 2.
    f[35] = 1;
    let sum = u16::from_be_bytes([f[36], f[37]]).wrapping_add(2);
    f[36..38].copy_from_slice(&sum.to_be_bytes());
    f
}

/// Ctrl-C 5 s into a dial whose SYNs this host's OUTPUT chain drops: the
/// kernel's drop records decide, not Go's (absent) error.
#[test]
fn ctrl_c_on_a_locally_dropped_dial_is_the_local_firewall() {
    let mut b = Bundle::new(None);
    b.meta.exit = Some(ExitStatus::Signal(2));
    b.meta.end_monotonic_ns = Some(mono(5100.0));
    let peer = sa(SERVER, 8080);
    b.ev(10.0, sock_ev(8, true));
    b.ev(
        10.05,
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), peer.clone()),
    );
    let drop = b.ev(10.07, skb_drop(12, "NETFILTER_DROP"));
    let c = b.ev(10.1, connect_ev(8, peer.clone(), -115));
    for ms in [1010.0, 2030.0, 3050.0, 4070.0] {
        b.ev(ms, retransmit(-1));
    }
    b.ev(5000.0, exit_ev(ExitStatus::Signal(2)));
    b.stderr = Some(PROGRESS.into());
    let r = analyze(&b);
    assert_cause(&r, Layer::Kernel, "local-firewall-drop");
    assert!(r.verdict.pending);
    assert!(cites(&r, Source::Event, c) && cites(&r, Source::Event, drop));
    let s = &r.verdict.summary;
    assert!(
        s.contains("killed by signal 2) while the dial was pending (5 SYNs in 5.1 s)")
            && s.contains("Go's dial deadline would have fired at 30 s"),
        "{s}"
    );
    assert!(r.verdict.other_failures.is_empty());
}

/// Ctrl-C while SYNs leave and nobody answers: the path or the peer.
#[test]
fn ctrl_c_on_an_unanswered_dial_is_a_pending_connect_timeout() {
    let mut b = Bundle::new(None);
    b.meta.exit = Some(ExitStatus::Signal(2));
    b.meta.end_monotonic_ns = Some(mono(5100.0));
    let (local, peer) = (sa(CLIENT, 40400), sa(SERVER, 8080));
    b.ev(10.0, sock_ev(8, true));
    b.ev(
        10.05,
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), peer.clone()),
    );
    let syn = b.pkt(
        10.1,
        tcp(local.socket_addr(), peer.socket_addr(), true, false, false),
    );
    b.ev(10.2, connect_ev(8, peer.clone(), -115));
    for ms in [1010.0, 3010.0] {
        b.pkt(
            ms,
            tcp(local.socket_addr(), peer.socket_addr(), true, false, false),
        );
        b.ev(ms + 0.01, syn_retransmit(local.clone(), peer.clone()));
    }
    b.stderr = Some(PROGRESS.into());
    let r = analyze(&b);
    assert_cause(&r, Layer::Network, "connect-timeout");
    assert!(r.verdict.pending && r.to_json().contains("\"pending\": true"));
    assert!(cites(&r, Source::Packet, syn));
    assert!(
        r.verdict.summary.contains("while the dial was pending"),
        "{}",
        r.verdict.summary
    );
}

/// Ctrl-C while a DNS query waits for an answer that never comes.
#[test]
fn ctrl_c_on_a_silent_dns_server_is_a_pending_dns_timeout() {
    let mut b = Bundle::new(None);
    b.meta.exit = Some(ExitStatus::Signal(2));
    b.meta.end_monotonic_ns = Some(mono(3100.0));
    let q = dns_query(0x1234, "proxy.lab.test", TYPE::A);
    b.ev(10.0, sock_ev(9, false));
    b.ev(10.1, connect_ev(9, sa(SERVER, 53), 0));
    let w = b.ev(10.2, write_ev(9, &q));
    let p = b.pkt(
        10.25,
        udp(socket_addr(CLIENT, 40000), socket_addr(SERVER, 53), &q),
    );
    b.stderr = Some(PROGRESS.into());
    let r = analyze(&b);
    assert_cause(&r, Layer::Network, "dns-timeout");
    assert!(r.verdict.pending);
    assert!(cites(&r, Source::Event, w) && cites(&r, Source::Packet, p));
    assert!(
        r.verdict
            .summary
            .contains("while Go was still waiting (3.1 s"),
        "{}",
        r.verdict.summary
    );
}

/// A stage pending for a few milliseconds proves nothing: the run was
/// cut short before its silence meant anything.
#[test]
fn a_stage_pending_briefly_at_ctrl_c_stays_inconclusive() {
    let mut b = Bundle::new(None);
    b.meta.exit = Some(ExitStatus::Signal(2));
    b.meta.end_monotonic_ns = Some(mono(60.0));
    let (local, peer) = (sa(CLIENT, 40500), sa(SERVER, 8080));
    b.ev(10.0, sock_ev(8, true));
    b.pkt(
        10.1,
        tcp(local.socket_addr(), peer.socket_addr(), true, false, false),
    );
    b.ev(10.2, connect_ev(8, peer, -115));
    b.stderr = Some(PROGRESS.into());
    let r = analyze(&b);
    assert_cause(&r, Layer::Inconclusive, "insufficient-evidence");
}

/// A stage still pending at a clean exit was abandoned: not a failure.
#[test]
fn a_stage_pending_at_a_successful_exit_is_not_listed() {
    let mut b = Bundle::new(Some(0));
    let q = dns_query(0x4321, "proxy.lab.test", TYPE::AAAA);
    b.ev(10.0, sock_ev(9, false));
    b.ev(10.1, connect_ev(9, sa(SERVER, 53), 0));
    b.ev(10.2, write_ev(9, &q));
    b.pkt(
        10.25,
        udp(socket_addr(CLIENT, 40001), socket_addr(SERVER, 53), &q),
    );
    let r = analyze(&b);
    assert_cause(&r, Layer::None, "none");
    assert!(
        r.verdict.other_failures.is_empty(),
        "{:?}",
        r.verdict.other_failures
    );
}

/// EHOSTUNREACH from SO_ERROR with no SYN and no ICMP on the wire: the
/// neighbour never answered, or something else; `missing` names the
/// evidence that would tell, not a rule.
#[test]
fn an_undecided_errno_names_the_evidence_it_lacks() {
    let mut b = Bundle::new(Some(1));
    b.ev(10.0, sock_ev(8, true));
    b.ev(10.2, connect_ev(8, sa(SERVER, 8080), -115));
    b.ev(3010.0, so_error_ev(8, 113, Some("EHOSTUNREACH")));
    b.stderr = Some("go: Get \"http://198.18.0.2:8080/x\": dial tcp 198.18.0.2:8080: connect: no route to host\n".into());
    let r = analyze(&b);
    assert_cause(&r, Layer::Inconclusive, "insufficient-evidence");
    let missing: Vec<String> = r.verdict.missing.iter().map(|m| m.to_string()).collect();
    assert!(
        missing
            .iter()
            .any(|m| m.starts_with("what places EHOSTUNREACH:")
                && m.contains("neighbour solicitations")),
        "{missing:?}"
    );
    assert!(
        missing.iter().all(|m| !m.contains("a rule for")),
        "{missing:?}"
    );
}

/// SIGTERM (a `kill`, a CI timeout) ends a run like Ctrl-C: the pending
/// stage is the answer.
#[test]
fn sigterm_on_a_pending_dial_is_judged_like_ctrl_c() {
    let mut b = Bundle::new(None);
    b.meta.exit = Some(ExitStatus::Signal(15));
    b.meta.end_monotonic_ns = Some(mono(2100.0));
    let peer = sa(SERVER, 8080);
    b.ev(10.0, sock_ev(8, true));
    b.ev(
        10.05,
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), peer.clone()),
    );
    b.ev(10.07, skb_drop(12, "NETFILTER_DROP"));
    b.ev(10.1, connect_ev(8, peer, -115));
    b.ev(1010.0, retransmit(-1));
    b.stderr = Some(PROGRESS.into());
    let r = analyze(&b);
    assert_cause(&r, Layer::Kernel, "local-firewall-drop");
    assert!(r.verdict.pending);
    assert!(
        r.verdict
            .summary
            .contains("killed by signal 15) while the dial was pending (2 SYNs in 2.1 s)"),
        "{}",
        r.verdict.summary
    );
}

/// EHOSTUNREACH after the SYN waited for an ARP answer that never came:
/// the kernel's NEIGH_FAILED drop of our SYN and its own ICMP host
/// unreachable on `lo`, no SYN on the wire: the host is not on the link.
#[test]
fn ehostunreach_after_neighbour_failure_is_the_network() {
    const ABSENT: [u8; 4] = [198, 18, 0, 77];
    let mut b = Bundle::new(Some(1));
    let (local, peer) = (sa(CLIENT, 40600), sa(ABSENT, 8080));
    b.ev(10.0, sock_ev(8, true));
    b.ev(
        10.05,
        tcp_state("CLOSE", "SYN_SENT", sa(CLIENT, 0), peer.clone()),
    );
    let c = b.ev(10.1, connect_ev(8, peer.clone(), -115));
    // The SYN waits in the neighbour queue: its retransmits fail with
    // EBUSY (measured), and name our port.
    b.ev(
        1010.0,
        Op::TcpRetransmit {
            sock: "0xffff888001".into(),
            state: gotrace_bundle::TcpState::SynSent,
            local: local.clone(),
            peer: peer.clone(),
            err: -16,
            err_name: Some("EBUSY".into()),
        },
    );
    let syn = tcp(local.socket_addr(), peer.socket_addr(), true, false, false);
    let icmp = b.pkt(3010.0, icmp_host_unreachable(CLIENT, CLIENT, &syn));
    let drop = b.ev(3010.01, skb_drop(2, "NEIGH_FAILED"));
    let so = b.ev(3010.1, so_error_ev(8, 113, Some("EHOSTUNREACH")));
    b.stderr = Some("go: Get \"http://198.18.0.77:8080/x\": dial tcp 198.18.0.77:8080: connect: no route to host\n".into());
    let r = analyze(&b);
    assert_cause(&r, Layer::Network, "neighbour-unreachable");
    for (src, id) in [
        (Source::Event, c),
        (Source::Event, drop),
        (Source::Event, so),
        (Source::Packet, icmp),
    ] {
        assert!(cites(&r, src, id), "{src:?} {id}");
    }
}

/// The resolver behind a blackhole route: the DNS socket's connect()
/// fails with EINVAL before any query, and the advice is about
/// resolv.conf, not GOPROXY.
#[test]
fn a_dns_server_behind_a_local_route_is_the_kernel() {
    const RESOLVER: [u8; 4] = [198, 19, 255, 2];
    let mut b = Bundle::new(Some(1));
    b.ev(10.0, sock_ev(9, false));
    let c = b.ev(10.1, connect_ev(9, sa(RESOLVER, 53), -22));
    b.ev(10.2, Op::close(9));
    b.stderr = Some("go: dial tcp: lookup proxy.lab.test on 198.19.255.2:53: dial udp 198.19.255.2:53: connect: invalid argument\n".into());
    let r = analyze(&b);
    assert_cause(&r, Layer::Kernel, "local-route-blackhole");
    assert!(cites(&r, Source::Event, c));
    assert!(
        r.verdict.remediation.contains("/etc/resolv.conf"),
        "{}",
        r.verdict.remediation
    );
}

/// A failed route lookup of the connect's thread to `peer` (table 254).
fn route_lookup(peer: [u8; 4], err: i32) -> Op {
    route_lookup_in(254, peer, err)
}

fn route_lookup_in(table: u32, peer: [u8; 4], err: i32) -> Op {
    Op::RouteLookup {
        table,
        err,
        err_name: None,
        rt_type: None,
        src: sa([0, 0, 0, 0], 0),
        dst: sa(peer, 8080),
    }
}

/// The kernel's route lookup names the route: cited before the connect,
/// and its route type decides when the errno has several causes.
#[test]
fn a_failed_route_lookup_names_the_route_and_is_cited() {
    const PEER: [u8; 4] = [198, 19, 255, 3];
    let (mut b, c) = refused_at_once(PEER, 13, "permission denied");
    let l = b.ev(10.05, route_lookup(PEER, -13));
    b.meta.kernel_events = Some(vec!["fib/fib_table_lookup".into()]);
    let r = analyze(&b);
    assert_cause(&r, Layer::Kernel, "local-route-prohibit");
    assert!(cites(&r, Source::Event, l) && cites(&r, Source::Event, c));
    let s = &r.verdict.summary;
    assert!(
        s.contains("route lookup for 198.19.255.3 in table 254 (main) failed with EACCES (a prohibit route)"),
        "{s}"
    );
}

/// EACCES with route lookups recorded and none failing: no route refused
/// it, a policy did; without the record the errno table's route stands.
#[test]
fn eacces_with_no_failed_lookup_is_a_policy() {
    const PEER: [u8; 4] = [198, 19, 255, 3];
    let (mut b, _) = refused_at_once(PEER, 13, "permission denied");
    assert_cause(&analyze(&b), Layer::Kernel, "local-route-prohibit");
    b.meta.kernel_events = Some(vec!["fib/fib_table_lookup".into()]);
    let r = analyze(&b);
    assert_cause(&r, Layer::Kernel, "local-policy-denied");
    assert!(
        r.verdict.summary.contains("no route refused"),
        "{}",
        r.verdict.summary
    );
    // An IPv6 lookup record says nothing about an IPv4 peer.
    b.meta.kernel_events = Some(vec!["fib6/fib6_table_lookup".into()]);
    assert_cause(&analyze(&b), Layer::Kernel, "local-route-prohibit");
}

/// A lookup by another thread, or to another address, is not this connect's.
#[test]
fn only_the_dialing_thread_s_lookup_to_the_peer_counts() {
    const PEER: [u8; 4] = [198, 19, 255, 2];
    let (mut b, _) = refused_at_once(PEER, 22, "invalid argument");
    b.ev(10.05, route_lookup([198, 19, 255, 9], -13));
    let other = b.ev(10.06, route_lookup(PEER, -13));
    b.events.last_mut().unwrap().tid += 1;
    let r = analyze(&b);
    assert_cause(&r, Layer::Kernel, "local-route-blackhole");
    assert!(!cites(&r, Source::Event, other));
}

/// ENETUNREACH after lookups that found nothing in any table: no-route,
/// naming the tables looked in.
#[test]
fn enetunreach_names_the_tables_without_a_route() {
    const PEER: [u8; 4] = [198, 19, 255, 7];
    let (mut b, _) = refused_at_once(PEER, 101, "network is unreachable");
    b.ev(10.04, route_lookup_in(255, PEER, -11));
    let main = b.ev(10.05, route_lookup(PEER, -11));
    let r = analyze(&b);
    assert_cause(&r, Layer::Kernel, "no-route");
    assert!(cites(&r, Source::Event, main));
    assert!(
        r.verdict
            .summary
            .contains("looked in table 255 (local), table 254 (main) and found none"),
        "{}",
        r.verdict.summary
    );
}

/// EADDRNOTAVAIL's two cases, told apart by meta.json's local_network.
#[test]
fn eaddrnotavail_with_a_source_address_is_port_exhaustion() {
    use gotrace_bundle::{LocalAddress, LocalNetwork};
    const PEER: [u8; 4] = [198, 18, 0, 2];
    let (mut b, _) = refused_at_once(PEER, 99, "cannot assign requested address");
    let addr = |interface: &str, ip: &str| LocalAddress {
        interface: interface.into(),
        ip: ip.parse().unwrap(),
        prefix_len: 24,
    };
    b.meta.local_network = Some(LocalNetwork {
        addresses: vec![addr("lo", "127.0.0.1"), addr("veth0", "198.18.0.1")],
        ip_local_port_range: Some([40000, 40009]),
    });
    let r = analyze(&b);
    assert_cause(&r, Layer::Kernel, "local-ports-exhausted");
    assert!(
        r.verdict.summary.contains("40000-40009, 10 ports"),
        "{}",
        r.verdict.summary
    );
    assert!(
        r.verdict.remediation.contains("ip_local_port_range"),
        "{}",
        r.verdict.remediation
    );
    b.meta.local_network.as_mut().unwrap().addresses.pop();
    assert_cause(&analyze(&b), Layer::Kernel, "local-address-unavailable");
}
