//! Process-tree following: `sched_process_fork/exec/exit`, as raw
//! tracepoints (`raw_sched_*`: the TP_PROTO arguments, task_struct and
//! linux_binprm pointers read at offsets the tracer takes from the kernel's
//! BTF) or, where the kernel has no BTF, as classic tracepoints (the
//! record, at offsets from its format file).
//!
//! The current task is the parent in `sched_process_fork`, the exec'ing task
//! in `sched_process_exec` and the exiting task in `sched_process_exit`
//! (kernel/fork.c, fs/exec.c, kernel/exit.c), so only the child's PID has to
//! be read from the record.

use aya_ebpf::{
    helpers::{bpf_get_current_task, bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes},
    macros::{raw_tracepoint, tracepoint},
    programs::{RawTracePointContext, TracePointContext},
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

/// Offset of `pid` in `struct task_struct` (kernel BTF), for the raw fork
/// program; unused by the classic one.
#[no_mangle]
static TASK_PID_OFFSET: Global<u32> = Global::new(0);

/// Offset of `filename` (a `const char *`) in `struct linux_binprm` (kernel
/// BTF), for the raw exec program.
#[no_mangle]
static BINPRM_FILENAME_OFFSET: Global<u32> = Global::new(0);

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
    forked(tgid, tid, child as u32)
}

/// TP_PROTO(struct task_struct *parent, struct task_struct *child)
/// (include/trace/events/sched.h); the current task is the parent.
#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn raw_sched_process_fork(ctx: RawTracePointContext) -> i32 {
    let (tgid, tid) = current();
    if !is_traced(tgid) {
        return 0;
    }
    let child_task: u64 = ctx.arg(1);
    let off = (TASK_PID_OFFSET.load() & 0xffff) as u64;
    let Ok(child) = (unsafe { bpf_probe_read_kernel((child_task + off) as *const i32) }) else { return 0 };
    forked(tgid, tid, child as u32) as i32
}

#[inline(always)]
fn forked(tgid: u32, tid: u32, child: u32) -> u32 {
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
    let src = unsafe { (ctx.as_ptr() as *const u8).add((loc & 0xffff) as usize) };
    execed(tgid, tid, src)
}

/// TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm);
/// the classic record's `filename` is `bprm->filename` (include/trace/events/sched.h).
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn raw_sched_process_exec(ctx: RawTracePointContext) -> i32 {
    let (tgid, tid) = current();
    if !is_traced(tgid) {
        return 0;
    }
    let bprm: u64 = ctx.arg(2);
    let off = (BINPRM_FILENAME_OFFSET.load() & 0xffff) as u64;
    let Ok(name) = (unsafe { bpf_probe_read_kernel((bprm + off) as *const u64) }) else { return 0 };
    execed(tgid, tid, name as *const u8) as i32
}

/// Emits EXEC with the kernel string at `src` as its data.
#[inline(always)]
fn execed(tgid: u32, tid: u32, src: *const u8) -> u32 {
    if let Some(mut e) = reserve(kind::EXEC, tgid, tid, -1, 0) {
        unsafe {
            let p = e.as_mut_ptr();
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
    exited()
}

/// The exiting task is the current one; the arguments are not read.
#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn raw_sched_process_exit(_ctx: RawTracePointContext) -> i32 {
    exited() as i32
}

#[inline(always)]
fn exited() -> u32 {
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
