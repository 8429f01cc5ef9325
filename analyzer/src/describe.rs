//! One line per event, in strace's style: what `gotrace run` prints live
//! while it traces, and the words of the report's timeline steps, so the
//! two always agree.
//!
//! | event | line |
//! |---|---|
//! | `socket` | `socket(AF_INET, SOCK_STREAM) = 8` |
//! | `connect` | `connect(fd 8, 198.18.0.2:8080) = -EINPROGRESS` |
//! | `so_error` | `getsockopt(fd 8, SO_ERROR) -> ECONNREFUSED`, `... -> 0 (connected)` |
//! | `send` | `write(fd 5, 198.18.0.53:53, DNS query A proxy.lab.test (id 0x1a2b)) = 32` |
//! | `recv` | `read(fd 8, 198.18.0.2:8443, TLS Server Hello (TLS 1.3)) = 576` |
//! | `close` | `close(fd 8) = 0` |
//! | `exec` | `exec /usr/bin/go` |
//! | `exit` | `exited with status 1`, `killed by signal 9`, `exited` |
//! | `tcp_state` | `tcp 198.18.0.1:48448 > 198.18.0.2:8080 SYN_SENT -> CLOSE` |
//! | `tcp_retransmit` | `kernel retransmits SYN 198.18.0.1:48448 > 198.18.0.2:8080 -> -EPERM` |
//! | `tcp_receive_reset` | `kernel accepts RST 198.18.0.2:8080 > 198.18.0.1:48448` |
//! | `tcp_send_reset` | `kernel sends RST (NOT_SPECIFIED)` |
//! | `skb_drop` | `kernel drops packet: NETFILTER_DROP` |
//!
//! No line for `fork` (Go starts a thread for nearly everything; a child
//! process shows up by its `exec`) nor for the housekeeping drops of a
//! closing socket (`QUEUE_PURGE`, `SOCKET_CLOSE`).
//!
//! The wording is the report's: [`crate::correlate`] builds its steps with
//! these functions (the kernel-event texts are the same words as
//! `attempt/kernel.rs` writes).

use crate::capture::AppSummary;
use crate::dns::{self, DnsMessage};
use crate::errno;
use gotrace_bundle::{
    Event, ExitStatus, Op, SockAddr, TcpState, AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, SOCK_DGRAM,
    SOCK_RAW, SOCK_STREAM,
};

/// Drop reasons that are housekeeping, not a verdict on a packet (the same
/// list as the attempt linker's; include/net/dropreason-core.h).
const BENIGN_DROPS: [&str; 2] = ["QUEUE_PURGE", "SOCKET_CLOSE"];

/// What a reader of the whole event stream knows about the socket an I/O
/// event is on, from earlier events: `write`/`read` carry no peer, and a
/// payload to port 53 is framed differently on TCP (RFC 1035 4.2.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conn<'a> {
    /// The peer it was `connect`ed to.
    pub peer: Option<&'a SockAddr>,
    /// It was created `SOCK_STREAM`.
    pub stream: bool,
}

/// A one-line, strace-style text for `ev`, or `None` for an event not worth
/// a line (see the module documentation for the full list).
///
/// Payload heads are decoded when they are DNS (to or from port 53), TLS
/// records or an HTTP/1.x head; `write`/`read` carry no peer, so DNS on a
/// connected socket needs [`describe_on`].
///
/// ```
/// use gotrace_bundle::{Event, Op, SockAddr};
/// use gotrace_analyzer::describe::describe;
///
/// let peer = SockAddr { ip: "198.18.0.2".parse().unwrap(), port: 8080 };
/// let ev = |op| Event { id: 9, ts_ns: 0, tgid: 5, tid: 6, comm: "go".into(), op };
/// let connect = ev(Op::Connect { fd: 8, ret: -115, errno: None, peer: Some(peer), sock: None });
/// assert_eq!(
///     describe(&connect).as_deref(),
///     Some("connect(fd 8, 198.18.0.2:8080) = -EINPROGRESS")
/// );
/// let refused = ev(Op::SoError { fd: 8, ret: 0, so_error: 111, so_error_name: None, sock: None });
/// assert_eq!(
///     describe(&refused).as_deref(),
///     Some("getsockopt(fd 8, SO_ERROR) -> ECONNREFUSED")
/// );
/// assert_eq!(describe(&ev(Op::Fork { child: 7 })), None);
/// ```
pub fn describe(ev: &Event) -> Option<String> {
    describe_on(ev, Conn::default())
}

/// [`describe`], knowing the socket of a `write`/`read` from earlier events:
/// the line then names the connected peer, and a DNS message on it is
/// decoded.
///
/// ```
/// use gotrace_bundle::{Event, Io, Op, SockAddr};
/// use gotrace_analyzer::describe::{describe_on, Conn};
///
/// let server = SockAddr { ip: "198.18.0.53".parse().unwrap(), port: 53 };
/// // A query for A x, id 0x1234.
/// let query = "12340100000100000000000001780000010001".to_string();
/// let ev = Event {
///     id: 12, ts_ns: 0, tgid: 5, tid: 6, comm: "go".into(),
///     op: Op::Send(Io {
///         syscall: "write".into(), fd: 5, ret: 19, errno: None, peer: None,
///         data_hex: Some(query), sock: None,
///     }),
/// };
/// let conn = Conn { peer: Some(&server), stream: false };
/// assert_eq!(
///     describe_on(&ev, conn).as_deref(),
///     Some("write(fd 5, 198.18.0.53:53, DNS query A x (id 0x1234)) = 19")
/// );
/// ```
pub fn describe_on(ev: &Event, conn: Conn<'_>) -> Option<String> {
    let line = match &ev.op {
        Op::Socket {
            ret,
            domain,
            sock_type,
            ..
        } => format!(
            "socket({}, {}) = {}",
            family_name(*domain),
            type_name(*sock_type),
            errno::ret_text(*ret)
        ),
        Op::Connect { fd, ret, peer, .. } => match peer {
            Some(p) => format!("connect(fd {fd}, {p}) = {}", errno::ret_text(*ret)),
            None => format!("connect(fd {fd}) = {}", errno::ret_text(*ret)),
        },
        Op::SoError {
            fd, ret, so_error, ..
        } => {
            if errno::of_ret(*ret).is_some() {
                // getsockopt itself failed: optval says nothing.
                format!("getsockopt(fd {fd}, SO_ERROR) = {}", errno::ret_text(*ret))
            } else if *so_error == 0 {
                format!("getsockopt(fd {fd}, SO_ERROR) -> 0 (connected)")
            } else {
                format!(
                    "getsockopt(fd {fd}, SO_ERROR) -> {}",
                    errno::name(*so_error)
                )
            }
        }
        Op::Send(io) | Op::Recv(io) => {
            let peer = io.peer.as_ref().or(conn.peer);
            // Nothing was read on a failed or end-of-file receive.
            let read_nothing = matches!(ev.op, Op::Recv(_)) && io.ret <= 0;
            let what = (!read_nothing)
                .then(|| payload_text(peer, conn.stream, io.data_hex.as_deref()))
                .flatten();
            io_line(&io.syscall, io.fd, peer, io.ret, what.as_deref())
        }
        Op::Close { fd, ret, .. } => format!("close(fd {fd}) = {}", errno::ret_text(*ret)),
        Op::Fork { .. } => return None,
        Op::Exec { filename } => format!("exec {filename}"),
        Op::Exit { status } => match status {
            Some(ExitStatus::Code(c)) => format!("exited with status {c}"),
            Some(ExitStatus::Signal(s)) => format!("killed by signal {s}"),
            None => "exited".into(),
        },
        Op::TcpState {
            old,
            new,
            local,
            peer,
            ..
        } => {
            // SYN_SENT is entered before the source port is bound: port 0.
            let local = if local.port == 0 {
                local.ip.to_string()
            } else {
                local.to_string()
            };
            format!("tcp {local} > {peer} {old} -> {new}")
        }
        Op::TcpRetransmit {
            state,
            local,
            peer,
            err,
            ..
        } => {
            let what = if *state == TcpState::SynSent {
                "SYN"
            } else {
                "segment"
            };
            let result = if *err == 0 {
                String::new()
            } else {
                format!(" -> -{}", errno::name(-err))
            };
            format!("kernel retransmits {what} {local} > {peer}{result}")
        }
        Op::TcpReceiveReset { local, peer, .. } => format!("kernel accepts RST {peer} > {local}"),
        op @ Op::TcpSendReset { .. } => {
            format!(
                "kernel sends RST ({})",
                op.reset_reason().unwrap_or_default()
            )
        }
        Op::SkbDrop {
            reason,
            reason_name,
            location_name,
            ..
        } => {
            let name = reason_name
                .clone()
                .unwrap_or_else(|| format!("reason {reason}"));
            if BENIGN_DROPS.contains(&name.as_str()) {
                return None;
            }
            match location_name {
                // Kernels without reasons: the freeing function speaks.
                Some(at) if reason_name.is_none() => format!("kernel drops packet in {at}"),
                _ => format!("kernel drops packet: {name}"),
            }
        }
        Op::RouteLookup { .. } => {
            let f = crate::correlate::route_fact(ev)?;
            let l = &f.value;
            format!(
                "kernel route lookup for {} in {} -> -{}{}",
                l.dst,
                l.table_name(),
                errno::name(-l.err),
                l.refusal().clause()
            )
        }
    };
    Some(line)
}

/// A send/recv syscall: `sendto(fd 5, 198.18.0.53:53, DNS query A x (id
/// 0x1234)) = 19`; `peer` and `what` (the decoded payload head) are left
/// out when `None`.
pub(crate) fn io_line(
    syscall: &str,
    fd: i32,
    peer: Option<&SockAddr>,
    ret: i64,
    what: Option<&str>,
) -> String {
    let peer = peer.map(|p| format!(", {p}")).unwrap_or_default();
    let what = what.map(|w| format!(", {w}")).unwrap_or_default();
    format!("{syscall}(fd {fd}{peer}{what}) = {}", errno::ret_text(ret))
}

/// The DNS message (to or from port 53), TLS records or HTTP head at the
/// start of a payload, as the report words them.
fn payload_text(peer: Option<&SockAddr>, stream: bool, data_hex: Option<&str>) -> Option<String> {
    let bytes = dns::from_hex(data_hex?)?;
    if peer.is_some_and(|p| p.port == dns::PORT) {
        // Over TCP each message follows a 2-byte length (RFC 1035 4.2.2).
        let msg = if stream { bytes.get(2..)? } else { &bytes };
        if let Some(m) = DnsMessage::parse(msg) {
            return Some(format!("DNS {}", m.summary()));
        }
    }
    AppSummary::sniff(&bytes).map(|a| a.describe())
}

fn family_name(d: u16) -> String {
    match d {
        AF_INET => "AF_INET".into(),
        AF_INET6 => "AF_INET6".into(),
        AF_UNIX => "AF_UNIX".into(),
        AF_NETLINK => "AF_NETLINK".into(),
        n => format!("family {n}"),
    }
}

fn type_name(t: u16) -> String {
    match t {
        SOCK_STREAM => "SOCK_STREAM".into(),
        SOCK_DGRAM => "SOCK_DGRAM".into(),
        SOCK_RAW => "SOCK_RAW".into(),
        n => format!("type {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotrace_bundle::Io;

    fn ev(op: Op) -> Event {
        Event {
            id: 1,
            ts_ns: 1_000,
            tgid: 5,
            tid: 6,
            comm: "go".into(),
            op,
        }
    }

    fn addr(s: &str) -> SockAddr {
        s.parse().unwrap()
    }

    fn line(op: Op) -> Option<String> {
        describe(&ev(op))
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A DNS query for `name`, type A, id 0x1a2b (RFC 1035 4.1).
    fn dns_query(name: &str) -> Vec<u8> {
        let mut q = vec![0x1a, 0x2b, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        q
    }

    fn send(syscall: &str, peer: Option<SockAddr>, ret: i64, data: &[u8]) -> Op {
        Op::Send(Io {
            syscall: syscall.into(),
            fd: 5,
            ret,
            errno: None,
            peer,
            data_hex: Some(hex(data)),
            sock: None,
        })
    }

    fn recv(syscall: &str, peer: Option<SockAddr>, ret: i64, data: &[u8]) -> Op {
        Op::Recv(Io {
            syscall: syscall.into(),
            fd: 5,
            ret,
            errno: None,
            peer,
            data_hex: Some(hex(data)),
            sock: None,
        })
    }

    #[test]
    fn socket() {
        let op = |ret, domain, sock_type| Op::Socket {
            ret,
            errno: None,
            domain,
            sock_type,
            protocol: 0,
            sock: None,
        };
        assert_eq!(
            line(op(8, AF_INET, SOCK_STREAM)).unwrap(),
            "socket(AF_INET, SOCK_STREAM) = 8"
        );
        assert_eq!(
            line(op(-97, AF_INET6, SOCK_DGRAM)).unwrap(),
            "socket(AF_INET6, SOCK_DGRAM) = -EAFNOSUPPORT"
        );
        assert_eq!(line(op(3, 44, 5)).unwrap(), "socket(family 44, type 5) = 3");
    }

    #[test]
    fn connect() {
        let op = |ret, peer| Op::Connect {
            fd: 8,
            ret,
            errno: None,
            peer,
            sock: None,
        };
        assert_eq!(
            line(op(-115, Some(addr("198.18.0.2:8080")))).unwrap(),
            "connect(fd 8, 198.18.0.2:8080) = -EINPROGRESS"
        );
        assert_eq!(
            line(op(-101, Some(addr("[2001:db8::2]:443")))).unwrap(),
            "connect(fd 8, [2001:db8::2]:443) = -ENETUNREACH"
        );
        assert_eq!(line(op(0, None)).unwrap(), "connect(fd 8) = 0");
    }

    #[test]
    fn so_error() {
        let op = |ret, so_error| Op::SoError {
            fd: 8,
            ret,
            so_error,
            so_error_name: None,
            sock: None,
        };
        assert_eq!(
            line(op(0, 111)).unwrap(),
            "getsockopt(fd 8, SO_ERROR) -> ECONNREFUSED"
        );
        assert_eq!(
            line(op(0, 0)).unwrap(),
            "getsockopt(fd 8, SO_ERROR) -> 0 (connected)"
        );
        assert_eq!(
            line(op(-9, 0)).unwrap(),
            "getsockopt(fd 8, SO_ERROR) = -EBADF"
        );
    }

    #[test]
    fn send_dns_to_an_address_and_on_a_connected_socket() {
        let q = dns_query("proxy.lab.test");
        let ns = addr("198.18.0.53:53");
        let n = q.len() as i64;
        assert_eq!(
            line(send("sendto", Some(ns.clone()), n, &q)).unwrap(),
            format!("sendto(fd 5, 198.18.0.53:53, DNS query A proxy.lab.test (id 0x1a2b)) = {n}")
        );
        // write carries no peer: without knowing the socket, no DNS either.
        let write = ev(send("write", None, n, &q));
        assert_eq!(describe(&write).unwrap(), format!("write(fd 5) = {n}"));
        let udp = Conn {
            peer: Some(&ns),
            stream: false,
        };
        assert_eq!(
            describe_on(&write, udp).unwrap(),
            format!("write(fd 5, 198.18.0.53:53, DNS query A proxy.lab.test (id 0x1a2b)) = {n}")
        );
        // Over TCP the message follows its 2-byte length.
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        let tcp = Conn {
            peer: Some(&ns),
            stream: true,
        };
        let write = ev(send("write", None, n + 2, &framed));
        assert_eq!(
            describe_on(&write, tcp).unwrap(),
            format!(
                "write(fd 5, 198.18.0.53:53, DNS query A proxy.lab.test (id 0x1a2b)) = {}",
                n + 2
            )
        );
    }

    #[test]
    fn send_failure_still_says_what_it_tried() {
        let q = dns_query("x");
        assert_eq!(
            line(send("sendmsg", Some(addr("198.18.0.53:53")), -1, &q)).unwrap(),
            "sendmsg(fd 5, 198.18.0.53:53, DNS query A x (id 0x1a2b)) = -EPERM"
        );
    }

    #[test]
    fn send_http_request_and_plain_bytes() {
        let req = b"GET /lab.test/greet/@v/list HTTP/1.1\r\nHost: proxy.lab.test:8080\r\n\r\n";
        let server = addr("198.18.0.2:8080");
        let conn = Conn {
            peer: Some(&server),
            stream: true,
        };
        let write = ev(send("write", None, req.len() as i64, req));
        assert_eq!(
            describe_on(&write, conn).unwrap(),
            format!(
                "write(fd 5, 198.18.0.2:8080, GET /lab.test/greet/@v/list HTTP/1.1 (Host: proxy.lab.test:8080)) = {}",
                req.len()
            )
        );
        assert_eq!(
            line(send("write", None, 3, b"abc")).unwrap(),
            "write(fd 5) = 3"
        );
        // Port 53 but not DNS: nothing decoded, no panic.
        assert_eq!(
            line(send("sendto", Some(addr("198.18.0.53:53")), 3, b"abc")).unwrap(),
            "sendto(fd 5, 198.18.0.53:53) = 3"
        );
    }

    #[test]
    fn recv_dns_answer_http_response_and_tls() {
        let mut r = dns_query("proxy.lab.test");
        r[2] |= 0x80; // QR
        r[3] |= dns::RCODE_NXDOMAIN;
        assert_eq!(
            line(recv("recvfrom", Some(addr("198.18.0.53:53")), r.len() as i64, &r)).unwrap(),
            format!(
                "recvfrom(fd 5, 198.18.0.53:53, DNS response NXDOMAIN A proxy.lab.test (id 0x1a2b, 0 answers)) = {}",
                r.len()
            )
        );
        let resp = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            line(recv("read", None, resp.len() as i64, resp)).unwrap(),
            format!("read(fd 5, HTTP/1.1 404 Not Found) = {}", resp.len())
        );
        // A fatal TLS alert: bad_certificate (42).
        let alert = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 42];
        assert_eq!(
            line(recv("read", None, 7, &alert)).unwrap(),
            "read(fd 5, TLS Alert (Level: Fatal, Description: Bad Certificate)) = 7"
        );
    }

    #[test]
    fn recv_failure_or_eof_decodes_nothing() {
        let resp = b"HTTP/1.1 200 OK\r\n";
        assert_eq!(
            line(recv("read", None, -11, resp)).unwrap(),
            "read(fd 5) = -EAGAIN"
        );
        assert_eq!(line(recv("read", None, 0, resp)).unwrap(), "read(fd 5) = 0");
        let no_data = Op::Recv(Io {
            syscall: "recvmsg".into(),
            fd: 4,
            ret: -104,
            errno: Some("ECONNRESET".into()),
            peer: None,
            data_hex: None,
            sock: None,
        });
        assert_eq!(line(no_data).unwrap(), "recvmsg(fd 4) = -ECONNRESET");
    }

    #[test]
    fn close_fork_exec_exit() {
        assert_eq!(line(Op::close(8)).unwrap(), "close(fd 8) = 0");
        assert_eq!(
            line(Op::Close {
                fd: 8,
                ret: -9,
                sock: None
            })
            .unwrap(),
            "close(fd 8) = -EBADF"
        );
        assert_eq!(line(Op::Fork { child: 7 }), None);
        assert_eq!(
            line(Op::Exec {
                filename: "/usr/bin/go".into()
            })
            .unwrap(),
            "exec /usr/bin/go"
        );
        let exit = |status| line(Op::Exit { status }).unwrap();
        assert_eq!(exit(Some(ExitStatus::Code(1))), "exited with status 1");
        assert_eq!(exit(Some(ExitStatus::Signal(9))), "killed by signal 9");
        assert_eq!(exit(None), "exited");
    }

    #[test]
    fn tcp_state() {
        let op = |local, old: &str, new: &str| Op::TcpState {
            sock: "0xffff8881067f8940".into(),
            old: TcpState::from_name(old),
            new: TcpState::from_name(new),
            local: addr(local),
            peer: addr("198.18.0.2:8080"),
        };
        assert_eq!(
            line(op("198.18.0.1:48448", "SYN_SENT", "CLOSE")).unwrap(),
            "tcp 198.18.0.1:48448 > 198.18.0.2:8080 SYN_SENT -> CLOSE"
        );
        assert_eq!(
            line(op("198.18.0.1:0", "CLOSE", "SYN_SENT")).unwrap(),
            "tcp 198.18.0.1 > 198.18.0.2:8080 CLOSE -> SYN_SENT"
        );
    }

    #[test]
    fn retransmits_and_resets() {
        let rt = |state: &str, err| Op::TcpRetransmit {
            sock: "0xa".into(),
            state: TcpState::from_name(state),
            local: addr("198.18.0.1:48448"),
            peer: addr("198.18.0.2:8080"),
            err,
            err_name: None,
        };
        assert_eq!(
            line(rt("SYN_SENT", 0)).unwrap(),
            "kernel retransmits SYN 198.18.0.1:48448 > 198.18.0.2:8080"
        );
        assert_eq!(
            line(rt("SYN_SENT", -1)).unwrap(),
            "kernel retransmits SYN 198.18.0.1:48448 > 198.18.0.2:8080 -> -EPERM"
        );
        assert_eq!(
            line(rt("ESTABLISHED", 0)).unwrap(),
            "kernel retransmits segment 198.18.0.1:48448 > 198.18.0.2:8080"
        );
        assert_eq!(
            line(Op::TcpReceiveReset {
                sock: "0xa".into(),
                local: addr("198.18.0.1:48448"),
                peer: addr("198.18.0.2:8080"),
            })
            .unwrap(),
            "kernel accepts RST 198.18.0.2:8080 > 198.18.0.1:48448"
        );
        let sent = |reason_name: Option<&str>| Op::TcpSendReset {
            sock: "0xa".into(),
            state: TcpState::Established,
            reason: 2,
            reason_name: reason_name.map(str::to_string),
            local: None,
            peer: None,
        };
        assert_eq!(
            line(sent(Some("NOT_SPECIFIED"))).unwrap(),
            "kernel sends RST (NOT_SPECIFIED)"
        );
        assert_eq!(line(sent(None)).unwrap(), "kernel sends RST (reason 2)");
    }

    #[test]
    fn skb_drops_but_not_housekeeping() {
        let drop = |reason, name: Option<&str>| Op::SkbDrop {
            sock: Some("0xa".into()),
            reason,
            reason_name: name.map(str::to_string),
            location: "0xffffffff81000000".into(),
            location_name: None,
            protocol: 0x0800,
        };
        assert_eq!(
            line(drop(12, Some("NETFILTER_DROP"))).unwrap(),
            "kernel drops packet: NETFILTER_DROP"
        );
        assert_eq!(
            line(drop(12, None)).unwrap(),
            "kernel drops packet: reason 12"
        );
        assert_eq!(line(drop(5, Some("QUEUE_PURGE"))), None);
        assert_eq!(line(drop(6, Some("SOCKET_CLOSE"))), None);
    }

    #[test]
    fn every_fixture_event_describes_without_panicking() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles");
        let mut lines = 0;
        for dir in std::fs::read_dir(&root).unwrap() {
            let path = dir.unwrap().path().join(gotrace_bundle::files::EVENTS);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for l in text.lines() {
                let Ok(ev) = serde_json::from_str::<Event>(l) else {
                    continue;
                };
                if let Some(s) = describe(&ev) {
                    assert!(!s.is_empty() && !s.contains('\n'), "{s:?}");
                    lines += 1;
                }
            }
        }
        assert!(lines > 100, "only {lines} lines from {}", root.display());
    }
}
