//! Signals gotrace receives while the command runs are remembered here and
//! forwarded to the command by the main loop, so gotrace itself keeps
//! running to finish the bundle and the report.
//!
//! A signal from the terminal (Ctrl-C, Ctrl-\, hangup) already reaches the
//! command, which shares gotrace's foreground process group; forwarding it
//! again would deliver it twice, and many programs treat a second SIGINT as
//! "force quit". Only signals sent by a process (`kill`, `si_code` <= 0,
//! sigaction(2)) are forwarded.

use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Bit N set: signal N arrived from a process and is still to be forwarded.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Bit N set: signal N arrived from anywhere (terminal included); for
/// `attach`, where the traced process is not in gotrace's process group.
static RECEIVED: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    if !(0..64).contains(&sig) {
        return;
    }
    RECEIVED.fetch_or(1 << sig, Ordering::SeqCst);
    // SAFETY: the kernel passes a valid siginfo_t with SA_SIGINFO.
    let sent_by_process = !info.is_null() && unsafe { (*info).si_code } <= 0;
    if sent_by_process {
        PENDING.fetch_or(1 << sig, Ordering::SeqCst);
    }
}

/// Installs the handler for SIGINT, SIGTERM, SIGHUP and SIGQUIT. Handlers
/// (unlike ignored dispositions) are reset by execve, so the command starts
/// with default signal behaviour.
pub fn install() {
    let act = SigAction::new(
        SigHandler::SigAction(on_signal),
        SaFlags::SA_RESTART | SaFlags::SA_SIGINFO,
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: the handler only updates an atomic.
        let _ = unsafe { signal::sigaction(sig, &act) };
    }
}

/// The signals received from other processes since the previous call.
pub fn take() -> Vec<Signal> {
    signals_in(PENDING.swap(0, Ordering::SeqCst))
}

/// Every handled signal received since the previous call, from a process
/// or from the terminal (Ctrl-C).
pub fn take_any() -> Vec<Signal> {
    signals_in(RECEIVED.swap(0, Ordering::SeqCst))
}

fn signals_in(mask: u64) -> Vec<Signal> {
    (1..64)
        .filter(|n| mask & (1 << n) != 0)
        .filter_map(|n| Signal::try_from(n).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_from_a_process_is_queued_once_and_every_kind_is_kept() {
        install();
        // raise(3) is tgkill(2) to this thread: si_code SI_TKILL (< 0), so it
        // must be queued, and it is handled before raise returns. kill(2) of
        // the process could run the handler later on another test thread.
        signal::raise(Signal::SIGTERM).unwrap();
        signal::raise(Signal::SIGHUP).unwrap();
        let got = take();
        assert!(
            got.contains(&Signal::SIGTERM) && got.contains(&Signal::SIGHUP),
            "{got:?}"
        );
        assert!(take().is_empty());
    }
}
