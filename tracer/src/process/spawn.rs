//! Starting the command the way a shell would, but held at a gate until
//! every probe is attached and the capture runs, so its first syscall and
//! first packet are never missed.
//!
//! Until it execs, the child holds a copy of every fd gotrace has, eBPF
//! programs and links included (they are close-on-exec, so exec drops
//! them): a child stuck before exec would keep the probes attached
//! system-wide. So it never outlives gotrace there: it asks for SIGKILL
//! when its parent dies (PR_SET_PDEATHSIG, prctl(2); the parent is the
//! thread that forked it, gotrace's main thread, whose exit is the
//! process's) and checks that the parent did not die before that; it
//! closes its copy of the gate's write end, so gotrace giving up is an
//! EOF; and [`GatedChild`] kills and reaps it when dropped unreleased.
//! The release has two steps: after the first the child clears the death
//! signal (the command itself outlives a killed gotrace, like any program
//! whose tracer went away) and waits for the second, which gotrace sends
//! once it has announced the command (the ready file); an EOF instead
//! makes the child exit.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;

use crate::error::TracerError;
use crate::process::user::RunAs;

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

/// A forked child blocked before exec. Dropped without
/// [`GatedChild::release`] (any failure of the setup), it is killed and
/// reaped.
pub struct GatedChild {
    pub pid: Pid,
    /// `None` once released.
    gate: Option<OwnedFd>,
    exec_err: std::fs::File,
    cmd: String,
    /// Who the child becomes, for error messages.
    user: Option<String>,
}

/// What the child reports on the error pipe, with the errno: the step that
/// failed before exec could replace it.
const STEP_EXEC: i32 = 0;
const STEP_SETGROUPS: i32 = 1;
const STEP_SETGID: i32 = 2;
const STEP_SETUID: i32 = 3;

/// Forks a child that waits for [`GatedChild::release`] and then execs
/// `path` with `argv` (argv[0] as given) and gotrace's environment. With
/// `run_as` it first takes that identity (setgroups, setgid, setuid, in that
/// order: credentials(7)) and gets its HOME, USER and LOGNAME. Its stderr
/// is `stderr` (the pass-through's pipe, see `tee`). Its signal
/// dispositions are a shell's: gotrace's handlers are reset by execve, and
/// SIGPIPE, which Rust's runtime ignores in gotrace (an ignored signal
/// stays ignored across execve), is set back to SIG_DFL as
/// std::process::Command does.
pub fn spawn_gated(
    path: &Path,
    argv: &[String],
    run_as: Option<&RunAs>,
    stderr: std::os::fd::BorrowedFd<'_>,
) -> Result<GatedChild, TracerError> {
    let sys = |what: &str| {
        let w = what.to_string();
        move |e: nix::Error| TracerError::sys(w, std::io::Error::from(e))
    };
    // Everything the child needs is allocated before fork: after it, only
    // async-signal-safe calls (read, dup2, setgroups, setgid, setuid,
    // execve, write, _exit).
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
    let overrides = run_as.map(|r| r.env.as_slice()).unwrap_or_default();
    let c_env = envp(std::env::vars_os(), overrides);
    let mut c_envp: Vec<*const libc::c_char> = c_env.iter().map(|e| e.as_ptr()).collect();
    c_envp.push(std::ptr::null());
    let creds: Option<(Vec<libc::gid_t>, libc::gid_t, libc::uid_t)> = run_as.map(|r| {
        (
            r.groups.iter().map(|g| g.as_raw()).collect(),
            r.gid.as_raw(),
            r.uid.as_raw(),
        )
    });

    let (gate_r, gate_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe"))?;
    let parent = nix::unistd::getpid().as_raw();

    // SAFETY: the child branch only makes async-signal-safe calls and exits.
    match unsafe { nix::unistd::fork() }.map_err(sys("fork"))? {
        nix::unistd::ForkResult::Child => unsafe {
            // Before anything can block: dead parent, dead child.
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            if libc::getppid() != parent {
                libc::_exit(125);
            }
            libc::close(gate_w.as_raw_fd());
            for sig in [
                libc::SIGINT,
                libc::SIGTERM,
                libc::SIGHUP,
                libc::SIGQUIT,
                libc::SIGPIPE,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            let err_fd = err_w.as_raw_fd();
            libc::dup2(stderr.as_raw_fd(), 2);
            let mut b = [0u8; 1];
            if libc::read(gate_r.as_raw_fd(), b.as_mut_ptr().cast(), 1) != 1 {
                // gotrace gave up before releasing us (e.g. probes failed).
                libc::_exit(125);
            }
            if let Some((groups, gid, uid)) = &creds {
                if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
                    fail_in_child(err_fd, STEP_SETGROUPS);
                }
                if libc::setgid(*gid) != 0 {
                    fail_in_child(err_fd, STEP_SETGID);
                }
                if libc::setuid(*uid) != 0 {
                    fail_in_child(err_fd, STEP_SETUID);
                }
            }
            // The command is not gotrace's to take down (setuid already
            // cleared it when switching users). Cleared before the second
            // byte: once gotrace has said the command runs (the ready
            // file), killing gotrace must not kill it; gotrace giving up
            // before that second byte is an EOF here, and the child leaves.
            libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0);
            if libc::read(gate_r.as_raw_fd(), b.as_mut_ptr().cast(), 1) != 1 {
                libc::_exit(125);
            }
            libc::execve(c_path.as_ptr(), c_argv.as_ptr(), c_envp.as_ptr());
            fail_in_child(err_fd, STEP_EXEC);
        },
        nix::unistd::ForkResult::Parent { child } => Ok(GatedChild {
            pid: child,
            gate: Some(gate_w),
            exec_err: std::fs::File::from(err_r),
            cmd: argv[0].clone(),
            user: run_as.map(RunAs::display),
        }),
    }
}

/// In the forked child: tells the parent on `fd` which step failed and with
/// which errno, then exits (127 for a missing program, as a shell does).
/// Async-signal-safe: write(2) and _exit(2) on a stack buffer.
unsafe fn fail_in_child(fd: std::os::fd::RawFd, step: i32) -> ! {
    let errno = *libc::__errno_location();
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&step.to_ne_bytes());
    msg[4..].copy_from_slice(&errno.to_ne_bytes());
    libc::write(fd, msg.as_ptr().cast(), msg.len());
    libc::_exit(if step == STEP_EXEC && errno == libc::ENOENT {
        127
    } else {
        126
    })
}

/// The command's environment (`NAME=value` strings for execve): `base` in
/// its order, with each of `overrides` replacing the variable of that name
/// in place, or appended when it is not set.
fn envp(
    base: impl IntoIterator<Item = (OsString, OsString)>,
    overrides: &[(&str, OsString)],
) -> Vec<CString> {
    let mut vars: Vec<(OsString, OsString)> = base.into_iter().collect();
    for (name, value) in overrides {
        match vars
            .iter_mut()
            .find(|(n, _)| n.as_bytes() == name.as_bytes())
        {
            Some(slot) => slot.1 = value.clone(),
            None => vars.push(((*name).into(), value.clone())),
        }
    }
    vars.into_iter()
        .filter_map(|(n, v)| {
            let mut kv = n.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            // The environment cannot hold a NUL byte; nothing to drop in practice.
            CString::new(kv).ok()
        })
        .collect()
}

impl GatedChild {
    /// Lets the child exec, in two steps: a first byte lets it switch
    /// users and give up its death signal, then `announce` runs (the
    /// ready file: from then on the command must outlive a killed
    /// gotrace), then a second byte lets it exec. Returns once the exec
    /// succeeded, or the error of the step that failed (the child, which
    /// then exits 126/127, is reaped; if the release or `announce` fails,
    /// the child is killed and reaped).
    pub fn release(
        mut self,
        announce: impl FnOnce() -> Result<(), TracerError>,
    ) -> Result<Pid, TracerError> {
        let pid = self.pid;
        let Some(gate) = self.gate.take() else {
            return Ok(pid);
        };
        let step = |gate: &OwnedFd| {
            nix::unistd::write(gate, &[1])
                .map(|_| ())
                .map_err(|e| TracerError::sys("releasing the command", e.into()))
        };
        if let Err(e) = step(&gate)
            .and_then(|()| announce())
            .and_then(|()| step(&gate))
        {
            self.gate = Some(gate);
            return Err(e);
        }
        drop(gate);
        // The error pipe is CLOEXEC: EOF means exec succeeded.
        let mut b = [0u8; 8];
        match std::io::Read::read_exact(&mut &self.exec_err, &mut b) {
            Ok(()) => {
                let step = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
                let e =
                    std::io::Error::from_raw_os_error(i32::from_ne_bytes([b[4], b[5], b[6], b[7]]));
                let _ = nix::sys::wait::waitpid(pid, None);
                let (cmd, user) = (self.cmd.clone(), self.user.clone());
                let call = match step {
                    STEP_SETGROUPS => "setgroups",
                    STEP_SETGID => "setgid",
                    STEP_SETUID => "setuid",
                    _ => {
                        return Err(TracerError::NotExecutable {
                            cmd,
                            reason: e.to_string(),
                        })
                    }
                };
                let hint = if e.raw_os_error() == Some(libc::EPERM) {
                    "gotrace must run as root (sudo) to run the command as another user"
                } else {
                    "check the user's ids and process limit (ulimit -u)"
                };
                Err(TracerError::SwitchUser {
                    user: user.unwrap_or_default(),
                    problem: format!("{call} failed in the command's process: {e}; {hint}"),
                })
            }
            _ => Ok(pid),
        }
    }
}

/// Unreleased: the setup failed between fork and exec. The child must not
/// linger holding gotrace's fds (its probes among them).
impl Drop for GatedChild {
    fn drop(&mut self) {
        if self.gate.take().is_some() {
            let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(self.pid, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envp_replaces_in_place_and_appends_the_rest() {
        let base = [("PATH", "/bin"), ("HOME", "/root"), ("GOPROXY", "off")]
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let env = envp(
            base.clone(),
            &[("HOME", "/home/dev".into()), ("USER", "dev".into())],
        );
        let env: Vec<&str> = env.iter().map(|c| c.to_str().unwrap()).collect();
        assert_eq!(
            env,
            ["PATH=/bin", "HOME=/home/dev", "GOPROXY=off", "USER=dev"]
        );
        let same = envp(base, &[]);
        assert_eq!(same.len(), 3);
        assert_eq!(same[1].to_str().unwrap(), "HOME=/root");
    }

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
