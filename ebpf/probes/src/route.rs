//! Failed route lookups (`fib:fib_table_lookup`, `fib6:fib6_table_lookup`)
//! made while a traced task is current.
//!
//! A connect(2) that a `blackhole`, `prohibit` or `unreachable` route
//! refuses returns EINVAL, EACCES or EHOSTUNREACH with nothing on the
//! wire; the same errnos come from other causes (an LSM or cgroup BPF hook,
//! a neighbour that never answered). The lookup's own `err` is the
//! kernel's word on which route refused it. Only failures are recorded
//! (a successful lookup is not evidence of anything gone wrong), and only
//! in a traced task: output lookups run in the caller's context.

use aya_ebpf::{macros::tracepoint, programs::TracePointContext, Global};
use gotrace_abi::{kind, AF_INET, AF_INET6};

use crate::maps::{current, is_traced, reserve, wakeup};

/// Fixed where the events have `err` (Linux >= 4.19 for fib6, checked by
/// the tracer): `tb_id` at 8, `err` at 12.
const TB_ID: usize = 8;
const ERR: usize = 12;

#[no_mangle]
static FIB_SRC_OFF: Global<u32> = Global::new(28);
#[no_mangle]
static FIB_DST_OFF: Global<u32> = Global::new(32);
#[no_mangle]
static FIB_SPORT_OFF: Global<u32> = Global::new(56);
#[no_mangle]
static FIB_DPORT_OFF: Global<u32> = Global::new(58);
#[no_mangle]
static FIB6_SRC_OFF: Global<u32> = Global::new(31);
#[no_mangle]
static FIB6_DST_OFF: Global<u32> = Global::new(47);
#[no_mangle]
static FIB6_SPORT_OFF: Global<u32> = Global::new(64);
#[no_mangle]
static FIB6_DPORT_OFF: Global<u32> = Global::new(66);
#[no_mangle]
static FIB6_RT_TYPE_OFF: Global<u32> = Global::new(69);

#[tracepoint]
pub fn fib_table_lookup(ctx: TracePointContext) -> u32 {
    let v4 = Offsets {
        src: FIB_SRC_OFF.load(),
        dst: FIB_DST_OFF.load(),
        sport: FIB_SPORT_OFF.load(),
        dport: FIB_DPORT_OFF.load(),
        rt_type: 0,
    };
    record(&ctx, AF_INET, v4)
}

#[tracepoint]
pub fn fib6_table_lookup(ctx: TracePointContext) -> u32 {
    let v6 = Offsets {
        src: FIB6_SRC_OFF.load(),
        dst: FIB6_DST_OFF.load(),
        sport: FIB6_SPORT_OFF.load(),
        dport: FIB6_DPORT_OFF.load(),
        rt_type: FIB6_RT_TYPE_OFF.load(),
    };
    record(&ctx, AF_INET6, v6)
}

/// Where one event's fields are in its record.
struct Offsets {
    src: u32,
    dst: u32,
    sport: u32,
    dport: u32,
    rt_type: u32,
}

#[inline(always)]
fn record(ctx: &TracePointContext, family: u16, o: Offsets) -> u32 {
    let (tgid, tid) = current();
    if !is_traced(tgid) {
        return 0;
    }
    let err: i32 = unsafe { ctx.read_at(ERR).unwrap_or(0) };
    if err == 0 {
        return 0;
    }
    let tb_id: u32 = unsafe { ctx.read_at(TB_ID).unwrap_or(0) };
    let rt_type: u8 = if o.rt_type == 0 {
        0
    } else {
        unsafe { ctx.read_at((o.rt_type & 0xff) as usize).unwrap_or(0) }
    };
    let Some(mut e) = reserve(kind::ROUTE_LOOKUP, tgid, tid, -1, err as i64) else { return 0 };
    unsafe {
        let p = e.as_mut_ptr();
        (*p).arg = tb_id as u64 | (rt_type as u64) << 32;
        (*p).family = family;
        (*p).lport = ctx.read_at((o.sport & 0xff) as usize).unwrap_or(0);
        (*p).port = ctx.read_at((o.dport & 0xff) as usize).unwrap_or(0);
        if family == AF_INET {
            let s: [u8; 4] = ctx.read_at((o.src & 0xff) as usize).unwrap_or([0; 4]);
            let d: [u8; 4] = ctx.read_at((o.dst & 0xff) as usize).unwrap_or([0; 4]);
            (*p).laddr = [s[0], s[1], s[2], s[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            (*p).addr = [d[0], d[1], d[2], d[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        } else {
            (*p).laddr = ctx.read_at((o.src & 0xff) as usize).unwrap_or([0; 16]);
            (*p).addr = ctx.read_at((o.dst & 0xff) as usize).unwrap_or([0; 16]);
        }
    }
    e.submit(wakeup());
    0
}
