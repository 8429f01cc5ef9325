//! Turning ring-buffer records ([`RawEvent`]) into bundle events ([`Event`]).

use gotrace_abi::{kind, RawEvent, AF_INET, AF_INET6};
use gotrace_analyzer::bundle::{Event, Op, SockAddr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Decodes one record; `None` for an unknown kind (an object newer than
/// this tracer). `id` becomes [`Event::id`].
pub fn decode(raw: &RawEvent, id: u64) -> Option<Event> {
    let op = match raw.kind {
        kind::SOCKET => Op::Socket {
            ret: raw.ret,
            errno: errno_name(raw.ret),
            domain: (raw.arg & 0xffff) as u16,
            // SOCK_TYPE_MASK (0xf): drop SOCK_NONBLOCK / SOCK_CLOEXEC.
            sock_type: ((raw.arg >> 16) & 0xf) as u16,
            protocol: ((raw.arg >> 48) & 0xffff) as u16,
        },
        kind::CONNECT => Op::Connect {
            fd: raw.fd,
            ret: raw.ret,
            errno: errno_name(raw.ret),
            peer: peer(raw),
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
            }
        }
        kind::SENDTO | kind::SENDMSG | kind::SENDMMSG | kind::WRITE => Op::Send {
            syscall: syscall_name(raw.kind).into(),
            fd: raw.fd,
            ret: raw.ret,
            errno: errno_name(raw.ret),
            peer: peer(raw),
            data_hex: data_hex(raw),
        },
        kind::RECVFROM | kind::RECVMSG | kind::READ => Op::Recv {
            syscall: syscall_name(raw.kind).into(),
            fd: raw.fd,
            ret: raw.ret,
            errno: errno_name(raw.ret),
            peer: peer(raw),
            data_hex: data_hex(raw),
        },
        kind::CLOSE => Op::Close {
            fd: raw.fd,
            ret: raw.ret,
        },
        kind::FORK => Op::Fork {
            child: raw.arg as u32,
        },
        kind::EXEC => Op::Exec {
            filename: cstr(&raw.data[..usize::from(raw.data_len).min(raw.data.len())]),
        },
        kind::EXIT => Op::Exit {},
        kind::TCP_STATE => Op::TcpState {
            sock: format!("{:#x}", raw.cookie),
            old: tcp_state_name((raw.arg & 0xff) as u8).into(),
            new: tcp_state_name(((raw.arg >> 8) & 0xff) as u8).into(),
            local: SockAddr {
                ip: ip(raw.family, &raw.laddr)?,
                port: raw.lport,
            },
            peer: SockAddr {
                ip: ip(raw.family, &raw.addr)?,
                port: raw.port,
            },
        },
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

/// TCP states of include/net/tcp_states.h.
fn tcp_state_name(s: u8) -> &'static str {
    match s {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
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
        let e = decode(&r, 3).unwrap();
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
    fn so_error_value_comes_from_arg_not_ret() {
        let mut r = raw(kind::SO_ERROR);
        r.arg = 111;
        let Op::SoError {
            so_error,
            so_error_name,
            ret,
            ..
        } = decode(&r, 1).unwrap().op
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
        let Op::Send {
            data_hex, syscall, ..
        } = decode(&r, 1).unwrap().op
        else {
            panic!()
        };
        assert_eq!(
            (data_hex.as_deref(), syscall.as_str()),
            (Some("ab01ff"), "write")
        );
        r.data_len = 60000; // corrupt length: clamp, never panic
        assert!(decode(&r, 1).is_some());
    }

    #[test]
    fn unknown_kind_is_skipped() {
        assert!(decode(&raw(999), 1).is_none());
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
