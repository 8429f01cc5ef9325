//! Following the traced tree into another network namespace during `run`
//! (`gotrace run -- ip netns exec lab go mod tidy`): the capture must be
//! open in the new namespace before the task sends anything there.
//!
//! On a successful setns(2) or unshare(2) of a traced task (either may
//! change its network namespace; the tracer checks which), the probe stops
//! the task's process with SIGSTOP before it returns to user space
//! (bpf_send_signal(), delivered on the way out of the syscall), and tells
//! the tracer, which opens a capture socket in the namespace and sends
//! SIGCONT. Off unless the tracer sets FOLLOW_NETNS (`attach` leaves the
//! process untouched).

use aya_ebpf::{helpers::generated::bpf_send_signal, Global};
use gotrace_abi::kind;

use crate::maps::{reserve, WAKE_NOW};

/// Non-zero: stop and report tasks that change namespaces.
#[no_mangle]
static FOLLOW_NETNS: Global<u32> = Global::new(0);

const SIGSTOP: u32 = 19;

/// At the exit of setns(2) (`syscall` 0) or unshare(2) (1) of traced task
/// `tgid`/`tid` with result `ret`; called by `syscalls::sys_exit`.
#[inline(always)]
pub fn entered(tgid: u32, tid: u32, ret: i64, syscall: u64) {
    if FOLLOW_NETNS.load() == 0 || ret != 0 {
        return;
    }
    // Reserve first: without the event the tracer would never send SIGCONT.
    let Some(mut e) = reserve(kind::NETNS_ENTER, tgid, tid, -1, 0) else { return };
    unsafe { (*e.as_mut_ptr()).arg = syscall };
    e.submit(WAKE_NOW);
    unsafe { bpf_send_signal(SIGSTOP) };
}
