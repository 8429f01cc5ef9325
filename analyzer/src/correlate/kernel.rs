//! Third pass: the kernel's own verdicts (retransmits, resets, skb drops)
//! attached to the attempts they are about.
//!
//! TCP events carry the kernel socket address (`sock`), which the
//! attempt learnt from its SYN_SENT change; a socket address is reused
//! after close, so an event goes to the latest attempt of that socket that
//! started before it. A dropped datagram of a UDP socket (a DNS query the
//! local OUTPUT chain threw away) has no such link: it is freed inside the
//! `write`/`sendto` that sent it, so it goes to the attempt whose next send
//! on the same thread follows within [`SAME_SYSCALL_NS`].

use std::collections::{BTreeMap, HashMap};

use super::{drop_location, Attempt, EventFact, Source, Step};
use crate::clock::Clock;
use crate::proto::errno;
use gotrace_bundle::{Event, Op, TcpState};

/// Drop reasons that are housekeeping, not a verdict on a packet: the
/// unsent queue purged when the socket is closed (include/net/dropreason-core.h).
const BENIGN_DROPS: [&str; 2] = ["QUEUE_PURGE", "SOCKET_CLOSE"];

/// A drop and the send syscall it happened in are this close (ns): the
/// syscall's exit event follows the drop inside the same call.
const SAME_SYSCALL_NS: u64 = 5_000_000;

/// `events` are the kernel's ([`super::Kept::kernel`]), `sends` the send
/// syscalls as (ts ns, TID, id) ([`super::Kept::sends`]), both in
/// canonical order.
pub(super) fn link(
    attempts: &mut [Attempt],
    events: &[Event],
    sends: &[(u64, u32, u64)],
    clock: &Clock,
    drop_reasons: &BTreeMap<u32, String>,
) {
    let socks = SockIndex::new(attempts);
    for ev in events {
        let (sock, text) = match &ev.op {
            Op::TcpRetransmit {
                sock,
                state,
                local,
                peer,
                err,
                ..
            } => {
                let result = if *err == 0 {
                    String::new()
                } else {
                    format!(" -> -{}", errno::name(-err))
                };
                let what = if *state == TcpState::SynSent {
                    "SYN"
                } else {
                    "segment"
                };
                let text = format!("kernel retransmits {what} {local} > {peer}{result}");
                (Some(sock.as_str()), text)
            }
            Op::TcpReceiveReset { sock, local, peer } => (
                Some(sock.as_str()),
                format!("kernel accepts RST {peer} > {local}"),
            ),
            Op::TcpSendReset { sock, .. } => {
                let why = ev.op.reset_reason().unwrap_or_default();
                (Some(sock.as_str()), format!("kernel sends RST ({why})"))
            }
            Op::SkbDrop { sock, .. } => {
                let name = drop_name(&ev.op, drop_reasons);
                if BENIGN_DROPS.contains(&name.as_str()) {
                    continue;
                }
                (sock.as_deref(), format!("kernel drops packet: {name}"))
            }
            _ => continue,
        };
        let idx = sock
            .and_then(|s| socks.latest(s, ev.ts_ns))
            .or_else(|| match ev.op {
                Op::SkbDrop { .. } => by_send(attempts, sends, ev),
                _ => None,
            });
        let Some(a) = idx.and_then(|i| attempts.get_mut(i)) else {
            continue;
        };
        a.steps.push(Step {
            source: Source::Event,
            id: ev.id,
            t_ms: Some(clock.event_ms(ev.ts_ns)),
            text,
        });
        a.end_ns = a.end_ns.max(ev.ts_ns);
        // The SYN_SENT change carries port 0; these name the bound port,
        // which the capture needs to find the flow.
        if let Op::TcpRetransmit { local, .. } | Op::TcpReceiveReset { local, .. } = &ev.op {
            if a.local.is_none() && local.port != 0 {
                a.local = Some(std::net::SocketAddr::new(
                    local.ip.to_canonical(),
                    local.port,
                ));
            }
        }
        match &ev.op {
            Op::TcpRetransmit { err, .. } => a.retransmits.push(fact(ev, *err)),
            Op::TcpReceiveReset { .. } => {
                a.reset_received.get_or_insert(fact(ev, ()));
            }
            Op::TcpSendReset { .. } => {
                a.reset_sent.get_or_insert(fact(ev, ()));
            }
            Op::SkbDrop { .. } => a.drops.push(fact(ev, drop_name(&ev.op, drop_reasons))),
            _ => {}
        }
    }
}

fn fact<T>(ev: &Event, value: T) -> EventFact<T> {
    EventFact {
        id: ev.id,
        ts_ns: ev.ts_ns,
        value,
    }
}

/// The name of a `kfree_skb` reason: the event's own, else the bundle's
/// table, else what its freeing function implies (kernels without
/// reasons: [`drop_location`]), else `reason N`.
fn drop_name(op: &Op, table: &BTreeMap<u32, String>) -> String {
    match op {
        Op::SkbDrop {
            reason,
            reason_name,
            location_name,
            ..
        } => reason_name
            .clone()
            .or_else(|| table.get(reason).cloned())
            .or_else(|| location_name.as_deref().and_then(drop_location::describe))
            .unwrap_or_else(|| format!("reason {reason}")),
        _ => String::new(),
    }
}

/// Each socket's attempts by start time, for [`SockIndex::latest`]. Built
/// once: scanning every attempt for every kernel event took most of the
/// analysis of the bench's 350k-dial trace.
struct SockIndex(HashMap<String, Vec<(u64, usize)>>);

impl SockIndex {
    fn new(attempts: &[Attempt]) -> SockIndex {
        let mut map: HashMap<String, Vec<(u64, usize)>> = HashMap::new();
        for (i, a) in attempts.iter().enumerate() {
            if let Some(sock) = &a.sock {
                map.entry(sock.clone()).or_default().push((a.start_ns, i));
            }
        }
        for list in map.values_mut() {
            list.sort_unstable();
        }
        SockIndex(map)
    }

    /// The latest attempt on socket `sock` that started before `ts_ns`
    /// (the last in order among equally late ones).
    fn latest(&self, sock: &str, ts_ns: u64) -> Option<usize> {
        let list = self.0.get(sock)?;
        let bound = ts_ns.saturating_add(SAME_SYSCALL_NS);
        let n = list.partition_point(|&(start, _)| start <= bound);
        n.checked_sub(1).map(|k| list[k].1)
    }
}

/// The attempt whose send on the drop's thread follows it within one syscall.
fn by_send(attempts: &[Attempt], sends: &[(u64, u32, u64)], drop: &Event) -> Option<usize> {
    if drop.tid == 0 {
        return None;
    }
    let &(_, _, send) = sends.iter().find(|&&(ts, tid, _)| {
        tid == drop.tid && ts >= drop.ts_ns && ts - drop.ts_ns <= SAME_SYSCALL_NS
    })?;
    attempts.iter().position(|a| a.event_step(send).is_some())
}

/// Whether a drop reason is a netfilter verdict (`NETFILTER_DROP`; older
/// kernels without reasons say `NOT_SPECIFIED`, which proves nothing).
pub fn is_netfilter(reason: &str) -> bool {
    reason.starts_with("NETFILTER") || reason.starts_with("NF_")
}

/// Whether a `kfree_skb` drop reason says the neighbour (ARP, IPv6
/// neighbour discovery) never answered: the packet waited in the
/// neighbour entry's queue until it failed (`SKB_DROP_REASON_NEIGH_FAILED`,
/// include/net/dropreason-core.h).
pub fn is_neighbour_failure(reason: &str) -> bool {
    reason == "NEIGH_FAILED"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The send syscalls of `events`, as [`super::super::Kept`] lists them.
    fn sends(events: &[Event]) -> Vec<(u64, u32, u64)> {
        events
            .iter()
            .filter(|e| matches!(e.op, Op::Send(_)))
            .map(|e| (e.ts_ns, e.tid, e.id))
            .collect()
    }
    use crate::correlate::Kind;
    use gotrace_bundle::{Io, SockAddr};

    const CLOCK: Clock = Clock {
        start_ns: 0,
        realtime_minus_monotonic_ns: 0,
        uncertainty_ns: 0,
    };

    fn addr(s: &str) -> SockAddr {
        s.parse().unwrap()
    }

    fn event(id: u64, ts_ns: u64, tid: u32, op: Op) -> Event {
        Event {
            id,
            ts_ns,
            tgid: 5,
            tid,
            comm: "go".into(),
            op,
        }
    }

    fn attempt(kind: Kind, sock: Option<&str>, start_ns: u64) -> Attempt {
        let ev = event(1, start_ns, 6, Op::Exit { status: None });
        let mut a = Attempt::new(kind, &ev, 7, "198.18.0.2:8080".parse().unwrap());
        a.sock = sock.map(str::to_string);
        a
    }

    fn drop(sock: Option<&str>, reason: u32, name: Option<&str>) -> Op {
        Op::SkbDrop {
            sock: sock.map(str::to_string),
            reason,
            reason_name: name.map(str::to_string),
            location: "0xffffffff81000000".into(),
            location_name: None,
            protocol: 0x0800,
        }
    }

    #[test]
    fn tcp_events_go_to_the_latest_attempt_of_their_socket() {
        let mut attempts = vec![
            attempt(Kind::Tcp, Some("0xa"), 1_000),
            attempt(Kind::Tcp, Some("0xa"), 9_000_000_000),
            attempt(Kind::Tcp, Some("0xb"), 1_000),
        ];
        let retransmit = Op::TcpRetransmit {
            sock: "0xa".into(),
            state: TcpState::SynSent,
            local: addr("198.18.0.1:40000"),
            peer: addr("198.18.0.2:8080"),
            err: -errno::EPERM,
            err_name: Some("EPERM".into()),
        };
        let events = vec![
            event(10, 1_000_000_000, 0, retransmit.clone()),
            event(11, 10_000_000_000, 0, retransmit),
            event(12, 2_000, 6, drop(Some("0xb"), 12, None)),
            event(13, 2_000, 6, drop(Some("0xc"), 12, None)),
        ];
        let table = BTreeMap::from([(12, "NETFILTER_DROP".to_string())]);
        link(&mut attempts, &events, &sends(&events), &CLOCK, &table);
        assert_eq!(attempts[0].retransmits.len(), 1);
        assert_eq!(attempts[0].retransmits[0].value, -errno::EPERM);
        assert!(
            attempts[0].steps[0].text.ends_with("-> -EPERM"),
            "{:?}",
            attempts[0].steps
        );
        assert_eq!(attempts[1].retransmits[0].id, 11);
        assert_eq!(
            attempts[2].drops.len(),
            1,
            "an unknown socket's drop is not ours"
        );
        assert_eq!(attempts[2].drops[0].value, "NETFILTER_DROP");
    }

    #[test]
    fn a_udp_drop_goes_to_the_send_it_happened_in() {
        let mut attempts = vec![attempt(Kind::Dns, None, 1_000)];
        let send = Op::Send(Io {
            syscall: "write".into(),
            fd: 7,
            ret: -i64::from(errno::EPERM),
            errno: Some("EPERM".into()),
            peer: None,
            data_hex: None,
            sock: None,
        });
        attempts[0].steps.push(Step {
            source: Source::Event,
            id: 21,
            t_ms: None,
            text: "write".into(),
        });
        let events = vec![
            event(20, 5_000, 6, drop(Some("0xd"), 99, Some("NETFILTER_DROP"))),
            event(21, 6_000, 6, send),
            event(22, 5_000, 9, drop(Some("0xe"), 99, None)),
        ];
        link(
            &mut attempts,
            &events,
            &sends(&events),
            &CLOCK,
            &BTreeMap::new(),
        );
        let names: Vec<&str> = attempts[0].drops.iter().map(|d| d.value.as_str()).collect();
        assert_eq!(
            names,
            ["NETFILTER_DROP"],
            "only the drop on the sending thread"
        );
        assert!(is_netfilter(names[0]) && !is_netfilter("NOT_SPECIFIED"));
    }

    /// by_sock as it was before SockIndex: every attempt scanned per event.
    fn by_sock_reference(attempts: &[Attempt], sock: &str, ts_ns: u64) -> Option<usize> {
        attempts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.sock.as_deref() == Some(sock))
            .filter(|(_, a)| a.start_ns <= ts_ns.saturating_add(SAME_SYSCALL_NS))
            .max_by_key(|(_, a)| a.start_ns)
            .map(|(i, _)| i)
    }

    #[test]
    fn the_sock_index_answers_what_the_full_scan_does() {
        let mut x = 7u64;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let socks = ["a", "b", "c"];
        let attempts: Vec<Attempt> = (0..500)
            .map(|_| {
                let sock = (next(4) > 0).then(|| socks[next(3) as usize]);
                // Coarse start times: many ties.
                attempt(Kind::Tcp, sock, next(50) * 1_000_000)
            })
            .collect();
        let index = SockIndex::new(&attempts);
        for _ in 0..2_000 {
            let (sock, ts) = (socks[next(3) as usize], next(60) * 1_000_000 + next(3));
            assert_eq!(
                index.latest(sock, ts),
                by_sock_reference(&attempts, sock, ts),
                "{sock} at {ts}"
            );
        }
        assert_eq!(index.latest("none", 1), None);
    }
}
