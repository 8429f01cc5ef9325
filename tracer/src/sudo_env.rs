//! Go settings that sudo may have dropped: under `sudo gotrace run`,
//! sudo's `env_reset` (on by default, sudoers(5)) runs gotrace with a
//! minimal environment, so GOPROXY, GOPRIVATE, GOFLAGS and the proxy
//! variables the user set are gone and Go silently uses its defaults. When
//! none of them is left, gotrace says so, shows what Go then used (`go env`
//! as the user, which still sees `go env -w` settings in the user's
//! config), and how to keep them.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::user::RunAs;

/// The variables whose absence under sudo triggers the warning: those
/// `env_reset` removes that decide where Go fetches from. The proxy
/// variables count in either case (Go reads both).
pub const WATCHED: &[&str] = &[
    "GOPROXY",
    "GOPRIVATE",
    "GONOSUMDB",
    "GOFLAGS",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
];

/// What `go env` is asked for.
const QUERIED: &[&str] = &["GOPROXY", "GOPRIVATE", "GONOSUMDB", "GOFLAGS"];

/// How long `go env` may take before it is killed.
const GO_ENV_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether to warn: `SUDO_UID` is set (sudo(8) sets it) and none of
/// [`WATCHED`] is in `env` (set, even to an empty value, counts as there:
/// the user chose it).
pub fn env_reset_suspected<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    let mut sudo = false;
    for (k, _) in env {
        if WATCHED.contains(&k) {
            return false;
        }
        sudo |= k == "SUDO_UID";
    }
    sudo
}

/// The warning, for stderr and meta.json: what may have happened, what Go
/// used (`go_env`: the values, or why they could not be read), and the fix.
pub fn warning(go_env: &Result<BTreeMap<String, String>, String>) -> String {
    let used = match go_env {
        Ok(values) => {
            let shown: Vec<String> = QUERIED
                .iter()
                .map(|k| format!("{k}={}", values.get(*k).map_or("", String::as_str)))
                .collect();
            format!("Go then used {} (`go env`, as the user)", shown.join(" "))
        }
        Err(why) => format!("what Go then used is unknown: `go env` as the user failed: {why}"),
    };
    format!(
        "running under sudo with none of {} set: sudo's env_reset (sudoers(5)) may have removed them; {used}. To keep yours: sudo --preserve-env={} gotrace run ..., or sudo env GOPROXY=... gotrace run ...",
        WATCHED[..7].join(", "),
        WATCHED[..7].join(","),
    )
}

/// Runs `go env -json GOPROXY GOPRIVATE GONOSUMDB GOFLAGS` as the command
/// would run: as `run_as` (uid, gid; no supplementary groups) with its
/// HOME, USER and LOGNAME, in `/` (no go.mod there to load), with
/// `GOTOOLCHAIN=local` (never a toolchain download). `go` is the traced
/// command's own when it is one (`go_path`), else the first in PATH.
/// Errors are one-line texts for the warning.
pub fn query(
    go_path: Option<&Path>,
    run_as: Option<&RunAs>,
) -> Result<BTreeMap<String, String>, String> {
    let go = match go_path {
        Some(p) => p.to_path_buf(),
        None => crate::process::spawn::resolve("go").map_err(|e| e.to_string())?,
    };
    let mut cmd = Command::new(&go);
    cmd.arg("env")
        .arg("-json")
        .args(QUERIED)
        .current_dir("/")
        .env("GOTOOLCHAIN", "local")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(u) = run_as {
        // std drops the supplementary groups when root sets a uid.
        cmd.uid(u.uid.as_raw()).gid(u.gid.as_raw());
        for (k, v) in &u.env {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", go.display()))?;
    let deadline = Instant::now() + GO_ENV_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "it did not finish in {} s",
                    GO_ENV_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for it: {e}")),
        }
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    // Bounded: `go env` prints a few hundred bytes.
    let _ = child
        .stdout
        .take()
        .map(|s| s.take(64 << 10).read_to_end(&mut out));
    let _ = child
        .stderr
        .take()
        .map(|s| s.take(64 << 10).read_to_end(&mut err));
    if !status.success() {
        let first = String::from_utf8_lossy(&err);
        return Err(format!(
            "{status}: {}",
            first.lines().next().unwrap_or("").trim()
        ));
    }
    serde_json::from_slice(&out).map_err(|e| format!("its output is not the expected JSON: {e}"))
}

/// The `go` binary the traced command runs, when its argv[0] names one.
pub fn command_go(argv0: &str, resolved: &Path) -> Option<PathBuf> {
    (Path::new(argv0).file_name() == Some(std::ffi::OsStr::new("go")))
        .then(|| resolved.to_path_buf())
}

/// The environment as (name, value) text pairs, for [`env_reset_suspected`].
pub fn current_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .map(|(k, v): (OsString, OsString)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suspected(env: &[(&str, &str)]) -> bool {
        env_reset_suspected(env.iter().copied())
    }

    #[test]
    fn only_sudo_without_any_go_setting_warns() {
        assert!(suspected(&[
            ("SUDO_UID", "1000"),
            ("PATH", "/usr/bin"),
            ("HOME", "/root")
        ]));
        assert!(!suspected(&[("PATH", "/usr/bin")]), "not under sudo");
        for k in WATCHED {
            assert!(!suspected(&[("SUDO_UID", "1000"), (k, "")]), "{k} was kept");
        }
        // Variables outside the list do not count as kept Go settings.
        assert!(suspected(&[
            ("GOSUMDB", "off"),
            ("SUDO_UID", "0"),
            ("GOPATH", "/x")
        ]));
    }

    #[test]
    fn the_warning_names_the_cause_the_values_and_the_fix() {
        let values = BTreeMap::from([
            (
                "GOPROXY".to_string(),
                "https://proxy.golang.org,direct".to_string(),
            ),
            ("GOFLAGS".to_string(), "-mod=mod".to_string()),
        ]);
        let w = warning(&Ok(values));
        assert!(w.contains("env_reset (sudoers(5))"), "{w}");
        assert!(
            w.contains(
                "GOPROXY=https://proxy.golang.org,direct GOPRIVATE= GONOSUMDB= GOFLAGS=-mod=mod"
            ),
            "{w}"
        );
        assert!(w.contains("sudo --preserve-env=GOPROXY,GOPRIVATE,GONOSUMDB,GOFLAGS,HTTPS_PROXY,HTTP_PROXY,NO_PROXY gotrace run"), "{w}");
        assert!(w.contains("sudo env GOPROXY=... gotrace run"), "{w}");
        let failed = warning(&Err("go: command not found".into()));
        assert!(
            failed.contains("`go env` as the user failed: go: command not found"),
            "{failed}"
        );
    }

    #[test]
    fn a_failing_go_is_a_one_line_note() {
        let e = query(Some(Path::new("/nonexistent/go")), None).unwrap_err();
        assert!(
            e.starts_with("/nonexistent/go: ") && !e.contains('\n'),
            "{e}"
        );
        let e = query(Some(Path::new("/bin/false")), None).unwrap_err();
        assert!(e.contains("exit status: 1"), "{e}");
    }
}
