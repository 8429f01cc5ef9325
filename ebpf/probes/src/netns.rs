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

use aya_ebpf::{helpers::generated::bpf_send_signal, macros::tracepoint, programs::TracePointContext, Global};
use gotrace_abi::kind;

use crate::maps::{current, is_traced, reserve, WAKE_NOW};

/// Non-zero: stop and report tasks that change namespaces.
#[no_mangle]
static FOLLOW_NETNS: Global<u32> = Global::new(0);

const SIGSTOP: u32 = 19;

#[inline(always)]
fn entered(ctx: &TracePointContext, syscall: u64) -> u32 {
    if FOLLOW_NETNS.load() == 0 {
        return 0;
    }
    let (tgid, tid) = current();
    if !is_traced(tgid) {
        return 0;
    }
    let ret: i64 = unsafe { ctx.read_at(16).unwrap_or(-1) };
    if ret != 0 {
        return 0;
    }
    // Reserve first: without the event the tracer would never send SIGCONT.
    let Some(mut e) = reserve(kind::NETNS_ENTER, tgid, tid, -1, 0) else { return 0 };
    unsafe { (*e.as_mut_ptr()).arg = syscall };
    e.submit(WAKE_NOW);
    unsafe { bpf_send_signal(SIGSTOP) };
    0
}

#[tracepoint]
pub fn sys_exit_setns(ctx: TracePointContext) -> u32 {
    entered(&ctx, 0)
}

#[tracepoint]
pub fn sys_exit_unshare(ctx: TracePointContext) -> u32 {
    entered(&ctx, 1)
}
