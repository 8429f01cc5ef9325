//! Sockets that were already open when `gotrace attach` started.
//!
//! Their socket() and connect() happened before the probes were attached,
//! so `events.jsonl` holds only what came after: getsockopt(SO_ERROR),
//! read/write and close on the fd. The kernel's events (`tcp_state`,
//! `tcp_retransmit`, `tcp_receive_reset`, `tcp_send_reset`) and the packets
//! carry the 5-tuple. meta.json's `attach.pre_existing` snapshot (fd, local
//! and remote address, state, from /proc/N/fd and /proc/N/net/*) joins the
//! two:
//!
//! - [`seeds`]: one attempt per TCP socket with a peer (not `LISTEN`) and
//!   per connected UDP socket to port 53 (a DNS exchange of Go's resolver),
//!   keyed like any socket by (attached pid, fd) so that events.rs continues
//!   it on the first syscall on that fd. Its `local` is the snapshot's, so
//!   wire.rs finds its packets by 5-tuple; a TCP socket in a state past the
//!   handshake (`ESTABLISHED`, `CLOSE_WAIT`, ...) counts as established.
//!   Other connected UDP sockets are skipped, as events.rs skips UDP
//!   connects off port 53 (Go's source-address selection, no traffic).
//! - [`link`]: a TCP attempt learns its kernel socket address (`sock`) from
//!   the first kernel event with its 5-tuple, so kernel.rs links the rest
//!   (retransmits, resets, drops) by address as for any dial, and gets the
//!   `tcp_state` changes of that socket until it is closed.
//!
//! Such attempts have [`Attempt::pre_existing`] set, no `connect` fact, and
//! start at the attach time (meta.json `start_monotonic_ns`), which is only
//! a lower bound of the dial's age.

use super::{Attempt, Correlation, Kind, Source, Step};
use crate::clock::Clock;
use crate::proto::dns;
use gotrace_bundle::{Event, Meta, Op, PreExistingSocket, SockAddr, TcpState};

/// TCP states past the handshake (include/net/tcp_states.h): the
/// connection was established before the attach.
const CONNECTED_STATES: [TcpState; 6] = [
    TcpState::Established,
    TcpState::FinWait1,
    TcpState::FinWait2,
    TcpState::CloseWait,
    TcpState::Closing,
    TcpState::LastAck,
];

/// Kernel events of the 5-tuple up to this long (ns) after the fd's close
/// still belong to it (the FIN/RST exchange after close()).
const AFTER_CLOSE_NS: u64 = 1_000_000_000;

/// Linux's task comm length, NUL included (include/linux/sched.h TASK_COMM_LEN).
const TASK_COMM_LEN: usize = 16;

/// One attempt per socket of meta.json `attach.pre_existing` that can carry
/// a module fetch (see the module doc); none for a `gotrace run` bundle.
pub(super) fn seeds(meta: &Meta) -> Vec<Attempt> {
    let Some(at) = &meta.attach else {
        return Vec::new();
    };
    let comm = comm_of(&meta.argv);
    at.pre_existing
        .iter()
        .filter_map(|s| {
            // A descendant's socket is keyed by that process, with its comm.
            let (pid, comm) = match (s.pid, &s.comm) {
                (Some(p), Some(c)) => (p, c.as_str()),
                (Some(p), None) => (p, ""),
                _ => (at.pid, comm.as_str()),
            };
            seed(s, pid, comm, meta.start_monotonic_ns)
        })
        .collect()
}

fn seed(s: &PreExistingSocket, pid: u32, comm: &str, start_ns: u64) -> Option<Attempt> {
    if s.fd < 0 {
        return None;
    }
    // /proc/net shows an unconnected socket's remote end as 0.0.0.0:0.
    let peer = s
        .peer
        .as_ref()
        .map(SockAddr::canonical)
        .filter(|p| !p.ip().is_unspecified() && p.port() != 0)?;
    let kind = match s.proto.as_str() {
        "tcp" if s.state != TcpState::Listen => Kind::Tcp,
        "udp" if peer.port() == dns::PORT => Kind::Dns,
        _ => return None,
    };
    let mut a = Attempt::at(kind, pid, comm, start_ns, s.fd, peer);
    a.local = Some(s.local.canonical()).filter(|l| l.port() != 0);
    a.pre_existing = true;
    a.state_at_attach = Some(s.state);
    a.established = kind == Kind::Tcp && CONNECTED_STATES.contains(&s.state);
    Some(a)
}

/// Links the pre-existing TCP attempts of `c` to their kernel socket and its
/// `tcp_state` changes; any pre-existing attempt means the process used the
/// network (before the attach).
pub(super) fn link(c: &mut Correlation, events: &[Event], clock: &Clock) {
    for a in c.attempts.iter_mut().filter(|a| a.pre_existing) {
        c.any_network_syscall = true;
        if a.kind != Kind::Tcp {
            continue;
        }
        let Some(local) = a.local else { continue };
        let until = a
            .close_ns
            .map_or(u64::MAX, |t| t.saturating_add(AFTER_CLOSE_NS));
        let sock = events
            .iter()
            .filter(|e| e.ts_ns <= until)
            .filter_map(five_tuple)
            .find(|(_, l, p)| l.canonical() == local && p.canonical() == a.peer)
            .map(|(sock, _, _)| sock);
        let Some(sock) = sock else { continue };
        a.sock = Some(sock.to_string());
        for e in events {
            let Op::TcpState {
                sock: s,
                old,
                new,
                local,
                peer,
            } = &e.op
            else {
                continue;
            };
            if s != sock {
                continue;
            }
            // CLOSE -> SYN_SENT: the struct's next connection, not this one.
            if *old == TcpState::Close {
                break;
            }
            a.steps.push(Step {
                source: Source::Event,
                id: e.id,
                t_ms: Some(clock.event_ms(e.ts_ns)),
                text: format!("tcp {local} > {peer} {old} -> {new}"),
            });
            a.end_ns = a.end_ns.max(e.ts_ns);
            if *new == TcpState::Established {
                a.established = true;
            }
            if *new == TcpState::Close {
                break;
            }
        }
    }
}

impl Attempt {
    /// For a socket open before `gotrace attach` ([`Attempt::pre_existing`]):
    /// what the snapshot taken at attach says, `fd 7: tcp 198.18.0.1:40000 >
    /// 198.18.0.2:8080 SYN_SENT` (UDP: `connected`); `None` for a socket the
    /// trace saw created.
    pub fn at_attach(&self) -> Option<String> {
        if !self.pre_existing {
            return None;
        }
        let local = self
            .local
            .map_or_else(|| "?".to_string(), |l| l.to_string());
        Some(format!(
            "fd {}: {} {local} > {} {}",
            self.fd,
            self.proto(),
            self.peer,
            self.attach_state()
        ))
    }

    /// For a socket open before `gotrace attach`: the clause a summary adds
    /// so as not to imply there was no connect, `connect() happened before
    /// gotrace attached (fd 7 was SYN_SENT then)`.
    pub fn attach_note(&self) -> Option<String> {
        self.pre_existing.then(|| {
            format!(
                "connect() happened before gotrace attached (fd {} was {} then)",
                self.fd,
                self.attach_state()
            )
        })
    }

    fn proto(&self) -> &'static str {
        match self.kind {
            Kind::Tcp => "tcp",
            Kind::Dns => "udp",
        }
    }

    /// The snapshot's state; a UDP socket's `ESTABLISHED` means connected.
    fn attach_state(&self) -> &str {
        match (self.kind, self.state_at_attach) {
            (Kind::Dns, Some(TcpState::Established)) => "connected",
            (_, Some(s)) => s.name(),
            (_, None) => "open",
        }
    }
}

/// The kernel socket address and 5-tuple a TCP kernel event names.
fn five_tuple(e: &Event) -> Option<(&str, &SockAddr, &SockAddr)> {
    match &e.op {
        Op::TcpState {
            sock, local, peer, ..
        }
        | Op::TcpRetransmit {
            sock, local, peer, ..
        }
        | Op::TcpReceiveReset { sock, local, peer } => Some((sock.as_str(), local, peer)),
        Op::TcpSendReset {
            sock,
            local: Some(local),
            peer: Some(peer),
            ..
        } => Some((sock.as_str(), local, peer)),
        _ => None,
    }
}

/// The traced program's comm as the kernel shows it: the basename of
/// `argv[0]`, cut to 15 bytes.
fn comm_of(argv: &[String]) -> String {
    let prog = argv
        .first()
        .map_or("", |a| a.rsplit('/').next().unwrap_or(a));
    let mut end = prog.len().min(TASK_COMM_LEN - 1);
    while !prog.is_char_boundary(end) {
        end -= 1;
    }
    prog.get(..end).unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotrace_bundle::{Attach, ClockMap};

    const CLOCK: Clock = Clock {
        start_ns: 1_000,
        realtime_minus_monotonic_ns: 0,
        uncertainty_ns: 0,
    };

    fn addr(s: &str) -> SockAddr {
        s.parse().unwrap()
    }

    fn sock(
        fd: i32,
        proto: &str,
        local: &str,
        peer: Option<&str>,
        state: &str,
    ) -> PreExistingSocket {
        PreExistingSocket {
            fd,
            inode: 4242 + fd as u64,
            proto: proto.into(),
            local: addr(local),
            peer: peer.map(addr),
            state: TcpState::from_name(state),
            pid: None,
            comm: None,
        }
    }

    fn meta(pre_existing: Vec<PreExistingSocket>) -> Meta {
        Meta {
            format_version: 1,
            gotrace_version: "0.1.0".into(),
            mode: "attach".into(),
            argv: vec!["/usr/local/go/bin/go-with-a-long-name".into(), "mod".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            root_pid: 7,
            start_time: String::new(),
            start_monotonic_ns: 1_000,
            end_monotonic_ns: None,
            clock: ClockMap {
                realtime_minus_monotonic_ns: 0,
                uncertainty_ns: 0,
            },
            kernel_release: String::new(),
            exit: None,
            lost_events: 0,
            dropped_packets: 0,
            env: Default::default(),
            interfaces: vec![],
            warnings: vec![],
            drop_reasons: Default::default(),
            kernel_events: None,
            resolv_conf: None,
            firewall: None,
            attach: Some(Attach {
                pid: 7,
                netns: None,
                pre_existing,
                descendants: Vec::new(),
                ended_by: None,
            }),
            redacted: None,
            local_network: None,
        }
    }

    fn event(id: u64, ts_ns: u64, op: Op) -> Event {
        Event {
            id,
            ts_ns,
            tgid: 7,
            tid: 0,
            comm: "go".into(),
            op,
        }
    }

    #[test]
    fn only_sockets_that_can_carry_a_fetch_are_seeded() {
        let m = meta(vec![
            sock(3, "tcp", "0.0.0.0:6060", None, "LISTEN"),
            sock(4, "udp", "198.18.0.1:5353", None, "CLOSE"),
            sock(
                5,
                "udp",
                "198.18.0.1:40001",
                Some("198.18.0.2:9"),
                "ESTABLISHED",
            ),
            sock(
                6,
                "udp",
                "198.18.0.1:40002",
                Some("198.18.0.2:53"),
                "ESTABLISHED",
            ),
            sock(
                7,
                "tcp",
                "[::ffff:198.18.0.1]:40000",
                Some("[::ffff:198.18.0.2]:8080"),
                "SYN_SENT",
            ),
            sock(
                8,
                "tcp",
                "198.18.0.1:40003",
                Some("198.18.0.2:443"),
                "CLOSE_WAIT",
            ),
            sock(9, "tcp", "198.18.0.1:40004", Some("0.0.0.0:0"), "CLOSE"),
        ]);
        let s = seeds(&m);
        let got: Vec<(i32, Kind, bool)> = s.iter().map(|a| (a.fd, a.kind, a.established)).collect();
        assert_eq!(
            got,
            [
                (6, Kind::Dns, false),
                (7, Kind::Tcp, false),
                (8, Kind::Tcp, true)
            ]
        );
        let a = &s[1];
        assert!(a.pre_existing && a.connect.is_none());
        assert_eq!((a.tgid, a.start_ns), (7, 1_000));
        assert_eq!(a.comm, "go-with-a-long-");
        assert_eq!(
            a.peer,
            "198.18.0.2:8080".parse::<std::net::SocketAddr>().unwrap()
        );
        assert_eq!(a.local, Some("198.18.0.1:40000".parse().unwrap()));
        assert_eq!(
            a.at_attach().as_deref(),
            Some("fd 7: tcp 198.18.0.1:40000 > 198.18.0.2:8080 SYN_SENT")
        );
        assert_eq!(
            s[0].attach_note().as_deref(),
            Some("connect() happened before gotrace attached (fd 6 was connected then)")
        );
        assert!(seeds(&Meta { attach: None, ..m }).is_empty());
    }

    #[test]
    fn a_descendant_s_socket_is_keyed_by_that_process() {
        let mut child = sock(
            5,
            "tcp",
            "198.18.0.1:40010",
            Some("198.18.0.2:8080"),
            "SYN_SENT",
        );
        child.pid = Some(8);
        child.comm = Some("go".into());
        let s = seeds(&meta(vec![child]));
        assert_eq!(
            s.iter()
                .map(|a| (a.tgid, a.comm.as_str(), a.fd))
                .collect::<Vec<_>>(),
            [(8, "go", 5)]
        );
    }

    #[test]
    fn the_kernel_socket_comes_from_the_five_tuple_and_its_life_ends_at_close() {
        let m = meta(vec![sock(
            7,
            "tcp",
            "198.18.0.1:40000",
            Some("198.18.0.2:8080"),
            "SYN_SENT",
        )]);
        let (local, peer) = (addr("198.18.0.1:40000"), addr("198.18.0.2:8080"));
        let state = |sock: &str, old: &str, new: &str, local: &SockAddr| Op::TcpState {
            sock: sock.into(),
            old: TcpState::from_name(old),
            new: TcpState::from_name(new),
            local: local.clone(),
            peer: peer.clone(),
        };
        let events = vec![
            // Another socket to the same peer: not ours.
            event(
                1,
                2_000,
                state("0xb", "CLOSE", "SYN_SENT", &addr("198.18.0.1:0")),
            ),
            event(
                2,
                3_000,
                Op::TcpReceiveReset {
                    sock: "0xa".into(),
                    local: local.clone(),
                    peer: peer.clone(),
                },
            ),
            event(3, 3_100, state("0xa", "SYN_SENT", "CLOSE", &local)),
            // The struct reused by a later dial.
            event(
                4,
                9_000,
                state("0xa", "CLOSE", "SYN_SENT", &addr("198.18.0.1:0")),
            ),
            event(
                5,
                9_100,
                state("0xa", "SYN_SENT", "ESTABLISHED", &addr("198.18.0.1:40009")),
            ),
        ];
        let mut c = Correlation {
            attempts: seeds(&m),
            ..Correlation::default()
        };
        link(&mut c, &events, &CLOCK);
        assert!(c.any_network_syscall);
        let a = &c.attempts[0];
        assert_eq!(a.sock.as_deref(), Some("0xa"));
        let ids: Vec<u64> = a.steps.iter().map(|s| s.id).collect();
        assert_eq!(ids, [3], "only this socket's own changes");
        assert_eq!(
            a.steps[0].text,
            "tcp 198.18.0.1:40000 > 198.18.0.2:8080 SYN_SENT -> CLOSE"
        );
        assert!(!a.established);
        assert_eq!(a.end_ns, 3_100);
    }
}
