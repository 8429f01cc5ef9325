//! gotrace's eBPF programs: tracepoints that record the traced process tree's
//! network syscalls, its fork/exec/exit, its TCP state changes, and the
//! kernel's verdicts on its packets (retransmits, resets, drops) into one
//! ring buffer of [`gotrace_abi::RawEvent`] records.
//!
//! Filtering happens here, in the kernel: every handler first looks up the
//! current TGID in `TRACED` (seeded by the tracer with the root PID, grown by
//! `sched_process_fork`), so untraced processes cost one hash lookup.
#![no_std]
#![no_main]

mod fdsock;
mod maps;
mod netns;
mod route;
mod sched;
mod skb;
mod syscalls;
mod tcp;
mod tcp_events;
mod user;

/// Helpers such as `bpf_probe_read_kernel` are GPL-only.
#[no_mangle]
#[link_section = "license"]
pub static LICENSE: [u8; 4] = *b"GPL\0";

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path, so this is never run.
    loop {}
}
