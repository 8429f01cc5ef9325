//! One line of `events.jsonl`: a syscall or kernel event of the traced tree.

use serde::{Deserialize, Serialize};

use crate::TcpState;

/// A traced event, as stored (one JSON object per line) in `events.jsonl`.
///
/// `id` is the line's 1-based position and the number reports cite as
/// "event #id". Times are CLOCK_MONOTONIC ns, the clock of
/// `bpf_ktime_get_ns()`; [`crate::Meta::clock`] maps them to the
/// capture's wall-clock times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// 1-based event number, unique in the bundle.
    pub id: u64,
    /// CLOCK_MONOTONIC, ns.
    pub ts_ns: u64,
    /// Thread group id (PID).
    pub tgid: u32,
    /// Thread id.
    pub tid: u32,
    /// Task comm at the time of the event.
    pub comm: String,
    /// What happened.
    #[serde(flatten)]
    pub op: Op,
}

/// A socket peer or local end.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SockAddr {
    /// IPv4 or IPv6 address in text form (`198.18.0.2`, `::1`).
    pub ip: std::net::IpAddr,
    /// Port, host order.
    pub port: u16,
}

/// The event-specific part; serialized with a `"kind"` tag in snake_case.
///
/// `ret` is the syscall's return: >= 0 on success, `-errno` on failure
/// (errno values of Linux, `errno(3)`); `errno` repeats a failure by name
/// (`"ECONNREFUSED"`) for readers. `data_hex` is the head of the payload
/// (at most 128 bytes), hex encoded. `sock` on the syscall variants is the
/// socket's kernel address (`struct sock *`, hex, the `sock` of the TCP
/// variants) as the kernel's fd table had it at the call: the identity
/// that tells two sockets on one reused fd number apart. Absent in bundles
/// of older tracers, on kernels without BTF, and in Socket/Connect/SoError
/// events the kernel's table could not confirm.
// Variant fields are documented once, in the paragraph above.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Op {
    /// `socket(2)`: `domain` AF_* ([`crate::AF_INET`]...), `sock_type` SOCK_*
    /// without flags ([`crate::SOCK_STREAM`]...), `protocol` (IPPROTO_*, 0 = default).
    Socket {
        ret: i64,
        errno: Option<String>,
        domain: u16,
        sock_type: u16,
        protocol: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sock: Option<String>,
    },
    /// `connect(2)`.
    Connect {
        fd: i32,
        ret: i64,
        errno: Option<String>,
        peer: Option<SockAddr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sock: Option<String>,
    },
    /// `getsockopt(fd, SOL_SOCKET, SO_ERROR)`: `so_error` is the errno the kernel
    /// wrote to optval (0 = connected); Go's dial result.
    SoError {
        fd: i32,
        ret: i64,
        so_error: i32,
        so_error_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sock: Option<String>,
    },
    /// `sendto`, `sendmsg`, `sendmmsg`, `write` on a socket.
    Send(Io),
    /// `recvfrom`, `recvmsg`, `read` on a socket.
    Recv(Io),
    /// `close(2)` of a socket.
    Close {
        fd: i32,
        ret: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sock: Option<String>,
    },
    /// A new task; `child` is its PID (a TID when a thread was created).
    Fork { child: u32 },
    /// `execve` succeeded; `filename` as the kernel saw it.
    Exec { filename: String },
    /// A thread group leader exited. `status` is how the whole process
    /// ended, from the kernel's `task_struct.exit_code` at
    /// `sched:sched_process_exit` (a wait(2) status: code << 8, or the
    /// signal number); absent in bundles of older tracers.
    Exit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<super::ExitStatus>,
    },
    /// TCP state change (`sock:inet_sock_set_state`), states as named in
    /// include/net/tcp_states.h (`SYN_SENT`, `ESTABLISHED`, `CLOSE`...).
    /// `sock` is the kernel socket address in hex, to link later changes
    /// that run in softirq to the connect that started them.
    TcpState {
        sock: String,
        old: TcpState,
        new: TcpState,
        local: SockAddr,
        peer: SockAddr,
    },
    /// `tcp:tcp_retransmit_skb` for a TCP socket of the tree: the kernel
    /// resent a segment (a SYN while `state` is `SYN_SENT`). `err` is the
    /// transmit's result, 0 or -errno; -EPERM (`err_name` "EPERM") means a
    /// local netfilter hook dropped it before any device (ip_local_out()).
    /// Runs in timer softirq: `tid` is 0, `tgid` the socket's owner.
    TcpRetransmit {
        sock: String,
        state: TcpState,
        local: SockAddr,
        peer: SockAddr,
        err: i32,
        err_name: Option<String>,
    },
    /// `tcp:tcp_receive_reset`: an RST was accepted for a socket of the
    /// tree (the kernel then reports ECONNREFUSED in SYN_SENT, ECONNRESET
    /// later; RFC 9293 3.10.7). `tid` is 0 when it ran in softirq.
    TcpReceiveReset {
        sock: String,
        local: SockAddr,
        peer: SockAddr,
    },
    /// `tcp:tcp_send_reset`: this host sent an RST on a socket of the tree;
    /// `reason` is `enum sk_rst_reason` (`reason_name` from the tracing
    /// kernel's format file), `state` the socket's TCP state.
    TcpSendReset {
        sock: String,
        state: TcpState,
        reason: u32,
        reason_name: Option<String>,
        local: Option<SockAddr>,
        peer: Option<SockAddr>,
    },
    /// `skb:kfree_skb`: the kernel dropped a packet owned by a socket of the
    /// tree (`sock`, the skb's `struct sock *`), or one freed in a traced
    /// task's syscall. `reason` is `enum skb_drop_reason` of the tracing
    /// kernel (`reason_name` resolved through its format file, also kept in
    /// [`crate::Meta::drop_reasons`]); `location` the freeing kernel
    /// function's address (hex); `protocol` the skb's ethertype (0x0800 IPv4).
    /// `location_name`: that address as `symbol+0xoff` from the recording
    /// kernel's /proc/kallsyms, kept where `reason` is absent (before Linux
    /// 5.17), since the function is then the only sign of who dropped it.
    SkbDrop {
        sock: Option<String>,
        reason: u32,
        reason_name: Option<String>,
        location: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location_name: Option<String>,
        protocol: u16,
    },
    /// `fib:fib_table_lookup` / `fib6:fib6_table_lookup` that failed while
    /// a traced task was current: the route lookup of its own connect or
    /// send. `err` is the lookup's result as -errno (`err_name` by name):
    /// -EINVAL a `blackhole` route, -EACCES `prohibit`, -EHOSTUNREACH
    /// `unreachable` (ip-route(8); net/ipv4/fib_semantics.c `fib_props`),
    /// -ENETUNREACH no route, -EAGAIN none in this table (the next policy
    /// rule's table is tried, ip-rule(8)). `table` is the routing table id
    /// (254 main, 255 local); `rt_type` the IPv6 route's type (RTN_* of
    /// include/uapi/linux/rtnetlink.h: 6 blackhole, 7 unreachable, 8
    /// prohibit), absent for IPv4. `src` is the flow's source (unspecified
    /// address and port 0 when not chosen yet), `dst` its destination.
    RouteLookup {
        table: u32,
        err: i32,
        err_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rt_type: Option<u8>,
        src: SockAddr,
        dst: SockAddr,
    },
}

/// Socket I/O, either way: the fields of a `send` or `recv` event. The
/// JSON `kind` is the direction, so the two [`Op`] variants stay (a stored
/// line is unchanged), but they share this one struct: code that treats
/// both alike binds `Op::Send(io) | Op::Recv(io)`, and [`Op::io`] gives
/// the direction with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Io {
    /// The syscall's name (`write`, `sendto`, `recvmsg`...).
    pub syscall: String,
    /// The socket's fd in the calling process.
    pub fd: i32,
    /// Bytes moved (>= 0), or `-errno`.
    pub ret: i64,
    /// The failure's errno name (`"EAGAIN"`), `None` on success.
    pub errno: Option<String>,
    /// The address given to or returned by the call (`sendto`'s
    /// `dest_addr`, `recvfrom`'s `src_addr`), if any: `write`/`read` carry
    /// none, the socket's `connect` names the peer.
    pub peer: Option<SockAddr>,
    /// The payload's head, at most 128 bytes, hex encoded.
    pub data_hex: Option<String>,
    /// The socket's kernel address (`struct sock *`, hex) as the kernel's fd
    /// table had it when the call entered; see [`Op`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sock: Option<String>,
}

/// The direction of socket I/O ([`Op::io`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From this host: `send`, `sendto`, `sendmsg`, `sendmmsg`, `write`.
    Send,
    /// To this host: `recvfrom`, `recvmsg`, `read`.
    Recv,
}

impl Op {
    /// A successful `close(fd)` of a socket whose kernel address is unknown.
    pub fn close(fd: i32) -> Op {
        Op::Close {
            fd,
            ret: 0,
            sock: None,
        }
    }

    /// A `tcp_send_reset` event's `enum sk_rst_reason` as the tracing
    /// kernel's format file named it (`NOT_SPECIFIED`), else `reason N`
    /// (kernels before 6.10 have no reason field: 0); `None` for every
    /// other kind.
    pub fn reset_reason(&self) -> Option<String> {
        match self {
            Op::TcpSendReset {
                reason,
                reason_name,
                ..
            } => Some(
                reason_name
                    .clone()
                    .unwrap_or_else(|| format!("reason {reason}")),
            ),
            _ => None,
        }
    }

    /// The I/O of a `send` or `recv` event with its direction; `None` for
    /// every other kind.
    pub fn io(&self) -> Option<(Dir, &Io)> {
        match self {
            Op::Send(io) => Some((Dir::Send, io)),
            Op::Recv(io) => Some((Dir::Recv, io)),
            _ => None,
        }
    }

    /// The `send` or `recv` event of `io`.
    pub fn from_io(dir: Dir, io: Io) -> Op {
        match dir {
            Dir::Send => Op::Send(io),
            Dir::Recv => Op::Recv(io),
        }
    }
}

impl SockAddr {
    /// As a standard socket address.
    pub fn socket_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.ip, self.port)
    }

    /// As on the wire: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what
    /// a dual-stack socket reports) is the IPv4 address.
    pub fn canonical(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.ip.to_canonical(), self.port)
    }
}

impl From<std::net::SocketAddr> for SockAddr {
    fn from(a: std::net::SocketAddr) -> SockAddr {
        SockAddr {
            ip: a.ip(),
            port: a.port(),
        }
    }
}

impl std::str::FromStr for SockAddr {
    type Err = std::net::AddrParseError;

    /// Parses `198.18.0.2:8080` or `[::1]:53`.
    fn from_str(s: &str) -> Result<SockAddr, Self::Err> {
        s.parse::<std::net::SocketAddr>().map(SockAddr::from)
    }
}

impl std::fmt::Display for SockAddr {
    /// `198.18.0.2:8080`, `[::1]:53`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.socket_addr().fmt(f)
    }
}
