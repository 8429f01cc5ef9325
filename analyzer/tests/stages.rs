//! The stage model after the TCP handshake (issue 13 item 2) on synthetic
//! bundles: each conclusion needs its two witnesses, and without one the
//! verdict stays inconclusive and names what is missing; a request Go
//! abandoned at once is no failure.

mod common;

use std::net::SocketAddr;

use common::*;
use etherparse::PacketBuilder;
use gotrace_analyzer::correlate::Source;
use gotrace_analyzer::{analyze_bundle, Layer, Missing};
use gotrace_bundle::Op;

const GET: &[u8] = b"GET /lab.test/greet/@v/v1.0.0.zip HTTP/1.1\r\nHost: 198.18.0.2:8080\r\n\r\n";

/// A TCP segment with explicit sequence/ack numbers and flags.
fn seg(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, fin: bool, payload: &[u8]) -> Vec<u8> {
    let (SocketAddr::V4(s), SocketAddr::V4(d)) = (src, dst) else {
        panic!("v4 only")
    };
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(s.ip().octets(), d.ip().octets(), 64)
        .tcp(s.port(), d.port(), seq, 64240)
        .ack(ack);
    let b = if fin { b.fin() } else { b };
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

fn ends() -> (SocketAddr, SocketAddr) {
    (socket_addr(CLIENT, 40122), socket_addr(SERVER, 8080))
}

/// An established dial and our GET at 20 ms (event, and on the wire with
/// seq 1000); `acked` adds the server's bare ACK of it at 20.2 ms.
fn get_sent(b: &mut Bundle, acked: bool) -> (u64, Option<u64>) {
    established_dial(b, 8080);
    let (c, s) = ends();
    let w = b.ev(20.0, write_ev(7, GET));
    b.pkt(20.05, seg(c, s, 1000, 5000, false, GET));
    let ack = acked.then(|| b.pkt(20.2, seg(s, c, 5000, 1000 + GET.len() as u32, false, &[])));
    (w, ack)
}

fn stderr_eof(b: &mut Bundle) {
    b.stderr = Some("go: lab.test/greet@v1.0.0: Get \"http://198.18.0.2:8080/lab.test/greet/@v/v1.0.0.zip\": EOF\n".into());
}

#[test]
fn a_fin_before_any_answer_is_closed_without_response() {
    let mut b = Bundle::new(Some(1));
    let (w, _) = get_sent(&mut b, true);
    let (c, s) = ends();
    let fin = b.pkt(30.0, seg(s, c, 5000, 1000 + GET.len() as u32, true, &[]));
    let cw = b.ev(
        30.1,
        tcp_state(
            "ESTABLISHED",
            "CLOSE_WAIT",
            sa(CLIENT, 40122),
            sa(SERVER, 8080),
        ),
    );
    let eof = b.ev(30.2, read_ev(7, b""));
    b.ev(30.3, Op::close(7));
    stderr_eof(&mut b);
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "closed-without-response");
    for id in [w, cw, eof] {
        assert!(
            cites(&r, Source::Event, id),
            "event {id}: {:?}",
            r.verdict.evidence
        );
    }
    assert!(cites(&r, Source::Packet, fin));
    assert!(
        r.verdict.summary.contains("HTTP response"),
        "{}",
        r.verdict.summary
    );
}

#[test]
fn a_close_the_wire_does_not_show_is_inconclusive() {
    let mut b = Bundle::new(Some(1));
    get_sent(&mut b, true);
    b.ev(
        30.1,
        tcp_state(
            "ESTABLISHED",
            "CLOSE_WAIT",
            sa(CLIENT, 40122),
            sa(SERVER, 8080),
        ),
    );
    b.ev(30.2, read_ev(7, b""));
    b.ev(30.3, Op::close(7));
    stderr_eof(&mut b);
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Inconclusive, "insufficient-evidence");
    assert!(
        r.verdict.missing.contains(&Missing::PeerClose),
        "{:?}",
        r.verdict.missing
    );
}

fn silent(acked: bool) -> gotrace_analyzer::Report {
    let mut b = Bundle::new(Some(1));
    get_sent(&mut b, acked);
    // Go gives up 10 s later.
    b.ev(10_020.0, Op::close(7));
    b.meta.end_monotonic_ns = Some(mono(10_100.0));
    b.stderr = Some("go: lab.test/greet@v1.0.0: Get \"http://198.18.0.2:8080/lab.test/greet/@v/v1.0.0.zip\": context deadline exceeded\n".into());
    analyze_bundle(&b.write()).unwrap()
}

#[test]
fn an_acked_request_never_answered_is_no_response() {
    let r = silent(true);
    assert_cause(&r, Layer::Network, "no-response");
    assert!(
        r.verdict.summary.contains("Go gave up after 10.0 s"),
        "{}",
        r.verdict.summary
    );
    assert_eq!(r.verdict.evidence.len(), 2, "{:?}", r.verdict.evidence);
}

#[test]
fn an_unacked_request_is_not_the_servers_silence() {
    let r = silent(false);
    assert_cause(&r, Layer::Inconclusive, "insufficient-evidence");
    assert!(
        r.verdict.missing.contains(&Missing::PeerAck),
        "{:?}",
        r.verdict.missing
    );
}

#[test]
fn a_request_go_abandoned_at_once_is_no_failure() {
    let mut b = Bundle::new(Some(0));
    get_sent(&mut b, true);
    b.ev(40.0, Op::close(7));
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::None, "none");
    assert!(
        r.verdict.other_failures.is_empty(),
        "{:?}",
        r.verdict.other_failures
    );
}

#[test]
fn an_answered_request_is_not_a_stage_failure() {
    let mut b = Bundle::new(Some(1));
    get_sent(&mut b, true);
    let resp = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    b.ev(21.0, read_ev(7, resp));
    let (c, s) = ends();
    b.pkt(20.9, seg(s, c, 5000, 1000 + GET.len() as u32, false, resp));
    b.pkt(
        30.0,
        seg(
            s,
            c,
            5000 + resp.len() as u32,
            1000 + GET.len() as u32,
            true,
            &[],
        ),
    );
    b.ev(30.2, read_ev(7, b""));
    b.ev(30.3, Op::close(7));
    b.stderr = Some(
        "go: reading http://198.18.0.2:8080/lab.test/greet/@v/v1.0.0.zip: 403 Forbidden\n".into(),
    );
    let r = analyze_bundle(&b.write()).unwrap();
    assert_cause(&r, Layer::Network, "http-status");
}
