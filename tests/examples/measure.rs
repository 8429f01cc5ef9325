//! Re-measure lab scenarios by hand (FIELD-NOTES: "re-measure before
//! relying on a detail"): for each scenario named on the command line (or
//! all), bring its lab up, run `go mod tidy` under `strace -f -e
//! trace=%network` while `tcpdump -i any -n -v` listens in the client
//! namespace, and print Go's exit status and last stderr lines, the
//! network syscalls, and the packets with their interface.
//!
//! `sudo cargo run -p gotrace-e2e --example measure -- [NAME...]`
//! Needs strace and tcpdump. Everything stays in the lab, as in the tests.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use gotrace_e2e::{scenario, Lab};

fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    gotrace_e2e::survive_interrupts();
    for s in scenario::all() {
        if !names.is_empty() && !names.iter().any(|n| n == s.name) {
            continue;
        }
        if gotrace_e2e::interrupted() {
            break;
        }
        println!("===== {}", s.name);
        match Lab::up(s.config.clone()) {
            Ok(lab) => measure(&lab),
            Err(e) => println!("lab: {e}"),
        }
    }
}

fn measure(lab: &Lab) {
    let dump = lab.temp_dir().join("tcpdump.txt");
    let mut tcpdump = match start_tcpdump(lab.client_ns(), &dump) {
        Ok(c) => c,
        Err(e) => return println!("tcpdump: {e}"),
    };
    let trace = lab.temp_dir().join("strace.txt");
    let start = std::time::Instant::now();
    let out = lab
        .command("/usr/bin/strace")
        .args(["-f", "-qq", "-e", "trace=%network", "-o"])
        .arg(&trace)
        .args(["go", "mod", "tidy"])
        .output();
    let took = start.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    // SIGINT (our own child, by pid) so tcpdump flushes what it has.
    // SAFETY: kill(2) on a child we have not reaped yet.
    unsafe { libc::kill(tcpdump.id() as libc::pid_t, libc::SIGINT) };
    let _ = tcpdump.wait();
    match out {
        Ok(out) => {
            println!(
                "exit {:?} after {took:.1} s; stderr tail:",
                out.status.code()
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = stderr.lines().collect();
            for line in &lines[lines.len().saturating_sub(3)..] {
                println!("  {line}");
            }
        }
        Err(e) => println!("running go: {e}"),
    }
    for (title, file) in [
        ("network syscalls (strace)", &trace),
        ("packets (tcpdump -i any, client namespace)", &dump),
    ] {
        println!("{title}:");
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for line in text.lines().filter(|l| !l.contains("--- SIG")) {
            println!("  {line}");
        }
    }
}

/// `tcpdump -i any -n -v -l FILTER > out` in namespace `ns`, returned once
/// it listens (it says so on stderr).
fn start_tcpdump(ns: &str, out: &Path) -> std::io::Result<Child> {
    let err = out.with_extension("err");
    let mut child = Command::new("ip")
        .args([
            "netns", "exec", ns, "tcpdump", "-i", "any", "-n", "-v", "-l",
        ])
        // Leave out the veths' own IPv6 multicast chatter (DAD, MLD,
        // router solicitations): every packet to ff00::/8.
        .arg("not (ip6 and ip6[24] == 0xff)")
        .stdout(std::fs::File::create(out)?)
        .stderr(std::fs::File::create(&err)?)
        .spawn()?;
    for _ in 0..100 {
        if std::fs::read_to_string(&err).is_ok_and(|t| t.contains("listening on")) {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(std::io::Error::other("tcpdump did not start listening"))
}
