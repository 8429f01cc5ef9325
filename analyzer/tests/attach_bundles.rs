//! Synthetic `gotrace attach` bundles: sockets open before the attach
//! (meta.json `attach.pre_existing`) continued by the later syscalls, kernel
//! events and packets; processes that exited, were still running when
//! gotrace detached, or outlived a killed gotrace.

mod common;

use std::io::Write;

use common::*;
use gotrace_analyzer::correlate::Source;
use gotrace_analyzer::Missing;
use gotrace_analyzer::{analyze_bundle, render_text, Layer, Report};
use gotrace_bundle::{ExitStatus, Op};
use simple_dns::TYPE;

const LOCAL_PORT: u16 = 40000;

const REFUSED: &str = "go: downloading example.com/m v1.0.0\ngo: example.com/m@v1.0.0: Get \"http://198.18.0.2:8080/example.com/m/@v/v1.0.0.info\": dial tcp 198.18.0.2:8080: connect: connection refused\n";

const KILLED: &str = "the trace was not finished (gotrace was killed?)";

fn ids(r: &Report, source: Source) -> Vec<u64> {
    r.verdict
        .evidence
        .iter()
        .filter(|e| e.source == source)
        .map(|e| e.id)
        .collect()
}

/// What [`refused_pre_existing`] recorded.
struct Refused {
    so_error: u64,
    syn: u64,
    rst: u64,
}

/// fd 7 was dialing SERVER:8080 from CLIENT:40000 (SYN_SENT) when gotrace
/// attached; a retransmitted SYN got an RST, Go read ECONNREFUSED with
/// getsockopt, closed fd 7 and exited 1. Only those three syscalls are in
/// the events (no socket(), no connect()).
fn refused_pre_existing(b: &mut Bundle) -> Refused {
    let (local, peer) = (sa(CLIENT, LOCAL_PORT), sa(SERVER, 8080));
    b.pre_existing(pre_sock(
        7,
        "tcp",
        local.clone(),
        Some(peer.clone()),
        "SYN_SENT",
    ));
    // Unrelated traffic first, so packet numbers are not trivially 1 and 2.
    b.pkt(
        2.0,
        udp(
            socket_addr(CLIENT, 5353),
            socket_addr([224, 0, 0, 251], 5353),
            b"x",
        ),
    );
    let syn = b.pkt(
        800.0,
        tcp(local.socket_addr(), peer.socket_addr(), true, false, false),
    );
    let rst = b.pkt(
        800.2,
        tcp(peer.socket_addr(), local.socket_addr(), false, true, true),
    );
    let so_error = b.ev(800.5, so_error_ev(7, 111, Some("ECONNREFUSED")));
    b.ev(800.6, Op::close(7));
    b.ev(805.0, exit_ev(ExitStatus::Code(1)));
    Refused { so_error, syn, rst }
}

fn exited_1() -> Bundle {
    Bundle::attached(Some(ExitStatus::Code(1)), Some("exited"))
}

#[test]
fn refused_pre_existing_dial_is_connection_refused_with_its_packets() {
    let mut b = exited_1();
    let f = refused_pre_existing(&mut b);
    assert_eq!((f.syn, f.rst), (2, 3));
    b.stderr = Some(REFUSED.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "connection-refused");
    assert_eq!(ids(&r, Source::Event), [f.so_error]);
    assert_eq!(ids(&r, Source::Packet), [f.syn, f.rst]);
    let t = r.verdict.target.as_ref().unwrap();
    assert_eq!((t.ip.as_deref(), t.port), (Some("198.18.0.2"), Some(8080)));
    let v = &r.verdict;
    assert!(
        v.summary
            .contains("connect() happened before gotrace attached (fd 7 was SYN_SENT then)"),
        "{}",
        v.summary
    );
    assert!(v.missing.is_empty(), "{:?}", v.missing);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    let text = render_text(&r);
    assert!(
        text.contains(
            "gotrace: attached to PID 100 (`go mod tidy`) for 6000 ms; it exited with status 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("   before  attach  fd 7: tcp 198.18.0.1:40000 > 198.18.0.2:8080 SYN_SENT (socket() and connect() happened before the attach)"),
        "{text}"
    );
    assert!(
        text.contains("getsockopt(fd 7, SO_ERROR) -> ECONNREFUSED"),
        "{text}"
    );
    assert!(
        !text.contains("connect(fd"),
        "no connect was traced: {text}"
    );
}

#[test]
fn refused_pre_existing_dial_without_stderr_still_decides() {
    let mut b = exited_1();
    let f = refused_pre_existing(&mut b);
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "connection-refused");
    assert_eq!(ids(&r, Source::Event), [f.so_error]);
    assert_eq!(ids(&r, Source::Packet), [f.syn, f.rst]);
    assert!(
        r.warnings.iter().any(|w| w.starts_with("stderr.log")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn refused_pre_existing_dial_without_capture_is_inconclusive() {
    // As for `gotrace run`: without the wire, the RST may be this host's
    // own firewall answering (local-firewall-reject).
    for stderr in [Some(REFUSED), None] {
        let mut b = exited_1();
        let f = refused_pre_existing(&mut b);
        b.capture = false;
        b.stderr = stderr.map(str::to_string);
        let r = analyze_bundle(&b.write()).unwrap();
        assert_cause(&r, Layer::Inconclusive, "insufficient-evidence");
        if stderr.is_some() {
            // Go's error picks the attempt: its SO_ERROR is cited, the
            // capture named as what is missing.
            assert_eq!(r.verdict.missing, ["capture"], "{}", render_text(&r));
            assert_eq!(ids(&r, Source::Event), [f.so_error]);
            assert!(
                r.verdict
                    .summary
                    .contains("ECONNREFUSED for 198.18.0.2:8080")
                    && r.verdict.summary.contains("before gotrace attached"),
                "{}",
                r.verdict.summary
            );
        } else {
            assert!(
                r.verdict.missing.contains(&Missing::Stderr),
                "{:?}",
                r.verdict.missing
            );
            assert_eq!(r.verdict.other_failures.len(), 1);
        }
    }
}

#[test]
fn kernel_events_of_the_pre_existing_socket_join_its_attempt() {
    let mut b = exited_1();
    let f = refused_pre_existing(&mut b);
    let (local, peer) = (sa(CLIENT, LOCAL_PORT), sa(SERVER, 8080));
    let reset = b.ev(800.25, receive_reset(local.clone(), peer.clone()));
    let state = b.ev(800.3, tcp_state("SYN_SENT", "CLOSE", local, peer));
    b.stderr = Some(REFUSED.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "connection-refused");
    assert_eq!(ids(&r, Source::Packet), [f.syn, f.rst]);
    let text = render_text(&r);
    for line in [
        format!("#{reset}      kernel accepts RST 198.18.0.2:8080 > 198.18.0.1:40000"),
        format!("#{state}      tcp 198.18.0.1:40000 > 198.18.0.2:8080 SYN_SENT -> CLOSE"),
    ] {
        assert!(text.contains(&line), "{line} missing in {text}");
    }
    assert!(
        text.contains("trace:    5 events (0 lost), 1 network attempt,"),
        "{text}"
    );
}

/// The request went out after the attach and the RST came before any
/// answer: the stage model's `closed-without-response` (issue 13 item 2;
/// this was `connection-reset` before the stages), citing the request.
#[test]
fn reset_of_a_pre_existing_connection_is_connection_reset() {
    let mut b = exited_1();
    let (local, peer) = (sa(CLIENT, 40001), sa(SERVER, 8080));
    b.pre_existing(pre_sock(
        8,
        "tcp",
        local.clone(),
        Some(peer.clone()),
        "ESTABLISHED",
    ));
    let get = b"GET /example.com/m/@v/v1.0.0.zip HTTP/1.1\r\nHost: 198.18.0.2:8080\r\n\r\n";
    let write = b.ev(100.0, write_ev(8, get));
    b.pkt(
        100.05,
        tcp_data(local.socket_addr(), peer.socket_addr(), get),
    );
    let rst = b.pkt(
        150.0,
        tcp(peer.socket_addr(), local.socket_addr(), false, true, true),
    );
    let reset = b.ev(150.05, receive_reset(local.clone(), peer.clone()));
    b.ev(
        150.06,
        tcp_state("ESTABLISHED", "CLOSE", local.clone(), peer.clone()),
    );
    let read = b.ev(150.1, read_err(8, 104, "ECONNRESET"));
    b.ev(150.2, Op::close(8));
    b.ev(160.0, exit_ev(ExitStatus::Code(1)));
    b.stderr = Some("go: example.com/m@v1.0.0: Get \"http://198.18.0.2:8080/example.com/m/@v/v1.0.0.zip\": read tcp 198.18.0.1:40001->198.18.0.2:8080: read: connection reset by peer\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "closed-without-response");
    assert_eq!(ids(&r, Source::Event), [write, reset, read]);
    assert_eq!(ids(&r, Source::Packet), [rst]);
    assert!(
        r.verdict
            .summary
            .contains("before gotrace attached (fd 8 was ESTABLISHED then)"),
        "{}",
        r.verdict.summary
    );
    let text = render_text(&r);
    assert!(
        text.contains("fd 8: tcp 198.18.0.1:40001 > 198.18.0.2:8080 ESTABLISHED"),
        "{text}"
    );
}

#[test]
fn pre_existing_connected_udp_socket_is_a_dns_exchange() {
    let mut b = exited_1();
    let (local, server) = (sa(CLIENT, 39283), sa(SERVER, 53));
    b.pre_existing(pre_sock(
        9,
        "udp",
        local.clone(),
        Some(server.clone()),
        "ESTABLISHED",
    ));
    let q = dns_query(0x1234, "proxy.lab.test", TYPE::A);
    let write = b.ev(1.0, write_ev(9, &q));
    let query = udp(local.socket_addr(), server.socket_addr(), &q);
    let qp = b.pkt(1.05, query.clone());
    let ip = b.pkt(1.1, icmp_port_unreachable(SERVER, CLIENT, &query));
    let read = b.ev(1.2, read_err(9, 111, "ECONNREFUSED"));
    b.ev(1.3, Op::close(9));
    b.stderr = Some("go: example.com/m@v1.0.0: Get \"https://proxy.lab.test/example.com/m/@v/list\": dial tcp: lookup proxy.lab.test on 198.18.0.2:53: read udp 198.18.0.1:39283->198.18.0.2:53: read: connection refused\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "dns-port-unreachable");
    assert_eq!(ids(&r, Source::Packet), [qp, ip]);
    let events = ids(&r, Source::Event);
    assert!(
        events.contains(&write) && events.contains(&read),
        "{events:?}"
    );
    assert!(
        r.verdict
            .summary
            .contains("before gotrace attached (fd 9 was connected then)"),
        "{}",
        r.verdict.summary
    );
}

#[test]
fn detached_with_nothing_failed_is_not_none() {
    let mut b = Bundle::attached(None, Some("interrupted"));
    let (local, peer) = (sa(CLIENT, 40002), sa(SERVER, 8080));
    b.pre_existing(pre_sock(
        8,
        "tcp",
        local.clone(),
        Some(peer.clone()),
        "ESTABLISHED",
    ));
    let get = b"GET /example.com/m/@v/list HTTP/1.1\r\nHost: 198.18.0.2:8080\r\n\r\n";
    b.ev(10.0, write_ev(8, get));
    b.ev(
        20.0,
        read_ev(8, b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nv1.0.0\n"),
    );
    b.stderr = Some("go: downloading example.com/m v1.0.0\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Inconclusive, "insufficient-evidence");
    let v = &r.verdict;
    assert_eq!(v.missing, [Missing::NotFailedYet]);
    assert!(
        v.summary.contains(
            "was still running when gotrace detached (Ctrl-C), and nothing had failed while gotrace was attached"
        ),
        "{}",
        v.summary
    );
    assert!(v.remediation.contains("keep tracing"), "{}", v.remediation);
    assert!(v.evidence.is_empty() && v.target.is_none());
    assert!(
        !r.warnings.iter().any(|w| w.contains("not finished")),
        "detaching is normal: {:?}",
        r.warnings
    );
    let text = render_text(&r);
    assert!(
        text.contains("gotrace: attached to PID 100 (`go mod tidy`) for 6000 ms; it was still running when gotrace detached (Ctrl-C)\n"),
        "{text}"
    );
}

#[test]
/// Issue 13 item 4: a detach while a dial is pending answers with that
/// dial's state at the end, judged by its evidence (2 SYNs unanswered over
/// seconds: the path or the peer), marked as cut short.
fn detached_with_a_dial_pending_is_judged_by_its_syns() {
    let mut b = Bundle::attached(None, Some("duration"));
    let (local, peer) = (sa(CLIENT, LOCAL_PORT), sa(SERVER, 8080));
    b.pre_existing(pre_sock(
        7,
        "tcp",
        local.clone(),
        Some(peer.clone()),
        "SYN_SENT",
    ));
    let syn = b.pkt(
        1000.0,
        tcp(local.socket_addr(), peer.socket_addr(), true, false, false),
    );
    b.ev(1000.01, syn_retransmit(local.clone(), peer.clone()));
    b.pkt(
        3000.0,
        tcp(local.socket_addr(), peer.socket_addr(), true, false, false),
    );
    b.ev(3000.01, syn_retransmit(local, peer));
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "connect-timeout");
    let v = &r.verdict;
    assert!(v.missing.is_empty(), "{:?}", v.missing);
    assert_eq!(ids(&r, Source::Packet), [syn]);
    let t = v.target.as_ref().unwrap();
    assert_eq!((t.ip.as_deref(), t.port), (Some("198.18.0.2"), Some(8080)));
    assert!(
        v.summary.contains("none was answered")
            && v.summary.contains(
                "the run ended (gotrace detached: --duration) while the dial was pending"
            )
            && v.summary
                .contains("before gotrace attached (fd 7 was SYN_SENT then)"),
        "{}",
        v.summary
    );
    let text = render_text(&r);
    assert!(
        text.contains("; it was still running when gotrace detached (--duration elapsed)\n"),
        "{text}"
    );
    // The timeline is the pending dial's, from the snapshot on.
    for line in [
        "fd 7: tcp 198.18.0.1:40000 > 198.18.0.2:8080 SYN_SENT (socket() and connect() happened before the attach)",
        "#2      kernel retransmits SYN 198.18.0.1:40000 > 198.18.0.2:8080",
    ] {
        assert!(text.contains(line), "{line} missing in {text}");
    }
}

#[test]
fn detached_after_a_proven_failure_names_it() {
    let mut b = Bundle::attached(None, Some("interrupted"));
    let f = refused_pre_existing(&mut b);
    b.events.retain(|e| !matches!(e.op, Op::Exit { .. }));
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "connection-refused");
    assert_eq!(ids(&r, Source::Packet), [f.syn, f.rst]);
    assert!(render_text(&r).contains("it was still running when gotrace detached (Ctrl-C)"));
}

#[test]
fn no_network_syscall_after_the_attach_is_not_before_syscall() {
    let mut b = exited_1();
    b.ev(
        3.0,
        Op::Socket {
            ret: 3,
            errno: None,
            domain: 1,
            sock_type: 1,
            protocol: 0,
            sock: None,
        },
    );
    b.ev(4.0, exit_ev(ExitStatus::Code(1)));
    b.stderr = Some("go: example.com/m@v1.0.0: verifying module: checksum mismatch\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Inconclusive, "insufficient-evidence");
    assert_eq!(r.verdict.missing, [Missing::BeforeAttach]);
    assert!(
        r.verdict
            .summary
            .contains("may have used the network before the attach"),
        "{}",
        r.verdict.summary
    );
    assert!(
        r.verdict.remediation.contains("gotrace run"),
        "{}",
        r.verdict.remediation
    );
    // Go's own words still place it before any syscall.
    b.stderr = Some("go: example.com/m@v1.0.0: module lookup disabled by GOPROXY=off\n".into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::BeforeSyscall, "proxy-disabled");
    // And an exit 0 is still success.
    b.meta.exit = Some(ExitStatus::Code(0));
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::None, "none");
    assert!(
        r.verdict.summary.contains("while gotrace was attached"),
        "{}",
        r.verdict.summary
    );
}

#[test]
fn killed_process_header_says_the_signal() {
    let mut b = Bundle::attached(Some(ExitStatus::Signal(9)), Some("exited"));
    refused_pre_existing(&mut b);
    b.stderr = Some(REFUSED.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "connection-refused");
    let text = render_text(&r);
    assert!(
        text.contains("(`go mod tidy`) for 6000 ms; it was killed by signal 9\n"),
        "{text}"
    );
}

#[test]
fn exited_without_a_recorded_status_warns() {
    let mut b = Bundle::attached(None, Some("exited"));
    refused_pre_existing(&mut b);
    b.stderr = Some(REFUSED.into());
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "connection-refused");
    assert_eq!(
        r.warnings,
        ["meta.json has no exit status although PID 100 exited while traced (its exit event was lost?)"]
    );
    assert!(
        render_text(&r).contains("; it exited, but its status was not recorded\n"),
        "{}",
        render_text(&r)
    );
}

#[test]
fn gotrace_killed_mid_write_still_analyses_with_the_warnings() {
    // SIGKILL to gotrace: meta.json has no end time, no exit and no
    // ended_by, and events.jsonl ends in a half-written line.
    let mut b = Bundle::attached(None, None);
    b.meta.end_monotonic_ns = None;
    let f = refused_pre_existing(&mut b);
    b.events.retain(|e| !matches!(e.op, Op::Exit { .. }));
    b.stderr = Some(REFUSED.into());
    let dir = b.write();
    let mut events = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("events.jsonl"))
        .unwrap();
    events
        .write_all(br#"{"id":3,"ts_ns":5900000000,"tgid":100,"tid":101,"comm":"go","kind":"clo"#)
        .unwrap();
    drop(events);
    let r = analyze_bundle(&dir).unwrap();
    assert_cause(&r, Layer::Network, "connection-refused");
    assert_eq!(ids(&r, Source::Event), [f.so_error]);
    assert_eq!(ids(&r, Source::Packet), [f.syn, f.rst]);
    assert!(
        r.warnings.iter().any(|w| w.contains(KILLED)),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("events.jsonl:3: last line is truncated")),
        "{:?}",
        r.warnings
    );
    let text = render_text(&r);
    assert!(
        text.contains("gotrace: attached to PID 100 (`go mod tidy`); the trace was not finished (gotrace was killed?)\n"),
        "{text}"
    );
}

#[test]
fn killed_gotrace_with_nothing_seen_is_inconclusive() {
    let mut b = Bundle::attached(None, None);
    b.meta.end_monotonic_ns = None;
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Inconclusive, "insufficient-evidence");
    assert!(
        r.warnings.iter().any(|w| w.contains(KILLED)),
        "{:?}",
        r.warnings
    );
}
