//! Maps shared by all programs, and the emit helper that writes one event.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::map,
    maps::{HashMap, PerCpuArray, RingBuf},
    maps::ring_buf::RingBufEntry,
};
use gotrace_abi::RawEvent;

/// Events to user space. 8 MiB holds ~35k events: several seconds of a
/// busy `go mod download` even if the reader stalls.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(8 << 20, 0);

/// Bytes waiting in [`EVENTS`] from which a submit wakes the reader.
/// Below it an event waits for the reader's next poll timeout (the
/// tracer's `session::POLL`, 50 ms). Waking the reader for every event
/// (submit flags 0: whenever it has caught up, which a reader on another
/// CPU almost always has) costs the traced task an irq_work self-IPI per
/// event, a VM exit under virtualization, and often a switch to gotrace:
/// measured at a quarter of a syscall-heavy program's CPU time
/// (`cargo xtask bench`, workload syscalls). 1 MiB (~4,000 events) is an
/// eighth of the ring, so a burst still wakes the reader long before the
/// ring fills.
const WAKEUP_BYTES: u64 = 1 << 20;

/// Submit flags for an ordinary event: wake the reader only once
/// [`WAKEUP_BYTES`] are waiting.
#[inline(always)]
pub fn wakeup() -> u64 {
    if EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= WAKEUP_BYTES {
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}

/// Submit flags for an event the tracer must act on at once (a task
/// stopped until gotrace captures in its new network namespace).
pub const WAKE_NOW: u64 = BPF_RB_FORCE_WAKEUP as u64;

/// TGIDs being traced (value unused). Seeded by the tracer, grown on fork.
#[map]
pub static TRACED: HashMap<u32, u8> = HashMap::with_max_entries(16384, 0);

/// Syscall arguments saved at sys_enter, keyed by TID, consumed at sys_exit.
#[map]
pub static PENDING: HashMap<u32, Pending> = HashMap::with_max_entries(16384, 0);

/// Sockets the traced tree created or duplicated: key `tgid << 32 | fd`,
/// value SOCK_* type. Only these fds are followed through read/write/close,
/// and each is checked against the kernel's fd table at entry (`fdsock`).
#[map]
pub static SOCKFDS: HashMap<u64, u32> = HashMap::with_max_entries(65536, 0);

/// TCP sockets (kernel `struct sock *`) the tree connected, value = owning TGID,
/// so state changes that run in softirq can be attributed.
#[map]
pub static TCPSOCKS: HashMap<u64, u32> = HashMap::with_max_entries(16384, 0);

/// TCP sockets open before an attach, by [`gotrace_abi::presock_key`],
/// value = owning TGID. Seeded by the tracer; see [`owner_of`].
#[map]
pub static PRESOCKS: HashMap<u64, u32> = HashMap::with_max_entries(4096, 0);

/// The traced TGID owning kernel socket `sk`: from `TCPSOCKS`, else from
/// `PRESOCKS` by its 5-tuple (then `sk` is adopted into `TCPSOCKS`).
#[inline(always)]
pub fn owner_of(sk: u64, lport: u16, rport: u16, raddr4: [u8; 4]) -> Option<u32> {
    if let Some(&o) = unsafe { TCPSOCKS.get(&sk) } {
        return Some(o);
    }
    let o = *unsafe { PRESOCKS.get(&gotrace_abi::presock_key(lport, rport, raddr4)) }?;
    let _ = TCPSOCKS.insert(&sk, &o, 0);
    Some(o)
}

/// Events dropped because the ring buffer was full (index 0, summed over CPUs).
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Arguments of a syscall in flight.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Pending {
    /// `gotrace_abi::kind` of the event the exit will emit.
    pub kind: u32,
    pub fd: i32,
    /// Main user pointer (sockaddr, buffer, msghdr, optval).
    pub ptr: u64,
    /// Length argument.
    pub len: u64,
    /// Second user pointer (sendto/recvfrom address) or packed socket() args.
    pub aux: u64,
    /// The socket's `struct sock *` as the fd table had it at entry (0: unknown).
    pub sk: u64,
}

/// (TGID, TID) of the current task.
#[inline(always)]
pub fn current() -> (u32, u32) {
    let id = bpf_get_current_pid_tgid();
    ((id >> 32) as u32, id as u32)
}

/// Whether `tgid` belongs to the traced tree.
#[inline(always)]
pub fn is_traced(tgid: u32) -> bool {
    unsafe { TRACED.get(&tgid).is_some() }
}

/// Key of [`SOCKFDS`].
#[inline(always)]
pub fn sockfd_key(tgid: u32, fd: i32) -> u64 {
    ((tgid as u64) << 32) | (fd as u32 as u64)
}

/// Reserves an event and fills the common header; the caller fills the rest
/// and submits. Counts a lost event when the ring buffer is full.
#[inline(always)]
pub fn reserve(kind: u32, tgid: u32, tid: u32, fd: i32, ret: i64) -> Option<RingBufEntry<RawEvent>> {
    let Some(mut entry) = EVENTS.reserve::<RawEvent>(0) else {
        if let Some(n) = LOST.get_ptr_mut(0) {
            unsafe { *n += 1 };
        }
        return None;
    };
    let e = entry.as_mut_ptr();
    unsafe {
        (*e).ts_ns = bpf_ktime_get_ns();
        (*e).ret = ret;
        (*e).arg = 0;
        (*e).cookie = 0;
        (*e).kind = kind;
        (*e).tgid = tgid;
        (*e).tid = tid;
        (*e).fd = fd;
        (*e).family = 0;
        (*e).port = 0;
        (*e).lport = 0;
        (*e).data_len = 0;
        (*e).addr = [0; 16];
        (*e).laddr = [0; 16];
        (*e).comm = bpf_get_current_comm().unwrap_or([0; 16]);
    }
    Some(entry)
}
