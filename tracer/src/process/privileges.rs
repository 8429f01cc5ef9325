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
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
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
    if missing.is_empty() {
        Ok(())
    } else {
        Err(TracerError::Privileges {
            what,
            missing: missing.join(" + "),
        })
    }
}
