//! Pacing a loop to a fixed rate, so every mode is offered the same load
//! and the rate it actually reached is the measurement.

use std::time::{Duration, Instant};

/// Operations due at `rate` per second since `start`.
pub struct Pace {
    start: Instant,
    /// Operations per second; 0 = as fast as possible.
    rate: u64,
    duration: Duration,
}

impl Pace {
    /// Starts now, for `duration`.
    pub fn new(rate: u64, duration: Duration) -> Pace {
        Pace {
            start: Instant::now(),
            rate,
            duration,
        }
    }

    /// How many operations to do now, given `done` so far: at most
    /// `batch`, 0 when ahead of the rate (after a short sleep), None when
    /// the duration is over.
    pub fn next(&self, done: u64, batch: u64) -> Option<u64> {
        let elapsed = self.start.elapsed();
        if elapsed >= self.duration {
            return None;
        }
        if self.rate == 0 {
            return Some(batch);
        }
        let due = (elapsed.as_nanos() * u128::from(self.rate) / 1_000_000_000) as u64;
        if due > done {
            Some((due - done).min(batch))
        } else {
            // Ahead: sleep for about one batch's worth of time (>= 50 µs).
            let ns = (batch * 1_000_000_000 / self.rate).max(50_000);
            std::thread::sleep(Duration::from_nanos(ns.min(1_000_000)));
            Some(0)
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}
