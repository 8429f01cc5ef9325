//! Checking capabilities up front, so a user without them gets one clear
//! message and no half-written bundle.

use crate::error::TracerError;

const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Fails with [`TracerError::Privileges`] unless the effective capability set
/// allows loading tracing BPF programs (CAP_BPF + CAP_PERFMON, or
/// CAP_SYS_ADMIN on kernels before 5.8) and opening AF_PACKET sockets
/// (CAP_NET_RAW). Capabilities from `CapEff` in /proc/self/status (proc(5)).
pub fn check(what: &'static str) -> Result<(), TracerError> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| TracerError::sys("reading /proc/self/status", e))?;
    let missing = missing(effective(&status));
    if missing.is_empty() {
        Ok(())
    } else {
        Err(TracerError::Privileges {
            what,
            missing: missing.join(" + "),
        })
    }
}

/// The effective capability set, the hex mask of `CapEff:` in a
/// /proc/PID/status text; none when the line is absent or unreadable.
fn effective(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

/// The capabilities gotrace needs that the effective set `eff` lacks, in
/// the order the message names them.
fn missing(eff: u64) -> Vec<&'static str> {
    let has = |cap: u32| eff & (1u64 << cap) != 0;
    let mut missing = Vec::new();
    if !has(CAP_BPF) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_BPF");
    }
    if !has(CAP_PERFMON) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_PERFMON");
    }
    if !has(CAP_NET_RAW) {
        missing.push("CAP_NET_RAW");
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_set_is_read_from_capeff() {
        let status =
            "Name:\tgotrace\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\nCapBnd:\t0\n";
        assert_eq!(effective(status), 0x1ff_ffff_ffff);
        assert_eq!(effective("Name:\tx\n"), 0);
        assert_eq!(effective("CapEff:\tzz\n"), 0);
    }

    #[test]
    fn each_missing_capability_is_named() {
        let bit = |c: u32| 1u64 << c;
        assert_eq!(missing(0), ["CAP_BPF", "CAP_PERFMON", "CAP_NET_RAW"]);
        assert!(missing(bit(CAP_BPF) | bit(CAP_PERFMON) | bit(CAP_NET_RAW)).is_empty());
        // Before 5.8, CAP_SYS_ADMIN stands for CAP_BPF and CAP_PERFMON.
        assert!(missing(bit(CAP_SYS_ADMIN) | bit(CAP_NET_RAW)).is_empty());
        assert_eq!(missing(bit(CAP_SYS_ADMIN)), ["CAP_NET_RAW"]);
        assert_eq!(missing(bit(CAP_BPF) | bit(CAP_NET_RAW)), ["CAP_PERFMON"]);
    }
}
