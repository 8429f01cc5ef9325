//! First pass: attempts from the syscall events alone.

use std::collections::HashMap;

use super::kept::Kept;
use super::route;
use super::{AppObs, Attempt, Correlation, EventFact, Kind, Source, Step};
use crate::capture::AppSummary;
use crate::clock::Clock;
use crate::describe::{self, describe};
use crate::proto::dns::{self, DnsMessage};
use crate::proto::errno;
use gotrace_bundle::{
    Event, FdChange, FdTable, Io, Op, SockAddr, TcpState, AF_INET, AF_INET6, SOCK_DGRAM,
    SOCK_STREAM,
};

#[derive(Debug, Clone)]
struct SockInfo {
    sock_type: u16,
    event: Step,
    /// The socket(2) event's thread and time (ns), for [`Kept::cited`].
    tid: u32,
    ts_ns: u64,
    /// The kernel socket address the socket(2) event carried.
    sock: Option<String>,
}

/// The open attempts: by (TGID, fd) as the events name them, and by kernel
/// socket address where the events carry one (the probes read it from the
/// kernel's fd table), so that an fd number that came to name another
/// socket without a close the trace saw (dup2, close_range, an exec's
/// CLOEXEC) is not taken for the old one, and a duplicated fd is.
#[derive(Default)]
struct Open {
    by_fd: HashMap<(u32, i32), usize>,
    by_sock: HashMap<String, usize>,
}

impl Open {
    fn insert(&mut self, key: (u32, i32), sock: Option<&str>, i: usize) {
        self.by_fd.insert(key, i);
        if let Some(s) = sock {
            self.by_sock.insert(s.to_string(), i);
        }
    }

    /// The attempt event `(key, sock)` belongs to: the one open on the fd
    /// unless the kernel says the fd now names another socket (then that
    /// attempt is over), else the one open on the socket.
    fn find(&mut self, attempts: &[Attempt], key: (u32, i32), sock: Option<&str>) -> Option<usize> {
        if let Some(&i) = self.by_fd.get(&key) {
            let known = attempts.get(i).and_then(|a| a.sock.as_deref());
            match (known, sock) {
                (Some(k), Some(s)) if k != s => {
                    self.by_fd.remove(&key);
                }
                _ => return Some(i),
            }
        }
        let i = *self.by_sock.get(sock?)?;
        self.by_fd.insert(key, i);
        Some(i)
    }

    fn remove(&mut self, attempts: &[Attempt], key: (u32, i32)) -> Option<usize> {
        let i = self.by_fd.remove(&key)?;
        if let Some(s) = attempts.get(i).and_then(|a| a.sock.as_deref()) {
            if self.by_sock.get(s) == Some(&i) {
                self.by_sock.remove(s);
            }
        }
        Some(i)
    }
}

/// A `tcp_state` change, kept to link TCP attempts to their 5-tuple.
#[derive(Debug, Clone)]
struct TcpChange<'a> {
    ev: &'a Event,
    sock: &'a str,
    old: TcpState,
    new: TcpState,
    local: &'a SockAddr,
    peer: &'a SockAddr,
    used: bool,
}

impl<'a> TcpChange<'a> {
    /// The change `ev` records, if it is a `tcp_state` event.
    fn of(ev: &'a Event) -> Option<TcpChange<'a>> {
        let Op::TcpState {
            sock,
            old,
            new,
            local,
            peer,
        } = &ev.op
        else {
            return None;
        };
        Some(TcpChange {
            ev,
            sock,
            old: *old,
            new: *new,
            local,
            peer,
            used: false,
        })
    }
}

/// The first pass, one event at a time: attempts from the syscall
/// events alone. Keeps per socket only what later events of it need, and
/// of the events themselves only what the later passes read ([`Kept`]).
pub(super) struct Pass<'c> {
    out: Correlation,
    sockets: FdTable<SockInfo>,
    open: Open,
    kept: Kept,
    /// Failed route lookups awaiting the connect they were made in.
    routes: route::Pending,
    clock: &'c Clock,
}

impl<'c> Pass<'c> {
    /// `seeds` are sockets opened before the trace (preexisting.rs): later
    /// syscalls on their (tgid, fd) continue them.
    pub(super) fn new(clock: &'c Clock, seeds: Vec<Attempt>) -> Pass<'c> {
        let mut out = Correlation::default();
        let mut open = Open::default();
        for a in seeds {
            open.insert((a.tgid, a.fd), None, out.attempts.len());
            out.attempts.push(a);
        }
        Pass {
            out,
            sockets: FdTable::new(),
            open,
            kept: Kept::default(),
            routes: route::Pending::default(),
            clock,
        }
    }

    /// The clock the steps' times are read with.
    pub(super) fn clock(&self) -> &'c Clock {
        self.clock
    }

    /// The next event, in canonical order (order.rs).
    pub(super) fn push(&mut self, ev: Event) {
        self.kept.count += 1;
        self.apply(&ev);
        self.kept.keep(ev);
    }

    /// The attempts from every event pushed, their TCP attempts linked to
    /// their `tcp_state` changes, and what the later passes need.
    pub(super) fn finish(mut self) -> (Correlation, Kept) {
        let mut changes: Vec<TcpChange<'_>> =
            self.kept.kernel.iter().filter_map(TcpChange::of).collect();
        link_tcp_states(&mut self.out.attempts, &mut changes, self.clock);
        drop(changes);
        (self.out, self.kept)
    }

    fn apply(&mut self, ev: &Event) {
        let clock = self.clock;
        let step = |ev: &Event, text: String| Step {
            source: Source::Event,
            id: ev.id,
            t_ms: Some(clock.event_ms(ev.ts_ns)),
            text,
        };
        let Pass {
            out,
            sockets,
            open,
            kept,
            routes,
            ..
        } = self;
        if routes.see(ev, || step(ev, describe(ev).unwrap_or_default())) {
            return;
        }
        if is_syscall(&ev.op) && !matches!(ev.op, Op::Connect { .. }) {
            routes.clear(ev.tid);
        }
        let cited = &mut kept.cited;
        let change = sockets.apply(ev, |ev, sock_type| SockInfo {
            sock_type,
            event: step(ev, describe(ev).unwrap_or_default()),
            tid: ev.tid,
            ts_ns: ev.ts_ns,
            sock: match &ev.op {
                Op::Socket { sock, .. } => sock.clone(),
                _ => None,
            },
        });
        match &ev.op {
            Op::Socket { domain, .. } => {
                if *domain == AF_INET || *domain == AF_INET6 {
                    out.any_network_syscall = true;
                }
                // A new socket on a reused number: the old attempt is over.
                if let FdChange::Opened(fd) = change {
                    open.remove(&out.attempts, (ev.tgid, fd));
                }
            }
            Op::Connect {
                fd,
                ret,
                peer,
                sock,
                ..
            } => {
                let Some(peer) = peer else { return };
                out.any_network_syscall = true;
                let key = (ev.tgid, *fd);
                let info = sockets.get(ev.tgid, *fd);
                let is_dns_port = peer.port == dns::PORT;
                let kind = match info.map(|i| i.sock_type) {
                    Some(SOCK_STREAM) => Kind::Tcp,
                    Some(SOCK_DGRAM) if is_dns_port => Kind::Dns,
                    // Other UDP connects are Go's source-address selection
                    // (RFC 6724 sorting dials UDP without sending): no traffic.
                    Some(_) => return,
                    None if is_dns_port => Kind::Dns,
                    None => Kind::Tcp,
                };
                let mut a = Attempt::new(kind, ev, *fd, peer.canonical());
                a.sock = sock.clone().or_else(|| info.and_then(|i| i.sock.clone()));
                if let Some(i) = info {
                    cited.push((i.event.id, i.tid, i.ts_ns));
                    a.steps.push(i.event.clone());
                }
                for (s, fact) in routes.take(ev, peer.ip) {
                    a.steps.push(s);
                    a.route_lookups.push(fact);
                }
                cited.push((ev.id, ev.tid, ev.ts_ns));
                a.steps.push(step(ev, describe(ev).unwrap_or_default()));
                a.connect = Some(EventFact {
                    id: ev.id,
                    ts_ns: ev.ts_ns,
                    value: *ret,
                });
                let sock = a.sock.clone();
                out.attempts.push(a);
                open.insert(key, sock.as_deref(), out.attempts.len() - 1);
            }
            Op::SoError {
                fd, so_error, sock, ..
            } => {
                let Some(a) = open
                    .find(&out.attempts, (ev.tgid, *fd), sock.as_deref())
                    .and_then(|i| out.attempts.get_mut(i))
                else {
                    return;
                };
                cited.push((ev.id, ev.tid, ev.ts_ns));
                a.steps.push(step(ev, describe(ev).unwrap_or_default()));
                a.end_ns = ev.ts_ns;
                a.so_error = Some(EventFact {
                    id: ev.id,
                    ts_ns: ev.ts_ns,
                    value: *so_error,
                });
            }
            Op::Send(Io {
                syscall,
                fd,
                ret,
                peer,
                data_hex,
                sock,
                ..
            }) => {
                let key = (ev.tgid, *fd);
                let idx = match open.find(&out.attempts, key, sock.as_deref()) {
                    Some(i) => i,
                    None => {
                        // Unconnected sendto to a name server (libc resolver).
                        let Some(p) = peer.as_ref().filter(|p| p.port == dns::PORT) else {
                            return;
                        };
                        out.any_network_syscall = true;
                        let mut a = Attempt::new(Kind::Dns, ev, *fd, p.canonical());
                        a.sock = sock.clone();
                        if let Some(i) = sockets.get(ev.tgid, *fd) {
                            cited.push((i.event.id, i.tid, i.ts_ns));
                            a.steps.push(i.event.clone());
                        }
                        out.attempts.push(a);
                        open.insert(key, sock.as_deref(), out.attempts.len() - 1);
                        out.attempts.len() - 1
                    }
                };
                let Some(a) = out.attempts.get_mut(idx) else {
                    return;
                };
                let msg = dns_of(a, data_hex.as_deref());
                let app = app_of(a, ev, data_hex.as_deref(), false);
                let text = io_text(syscall, *fd, *ret, msg.as_ref(), app.as_ref());
                cited.push((ev.id, ev.tid, ev.ts_ns));
                a.steps.push(step(ev, text));
                a.app.extend(app);
                a.end_ns = ev.ts_ns;
                if *ret > 0 {
                    a.data_moved |= a.kind == Kind::Tcp;
                    a.last_send_ns = Some(ev.ts_ns);
                } else if let Some(e) = errno::of_ret(*ret) {
                    a.send_errno.get_or_insert(EventFact {
                        id: ev.id,
                        ts_ns: ev.ts_ns,
                        value: e,
                    });
                }
                if let Some(m) = msg.filter(|m| !m.response) {
                    a.queries.push(EventFact {
                        id: ev.id,
                        ts_ns: ev.ts_ns,
                        value: m,
                    });
                }
            }
            Op::Recv(Io {
                syscall,
                fd,
                ret,
                data_hex,
                sock,
                ..
            }) => {
                let Some(a) = open
                    .find(&out.attempts, (ev.tgid, *fd), sock.as_deref())
                    .and_then(|i| out.attempts.get_mut(i))
                else {
                    return;
                };
                let (msg, app) = if *ret > 0 {
                    (
                        dns_of(a, data_hex.as_deref()),
                        app_of(a, ev, data_hex.as_deref(), true),
                    )
                } else {
                    (None, None)
                };
                let text = io_text(syscall, *fd, *ret, msg.as_ref(), app.as_ref());
                cited.push((ev.id, ev.tid, ev.ts_ns));
                a.steps.push(step(ev, text));
                a.app.extend(app);
                a.end_ns = ev.ts_ns;
                if let Some(e) = errno::of_ret(*ret) {
                    a.read_errno = Some(EventFact {
                        id: ev.id,
                        ts_ns: ev.ts_ns,
                        value: e,
                    });
                } else if *ret > 0 {
                    a.data_moved |= a.kind == Kind::Tcp;
                    a.received = true;
                } else if *ret == 0 && a.kind == Kind::Tcp {
                    a.read_eof.get_or_insert(EventFact {
                        id: ev.id,
                        ts_ns: ev.ts_ns,
                        value: (),
                    });
                }
                if let Some(m) = msg.filter(|m| m.response) {
                    a.answers.push(EventFact {
                        id: ev.id,
                        ts_ns: ev.ts_ns,
                        value: m,
                    });
                }
            }
            Op::Close { fd, sock, .. } => {
                let key = (ev.tgid, *fd);
                let found = open.find(&out.attempts, key, sock.as_deref());
                let found = found.and_then(|_| open.remove(&out.attempts, key));
                if let Some(a) = found.and_then(|i| out.attempts.get_mut(i)) {
                    a.end_ns = ev.ts_ns;
                    a.closed = true;
                    a.close_ns = Some(ev.ts_ns);
                }
            }
            // Kept (Kept::keep) and linked to TCP attempts in `finish`.
            Op::TcpState { .. } => {}
            Op::Exec { filename } => out.execs.push((ev.id, ev.ts_ns, filename.clone())),
            Op::Fork { .. } | Op::Exit { .. } => {}
            // Kernel verdicts are linked to attempts by socket later.
            Op::TcpRetransmit { .. }
            | Op::TcpReceiveReset { .. }
            | Op::TcpSendReset { .. }
            | Op::SkbDrop { .. }
            // Taken by `routes` above.
            | Op::RouteLookup { .. } => {}
        }
    }
}

/// [`Pass`] over `events`, already in canonical order.
#[cfg(test)]
pub(super) fn from_events(events: &[Event], clock: &Clock, seeds: Vec<Attempt>) -> Correlation {
    let mut pass = Pass::new(clock, seeds);
    for ev in events {
        pass.push(ev.clone());
    }
    pass.finish().0
}

/// How a send/recv syscall reads in a timeline, with the DNS message or
/// TLS/HTTP head it carried, if any.
fn io_text(
    syscall: &str,
    fd: i32,
    ret: i64,
    msg: Option<&DnsMessage>,
    app: Option<&AppObs>,
) -> String {
    let what = match (msg, app) {
        (Some(m), _) => Some(format!("DNS {}", m.summary())),
        (None, Some(o)) => Some(o.summary.describe()),
        (None, None) => None,
    };
    describe::io_line(syscall, fd, None, ret, what.as_deref())
}

/// The TLS/HTTP head in a TCP syscall's payload head.
fn app_of(a: &Attempt, ev: &Event, data_hex: Option<&str>, from_peer: bool) -> Option<AppObs> {
    if a.kind != Kind::Tcp {
        return None;
    }
    let summary = AppSummary::sniff(&dns::from_hex(data_hex?)?)?;
    Some(AppObs {
        source: Source::Event,
        id: ev.id,
        from_peer,
        summary,
    })
}

fn dns_of(a: &Attempt, data_hex: Option<&str>) -> Option<DnsMessage> {
    if a.kind != Kind::Dns {
        return None;
    }
    DnsMessage::parse(&dns::from_hex(data_hex?)?)
}

/// Gives each TCP attempt its local address from the nearest SYN_SENT
/// change to the same peer, then attaches later changes of the same socket.
///
/// Indexed ([`ChangeIndex`]) so a trace of many dials stays linear-ish:
/// scanning every change for every attempt took 220 s for the 350k dials
/// of `cargo xtask bench`'s syscalls workload.
fn link_tcp_states(attempts: &mut [Attempt], changes: &mut [TcpChange<'_>], clock: &Clock) {
    let index = ChangeIndex::new(changes);
    for a in attempts.iter_mut().filter(|a| a.kind == Kind::Tcp) {
        let Some(c) = &a.connect else { continue };
        let t = c.ts_ns;
        let Some(i) = index.syn_sent_for(changes, a, t) else {
            continue;
        };
        let Some(first) = changes.get(i) else {
            continue;
        };
        let sock = first.sock.to_string();
        a.sock = Some(sock.clone());
        let start = first.ev.ts_ns;
        // The kernel enters SYN_SENT before it binds the source port, so
        // the SYN_SENT change carries port 0; a later change of the same
        // socket (ESTABLISHED, CLOSE) names the real one.
        let mut life = Vec::new();
        for j in index.of_sock(changes, &sock, start) {
            let ch = &changes[j];
            // A CLOSE -> SYN_SENT after the first is the struct's next life.
            if j != i && ch.old == TcpState::Close && !life.is_empty() {
                break;
            }
            life.push(j);
        }
        for j in life {
            let Some(ch) = changes.get_mut(j) else {
                continue;
            };
            ch.used = true;
            if ch.local.port != 0 && a.local.is_none() {
                a.local = Some(ch.local.canonical());
            }
            if ch.new == TcpState::Established {
                a.established = true;
            }
            if ch.new == TcpState::CloseWait {
                a.close_wait.get_or_insert(EventFact {
                    id: ch.ev.id,
                    ts_ns: ch.ev.ts_ns,
                    value: (),
                });
            }
            a.end_ns = a.end_ns.max(ch.ev.ts_ns);
            a.steps.push(Step {
                source: Source::Event,
                id: ch.ev.id,
                t_ms: Some(clock.event_ms(ch.ev.ts_ns)),
                text: describe(ch.ev).unwrap_or_default(),
            });
        }
    }
}

/// SYN_SENT is set inside connect(), before its exit event: the change
/// may be this far before (or after) the connect event, ns.
const SYN_SENT_WINDOW_NS: u64 = 50_000_000;

/// Where to look among the changes: the SYN_SENT ones in time order and
/// each socket's, by position. Answers exactly what scanning every change
/// in order would (the tests compare the two); the time-based shortcuts
/// are taken only when the changes are in time order, as the bundle
/// reader leaves them.
struct ChangeIndex<'a> {
    /// Positions of SYN_SENT changes, ascending.
    syn_sent: Vec<usize>,
    /// Positions of each socket's changes, ascending.
    by_sock: HashMap<&'a str, Vec<usize>>,
    /// Whether the changes' times never decrease.
    sorted: bool,
}

impl<'a> ChangeIndex<'a> {
    fn new(changes: &[TcpChange<'a>]) -> ChangeIndex<'a> {
        let mut by_sock: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (j, ch) in changes.iter().enumerate() {
            by_sock.entry(ch.sock).or_default().push(j);
        }
        ChangeIndex {
            syn_sent: (0..changes.len())
                .filter(|&j| changes[j].new == TcpState::SynSent)
                .collect(),
            by_sock,
            sorted: changes.windows(2).all(|w| w[0].ev.ts_ns <= w[1].ev.ts_ns),
        }
    }

    /// The unused SYN_SENT change to `a`'s peer within the window around
    /// `t`, preferring `a`'s process, then the nearest in time, then the
    /// first in order.
    fn syn_sent_for(&self, changes: &[TcpChange<'_>], a: &Attempt, t: u64) -> Option<usize> {
        let (from, to) = (
            t.saturating_sub(SYN_SENT_WINDOW_NS),
            t.saturating_add(SYN_SENT_WINDOW_NS),
        );
        let key = |j: usize| {
            let ch = &changes[j];
            // The connect's own socket address, when its event carried
            // one, makes the match exact.
            let ok = !ch.used
                && ch.ev.ts_ns.saturating_add(SYN_SENT_WINDOW_NS) >= t
                && ch.ev.ts_ns <= to
                && ch.peer.canonical() == a.peer
                && a.sock.as_deref().is_none_or(|s| s == ch.sock);
            ok.then(|| (ch.ev.tgid != a.tgid, ch.ev.ts_ns.abs_diff(t), j))
        };
        if !self.sorted {
            return self
                .syn_sent
                .iter()
                .filter_map(|&j| key(j))
                .min()
                .map(|k| k.2);
        }
        // Walk outward from `t`, nearest first: once a change of `a`'s own
        // process is found, nothing farther can beat it.
        let ts = |j: usize| changes[j].ev.ts_ns;
        let lo = self.syn_sent.partition_point(|&j| ts(j) < from);
        let hi = self.syn_sent.partition_point(|&j| ts(j) <= to);
        let mid = self.syn_sent.partition_point(|&j| ts(j) < t).clamp(lo, hi);
        let (mut left, mut right) = (mid, mid);
        let mut best: Option<(bool, u64, usize)> = None;
        loop {
            let l = (left > lo).then(|| self.syn_sent[left - 1]);
            let r = (right < hi).then(|| self.syn_sent[right]);
            let next = match (l, r) {
                (Some(l), Some(r)) if t - ts(l) <= ts(r) - t => l,
                (Some(l), None) => l,
                (_, Some(r)) => r,
                (None, None) => break,
            };
            if let Some((false, dist, _)) = best {
                if ts(next).abs_diff(t) > dist {
                    break;
                }
            }
            if next == l.unwrap_or(usize::MAX) {
                left -= 1;
            } else {
                right += 1;
            }
            if let Some(k) = key(next) {
                best = Some(best.map_or(k, |b| b.min(k)));
            }
        }
        best.map(|k| k.2)
    }

    /// Positions of `sock`'s changes at or after `start`, ascending.
    fn of_sock<'s>(
        &'s self,
        changes: &'s [TcpChange<'_>],
        sock: &str,
        start: u64,
    ) -> impl Iterator<Item = usize> + 's {
        let all = self.by_sock.get(sock).map_or(&[][..], Vec::as_slice);
        let skip = if self.sorted {
            all.partition_point(|&j| changes[j].ev.ts_ns < start)
        } else {
            0
        };
        all[skip..]
            .iter()
            .copied()
            .filter(move |&j| changes[j].ev.ts_ns >= start)
    }
}

/// A syscall event of the calling thread (not a kernel event, which may
/// run in softirq on any thread).
fn is_syscall(op: &Op) -> bool {
    matches!(
        op,
        Op::Socket { .. }
            | Op::Connect { .. }
            | Op::SoError { .. }
            | Op::Send(_)
            | Op::Recv(_)
            | Op::Close { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotrace_bundle::Op;

    fn ev(id: u64, op: Op) -> Event {
        Event {
            id,
            ts_ns: 1_000 + id * 1_000,
            tgid: 5,
            tid: 6,
            comm: "go".into(),
            op,
        }
    }

    fn peer(port: u16) -> Option<SockAddr> {
        Some(SockAddr {
            ip: "198.18.0.2".parse().unwrap(),
            port,
        })
    }

    fn socket(id: u64, fd: i64, sock_type: u16) -> Event {
        ev(
            id,
            Op::Socket {
                ret: fd,
                errno: None,
                domain: AF_INET,
                sock_type,
                protocol: 0,
                sock: None,
            },
        )
    }

    fn connect(id: u64, fd: i32, port: u16, ret: i64) -> Event {
        ev(
            id,
            Op::Connect {
                fd,
                ret,
                errno: None,
                peer: peer(port),
                sock: None,
            },
        )
    }

    const CLOCK: Clock = Clock {
        start_ns: 0,
        realtime_minus_monotonic_ns: 0,
        uncertainty_ns: 0,
    };

    /// A trace without sockets opened before it.
    fn from_events(events: &[Event], clock: &Clock) -> Correlation {
        super::from_events(events, clock, Vec::new())
    }

    #[test]
    fn udp_connect_off_port_53_is_address_selection_not_an_attempt() {
        let c = from_events(&[socket(1, 3, SOCK_DGRAM), connect(2, 3, 9, 0)], &CLOCK);
        assert!(c.attempts.is_empty());
        assert!(c.any_network_syscall);
    }

    #[test]
    fn fd_reuse_starts_a_new_attempt() {
        let events = [
            socket(1, 7, SOCK_STREAM),
            connect(2, 7, 8080, -115),
            ev(3, Op::close(7)),
            socket(4, 7, SOCK_STREAM),
            connect(5, 7, 8081, -115),
            ev(
                6,
                Op::SoError {
                    fd: 7,
                    ret: 0,
                    so_error: 111,
                    so_error_name: None,
                    sock: None,
                },
            ),
        ];
        let c = from_events(&events, &CLOCK);
        assert_eq!(c.attempts.len(), 2);
        let (a, b) = (&c.attempts[0], &c.attempts[1]);
        assert!(a.closed && a.so_error.is_none());
        assert_eq!(b.peer.port(), 8081);
        assert_eq!(b.so_error.as_ref().map(|s| (s.id, s.value)), Some((6, 111)));
        assert_eq!(b.steps.len(), 3, "socket, connect, getsockopt");
    }

    /// A 16-byte write on `fd`, of kernel socket `sock`.
    fn write_on(id: u64, fd: i32, sock: Option<&str>) -> Event {
        ev(
            id,
            Op::Send(Io {
                syscall: "write".into(),
                fd,
                ret: 16,
                errno: None,
                peer: None,
                data_hex: None,
                sock: sock.map(str::to_string),
            }),
        )
    }

    fn connect_sock(id: u64, fd: i32, port: u16, sock: &str) -> Event {
        let mut e = connect(id, fd, port, -115);
        if let Op::Connect { sock: s, .. } = &mut e.op {
            *s = Some(sock.into());
        }
        e
    }

    #[test]
    fn the_kernel_socket_address_decides_which_attempt_an_fd_names() {
        // fd 7 comes to name another socket without a close in the trace
        // (dup2 onto it, close_range, an exec's CLOEXEC): its I/O is not
        // the first attempt's. A dup of the second socket (fd 9) is.
        let events = [
            connect_sock(1, 7, 8080, "0xa"),
            write_on(2, 7, Some("0xa")),
            connect_sock(3, 8, 8081, "0xb"),
            write_on(4, 7, Some("0xb")),
            write_on(5, 9, Some("0xb")),
            write_on(6, 7, None),
        ];
        let c = from_events(&events, &CLOCK);
        let ids = |a: &Attempt| a.steps.iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(c.attempts.len(), 2);
        assert_eq!(ids(&c.attempts[0]), [1, 2], "{:?}", c.attempts[0].steps);
        assert_eq!(
            ids(&c.attempts[1]),
            [3, 4, 5, 6],
            "{:?}",
            c.attempts[1].steps
        );
        // Without addresses (older bundles, no BTF) the fd alone decides.
        let plain: Vec<Event> = [(1, 7), (2, 7)]
            .map(|(id, fd)| match id {
                1 => connect(id, fd, 8080, -115),
                _ => write_on(id, fd, None),
            })
            .into();
        let c = from_events(&plain, &CLOCK);
        assert_eq!(ids(&c.attempts[0]), [1, 2]);
    }

    #[test]
    fn unconnected_sendto_to_port_53_is_a_dns_attempt() {
        let q = [
            0x12u8, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'x', 0, 0, 1, 0, 1,
        ];
        let hex: String = q.iter().map(|b| format!("{b:02x}")).collect();
        let events = [
            socket(1, 4, SOCK_DGRAM),
            ev(
                2,
                Op::Send(Io {
                    syscall: "sendto".into(),
                    fd: 4,
                    ret: q.len() as i64,
                    errno: None,
                    peer: peer(53),
                    data_hex: Some(hex),
                    sock: None,
                }),
            ),
        ];
        let c = from_events(&events, &CLOCK);
        assert_eq!(c.attempts.len(), 1);
        let a = &c.attempts[0];
        assert_eq!(a.kind, Kind::Dns);
        assert_eq!(a.queries[0].value.id, 0x1234);
        assert_eq!(a.qname(), Some("x"));
    }

    #[test]
    fn failed_socket_is_not_an_fd() {
        let c = from_events(
            &[socket(1, -97, SOCK_STREAM), connect(2, -97, 80, -9)],
            &CLOCK,
        );
        assert_eq!(c.attempts.len(), 1);
        assert_eq!(
            c.attempts[0].steps.len(),
            1,
            "no socket step for a failed socket()"
        );
    }

    /// link_tcp_states as it was before ChangeIndex: every change scanned
    /// for every attempt. The reference the indexed version must match.
    fn link_reference(attempts: &mut [Attempt], changes: &mut [TcpChange<'_>], clock: &Clock) {
        // SYN_SENT is set inside connect(), before its exit event: look a little back.
        const BEFORE_NS: u64 = 50_000_000;
        for a in attempts.iter_mut().filter(|a| a.kind == Kind::Tcp) {
            let Some(c) = &a.connect else { continue };
            let t = c.ts_ns;
            let best = changes
                .iter()
                .enumerate()
                .filter(|(_, ch)| {
                    !ch.used
                        && ch.new == TcpState::SynSent
                        && ch.peer.canonical() == a.peer
                        && a.sock.as_deref().is_none_or(|s| s == ch.sock)
                        && ch.ev.ts_ns.saturating_add(BEFORE_NS) >= t
                        && ch.ev.ts_ns <= t.saturating_add(BEFORE_NS)
                })
                .min_by_key(|(_, ch)| (ch.ev.tgid != a.tgid, ch.ev.ts_ns.abs_diff(t)))
                .map(|(i, _)| i);
            let Some(i) = best else { continue };
            let Some(first) = changes.get(i) else {
                continue;
            };
            let sock = first.sock.to_string();
            a.sock = Some(sock.clone());
            let start = first.ev.ts_ns;
            // The kernel enters SYN_SENT before it binds the source port, so
            // the SYN_SENT change carries port 0; a later change of the same
            // socket (ESTABLISHED, CLOSE) names the real one.
            let mut life = Vec::new();
            for (j, ch) in changes.iter().enumerate() {
                if ch.sock != sock || ch.ev.ts_ns < start {
                    continue;
                }
                // A CLOSE -> SYN_SENT after the first is the struct's next life.
                if j != i && ch.old == TcpState::Close && !life.is_empty() {
                    break;
                }
                life.push(j);
            }
            for j in life {
                let Some(ch) = changes.get_mut(j) else {
                    continue;
                };
                ch.used = true;
                if ch.local.port != 0 && a.local.is_none() {
                    a.local = Some(ch.local.canonical());
                }
                if ch.new == TcpState::Established {
                    a.established = true;
                }
                a.end_ns = a.end_ns.max(ch.ev.ts_ns);
                a.steps.push(Step {
                    source: Source::Event,
                    id: ch.ev.id,
                    t_ms: Some(clock.event_ms(ch.ev.ts_ns)),
                    text: describe(ch.ev).unwrap_or_default(),
                });
            }
        }
    }

    /// A small deterministic generator (64-bit LCG), for the comparison.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// Many dials from two processes to two peers, kernel socket addresses
    /// reused (as the slab allocator does), SYN_SENT a little before or
    /// after its connect, some dials never reaching ESTABLISHED, equal
    /// timestamps, some CLOSE -> SYN_SENT lives: the indexed linking gives
    /// every attempt exactly what the full scan gives.
    #[test]
    fn indexed_linking_matches_the_full_scan() {
        for seed in 1..40 {
            let mut rng = Lcg(seed);
            let mut events = Vec::new();
            let mut t = 1_000_000u64;
            for n in 0..300u64 {
                t += rng.below(3) * rng.below(40_000_000);
                let sock = format!("{:x}", 0xffff_0000 + rng.below(6) * 0x100);
                let port = [8080, 8081][rng.below(2) as usize];
                let tgid = [5, 7][rng.below(2) as usize];
                let syn_at = t.saturating_sub(rng.below(3) * 20_000_000);
                let state = |ts: u64, old: &str, new: &str, lport: u16| Event {
                    id: 0,
                    ts_ns: ts,
                    tgid,
                    tid: tgid,
                    comm: "go".into(),
                    op: Op::TcpState {
                        sock: sock.clone(),
                        old: TcpState::from_name(old),
                        new: TcpState::from_name(new),
                        local: SockAddr {
                            ip: "198.18.0.1".parse().unwrap(),
                            port: lport,
                        },
                        peer: peer(port).unwrap(),
                    },
                };
                events.push(state(syn_at, "CLOSE", "SYN_SENT", 0));
                let mut c = connect(0, 3 + n as i32, port, -115);
                (c.ts_ns, c.tgid) = (t, tgid);
                events.push(c);
                if rng.below(3) > 0 {
                    events.push(state(
                        t + rng.below(2) * 1_000,
                        "SYN_SENT",
                        "ESTABLISHED",
                        40_000,
                    ));
                }
                events.push(state(
                    t + rng.below(2) * 2_000,
                    "ESTABLISHED",
                    "CLOSE",
                    40_000,
                ));
            }
            events.sort_by_key(|e| e.ts_ns);
            for (i, e) in events.iter_mut().enumerate() {
                e.id = i as u64 + 1;
            }
            let mut attempts = Vec::new();
            let mut changes = Vec::new();
            for e in &events {
                match &e.op {
                    Op::Connect { fd, peer, .. } => {
                        let mut a =
                            Attempt::new(Kind::Tcp, e, *fd, peer.as_ref().unwrap().canonical());
                        a.connect = Some(EventFact {
                            id: e.id,
                            ts_ns: e.ts_ns,
                            value: -115,
                        });
                        attempts.push(a);
                    }
                    Op::TcpState { .. } => changes.extend(TcpChange::of(e)),
                    _ => {}
                }
            }
            let (mut fast, mut slow) = (attempts.clone(), attempts);
            let mut fast_changes = changes.clone();
            link_tcp_states(&mut fast, &mut fast_changes, &CLOCK);
            link_reference(&mut slow, &mut changes, &CLOCK);
            let view = |v: &[Attempt]| -> Vec<_> {
                v.iter()
                    .map(|a| {
                        let ids: Vec<u64> = a.steps.iter().map(|s| s.id).collect();
                        (a.sock.clone(), a.local, a.established, a.end_ns, ids)
                    })
                    .collect()
            };
            assert_eq!(view(&fast), view(&slow), "seed {seed}");
            let linked = fast.iter().filter(|a| a.sock.is_some()).count();
            assert!(
                linked > 100 && linked < 300,
                "seed {seed}: {linked} of 300 linked"
            );
            // Unsorted input takes the plain path and still agrees.
            let (mut fast, mut slow) = (fast.clone(), slow.clone());
            for a in fast.iter_mut().chain(slow.iter_mut()) {
                a.steps.clear();
            }
            let mut reversed: Vec<TcpChange<'_>> = fast_changes.iter().rev().cloned().collect();
            let mut reversed2 = reversed.clone();
            for c in reversed.iter_mut().chain(reversed2.iter_mut()) {
                c.used = false;
            }
            link_tcp_states(&mut fast, &mut reversed, &CLOCK);
            link_reference(&mut slow, &mut reversed2, &CLOCK);
            assert_eq!(view(&fast), view(&slow), "seed {seed}, reversed");
        }
    }
}
