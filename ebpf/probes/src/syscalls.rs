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
//! An fd is followed only if `SOCKFDS` has it (socket(2) put it there, or a
//! dup of a tracked fd) and the kernel's fd table still holds a socket
//! under it when the call enters (`fdsock`); the socket's `struct sock *`
//! from that table goes into every event's `cookie`. close(2) untracks and
//! reports at entry (see `close_enter`).
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

use crate::fdsock::{self, Fd};
use crate::maps::{current, is_traced, reserve, sockfd_key, wakeup, Pending, EVENTS, PENDING, SOCKFDS};
use crate::netns;
use crate::user::{read_msghdr, read_payload, read_sockaddr};

const SOL_SOCKET: u64 = 1;
const SO_ERROR: u64 = 4;
const EAGAIN: i64 = 11;
// socket(2)'s domain argument is a full register.
const AF_INET: u64 = gotrace_abi::AF_INET as u64;
const AF_INET6: u64 = gotrace_abi::AF_INET6 as u64;
/// fcntl(2) commands that duplicate an fd (include/uapi/linux/fcntl.h).
const F_DUPFD: u64 = 0;
const F_DUPFD_CLOEXEC: u64 = 1030;
/// [`Pending::kind`] of a dup(2)-family call (no event of its own).
const PENDING_DUP: u32 = 0x100;
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
    pub const DUP: u64 = 32;
    pub const DUP2: u64 = 33;
    pub const GETSOCKOPT: u64 = 55;
    pub const FCNTL: u64 = 72;
    pub const DUP3: u64 = 292;
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

/// Whether `fd` of `tgid` is a socket the tree created (or duplicated).
#[inline(always)]
fn is_socket(tgid: u32, fd: u64) -> bool {
    unsafe { SOCKFDS.get(&sockfd_key(tgid, fd as i32)).is_some() }
}

/// The `struct sock *` of tracked socket `fd` of `tgid` as the kernel's fd
/// table has it now (0 when the table cannot be read), or None when the fd
/// is not tracked or no longer a socket: the number was closed (by close,
/// dup2, close_range or an exec's CLOEXEC) and perhaps reused by a file,
/// so its stale entry goes.
#[inline(always)]
fn tracked_socket(tgid: u32, fd: u64) -> Option<u64> {
    if !is_socket(tgid, fd) {
        return None;
    }
    match fdsock::lookup(fd as i32) {
        Fd::Socket(sk) => Some(sk),
        Fd::Unknown => Some(0),
        Fd::NotSocket => {
            let _ = SOCKFDS.remove(&sockfd_key(tgid, fd as i32));
            None
        }
    }
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
fn pending(kind: u32, a: &Args, ptr: u64, len: u64, aux: u64, sk: u64) -> Pending {
    Pending { kind, fd: a.fd(), ptr, len, aux, sk }
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
        nr::READ | nr::WRITE => {
            // The hot path: most reads and writes are not on sockets.
            let fd = arg0(regs);
            if id == nr::WRITE && fd == 2 && CAPTURE_STDERR.load() != 0 {
                let a = Args::read(regs);
                save(tid, pending(kind::STDERR_WRITE, &a, a.0[1], a.0[2], 0, 0));
            } else if let Some(sk) = tracked_socket(tgid, fd) {
                let a = Args::read(regs);
                let k = if id == nr::READ { kind::READ } else { kind::WRITE };
                save(tid, pending(k, &a, a.0[1], a.0[2], 0, sk));
            }
        }
        nr::CLOSE => close_enter(tgid, tid, arg0(regs)),
        nr::SOCKET => {
            let a = Args::read(regs).0;
            let packed = (a[0] & 0xffff) | ((a[1] & 0xffff) << 16) | ((a[2] & 0xffff) << 48);
            save(tid, Pending { kind: kind::SOCKET, fd: -1, ptr: 0, len: 0, aux: packed, sk: 0 });
        }
        nr::CONNECT => {
            let a = Args::read(regs);
            save(tid, pending(kind::CONNECT, &a, a.0[1], a.0[2], 0, 0));
        }
        nr::GETSOCKOPT => {
            let a = Args::read(regs);
            if a.0[1] == SOL_SOCKET && a.0[2] == SO_ERROR {
                save(tid, pending(kind::SO_ERROR, &a, a.0[3], 0, 0, 0));
            }
        }
        nr::SENDTO | nr::RECVFROM | nr::SENDMSG | nr::RECVMSG | nr::SENDMMSG => {
            let a = Args::read(regs);
            if let Some(sk) = tracked_socket(tgid, a.0[0]) {
                let p = match id {
                    nr::SENDTO => pending(kind::SENDTO, &a, a.0[1], a.0[2], a.0[4], sk),
                    nr::RECVFROM => pending(kind::RECVFROM, &a, a.0[1], a.0[2], a.0[4], sk),
                    nr::SENDMSG => pending(kind::SENDMSG, &a, a.0[1], 0, 0, sk),
                    nr::RECVMSG => pending(kind::RECVMSG, &a, a.0[1], 0, 0, sk),
                    _ => pending(kind::SENDMMSG, &a, a.0[1], a.0[2], 0, sk),
                };
                save(tid, p);
            }
        }
        nr::DUP | nr::DUP2 | nr::DUP3 | nr::FCNTL => dup_enter(tgid, tid, id, regs),
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
        nr::DUP | nr::DUP2 | nr::DUP3 | nr::FCNTL => dup_exit(tgid, tid, ret),
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
    let sk = if ret >= 0 { fdsock::sk_of(ret as i32) } else { 0 };
    if let Some(mut e) = reserve(kind::SOCKET, tgid, tid, ret as i32, ret) {
        unsafe {
            (*e.as_mut_ptr()).arg = p.aux;
            (*e.as_mut_ptr()).cookie = sk;
        }
        e.submit(wakeup());
    }
}

#[inline(always)]
fn connect_exit(tgid: u32, tid: u32, ret: i64) {
    let Some(p) = take(tid, kind::CONNECT) else { return };
    let sk = fdsock::sk_of(p.fd);
    if let Some(mut e) = reserve(kind::CONNECT, tgid, tid, p.fd, ret) {
        unsafe {
            read_sockaddr(e.as_mut_ptr(), p.ptr);
            (*e.as_mut_ptr()).cookie = sk;
        }
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
    let sk = fdsock::sk_of(p.fd);
    if let Some(mut e) = reserve(kind::SO_ERROR, tgid, tid, p.fd, ret) {
        unsafe {
            (*e.as_mut_ptr()).arg = val as u32 as u64;
            (*e.as_mut_ptr()).cookie = sk;
        }
        e.submit(wakeup());
    }
}

#[inline(always)]
fn sendto_exit(tgid: u32, tid: u32, ret: i64) {
    let Some(p) = take(tid, kind::SENDTO) else { return };
    if let Some(mut e) = reserve(kind::SENDTO, tgid, tid, p.fd, ret) {
        unsafe {
            (*e.as_mut_ptr()).cookie = p.sk;
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
            (*e.as_mut_ptr()).cookie = p.sk;
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
            (*e.as_mut_ptr()).cookie = p.sk;
            if ret >= 0 {
                read_sockaddr(e.as_mut_ptr(), p.aux);
            }
            read_payload(e.as_mut_ptr(), p.ptr, ret);
        }
        e.submit(wakeup());
    }
}

/// close(2) of a tracked socket: untracked and reported at entry. The
/// kernel frees the number inside the call (file_close_fd), so another
/// thread's socket(2) or open(2) can get it back before this one returns:
/// untracking at exit would drop that new socket's entry, and an event
/// emitted at exit would come after the new socket's first events.
#[inline(always)]
fn close_enter(tgid: u32, tid: u32, fd: u64) {
    if !is_socket(tgid, fd) {
        return;
    }
    let _ = SOCKFDS.remove(&sockfd_key(tgid, fd as i32));
    let sk = match fdsock::lookup(fd as i32) {
        Fd::Socket(sk) => sk,
        Fd::Unknown => 0,
        // Already closed by other means (dup2, close_range, CLOEXEC) and
        // reused by a file: not a socket's close.
        Fd::NotSocket => return,
    };
    if let Some(mut e) = reserve(kind::CLOSE, tgid, tid, fd as i32, 0) {
        unsafe { (*e.as_mut_ptr()).cookie = sk };
        e.submit(wakeup());
    }
}

/// dup(2), dup2(2), dup3(2), fcntl(F_DUPFD[_CLOEXEC]): remembers the old
/// fd (and for dup2/dup3 the target number, which the call closes first).
#[inline(always)]
fn dup_enter(tgid: u32, tid: u32, id: u64, regs: u64) {
    let a = Args::read(regs);
    if id == nr::FCNTL && a.0[1] != F_DUPFD && a.0[1] != F_DUPFD_CLOEXEC {
        return;
    }
    let from_socket = is_socket(tgid, a.0[0]);
    let onto = id == nr::DUP2 || id == nr::DUP3;
    // The target of dup2/dup3 matters even when the source is no socket:
    // a tracked socket there is closed by the call.
    if from_socket || (onto && is_socket(tgid, a.0[1])) {
        save(tid, Pending { kind: PENDING_DUP, fd: a.fd(), ptr: 0, len: from_socket as u64, aux: 0, sk: 0 });
    }
}

/// The new fd of a dup is a socket exactly when the old one was.
#[inline(always)]
fn dup_exit(tgid: u32, tid: u32, ret: i64) {
    let Some(p) = take(tid, PENDING_DUP) else { return };
    if ret < 0 {
        return;
    }
    let new = sockfd_key(tgid, ret as i32);
    let ty = if p.len != 0 { unsafe { SOCKFDS.get(&sockfd_key(tgid, p.fd)) }.copied() } else { None };
    match ty {
        Some(ty) => {
            let _ = SOCKFDS.insert(&new, &ty, 0);
        }
        None => {
            let _ = SOCKFDS.remove(&new);
        }
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
        unsafe {
            (*e.as_mut_ptr()).cookie = p.sk;
            read_payload(e.as_mut_ptr(), p.ptr, ret);
        }
        e.submit(wakeup());
    }
}

/// sendmsg/recvmsg: peer from msg_name, payload from the first iovec.
#[inline(always)]
fn msg_exit(tgid: u32, tid: u32, k: u32, ret: i64) {
    let Some(p) = take(tid, k) else { return };
    if let Some(mut e) = reserve(k, tgid, tid, p.fd, ret) {
        unsafe {
            (*e.as_mut_ptr()).cookie = p.sk;
            if let Some(m) = read_msghdr(p.ptr) {
                read_sockaddr(e.as_mut_ptr(), m.name);
                let n = if ret > 0 { (ret as u64).min(m.iov_len) } else { 0 };
                read_payload(e.as_mut_ptr(), m.iov_base, n as i64);
            }
        }
        e.submit(wakeup());
    }
}
