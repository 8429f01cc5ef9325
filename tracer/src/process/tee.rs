//! The command's stderr pass-through, in a small process of its own.
//!
//! `gotrace run` keeps what the command writes to stderr (stderr.log) and
//! passes it on to gotrace's own stderr. The command's fd 2 must be a pipe
//! for that, and a pipe whose reader is gone kills the writer with SIGPIPE
//! (pipe(7)): if gotrace itself read it, a SIGKILLed gotrace would take the
//! command down at its next write to stderr. Ignoring SIGPIPE in the
//! command is no fix: it would change the program being traced (and Go
//! exits on EPIPE to fd 2 anyway).
//!
//! So the reader is a helper process forked before anything else is set
//! up (it holds no eBPF program or link), holding only the pipe, gotrace's
//! stderr and stderr.log (every other fd is closed with close_range(2)).
//! It ignores the terminal's signals (Ctrl-C reaches the whole foreground
//! process group, and the command decides for itself what SIGINT means),
//! copies until EOF, that is until the command and every process that
//! inherited its stderr have closed it, whether or not gotrace is still
//! alive, then reports what it copied on a status pipe and exits.
//! It runs as the command's user when gotrace switches users.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

use crate::error::TracerError;
use crate::process::user::RunAs;

/// What the helper reports at EOF: bytes read from the pipe, bytes in
/// stderr.log, and the errno of the first failed write to it (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TeeReport {
    /// Bytes the command (and its children) wrote to stderr.
    pub read: u64,
    /// Bytes of them in stderr.log.
    pub logged: u64,
    /// errno of the first failed write to stderr.log, 0 if none failed.
    pub log_errno: i32,
}

const REPORT_LEN: usize = 20;

impl TeeReport {
    fn to_bytes(self) -> [u8; REPORT_LEN] {
        let mut b = [0u8; REPORT_LEN];
        b[..8].copy_from_slice(&self.read.to_ne_bytes());
        b[8..16].copy_from_slice(&self.logged.to_ne_bytes());
        b[16..].copy_from_slice(&self.log_errno.to_ne_bytes());
        b
    }

    fn from_bytes(b: &[u8; REPORT_LEN]) -> TeeReport {
        let u = |r: std::ops::Range<usize>| u64::from_ne_bytes(b[r].try_into().unwrap_or([0; 8]));
        TeeReport {
            read: u(0..8),
            logged: u(8..16),
            log_errno: i32::from_ne_bytes(b[16..].try_into().unwrap_or([0; 4])),
        }
    }

    /// Counts one chunk of `len` bytes and the result of writing it to
    /// stderr.log; after the first failure nothing more is logged.
    pub fn count(&mut self, len: usize, logged: Result<(), i32>) {
        self.read += len as u64;
        match logged {
            Ok(()) if self.log_errno == 0 => self.logged += len as u64,
            Ok(()) => {}
            Err(errno) => self.log_errno = errno,
        }
    }

    /// Whether stderr.log still takes writes.
    pub fn logging(&self) -> bool {
        self.log_errno == 0
    }

    /// The warning for meta.json when stderr.log is short of what the
    /// command wrote, naming the file, the error and the bytes lost.
    pub fn warning(&self) -> Option<String> {
        if self.log_errno == 0 {
            return None;
        }
        let e = std::io::Error::from_raw_os_error(self.log_errno);
        Some(format!(
            "stderr.log: writing failed after {} bytes ({e}): the last {} of the {} bytes the command wrote to stderr are not in it (they still reached its stderr)",
            self.logged,
            self.read - self.logged,
            self.read
        ))
    }
}

/// A running helper. [`Tee::command_stderr`] is the pipe end the command
/// gets as its fd 2; [`Tee::finish`] waits for the helper's report.
pub struct Tee {
    pid: Pid,
    status: File,
    writer: Option<OwnedFd>,
    /// [`Tee::finish`] ran.
    finished: bool,
}

/// Starts the helper copying what arrives on a new pipe to gotrace's
/// stderr and to `log` (none: pass-through only). With `run_as` the helper
/// takes that identity (setgroups, setgid, setuid) once its files are open.
///
/// Errors: [`TracerError::Sys`] for pipe(2)/fork(2).
pub fn start(log: Option<File>, run_as: Option<&RunAs>) -> Result<Tee, TracerError> {
    let sys = |what: &'static str| move |e: nix::Error| TracerError::sys(what, e.into());
    let (pipe_r, pipe_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe for stderr"))?;
    let (status_r, status_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe for stderr"))?;
    let creds: Option<(Vec<libc::gid_t>, libc::gid_t, libc::uid_t)> = run_as.map(|r| {
        (
            r.groups.iter().map(|g| g.as_raw()).collect(),
            r.gid.as_raw(),
            r.uid.as_raw(),
        )
    });
    let log_fd = log.as_ref().map_or(-1, AsRawFd::as_raw_fd);
    // SAFETY: the child only makes async-signal-safe calls and exits.
    match unsafe { nix::unistd::fork() }.map_err(sys("fork for stderr"))? {
        nix::unistd::ForkResult::Child => unsafe {
            let keep = [2, pipe_r.as_raw_fd(), log_fd, status_w.as_raw_fd()];
            helper(keep, creds.as_ref())
        },
        nix::unistd::ForkResult::Parent { child } => Ok(Tee {
            pid: child,
            status: File::from(status_r),
            writer: Some(pipe_w),
            finished: false,
        }),
    }
}

/// The helper process: `keep` is [stderr, pipe, log or -1, status pipe].
///
/// # Safety
/// Only in the child of fork(2): async-signal-safe calls only.
unsafe fn helper(
    keep: [RawFd; 4],
    creds: Option<&(Vec<libc::gid_t>, libc::gid_t, libc::uid_t)>,
) -> ! {
    let [out, pipe, log, status] = keep;
    for sig in [
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGPIPE,
    ] {
        libc::signal(sig, libc::SIG_IGN);
    }
    close_all_but(&keep);
    if let Some((groups, gid, uid)) = creds {
        // Failing leaves it root, which only copies bytes between its fds.
        if libc::setgroups(groups.len(), groups.as_ptr()) == 0 && libc::setgid(*gid) == 0 {
            libc::setuid(*uid);
        }
    }
    let mut report = TeeReport::default();
    let mut to_out = true;
    let mut buf = [0u8; 16384];
    loop {
        let n = libc::read(pipe, buf.as_mut_ptr().cast(), buf.len());
        if n == 0 {
            break;
        }
        if n < 0 {
            if *libc::__errno_location() == libc::EINTR {
                continue;
            }
            break;
        }
        let chunk = &buf[..n as usize];
        to_out = to_out && write_all(out, chunk).is_ok();
        let logged = match log >= 0 && report.logging() {
            true => write_all(log, chunk),
            false => Ok(()),
        };
        report.count(chunk.len(), logged);
    }
    let bytes = report.to_bytes();
    let _ = write_all(status, &bytes);
    libc::_exit(0)
}

/// write(2) until all of `buf` is written; the errno otherwise.
unsafe fn write_all(fd: RawFd, mut buf: &[u8]) -> Result<(), i32> {
    while !buf.is_empty() {
        let n = libc::write(fd, buf.as_ptr().cast(), buf.len());
        if n < 0 {
            let errno = *libc::__errno_location();
            if errno == libc::EINTR {
                continue;
            }
            return Err(errno);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// Closes every fd but those in `keep` (-1 entries ignored), including 0
/// and 1: the helper must not hold gotrace's stdout open after it.
unsafe fn close_all_but(keep: &[RawFd]) {
    let mut k: [RawFd; 4] = [-1; 4];
    for (slot, fd) in k.iter_mut().zip(keep) {
        *slot = *fd;
    }
    k.sort_unstable();
    let mut next: libc::c_uint = 0;
    for fd in k.into_iter().filter(|fd| *fd >= 0) {
        let fd = fd as libc::c_uint;
        if fd > next {
            libc::syscall(libc::SYS_close_range, next, fd - 1, 0);
        }
        next = fd + 1;
    }
    libc::syscall(libc::SYS_close_range, next, libc::c_uint::MAX, 0);
}

impl Tee {
    /// The pipe end to give the command as its stderr.
    pub fn command_stderr(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.writer.as_ref().map(|w| w.as_fd())
    }

    /// Closes gotrace's copy of the pipe's write end (call once the
    /// command has its own), so EOF comes when the command's side closes.
    pub fn close_writer(&mut self) {
        self.writer = None;
    }

    /// Waits up to `wait` for the helper's report (it comes at EOF) and
    /// reaps it. `None`: the stderr pipe was still open then (a background
    /// process holds it); the helper copies on alone and exits at EOF.
    pub fn finish(mut self, wait: Duration) -> Option<TeeReport> {
        self.close_writer();
        self.finished = true;
        let report = self.read_report(wait);
        if report.is_some() {
            let _ = waitpid(self.pid, None);
        }
        report
    }

    fn read_report(&mut self, wait: Duration) -> Option<TeeReport> {
        use std::os::fd::AsFd;
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [nix::poll::PollFd::new(
            self.status.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(n) if n > 0 => {}
            _ => return None,
        }
        let mut b = [0u8; REPORT_LEN];
        self.status.read_exact(&mut b).ok()?;
        Some(TeeReport::from_bytes(&b))
    }
}

/// On a failure before the command ran: once gotrace's copy is closed
/// and the held child is gone, the helper sees EOF at once; reap it.
impl Drop for Tee {
    fn drop(&mut self) {
        if !self.finished {
            self.close_writer();
            // The report comes right before its _exit.
            let flag = match self.read_report(Duration::from_secs(1)) {
                Some(_) => None,
                None => Some(WaitPidFlag::WNOHANG),
            };
            let _ = waitpid(self.pid, flag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_crosses_the_pipe_and_names_what_was_lost() {
        let mut r = TeeReport::default();
        r.count(40, Ok(()));
        r.count(50, Err(libc::ENOSPC));
        assert!(!r.logging());
        r.count(10, Ok(()));
        assert_eq!((r.read, r.logged, r.log_errno), (100, 40, libc::ENOSPC));
        assert_eq!(TeeReport::from_bytes(&r.to_bytes()), r);
        let w = r.warning().unwrap();
        assert!(
            w.starts_with("stderr.log: writing failed after 40 bytes (")
                && w.contains("the last 60 of the 100 bytes"),
            "{w}"
        );
        assert_eq!(TeeReport::default().warning(), None);
    }

    #[test]
    fn the_helper_copies_to_the_log_until_eof() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("stderr.log");
        let log = File::create(&path).unwrap();
        let tee = start(Some(log), None).unwrap();
        let w = tee.command_stderr().unwrap().try_clone_to_owned().unwrap();
        nix::unistd::write(&w, b"hello ").unwrap();
        nix::unistd::write(&w, b"world\n").unwrap();
        drop(w);
        let report = tee.finish(Duration::from_secs(5)).expect("a report at EOF");
        assert_eq!((report.read, report.logged, report.log_errno), (12, 12, 0));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello world\n");
    }
}
