//! End-to-end test of `attach` taking the whole tree (issue 16, item 4):
//! gotrace attaches to a shell whose `go mod tidy` child is already
//! running, its SYNs dropped by this host's OUTPUT chain. The child is
//! traced from the attach on, its open socket is registered, and the
//! verdict at `--duration`'s end is the child's pending dial: kernel /
//! local-firewall-drop, with the drop records as evidence. Needs root.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::bundle;

/// The children of `pid` (from /proc/PID/task/*/children, proc(5)).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn attach_to_the_parent_diagnoses_the_child_s_hanging_dial() {
    support::require_root();
    let scratch = support::Scratch::new("attach-tree");
    let lab = gotrace_e2e::Lab::up(gotrace_e2e::LabConfig {
        firewall: gotrace_e2e::Firewall::ClientDropsOutput,
        syn_retries: None,
        ..gotrace_e2e::LabConfig::default()
    })
    .expect("setting up the lab");
    // `; exit 0` keeps the shell from exec'ing go: go is its child.
    let mut sh = lab
        .command("sh")
        .args(["-c", "go mod tidy; exit 0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting sh");
    let shell = sh.id();
    let port = format!(":{:04X} 02 ", gotrace_e2e::PROXY_PORT);
    let start = Instant::now();
    let go = loop {
        let dialing = children(shell).into_iter().find(|c| {
            std::fs::read_to_string(format!("/proc/{c}/net/tcp")).is_ok_and(|t| t.contains(&port))
                && std::fs::read_to_string(format!("/proc/{c}/comm"))
                    .is_ok_and(|c| c.trim() == "go")
        });
        if let Some(g) = dialing {
            break g;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "go never dialed the proxy"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let dir = scratch.path().join("bundle");
    let out = Command::new(support::gotrace())
        .args(["attach", "--pid", &shell.to_string(), "--duration", "3s"])
        .args(["--json", "-q", "-o"])
        .arg(&dir)
        .output()
        .expect("running gotrace attach");
    // Ours to stop: the shell we started and its go, by PID.
    unsafe { libc::kill(go as i32, libc::SIGKILL) };
    let _ = sh.kill();
    let _ = sh.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let context = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let v = bundle::verdict_from_stdout(&stdout).unwrap_or_else(|| panic!("no verdict: {context}"));
    let meta = bundle::meta(&dir);
    let attach = &meta["attach"];
    assert!(
        attach["descendants"]
            .as_array()
            .is_some_and(|d| d.iter().any(|p| p == go)),
        "go ({go}) not among the descendants: {attach:#}"
    );
    assert!(
        attach["pre_existing"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["pid"] == go && s["proto"] == "tcp")),
        "go's socket is not registered: {attach:#}"
    );
    assert_eq!(
        (v["layer"].as_str(), v["cause"].as_str()),
        (Some("kernel"), Some("local-firewall-drop")),
        "{v:#}\n{context}"
    );
    assert_eq!(v["pending"], true, "{v:#}");
    let events = bundle::events(&dir);
    let cited_go = bundle::cited(&v, "event")
        .into_iter()
        .any(|id| events.iter().any(|e| e["id"] == id && e["tgid"] == go));
    assert!(cited_go, "no cited event of go ({go}): {v:#}");
}
