//! Signals gotrace receives while the command runs are remembered here and
//! forwarded to the command by the main loop, so gotrace itself keeps
//! running to finish the bundle and the report.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    PENDING.store(sig, Ordering::SeqCst);
}

/// Installs the handler for SIGINT, SIGTERM, SIGHUP and SIGQUIT. Handlers
/// (unlike ignored dispositions) are reset by execve, so the command starts
/// with default signal behaviour.
pub fn install() {
    let act = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: the handler only stores to an atomic.
        let _ = unsafe { signal::sigaction(sig, &act) };
    }
}

/// The last signal received since the previous call, if any.
pub fn take() -> Option<Signal> {
    match PENDING.swap(0, Ordering::SeqCst) {
        0 => None,
        s => Signal::try_from(s).ok(),
    }
}
