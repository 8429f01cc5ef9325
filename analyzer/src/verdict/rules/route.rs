//! What the kernel's own route lookup says about a connect(2) that failed
//! at once with nothing on the wire. EINVAL, EACCES, EHOSTUNREACH and
//! ENETUNREACH each have a route type that causes them (ip-route(8)) and
//! other causes too (a policy hook, a neighbour, a caller's bad argument);
//! a failed `route_lookup` inside the connect names the route, and, where
//! lookups were recorded, none failing rules the route out.

use crate::cause::Cause;
use crate::correlate::{Attempt, Refusal};
use crate::proto::errno;
use gotrace_bundle::Meta;

/// The cause the lookups prove for connect errno `e`, one clause saying
/// so, and the decisive lookup's event id; None: they say nothing beyond
/// the errno table.
pub(super) fn judged(a: &Attempt, e: i32, meta: &Meta) -> Option<(Cause, String, Option<u64>)> {
    let ip = a.peer.ip();
    let decisive = a
        .route_lookups
        .iter()
        .rev()
        .find(|l| l.value.refusal() != Refusal::NotInTable);
    if let Some(l) = decisive {
        let cause = match l.value.refusal() {
            Refusal::Blackhole => Cause::LocalRouteBlackhole,
            Refusal::Prohibit => Cause::LocalRouteProhibit,
            Refusal::Unreachable => Cause::LocalRouteUnreachable,
            Refusal::NoRoute => Cause::NoRoute,
            Refusal::NotInTable | Refusal::Other => return None,
        };
        let why = format!(
            "the kernel's route lookup for {ip} in {} failed with {}{}",
            l.value.table_name(),
            errno::name(-l.value.err),
            l.value.refusal().clause()
        );
        return Some((cause, why, Some(l.id)));
    }
    if let (Some(last), errno::ENETUNREACH) = (a.route_lookups.last(), e) {
        let tables: Vec<String> = a
            .route_lookups
            .iter()
            .map(|l| l.value.table_name())
            .collect();
        let why = format!(
            "no routing table has a route to {ip} (the kernel looked in {} and found none)",
            tables.join(", ")
        );
        return Some((Cause::NoRoute, why, Some(last.id)));
    }
    if e == errno::EACCES && a.route_lookups.is_empty() && recorded(meta, ip.is_ipv6()) {
        let why = format!(
            "no route refused {ip} (the kernel's route lookup for it did not fail), so a policy of this host forbids connecting to it: a cgroup BPF connect hook, an LSM (SELinux, AppArmor), or a broadcast address without SO_BROADCAST"
        );
        return Some((Cause::LocalPolicyDenied, why, None));
    }
    None
}

/// Whether this run recorded failed route lookups of the peer's family
/// (meta.json `kernel_events`), so that none means none failed.
fn recorded(meta: &Meta, v6: bool) -> bool {
    let want = if v6 {
        "fib6/fib6_table_lookup"
    } else {
        "fib/fib_table_lookup"
    };
    meta.kernel_events
        .as_ref()
        .is_some_and(|k| k.iter().any(|e| e == want))
}
