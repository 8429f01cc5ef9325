//! Clock reads and the monotonic -> realtime mapping stored in meta.json.

use gotrace_bundle::ClockMap;
use nix::sys::time::TimeSpec;
use nix::time::{clock_gettime, ClockId};

fn read(id: ClockId) -> u64 {
    // clock_gettime cannot fail for these two clocks on Linux (clock_gettime(2)).
    timespec_ns(&clock_gettime(id).unwrap_or_else(|_| TimeSpec::new(0, 0)))
}

/// A timespec as ns since its clock's epoch (0 for times before it).
pub fn timespec_ns(ts: &TimeSpec) -> u64 {
    (ts.tv_sec().max(0) as u64) * 1_000_000_000 + ts.tv_nsec().max(0) as u64
}

/// CLOCK_MONOTONIC in ns: the clock of `bpf_ktime_get_ns()`, so of every event.
pub fn monotonic_ns() -> u64 {
    read(ClockId::CLOCK_MONOTONIC)
}

/// CLOCK_REALTIME in ns: the clock of packet timestamps (SO_TIMESTAMPNS).
pub fn realtime_ns() -> u64 {
    read(ClockId::CLOCK_REALTIME)
}

/// Samples realtime, monotonic, realtime back to back; the offset is taken
/// against the midpoint, and the bracket width is its error bound.
pub fn sample_map() -> ClockMap {
    let r1 = realtime_ns();
    let m = monotonic_ns();
    let r2 = realtime_ns();
    let mid = r1 / 2 + r2 / 2;
    ClockMap {
        realtime_minus_monotonic_ns: mid as i64 - m as i64,
        uncertainty_ns: r2.saturating_sub(r1),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mapping_is_consistent_with_a_later_sample() {
        let map = super::sample_map();
        let m = super::monotonic_ns();
        let r = super::realtime_ns();
        let predicted = m as i64 + map.realtime_minus_monotonic_ns;
        // Two reads apart: well under a millisecond unless NTP steps the clock.
        assert!(
            (r as i64 - predicted).abs() < 1_000_000,
            "off by {} ns",
            r as i64 - predicted
        );
    }
}
