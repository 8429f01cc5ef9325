//! Network namespaces of traced processes: the capture must run in the
//! namespace the traced process uses, whichever one gotrace runs in
//! (namespaces(7), setns(2)).

use std::fs::File;
use std::os::fd::AsRawFd;

use crate::error::TracerError;

/// An open `/proc/PID/ns/net`, and its identity as `readlink` shows it
/// (`net:[4026532281]`).
#[derive(Debug)]
pub struct NetNs {
    file: File,
    /// `net:[inode]`.
    pub id: String,
}

impl NetNs {
    /// Opens the network namespace of process `pid`.
    ///
    /// Errors: [`TracerError::Sys`] when /proc/PID/ns/net cannot be opened
    /// (the process exited, or no CAP_SYS_PTRACE over it).
    pub fn of(pid: u32) -> Result<NetNs, TracerError> {
        Self::open(&format!("/proc/{pid}/ns/net"))
    }

    fn open(path: &str) -> Result<NetNs, TracerError> {
        let file = File::open(path).map_err(|e| TracerError::sys(format!("opening {path}"), e))?;
        let id = std::fs::read_link(path)
            .map(|p| p.display().to_string())
            .map_err(|e| TracerError::sys(format!("reading {path}"), e))?;
        Ok(NetNs { file, id })
    }

    /// Opens the network namespace of thread `tid` of process `tgid`
    /// (setns(2) moves one thread).
    pub fn of_task(tgid: u32, tid: u32) -> Result<NetNs, TracerError> {
        Self::open(&format!("/proc/{tgid}/task/{tid}/ns/net"))
    }

    /// `net:[inode]` of the calling thread's namespace ("" if unreadable).
    pub fn own_id() -> String {
        std::fs::read_link("/proc/thread-self/ns/net")
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Whether this is the namespace gotrace itself runs in.
    pub fn is_own(&self) -> bool {
        Self::own_id() == self.id
    }

    /// Moves the calling thread (only it: setns(2) with CLONE_NEWNET is
    /// per thread) into this namespace. Sockets it opens afterwards belong
    /// to the namespace for their whole life.
    pub fn enter_this_thread(&self) -> Result<(), TracerError> {
        // SAFETY: setns on a valid namespace fd; affects only this thread.
        let rc = unsafe { libc::setns(self.file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(TracerError::sys(
                format!("entering network namespace {}", self.id),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// The raw fd, for a child's pre_exec setns (async-signal-safe).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespace_is_recognised_and_a_missing_pid_is_an_error() {
        let me = NetNs::of(std::process::id()).unwrap();
        assert!(me.id.starts_with("net:["), "{}", me.id);
        assert!(me.is_own());
        let e = NetNs::of(u32::MAX).unwrap_err();
        assert!(e.to_string().contains("/proc/4294967295/ns/net"), "{e}");
    }
}
