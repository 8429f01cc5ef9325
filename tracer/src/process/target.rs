//! The running process `gotrace attach --pid N` traces: checking N is a
//! live process (a TGID, not a thread), and reading what meta.json records
//! about it from /proc/N (proc(5)).

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::error::TracerError;

/// A process to attach to, held by a pidfd so a recycled PID can never be
/// mistaken for it (pidfd_open(2), Linux >= 5.3).
pub struct Target {
    pub pid: u32,
    /// Readable once the process has exited (poll(2) on a pidfd).
    pub pidfd: OwnedFd,
    pub argv: Vec<String>,
    pub cwd: String,
    /// Real uid and gid (`Uid:`/`Gid:` of /proc/N/status).
    pub uid: u32,
    pub gid: u32,
    /// Its environment as it was at exec (/proc/N/environ), in order;
    /// `attach` keeps the Go-relevant part for meta.json.
    pub environ: Vec<(String, String)>,
}

impl Target {
    /// Opens process `pid`.
    ///
    /// Errors: [`TracerError::NoSuchProcess`], [`TracerError::IsThread`],
    /// [`TracerError::AttachSelf`], [`TracerError::Sys`] (no pidfd).
    pub fn open(pid: i64) -> Result<Target, TracerError> {
        let missing = || TracerError::NoSuchProcess { pid };
        let pid = u32::try_from(pid)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(missing)?;
        if pid == std::process::id() {
            return Err(TracerError::AttachSelf { pid });
        }
        // /proc/TID exists for threads too (unlisted); its Tgid tells them apart.
        let status =
            std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|_| missing())?;
        let field = |name: &str| -> Option<u32> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        };
        let tgid = field("Tgid:").ok_or_else(missing)?;
        if tgid != pid {
            return Err(TracerError::IsThread { tid: pid, tgid });
        }
        let pidfd = match crate::process::pidfd::open(pid) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(missing()),
            Err(e) => return Err(TracerError::sys(format!("pidfd_open({pid})"), e)),
        };
        let argv = argv_of(pid);
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        Ok(Target {
            pid,
            pidfd,
            argv,
            cwd: std::fs::read_link(format!("/proc/{pid}/cwd"))
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            uid: field("Uid:").unwrap_or(0),
            gid: field("Gid:").unwrap_or(0),
            environ: nul_separated(&environ)
                .into_iter()
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_string(), v.to_string()))
                })
                .collect(),
        })
    }

    /// Whether the process has exited (its pidfd polls readable).
    pub fn exited(&self) -> bool {
        use std::os::fd::AsFd;
        let mut fds = [nix::poll::PollFd::new(
            self.pidfd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
    }

    /// Its /etc/resolv.conf, reached through its root and mount namespace
    /// (`ip netns exec` bind-mounts /etc/netns/NAME/resolv.conf there).
    pub fn resolv_conf_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/etc/resolv.conf", self.pid))
    }
}

/// The command line; empty for a moment while the process execs (the new
/// image's arguments are not mapped yet), so retried briefly, then `[comm]`
/// as ps(1) shows processes without one.
fn argv_of(pid: u32) -> Vec<String> {
    for _ in 0..10 {
        let argv =
            nul_separated(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default());
        if !argv.is_empty() {
            return argv;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    vec![format!("[{}]", comm.trim())]
}

/// `a\0b\0` -> ["a", "b"] (cmdline and environ; lossy UTF-8).
fn nul_separated(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pids_get_their_own_errors() {
        let codes = |pid: i64| {
            Target::open(pid)
                .err()
                .map(|e| (e.exit_code(), e.to_string()))
        };
        for pid in [0, -1, i64::from(u32::MAX) + 1, 4_194_304 + 7] {
            let (code, msg) = codes(pid).expect("must fail");
            assert_eq!(code, 66, "{pid}: {msg}");
            assert!(msg.contains(&format!("no process with PID {pid}")), "{msg}");
        }
        let (code, msg) = codes(i64::from(std::process::id())).unwrap();
        assert_eq!(
            (code, msg.contains("this gotrace process")),
            (64, true),
            "{msg}"
        );
    }

    #[test]
    fn a_thread_is_refused_naming_its_process() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            tx.send(nix::unistd::gettid().as_raw()).unwrap();
            let _ = stop_rx.recv();
        });
        let tid = rx.recv().unwrap();
        let e = Target::open(i64::from(tid))
            .err()
            .expect("a thread must be refused");
        drop(stop_tx);
        t.join().unwrap();
        assert_eq!(e.exit_code(), 64);
        assert!(
            e.to_string()
                .contains(&format!("is a thread of process {}", std::process::id())),
            "{e}"
        );
    }

    #[test]
    fn a_child_is_read_and_its_exit_is_seen() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("GOPROXY", "http://198.18.0.2:8080")
            .spawn()
            .unwrap();
        let t = Target::open(i64::from(child.id())).unwrap();
        assert_eq!(t.argv, ["sleep", "30"]);
        assert!(
            t.environ
                .iter()
                .any(|(k, v)| k == "GOPROXY" && v == "http://198.18.0.2:8080"),
            "{:?}",
            t.environ
        );
        assert!(!t.exited());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(t.exited());
    }

    #[test]
    fn nul_separated_lists_skip_empty_entries_and_keep_bad_utf8() {
        assert_eq!(nul_separated(b"go\0mod\0tidy\0"), ["go", "mod", "tidy"]);
        assert_eq!(nul_separated(b"a\0\0b"), ["a", "b"]);
        assert!(nul_separated(b"").is_empty());
        assert_eq!(nul_separated(b"x\xff\0"), ["x\u{fffd}"]);
    }
}
