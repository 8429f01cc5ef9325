//! Route lookups (`route_lookup` events) and the dial they were made for.
//!
//! A thread runs one syscall at a time, and an output route lookup runs in
//! the calling thread (ip_route_connect() inside connect(2)): the failed
//! lookups a thread made since its previous syscall event, to the address
//! its connect names, are that connect's.

use std::collections::HashMap;
use std::net::IpAddr;

use gotrace_bundle::{Event, Op};

use super::{EventFact, Step};
use crate::proto::errno;

/// What a failed lookup says about the route (ip-route(8) route types;
/// the errors of net/ipv4/fib_semantics.c `fib_props` and net/ipv6/
/// route.c `fib6_prop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A `blackhole` route: EINVAL.
    Blackhole,
    /// A `prohibit` route: EACCES.
    Prohibit,
    /// An `unreachable` route: EHOSTUNREACH.
    Unreachable,
    /// No route: ENETUNREACH.
    NoRoute,
    /// This table has no route (a `throw`, or nothing matched); the next
    /// policy rule's table was tried: EAGAIN.
    NotInTable,
    /// Another error.
    Other,
}

/// One failed lookup, as an attempt keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteLookup {
    /// Routing table id (254 main, 255 local).
    pub table: u32,
    /// The lookup's result, -errno.
    pub err: i32,
    /// The flow's destination.
    pub dst: IpAddr,
    /// The IPv6 route's type (RTN_*), None for IPv4.
    pub rt_type: Option<u8>,
}

/// RTN_* route types (include/uapi/linux/rtnetlink.h).
const RTN_BLACKHOLE: u8 = 6;
const RTN_UNREACHABLE: u8 = 7;
const RTN_PROHIBIT: u8 = 8;

impl Refusal {
    /// ` (a blackhole route)`, the route type as ip-route(8) names it;
    /// empty for [`Refusal::Other`].
    pub fn clause(self) -> &'static str {
        match self {
            Refusal::Blackhole => " (a blackhole route)",
            Refusal::Prohibit => " (a prohibit route)",
            Refusal::Unreachable => " (an unreachable route)",
            Refusal::NoRoute => " (no route)",
            Refusal::NotInTable => " (no route in this table)",
            Refusal::Other => "",
        }
    }
}

impl RouteLookup {
    /// What it says about the route.
    ///
    /// IPv6 lookups say it by the route's type: a table without the
    /// route answers with the kernel's null entry (type 0 measured on
    /// 6.18, error EHOSTUNREACH), which is no refusal, only "not here";
    /// on kernels whose record lacks the type every IPv6 lookup is that.
    pub fn refusal(&self) -> Refusal {
        if let Some(t) = self.rt_type {
            return match t {
                RTN_BLACKHOLE => Refusal::Blackhole,
                RTN_UNREACHABLE => Refusal::Unreachable,
                RTN_PROHIBIT => Refusal::Prohibit,
                _ => Refusal::NotInTable,
            };
        }
        match -self.err {
            errno::EINVAL => Refusal::Blackhole,
            errno::EACCES => Refusal::Prohibit,
            errno::EHOSTUNREACH => Refusal::Unreachable,
            errno::ENETUNREACH => Refusal::NoRoute,
            errno::EAGAIN => Refusal::NotInTable,
            _ => Refusal::Other,
        }
    }

    /// `table 254 (main)`.
    pub fn table_name(&self) -> String {
        match self.table {
            254 => "table 254 (main)".into(),
            255 => "table 255 (local)".into(),
            253 => "table 253 (default)".into(),
            t => format!("table {t}"),
        }
    }
}

/// The lookup an event records, if it is one.
pub fn fact(ev: &Event) -> Option<EventFact<RouteLookup>> {
    let Op::RouteLookup {
        table,
        err,
        dst,
        rt_type,
        ..
    } = &ev.op
    else {
        return None;
    };
    Some(EventFact {
        id: ev.id,
        ts_ns: ev.ts_ns,
        value: RouteLookup {
            table: *table,
            err: *err,
            dst: dst.ip.to_canonical(),
            rt_type: *rt_type,
        },
    })
}

/// Failed lookups per thread since its previous syscall event, each with
/// its timeline step (made when seen: the event itself is not kept).
#[derive(Default)]
pub(super) struct Pending {
    by_tid: HashMap<u32, Vec<(Step, EventFact<RouteLookup>)>>,
}

impl Pending {
    /// Keeps `ev` if it is a route lookup (true), else forgets what
    /// `ev`'s thread had pending when `ev` is a syscall of its own and
    /// returns false: lookups are linked at the connect, by [`Pending::take`].
    pub(super) fn see(&mut self, ev: &Event, step: impl FnOnce() -> Step) -> bool {
        let Some(f) = fact(ev) else { return false };
        self.by_tid.entry(ev.tid).or_default().push((step(), f));
        true
    }

    /// The lookups `tid` made to `peer` since its previous syscall, taken
    /// for the connect `ev` (and every other pending lookup of `tid`
    /// forgotten).
    pub(super) fn take(&mut self, ev: &Event, peer: IpAddr) -> Vec<(Step, EventFact<RouteLookup>)> {
        let mut mine = self.by_tid.remove(&ev.tid).unwrap_or_default();
        mine.retain(|(_, l)| l.value.dst == peer.to_canonical());
        mine
    }

    /// Forgets `tid`'s pending lookups: it made another syscall.
    pub(super) fn clear(&mut self, tid: u32) {
        self.by_tid.remove(&tid);
    }
}

#[cfg(test)]
mod tests {
    use super::super::Source;
    use super::*;
    use gotrace_bundle::SockAddr;

    fn lookup(id: u64, tid: u32, dst: &str, err: i32) -> Event {
        Event {
            id,
            ts_ns: id,
            tgid: 1,
            tid,
            comm: "go".into(),
            op: Op::RouteLookup {
                table: 254,
                err,
                err_name: None,
                rt_type: None,
                src: SockAddr {
                    ip: "0.0.0.0".parse().unwrap(),
                    port: 0,
                },
                dst: SockAddr {
                    ip: dst.parse().unwrap(),
                    port: 8080,
                },
            },
        }
    }

    #[test]
    fn ipv6_lookups_are_judged_by_route_type() {
        let l = |rt_type| RouteLookup {
            table: 255,
            err: -113,
            dst: "fd67::2".parse().unwrap(),
            rt_type: Some(rt_type),
        };
        // The null entry of a table without the route (measured on 6.18).
        assert_eq!(l(0).refusal(), Refusal::NotInTable);
        assert_eq!(l(RTN_UNREACHABLE).refusal(), Refusal::Unreachable);
        assert_eq!(l(RTN_BLACKHOLE).refusal(), Refusal::Blackhole);
    }

    #[test]
    fn a_connect_takes_its_thread_s_lookups_to_its_peer_only() {
        let evs = [
            lookup(1, 7, "198.19.255.2", -22),
            lookup(2, 8, "198.19.255.2", -13),
            lookup(3, 7, "198.19.255.9", -22),
        ];
        let mut p = Pending::default();
        let step = |e: &Event| Step {
            source: Source::Event,
            id: e.id,
            t_ms: None,
            text: String::new(),
        };
        for e in &evs {
            assert!(p.see(e, || step(e)));
        }
        let connect = lookup(4, 7, "198.19.255.2", 0);
        let got = p.take(&connect, "198.19.255.2".parse().unwrap());
        assert_eq!(got.iter().map(|(_, f)| f.id).collect::<Vec<_>>(), [1]);
        assert_eq!(got[0].1.value.refusal(), Refusal::Blackhole);
        // Taken once; the other thread's stays until its own syscall.
        assert!(p.take(&connect, "198.19.255.2".parse().unwrap()).is_empty());
        p.clear(8);
        assert!(p.by_tid.is_empty());
    }
}
