//! Turning ring-buffer records ([`RawEvent`]) into bundle events ([`Event`]).

use gotrace_abi::{kind, RawEvent, AF_INET, AF_INET6};
use gotrace_bundle::{Event, ExitStatus, Io, Op, SockAddr, TcpState};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::record::kernel_events::Names;

/// A wait(2) status as the kernel keeps it in `task_struct.exit_code`:
/// low 7 bits the killing signal (0 = exited), bits 8..15 the exit code
/// (WIFEXITED/WEXITSTATUS/WTERMSIG in <sys/wait.h>).
pub fn wait_status(w: i32) -> ExitStatus {
    match w & 0x7f {
        0 => ExitStatus::Code((w >> 8) & 0xff),
        sig => ExitStatus::Signal(sig),
    }
}

/// Decodes one record; `None` for an unknown kind (an object newer than
/// this tracer). `id` becomes [`Event::id`]; `names` are the tracing
/// kernel's enum names for drop and RST reasons.
pub fn decode(raw: &RawEvent, id: u64, names: &Names) -> Option<Event> {
    let op = match raw.kind {
        kind::SOCKET => Op::Socket {
            ret: raw.ret,
            errno: errno_name(raw.ret),
            domain: (raw.arg & 0xffff) as u16,
            // SOCK_TYPE_MASK (0xf): drop SOCK_NONBLOCK / SOCK_CLOEXEC.
            sock_type: ((raw.arg >> 16) & 0xf) as u16,
            protocol: ((raw.arg >> 48) & 0xffff) as u16,
            sock: sock(raw),
        },
        kind::CONNECT => Op::Connect {
            fd: raw.fd,
            ret: raw.ret,
            errno: errno_name(raw.ret),
            peer: peer(raw),
            sock: sock(raw),
        },
        kind::SO_ERROR => {
            let so_error = raw.arg as u32 as i32;
            Op::SoError {
                fd: raw.fd,
                ret: raw.ret,
                so_error,
                so_error_name: if so_error > 0 {
                    Some(errno_str(so_error))
                } else {
                    None
                },
                sock: sock(raw),
            }
        }
        kind::SENDTO | kind::SENDMSG | kind::SENDMMSG | kind::WRITE => Op::Send(io(raw)),
        kind::RECVFROM | kind::RECVMSG | kind::READ => Op::Recv(io(raw)),
        kind::CLOSE => Op::Close {
            fd: raw.fd,
            ret: raw.ret,
            sock: sock(raw),
        },
        kind::FORK => Op::Fork {
            child: raw.arg as u32,
        },
        kind::EXEC => Op::Exec {
            filename: cstr(&raw.data[..usize::from(raw.data_len).min(raw.data.len())]),
        },
        kind::EXIT => Op::Exit {
            status: (raw.arg >> 32 == 1).then(|| wait_status(raw.arg as u32 as i32)),
        },
        kind::TCP_STATE => Op::TcpState {
            sock: hex(raw.cookie),
            old: TcpState::from_kernel(raw.arg & 0xff),
            new: TcpState::from_kernel((raw.arg >> 8) & 0xff),
            local: local(raw)?,
            peer: peer(raw)?,
        },
        kind::TCP_RETRANSMIT => Op::TcpRetransmit {
            sock: hex(raw.cookie),
            state: TcpState::from_kernel(raw.arg),
            local: local(raw)?,
            peer: peer(raw)?,
            err: raw.ret as i32,
            err_name: errno_name(raw.ret),
        },
        kind::TCP_RECEIVE_RESET => Op::TcpReceiveReset {
            sock: hex(raw.cookie),
            local: local(raw)?,
            peer: peer(raw)?,
        },
        kind::TCP_SEND_RESET => {
            let reason = (raw.arg >> 32) as u32;
            Op::TcpSendReset {
                sock: hex(raw.cookie),
                state: TcpState::from_kernel(raw.arg & 0xffff_ffff),
                reason,
                reason_name: names.rst_reasons.get(&reason).cloned(),
                local: local(raw),
                peer: peer(raw),
            }
        }
        kind::SKB_DROP => {
            let reason = raw.ret as u32;
            Op::SkbDrop {
                sock: (raw.cookie != 0).then(|| hex(raw.cookie)),
                reason,
                reason_name: names.drop_reasons.get(&reason).cloned(),
                location: hex(raw.arg),
                location_name: names.symbols.name(raw.arg),
                protocol: (raw.ret >> 32) as u16,
            }
        }
        kind::ROUTE_LOOKUP => {
            let rt_type = (raw.arg >> 32) as u8;
            Op::RouteLookup {
                table: raw.arg as u32,
                err: raw.ret as i32,
                err_name: errno_name(raw.ret),
                rt_type: (raw.family == AF_INET6).then_some(rt_type),
                src: local(raw)?,
                dst: peer(raw)?,
            }
        }
        _ => return None,
    };
    Some(Event {
        id,
        ts_ns: raw.ts_ns,
        tgid: raw.tgid,
        tid: raw.tid,
        comm: cstr(&raw.comm),
        op,
    })
}

fn syscall_name(k: u32) -> &'static str {
    match k {
        kind::SENDTO => "sendto",
        kind::SENDMSG => "sendmsg",
        kind::SENDMMSG => "sendmmsg",
        kind::WRITE => "write",
        kind::RECVFROM => "recvfrom",
        kind::RECVMSG => "recvmsg",
        _ => "read",
    }
}

fn ip(family: u16, a: &[u8; 16]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(*a))),
        _ => None,
    }
}

fn peer(raw: &RawEvent) -> Option<SockAddr> {
    Some(SockAddr {
        ip: ip(raw.family, &raw.addr)?,
        port: raw.port,
    })
}

fn local(raw: &RawEvent) -> Option<SockAddr> {
    Some(SockAddr {
        ip: ip(raw.family, &raw.laddr)?,
        port: raw.lport,
    })
}

/// A kernel address as the bundle writes it (`0xffff...`).
fn hex(addr: u64) -> String {
    format!("{addr:#x}")
}

/// errno(3) name of a negative syscall return, e.g. -111 -> "ECONNREFUSED".
fn errno_name(ret: i64) -> Option<String> {
    (ret < 0 && ret > -4096).then(|| errno_str((-ret) as i32))
}

fn errno_str(n: i32) -> String {
    match nix::errno::Errno::from_raw(n) {
        nix::errno::Errno::UnknownErrno => format!("errno {n}"),
        e => format!("{e:?}"),
    }
}

/// The I/O fields of a send or receive record.
fn io(raw: &RawEvent) -> Io {
    Io {
        syscall: syscall_name(raw.kind).into(),
        fd: raw.fd,
        ret: raw.ret,
        errno: errno_name(raw.ret),
        peer: peer(raw),
        data_hex: data_hex(raw),
        sock: sock(raw),
    }
}

/// A syscall record's socket address, when the probe could read it from
/// the kernel's fd table (0: it could not).
fn sock(raw: &RawEvent) -> Option<String> {
    (raw.cookie != 0).then(|| hex(raw.cookie))
}

fn data_hex(raw: &RawEvent) -> Option<String> {
    let n = usize::from(raw.data_len).min(raw.data.len());
    if n == 0 {
        return None;
    }
    let mut s = String::with_capacity(n * 2);
    for b in &raw.data[..n] {
        s.push_str(&format!("{b:02x}"));
    }
    Some(s)
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: u32) -> RawEvent {
        RawEvent {
            ts_ns: 5,
            ret: 0,
            arg: 0,
            cookie: 0,
            kind,
            tgid: 10,
            tid: 11,
            fd: 7,
            family: 0,
            port: 0,
            lport: 0,
            data_len: 0,
            addr: [0; 16],
            laddr: [0; 16],
            comm: *b"go\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            data: [0; gotrace_abi::DATA_LEN],
        }
    }

    #[test]
    fn connect_in_progress_names_errno_and_peer() {
        let mut r = raw(kind::CONNECT);
        r.ret = -115;
        r.family = AF_INET;
        r.port = 8080;
        r.addr[..4].copy_from_slice(&[198, 18, 0, 2]);
        let e = decode(&r, 3, &Names::default()).unwrap();
        assert_eq!(e.comm, "go");
        let Op::Connect { errno, peer, .. } = e.op else {
            panic!("not connect")
        };
        assert_eq!(errno.as_deref(), Some("EINPROGRESS"));
        assert_eq!(
            peer.unwrap().to_string_pair(),
            ("198.18.0.2".to_string(), 8080)
        );
    }

    #[test]
    fn exit_status_is_decoded_from_the_wait_status_only_when_read() {
        let mut r = raw(kind::EXIT);
        let status = |r: &RawEvent| match decode(r, 1, &Names::default()).unwrap().op {
            Op::Exit { status } => status,
            _ => panic!("not exit"),
        };
        assert_eq!(status(&r), None);
        r.arg = 1 << 32 | 1 << 8;
        assert_eq!(status(&r), Some(ExitStatus::Code(1)));
        r.arg = 1 << 32 | 9;
        assert_eq!(status(&r), Some(ExitStatus::Signal(9)));
        // SIGSEGV with core dump (0x80).
        r.arg = 1 << 32 | 0x80 | 11;
        assert_eq!(status(&r), Some(ExitStatus::Signal(11)));
    }

    #[test]
    fn so_error_value_comes_from_arg_not_ret() {
        let mut r = raw(kind::SO_ERROR);
        r.arg = 111;
        let Op::SoError {
            so_error,
            so_error_name,
            ret,
            ..
        } = decode(&r, 1, &Names::default()).unwrap().op
        else {
            panic!()
        };
        assert_eq!(
            (so_error, so_error_name.as_deref(), ret),
            (111, Some("ECONNREFUSED"), 0)
        );
    }

    #[test]
    fn payload_is_hex_and_bounded_by_data_len() {
        let mut r = raw(kind::WRITE);
        r.data[..3].copy_from_slice(&[0xab, 0x01, 0xff]);
        r.data_len = 3;
        let Op::Send(Io {
            data_hex, syscall, ..
        }) = decode(&r, 1, &Names::default()).unwrap().op
        else {
            panic!()
        };
        assert_eq!(
            (data_hex.as_deref(), syscall.as_str()),
            (Some("ab01ff"), "write")
        );
        r.data_len = 60000; // corrupt length: clamp, never panic
        assert!(decode(&r, 1, &Names::default()).is_some());
    }

    /// A record of `k` for a SYN_SENT socket 198.18.0.1:40000 > 198.18.0.2:8080.
    fn tcp(k: u32) -> RawEvent {
        let mut r = raw(k);
        r.fd = -1;
        r.cookie = 0xffff_8880_0abc_d000;
        r.family = AF_INET;
        (r.lport, r.port) = (40000, 8080);
        r.laddr[..4].copy_from_slice(&[198, 18, 0, 1]);
        r.addr[..4].copy_from_slice(&[198, 18, 0, 2]);
        r
    }

    #[test]
    fn retransmit_refused_by_netfilter_is_eperm() {
        let mut r = tcp(kind::TCP_RETRANSMIT);
        (r.arg, r.ret) = (2, -1);
        let Op::TcpRetransmit {
            sock,
            state,
            local,
            peer,
            err,
            err_name,
        } = decode(&r, 1, &Names::default()).unwrap().op
        else {
            panic!("not a retransmit")
        };
        assert_eq!(
            (sock.as_str(), state),
            ("0xffff88800abcd000", TcpState::SynSent)
        );
        assert_eq!((err, err_name.as_deref()), (-1, Some("EPERM")));
        assert_eq!(local.to_string_pair(), ("198.18.0.1".to_string(), 40000));
        assert_eq!(peer.to_string_pair(), ("198.18.0.2".to_string(), 8080));
        r.ret = 0;
        let Op::TcpRetransmit { err, err_name, .. } = decode(&r, 1, &Names::default()).unwrap().op
        else {
            panic!()
        };
        assert_eq!((err, err_name), (0, None));
    }

    #[test]
    fn receive_reset_keeps_both_ends() {
        let mut r = tcp(kind::TCP_RECEIVE_RESET);
        r.family = AF_INET6;
        r.addr = std::net::Ipv6Addr::LOCALHOST.octets();
        let Op::TcpReceiveReset { sock, peer, .. } = decode(&r, 1, &Names::default()).unwrap().op
        else {
            panic!()
        };
        assert_eq!(sock, "0xffff88800abcd000");
        assert_eq!(peer.to_string_pair(), ("::1".to_string(), 8080));
    }

    #[test]
    fn send_reset_reason_is_named_from_the_kernel_table() {
        let names = Names {
            rst_reasons: [(1, "NO_SOCKET".to_string())].into(),
            ..Names::default()
        };
        let mut r = tcp(kind::TCP_SEND_RESET);
        r.arg = 1 | 1 << 32;
        let Op::TcpSendReset {
            state,
            reason,
            reason_name,
            local,
            ..
        } = decode(&r, 1, &names).unwrap().op
        else {
            panic!()
        };
        assert_eq!(
            (state, reason, reason_name.as_deref()),
            (TcpState::Established, 1, Some("NO_SOCKET"))
        );
        assert_eq!(
            local.unwrap().to_string_pair(),
            ("198.18.0.1".to_string(), 40000)
        );
        // Ends the kernel left empty, an unknown reason: kept, not dropped.
        r.family = 0;
        r.arg = 99 << 32;
        let Op::TcpSendReset {
            state,
            reason_name,
            local,
            peer,
            ..
        } = decode(&r, 1, &names).unwrap().op
        else {
            panic!()
        };
        assert_eq!(
            (state, reason_name, local, peer),
            (TcpState::Unknown, None, None, None)
        );
    }

    #[test]
    fn skb_drop_unpacks_reason_protocol_and_location() {
        let names = Names {
            drop_reasons: [(12, "NETFILTER_DROP".to_string())].into(),
            ..Names::default()
        };
        let mut r = tcp(kind::SKB_DROP);
        r.ret = 12 | 0x0800 << 32;
        r.arg = 0xffff_ffff_8123_4567;
        let Op::SkbDrop {
            sock,
            reason,
            reason_name,
            location,
            protocol,
            ..
        } = decode(&r, 1, &names).unwrap().op
        else {
            panic!()
        };
        assert_eq!(sock.as_deref(), Some("0xffff88800abcd000"));
        assert_eq!(
            (reason, reason_name.as_deref(), protocol),
            (12, Some("NETFILTER_DROP"), 0x0800)
        );
        assert_eq!(location, "0xffffffff81234567");
        r.cookie = 0;
        let Op::SkbDrop { sock, .. } = decode(&r, 1, &names).unwrap().op else {
            panic!()
        };
        assert_eq!(sock, None);
    }

    #[test]
    fn unknown_kind_is_skipped() {
        assert!(decode(&raw(999), 1, &Names::default()).is_none());
    }

    trait Pair {
        fn to_string_pair(&self) -> (String, u16);
    }
    impl Pair for SockAddr {
        fn to_string_pair(&self) -> (String, u16) {
            (self.ip.to_string(), self.port)
        }
    }
}
