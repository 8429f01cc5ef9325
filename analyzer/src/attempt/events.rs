//! First pass: attempts from the syscall events alone.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::{Attempt, Correlation, EventFact, Kind, Source, Step};
use crate::bundle::{Event, Op, SockAddr};
use crate::clock::Clock;
use crate::dns::{self, DnsMessage};
use crate::errno;

/// AF_INET / AF_INET6 (linux/socket.h).
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
/// SOCK_STREAM / SOCK_DGRAM (linux/net.h).
const SOCK_STREAM: u16 = 1;
const SOCK_DGRAM: u16 = 2;

#[derive(Debug, Clone)]
struct SockInfo {
    sock_type: u16,
    event: Step,
}

/// A `tcp_state` change, kept to link TCP attempts to their 5-tuple.
#[derive(Debug, Clone)]
struct TcpChange<'a> {
    ev: &'a Event,
    sock: &'a str,
    old: &'a str,
    new: &'a str,
    local: &'a SockAddr,
    peer: &'a SockAddr,
    used: bool,
}

pub(super) fn from_events(events: &[Event], clock: &Clock) -> Correlation {
    let mut out = Correlation::default();
    let mut sockets: HashMap<(u32, i32), SockInfo> = HashMap::new();
    let mut open: HashMap<(u32, i32), usize> = HashMap::new();
    let mut changes: Vec<TcpChange<'_>> = Vec::new();
    let step = |ev: &Event, text: String| Step {
        source: Source::Event,
        id: ev.id,
        t_ms: Some(clock.event_ms(ev.ts_ns)),
        text,
    };

    for ev in events {
        match &ev.op {
            Op::Socket {
                ret,
                domain,
                sock_type,
                ..
            } => {
                if *domain == AF_INET || *domain == AF_INET6 {
                    out.any_network_syscall = true;
                }
                // ret is the new fd, or -errno for a failed socket().
                if let Some(fd) = i32::try_from(*ret).ok().filter(|fd| *fd >= 0) {
                    let key = (ev.tgid, fd);
                    open.remove(&key);
                    let text = format!(
                        "socket({}, {}) = {}",
                        family_name(*domain),
                        type_name(*sock_type),
                        errno::ret_text(*ret)
                    );
                    sockets.insert(
                        key,
                        SockInfo {
                            sock_type: *sock_type,
                            event: step(ev, text),
                        },
                    );
                }
            }
            Op::Connect { fd, ret, peer, .. } => {
                let Some(peer) = peer else { continue };
                out.any_network_syscall = true;
                let key = (ev.tgid, *fd);
                let info = sockets.get(&key);
                let is_dns_port = peer.port == dns::PORT;
                let kind = match info.map(|i| i.sock_type) {
                    Some(SOCK_STREAM) => Kind::Tcp,
                    Some(SOCK_DGRAM) if is_dns_port => Kind::Dns,
                    // Other UDP connects are Go's source-address selection
                    // (RFC 6724 sorting dials UDP without sending): no traffic.
                    Some(_) => continue,
                    None if is_dns_port => Kind::Dns,
                    None => Kind::Tcp,
                };
                let mut a = Attempt::new(kind, ev, *fd, canonical(peer));
                if let Some(i) = info {
                    a.start_ns = a.start_ns.min(ev.ts_ns);
                    a.steps.push(i.event.clone());
                }
                a.steps.push(step(
                    ev,
                    format!("connect(fd {fd}, {peer}) = {}", errno::ret_text(*ret)),
                ));
                a.connect = Some(EventFact {
                    id: ev.id,
                    ts_ns: ev.ts_ns,
                    value: *ret,
                });
                out.attempts.push(a);
                open.insert(key, out.attempts.len() - 1);
            }
            Op::SoError { fd, so_error, .. } => {
                let Some(a) = open
                    .get(&(ev.tgid, *fd))
                    .and_then(|&i| out.attempts.get_mut(i))
                else {
                    continue;
                };
                let what = if *so_error == 0 {
                    "0 (connected)".to_string()
                } else {
                    errno::name(*so_error)
                };
                a.steps
                    .push(step(ev, format!("getsockopt(fd {fd}, SO_ERROR) -> {what}")));
                a.end_ns = ev.ts_ns;
                a.so_error = Some(EventFact {
                    id: ev.id,
                    ts_ns: ev.ts_ns,
                    value: *so_error,
                });
            }
            Op::Send {
                syscall,
                fd,
                ret,
                peer,
                data_hex,
                ..
            } => {
                let key = (ev.tgid, *fd);
                let idx = match open.get(&key) {
                    Some(&i) => i,
                    None => {
                        // Unconnected sendto to a name server (libc resolver).
                        let Some(p) = peer.as_ref().filter(|p| p.port == dns::PORT) else {
                            continue;
                        };
                        out.any_network_syscall = true;
                        let mut a = Attempt::new(Kind::Dns, ev, *fd, canonical(p));
                        if let Some(i) = sockets.get(&key) {
                            a.steps.push(i.event.clone());
                        }
                        out.attempts.push(a);
                        open.insert(key, out.attempts.len() - 1);
                        out.attempts.len() - 1
                    }
                };
                let Some(a) = out.attempts.get_mut(idx) else {
                    continue;
                };
                let msg = dns_of(a, data_hex.as_deref());
                let what = match &msg {
                    Some(m) => format!(", DNS {}", m.summary()),
                    None => String::new(),
                };
                a.steps.push(step(
                    ev,
                    format!("{syscall}(fd {fd}{what}) = {}", errno::ret_text(*ret)),
                ));
                a.end_ns = ev.ts_ns;
                if *ret > 0 {
                    a.data_moved |= a.kind == Kind::Tcp;
                }
                if let Some(m) = msg.filter(|m| !m.response) {
                    a.queries.push(EventFact {
                        id: ev.id,
                        ts_ns: ev.ts_ns,
                        value: m,
                    });
                }
            }
            Op::Recv {
                syscall,
                fd,
                ret,
                data_hex,
                ..
            } => {
                let Some(a) = open
                    .get(&(ev.tgid, *fd))
                    .and_then(|&i| out.attempts.get_mut(i))
                else {
                    continue;
                };
                let msg = if *ret > 0 {
                    dns_of(a, data_hex.as_deref())
                } else {
                    None
                };
                let what = match &msg {
                    Some(m) => format!(", DNS {}", m.summary()),
                    None => String::new(),
                };
                a.steps.push(step(
                    ev,
                    format!("{syscall}(fd {fd}{what}) = {}", errno::ret_text(*ret)),
                ));
                a.end_ns = ev.ts_ns;
                if let Some(e) = errno::of_ret(*ret) {
                    a.read_errno = Some(EventFact {
                        id: ev.id,
                        ts_ns: ev.ts_ns,
                        value: e,
                    });
                } else if *ret > 0 {
                    a.data_moved |= a.kind == Kind::Tcp;
                }
                if let Some(m) = msg.filter(|m| m.response) {
                    a.answers.push(EventFact {
                        id: ev.id,
                        ts_ns: ev.ts_ns,
                        value: m,
                    });
                }
            }
            Op::Close { fd, .. } => {
                let key = (ev.tgid, *fd);
                if let Some(a) = open.remove(&key).and_then(|i| out.attempts.get_mut(i)) {
                    a.end_ns = ev.ts_ns;
                    a.closed = true;
                }
                sockets.remove(&key);
            }
            Op::TcpState {
                sock,
                old,
                new,
                local,
                peer,
            } => changes.push(TcpChange {
                ev,
                sock,
                old,
                new,
                local,
                peer,
                used: false,
            }),
            Op::Exec { filename } => out.execs.push((ev.id, ev.ts_ns, filename.clone())),
            Op::Fork { .. } | Op::Exit {} => {}
        }
    }
    link_tcp_states(&mut out.attempts, &mut changes, clock);
    out
}

fn dns_of(a: &Attempt, data_hex: Option<&str>) -> Option<DnsMessage> {
    if a.kind != Kind::Dns {
        return None;
    }
    DnsMessage::parse(&dns::from_hex(data_hex?)?)
}

/// Gives each TCP attempt its local address from the nearest SYN_SENT
/// change to the same peer, then attaches later changes of the same socket.
fn link_tcp_states(attempts: &mut [Attempt], changes: &mut [TcpChange<'_>], clock: &Clock) {
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
                    && ch.new == "SYN_SENT"
                    && canonical(ch.peer) == a.peer
                    && ch.ev.ts_ns + BEFORE_NS >= t
                    && ch.ev.ts_ns <= t.saturating_add(BEFORE_NS)
            })
            .min_by_key(|(_, ch)| (ch.ev.tgid != a.tgid, ch.ev.ts_ns.abs_diff(t)))
            .map(|(i, _)| i);
        let Some(i) = best else { continue };
        let Some(first) = changes.get_mut(i) else {
            continue;
        };
        first.used = true;
        let sock = first.sock.to_string();
        let local = canonical(first.local);
        a.local = Some(local);
        let start = first.ev.ts_ns;
        for ch in changes.iter_mut() {
            if ch.sock != sock || ch.ev.ts_ns < start || canonical(ch.local) != local {
                continue;
            }
            ch.used = true;
            if ch.new == "ESTABLISHED" {
                a.established = true;
            }
            a.end_ns = a.end_ns.max(ch.ev.ts_ns);
            a.steps.push(Step {
                source: Source::Event,
                id: ch.ev.id,
                t_ms: Some(clock.event_ms(ch.ev.ts_ns)),
                text: format!("tcp {} > {} {} -> {}", ch.local, ch.peer, ch.old, ch.new),
            });
        }
    }
}

/// The address as the wire shows it: an IPv4-mapped IPv6 address
/// (`::ffff:198.18.0.2`, an AF_INET6 socket dialing IPv4) is IPv4 on the wire.
fn canonical(a: &SockAddr) -> SocketAddr {
    SocketAddr::new(a.ip.to_canonical(), a.port)
}

fn family_name(d: u16) -> String {
    match d {
        AF_INET => "AF_INET".into(),
        AF_INET6 => "AF_INET6".into(),
        1 => "AF_UNIX".into(),
        16 => "AF_NETLINK".into(),
        n => format!("family {n}"),
    }
}

fn type_name(t: u16) -> String {
    match t {
        SOCK_STREAM => "SOCK_STREAM".into(),
        SOCK_DGRAM => "SOCK_DGRAM".into(),
        3 => "SOCK_RAW".into(),
        n => format!("type {n}"),
    }
}
