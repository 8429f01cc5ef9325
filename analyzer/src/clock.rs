//! Mapping the two clocks of a bundle onto report time.
//!
//! Events carry CLOCK_MONOTONIC ns, packets CLOCK_REALTIME ns;
//! `monotonic = realtime - realtime_minus_monotonic_ns` (bundle/BUNDLE.md,
//! "Clocks"). Report times are ms since `start_monotonic_ns`.

use gotrace_bundle::Meta;

/// Clock conversion for one bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// CLOCK_MONOTONIC ns of the report's time zero.
    pub start_ns: u64,
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, ns.
    pub realtime_minus_monotonic_ns: i64,
    /// Error bound of the mapping, ns.
    pub uncertainty_ns: u64,
}

impl Clock {
    /// The clock of `meta`.
    pub fn of(meta: &Meta) -> Clock {
        Clock {
            start_ns: meta.start_monotonic_ns,
            realtime_minus_monotonic_ns: meta.clock.realtime_minus_monotonic_ns,
            uncertainty_ns: meta.clock.uncertainty_ns,
        }
    }

    /// A packet's CLOCK_REALTIME ns as CLOCK_MONOTONIC ns.
    pub fn packet_mono_ns(&self, realtime_ns: i64) -> i64 {
        realtime_ns.saturating_sub(self.realtime_minus_monotonic_ns)
    }

    /// ms since start for an event time (CLOCK_MONOTONIC ns), rounded to µs.
    pub fn event_ms(&self, ts_ns: u64) -> f64 {
        let d = i128::from(ts_ns) - i128::from(self.start_ns);
        round_ms(d as f64 / 1e6)
    }

    /// ms since start for a packet time (CLOCK_REALTIME ns), rounded to µs.
    pub fn packet_ms(&self, realtime_ns: i64) -> f64 {
        let d = i128::from(self.packet_mono_ns(realtime_ns)) - i128::from(self.start_ns);
        round_ms(d as f64 / 1e6)
    }
}

fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_and_event_share_a_time_axis() {
        let c = Clock {
            start_ns: 1_000_000_000,
            realtime_minus_monotonic_ns: 5_000_000_000,
            uncertainty_ns: 0,
        };
        assert_eq!(c.event_ms(1_031_200_000), 31.2);
        assert_eq!(c.packet_ms(6_031_300_000), 31.3);
        assert_eq!(c.packet_mono_ns(i64::MIN), i64::MIN);
    }
}
