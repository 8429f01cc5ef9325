//! The packet-filter ruleset of the command's network namespace at start
//! (`nft list ruleset`), so a drop the kernel reports (NETFILTER_DROP) can
//! be traced to the rule behind it. Best effort: no `nft`, no snapshot.

use std::io::Read;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use crate::process::netns::NetNs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gotrace_bundle::Firewall;

/// At most this much of the ruleset is kept (cut at a line end).
const LIMIT: usize = 64 * 1024;
/// `nft` normally answers in milliseconds; never hold the command back longer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Why the ruleset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("running {cmd}: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("{cmd} did not finish within {}s", TIMEOUT.as_secs())]
    Timeout { cmd: String },
    #[error("{cmd} failed ({status}): {stderr}")]
    Failed {
        cmd: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// The ruleset, or `None` when `nft` is not installed or failed (then a
/// line in `warnings` says why); a cut ruleset is noted there too.
/// With `netns`, `nft` runs in that network namespace (the attached
/// process's), else in gotrace's own.
pub fn snapshot(warnings: &mut Vec<String>, netns: Option<&NetNs>) -> Option<Firewall> {
    let nft = find("nft")?;
    match run(
        &nft,
        &["list", "ruleset"],
        TIMEOUT,
        netns.map(NetNs::raw_fd),
    ) {
        Ok(out) => {
            let (ruleset, cut) = cap(&out, LIMIT);
            if cut {
                warnings.push(format!(
                    "the firewall ruleset in meta.json is cut to its first {} KiB",
                    LIMIT / 1024
                ));
            }
            Some(Firewall {
                command: "nft list ruleset".into(),
                ruleset: ruleset.into(),
            })
        }
        Err(e) => {
            warnings.push(format!("no firewall ruleset recorded: {e}"));
            None
        }
    }
}

/// `name` in PATH, or in /usr/sbin and /sbin, which a user's PATH may lack.
fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Runs `cmd args` and returns its stdout; killed after `timeout`.
fn run(
    cmd: &Path,
    args: &[&str],
    timeout: Duration,
    netns: Option<RawFd>,
) -> Result<String, FirewallError> {
    let name = format!("{} {}", cmd.display(), args.join(" "));
    let spawn_err = |source| FirewallError::Spawn {
        cmd: name.clone(),
        source,
    };
    let mut command = Command::new(cmd);
    if let Some(fd) = netns {
        // SAFETY: setns(2) is async-signal-safe; fd stays open in the parent
        // (and is inherited across fork) until spawn returns.
        unsafe {
            command.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    // A reader thread, so a ruleset larger than the pipe buffer cannot stall it.
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(spawn_err)? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(FirewallError::Timeout { cmd: name });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        return Err(FirewallError::Failed {
            cmd: name,
            status,
            stderr: stderr.trim().into(),
        });
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `text` cut to at most `limit` bytes, at the end of a line when there is
/// one (else at a character boundary); whether it was cut.
fn cap(text: &str, limit: usize) -> (&str, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let end = match text.as_bytes()[..limit].iter().rposition(|&b| b == b'\n') {
        Some(nl) => nl + 1,
        None => (0..=limit)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0),
    };
    (&text[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_rulesets_are_cut_at_a_line_end() {
        assert_eq!(
            cap("table inet f {\n}\n", 64),
            ("table inet f {\n}\n", false)
        );
        assert_eq!(cap("line one\nline two\n", 12), ("line one\n", true));
        assert_eq!(cap("ééé", 3), ("é", true));
        assert_eq!(cap("abc", 0), ("", true));
    }

    #[test]
    fn output_failure_and_timeout_are_told_apart() {
        let sh = find("sh").expect("sh");
        let ok = run(
            &sh,
            &["-c", "printf 'table ip lab {\\n}\\n'"],
            TIMEOUT,
            None,
        )
        .unwrap();
        assert_eq!(ok, "table ip lab {\n}\n");
        let big = run(
            &sh,
            &["-c", "head -c 200000 /dev/zero | tr '\\0' x"],
            TIMEOUT,
            None,
        )
        .unwrap();
        assert_eq!(big.len(), 200_000);
        let failed = run(
            &sh,
            &["-c", "echo 'Operation not permitted' >&2; exit 1"],
            TIMEOUT,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&failed, FirewallError::Failed { stderr, .. } if stderr == "Operation not permitted"),
            "{failed}"
        );
        let started = Instant::now();
        let slow = run(
            &sh,
            &["-c", "exec sleep 5"],
            Duration::from_millis(100),
            None,
        )
        .unwrap_err();
        assert!(matches!(slow, FirewallError::Timeout { .. }), "{slow}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let missing = run(Path::new("/nonexistent/nft"), &[], TIMEOUT, None).unwrap_err();
        assert!(matches!(missing, FirewallError::Spawn { .. }), "{missing}");
    }
}
