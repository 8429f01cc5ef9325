//! Issue 13 item 1: sockets are what the kernel's fd table says, not fd
//! numbers. Two programs, each traced 20 times in a lab namespace:
//!
//! - 8 threads opening, writing and closing files and UDP sockets in a
//!   tight loop (fd numbers are reused by the other kind within
//!   microseconds): no file write may be recorded as socket I/O, and no
//!   socket's write may be lost to a late close of the same number.
//! - 8 concurrent TCP connections to the lab proxy, exactly one of them to
//!   a closed port: the verdict always names that one, and only it.
//!
//! Needs root, like e2e.rs.

mod support;

use std::path::Path;

use gotrace_e2e::{Lab, LabConfig};
use serde_json::Value;
use support::{bundle, Scratch};

const RUNS: usize = 20;
const THREADS: usize = 8;
/// Loop iterations per thread of the fd-reuse program.
const ROUNDS: usize = 100;

/// 8 threads: a file write then a connected UDP socket's write(2) per round.
const FD_REUSE: &str = r#"
import os, socket, sys, threading
d, rounds = sys.argv[1], int(sys.argv[2])
file_fds, sock_fds = set(), set()
def work(t):
    for i in range(rounds):
        fd = os.open(f"{d}/f{t}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        file_fds.add(fd)
        os.write(fd, b"FILEDATA-%d-%d\n" % (t, i))
        os.close(fd)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock_fds.add(s.fileno())
        s.connect(("198.18.0.2", 9))
        os.write(s.fileno(), b"SOCKDATA-%d-%d" % (t, i))
        s.close()
ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
for t in ts: t.start()
for t in ts: t.join()
with open(f"{d}/both", "w") as f: f.write(str(len(file_fds & sock_fds)))
"#;

/// 8 threads dial the lab proxy at once; thread 5 dials a closed port and
/// fails with Go's words for it.
const ONE_FAILS: &str = r#"
import socket, sys, threading
failed = []
def work(t):
    port = 8081 if t == 5 else 8080
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.connect(("198.18.0.2", port))
        s.sendall(b"GET /lab.test/greet/@v/list HTTP/1.0\r\nHost: 198.18.0.2\r\n\r\n")
        while s.recv(4096):
            pass
    except ConnectionRefusedError:
        failed.append(f"dial tcp 198.18.0.2:{port}: connect: connection refused")
    finally:
        s.close()
ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
for t in ts: t.start()
for t in ts: t.join()
for f in failed: print(f, file=sys.stderr)
sys.exit(1 if failed else 0)
"#;

/// Runs `python3 -c PROGRAM ARGS` under `gotrace run --json` in the lab's
/// client namespace; the verdict JSON and the bundle's events.
fn traced(lab: &Lab, dir: &Path, run: usize, program: &str, args: &[&str]) -> (Value, Vec<Value>) {
    let b = dir.join(format!("b{run}"));
    let b_s = b.display().to_string();
    let mut argv = vec!["-o", &b_s, "--json", "--", "python3", "-c", program];
    argv.extend_from_slice(args);
    let out = support::gotrace_run_in(lab.client_ns(), &argv, &[])
        .output()
        .expect("running gotrace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict = bundle::verdict_from_stdout(&stdout)
        .unwrap_or_else(|| panic!("no verdict\n{}", support::describe(&out)));
    (verdict, bundle::events(&b))
}

/// The payload head of a send/recv event, as bytes.
fn payload(e: &Value) -> Vec<u8> {
    let hex = e["data_hex"].as_str().unwrap_or("");
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

#[test]
fn files_and_sockets_on_reused_fds_are_never_confused() {
    support::require_root();
    let lab = Lab::up(LabConfig::default()).expect("lab");
    let scratch = Scratch::new("fd-reuse");
    let files = scratch.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let (files_s, rounds) = (files.display().to_string(), ROUNDS.to_string());
    let mut reused = 0;
    for run in 0..RUNS {
        let (v, events) = traced(&lab, scratch.path(), run, FD_REUSE, &[&files_s, &rounds]);
        let io: Vec<&Value> = events
            .iter()
            .filter(|e| e["kind"] == "send" || e["kind"] == "recv")
            .collect();
        let as_socket: Vec<&&Value> = io
            .iter()
            .filter(|e| payload(e).starts_with(b"FILEDATA"))
            .collect();
        assert!(
            as_socket.is_empty(),
            "run {run}: file writes recorded as socket I/O: {as_socket:?}"
        );
        let sent = io
            .iter()
            .filter(|e| payload(e).starts_with(b"SOCKDATA"))
            .count();
        let lost = v["warnings"].to_string();
        assert_eq!(
            sent,
            THREADS * ROUNDS,
            "run {run}: socket writes recorded ({lost})"
        );
        assert!(
            io.iter().all(|e| e["sock"].is_string()),
            "run {run}: every socket event carries its kernel address"
        );
        // The race this guards against must happen: numbers that named a
        // file and a socket within the run (the program counts them).
        let both = std::fs::read_to_string(files.join("both")).unwrap_or_default();
        reused += both.trim().parse::<usize>().unwrap_or(0);
    }
    eprintln!("[fd-reuse] {RUNS} runs: {reused} fd numbers named both a file and a socket; 0 file writes recorded as socket I/O");
    assert!(reused >= RUNS, "few fd numbers named both: {reused}");
}

#[test]
fn of_eight_concurrent_connections_the_one_that_failed_is_named() {
    support::require_root();
    let lab = Lab::up(LabConfig::default()).expect("lab");
    let scratch = Scratch::new("one-of-eight");
    for run in 0..RUNS {
        let (v, events) = traced(&lab, scratch.path(), run, ONE_FAILS, &[]);
        assert_eq!(v["layer"], "network", "run {run}: {v}");
        assert_eq!(v["cause"], "connection-refused", "run {run}: {v}");
        assert_eq!(v["target"]["port"], 8081, "run {run}: {v}");
        let cited: Vec<Value> = bundle::cited(&v, "event")
            .into_iter()
            .filter_map(|id| events.iter().find(|e| e["id"] == id).cloned())
            .collect();
        assert!(!cited.is_empty(), "run {run}: no event cited: {v}");
        for e in &cited {
            let fd = e["fd"].as_i64();
            let connect = events.iter().rev().find(|c| {
                c["kind"] == "connect"
                    && c["fd"].as_i64() == fd
                    && c["tgid"] == e["tgid"]
                    && c["id"].as_u64() <= e["id"].as_u64()
            });
            let peer = connect.and_then(bundle::peer);
            assert_eq!(
                peer.as_deref(),
                Some("198.18.0.2:8081"),
                "run {run}: cited {e} is not on the failed connection"
            );
        }
    }
}
