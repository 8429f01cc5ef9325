//! TCP state changes of the tree's sockets (`sock:inet_sock_set_state`).
//!
//! CLOSE -> SYN_SENT runs inside connect(2), in the dialing thread, which is
//! where a socket is adopted (and where its local port first shows). Later
//! changes (ESTABLISHED on SYN/ACK, CLOSE on RST) usually run in softirq, so
//! they are matched by the kernel socket address instead of the current task.
//! Record layout: include/trace/events/sock.h; stable since Linux 4.16.

use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use gotrace_abi::{kind, tcp_state, AF_INET};

use crate::maps::{current, is_traced, owner_of, reserve, wakeup, TCPSOCKS};

// The tracepoint's oldstate/newstate are ints (include/trace/events/sock.h).
const TCP_SYN_SENT: i32 = tcp_state::SYN_SENT as i32;
const TCP_CLOSE: i32 = tcp_state::CLOSE as i32;
const IPPROTO_TCP: u16 = 6;

#[tracepoint]
pub fn inet_sock_set_state(ctx: TracePointContext) -> u32 {
    let _ = try_state(&ctx);
    0
}

#[inline(always)]
fn try_state(ctx: &TracePointContext) -> Result<(), i32> {
    let proto: u16 = unsafe { ctx.read_at(30)? };
    if proto != IPPROTO_TCP {
        return Ok(());
    }
    let sk: u64 = unsafe { ctx.read_at(8)? };
    let old: i32 = unsafe { ctx.read_at(16)? };
    let new: i32 = unsafe { ctx.read_at(20)? };
    let (cur_tgid, tid) = current();
    let owner = if new == TCP_SYN_SENT && is_traced(cur_tgid) {
        let _ = TCPSOCKS.insert(&sk, &cur_tgid, 0);
        cur_tgid
    } else {
        let family: u16 = unsafe { ctx.read_at(28)? };
        let raddr4: [u8; 4] = unsafe { ctx.read_at(if family == AF_INET { 36 } else { 68 })? };
        let (lport, rport): (u16, u16) = unsafe { (ctx.read_at(24)?, ctx.read_at(26)?) };
        match owner_of(sk, lport, rport, raddr4) {
            Some(t) => t,
            None => return Ok(()),
        }
    };
    if new == TCP_CLOSE {
        let _ = TCPSOCKS.remove(&sk);
    }
    // In softirq the current task is unrelated: report TID 0 then.
    let tid = if cur_tgid == owner { tid } else { 0 };
    let Some(mut e) = reserve(kind::TCP_STATE, owner, tid, -1, 0) else { return Ok(()) };
    unsafe {
        let p = e.as_mut_ptr();
        (*p).arg = (old as u32 as u64 & 0xff) | ((new as u32 as u64 & 0xff) << 8);
        (*p).cookie = sk;
        (*p).lport = ctx.read_at(24).unwrap_or(0);
        (*p).port = ctx.read_at(26).unwrap_or(0);
        let family: u16 = ctx.read_at(28).unwrap_or(0);
        (*p).family = family;
        if family == AF_INET {
            let s: [u8; 4] = ctx.read_at(32).unwrap_or([0; 4]);
            let d: [u8; 4] = ctx.read_at(36).unwrap_or([0; 4]);
            (*p).laddr = [s[0], s[1], s[2], s[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            (*p).addr = [d[0], d[1], d[2], d[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        } else {
            (*p).laddr = ctx.read_at(40).unwrap_or([0; 16]);
            (*p).addr = ctx.read_at(56).unwrap_or([0; 16]);
        }
    }
    e.submit(wakeup());
    Ok(())
}
