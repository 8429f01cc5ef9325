//! The kernel's own verdicts on the tree's TCP sockets: retransmits (with
//! the transmit's error: -EPERM is a local netfilter drop), RSTs received,
//! RSTs sent (`tcp:tcp_retransmit_skb`, `tcp_receive_reset`, `tcp_send_reset`).
//!
//! All three usually run in softirq, so sockets are matched through
//! `TCPSOCKS` (filled by `inet_sock_set_state` at SYN_SENT), not the current
//! task. Layouts: include/trace/events/tcp.h; the fixed offsets below are
//! checked against the running kernel's format files before attaching, and
//! `err` (only on recent kernels) and each record's layout
//! ([`gotrace_abi::tcp_layout`]: with or without `family`, or the sockaddr
//! blobs of tcp_send_reset since 6.10) come from the tracer as globals.

use aya_ebpf::{macros::tracepoint, maps::ring_buf::RingBufEntry, programs::TracePointContext, Global};
use gotrace_abi::{kind, tcp_layout, tcp_state, RawEvent, AF_INET, AF_INET6};

use crate::maps::{current, is_traced, owner_of, reserve, wakeup, TCPSOCKS};

const TCP_CLOSE: u32 = tcp_state::CLOSE as u32;

/// Offset of `err` in tcp_retransmit_skb; 0 = the kernel has no such field.
#[no_mangle]
static RETRANSMIT_ERR_OFFSET: Global<u32> = Global::new(76);
/// Each program's record layout, a [`tcp_layout`] value.
#[no_mangle]
static RETRANSMIT_LAYOUT: Global<u32> = Global::new(tcp_layout::FAMILY);
#[no_mangle]
static RECEIVE_RESET_LAYOUT: Global<u32> = Global::new(tcp_layout::FAMILY);
#[no_mangle]
static SEND_RESET_LAYOUT: Global<u32> = Global::new(tcp_layout::SOCKADDR);

/// Where the 5-tuple of a `tcp_event_sk*` record starts and whether it
/// carries `family` ([`tcp_layout::FAMILY`]) or not ([`tcp_layout::NO_FAMILY`]).
#[derive(Clone, Copy)]
struct Tuple {
    base: usize,
    family: bool,
}

impl Tuple {
    #[inline(always)]
    fn new(base: usize, layout: u32) -> Tuple {
        Tuple { base, family: layout != tcp_layout::NO_FAMILY }
    }

    /// The socket's family: the field, or (without it) AF_INET when
    /// daddr_v6 is v4-mapped, as TP_STORE_V4MAPPED fills it for IPv4.
    #[inline(always)]
    fn family(&self, ctx: &TracePointContext) -> u16 {
        if self.family {
            return unsafe { ctx.read_at(self.base + 4).unwrap_or(0) };
        }
        let head: [u8; 12] = unsafe { ctx.read_at(self.base + 28).unwrap_or([0; 12]) };
        let mapped = head[..10].iter().all(|&b| b == 0) && head[10] == 0xff && head[11] == 0xff;
        if mapped { AF_INET } else { AF_INET6 }
    }

    /// Offsets of (saddr, daddr, saddr_v6, daddr_v6).
    #[inline(always)]
    fn addrs(&self) -> (usize, usize, usize, usize) {
        let b = if self.family { self.base + 6 } else { self.base + 4 };
        (b, b + 4, b + 8, b + 24)
    }
}

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
    tuple: Option<Tuple>,
) -> Option<RingBufEntry<RawEvent>> {
    let sk: u64 = unsafe { ctx.read_at(sk_off).ok()? };
    let (tgid, tid) = current();
    let known = match tuple {
        Some(t) => unsafe {
            let (_, daddr, _, daddr_v6) = t.addrs();
            let raddr4: [u8; 4] = ctx.read_at(if t.family(ctx) == AF_INET { daddr } else { daddr_v6 + 12 }).ok()?;
            owner_of(sk, ctx.read_at(t.base).ok()?, ctx.read_at(t.base + 2).ok()?, raddr4)
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

/// Fills family and both ends from the `tcp_event_sk*` 5-tuple `t`
/// (sport, dport, [family,] saddr, daddr, saddr_v6, daddr_v6).
#[inline(always)]
unsafe fn five_tuple(ctx: &TracePointContext, p: *mut RawEvent, t: Tuple) {
    (*p).lport = ctx.read_at(t.base).unwrap_or(0);
    (*p).port = ctx.read_at(t.base + 2).unwrap_or(0);
    let family = t.family(ctx);
    (*p).family = family;
    let (saddr, daddr, saddr_v6, daddr_v6) = t.addrs();
    if family == AF_INET {
        let s: [u8; 4] = ctx.read_at(saddr).unwrap_or([0; 4]);
        let d: [u8; 4] = ctx.read_at(daddr).unwrap_or([0; 4]);
        (*p).laddr = [s[0], s[1], s[2], s[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        (*p).addr = [d[0], d[1], d[2], d[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    } else {
        (*p).laddr = ctx.read_at(saddr_v6).unwrap_or([0; 16]);
        (*p).addr = ctx.read_at(daddr_v6).unwrap_or([0; 16]);
    }
}

#[tracepoint]
pub fn tcp_retransmit_skb(ctx: TracePointContext) -> u32 {
    let off = RETRANSMIT_ERR_OFFSET.load() as usize;
    let err: i32 = if off == 0 { 0 } else { unsafe { ctx.read_at(off & 0xff).unwrap_or(0) } };
    let t = Tuple::new(28, RETRANSMIT_LAYOUT.load());
    let Some(mut e) = reserve_for(&ctx, 16, kind::TCP_RETRANSMIT, err as i64, false, Some(t)) else { return 0 };
    unsafe {
        let p = e.as_mut_ptr();
        (*p).arg = ctx.read_at::<i32>(24).unwrap_or(0) as u32 as u64;
        five_tuple(&ctx, p, t);
    }
    e.submit(wakeup());
    0
}

#[tracepoint]
pub fn tcp_receive_reset(ctx: TracePointContext) -> u32 {
    let t = Tuple::new(16, RECEIVE_RESET_LAYOUT.load());
    let Some(mut e) = reserve_for(&ctx, 8, kind::TCP_RECEIVE_RESET, 0, false, Some(t)) else { return 0 };
    unsafe { five_tuple(&ctx, e.as_mut_ptr(), t) };
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
    let layout = SEND_RESET_LAYOUT.load();
    if layout != tcp_layout::SOCKADDR {
        // Before 6.10: `tcp_event_sk_skb`, as tcp_retransmit_skb, no reason.
        unsafe {
            let p = e.as_mut_ptr();
            (*p).arg = state as u64;
            five_tuple(&ctx, p, Tuple::new(28, layout));
        }
        e.submit(wakeup());
        return 0;
    }
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
