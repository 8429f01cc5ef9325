//! The event ABI shared by the gotrace eBPF programs (`ebpf/probes`, written by
//! the kernel side) and the tracer (read from the ring buffer in user space).
//!
//! One record type, [`RawEvent`], of fixed size [`RawEvent::SIZE`] bytes, for
//! every kind of event; [`kind`] says which fields are meaningful. All
//! integers are in host byte order except where a field says otherwise.
//! `no_std` so the eBPF crate can use it.
#![no_std]

/// Bytes of payload or path copied into [`RawEvent::data`].
///
/// 128 bytes hold a whole DNS query for any module host name Go asks for and
/// the first line of an HTTP request or response.
pub const DATA_LEN: usize = 128;

/// Event kinds, the value of [`RawEvent::kind`].
pub mod kind {
    /// `socket(2)` returned: `ret` is the fd or -errno; `arg` packs
    /// `domain | type << 16 | protocol << 48` (type keeps its SOCK_* flags
    /// in the low 16 bits only).
    pub const SOCKET: u32 = 1;
    /// `connect(2)` returned: `fd`, peer in `family`/`addr`/`port`, `ret` 0 or -errno
    /// (-EINPROGRESS, 115, for every non-blocking TCP dial Go makes).
    pub const CONNECT: u32 = 2;
    /// `getsockopt(fd, SOL_SOCKET, SO_ERROR)` returned: `arg` is the int the
    /// kernel wrote to optval (0 or a positive errno): Go's real dial result
    /// (src/net/fd_unix.go). `ret` is the syscall's own return.
    pub const SO_ERROR: u32 = 3;
    /// `sendto(2)`: `ret` bytes sent or -errno; peer in `addr` when given.
    pub const SENDTO: u32 = 4;
    /// `sendmsg(2)`: as SENDTO, data from the first iovec.
    pub const SENDMSG: u32 = 5;
    /// `sendmmsg(2)`: `ret` is the number of messages sent; data and peer of the first.
    pub const SENDMMSG: u32 = 6;
    /// `recvfrom(2)`: `ret` bytes received or -errno; peer in `addr` when given.
    pub const RECVFROM: u32 = 7;
    /// `recvmsg(2)`: as RECVFROM, data from the first iovec.
    pub const RECVMSG: u32 = 8;
    /// `write(2)` on a socket the traced tree created.
    pub const WRITE: u32 = 9;
    /// `read(2)` on a socket the traced tree created (-EAGAIN returns are not emitted).
    pub const READ: u32 = 10;
    /// `close(2)` of a socket the traced tree created.
    pub const CLOSE: u32 = 11;
    /// `sched:sched_process_fork`: `arg` is the child's PID (a TID when a thread was created).
    pub const FORK: u32 = 12;
    /// `sched:sched_process_exec`: `data` holds the filename (NUL-terminated).
    pub const EXEC: u32 = 13;
    /// `sched:sched_process_exit` of a thread group leader (TID == TGID).
    pub const EXIT: u32 = 14;
    /// `sock:inet_sock_set_state` for a TCP socket of the tree: `arg` packs
    /// `oldstate | newstate << 8` (TCP_* values of include/net/tcp_states.h),
    /// `cookie` is the kernel socket address; local end in `laddr`/`lport`,
    /// peer in `addr`/`port`. Transitions after SYN_SENT often run in softirq,
    /// so `tgid`/`tid` are then whatever task was current; link by `cookie`.
    pub const TCP_STATE: u32 = 15;
}

/// Address family values as in `<sys/socket.h>`.
pub const AF_INET: u16 = 2;
/// IPv6 address family.
pub const AF_INET6: u16 = 10;

/// One event, as written to the ring buffer.
///
/// Layout is `#[repr(C)]` and identical on both sides; user space must check
/// a record is at least [`RawEvent::SIZE`] bytes before reading it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawEvent {
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC, ns.
    pub ts_ns: u64,
    /// Syscall return (bytes, fd, or negative errno); 0 where not a syscall.
    pub ret: i64,
    /// Kind-specific value (see [`kind`]).
    pub arg: u64,
    /// Kernel `struct sock *` for TCP_STATE, 0 otherwise.
    pub cookie: u64,
    /// One of [`kind`].
    pub kind: u32,
    /// Thread group id (the PID users see).
    pub tgid: u32,
    /// Thread id.
    pub tid: u32,
    /// File descriptor, -1 where none.
    pub fd: i32,
    /// Peer address family ([`AF_INET`], [`AF_INET6`]) or 0 when no peer is known.
    pub family: u16,
    /// Peer port, host byte order.
    pub port: u16,
    /// Local port, host byte order (TCP_STATE only).
    pub lport: u16,
    /// Valid bytes in `data`.
    pub data_len: u16,
    /// Peer address in network byte order; IPv4 uses the first 4 bytes.
    pub addr: [u8; 16],
    /// Local address in network byte order (TCP_STATE only).
    pub laddr: [u8; 16],
    /// Task comm (`TASK_COMM_LEN` = 16), NUL-padded.
    pub comm: [u8; 16],
    /// Head of the payload (send/recv/read/write) or the exec filename.
    pub data: [u8; DATA_LEN],
}

impl RawEvent {
    /// Size of one record in bytes.
    pub const SIZE: usize = core::mem::size_of::<RawEvent>();
}

/// Arguments the eBPF side needs from user space, set as read-only globals
/// at load time because they differ between kernels (read from each
/// tracepoint's `format` file).
pub mod globals {
    /// Offset of `child_pid` in `sched:sched_process_fork` (20 on 6.18, 44 on 5.x).
    pub const FORK_CHILD_PID_OFFSET: &str = "FORK_CHILD_PID_OFFSET";
}
