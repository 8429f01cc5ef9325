//! Every errno Linux documents for the network syscalls the probes see
//! (socket, connect, getsockopt SO_ERROR, send/sendto/sendmsg/sendmmsg and
//! write on a socket, recv/recvfrom/recvmsg and read on a socket), in one
//! table: the cause it proves when the local kernel returned it before
//! anything left ([`Row::local`]), the cause it proves when the wire shows
//! the peer's or the path's answer ([`Row::peer`]), Go's words for it, and
//! the evidence that confirms it or tells its cases apart.
//!
//! Sources: connect(2), send(2), recv(2), socket(2), getsockopt(2),
//! socket(7), ip(7), ipv6(7), tcp(7), udp(7), and ip-route(8) for what the
//! route types `blackhole`, `prohibit` and `unreachable` return ("the local
//! senders get an EINVAL / EACCES / EHOSTUNREACH error"); Go's text is
//! `syscall.Errno.Error()` (src/syscall/zerrors_linux_amd64.go).
//!
//! Errnos that need a packet or the passing of time (ECONNREFUSED,
//! ETIMEDOUT, ECONNRESET, EPIPE) have no [`Row::local`]: the rules decide
//! them from the wire and the kernel's records (a local REJECT or drop is
//! `local-firewall-reject` / `local-firewall-drop` there).
//!
//! The rules ([`crate::verdict::rules`]) read it: an errno that `connect()`
//! returned itself, with no SYN on the wire and no answer from anyone, is
//! [`Row::local`]; what the peer or a router said is decided from the
//! packets, and [`Row::peer`] names the cause they prove.

use super::Cause;
use crate::proto::errno::*;

/// A network syscall the probes record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// socket(2).
    Socket,
    /// connect(2), its own return value.
    Connect,
    /// getsockopt(SOL_SOCKET, SO_ERROR): a non-blocking connect's result.
    SoError,
    /// send, sendto, sendmsg, sendmmsg, write on a socket.
    Send,
    /// recv, recvfrom, recvmsg, read on a socket.
    Recv,
}

/// What kind of outcome an errno is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nature {
    /// A failure of the network path: local kernel, path or peer.
    Failure,
    /// The calling program misused the API (bad fd, buffer, length): not
    /// the network's doing.
    CallerBug,
    /// Not a failure: pending, or to be retried (EINPROGRESS, EAGAIN, EINTR).
    NotFailure,
}

/// One errno.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The errno value.
    pub errno: i32,
    /// The syscalls whose man pages document it.
    pub calls: &'static [Call],
    /// What kind of outcome it is.
    pub nature: Nature,
    /// The cause when the local kernel returned it before any packet left
    /// (nothing on the wire, no answer from anyone).
    pub local: Option<Cause>,
    /// The cause when the wire shows the answer that produced it.
    pub peer: Option<Cause>,
    /// Go's words for it.
    pub go_text: &'static str,
    /// What the local kernel did when it returned it before any packet
    /// left; `{ip}` stands for the peer's address.
    pub local_meaning: &'static str,
    /// What confirms it, or tells its cases apart.
    pub evidence: &'static str,
    /// Where Linux documents it.
    pub sources: &'static str,
}

use Call::*;

const IO: &[Call] = &[Send, Recv];
const ANY: &[Call] = &[Socket, Connect, SoError, Send, Recv];

const fn row(errno: i32, calls: &'static [Call], nature: Nature, go_text: &'static str) -> Row {
    Row {
        errno,
        calls,
        nature,
        local: None,
        peer: None,
        go_text,
        local_meaning: "",
        evidence: "",
        sources: "",
    }
}

/// The table, by errno value.
pub const TABLE: &[Row] = &[
    Row {
        local: Some(Cause::LocalPolicyDenied),
        local_meaning: "a policy of this host (a cgroup BPF connect hook, an LSM, a firewall rule) forbids connecting to {ip}",
        evidence: "send: `kfree_skb` NETFILTER_DROP on the socket or a retransmit failing with -EPERM is this host's packet filter (local-firewall-drop); connect() returning it with no drop record is a policy hook (cgroup BPF, LSM) or a broadcast address without SO_BROADCAST",
        sources: "connect(2), send(2) EACCES/EPERM, ip(7)",
        ..row(EPERM, &[Connect, Send], Nature::Failure, "operation not permitted")
    },
    Row {
        local: Some(Cause::LocalRouteProhibit),
        local_meaning: "this host's route to {ip} is of type `prohibit` (or a policy forbids it): the kernel refused before any SYN",
        evidence: "connect() returning it at once with no SYN on the wire: a `prohibit` route (ip-route(8)); a policy (LSM, broadcast without SO_BROADCAST) otherwise. An ICMP admin-prohibited from a router comes back as EHOSTUNREACH, not EACCES (net/ipv4/icmp.c icmp_err_convert)",
        sources: "connect(2), send(2), socket(2), ip(7), ip-route(8)",
        ..row(EACCES, &[Socket, Connect, Send], Nature::Failure, "permission denied")
    },
    Row {
        local: Some(Cause::LocalRouteBlackhole),
        local_meaning: "this host's route to {ip} is a `blackhole`: the kernel discards it and tells the sender EINVAL",
        evidence: "connect() returning it at once with no SYN on the wire: a `blackhole` route (ip-route(8)); a malformed address or length is a caller bug, which Go's dialer does not make",
        sources: "connect(2), send(2), recv(2), socket(2), ip(7), ip-route(8)",
        ..row(EINVAL, ANY, Nature::Failure, "invalid argument")
    },
    Row {
        local: Some(Cause::LocalAddressUnavailable),
        local_meaning: "this host has no usable local address or port to reach {ip} from (no source address of that family, or every ephemeral port in use)",
        evidence: "connect() returning it at once with nothing on the wire: no local address of the peer's family (an IPv6 peer with no IPv6 address configured), or ephemeral ports exhausted (net.ipv4.ip_local_port_range, many sockets in TIME_WAIT)",
        sources: "connect(2), ip(7), ipv6(7)",
        ..row(EADDRNOTAVAIL, &[Connect], Nature::Failure, "cannot assign requested address")
    },
    Row {
        local: Some(Cause::LocalAddressUnavailable),
        local_meaning: "the local address or port the socket would use to reach {ip} is already in use",
        evidence: "connect() returning it at once: the 4-tuple is taken (bound source port); nothing on the wire",
        sources: "connect(2), ip(7)",
        ..row(EADDRINUSE, &[Connect], Nature::Failure, "address already in use")
    },
    Row {
        local: Some(Cause::LocalAddressUnavailable),
        local_meaning: "this kernel does not support the address family needed to reach {ip} (IPv6 disabled?)",
        evidence: "socket() or connect() returning it: the family is not built in or disabled (ipv6.disable=1); nothing on the wire",
        sources: "connect(2), socket(2), tcp(7)",
        ..row(EAFNOSUPPORT, &[Socket, Connect], Nature::Failure, "address family not supported by protocol")
    },
    Row {
        local: Some(Cause::NoRoute),
        peer: Some(Cause::IcmpUnreachable),
        local_meaning: "the local kernel has no route to {ip}",
        evidence: "connect() returning it at once with nothing on the wire: no route in this host's table (kernel); as SO_ERROR or a read/write result after an ICMP net unreachable quoting our packet: a router said so (network)",
        sources: "connect(2), ip(7)",
        ..row(ENETUNREACH, ANY, Nature::Failure, "network is unreachable")
    },
    Row {
        local: Some(Cause::NoRoute),
        local_meaning: "the interface of this host's route to {ip} is down",
        evidence: "returned at once with nothing on the wire: the route's device is down (`ip link`)",
        sources: "errno(3); net/ipv4/route.c",
        ..row(ENETDOWN, &[Connect, Send], Nature::Failure, "network is down")
    },
    Row {
        local: Some(Cause::LocalRouteUnreachable),
        peer: Some(Cause::IcmpUnreachable),
        local_meaning: "this host's route to {ip} is of type `unreachable`: the kernel refused before any SYN",
        evidence: "connect() returning it at once with no SYN on the wire: an `unreachable` route (ip-route(8), kernel); as SO_ERROR after an ICMP host/admin unreachable quoting our SYN: the router that sent it (network); as SO_ERROR with no SYN on the wire and the SYN dropped with `kfree_skb` NEIGH_FAILED (unanswered ARP/neighbour solicitations, the kernel's own ICMP host unreachable on `lo`): no host at that address on the link (network, neighbour-unreachable)",
        sources: "connect(2) (via ip(7)), ip(7), ip-route(8)",
        ..row(EHOSTUNREACH, ANY, Nature::Failure, "no route to host")
    },
    Row {
        peer: Some(Cause::ConnectionRefused),
        evidence: "TCP: SYN and RST on the wire (the peer; on `lo` this host, local-refused; with a NETFILTER_DROP of our SYN, a local REJECT: local-firewall-reject); UDP: an ICMP port unreachable quoting an earlier datagram",
        sources: "connect(2), recv(2), udp(7)",
        ..row(ECONNREFUSED, &[Connect, SoError, Send, Recv], Nature::Failure, "connection refused")
    },
    Row {
        peer: Some(Cause::ConnectTimeout),
        evidence: "SYNs on the wire and no answer: the path or the peer (connect-timeout); no SYN on the wire and NETFILTER_DROP / -EPERM retransmits: this host's packet filter (local-firewall-drop); on an established connection: data retransmitted and never acknowledged (tcp(7) tcp_retries2)",
        sources: "connect(2), tcp(7)",
        ..row(ETIMEDOUT, &[Connect, SoError, Recv], Nature::Failure, "connection timed out")
    },
    Row {
        peer: Some(Cause::ConnectionReset),
        evidence: "an RST from the peer on the wire with `tcp_receive_reset` (network); an RST made by this host's REJECT rule on `lo` with our packet dropped (kernel)",
        sources: "send(2), recv(2) (via tcp(7)), tcp(7)",
        ..row(ECONNRESET, IO, Nature::Failure, "connection reset by peer")
    },
    Row {
        peer: Some(Cause::ConnectionReset),
        evidence: "a write after the connection was reset (RST on the wire) or shut down locally",
        sources: "send(2), tcp(7)",
        ..row(EPIPE, &[Send], Nature::Failure, "broken pipe")
    },
    Row {
        local: Some(Cause::LocalResourceExhausted),
        local_meaning: "this host ran out of socket buffer space",
        evidence: "returned at once: the interface queue or socket memory is full (net.core.wmem_*, a qdisc dropping)",
        sources: "send(2), socket(2), ip(7)",
        ..row(ENOBUFS, &[Socket, Send], Nature::Failure, "no buffer space available")
    },
    Row {
        local: Some(Cause::LocalResourceExhausted),
        local_meaning: "this host's kernel ran out of memory",
        evidence: "returned at once: kernel memory (dmesg, /proc/meminfo)",
        sources: "send(2), recv(2), socket(2), ip(7)",
        ..row(ENOMEM, &[Socket, Send, Recv], Nature::Failure, "cannot allocate memory")
    },
    Row {
        local: Some(Cause::LocalResourceExhausted),
        local_meaning: "the process has too many open files (RLIMIT_NOFILE)",
        evidence: "socket() failing: `ulimit -n`; nothing on the wire",
        sources: "socket(2)",
        ..row(EMFILE, &[Socket], Nature::Failure, "too many open files")
    },
    Row {
        local: Some(Cause::LocalResourceExhausted),
        local_meaning: "the system has too many open files (fs.file-max)",
        evidence: "socket() failing: /proc/sys/fs/file-nr; nothing on the wire",
        sources: "socket(2)",
        ..row(ENFILE, &[Socket], Nature::Failure, "too many open files in system")
    },
    Row {
        local: Some(Cause::LocalAddressUnavailable),
        local_meaning: "this kernel does not support the protocol needed to reach {ip}",
        evidence: "socket() failing: the protocol is not built in",
        sources: "socket(2)",
        ..row(EPROTONOSUPPORT, &[Socket], Nature::Failure, "protocol not supported")
    },
    row(EINPROGRESS, &[Connect], Nature::NotFailure, "operation now in progress"),
    row(EALREADY, &[Connect, Send], Nature::NotFailure, "operation already in progress"),
    row(EAGAIN, &[Connect, Send, Recv], Nature::NotFailure, "resource temporarily unavailable"),
    row(EINTR, &[Connect, Send, Recv], Nature::NotFailure, "interrupted system call"),
    row(EBADF, ANY, Nature::CallerBug, "bad file descriptor"),
    row(EFAULT, ANY, Nature::CallerBug, "bad address"),
    row(ENOTSOCK, ANY, Nature::CallerBug, "socket operation on non-socket"),
    row(EISCONN, &[Connect, Send], Nature::CallerBug, "transport endpoint is already connected"),
    row(ENOTCONN, IO, Nature::CallerBug, "transport endpoint is not connected"),
    row(EDESTADDRREQ, &[Send], Nature::CallerBug, "destination address required"),
    row(EMSGSIZE, &[Send], Nature::CallerBug, "message too long"),
    row(EOPNOTSUPP, &[Send], Nature::CallerBug, "operation not supported"),
    row(EPROTOTYPE, &[Connect], Nature::CallerBug, "protocol wrong type for socket"),
    row(ENOPROTOOPT, &[SoError], Nature::CallerBug, "protocol not available"),
];

/// The row of `errno`, if Linux documents it for these syscalls.
pub fn lookup(errno: i32) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.errno == errno)
}

/// The cause of `call` failing with `errno` when the local kernel returned
/// it before any packet left and nobody answered.
pub fn local_cause(call: Call, errno: i32) -> Option<Cause> {
    lookup(errno)
        .filter(|r| r.calls.contains(&call) && r.nature == Nature::Failure)
        .and_then(|r| r.local)
}

/// Go's words for `errno` (`connection refused`).
pub fn go_text(errno: i32) -> Option<&'static str> {
    lookup(errno).map(|r| r.go_text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::Layer;

    #[test]
    fn one_row_per_errno_and_every_local_cause_is_the_kernel() {
        for (i, r) in TABLE.iter().enumerate() {
            assert!(
                TABLE[..i].iter().all(|o| o.errno != r.errno),
                "{} twice",
                name(r.errno)
            );
            if let Some(c) = r.local {
                assert_eq!(c.layer(), Layer::Kernel, "{}", name(r.errno));
                assert!(!r.local_meaning.is_empty(), "{}", name(r.errno));
            }
            if r.nature == Nature::Failure {
                assert!(!r.evidence.is_empty() && !r.sources.is_empty());
            }
            if let Some(c) = r.peer {
                assert_eq!(c.layer(), Layer::Network, "{}", name(r.errno));
            }
            assert!(!name(r.errno).starts_with("errno"), "{} unnamed", r.errno);
        }
    }

    #[test]
    fn route_types_of_ip_route_8() {
        assert_eq!(
            local_cause(Call::Connect, EINVAL),
            Some(Cause::LocalRouteBlackhole)
        );
        assert_eq!(
            local_cause(Call::Connect, EACCES),
            Some(Cause::LocalRouteProhibit)
        );
        assert_eq!(
            local_cause(Call::Connect, EHOSTUNREACH),
            Some(Cause::LocalRouteUnreachable)
        );
        assert_eq!(
            local_cause(Call::Connect, ENETUNREACH),
            Some(Cause::NoRoute)
        );
        assert_eq!(
            local_cause(Call::Connect, EADDRNOTAVAIL),
            Some(Cause::LocalAddressUnavailable)
        );
        assert_eq!(local_cause(Call::Connect, EINPROGRESS), None);
        assert_eq!(local_cause(Call::Connect, EBADF), None);
        // They need an answer or time: only the wire decides them.
        assert_eq!(local_cause(Call::Connect, ECONNREFUSED), None);
        assert_eq!(local_cause(Call::Connect, ETIMEDOUT), None);
        assert_eq!(go_text(EINVAL), Some("invalid argument"));
    }
}
