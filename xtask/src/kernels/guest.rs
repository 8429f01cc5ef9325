//! Running the selected tests in one kernel: a shell script in a shared
//! read-write directory, booted with virtme-ng under TCG (the nested KVM
//! here cannot boot stock kernels: shared/kernels/README.md), or run
//! directly for the host kernel. Results are read back from that directory
//! (vng's own exit status is unreliable: it often exits 255 after the
//! guest command succeeded).
//!
//! The guest shares the host's root filesystem (read-only, with overlays),
//! so the host-built gotrace and test binaries, go, python3, nft and tshark
//! run inside unchanged. It gets no network device: the e2e lab makes its
//! own namespaces and veth pairs inside the guest.

use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::tests::Test;

/// Guest memory: go, tshark and the tmpfs upper layers of the overlays.
const MEMORY: &str = "2G";
/// Longest a single test may take in the guest (TCG is 5-10x slower).
const TEST_TIMEOUT_S: u64 = 600;
/// How far apart a packet's capture time and its kernel event may be in a
/// guest (the host's e2e bound is 5 ms; measured 47 ms under TCG).
const TIME_SLACK_MS: u32 = 250;
/// Boot, module loading and power-off on top of the tests' time.
const BOOT_ALLOWANCE: Duration = Duration::from_secs(180);
/// The tracepoint formats saved from each kernel (for docs and unit tests).
const FORMATS: &[&str] = &[
    "tcp/tcp_retransmit_skb",
    "tcp/tcp_receive_reset",
    "tcp/tcp_send_reset",
    "skb/kfree_skb",
    "sock/inet_sock_set_state",
];

/// What to run: the image to boot (None: the host kernel, no VM).
pub struct Run<'a> {
    pub kimg: Option<&'a Path>,
    pub tests: &'a [Test],
    pub gotrace: &'a Path,
    /// The shared directory for this kernel (created, emptied first).
    pub dir: &'a Path,
}

/// Runs `run` to its end or its deadline; Err when the VM could not start.
/// Tests that left no exit status simply show as not run.
pub fn run(run: &Run) -> Result<Duration, String> {
    let _ = std::fs::remove_dir_all(run.dir);
    std::fs::create_dir_all(run.dir).map_err(|e| format!("creating {}: {e}", run.dir.display()))?;
    let script = run.dir.join("run.sh");
    std::fs::write(&script, script_text(run))
        .map_err(|e| format!("writing {}: {e}", script.display()))?;
    let log_path = run.dir.join("console.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("duplicating a file: {e}"))?;
    let mut cmd = match run.kimg {
        Some(kimg) => {
            let mut c = Command::new("vng");
            // vng looks virtiofsd up on PATH.
            let path = std::env::var("PATH").unwrap_or_default();
            let vfs = super::fetch::virtiofsd_root().join("bin");
            c.env("PATH", format!("{}:{path}", vfs.display()));
            c.arg("--disable-kvm")
                .arg("--run")
                .arg(kimg)
                .args(["--cpus", "2", "--memory", MEMORY])
                .arg(format!("--rwdir={}", run.dir.display()))
                .arg("--exec")
                .arg(format!("sh {}", script.display()));
            c
        }
        None => {
            let mut c = Command::new("sh");
            c.arg(&script);
            c
        }
    };
    // Its own process group, so a deadline ends qemu with it.
    cmd.stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("starting {cmd:?}: {e}"))?;
    let deadline = BOOT_ALLOWANCE + Duration::from_secs(TEST_TIMEOUT_S) * run.tests.len() as u32;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > deadline => {
                // SAFETY: kill(2) on the group we created; no memory involved.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                eprintln!(
                    "xtask: {} timed out after {deadline:?}; killed",
                    run.dir.display()
                );
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(500)),
            Err(e) => return Err(format!("waiting for the VM: {e}")),
        }
    }
    Ok(started.elapsed())
}

/// The result directory of test `name` under `dir`.
pub fn test_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join("t").join(name.replace("::", "-"))
}

/// The guest's script: saves the kernel release and tracepoint formats,
/// then runs each test alone, its output, exit status and (through
/// GOTRACE_E2E_RESULTS) verdict and meta.json in its own directory.
fn script_text(run: &Run) -> String {
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let dir = run.dir;
    let mut s = String::from("#!/bin/sh\n# written by `cargo xtask test --kernel`\n");
    let _ = writeln!(s, "uname -r > {}", q(&dir.join("uname")));
    s.push_str(
        "mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing\n",
    );
    let formats = dir.join("formats");
    let _ = writeln!(s, "mkdir -p {}", q(&formats));
    for f in FORMATS {
        let _ = writeln!(
            s,
            "cp /sys/kernel/tracing/events/{f}/format {} 2>/dev/null",
            q(&formats.join(f.replace('/', ":")))
        );
    }
    let _ = writeln!(
        s,
        "export GOTRACE_BIN={} HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        q(run.gotrace)
    );
    if run.kimg.is_some() {
        // Emulated CPUs: the e2e timing checks get a wider bound.
        let _ = writeln!(s, "export GOTRACE_E2E_TIME_SLACK_MS={TIME_SLACK_MS}");
    }
    for t in run.tests {
        let d = test_dir(dir, &t.name);
        let _ = writeln!(
            s,
            // A failure is run once more (its first log kept as log.1 and
            // marked by `retried`): TCG guests are slow and noisy, and
            // the table says which cells needed the second run.
            "mkdir -p {d}; GOTRACE_E2E_RESULTS={d} timeout {TEST_TIMEOUT_S} {bin} --exact {name} --test-threads=1 >{d}/log 2>&1; rc=$?; \
             if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then mv {d}/log {d}/log.1; echo $rc >{d}/retried; \
             GOTRACE_E2E_RESULTS={d} timeout {TEST_TIMEOUT_S} {bin} --exact {name} --test-threads=1 >{d}/log 2>&1; rc=$?; fi; echo $rc >{d}/rc",
            d = q(&d),
            bin = q(&t.binary),
            name = shell_quote(&t.name),
        );
    }
    let _ = writeln!(s, "dmesg > {} 2>&1", q(&dir.join("dmesg")));
    let _ = writeln!(s, "echo done > {}", q(&dir.join("done")));
    s
}

/// `s` in single quotes, for sh.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_runs_each_test_alone_into_its_own_dir() {
        let tests = [Test {
            binary: "/b/e2e-1".into(),
            name: "m::it's".into(),
        }];
        let run = Run {
            kimg: None,
            tests: &tests,
            gotrace: Path::new("/g"),
            dir: Path::new("/r"),
        };
        let s = script_text(&run);
        assert!(s.contains("GOTRACE_E2E_RESULTS='/r/t/m-it'\\''s' timeout 600 '/b/e2e-1' --exact 'm::it'\\''s'"), "{s}");
        assert!(s.ends_with("echo done > '/r/done'\n"), "{s}");
        // A failed run is kept and run once more.
        assert!(
            s.contains("mv '/r/t/m-it'\\''s'/log '/r/t/m-it'\\''s'/log.1"),
            "{s}"
        );
    }
}
