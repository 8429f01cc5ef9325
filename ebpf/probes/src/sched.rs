//! Process-tree following: `sched:sched_process_fork/exec/exit`.
//!
//! The current task is the parent in `sched_process_fork`, the exec'ing task
//! in `sched_process_exec` and the exiting task in `sched_process_exit`
//! (kernel/fork.c, fs/exec.c, kernel/exit.c), so only the child's PID has to
//! be read from the record.

use aya_ebpf::{
    helpers::{bpf_get_current_task, bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes},
    macros::tracepoint,
    programs::TracePointContext,
    EbpfContext, Global,
};
use gotrace_abi::kind;

use crate::maps::{current, is_traced, reserve, wakeup, PENDING, TRACED};

/// Offset of `child_pid` in the fork record: 20 on 6.x kernels whose comms
/// are `__data_loc`, 44 on older ones. Set by the tracer from the format file.
#[no_mangle]
static FORK_CHILD_PID_OFFSET: Global<u32> = Global::new(20);

/// Offset of `exit_code` in `struct task_struct` (kernel BTF); 0 = unknown.
#[no_mangle]
static TASK_EXIT_CODE_OFFSET: Global<u32> = Global::new(0);

/// Offset of the `__data_loc char[] filename` field of sched_process_exec.
const EXEC_FILENAME_LOC: usize = 8;

#[tracepoint]
pub fn sched_process_fork(ctx: TracePointContext) -> u32 {
    let (tgid, tid) = current();
    if !is_traced(tgid) {
        return 0;
    }
    let off = FORK_CHILD_PID_OFFSET.load() as usize;
    // Bound the offset so the verifier sees a constant range.
    let Ok(child) = (unsafe { ctx.read_at::<i32>(off & 0xff) }) else { return 0 };
    let child = child as u32;
    // For a new thread `child` is a TID; keeping it in TRACED is harmless and
    // cheaper than telling threads apart here.
    let _ = TRACED.insert(&child, &1, 0);
    if let Some(mut e) = reserve(kind::FORK, tgid, tid, -1, 0) {
        unsafe { (*e.as_mut_ptr()).arg = child as u64 };
        e.submit(wakeup());
    }
    0
}

#[tracepoint]
pub fn sched_process_exec(ctx: TracePointContext) -> u32 {
    let (tgid, tid) = current();
    if !is_traced(tgid) {
        return 0;
    }
    let Ok(loc) = (unsafe { ctx.read_at::<u32>(EXEC_FILENAME_LOC) }) else { return 0 };
    if let Some(mut e) = reserve(kind::EXEC, tgid, tid, -1, 0) {
        unsafe {
            let p = e.as_mut_ptr();
            let src = (ctx.as_ptr() as *const u8).add((loc & 0xffff) as usize);
            if let Ok(s) = bpf_probe_read_kernel_str_bytes(src, &mut (*p).data) {
                (*p).data_len = s.len() as u16;
            }
        }
        e.submit(wakeup());
    }
    0
}

#[tracepoint]
pub fn sched_process_exit(_ctx: TracePointContext) -> u32 {
    let (tgid, tid) = current();
    if !is_traced(tgid) {
        return 0;
    }
    let _ = PENDING.remove(&tid);
    if tid != tgid {
        let _ = TRACED.remove(&tid);
        return 0;
    }
    if let Some(mut e) = reserve(kind::EXIT, tgid, tid, -1, 0) {
        // do_exit() stores the wait status in exit_code before this
        // tracepoint (kernel/exit.c): the only way to learn how a process
        // that is not gotrace's child (attach) ended.
        let off = TASK_EXIT_CODE_OFFSET.load() as u64;
        if off != 0 {
            let task = unsafe { bpf_get_current_task() };
            if let Ok(code) = unsafe { bpf_probe_read_kernel((task + off) as *const i32) } {
                unsafe { (*e.as_mut_ptr()).arg = code as u32 as u64 | 1 << 32 };
            }
        }
        e.submit(wakeup());
    }
    let _ = TRACED.remove(&tgid);
    0
}
