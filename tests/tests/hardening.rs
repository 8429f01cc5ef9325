//! End-to-end tests of issue 14's hardening, items 1, 2 and 5: a command
//! running as the user cannot make root write through the bundle
//! directory; no child or eBPF program outlives a failed or killed
//! gotrace, and the command outlives a SIGKILLed gotrace; a full disk is
//! a warning with the command's status still recorded.
//!
//! The real gotrace binary runs as root inside a lab network namespace
//! (`ip netns exec`), so every process it starts is in that namespace:
//! "nothing left" is "no process in the namespace", and the eBPF objects
//! gotrace's processes hold are the `prog_id:`/`link_id:` fdinfo entries
//! (proc(5)) of those processes. Needs root; fails (never skips) without.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gotrace_e2e::netns::NetnsPair;
use support::Scratch;

/// The unprivileged user the command runs as (Debian's `nobody`).
const USER: u32 = 65534;

/// Every name gotrace writes in a bundle, its temp files included.
const BUNDLE_NAMES: [&str; 10] = [
    "meta.json",
    ".meta.json.tmp",
    "verdict.json",
    ".verdict.json.tmp",
    "report.html",
    ".report.html.tmp",
    "events.jsonl",
    "stderr.log",
    "capture.pcapng",
    ".capture.pcapng.tmp",
];

/// A lab namespace and `gotrace run` commands started inside it.
struct Ns {
    pair: NetnsPair,
}

impl Ns {
    fn new() -> Ns {
        support::require_root();
        Ns {
            pair: NetnsPair::create().expect("creating the network namespaces"),
        }
    }

    /// `ip netns exec <client> gotrace run ARGS` ([`support::gotrace_run_in`]),
    /// with the sudo variables naming [`USER`] when `as_user`.
    fn gotrace(&self, args: &[&str], as_user: bool) -> Command {
        let sudo = [
            ("SUDO_UID", USER.to_string()),
            ("SUDO_GID", USER.to_string()),
        ];
        let env: &[(&str, String)] = if as_user { &sudo } else { &[] };
        support::gotrace_run_in(&self.pair.client, args, env)
    }

    /// Runs `gotrace run ARGS` ([`Ns::gotrace`]) to its end (at most 60 s)
    /// with stdout and stderr in files, not pipes: a process gotrace
    /// leaves behind holding them must fail the test, not hang it.
    fn run(&self, args: &[&str], as_user: bool) -> Output {
        let out = tempfile::tempfile().expect("a file for stdout");
        let err = tempfile::tempfile().expect("a file for stderr");
        let mut child = self
            .gotrace(args, as_user)
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .spawn()
            .expect("starting gotrace");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for gotrace") {
                break status;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("gotrace did not finish within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let read = |mut f: std::fs::File| {
            use std::io::{Read, Seek};
            let mut v = Vec::new();
            f.rewind().unwrap();
            f.read_to_end(&mut v).unwrap();
            v
        };
        Output {
            status,
            stdout: read(out),
            stderr: read(err),
        }
    }

    /// `net:[inode]` of the namespace, as /proc/PID/ns/net reads.
    fn id(&self) -> String {
        let md = std::fs::metadata(format!("/run/netns/{}", self.pair.client))
            .expect("stat of the namespace's bind mount");
        format!("net:[{}]", md.ino())
    }

    /// (processes in the namespace, eBPF programs and links they hold).
    fn census(&self) -> (Vec<u32>, usize) {
        let id = self.id();
        let mut pids = Vec::new();
        let mut bpf = 0;
        for e in std::fs::read_dir("/proc").expect("reading /proc").flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let ns = std::fs::read_link(format!("/proc/{pid}/ns/net"));
            if ns.map(|l| l.to_string_lossy() != id).unwrap_or(true) {
                continue;
            }
            pids.push(pid);
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
                continue;
            };
            for fd in fds.flatten() {
                let info = std::fs::read_to_string(fd.path()).unwrap_or_default();
                if info
                    .lines()
                    .any(|l| l.starts_with("prog_id:") || l.starts_with("link_id:"))
                {
                    bpf += 1;
                }
            }
        }
        (pids, bpf)
    }

    /// Nothing gotrace started is left: no process in the namespace, so no
    /// eBPF object held by one (waits up to 5 s for processes to end).
    fn assert_nothing_left(&self, context: &str) {
        let start = Instant::now();
        loop {
            let (pids, bpf) = self.census();
            if pids.is_empty() && bpf == 0 {
                return;
            }
            if start.elapsed() > Duration::from_secs(5) {
                let comms: Vec<String> = pids
                    .iter()
                    .map(|p| {
                        let comm =
                            std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                        format!("{p} {}", comm.trim())
                    })
                    .collect();
                for p in &pids {
                    // SAFETY: kill(2) of a process left in the test's own namespace.
                    unsafe { libc::kill(*p as i32, libc::SIGKILL) };
                }
                panic!("left behind: processes {comms:?} holding {bpf} eBPF programs/links (now killed)\n{context}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A small tmpfs mounted for one test, unmounted when dropped (also when
/// the test fails).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&path).expect("creating the mount point");
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(&path)
            .status()
            .expect("running mount");
        assert!(ok.success(), "mounting a tmpfs on {}", path.display());
        Tmpfs { path }
    }

    /// Fills it up: a file written until ENOSPC.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path.join("filler")).expect("creating the filler");
        let block = [0u8; 4096];
        while f.write_all(&block).is_ok() {}
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// (content, uid, gid, mode) of a file.
fn snapshot(p: &Path) -> (Vec<u8>, u32, u32, u32) {
    let md = std::fs::symlink_metadata(p).expect("stat of a victim");
    (
        std::fs::read(p).expect("reading a victim"),
        md.uid(),
        md.gid(),
        md.mode(),
    )
}

/// Item 1: the command (as the user) replaces every name gotrace writes
/// with a link to a root-owned file outside the bundle, which the user
/// cannot read. No such file changes, gotrace says it refused, and the
/// report (made as root) shows none of their contents.
#[test]
fn links_planted_in_the_bundle_dir_are_never_written_through() {
    let ns = Ns::new();
    let scratch = Scratch::new("planted-links");
    // The user must reach the bundle: the scratch dir is root's 0700.
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let victims = scratch.path().join("victims");
    std::fs::create_dir(&victims).unwrap();
    let mut before = Vec::new();
    for name in BUNDLE_NAMES {
        let v = victims.join(name.trim_start_matches('.'));
        std::fs::write(&v, format!("root's own {name}\n")).unwrap();
        std::fs::set_permissions(&v, std::fs::Permissions::from_mode(0o600)).unwrap();
        before.push((v.clone(), snapshot(&v)));
    }
    let bundle = scratch.path().join("made/bundle");
    let plant: String = BUNDLE_NAMES
        .iter()
        .map(|n| {
            let v = victims.join(n.trim_start_matches('.'));
            format!("ln -sfn {} {n} && ", v.display())
        })
        .collect();
    let script = format!(
        "cd {} && {plant} echo planted >&2; exit 1",
        bundle.display()
    );
    let out = ns.run(
        &["-o", bundle.to_str().unwrap(), "--", "sh", "-c", &script],
        true,
    );
    let context = support::describe(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the command's status\n{context}"
    );
    assert!(
        !context.contains("root's own"),
        "the report shows a file the user cannot read\n{context}"
    );
    assert!(context.contains("the command said: planted"), "{context}");
    for (v, snap) in &before {
        assert_eq!(&snapshot(v), snap, "{} changed\n{context}", v.display());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("that gotrace did not make; refusing to write through or replace it"),
        "gotrace must say it refused\n{context}"
    );
    // The directories gotrace made for -o are the user's.
    for d in [scratch.path().join("made"), bundle.clone()] {
        assert_eq!(
            std::fs::metadata(&d).unwrap().uid(),
            USER,
            "{}",
            d.display()
        );
    }
    ns.assert_nothing_left(&context);
}

/// Item 2, setup failure after fork: the bundle dir is on a full tmpfs,
/// so meta.json cannot be written once the command is forked and gated.
/// gotrace fails with the error; the child and the probes are gone and no
/// temp file is left.
#[test]
fn a_setup_failure_after_fork_leaves_no_child_and_no_probe() {
    let ns = Ns::new();
    let scratch = Scratch::new("setup-enospc");
    let fs = Tmpfs::mount(scratch.path().join("fs"), "256k");
    fs.fill();
    let bundle = fs.path.join("bundle");
    assert_eq!(ns.census(), (vec![], 0), "the namespace starts empty");
    let out = ns.run(&["-o", bundle.to_str().unwrap(), "--", "true"], false);
    let context = support::describe(&out);
    assert_eq!(out.status.code(), Some(70), "{context}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("No space left on device"), "{context}");
    ns.assert_nothing_left(&context);
    let left: Vec<_> = std::fs::read_dir(&fs.path)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["filler"], "a failed run leaves nothing\n{context}");
}

/// Issue 15 item 2: after a normal run gotrace hands its probes to a
/// reaper child (their detach takes an RCU grace period per classic
/// tracepoint) and exits; the reaper dies with it (PR_SET_PDEATHSIG), so
/// within a bounded time nothing gotrace started is left, no eBPF
/// program or link included, and the run's own output pipes are closed
/// (`output()` returns only once every writer is gone).
#[test]
fn after_a_normal_run_the_probes_go_away_without_gotrace_waiting() {
    let ns = Ns::new();
    let scratch = Scratch::new("reaper");
    let bundle = scratch.path().join("bundle");
    assert_eq!(ns.census(), (vec![], 0), "the namespace starts empty");
    let out = ns.run(&["-o", bundle.to_str().unwrap(), "--", "true"], false);
    let context = support::describe(&out);
    assert_eq!(out.status.code(), Some(0), "{context}");
    assert!(bundle.join("verdict.json").is_file(), "{context}");
    ns.assert_nothing_left(&context);
}

/// Item 2, the failures before or at exec: an unknown --user, a command
/// that does not exist, and one whose exec fails in the child (a script
/// naming a missing interpreter). Each exits with its status and leaves
/// nothing.
#[test]
fn user_and_exec_failures_leave_no_child_and_no_probe() {
    let ns = Ns::new();
    let scratch = Scratch::new("exec-failures");
    let script = scratch.path().join("script");
    std::fs::write(&script, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cases: [(&str, &[&str], i32); 3] = [
        (
            "bad-user",
            &["--user", "no-such-user-xyz", "--", "true"],
            67,
        ),
        ("missing", &["--", "/nonexistent/command"], 127),
        ("exec", &["--", script.to_str().unwrap()], 126),
    ];
    for (name, args, code) in cases {
        let bundle = scratch.path().join(name);
        let mut all = vec!["-o", bundle.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = ns.run(&all, false);
        let context = format!("{name}: {}", support::describe(&out));
        assert_eq!(out.status.code(), Some(code), "{context}");
        ns.assert_nothing_left(&context);
        assert!(!bundle.exists(), "no bundle is left\n{context}");
    }
}

fn wait_for(path: &Path, what: &str, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("gotrace exited ({status}) before {what}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Item 2, SIGKILL of gotrace while the command runs: the probes go with
/// gotrace at once (the command holds none), and the command lives on:
/// its next writes to stderr do not kill it with SIGPIPE, they still
/// reach gotrace's stderr and stderr.log.
#[test]
fn the_command_outlives_a_sigkilled_gotrace_and_no_probe_does() {
    let ns = Ns::new();
    let scratch = Scratch::new("sigkill");
    let ready = scratch.path().join("ready");
    let go_on = scratch.path().join("go-on");
    let marker = scratch.path().join("survived");
    let bundle = scratch.path().join("bundle");
    let script = format!(
        "while [ ! -e {go} ]; do sleep 0.05; done; echo after-the-kill >&2; echo survived > {m}",
        go = go_on.display(),
        m = marker.display()
    );
    let mut child = ns
        .gotrace(
            &[
                "-o",
                bundle.to_str().unwrap(),
                "--ready-file",
                ready.to_str().unwrap(),
                "--",
                "sh",
                "-c",
                &script,
            ],
            false,
        )
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting gotrace");
    wait_for(&ready, "the ready file", &mut child);
    let (_, running) = ns.census();
    assert!(running > 0, "gotrace's probes are counted while it runs");
    // `ip netns exec` execs gotrace: this PID is gotrace's own.
    // SAFETY: plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    let status = child.wait().expect("waiting for gotrace");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let (pids, bpf) = ns.census();
    assert_eq!(
        bpf, 0,
        "no eBPF object survives gotrace (processes {pids:?})"
    );
    assert!(!pids.is_empty(), "the command must still run");
    std::fs::write(&go_on, "").unwrap();
    let start = Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the command died after gotrace was killed (SIGPIPE at its stderr write?)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("after-the-kill"),
        "passed through: {stderr}"
    );
    let log = std::fs::read_to_string(bundle.join("stderr.log")).unwrap();
    assert_eq!(log, "after-the-kill\n");
    ns.assert_nothing_left(&stderr);
}

/// Item 5: the disk fills while the command runs (it fills it itself,
/// then writes to stderr and exits 0). gotrace exits 0, the report and
/// meta.json say the command succeeded and name the file that lost bytes
/// and the error, and no temp file is left.
#[test]
fn a_full_disk_mid_run_is_a_warning_and_the_status_is_still_recorded() {
    let ns = Ns::new();
    let scratch = Scratch::new("enospc-mid-run");
    let fs = Tmpfs::mount(scratch.path().join("fs"), "1m");
    let bundle = fs.path.join("bundle");
    let script = format!(
        "head -c 4000000 /dev/zero > {}/filler 2>/dev/null; echo after-the-disk-filled >&2; exit 0",
        fs.path.display()
    );
    let out = ns.run(
        &["-o", bundle.to_str().unwrap(), "--", "sh", "-c", &script],
        false,
    );
    let context = support::describe(&out);
    assert_eq!(out.status.code(), Some(0), "{context}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("succeeded after"), "{context}");
    assert!(!stderr.contains("gotrace was killed"), "{context}");
    assert!(
        stderr.contains("stderr.log: writing failed after 0 bytes (No space left on device")
            && stderr
                .contains("the last 22 of the 22 bytes the command wrote to stderr are not in it"),
        "{context}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("meta.json")).unwrap())
            .expect("meta.json");
    assert_eq!(meta["exit"], serde_json::json!({"code": 0}), "{meta}");
    let warnings = meta["warnings"].to_string();
    assert!(warnings.contains("No space left on device"), "{warnings}");
    for tmp in [".meta.json.tmp", ".verdict.json.tmp"] {
        assert!(!bundle.join(tmp).exists(), "{tmp} left behind\n{context}");
    }
    ns.assert_nothing_left(&context);
}
