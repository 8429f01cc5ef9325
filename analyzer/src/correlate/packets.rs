//! Second pass: attaching captured packets to attempts.

use std::collections::HashSet;
use std::net::SocketAddr;

use super::{AppObs, Attempt, Kind, PacketFact, Source, Step};
use crate::capture::{CaptureIndex, FlowKey, Packet, Payload};
use crate::clock::Clock;
use crate::proto::{IPPROTO_TCP, IPPROTO_UDP};

/// Packets may precede their syscall's exit event by this much (ns), plus
/// the clock mapping's own uncertainty.
const SLACK_NS: i64 = 50_000_000;
/// Without a `close` event, packets this long after the last event (ns)
/// still belong to the attempt (TCP gives up a SYN after ~127 s).
const TAIL_NS: i64 = 130_000_000_000;
/// After `close`, only this much (ns) for the closing packets.
const CLOSED_TAIL_NS: i64 = 1_000_000_000;

pub(super) fn link(attempts: &mut [Attempt], idx: &CaptureIndex, clock: &Clock) {
    let mut claimed: HashSet<FlowKey> = HashSet::new();
    // Attempts with a known 5-tuple first, so time-based guesses cannot
    // steal their flows.
    for a in attempts.iter_mut().filter(|a| a.local.is_some()) {
        a.capture_searched = true;
        if let Some(local) = a.local {
            let proto = proto_of(a.kind);
            let pkts = window(idx.flow(proto, local, a.peer), a, clock);
            if !pkts.is_empty() {
                claimed.insert(FlowKey::new(proto, local, a.peer));
            }
            attach(a, &pkts, clock);
        }
    }
    for a in attempts.iter_mut().filter(|a| a.local.is_none()) {
        a.capture_searched = true;
        let proto = proto_of(a.kind);
        let ids = a.query_ids();
        let mut candidates: Vec<(FlowKey, Vec<&Packet>)> = idx
            .flows_with(proto, a.peer)
            .filter(|(k, _)| !claimed.contains(k))
            .map(|(k, p)| (*k, window(p, a, clock)))
            .filter(|(_, p)| !p.is_empty())
            .filter(|(_, p)| match a.kind {
                // A DNS flow must carry one of the ids the process wrote.
                Kind::Dns if !ids.is_empty() => p
                    .iter()
                    .any(|p| dns_id(p).is_some_and(|i| ids.contains(&i))),
                // A TCP flow must open with our SYN.
                Kind::Tcp => p
                    .first()
                    .is_some_and(|p| opens(p, a.peer) && near_connect(p, a, clock)),
                Kind::Dns => true,
            })
            .collect();
        // Only an unambiguous guess is a link.
        if candidates.len() != 1 {
            continue;
        }
        let Some((key, pkts)) = candidates.pop() else {
            continue;
        };
        claimed.insert(key);
        a.local = Some(if key.a == a.peer { key.b } else { key.a });
        attach(a, &pkts, clock);
    }
}

fn proto_of(k: Kind) -> u8 {
    match k {
        Kind::Tcp => IPPROTO_TCP,
        Kind::Dns => IPPROTO_UDP,
    }
}

fn dns_id(p: &Packet) -> Option<u16> {
    match &p.payload {
        Payload::Udp { dns: Some(m) } => Some(m.id),
        Payload::IcmpError(e) => e.quoted.as_ref().and_then(|q| q.dns_id),
        _ => None,
    }
}

fn opens(p: &Packet, peer: SocketAddr) -> bool {
    matches!(p.payload, Payload::Tcp { flags, .. } if flags.syn && !flags.ack) && p.dst == peer
}

/// Whether packet `p` was sent while `connect()` ran (the SYN leaves
/// before the syscall returns).
fn near_connect(p: &Packet, a: &Attempt, clock: &Clock) -> bool {
    let (Some(rt), Some(c)) = (p.realtime_ns, a.connect.as_ref()) else {
        return true;
    };
    let t = i64::try_from(c.ts_ns).unwrap_or(i64::MAX);
    clock.packet_mono_ns(rt).abs_diff(t) <= slack_ns(clock).unsigned_abs()
}

/// How far (ns) a packet may precede the event it goes with: [`SLACK_NS`]
/// plus the clock mapping's uncertainty.
fn slack_ns(clock: &Clock) -> i64 {
    SLACK_NS.saturating_add(i64::try_from(clock.uncertainty_ns).unwrap_or(i64::MAX))
}

/// The packets of `pkts` inside the attempt's time window.
fn window<'a>(pkts: &'a [Packet], a: &Attempt, clock: &Clock) -> Vec<&'a Packet> {
    let from = i64::try_from(a.start_ns)
        .unwrap_or(i64::MAX)
        .saturating_sub(slack_ns(clock));
    let to = i64::try_from(a.end_ns)
        .unwrap_or(i64::MAX)
        .saturating_add(if a.closed { CLOSED_TAIL_NS } else { TAIL_NS });
    pkts.iter()
        .filter(|p| match p.realtime_ns {
            Some(rt) => {
                let m = clock.packet_mono_ns(rt);
                m >= from && m <= to
            }
            // No time (Simple Packet Block): the 5-tuple has to do.
            None => true,
        })
        .collect()
}

fn attach(a: &mut Attempt, pkts: &[&Packet], clock: &Clock) {
    let ids = a.query_ids();
    // One past the last payload byte we sent (TCP sequence space).
    let mut sent_end: Option<u32> = None;
    for p in pkts {
        let from_peer = p.src == a.peer;
        // Arrived after close(): the process never saw it.
        let late = a.closed
            && p.realtime_ns.is_some_and(|rt| {
                clock.packet_mono_ns(rt) > i64::try_from(a.end_ns).unwrap_or(i64::MAX)
            });
        let mut note = "";
        match &p.payload {
            Payload::Tcp {
                flags, app, len, ..
            } => {
                let len32 = u32::try_from(*len).unwrap_or(u32::MAX);
                if !from_peer && *len > 0 {
                    sent_end = Some(p.headers.seq.wrapping_add(len32));
                    a.peer_acked = None;
                }
                if from_peer {
                    if flags.fin {
                        a.peer_fin.get_or_insert(p.number);
                    }
                    if *len > 0 && !flags.syn {
                        a.peer_payload.get_or_insert(p.number);
                    }
                    // RFC 9293 3.4: ACK covers everything before it
                    // (modulo-2^32 comparison).
                    let covers = sent_end.is_some_and(|end| {
                        flags.ack && (p.headers.ack.wrapping_sub(end) as i32) >= 0
                    });
                    if covers && a.peer_acked.is_none() {
                        a.peer_acked = Some(p.number);
                    }
                }
                if let Some(summary) = app {
                    a.app.push(AppObs {
                        source: Source::Packet,
                        id: p.number,
                        from_peer,
                        summary: (**summary).clone(),
                    });
                }
                if flags.fin && !from_peer {
                    a.client_fin.get_or_insert(p.number);
                }
                if flags.syn && !flags.ack && !from_peer {
                    a.syn_count += 1;
                    a.syn.get_or_insert(PacketFact {
                        number: p.number,
                        value: (),
                    });
                } else if flags.syn && flags.ack && from_peer {
                    a.syn_ack.get_or_insert(PacketFact {
                        number: p.number,
                        value: (),
                    });
                } else if flags.rst && from_peer {
                    a.rst.get_or_insert(PacketFact {
                        number: p.number,
                        value: (),
                    });
                }
            }
            Payload::Udp { dns: Some(m) } => {
                // With known ids, other ids on a reused port are not ours.
                if !ids.is_empty() && !ids.contains(&m.id) {
                    continue;
                }
                let fact = PacketFact {
                    number: p.number,
                    value: m.clone(),
                };
                if m.response && late {
                    note = " (after the socket was closed)";
                    a.late_answer.get_or_insert(p.number);
                } else if m.response {
                    a.wire_answers.push(fact);
                } else {
                    a.wire_queries.push(fact);
                }
            }
            Payload::Udp { dns: None } | Payload::Fragment(_) => {}
            Payload::IcmpError(e) => {
                // Only errors about what we sent to the peer count: our own
                // host answering a late reply with port unreachable (the
                // socket was already closed) quotes the peer's packet instead.
                if e.quoted.as_ref().is_none_or(|q| q.dst != a.peer) {
                    continue;
                }
                let quoted_id = e.quoted.as_ref().and_then(|q| q.dns_id);
                if let (Some(id), false) = (quoted_id, ids.is_empty()) {
                    if !ids.contains(&id) {
                        continue;
                    }
                }
                if a.icmp.is_none() {
                    a.icmp_sender = Some(p.src.ip());
                    a.icmp_type_code = Some(e.type_code());
                }
                a.icmp.get_or_insert(PacketFact {
                    number: p.number,
                    value: e.kind,
                });
            }
        }
        a.steps.push(Step {
            source: Source::Packet,
            id: p.number,
            t_ms: p.realtime_ns.map(|rt| clock.packet_ms(rt)),
            text: format!("{}{note}", p.describe()),
        });
    }
    if a.is_dns_tcp() {
        super::dns_tcp::decode(a, pkts);
    }
}

/// Packets sent to `peer`'s address around the attempt: evidence that a
/// dial did (or did not) reach the wire.
pub fn sent_near<'a>(idx: &'a CaptureIndex, a: &Attempt, clock: &Clock) -> Vec<&'a Packet> {
    window(idx.sent_to(a.peer.ip()), a, clock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::TcpFlags;
    use gotrace_bundle::{Event, Op};

    const CLOCK: Clock = Clock {
        start_ns: 0,
        realtime_minus_monotonic_ns: 1_000,
        uncertainty_ns: 0,
    };

    fn attempt(closed: bool) -> Attempt {
        let ev = Event {
            id: 1,
            ts_ns: 1_000_000_000,
            tgid: 1,
            tid: 1,
            comm: "go".into(),
            op: Op::Exit { status: None },
        };
        let mut a = Attempt::new(Kind::Tcp, &ev, 3, "198.18.0.2:80".parse().unwrap());
        a.end_ns = 2_000_000_000;
        a.closed = closed;
        a
    }

    fn at(mono_ns: i64) -> Packet {
        Packet {
            number: 1,
            realtime_ns: Some(mono_ns + 1_000),
            src: "198.18.0.1:5".parse().unwrap(),
            dst: "198.18.0.2:80".parse().unwrap(),
            payload: Payload::Tcp {
                flags: TcpFlags::default(),
                len: 0,
                app: None,
                dns_tcp: Box::default(),
            },
            headers: Default::default(),
        }
    }

    #[test]
    fn window_is_start_minus_slack_to_close_plus_a_second() {
        let pkts = [
            at(900_000_000),   // 100 ms before start: outside the 50 ms slack
            at(960_000_000),   // inside the slack
            at(2_500_000_000), // after close, within 1 s
            at(3_500_000_000), // after close + 1 s
        ];
        let inside = |a: &Attempt| window(&pkts, a, &CLOCK).len();
        assert_eq!(inside(&attempt(true)), 2);
        // Without a close, a SYN may be retried for ~2 minutes.
        assert_eq!(inside(&attempt(false)), 3);
    }
}
