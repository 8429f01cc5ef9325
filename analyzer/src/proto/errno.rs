//! Linux errno values the analyzer reasons about, from errno(3) and
//! include/uapi/asm-generic/errno*.h. Classification is always by number:
//! the wording differs between systems (FIELD-NOTES.md: "socket is not
//! connected" is BSD's ENOTCONN text).

/// Operation not permitted (often a netfilter REJECT/drop seen by `sendmsg`).
pub const EPERM: i32 = 1;
/// Resource temporarily unavailable (non-blocking socket with no data).
pub const EAGAIN: i32 = 11;
/// Permission denied.
pub const EACCES: i32 = 13;
/// Broken pipe: a write after the peer reset the connection.
pub const EPIPE: i32 = 32;
/// Cannot assign requested address.
pub const EADDRNOTAVAIL: i32 = 99;
/// Network is unreachable: no route; `connect()` returns it synchronously.
pub const ENETUNREACH: i32 = 101;
/// Connection reset by peer.
pub const ECONNRESET: i32 = 104;
/// Transport endpoint is not connected.
pub const ENOTCONN: i32 = 107;
/// Connection timed out: the kernel gave up retransmitting the SYN.
pub const ETIMEDOUT: i32 = 110;
/// Connection refused: a RST answered the SYN, or ICMP port unreachable for UDP.
pub const ECONNREFUSED: i32 = 111;
/// No route to host: usually an ICMP host/admin unreachable came back.
pub const EHOSTUNREACH: i32 = 113;
/// Operation now in progress: a non-blocking `connect()` started.
pub const EINPROGRESS: i32 = 115;

/// The symbolic name of a Linux errno value (`111` -> `"ECONNREFUSED"`),
/// or `"errno N"` for values this table does not know.
pub fn name(errno: i32) -> String {
    let s = match errno {
        EPERM => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        9 => "EBADF",
        EAGAIN => "EAGAIN",
        EACCES => "EACCES",
        22 => "EINVAL",
        24 => "EMFILE",
        EPIPE => "EPIPE",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        EADDRNOTAVAIL => "EADDRNOTAVAIL",
        100 => "ENETDOWN",
        ENETUNREACH => "ENETUNREACH",
        ECONNRESET => "ECONNRESET",
        103 => "ECONNABORTED",
        105 => "ENOBUFS",
        106 => "EISCONN",
        ENOTCONN => "ENOTCONN",
        ETIMEDOUT => "ETIMEDOUT",
        ECONNREFUSED => "ECONNREFUSED",
        112 => "EHOSTDOWN",
        EHOSTUNREACH => "EHOSTUNREACH",
        114 => "EALREADY",
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
