//! Runs one command and measures it the way `time -v` does: wall time
//! around spawn and reap, and the child's own CPU time and peak resident
//! set from `wait4` (getrusage(2) semantics for the reaped child).

use std::ffi::OsString;
use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One run of one command.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Wall time from spawn to reap.
    pub wall: Duration,
    /// User CPU time of the child (and of children it reaped).
    pub user: Duration,
    /// System CPU time of the child (and of children it reaped).
    pub sys: Duration,
    /// Peak resident set size (bytes; `ru_maxrss` is in KiB on Linux).
    pub max_rss_bytes: u64,
    /// Exit code, or 128 + signal number when killed.
    pub status: i32,
}

impl Sample {
    /// User + system CPU time.
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// Runs `argv` with stdout and stderr sent to the given files and stdin
/// from /dev/null, and reaps it with `wait4`.
///
/// # Errors
/// When the command cannot be started or reaped (the message names it).
pub fn run(argv: &[OsString], stdout: File, stderr: File) -> Result<Sample, String> {
    let shown = argv
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let (program, args) = argv.split_first().ok_or("internal: empty command line")?;
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start `{shown}`: {e}"))?;
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| format!("`{shown}`: pid {} out of range", child.id()))?;
    // Reaped here, not by `Child::wait`, to get its rusage; `Child` does not
    // wait on drop.
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; both out-pointers are valid.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waiting for `{shown}` (pid {pid}): {e}"));
        }
    }
    let wall = start.elapsed();
    drop(child);
    let status = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    };
    Ok(Sample {
        wall,
        user: timeval(ru.ru_utime),
        sys: timeval(ru.ru_stime),
        max_rss_bytes: u64::try_from(ru.ru_maxrss).unwrap_or(0) * 1024,
        status,
    })
}

fn timeval(t: libc::timeval) -> Duration {
    let s = u64::try_from(t.tv_sec).unwrap_or(0);
    let us = u32::try_from(t.tv_usec).unwrap_or(0);
    Duration::from_secs(s) + Duration::from_micros(u64::from(us))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn null() -> File {
        File::create("/dev/null").unwrap()
    }

    #[test]
    fn exit_status_and_rusage_of_the_child() {
        let argv: Vec<OsString> = ["sh", "-c", "exit 3"].iter().map(OsString::from).collect();
        let s = run(&argv, null(), null()).unwrap();
        assert_eq!(s.status, 3);
        assert!(s.max_rss_bytes > 0, "ru_maxrss is reported");
        let argv = vec![OsString::from("/nonexistent/gotrace-bench-no-such-program")];
        let e = run(&argv, null(), null()).unwrap_err();
        assert!(e.contains("cannot start"), "{e}");
    }
}
