//! Packets the kernel dropped (`skb:kfree_skb`, with `enum skb_drop_reason`).
//!
//! A SYN thrown away by the local OUTPUT chain leaves nothing on the wire;
//! this record (reason NETFILTER_DROP) is the only trace of it. A drop is
//! the tree's when the packet's owning socket (`skb->sk`) is one of its TCP
//! sockets, or when a traced task is current and the packet has an owner at
//! all (its own send, e.g. a UDP DNS query). Packets of other namespaces
//! handled in softirq inside a traced task have no owner by then
//! (ip_rcv_core() orphans them), so they stay out.

use aya_ebpf::{helpers::bpf_probe_read_kernel, macros::tracepoint, programs::TracePointContext, Global};
use gotrace_abi::kind;

use crate::maps::{current, is_traced, reserve, wakeup, TCPSOCKS};

/// Offset of `sk` in `struct sk_buff`, from the kernel's BTF (24 on x86_64).
#[no_mangle]
static SKB_SK_OFFSET: Global<u32> = Global::new(24);
/// Offsets of `protocol` and `reason` in the record; they moved when
/// `rx_sk` was added, and `reason` is 0 (absent) before Linux 5.17.
#[no_mangle]
static KFREE_SKB_PROTOCOL_OFFSET: Global<u32> = Global::new(32);
#[no_mangle]
static KFREE_SKB_REASON_OFFSET: Global<u32> = Global::new(36);

/// Fixed since the tracepoint exists: `skbaddr` at 8, `location` at 16.
const SKBADDR: usize = 8;
const LOCATION: usize = 16;

#[tracepoint]
pub fn kfree_skb(ctx: TracePointContext) -> u32 {
    let Ok(skb) = (unsafe { ctx.read_at::<u64>(SKBADDR) }) else { return 0 };
    let off = SKB_SK_OFFSET.load() as u64;
    let Ok(sk) = (unsafe { bpf_probe_read_kernel((skb + (off & 0xfff)) as *const u64) }) else { return 0 };
    if sk == 0 {
        return 0;
    }
    let (cur, tid) = current();
    let (tgid, tid) = match unsafe { TCPSOCKS.get(&sk) } {
        Some(&owner) => (owner, if cur == owner { tid } else { 0 }),
        None if is_traced(cur) => (cur, tid),
        None => return 0,
    };
    let proto_off = KFREE_SKB_PROTOCOL_OFFSET.load() as usize;
    let reason_off = KFREE_SKB_REASON_OFFSET.load() as usize;
    let protocol: u16 = unsafe { ctx.read_at(proto_off & 0xff).unwrap_or(0) };
    let reason: u32 = if reason_off == 0 { 0 } else { unsafe { ctx.read_at(reason_off & 0xff).unwrap_or(0) } };
    let packed = reason as i64 | (protocol as i64) << 32;
    let Some(mut e) = reserve(kind::SKB_DROP, tgid, tid, -1, packed) else { return 0 };
    unsafe {
        let p = e.as_mut_ptr();
        (*p).cookie = sk;
        (*p).arg = ctx.read_at(LOCATION).unwrap_or(0);
    }
    e.submit(wakeup());
    0
}
