//! Linux errno values the analyzer reasons about, from errno(3) and
//! include/uapi/asm-generic/errno*.h. Classification is always by number:
//! the wording differs between systems (FIELD-NOTES.md: "socket is not
//! connected" is BSD's ENOTCONN text).

/// Operation not permitted (often a netfilter REJECT/drop seen by `sendmsg`).
pub const EPERM: i32 = 1;
/// Interrupted system call.
pub const EINTR: i32 = 4;
/// Bad file descriptor.
pub const EBADF: i32 = 9;
/// Resource temporarily unavailable (non-blocking socket with no data).
pub const EAGAIN: i32 = 11;
/// Cannot allocate memory.
pub const ENOMEM: i32 = 12;
/// Permission denied.
pub const EACCES: i32 = 13;
/// Bad address (a pointer argument outside the caller's memory).
pub const EFAULT: i32 = 14;
/// Invalid argument (connect(): also a `blackhole` route, ip-route(8)).
pub const EINVAL: i32 = 22;
/// Too many open files in the system.
pub const ENFILE: i32 = 23;
/// Too many open files (the process's RLIMIT_NOFILE).
pub const EMFILE: i32 = 24;
/// Broken pipe: a write after the peer reset the connection.
pub const EPIPE: i32 = 32;
/// Socket operation on non-socket.
pub const ENOTSOCK: i32 = 88;
/// Destination address required.
pub const EDESTADDRREQ: i32 = 89;
/// Message too long.
pub const EMSGSIZE: i32 = 90;
/// Protocol wrong type for socket.
pub const EPROTOTYPE: i32 = 91;
/// Protocol not available (getsockopt of an unknown option).
pub const ENOPROTOOPT: i32 = 92;
/// Protocol not supported.
pub const EPROTONOSUPPORT: i32 = 93;
/// Operation not supported.
pub const EOPNOTSUPP: i32 = 95;
/// Address family not supported by protocol.
pub const EAFNOSUPPORT: i32 = 97;
/// Address already in use.
pub const EADDRINUSE: i32 = 98;
/// Cannot assign requested address.
pub const EADDRNOTAVAIL: i32 = 99;
/// Network is down.
pub const ENETDOWN: i32 = 100;
/// Network is unreachable: no route; `connect()` returns it synchronously.
pub const ENETUNREACH: i32 = 101;
/// Software caused connection abort.
pub const ECONNABORTED: i32 = 103;
/// Connection reset by peer.
pub const ECONNRESET: i32 = 104;
/// No buffer space available.
pub const ENOBUFS: i32 = 105;
/// Transport endpoint is already connected.
pub const EISCONN: i32 = 106;
/// Transport endpoint is not connected.
pub const ENOTCONN: i32 = 107;
/// Connection timed out: the kernel gave up retransmitting the SYN.
pub const ETIMEDOUT: i32 = 110;
/// Connection refused: a RST answered the SYN, or ICMP port unreachable for UDP.
pub const ECONNREFUSED: i32 = 111;
/// Host is down.
pub const EHOSTDOWN: i32 = 112;
/// No route to host: an ICMP host/admin unreachable came back, the
/// neighbour never answered, or an `unreachable` route (ip-route(8)).
pub const EHOSTUNREACH: i32 = 113;
/// Operation already in progress.
pub const EALREADY: i32 = 114;
/// Operation now in progress: a non-blocking `connect()` started.
pub const EINPROGRESS: i32 = 115;

/// The symbolic name of a Linux errno value (`111` -> `"ECONNREFUSED"`),
/// or `"errno N"` for values this table does not know.
pub fn name(errno: i32) -> String {
    let s = match errno {
        EPERM => "EPERM",
        2 => "ENOENT",
        EINTR => "EINTR",
        EBADF => "EBADF",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EINVAL => "EINVAL",
        ENFILE => "ENFILE",
        EMFILE => "EMFILE",
        EPIPE => "EPIPE",
        ENOTSOCK => "ENOTSOCK",
        EDESTADDRREQ => "EDESTADDRREQ",
        EMSGSIZE => "EMSGSIZE",
        EPROTOTYPE => "EPROTOTYPE",
        ENOPROTOOPT => "ENOPROTOOPT",
        EPROTONOSUPPORT => "EPROTONOSUPPORT",
        EOPNOTSUPP => "EOPNOTSUPP",
        EAFNOSUPPORT => "EAFNOSUPPORT",
        EADDRINUSE => "EADDRINUSE",
        EADDRNOTAVAIL => "EADDRNOTAVAIL",
        ENETDOWN => "ENETDOWN",
        ENETUNREACH => "ENETUNREACH",
        ECONNABORTED => "ECONNABORTED",
        ECONNRESET => "ECONNRESET",
        ENOBUFS => "ENOBUFS",
        EISCONN => "EISCONN",
        ENOTCONN => "ENOTCONN",
        ETIMEDOUT => "ETIMEDOUT",
        ECONNREFUSED => "ECONNREFUSED",
        EHOSTDOWN => "EHOSTDOWN",
        EHOSTUNREACH => "EHOSTUNREACH",
        EALREADY => "EALREADY",
        EINPROGRESS => "EINPROGRESS",
        _ => return format!("errno {errno}"),
    };
    s.to_string()
}

/// The errno of a syscall return value (`-111` -> `Some(111)`); `None` for
/// success. Linux returns `-errno` in the range -4095..=-1.
pub fn of_ret(ret: i64) -> Option<i32> {
    if (-4095..0).contains(&ret) {
        i32::try_from(-ret).ok()
    } else {
        None
    }
}

/// `"-EINPROGRESS"` or the plain return value, as strace writes it.
pub fn ret_text(ret: i64) -> String {
    match of_ret(ret) {
        Some(e) => format!("-{}", name(e)),
        None => ret.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_returns() {
        assert_eq!(name(ECONNREFUSED), "ECONNREFUSED");
        assert_eq!(name(9999), "errno 9999");
        assert_eq!(of_ret(-101), Some(ENETUNREACH));
        assert_eq!(of_ret(0), None);
        assert_eq!(of_ret(-5000), None);
        assert_eq!(of_ret(i64::MIN), None);
        assert_eq!(ret_text(-115), "-EINPROGRESS");
        assert_eq!(ret_text(7), "7");
    }
}
