//! The event ABI shared by the gotrace eBPF programs (`ebpf/probes`, written by
//! the kernel side) and the tracer (read from the ring buffer in user space).
//!
//! One record type, [`RawEvent`], of fixed size [`RawEvent::SIZE`] bytes, for
//! every kind of event; [`kind`] says which fields are meaningful. All
//! integers are in host byte order except where a field says otherwise.
//! `no_std` so the eBPF crate can use it (std only in the unit tests).
//! The layout is pinned at compile time (`layout`): the probes object is
//! built apart from the tracer that reads it.
#![no_std]

mod layout;
pub mod tcp_state;
#[cfg(test)]
mod tests;

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
    /// `close(2)` of a socket the traced tree created, emitted when the call
    /// enters (the kernel frees the number inside it, and another thread may
    /// get it back before it returns): `ret` is always 0.
    pub const CLOSE: u32 = 11;
    /// `sched:sched_process_fork`: `arg` is the child's PID (a TID when a thread was created).
    pub const FORK: u32 = 12;
    /// `sched:sched_process_exec`: `data` holds the filename (NUL-terminated).
    pub const EXEC: u32 = 13;
    /// `sched:sched_process_exit` of a thread group leader (TID == TGID).
    /// `arg` is `exit_code | 1 << 32` when the task's `exit_code` could be
    /// read (a wait(2) status: `code << 8`, or the killing signal number,
    /// with 0x80 for a core dump; kernel/exit.c sets it before the
    /// tracepoint), 0 when not.
    pub const EXIT: u32 = 14;
    /// `sock:inet_sock_set_state` for a TCP socket of the tree: `arg` packs
    /// `oldstate | newstate << 8` ([`crate::tcp_state`], include/net/tcp_states.h),
    /// `cookie` is the kernel socket address; local end in `laddr`/`lport`,
    /// peer in `addr`/`port`. Transitions after SYN_SENT often run in softirq,
    /// so `tgid`/`tid` are then whatever task was current; link by `cookie`.
    pub const TCP_STATE: u32 = 15;
    /// `tcp:tcp_retransmit_skb` for a socket in the tree's TCP set: `cookie`
    /// is the kernel socket address, `arg` its TCP state (as TCP_STATE),
    /// `ret` the transmit's result, 0 or -errno (-EPERM when a local
    /// netfilter hook dropped it; 0 on kernels without the `err` field).
    /// Local end in `laddr`/`lport`, peer in `addr`/`port`. Runs in timer
    /// softirq: `tgid` is the socket's owner, `tid` 0 unless the owner was current.
    pub const TCP_RETRANSMIT: u32 = 16;
    /// `tcp:tcp_receive_reset`: an RST was accepted for a socket of the
    /// tree; `cookie`, ends and `tgid`/`tid` as TCP_RETRANSMIT.
    pub const TCP_RECEIVE_RESET: u32 = 17;
    /// `tcp:tcp_send_reset` on a socket of the tree, or on a socket in
    /// state CLOSE while a traced task is current (close(2) sets CLOSE,
    /// dropping the socket from the set, before it sends its RST): `arg`
    /// packs `state | reason << 32` (`enum sk_rst_reason`, Linux >= 6.10);
    /// `cookie`, `tgid`/`tid` as TCP_RETRANSMIT. Ends from the record's
    /// sockaddr blobs; `family` 0 when the kernel left them empty.
    pub const TCP_SEND_RESET: u32 = 18;
    /// `skb:kfree_skb` of a packet whose `skb->sk` is in the tree's TCP set
    /// (`tgid` = owner, `tid` as TCP_RETRANSMIT), or any socket's packet
    /// freed while a traced task was current (its own send). `cookie` is
    /// `skb->sk`, `arg` the freeing function's address (`location`), `ret`
    /// packs `reason | protocol << 32` (`enum skb_drop_reason`; ethertype in
    /// host order, 0x0800 IPv4).
    pub const SKB_DROP: u32 = 19;
    /// A chunk of a `write(2)` to fd 2 (stderr) by a traced task, only when
    /// the tracer set the `CAPTURE_STDERR` global (attach: gotrace does not
    /// own the process's stderr there). `ret` is the write's return (bytes
    /// written), `arg` this chunk's byte offset in the buffer; `data` holds
    /// up to [`DATA_LEN`](super::DATA_LEN) bytes. A write yields at most
    /// [`STDERR_MAX_CHUNKS`](super::STDERR_MAX_CHUNKS) chunks.
    pub const STDERR_WRITE: u32 = 20;
    /// setns(2) (`arg` 0) or unshare(2) (`arg` 1) returned 0 in a traced
    /// task while the `FOLLOW_NETNS` global is set: the probe has sent the
    /// task's process SIGSTOP; the tracer checks the task's network
    /// namespace, captures there if it is new, and sends SIGCONT.
    pub const NETNS_ENTER: u32 = 21;
    /// `fib:fib_table_lookup` / `fib6:fib6_table_lookup` that failed
    /// (`err` non-zero) while a traced task was current: a route lookup
    /// made for the task's own connect or send. `ret` is the lookup's
    /// `err` (-errno: -EINVAL a `blackhole` route, -EACCES `prohibit`,
    /// -EHOSTUNREACH `unreachable`, -ENETUNREACH no route, -EAGAIN this
    /// table has none and the next rule's table is tried: net/ipv4/
    /// fib_semantics.c `fib_props`, net/ipv6/route.c), `arg` packs
    /// `tb_id | rt_type << 32` (the IPv6 route type, RTN_*, 0 for IPv4:
    /// `ret` says it there). The flow's destination in
    /// `family`/`addr`/`port`, its source in `laddr`/`lport` (0 when not
    /// chosen yet); `fd` -1, `cookie` 0.
    pub const ROUTE_LOOKUP: u32 = 22;
}

/// Most chunks one stderr write is split into (4 KiB at 128 bytes each):
/// enough for Go's longest error lines.
pub const STDERR_MAX_CHUNKS: usize = 32;

/// Address family values as in `<sys/socket.h>`.
pub const AF_INET: u16 = 2;
/// IPv6 address family.
pub const AF_INET6: u16 = 10;
/// Local (Unix domain) socket family (`<sys/socket.h>`, also `AF_LOCAL`).
pub const AF_UNIX: u16 = 1;
/// Netlink socket family (`<sys/socket.h>`): Go's net.Interfaces and the
/// resolver's route lookups.
pub const AF_NETLINK: u16 = 16;

/// Socket types as in `<linux/net.h>` (`enum sock_type`), without the
/// `SOCK_NONBLOCK`/`SOCK_CLOEXEC` flags: a byte stream (TCP).
pub const SOCK_STREAM: u16 = 1;
/// Datagram socket (UDP).
pub const SOCK_DGRAM: u16 = 2;
/// Raw socket.
pub const SOCK_RAW: u16 = 3;

/// One event, as written to the ring buffer.
///
/// Layout is `#[repr(C)]` and identical on both sides; user space must check
/// a record is at least [`RawEvent::SIZE`] bytes before reading it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawEvent {
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC, ns.
    pub ts_ns: u64,
    /// Syscall return (bytes, fd, or negative errno); TCP_RETRANSMIT's
    /// `err`, SKB_DROP's reason and protocol; 0 otherwise.
    pub ret: i64,
    /// Kind-specific value (see [`kind`]).
    pub arg: u64,
    /// Kernel `struct sock *`: for TCP_STATE and kinds 16..19; for the
    /// syscall kinds 1..11 the socket behind `fd` as the kernel's fd table
    /// had it (0 when it could not be read: no BTF offsets); 0 otherwise.
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
    /// Local port, host byte order (TCP_STATE and the TCP kinds 16..18).
    pub lport: u16,
    /// Valid bytes in `data`.
    pub data_len: u16,
    /// Peer address in network byte order; IPv4 uses the first 4 bytes.
    pub addr: [u8; 16],
    /// Local address in network byte order (TCP_STATE and the TCP kinds 16..18).
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
    /// Offset of `err` in `tcp:tcp_retransmit_skb` (76 on 6.18); 0 when the
    /// kernel's record has no such field (then TCP_RETRANSMIT's `ret` is 0).
    pub const RETRANSMIT_ERR_OFFSET: &str = "RETRANSMIT_ERR_OFFSET";
    /// Record layout of `tcp:tcp_retransmit_skb`: [`super::tcp_layout`].
    pub const RETRANSMIT_LAYOUT: &str = "RETRANSMIT_LAYOUT";
    /// Record layout of `tcp:tcp_receive_reset`: [`super::tcp_layout`].
    pub const RECEIVE_RESET_LAYOUT: &str = "RECEIVE_RESET_LAYOUT";
    /// Record layout of `tcp:tcp_send_reset`: [`super::tcp_layout`].
    pub const SEND_RESET_LAYOUT: &str = "SEND_RESET_LAYOUT";
    /// Offset of `protocol` in `skb:kfree_skb` (32 on 6.18, 24 before `rx_sk`).
    pub const KFREE_SKB_PROTOCOL_OFFSET: &str = "KFREE_SKB_PROTOCOL_OFFSET";
    /// Offset of `reason` in `skb:kfree_skb` (36 on 6.18); 0 when absent (< 5.17).
    pub const KFREE_SKB_REASON_OFFSET: &str = "KFREE_SKB_REASON_OFFSET";
    /// Offset of `sk` in `struct sk_buff`, from the kernel's BTF (24 on x86_64).
    pub const SKB_SK_OFFSET: &str = "SKB_SK_OFFSET";
    /// Offset of `pid` in `struct task_struct`, from the kernel's BTF (raw
    /// `sched_process_fork` reads the child's).
    pub const TASK_PID_OFFSET: &str = "TASK_PID_OFFSET";
    /// Offset of `filename` in `struct linux_binprm`, from the kernel's BTF
    /// (raw `sched_process_exec`).
    pub const BINPRM_FILENAME_OFFSET: &str = "BINPRM_FILENAME_OFFSET";
    /// Offset of `exit_code` in `struct task_struct`, from the kernel's BTF;
    /// 0 when unknown (EXIT events then carry no status).
    pub const TASK_EXIT_CODE_OFFSET: &str = "TASK_EXIT_CODE_OFFSET";
    /// Non-zero: stop and report tasks that change namespace
    /// ([`super::kind::NETNS_ENTER`]; `run` mode).
    pub const FOLLOW_NETNS: &str = "FOLLOW_NETNS";
    /// Non-zero: emit [`super::kind::STDERR_WRITE`] chunks (attach mode).
    pub const CAPTURE_STDERR: &str = "CAPTURE_STDERR";
    /// Offset of `files` in `struct task_struct` (kernel BTF); 0 = the fd
    /// table offsets are unknown and fds are not checked against it.
    pub const FILES_OFF: &str = "FILES_OFF";
    /// Offset of `fdt` in `struct files_struct`.
    pub const FDT_OFF: &str = "FDT_OFF";
    /// Offset of `max_fds` in `struct fdtable`.
    pub const MAX_FDS_OFF: &str = "MAX_FDS_OFF";
    /// Offset of `fd` (the `struct file *` array) in `struct fdtable`.
    pub const FD_ARRAY_OFF: &str = "FD_ARRAY_OFF";
    /// Offset of `f_inode` in `struct file`.
    pub const F_INODE_OFF: &str = "F_INODE_OFF";
    /// Offset of `i_mode` in `struct inode`.
    pub const I_MODE_OFF: &str = "I_MODE_OFF";
    /// Offset of `private_data` in `struct file` (a socket file's `struct socket *`).
    pub const PRIVATE_OFF: &str = "PRIVATE_OFF";
    /// Offset of `sk` in `struct socket`.
    pub const SOCKET_SK_OFF: &str = "SOCKET_SK_OFF";
    /// Offsets of `src`, `dst`, `sport`, `dport` in `fib:fib_table_lookup`
    /// (28, 32, 56, 58 on 6.18; `tb_id` at 8 and `err` at 12 since the
    /// event has `err`, checked by the tracer).
    pub const FIB_SRC_OFF: &str = "FIB_SRC_OFF";
    /// See [`FIB_SRC_OFF`].
    pub const FIB_DST_OFF: &str = "FIB_DST_OFF";
    /// See [`FIB_SRC_OFF`].
    pub const FIB_SPORT_OFF: &str = "FIB_SPORT_OFF";
    /// See [`FIB_SRC_OFF`].
    pub const FIB_DPORT_OFF: &str = "FIB_DPORT_OFF";
    /// The same four in `fib6:fib6_table_lookup` (31, 47, 64, 66 on 6.18).
    pub const FIB6_SRC_OFF: &str = "FIB6_SRC_OFF";
    /// See [`FIB6_SRC_OFF`].
    pub const FIB6_DST_OFF: &str = "FIB6_DST_OFF";
    /// See [`FIB6_SRC_OFF`].
    pub const FIB6_SPORT_OFF: &str = "FIB6_SPORT_OFF";
    /// See [`FIB6_SRC_OFF`].
    pub const FIB6_DPORT_OFF: &str = "FIB6_DPORT_OFF";
    /// Offset of `rt_type` in `fib6:fib6_table_lookup` (69 on 6.18); 0
    /// when the kernel's record has none.
    pub const FIB6_RT_TYPE_OFF: &str = "FIB6_RT_TYPE_OFF";
}

/// The record layouts of the TCP tracepoints (include/trace/events/tcp.h),
/// told apart by the tracer from each kernel's format file.
pub mod tcp_layout {
    /// The 5-tuple with `family` (sport, dport, family, saddr, daddr,
    /// saddr_v6, daddr_v6), measured on 5.15, 6.1, 6.6, 6.12 and 6.18;
    /// `tcp_send_reset` has it (as `tcp_event_sk_skb`) until 6.9.
    pub const FAMILY: u32 = 0;
    /// The same without `family` (5.10, measured): a socket is IPv4
    /// when daddr_v6 holds a v4-mapped address (TP_STORE_V4MAPPED).
    pub const NO_FAMILY: u32 = 1;
    /// `tcp_send_reset` since Linux 6.10: `state`, `reason`, then both ends
    /// as `struct sockaddr_in6`-sized blobs.
    pub const SOCKADDR: u32 = 2;
}

/// Key of the `PRESOCKS` map: TCP sockets that were open before an attach,
/// by their 5-tuple, so the kernel-side TCP events of those sockets (which
/// run in softirq and are matched by socket address) can adopt them.
/// `lport` and `rport` in host order; `raddr4` is the IPv4 peer address, or
/// the last 4 bytes of an IPv6 one, as `u32::from_ne_bytes` of its octets.
pub fn presock_key(lport: u16, rport: u16, raddr4: [u8; 4]) -> u64 {
    lport as u64 | (rport as u64) << 16 | (u32::from_ne_bytes(raddr4) as u64) << 32
}
