//! Reading user-space memory the syscalls point at: socket addresses,
//! payload heads and `struct msghdr`.

use aya_ebpf::helpers::{bpf_probe_read_user, generated as gen};
use core::ffi::c_void;
use gotrace_abi::{RawEvent, AF_INET, AF_INET6, DATA_LEN};

/// Fills `family`/`port`/`addr` of `e` from a user `struct sockaddr *`.
///
/// Layouts from ip(7) and ipv6(7): `sockaddr_in` = family u16, port u16 (big
/// endian), addr [4]; `sockaddr_in6` = family u16, port u16, flowinfo u32,
/// addr [16].
#[inline(always)]
pub unsafe fn read_sockaddr(e: *mut RawEvent, ptr: u64) {
    if ptr == 0 {
        return;
    }
    let Ok(family) = bpf_probe_read_user(ptr as *const u16) else {
        return;
    };
    let port: u16 = bpf_probe_read_user((ptr + 2) as *const u16).unwrap_or(0);
    if family == AF_INET {
        if let Ok(a) = bpf_probe_read_user((ptr + 4) as *const [u8; 4]) {
            (*e).addr[0] = a[0];
            (*e).addr[1] = a[1];
            (*e).addr[2] = a[2];
            (*e).addr[3] = a[3];
        }
    } else if family == AF_INET6 {
        if let Ok(a) = bpf_probe_read_user((ptr + 8) as *const [u8; 16]) {
            (*e).addr = a;
        }
    }
    (*e).family = family;
    (*e).port = u16::from_be(port);
}

/// Copies the first `min(n, DATA_LEN)` bytes at user `buf` into `e.data`.
#[inline(always)]
pub unsafe fn read_payload(e: *mut RawEvent, buf: u64, n: i64) {
    if buf == 0 || n <= 0 {
        return;
    }
    // Two constant-bounded branches keep the verifier sure of the size.
    let len: u32 = if n >= DATA_LEN as i64 {
        DATA_LEN as u32
    } else {
        (n as u32) & (DATA_LEN as u32 - 1)
    };
    if len == 0 {
        return;
    }
    let dst = (*e).data.as_mut_ptr() as *mut c_void;
    if gen::bpf_probe_read_user(dst, len, buf as *const c_void) == 0 {
        (*e).data_len = len as u16;
    }
}

/// The fields of a user `struct msghdr` gotrace needs: the peer address
/// pointer and the first iovec. x86_64/arm64 layout (recvmsg(2)):
/// msg_name @0, msg_namelen @8, msg_iov @16, msg_iovlen @24; iovec = base @0, len @8.
pub struct MsgHdr {
    pub name: u64,
    pub iov_base: u64,
    pub iov_len: u64,
}

#[inline(always)]
pub unsafe fn read_msghdr(ptr: u64) -> Option<MsgHdr> {
    if ptr == 0 {
        return None;
    }
    let name: u64 = bpf_probe_read_user(ptr as *const u64).ok()?;
    let iov: u64 = bpf_probe_read_user((ptr + 16) as *const u64).ok()?;
    let iovlen: u64 = bpf_probe_read_user((ptr + 24) as *const u64).ok()?;
    let (iov_base, iov_len) = if iov != 0 && iovlen > 0 {
        (
            bpf_probe_read_user(iov as *const u64).unwrap_or(0),
            bpf_probe_read_user((iov + 8) as *const u64).unwrap_or(0),
        )
    } else {
        (0, 0)
    };
    Some(MsgHdr { name, iov_base, iov_len })
}
