//! `stopwatch OUT -- CMD [ARGS...]`: the traced program's own cost, taken
//! the same way under every tracer: CLOCK_MONOTONIC before the fork and
//! after the reap, and wait4(2)'s rusage of CMD (its own CPU time and peak
//! RSS together with those of the descendants it waited for, getrusage(2)).
//! Exits with CMD's status (128 + N for a signal).

use std::process::{Command, ExitCode};

use crate::report;

/// CLOCK_MONOTONIC, ns (the clock of gotrace's event timestamps).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Microseconds of a `timeval`.
fn us(tv: libc::timeval) -> u64 {
    tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64
}

pub fn run(argv: &[String]) -> ExitCode {
    match measure(argv) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("bench-load stopwatch: {e}");
            ExitCode::from(125)
        }
    }
}

fn measure(argv: &[String]) -> Result<u8, String> {
    let (out, cmd) = match argv {
        [out, sep, cmd @ ..] if sep == "--" && !cmd.is_empty() => (out, cmd),
        _ => return Err("usage: stopwatch OUT -- CMD [ARGS...]".into()),
    };
    let start = monotonic_ns();
    let child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .spawn()
        .map_err(|e| format!("starting {}: {e}", cmd[0]))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: all-zero is a valid rusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: our own child; valid pointers.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if rc == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waiting for {}: {e}", cmd[0]));
        }
    }
    let end = monotonic_ns();
    // `child` is reaped already; dropping it does not wait again.
    drop(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    report::write(
        std::path::Path::new(out),
        &[
            ("start_ns", start.to_string()),
            ("end_ns", end.to_string()),
            ("wall_ns", (end - start).to_string()),
            ("cpu_us", (us(ru.ru_utime) + us(ru.ru_stime)).to_string()),
            ("maxrss_kb", ru.ru_maxrss.to_string()),
            ("status", code.to_string()),
        ],
    )?;
    Ok(code as u8)
}
