//! The kernel's own verdicts on the tree's TCP sockets: retransmits (with
//! the transmit's error: -EPERM is a local netfilter drop), RSTs received,
//! RSTs sent (`tcp:tcp_retransmit_skb`, `tcp_receive_reset`, `tcp_send_reset`).
//!
//! All three usually run in softirq, so sockets are matched through
//! `TCPSOCKS` (filled by `inet_sock_set_state` at SYN_SENT), not the current
//! task. Layouts: include/trace/events/tcp.h; the fixed offsets below are
//! checked against the running kernel's format files before attaching, and
//! `err` (only on recent kernels) comes from the tracer as a global.

use aya_ebpf::{macros::tracepoint, maps::ring_buf::RingBufEntry, programs::TracePointContext, Global};
use gotrace_abi::{kind, tcp_state, RawEvent, AF_INET, AF_INET6};

use crate::maps::{current, is_traced, owner_of, reserve, wakeup, TCPSOCKS};

const TCP_CLOSE: u32 = tcp_state::CLOSE as u32;

/// Offset of `err` in tcp_retransmit_skb; 0 = the kernel has no such field.
#[no_mangle]
static RETRANSMIT_ERR_OFFSET: Global<u32> = Global::new(76);

/// Reserves a `k` event for the socket at record offset `sk_off` if it is
/// one of the tree's: `tgid` its owner, `cookie` the socket. In softirq the
/// current task is unrelated, so `tid` is 0 unless the owner is current
/// (as in tcp.rs). With `closing`, a socket no longer in the set counts
/// when a traced task is current: see tcp_send_reset. `tuple` is the
/// offset of the record's 5-tuple (as [`five_tuple`]), to adopt a socket
/// that was open before an attach.
#[inline(always)]
fn reserve_for(
    ctx: &TracePointContext,
    sk_off: usize,
    k: u32,
    ret: i64,
    closing: bool,
    tuple: Option<usize>,
) -> Option<RingBufEntry<RawEvent>> {
    let sk: u64 = unsafe { ctx.read_at(sk_off).ok()? };
    let (tgid, tid) = current();
    let known = match tuple {
        Some(b) => unsafe {
            let family: u16 = ctx.read_at(b + 4).ok()?;
            let raddr4: [u8; 4] = ctx.read_at(if family == AF_INET { b + 10 } else { b + 42 }).ok()?;
            owner_of(sk, ctx.read_at(b).ok()?, ctx.read_at(b + 2).ok()?, raddr4)
        },
        None => unsafe { TCPSOCKS.get(&sk) }.copied(),
    };
    let owner = match known {
        Some(owner) => owner,
        None if closing && sk != 0 && is_traced(tgid) => tgid,
        None => return None,
    };
    let mut e = reserve(k, owner, if tgid == owner { tid } else { 0 }, -1, ret)?;
    unsafe { (*e.as_mut_ptr()).cookie = sk };
    Some(e)
}

/// Fills family and both ends from the `tcp_event_sk*` 5-tuple fields that
/// start at `base` (sport, dport, family, saddr, daddr, saddr_v6, daddr_v6).
#[inline(always)]
unsafe fn five_tuple(ctx: &TracePointContext, p: *mut RawEvent, base: usize) {
    (*p).lport = ctx.read_at(base).unwrap_or(0);
    (*p).port = ctx.read_at(base + 2).unwrap_or(0);
    let family: u16 = ctx.read_at(base + 4).unwrap_or(0);
    (*p).family = family;
    if family == AF_INET {
        let s: [u8; 4] = ctx.read_at(base + 6).unwrap_or([0; 4]);
        let d: [u8; 4] = ctx.read_at(base + 10).unwrap_or([0; 4]);
        (*p).laddr = [s[0], s[1], s[2], s[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        (*p).addr = [d[0], d[1], d[2], d[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    } else {
        (*p).laddr = ctx.read_at(base + 14).unwrap_or([0; 16]);
        (*p).addr = ctx.read_at(base + 30).unwrap_or([0; 16]);
    }
}

#[tracepoint]
pub fn tcp_retransmit_skb(ctx: TracePointContext) -> u32 {
    let off = RETRANSMIT_ERR_OFFSET.load() as usize;
    let err: i32 = if off == 0 { 0 } else { unsafe { ctx.read_at(off & 0xff).unwrap_or(0) } };
    let Some(mut e) = reserve_for(&ctx, 16, kind::TCP_RETRANSMIT, err as i64, false, Some(28)) else { return 0 };
    unsafe {
        let p = e.as_mut_ptr();
        (*p).arg = ctx.read_at::<i32>(24).unwrap_or(0) as u32 as u64;
        five_tuple(&ctx, p, 28);
    }
    e.submit(wakeup());
    0
}

#[tracepoint]
pub fn tcp_receive_reset(ctx: TracePointContext) -> u32 {
    let Some(mut e) = reserve_for(&ctx, 8, kind::TCP_RECEIVE_RESET, 0, false, Some(16)) else { return 0 };
    unsafe { five_tuple(&ctx, e.as_mut_ptr(), 16) };
    e.submit(wakeup());
    0
}

#[tracepoint]
pub fn tcp_send_reset(ctx: TracePointContext) -> u32 {
    let state: u32 = unsafe { ctx.read_at(24).unwrap_or(0) };
    // close(2) and shutdown(2) set CLOSE, which drops the socket from
    // TCPSOCKS (tcp.rs), before they send their RST (__tcp_close(),
    // tcp_disconnect()), in the closing task: accept it from a traced one.
    let Some(mut e) = reserve_for(&ctx, 16, kind::TCP_SEND_RESET, 0, state == TCP_CLOSE, None) else { return 0 };
    unsafe {
        let p = e.as_mut_ptr();
        let reason: u32 = ctx.read_at(28).unwrap_or(0);
        (*p).arg = state as u64 | (reason as u64) << 32;
        // saddr/daddr are `struct sockaddr_in6`-sized blobs holding a
        // sockaddr_in or sockaddr_in6 (%pISpc); saddr is the local end.
        let s: [u8; 28] = ctx.read_at(32).unwrap_or([0; 28]);
        let d: [u8; 28] = ctx.read_at(60).unwrap_or([0; 28]);
        (*p).family = sockaddr(&s, &mut (*p).laddr, &mut (*p).lport);
        sockaddr(&d, &mut (*p).addr, &mut (*p).port);
    }
    e.submit(wakeup());
    0
}

/// Decodes a kernel `sockaddr_in`/`sockaddr_in6` (family in host order,
/// port big endian; ip(7), ipv6(7)); returns the family, 0 if neither.
#[inline(always)]
fn sockaddr(b: &[u8; 28], addr: &mut [u8; 16], port: &mut u16) -> u16 {
    let family = u16::from_ne_bytes([b[0], b[1]]);
    *port = u16::from_be_bytes([b[2], b[3]]);
    if family == AF_INET {
        addr[..4].copy_from_slice(&b[4..8]);
    } else if family == AF_INET6 {
        addr.copy_from_slice(&b[8..24]);
    } else {
        *port = 0;
        return 0;
    }
    family
}
