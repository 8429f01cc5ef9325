//! What a finished TCP connection proved (the rules are in the parent
//! module's doc): the failure with its evidence lines and summary, or
//! notes about what is odd but not a failure.

use super::{At, Extra, Flow, Key, REFUSED, RESET};
use crate::capture_only::app::Ends;
use crate::capture_only::record::{secs, target_of, Ev, Failure, Findings, Silence};
use crate::cause::Cause;
use crate::proto::dns;

/// Retransmissions of unacknowledged data that make a stall note.
const STALL_RETRANSMISSIONS: u16 = 3;

/// What a connection that ended proved.
pub(super) fn finish(key: &Key, mut f: Flow, now: i64, out: &mut Findings) {
    let ends = f.ends(key);
    if let Some(x) = f.extra.as_mut() {
        if let Some(fail) = x.failure.take() {
            out.fail(*fail);
            return;
        }
        if let Some(fail) = x.app.finish(x.client_close, ends) {
            out.fail(fail);
            return;
        }
    }
    if let Some(syn) = f.syn().filter(|_| f.synack == 0 && !f.data_from_server()) {
        unanswered(&f, syn, ends, now, out);
        return;
    }
    if f.bits & RESET != 0 {
        out.fail(reset(&f, ends));
        return;
    }
    notes(&f, key, ends, out);
}

fn syn_line(ends: Ends) -> String {
    format!("{} > {} [SYN]", ends.client, ends.server)
}

fn pkt_list(v: &[At]) -> String {
    let s: Vec<String> = v.iter().map(|a| a.0.to_string()).collect();
    s.join(", ")
}

/// The SYN never got a SYN-ACK: refused, ICMP, timed out, or still pending.
fn unanswered(f: &Flow, syn: At, ends: Ends, now: i64, out: &mut Findings) {
    let mut syns = vec![syn];
    let empty = Extra::default();
    let x = f.extra.as_deref().unwrap_or(&empty);
    syns.extend(x.syns.iter().copied());
    let mut ev: Vec<Ev> = syns
        .iter()
        .map(|&(p, ns)| Ev::new(p, ns, syn_line(ends)))
        .collect();
    let server = ends.server;
    let target = target_of(server, None);
    if f.bits & REFUSED != 0 {
        let rst_line = format!("{} > {} [RST, ACK]", server, ends.client);
        ev.extend(
            x.rsts
                .iter()
                .map(|&(p, ns)| Ev::new(p, ns, rst_line.clone())),
        );
        let what = if syns.len() == 1 {
            format!(
                "the SYN (pkt {}) with RST (pkt {})",
                syn.0,
                pkt_list(&x.rsts)
            )
        } else {
            format!(
                "each of the {} SYNs (pkts {}) with RST (pkts {})",
                syns.len(),
                pkt_list(&syns),
                pkt_list(&x.rsts)
            )
        };
        let port = server.port();
        let fail = if server.ip().is_loopback() {
            let summary = format!("{server} is this host (loopback) and answered {what}: nothing listens on port {port} here");
            Failure::new(Cause::LocalRefused, summary, target, ev).made_by(ends.client.ip())
        } else {
            let summary =
                format!("{server} answered {what}: nothing accepts connections on port {port}");
            Failure::new(Cause::ConnectionRefused, summary, target, ev).made_by(ends.client.ip())
        };
        out.fail(fail);
        return;
    }
    if let Some(h) = &x.icmp {
        ev.push(Ev::new(h.at.0, h.at.1, h.text.clone()));
        let summary = format!(
            "{} answered the SYN from {} to {server} (pkt {}) with ICMP {} ({}, pkt {}): {} cannot be reached from here",
            h.sender, ends.client, syn.0, h.what, h.type_code, h.at.0, server.ip()
        );
        out.fail(
            Failure::new(Cause::IcmpUnreachable, summary, target, ev).made_by(ends.client.ip()),
        );
        return;
    }
    if server.port() == dns::PORT {
        out.silence(Silence {
            from: ends.client.ip(),
            to: server,
            pkt: syn.0,
            ns: syn.1,
            what: "[SYN]",
        });
    }
    let last = syns.last().copied().unwrap_or(syn);
    if f.syn_sends >= 2 {
        let over = secs(syn.1, last.1)
            .map(|s| format!(" over {s:.1} s"))
            .unwrap_or_default();
        let summary = format!(
            "{} SYNs from {} to {server} (pkts {}){over} got no answer: the SYN or its answer is dropped on the way or at {} (a firewall that drops, a host that is down or absent)",
            f.syn_sends,
            ends.client,
            pkt_list(&syns),
            server.ip()
        );
        out.fail(
            Failure::new(Cause::ConnectTimeout, summary, target, ev).made_by(ends.client.ip()),
        );
        return;
    }
    if out.wants_note() {
        let after = secs(last.1, Some(now))
            .map(|s| format!(" (the capture ends {s:.3} s after it)"))
            .unwrap_or_default();
        out.note(
            syn.0,
            format!("the SYN from {} to {server} (pkt {}) got no answer and was not retransmitted{after}: too early to call it a timeout", ends.client, syn.0),
        );
    }
}

fn reset(f: &Flow, ends: Ends) -> Failure {
    let mut ev = Vec::new();
    if let Some((p, ns)) = f.syn() {
        ev.push(Ev::new(p, ns, syn_line(ends)));
    }
    let rsts = f.extra.as_ref().map(|x| x.rsts.as_slice()).unwrap_or(&[]);
    let first = rsts.first().copied().unwrap_or((0, None));
    ev.push(Ev::new(
        first.0,
        first.1,
        format!("{} > {} [RST]", ends.server, ends.client),
    ));
    let summary = format!(
        "{} reset the established connection from {} (RST pkt {}) before the client had closed it",
        ends.server, ends.client, first.0
    );
    Failure::new(
        Cause::ConnectionReset,
        summary,
        target_of(ends.server, None),
        ev,
    )
    .made_by(ends.client.ip())
}

fn notes(f: &Flow, key: &Key, ends: Ends, out: &mut Findings) {
    for d in 0..2 {
        if f.rtx[d] >= STALL_RETRANSMISSIONS && out.wants_note() {
            let (src, dst) = if d == 0 {
                (key.a.addr(), key.b.addr())
            } else {
                (key.b.addr(), key.a.addr())
            };
            out.note(
                f.rtx_pkt[d],
                format!(
                    "data from {src} to {dst} was retransmitted {} times from pkt {} on and never acknowledged: the connection stalled (the path or {dst} went silent)",
                    f.rtx[d], f.rtx_pkt[d]
                ),
            );
        }
    }
    let Some(x) = f.extra.as_deref() else {
        return;
    };
    if let Some(p) = x.app.not_tls.filter(|_| !x.app.failed) {
        if out.wants_note() {
            out.note(p, format!("{} answered the TLS ClientHello from {} with data that is not TLS (pkt {p}): it does not speak TLS on port {} (plain HTTP?)", ends.server, ends.client, ends.server.port()));
        }
    }
    if let Some(p) = x.bad_rst {
        if out.wants_note() {
            out.note(p, format!("the RST in pkt {p} ({} <> {}) has a bad TCP checksum: the receiving kernel drops it, so it ended nothing", ends.client, ends.server));
        }
    }
}
