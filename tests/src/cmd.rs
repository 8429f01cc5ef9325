//! Running the setup commands (`ip`, `sysctl`, ...) and checking they worked.

use std::process::{Command, Output};

use crate::LabError;

/// Runs `program args...`, returns its output, and fails with its stderr
/// when it exits non-zero.
pub fn run(program: &str, args: &[&str]) -> Result<Output, LabError> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            LabError::MissingTool(program.to_string())
        } else {
            LabError::Io {
                what: "running",
                path: program.into(),
                source: e,
            }
        }
    })?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(LabError::Command {
            cmd: format!("{program} {}", args.join(" ")),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Runs `program args...` inside network namespace `ns` (`ip netns exec`).
pub fn run_in(ns: &str, program: &str, args: &[&str]) -> Result<Output, LabError> {
    let mut full = vec!["netns", "exec", ns, program];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// True when `program` can be found on PATH (or is an existing path).
pub fn have(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).exists();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].iter().map(Into::into))
        .any(|dir| dir.join(program).is_file())
}

/// True when the process runs as root (the lab's precondition).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `ip` by absolute path: lab commands may run with a PATH that holds
/// only `go`, and Command looks the program up on the child's PATH.
pub fn ip_program() -> &'static str {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("ip")
}
