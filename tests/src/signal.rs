//! Keeping a lab owner alive through Ctrl-C so its Drop can tear the lab
//! down: the foreground child (go, gotrace) gets the signal and exits, and
//! then the owner cleans up instead of dying with namespaces left behind.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// True once SIGINT, SIGTERM or SIGHUP arrived after [`survive_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Replaces the default action of SIGINT, SIGTERM and SIGHUP with a handler
/// that only records the signal. Unlike SIG_IGN a handler is reset by
/// exec, so children still get the default action.
pub fn survive_interrupts() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler is async-signal-safe (one atomic store).
        unsafe {
            libc::signal(
                sig,
                note_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}
