//! Running child commands and finding the build outputs.

use std::path::PathBuf;
use std::process::Command;

/// Runs `cmd` with inherited stdio; Err names it when it fails or cannot start.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

/// True when `program` runs and exits 0 with `arg` (e.g. `--version`).
pub fn works(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// stdout of `program args...`, when it runs and succeeds.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The cargo to call: the one running us (`$CARGO`), else `cargo` on PATH.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The main workspace's target dir (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                gotrace_e2e::workspace_root().join(d)
            }
        }
        _ => gotrace_e2e::workspace_root().join("target"),
    }
}

/// Where `cargo xtask build` puts the gotrace binary.
pub fn gotrace_bin() -> PathBuf {
    target_dir().join("release/gotrace")
}
