//! Starting the command the way a shell would, but held at a gate until
//! every probe is attached and the capture runs, so its first syscall and
//! first packet are never missed.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;

use crate::error::TracerError;

/// Finds `cmd` like execvp(3)/a POSIX shell: a name with a `/` is used as
/// is, otherwise each PATH entry is tried. Errors mirror bash: 127 for not
/// found, 126 for found but not executable or a directory.
pub fn resolve(cmd: &str) -> Result<PathBuf, TracerError> {
    let check = |p: &Path| -> Result<PathBuf, TracerError> {
        let md = match std::fs::metadata(p) {
            Ok(md) => md,
            // bash: "No such file or directory" with status 127.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TracerError::CommandNotFound {
                    cmd: cmd.into(),
                    reason: "No such file or directory",
                })
            }
            Err(e) => {
                return Err(TracerError::NotExecutable {
                    cmd: cmd.into(),
                    reason: e.to_string(),
                })
            }
        };
        if md.is_dir() {
            return Err(TracerError::NotExecutable {
                cmd: cmd.into(),
                reason: "Is a directory".into(),
            });
        }
        if md.permissions().mode() & 0o111 == 0 {
            return Err(TracerError::NotExecutable {
                cmd: cmd.into(),
                reason: "Permission denied".into(),
            });
        }
        Ok(p.to_path_buf())
    };
    if cmd.contains('/') {
        return check(Path::new(cmd));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut denied = None;
    for dir in std::env::split_paths(&path) {
        let cand = dir.join(cmd);
        if !cand.exists() {
            continue;
        }
        match check(&cand) {
            Ok(p) => return Ok(p),
            Err(e) => denied = Some(e),
        }
    }
    Err(denied.unwrap_or_else(|| TracerError::CommandNotFound {
        cmd: cmd.into(),
        reason: "command not found",
    }))
}

/// A forked child blocked before exec.
pub struct GatedChild {
    pub pid: Pid,
    gate: OwnedFd,
    exec_err: OwnedFd,
    /// Read end of the child's stderr.
    pub stderr: OwnedFd,
    cmd: String,
}

/// Forks a child that waits for [`GatedChild::release`] and then execs
/// `path` with `argv` (argv[0] as given) and gotrace's environment. Its
/// stderr goes to a pipe so it can be passed through and kept.
pub fn spawn_gated(path: &Path, argv: &[String]) -> Result<GatedChild, TracerError> {
    let sys = |what: &str| {
        let w = what.to_string();
        move |e: nix::Error| TracerError::sys(w, std::io::Error::from(e))
    };
    // Everything the child needs is allocated before fork: after it, only
    // async-signal-safe calls (read, dup2, execv, write, _exit).
    let c_path =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| TracerError::NotExecutable {
            cmd: argv[0].clone(),
            reason: "path contains a NUL byte".into(),
        })?;
    let c_args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(OsStr::new(a).as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| TracerError::NotExecutable {
            cmd: argv[0].clone(),
            reason: "argument contains a NUL byte".into(),
        })?;
    let mut c_argv: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    c_argv.push(std::ptr::null());

    let (gate_r, gate_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    let (se_r, se_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe"))?;

    // SAFETY: the child branch only makes async-signal-safe calls and exits.
    match unsafe { nix::unistd::fork() }.map_err(sys("fork"))? {
        nix::unistd::ForkResult::Child => unsafe {
            libc::dup2(se_w.as_raw_fd(), 2);
            let mut b = [0u8; 1];
            if libc::read(gate_r.as_raw_fd(), b.as_mut_ptr().cast(), 1) != 1 {
                // gotrace gave up before releasing us (e.g. probes failed).
                libc::_exit(125);
            }
            libc::execv(c_path.as_ptr(), c_argv.as_ptr());
            let errno = *libc::__errno_location();
            libc::write(err_w.as_raw_fd(), (&errno as *const i32).cast(), 4);
            libc::_exit(if errno == libc::ENOENT { 127 } else { 126 });
        },
        nix::unistd::ForkResult::Parent { child } => Ok(GatedChild {
            pid: child,
            gate: gate_w,
            exec_err: err_r,
            stderr: se_r,
            cmd: argv[0].clone(),
        }),
    }
}

impl GatedChild {
    /// Lets the child exec; returns once the exec succeeded, or the exec
    /// error (the child then exits 126/127 on its own).
    pub fn release(self) -> Result<(Pid, OwnedFd), TracerError> {
        let GatedChild {
            pid,
            gate,
            exec_err,
            stderr,
            cmd,
        } = self;
        nix::unistd::write(&gate, &[1])
            .map_err(|e| TracerError::sys("releasing the command", e.into()))?;
        drop(gate);
        // The error pipe is CLOEXEC: EOF means exec succeeded.
        let mut b = [0u8; 4];
        let mut f = std::fs::File::from(exec_err);
        match std::io::Read::read(&mut f, &mut b) {
            Ok(4) => {
                let e = std::io::Error::from_raw_os_error(i32::from_ne_bytes(b));
                let _ = nix::sys::wait::waitpid(pid, None);
                Err(TracerError::NotExecutable {
                    cmd,
                    reason: e.to_string(),
                })
            }
            _ => Ok((pid, stderr)),
        }
    }
}

/// Makes `fd` a File (for the stderr pass-through thread).
pub fn into_file(fd: OwnedFd) -> std::fs::File {
    // SAFETY: ownership moves from the OwnedFd into the File.
    unsafe { std::fs::File::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(fd)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "data").unwrap();

        assert_eq!(resolve(exe.to_str().unwrap()).unwrap(), exe);
        assert_eq!(resolve("sh").unwrap().file_name().unwrap(), "sh");
        let nf = resolve("gotrace-no-such-command-xyz").unwrap_err();
        assert_eq!(
            (
                nf.exit_code(),
                nf.to_string().ends_with("command not found")
            ),
            (127, true)
        );
        let missing = resolve("/nonexistent/cmd").unwrap_err();
        assert_eq!(missing.exit_code(), 127);
        assert!(missing.to_string().contains("No such file or directory"));
        let denied = resolve(plain.to_str().unwrap()).unwrap_err();
        assert_eq!(
            (
                denied.exit_code(),
                denied.to_string().contains("Permission denied")
            ),
            (126, true)
        );
        let isdir = resolve(dir.path().to_str().unwrap()).unwrap_err();
        assert_eq!(
            (
                isdir.exit_code(),
                isdir.to_string().contains("Is a directory")
            ),
            (126, true)
        );
    }
}
