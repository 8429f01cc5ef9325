//! A pidfd (pidfd_open(2), Linux >= 5.3): a file descriptor that becomes
//! readable when the process exits, so the recording loop wakes on the
//! traced command's exit instead of finding it at its next poll period.

use std::os::fd::{FromRawFd, OwnedFd};

/// A pidfd for `pid`; it also holds the process's identity (a recycled
/// PID is another process).
///
/// Errors: ESRCH (no such process), ENOSYS (Linux < 5.3), EMFILE.
pub fn open(pid: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    #[test]
    fn it_becomes_readable_when_the_process_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let fd = super::open(child.id()).expect("pidfd_open on Linux >= 5.3");
        let mut pfd = [libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd.
        assert_eq!(
            unsafe { libc::poll(pfd.as_mut_ptr(), 1, 0) },
            0,
            "readable before the exit"
        );
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::poll(pfd.as_mut_ptr(), 1, 5000) },
            1,
            "not readable after the exit"
        );
        child.wait().unwrap();
    }
}
