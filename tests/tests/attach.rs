//! End-to-end tests of `gotrace attach` and of what a killed tracer leaves:
//! the real `go mod tidy` hangs on a silent lab proxy (its SYNs dropped in
//! the server namespace, kernel SYN retries at the default 6), gotrace
//! attaches to it from the root namespace, and the lab then changes under
//! go's feet.
//!
//! Needs root (fails, never skips, without it) and the release binary
//! (`cargo xtask build`).

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gotrace_e2e::{Firewall, Lab, LabConfig, PROXY_PORT, SERVER_IP};
use serde_json::Value;
use support::{bundle, Scratch};

/// A lab whose proxy never answers a SYN, and whose kernel keeps retrying
/// for about two minutes (longer than Go's 30 s dial deadline).
fn silent_proxy_lab() -> Lab {
    support::require_root();
    Lab::up(LabConfig {
        firewall: Firewall::ServerDropsInput,
        syn_retries: None,
        ..LabConfig::default()
    })
    .expect("setting up the lab")
}

/// Starts `go mod tidy` in the lab (outputs piped) and waits until it is
/// stuck dialing the proxy (a SYN_SENT socket in its namespace's table).
/// `ip netns exec` execs go, so the child's PID is go's.
fn start_hanging_go(lab: &Lab) -> Child {
    let mut go = lab
        .command("go")
        .args(["mod", "tidy"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting go");
    let table = format!("/proc/{}/net/tcp", go.id());
    let port = format!(":{PROXY_PORT:04X} 02 ");
    wait_for("go to dial the proxy", Duration::from_secs(30), || {
        if let Ok(Some(st)) = go.try_wait() {
            panic!("go exited early: {st:?}");
        }
        std::fs::read_to_string(&table).is_ok_and(|t| t.contains(&port))
    });
    go
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `gotrace attach --pid PID -o DIR --ready-file DIR.ready --json VIEW`
/// (`-v` live lines or `-q` none), started from gotrace's own (root)
/// namespace; returns once tracing is live.
fn attach(pid: u32, dir: &Path, view: &str) -> Child {
    let ready = dir.with_extension("ready");
    let child = Command::new(support::gotrace())
        .args(["attach", "--pid", &pid.to_string(), "--json", view, "-o"])
        .arg(dir)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting gotrace attach");
    wait_for("gotrace to attach", Duration::from_secs(20), || {
        ready.exists()
    });
    child
}

/// Waits (bounded) for a child and returns its output.
fn finish(mut child: Child, timeout: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("waiting").is_none() {
        if start.elapsed() > timeout {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collecting output");
            panic!(
                "still running after {timeout:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collecting output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// State letter of /proc/PID/stat (R, S, D, T, Z...); None when gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) of a process this test started.
    unsafe { libc::kill(pid as i32, sig) };
}

#[test]
fn attach_to_a_hanging_go_names_the_refused_connection() {
    let scratch = Scratch::new("attach-refused");
    let dir = scratch.path().join("bundle");
    let mut lab = silent_proxy_lab();
    let go = start_hanging_go(&lab);
    let pid = go.id();
    let tracer = attach(pid, &dir, "-v");
    // The proxy starts refusing: the next retransmitted SYN gets an RST.
    lab.set_firewall(Firewall::ServerRefuses)
        .expect("switching the rule");
    let go_out = finish(go, Duration::from_secs(60));
    let out = finish(tracer, Duration::from_secs(30));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let context = format!(
        "bundle {}\n--- gotrace stderr\n{stderr}\n--- go stderr\n{}",
        dir.display(),
        text(&go_out.stderr)
    );
    assert_eq!(go_out.status.code(), Some(1), "{context}");
    assert!(
        text(&go_out.stderr).contains("connection refused"),
        "{context}"
    );
    assert_eq!(out.status.code(), Some(0), "{context}");
    eprintln!("{stderr}");
    // The live view showed the refused dial as it happened.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(&format!("go[{pid}")) && l.contains("SO_ERROR) -> ECONNREFUSED")),
        "live view line missing\n{context}"
    );

    let v = bundle::verdict_from_stdout(&stdout).unwrap_or_else(|| panic!("no verdict\n{context}"));
    assert_eq!(
        (v["layer"].as_str(), v["cause"].as_str()),
        (Some("network"), Some("connection-refused")),
        "{v:#}\n{context}"
    );
    assert_eq!(v["target"]["ip"], SERVER_IP, "{v:#}");
    assert_eq!(v["target"]["port"], PROXY_PORT, "{v:#}");
    assert!(
        !bundle::cited(&v, "packet").is_empty(),
        "the RST on the wire must be cited: {v:#}"
    );

    let meta = bundle::meta(&dir);
    assert_eq!(meta["mode"], "attach", "{meta:#}");
    assert_eq!(meta["root_pid"], pid);
    assert_eq!(
        meta["exit"]["code"], 1,
        "exit status from the kernel: {meta:#}"
    );
    assert_eq!(meta["attach"]["ended_by"], "exited");
    let pre = meta["attach"]["pre_existing"]
        .as_array()
        .expect("pre_existing");
    assert!(
        pre.iter().any(|s| s["state"] == "SYN_SENT"
            && s["peer"]["ip"] == SERVER_IP
            && s["peer"]["port"] == PROXY_PORT),
        "the dial in progress must be recorded: {pre:#?}"
    );
    // The capture ran in go's namespace although gotrace ran outside it.
    let ifaces: Vec<&str> = meta["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(ifaces.contains(&"veth0"), "{ifaces:?}");
    support::tshark::assert_stays_in_lab(&dir.join("capture.pcapng"));
    // Go's error, read from its writes to fd 2.
    let log = std::fs::read_to_string(dir.join("stderr.log")).expect("stderr.log");
    assert!(
        log.contains("connect: connection refused"),
        "stderr.log: {log}"
    );
    // Offline re-analysis gives the same verdict and says it was an attach.
    let again = Command::new(support::gotrace())
        .arg("analyze")
        .arg(&dir)
        .output()
        .expect("analyze");
    let report = text(&again.stderr);
    eprintln!("{report}");
    assert_eq!(again.status.code(), Some(0), "{report}");
    assert!(
        report.contains(&format!("attached to PID {pid}")),
        "{report}"
    );
    assert!(
        report.contains("(network / connection-refused)"),
        "{report}"
    );
}

#[test]
fn ctrl_c_detaches_and_the_process_runs_on_unchanged_with_two_tracers() {
    let scratch = Scratch::new("attach-detach");
    let mut lab = silent_proxy_lab();
    let go = start_hanging_go(&lab);
    let pid = go.id();
    let threads = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    // Two gotrace instances on the same process: each has its own probes and bundle.
    let dirs = [scratch.path().join("one"), scratch.path().join("two")];
    let tracers: Vec<Child> = dirs.iter().map(|d| attach(pid, d, "-q")).collect();
    std::thread::sleep(Duration::from_millis(500));
    for t in &tracers {
        kill(t.id(), libc::SIGINT);
    }
    for (t, d) in tracers.into_iter().zip(&dirs) {
        let out = finish(t, Duration::from_secs(20));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains(&format!("detached from PID {pid}")),
            "{stderr}"
        );
        let meta = bundle::meta(d);
        assert_eq!(meta["attach"]["ended_by"], "interrupted", "{meta:#}");
        assert!(meta["exit"].is_null(), "{meta:#}");
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("verdict.json")).unwrap())
                .unwrap();
        assert_ne!(
            v["layer"], "none",
            "a still-running process has not succeeded: {v:#}"
        );
    }
    // Untouched: running (not stopped, not a zombie), same threads, and it
    // still does its job: once the proxy refuses, go fails as it would have.
    let state = proc_state(pid);
    assert!(
        matches!(state, Some('S' | 'R')),
        "go's state after the detach: {state:?}"
    );
    assert!(threads() > 1, "go's threads are still there");
    lab.set_firewall(Firewall::ServerRefuses)
        .expect("switching the rule");
    let go_out = finish(go, Duration::from_secs(60));
    assert_eq!(go_out.status.code(), Some(1));
    assert!(
        text(&go_out.stderr).contains("connection refused"),
        "{}",
        text(&go_out.stderr)
    );
}

#[test]
fn a_sigkilled_run_leaves_a_bundle_that_analyses_with_a_warning() {
    let scratch = Scratch::new("run-sigkill");
    let dir = scratch.path().join("bundle");
    let ready = scratch.path().join("ready");
    let lab = silent_proxy_lab();
    let tracer = lab
        .command(support::gotrace())
        .arg("run")
        .arg("-o")
        .arg(&dir)
        .arg("--ready-file")
        .arg(&ready)
        .args(["--", "go", "mod", "tidy"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting gotrace run");
    wait_for("gotrace to start go", Duration::from_secs(20), || {
        ready.exists()
    });
    let go_pid: u32 = std::fs::read_to_string(&ready)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Let go dial (events and packets are on disk within 50 ms), then kill.
    let table = format!("/proc/{go_pid}/net/tcp");
    wait_for("go to dial", Duration::from_secs(30), || {
        std::fs::read_to_string(&table).is_ok_and(|t| t.contains(&format!(":{PROXY_PORT:04X} 02 ")))
    });
    std::thread::sleep(Duration::from_millis(300));
    kill(tracer.id(), libc::SIGKILL);
    let _ = finish(tracer, Duration::from_secs(10));
    kill(go_pid, libc::SIGKILL);

    let out = Command::new(support::gotrace())
        .arg("analyze")
        .arg(&dir)
        .output()
        .expect("running analyze");
    let report = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report.contains("not finished"),
        "a truncation warning is expected:\n{report}"
    );
    let events = bundle::events(&dir);
    assert!(
        events.iter().any(|e| e["kind"] == "connect"),
        "the connect before the kill must be on disk: {events:?}"
    );
}

#[test]
fn attach_refuses_a_missing_pid_and_a_thread_with_their_exit_codes() {
    support::require_root();
    let run = |pid: &str| {
        let out = Command::new(support::gotrace())
            .args(["attach", "--pid", pid])
            .output()
            .expect("running gotrace");
        (out.status.code(), text(&out.stderr))
    };
    let (code, msg) = run("4194311");
    assert_eq!(code, Some(66), "{msg}");
    assert!(msg.contains("no process with PID 4194311"), "{msg}");
    let (code, msg) = run("-5");
    assert_eq!(code, Some(66), "{msg}");

    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        // SAFETY: gettid(2) has no arguments.
        tx.send(unsafe { libc::gettid() }).unwrap();
        let _ = stop_rx.recv();
    });
    let tid = rx.recv().unwrap();
    let (code, msg) = run(&tid.to_string());
    drop(stop_tx);
    t.join().unwrap();
    assert_eq!(code, Some(64), "{msg}");
    assert!(
        msg.contains(&format!("is a thread of process {}", std::process::id())),
        "{msg}"
    );
}

#[test]
fn run_follows_the_command_into_another_namespace() {
    support::require_root();
    let scratch = Scratch::new("run-netns");
    let dir = scratch.path().join("bundle");
    let s = gotrace_e2e::scenario::by_name("connection-refused").expect("scenario");
    let lab = Lab::up(s.config.clone()).expect("setting up the lab");
    // gotrace in the root namespace; the command enters the lab's.
    let out = Command::new(support::gotrace())
        .arg("run")
        .arg("-o")
        .arg(&dir)
        .args([
            "--json",
            "--",
            "ip",
            "netns",
            "exec",
            lab.client_ns(),
            "go",
            "mod",
            "tidy",
        ])
        .env_clear()
        .envs(lab.env())
        .current_dir(lab.module_dir())
        .output()
        .expect("running gotrace");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let context = format!("bundle {}\n--- stderr\n{stderr}", dir.display());
    assert_eq!(out.status.code(), Some(1), "{context}");
    let v = bundle::verdict_from_stdout(&stdout).unwrap_or_else(|| panic!("no verdict\n{context}"));
    assert_eq!(
        (v["layer"].as_str(), v["cause"].as_str()),
        (Some("network"), Some("connection-refused")),
        "{v:#}\n{context}"
    );
    assert!(
        bundle::cited(&v, "packet").len() >= 2,
        "SYN and RST must be cited: {v:#}"
    );
    let meta = bundle::meta(&dir);
    let lab_ns = std::fs::read_link(format!("/run/netns/{}", lab.client_ns()))
        .ok()
        .map(|p| p.display().to_string());
    let veth = meta["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "veth0" && !i["netns"].is_null())
        .unwrap_or_else(|| panic!("no veth0 of the lab namespace in {:#}", meta["interfaces"]));
    assert!(
        veth["netns"].as_str().unwrap().starts_with("net:["),
        "{veth}"
    );
    let _ = lab_ns;
}
