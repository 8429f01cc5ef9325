//! The network syscalls, from one raw tracepoint program on
//! `raw_syscalls:sys_enter` and one on `raw_syscalls:sys_exit`, each
//! dispatching on the x86_64 syscall number.
//!
//! One program per direction instead of one classic tracepoint per syscall:
//! two programs to verify at start-up instead of ~24, and raw tracepoint
//! links detach without the per-event RCU grace period of perf-event
//! tracepoints (perf_trace_destroy -> tracepoint_synchronize_unregister).
//!
//! Each enter handler saves the arguments (by TID) in `PENDING`; the exit
//! handler takes them back, reads what the kernel wrote (SO_ERROR value,
//! received bytes, peer address) and emits one event. The raw tracepoints
//! pass `(struct pt_regs *regs, long id)` and `(struct pt_regs *regs, long
//! ret)` (include/trace/events/syscalls.h); the arguments are read from the
//! saved user registers, x86_64 calling convention (syscall(2)): di, si, dx,
//! r10, r8, r9.
//!
//! x86_64 only: an ia32 (compat) task's syscalls arrive here with their
//! 32-bit numbers too (the classic per-syscall tracepoints skip them); Go
//! builds 64-bit binaries, and a 32-bit task's misread calls would only
//! add noise events, never hide a 64-bit one.

use aya_ebpf::{
    helpers::{bpf_ktime_get_ns, bpf_probe_read_kernel, generated as gen},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
    Global,
};
use core::ffi::c_void;
use gotrace_abi::{kind, RawEvent, DATA_LEN, STDERR_MAX_CHUNKS};

use crate::maps::{current, is_traced, reserve, sockfd_key, wakeup, Pending, EVENTS, PENDING, SOCKFDS};
use crate::netns;
use crate::user::{read_msghdr, read_payload, read_sockaddr};

const SOL_SOCKET: u64 = 1;
const SO_ERROR: u64 = 4;
const EAGAIN: i64 = 11;
// socket(2)'s domain argument is a full register.
const AF_INET: u64 = gotrace_abi::AF_INET as u64;
const AF_INET6: u64 = gotrace_abi::AF_INET6 as u64;
/// Offset of `struct mmsghdr.msg_len` (after a 56-byte msghdr), sendmmsg(2).
const MMSGHDR_MSG_LEN: u64 = 56;

/// x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
mod nr {
    pub const READ: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const CLOSE: u64 = 3;
    pub const SOCKET: u64 = 41;
    pub const CONNECT: u64 = 42;
    pub const SENDTO: u64 = 44;
    pub const RECVFROM: u64 = 45;
    pub const SENDMSG: u64 = 46;
    pub const RECVMSG: u64 = 47;
    pub const GETSOCKOPT: u64 = 55;
    pub const UNSHARE: u64 = 272;
    pub const SENDMMSG: u64 = 307;
    pub const SETNS: u64 = 308;
}

/// Byte offsets in x86_64 `struct pt_regs` (arch/x86/include/asm/ptrace.h):
/// r10 @56, r9 @64, r8 @72, dx @96, si @104, di @112, orig_ax @120.
const REGS_R10: u64 = 56;
const REGS_DI: u64 = 112;
const REGS_ORIG_AX: u64 = 120;

/// The six syscall arguments, in order.
struct Args([u64; 6]);

impl Args {
    /// Reads r10..di (64 bytes from @56) in one helper call.
    #[inline(always)]
    fn read(regs: u64) -> Args {
        // [r10, r9, r8, ax, cx, dx, si, di]
        let r: [u64; 8] = unsafe { bpf_probe_read_kernel((regs + REGS_R10) as *const [u64; 8]).unwrap_or([0; 8]) };
        Args([r[7], r[6], r[5], r[0], r[2], r[1]])
    }

    #[inline(always)]
    fn fd(&self) -> i32 {
        self.0[0] as i32
    }
}

/// The first argument alone (the fd of read/write/close), before deciding
/// whether the rest is worth reading.
#[inline(always)]
fn arg0(regs: u64) -> u64 {
    unsafe { bpf_probe_read_kernel((regs + REGS_DI) as *const u64).unwrap_or(u64::MAX) }
}

/// Whether `fd` of `tgid` is a socket the tree created.
#[inline(always)]
fn is_socket(tgid: u32, fd: u64) -> bool {
    unsafe { SOCKFDS.get(&sockfd_key(tgid, fd as i32)).is_some() }
}

#[inline(always)]
fn save(tid: u32, p: Pending) -> u32 {
    let _ = PENDING.insert(&tid, &p, 0);
    0
}

/// Takes the saved arguments of the current thread's syscall of kind `k`.
#[inline(always)]
fn take(tid: u32, k: u32) -> Option<Pending> {
    let p = unsafe { *PENDING.get(&tid)? };
    let _ = PENDING.remove(&tid);
    if p.kind != k {
        return None;
    }
    Some(p)
}

#[inline(always)]
fn pending(kind: u32, a: &Args, ptr: u64, len: u64, aux: u64) -> Pending {
    Pending { kind, fd: a.fd(), ptr, len, aux }
}

/// Non-zero: also record writes to fd 2 (attach mode, see `kind::STDERR_WRITE`).
#[no_mangle]
static CAPTURE_STDERR: Global<u32> = Global::new(0);

// ---- sys_enter -----------------------------------------------------------------

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter(ctx: RawTracePointContext) -> i32 {
    // The traced-TGID filter comes first: every other task pays one lookup.
    let (tgid, tid) = current();
    if !is_traced(tgid) {
        return 0;
    }
    let regs: u64 = ctx.arg(0);
    let id: u64 = ctx.arg(1);
    match id {
        nr::READ | nr::WRITE | nr::CLOSE => {
            // The hot path: most reads and writes are not on sockets.
            let fd = arg0(regs);
            if id == nr::WRITE && fd == 2 && CAPTURE_STDERR.load() != 0 {
                let a = Args::read(regs);
                save(tid, pending(kind::STDERR_WRITE, &a, a.0[1], a.0[2], 0));
            } else if is_socket(tgid, fd) {
                let a = Args::read(regs);
                let k = match id {
                    nr::READ => kind::READ,
                    nr::WRITE => kind::WRITE,
                    _ => kind::CLOSE,
                };
                let (ptr, len) = if id == nr::CLOSE { (0, 0) } else { (a.0[1], a.0[2]) };
                save(tid, pending(k, &a, ptr, len, 0));
            }
        }
        nr::SOCKET => {
            let a = Args::read(regs).0;
            let packed = (a[0] & 0xffff) | ((a[1] & 0xffff) << 16) | ((a[2] & 0xffff) << 48);
            save(tid, Pending { kind: kind::SOCKET, fd: -1, ptr: 0, len: 0, aux: packed });
        }
        nr::CONNECT => {
            let a = Args::read(regs);
            save(tid, pending(kind::CONNECT, &a, a.0[1], a.0[2], 0));
        }
        nr::GETSOCKOPT => {
            let a = Args::read(regs);
            if a.0[1] == SOL_SOCKET && a.0[2] == SO_ERROR {
                save(tid, pending(kind::SO_ERROR, &a, a.0[3], 0, 0));
            }
        }
        nr::SENDTO | nr::RECVFROM | nr::SENDMSG | nr::RECVMSG | nr::SENDMMSG => {
            let a = Args::read(regs);
            if is_socket(tgid, a.0[0]) {
                let p = match id {
                    nr::SENDTO => pending(kind::SENDTO, &a, a.0[1], a.0[2], a.0[4]),
                    nr::RECVFROM => pending(kind::RECVFROM, &a, a.0[1], a.0[2], a.0[4]),
                    nr::SENDMSG => pending(kind::SENDMSG, &a, a.0[1], 0, 0),
                    nr::RECVMSG => pending(kind::RECVMSG, &a, a.0[1], 0, 0),
                    _ => pending(kind::SENDMMSG, &a, a.0[1], a.0[2], 0),
                };
                save(tid, p);
            }
        }
        _ => {}
    }
    0
}

// ---- sys_exit ------------------------------------------------------------------

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit(ctx: RawTracePointContext) -> i32 {
    let (tgid, tid) = current();
    if !is_traced(tgid) {
        return 0;
    }
    let regs: u64 = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    // sys_exit carries no number: the entry's is still in orig_ax.
    let Ok(id) = (unsafe { bpf_probe_read_kernel((regs + REGS_ORIG_AX) as *const u64) }) else { return 0 };
    match id {
        nr::READ => buf_exit(tgid, tid, kind::READ, ret, true),
        nr::WRITE => write_exit(tgid, tid, ret),
        nr::CLOSE => close_exit(tgid, tid, ret),
        nr::SOCKET => socket_exit(tgid, tid, ret),
        nr::CONNECT => connect_exit(tgid, tid, ret),
        nr::GETSOCKOPT => getsockopt_exit(tgid, tid, ret),
        nr::SENDTO => sendto_exit(tgid, tid, ret),
        nr::SENDMSG => msg_exit(tgid, tid, kind::SENDMSG, ret),
        nr::SENDMMSG => sendmmsg_exit(tgid, tid, ret),
        nr::RECVFROM => recvfrom_exit(tgid, tid, ret),
        nr::RECVMSG => {
            if ret == -EAGAIN {
                let _ = take(tid, kind::RECVMSG);
            } else {
                msg_exit(tgid, tid, kind::RECVMSG, ret);
            }
        }
        nr::SETNS => netns::entered(tgid, tid, ret, 0),
        nr::UNSHARE => netns::entered(tgid, tid, ret, 1),
        _ => {}
    }
    0
}

#[inline(always)]
fn socket_exit(tgid: u32, tid: u32, ret: i64) {
    let Some(p) = take(tid, kind::SOCKET) else { return };
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
}

#[inline(always)]
fn connect_exit(tgid: u32, tid: u32, ret: i64) {
    let Some(p) = take(tid, kind::CONNECT) else { return };
    if let Some(mut e) = reserve(kind::CONNECT, tgid, tid, p.fd, ret) {
        unsafe { read_sockaddr(e.as_mut_ptr(), p.ptr) };
        e.submit(wakeup());
    }
}

/// getsockopt(fd, SOL_SOCKET, SO_ERROR).
#[inline(always)]
fn getsockopt_exit(tgid: u32, tid: u32, ret: i64) {
    let Some(p) = take(tid, kind::SO_ERROR) else { return };
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
}

#[inline(always)]
fn sendto_exit(tgid: u32, tid: u32, ret: i64) {
    let Some(p) = take(tid, kind::SENDTO) else { return };
    if let Some(mut e) = reserve(kind::SENDTO, tgid, tid, p.fd, ret) {
        unsafe {
            read_sockaddr(e.as_mut_ptr(), p.aux);
            read_payload(e.as_mut_ptr(), p.ptr, if ret > 0 { ret } else { p.len as i64 });
        }
        e.submit(wakeup());
    }
}

#[inline(always)]
fn sendmmsg_exit(tgid: u32, tid: u32, ret: i64) {
    let Some(p) = take(tid, kind::SENDMMSG) else { return };
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
}

#[inline(always)]
fn write_exit(tgid: u32, tid: u32, ret: i64) {
    if CAPTURE_STDERR.load() != 0 {
        if let Some(p) = unsafe { PENDING.get(&tid) }.copied() {
            if p.kind == kind::STDERR_WRITE {
                let _ = PENDING.remove(&tid);
                stderr_chunks(tgid, tid, p.ptr, ret);
                return;
            }
        }
    }
    buf_exit(tgid, tid, kind::WRITE, ret, false)
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

#[inline(always)]
fn recvfrom_exit(tgid: u32, tid: u32, ret: i64) {
    let Some(p) = take(tid, kind::RECVFROM) else { return };
    if ret == -EAGAIN {
        return;
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
}

#[inline(always)]
fn close_exit(tgid: u32, tid: u32, ret: i64) {
    let Some(p) = take(tid, kind::CLOSE) else { return };
    let _ = SOCKFDS.remove(&sockfd_key(tgid, p.fd));
    if let Some(e) = reserve(kind::CLOSE, tgid, tid, p.fd, ret) {
        e.submit(wakeup());
    }
}

// ---- shared exit paths ---------------------------------------------------------

/// read/write: payload is the buffer; `ret` bytes were transferred.
#[inline(always)]
fn buf_exit(tgid: u32, tid: u32, k: u32, ret: i64, skip_eagain: bool) {
    let Some(p) = take(tid, k) else { return };
    if skip_eagain && ret == -EAGAIN {
        // Go's non-blocking sockets return EAGAIN before every epoll wait.
        return;
    }
    if let Some(mut e) = reserve(k, tgid, tid, p.fd, ret) {
        unsafe { read_payload(e.as_mut_ptr(), p.ptr, ret) };
        e.submit(wakeup());
    }
}

/// sendmsg/recvmsg: peer from msg_name, payload from the first iovec.
#[inline(always)]
fn msg_exit(tgid: u32, tid: u32, k: u32, ret: i64) {
    let Some(p) = take(tid, k) else { return };
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
}
