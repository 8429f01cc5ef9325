//! sys_enter/sys_exit handlers for the network syscalls.
//!
//! Each enter handler saves the arguments (by TID) in `PENDING`; the exit
//! handler takes them back, reads what the kernel wrote (SO_ERROR value,
//! received bytes, peer address) and emits one event. Argument layout of the
//! `syscalls:sys_enter_*` tracepoints: arg N at byte 16 + 8*N; `ret` of
//! `sys_exit_*` at byte 16 (include/trace/syscall.h, stable across kernels).

use aya_ebpf::{
    helpers::{bpf_ktime_get_ns, generated as gen},
    macros::tracepoint,
    programs::TracePointContext,
    Global,
};
use core::ffi::c_void;
use gotrace_abi::{kind, RawEvent, DATA_LEN, STDERR_MAX_CHUNKS};

use crate::maps::{current, is_traced, reserve, sockfd_key, wakeup, Pending, EVENTS, PENDING, SOCKFDS};
use crate::user::{read_msghdr, read_payload, read_sockaddr};

const SOL_SOCKET: u64 = 1;
const SO_ERROR: u64 = 4;
const EAGAIN: i64 = 11;
// socket(2)'s domain argument is a full register.
const AF_INET: u64 = gotrace_abi::AF_INET as u64;
const AF_INET6: u64 = gotrace_abi::AF_INET6 as u64;
/// Offset of `struct mmsghdr.msg_len` (after a 56-byte msghdr), sendmmsg(2).
const MMSGHDR_MSG_LEN: u64 = 56;

#[inline(always)]
fn arg(ctx: &TracePointContext, n: usize) -> u64 {
    unsafe { ctx.read_at::<u64>(16 + 8 * n).unwrap_or(0) }
}

#[inline(always)]
fn exit_ret(ctx: &TracePointContext) -> i64 {
    unsafe { ctx.read_at::<i64>(16).unwrap_or(0) }
}

/// Saves `p` for the current thread if its process is traced.
#[inline(always)]
fn save(p: Pending) -> u32 {
    let (tgid, tid) = current();
    if is_traced(tgid) {
        let _ = PENDING.insert(&tid, &p, 0);
    }
    0
}

/// Saves `p` only when `fd` is a socket the tree created (read/write/close).
#[inline(always)]
fn save_if_socket(p: Pending) -> u32 {
    let (tgid, tid) = current();
    if is_traced(tgid) && unsafe { SOCKFDS.get(&sockfd_key(tgid, p.fd)).is_some() } {
        let _ = PENDING.insert(&tid, &p, 0);
    }
    0
}

/// Takes the saved arguments of the current thread's syscall of kind `k`.
#[inline(always)]
fn take(k: u32) -> Option<(u32, u32, Pending)> {
    let (tgid, tid) = current();
    let p = unsafe { *PENDING.get(&tid)? };
    let _ = PENDING.remove(&tid);
    if p.kind != k {
        return None;
    }
    Some((tgid, tid, p))
}

fn pending(kind: u32, ctx: &TracePointContext, ptr: u64, len: u64, aux: u64) -> Pending {
    Pending { kind, fd: arg(ctx, 0) as i32, ptr, len, aux }
}

// ---- socket(2) -------------------------------------------------------------

#[tracepoint]
pub fn sys_enter_socket(ctx: TracePointContext) -> u32 {
    let packed = (arg(&ctx, 0) & 0xffff) | ((arg(&ctx, 1) & 0xffff) << 16) | ((arg(&ctx, 2) & 0xffff) << 48);
    save(Pending { kind: kind::SOCKET, fd: -1, ptr: 0, len: 0, aux: packed })
}

#[tracepoint]
pub fn sys_exit_socket(ctx: TracePointContext) -> u32 {
    let Some((tgid, tid, p)) = take(kind::SOCKET) else { return 0 };
    let ret = exit_ret(&ctx);
    let domain = p.aux & 0xffff;
    if ret >= 0 && (domain == AF_INET || domain == AF_INET6) {
        // SOCK_* type without SOCK_NONBLOCK/SOCK_CLOEXEC flags.
        let ty = ((p.aux >> 16) & 0xf) as u32;
        let _ = SOCKFDS.insert(&sockfd_key(tgid, ret as i32), &ty, 0);
    }
    if let Some(mut e) = reserve(kind::SOCKET, tgid, tid, ret as i32, ret) {
        unsafe { (*e.as_mut_ptr()).arg = p.aux };
        e.submit(wakeup());
    }
    0
}

// ---- connect(2) ------------------------------------------------------------

#[tracepoint]
pub fn sys_enter_connect(ctx: TracePointContext) -> u32 {
    save(pending(kind::CONNECT, &ctx, arg(&ctx, 1), arg(&ctx, 2), 0))
}

#[tracepoint]
pub fn sys_exit_connect(ctx: TracePointContext) -> u32 {
    let Some((tgid, tid, p)) = take(kind::CONNECT) else { return 0 };
    if let Some(mut e) = reserve(kind::CONNECT, tgid, tid, p.fd, exit_ret(&ctx)) {
        unsafe { read_sockaddr(e.as_mut_ptr(), p.ptr) };
        e.submit(wakeup());
    }
    0
}

// ---- getsockopt(fd, SOL_SOCKET, SO_ERROR) -----------------------------------

#[tracepoint]
pub fn sys_enter_getsockopt(ctx: TracePointContext) -> u32 {
    if arg(&ctx, 1) != SOL_SOCKET || arg(&ctx, 2) != SO_ERROR {
        return 0;
    }
    save(pending(kind::SO_ERROR, &ctx, arg(&ctx, 3), 0, 0))
}

#[tracepoint]
pub fn sys_exit_getsockopt(ctx: TracePointContext) -> u32 {
    let Some((tgid, tid, p)) = take(kind::SO_ERROR) else { return 0 };
    let ret = exit_ret(&ctx);
    // The dial result is the int the kernel wrote to optval, not `ret`.
    let val: i32 = if ret == 0 && p.ptr != 0 {
        unsafe { aya_ebpf::helpers::bpf_probe_read_user(p.ptr as *const i32).unwrap_or(-1) }
    } else {
        -1
    };
    if let Some(mut e) = reserve(kind::SO_ERROR, tgid, tid, p.fd, ret) {
        unsafe { (*e.as_mut_ptr()).arg = val as u32 as u64 };
        e.submit(wakeup());
    }
    0
}

// ---- send side ---------------------------------------------------------------

#[tracepoint]
pub fn sys_enter_sendto(ctx: TracePointContext) -> u32 {
    save_if_socket(pending(kind::SENDTO, &ctx, arg(&ctx, 1), arg(&ctx, 2), arg(&ctx, 4)))
}

#[tracepoint]
pub fn sys_exit_sendto(ctx: TracePointContext) -> u32 {
    let Some((tgid, tid, p)) = take(kind::SENDTO) else { return 0 };
    let ret = exit_ret(&ctx);
    if let Some(mut e) = reserve(kind::SENDTO, tgid, tid, p.fd, ret) {
        unsafe {
            read_sockaddr(e.as_mut_ptr(), p.aux);
            read_payload(e.as_mut_ptr(), p.ptr, if ret > 0 { ret } else { p.len as i64 });
        }
        e.submit(wakeup());
    }
    0
}

#[tracepoint]
pub fn sys_enter_sendmsg(ctx: TracePointContext) -> u32 {
    save_if_socket(pending(kind::SENDMSG, &ctx, arg(&ctx, 1), 0, 0))
}

#[tracepoint]
pub fn sys_exit_sendmsg(ctx: TracePointContext) -> u32 {
    msg_exit(kind::SENDMSG, exit_ret(&ctx))
}

#[tracepoint]
pub fn sys_enter_sendmmsg(ctx: TracePointContext) -> u32 {
    save_if_socket(pending(kind::SENDMMSG, &ctx, arg(&ctx, 1), arg(&ctx, 2), 0))
}

#[tracepoint]
pub fn sys_exit_sendmmsg(ctx: TracePointContext) -> u32 {
    let Some((tgid, tid, p)) = take(kind::SENDMMSG) else { return 0 };
    let ret = exit_ret(&ctx);
    if let Some(mut e) = reserve(kind::SENDMMSG, tgid, tid, p.fd, ret) {
        unsafe {
            if let Some(m) = read_msghdr(p.ptr) {
                let sent: u32 =
                    aya_ebpf::helpers::bpf_probe_read_user((p.ptr + MMSGHDR_MSG_LEN) as *const u32).unwrap_or(0);
                read_sockaddr(e.as_mut_ptr(), m.name);
                let n = if ret > 0 && sent > 0 { sent as u64 } else { m.iov_len };
                read_payload(e.as_mut_ptr(), m.iov_base, n.min(m.iov_len) as i64);
            }
        }
        e.submit(wakeup());
    }
    0
}

/// Non-zero: also record writes to fd 2 (attach mode, see `kind::STDERR_WRITE`).
#[no_mangle]
static CAPTURE_STDERR: Global<u32> = Global::new(0);

#[tracepoint]
pub fn sys_enter_write(ctx: TracePointContext) -> u32 {
    if arg(&ctx, 0) == 2 && CAPTURE_STDERR.load() != 0 {
        return save(pending(kind::STDERR_WRITE, &ctx, arg(&ctx, 1), arg(&ctx, 2), 0));
    }
    save_if_socket(pending(kind::WRITE, &ctx, arg(&ctx, 1), arg(&ctx, 2), 0))
}

#[tracepoint]
pub fn sys_exit_write(ctx: TracePointContext) -> u32 {
    let ret = exit_ret(&ctx);
    if CAPTURE_STDERR.load() != 0 {
        let (tgid, tid) = current();
        if let Some(p) = unsafe { PENDING.get(&tid) }.copied() {
            if p.kind == kind::STDERR_WRITE {
                let _ = PENDING.remove(&tid);
                stderr_chunks(tgid, tid, p.ptr, ret);
                return 0;
            }
        }
    }
    buf_exit(kind::WRITE, ret, false)
}

/// Emits the first `ret` bytes at user `buf` as STDERR_WRITE chunks.
/// Only the fields user space reads for this kind are set: the full
/// [`reserve`] (zeroing, comm) per chunk would cost the verifier a
/// million instructions over the loop.
#[inline(always)]
fn stderr_chunks(tgid: u32, tid: u32, buf: u64, ret: i64) {
    if ret <= 0 {
        return;
    }
    for i in 0..STDERR_MAX_CHUNKS {
        let off = (i * DATA_LEN) as i64;
        if off >= ret {
            break;
        }
        let Some(mut e) = EVENTS.reserve::<RawEvent>(0) else { return };
        let p = e.as_mut_ptr();
        let left = ret - off;
        let len: u32 = if left >= DATA_LEN as i64 { DATA_LEN as u32 } else { (left as u32) & (DATA_LEN as u32 - 1) };
        unsafe {
            (*p).ts_ns = bpf_ktime_get_ns();
            (*p).kind = kind::STDERR_WRITE;
            (*p).tgid = tgid;
            (*p).tid = tid;
            (*p).fd = 2;
            (*p).ret = ret;
            (*p).arg = off as u64;
            (*p).data_len = 0;
            let dst = (*p).data.as_mut_ptr() as *mut c_void;
            if len > 0 && gen::bpf_probe_read_user(dst, len, (buf + off as u64) as *const c_void) == 0 {
                (*p).data_len = len as u16;
            }
        }
        e.submit(wakeup());
    }
}

// ---- receive side -------------------------------------------------------------

#[tracepoint]
pub fn sys_enter_recvfrom(ctx: TracePointContext) -> u32 {
    save_if_socket(pending(kind::RECVFROM, &ctx, arg(&ctx, 1), arg(&ctx, 2), arg(&ctx, 4)))
}

#[tracepoint]
pub fn sys_exit_recvfrom(ctx: TracePointContext) -> u32 {
    let Some((tgid, tid, p)) = take(kind::RECVFROM) else { return 0 };
    let ret = exit_ret(&ctx);
    if ret == -EAGAIN {
        return 0;
    }
    if let Some(mut e) = reserve(kind::RECVFROM, tgid, tid, p.fd, ret) {
        unsafe {
            if ret >= 0 {
                read_sockaddr(e.as_mut_ptr(), p.aux);
            }
            read_payload(e.as_mut_ptr(), p.ptr, ret);
        }
        e.submit(wakeup());
    }
    0
}

#[tracepoint]
pub fn sys_enter_recvmsg(ctx: TracePointContext) -> u32 {
    save_if_socket(pending(kind::RECVMSG, &ctx, arg(&ctx, 1), 0, 0))
}

#[tracepoint]
pub fn sys_exit_recvmsg(ctx: TracePointContext) -> u32 {
    let ret = exit_ret(&ctx);
    if ret == -EAGAIN {
        let _ = take(kind::RECVMSG);
        return 0;
    }
    msg_exit(kind::RECVMSG, ret)
}

#[tracepoint]
pub fn sys_enter_read(ctx: TracePointContext) -> u32 {
    save_if_socket(pending(kind::READ, &ctx, arg(&ctx, 1), arg(&ctx, 2), 0))
}

#[tracepoint]
pub fn sys_exit_read(ctx: TracePointContext) -> u32 {
    buf_exit(kind::READ, exit_ret(&ctx), true)
}

// ---- close(2) -----------------------------------------------------------------

#[tracepoint]
pub fn sys_enter_close(ctx: TracePointContext) -> u32 {
    save_if_socket(pending(kind::CLOSE, &ctx, 0, 0, 0))
}

#[tracepoint]
pub fn sys_exit_close(ctx: TracePointContext) -> u32 {
    let Some((tgid, tid, p)) = take(kind::CLOSE) else { return 0 };
    let _ = SOCKFDS.remove(&sockfd_key(tgid, p.fd));
    if let Some(e) = reserve(kind::CLOSE, tgid, tid, p.fd, exit_ret(&ctx)) {
        e.submit(wakeup());
    }
    0
}

// ---- shared exit paths ---------------------------------------------------------

/// read/write: payload is the buffer; `ret` bytes were transferred.
#[inline(always)]
fn buf_exit(k: u32, ret: i64, skip_eagain: bool) -> u32 {
    let Some((tgid, tid, p)) = take(k) else { return 0 };
    if skip_eagain && ret == -EAGAIN {
        // Go's non-blocking sockets return EAGAIN before every epoll wait.
        return 0;
    }
    if let Some(mut e) = reserve(k, tgid, tid, p.fd, ret) {
        unsafe { read_payload(e.as_mut_ptr(), p.ptr, ret) };
        e.submit(wakeup());
    }
    0
}

/// sendmsg/recvmsg: peer from msg_name, payload from the first iovec.
#[inline(always)]
fn msg_exit(k: u32, ret: i64) -> u32 {
    let Some((tgid, tid, p)) = take(k) else { return 0 };
    if let Some(mut e) = reserve(k, tgid, tid, p.fd, ret) {
        unsafe {
            if let Some(m) = read_msghdr(p.ptr) {
                read_sockaddr(e.as_mut_ptr(), m.name);
                let n = if ret > 0 { (ret as u64).min(m.iov_len) } else { 0 };
                read_payload(e.as_mut_ptr(), m.iov_base, n as i64);
            }
        }
        e.submit(wakeup());
    }
    0
}
