//! Helpers for e2e.rs: preconditions, running a scenario under gotrace,
//! keeping bundles of failed tests, reading bundles.

#![allow(dead_code)] // each test uses a different subset

pub mod bundle;
pub mod tshark;

use std::path::{Path, PathBuf};
use std::process::Output;

use gotrace_e2e::scenario::{self, Scenario};
use gotrace_e2e::Lab;
use serde_json::Value;

/// Fails the test (never skips it) when not root: a skipped e2e test would
/// look like a pass.
pub fn require_root() {
    assert!(
        gotrace_e2e::is_root(),
        "the e2e tests need root (network namespaces, eBPF, AF_PACKET): run `sudo cargo xtask test`"
    );
}

/// The gotrace binary under test; fails with how to build it when absent.
pub fn gotrace() -> PathBuf {
    let bin = gotrace_e2e::gotrace_bin();
    assert!(
        bin.is_file(),
        "gotrace binary not found at {} (set GOTRACE_BIN or run `cargo xtask build` first)",
        bin.display()
    );
    bin
}

/// Runs plain `go mod tidy` in scenario `name` and checks Go's exit status
/// and error text; returns Go's stderr.
pub fn plain_go(name: &str) -> String {
    require_root();
    let s = scenario::by_name(name).expect("known scenario");
    let lab = Lab::up(s.config.clone()).expect("setting up the lab");
    let out = lab.go(&["mod", "tidy"]).expect("running go");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!(
        "[{name}] go mod tidy exited {}; stderr:\n{stderr}",
        out.status
    );
    assert_go_outcome(&s, out.status.code(), &stderr, &stderr);
    stderr
}

/// The exit status is the scenario's and Go's stderr says what the
/// scenario records; `context` goes into the failure message.
fn assert_go_outcome(s: &Scenario, code: Option<i32>, stderr: &str, context: &str) {
    assert_eq!(code, Some(s.exit_code), "exit status\n{context}");
    assert!(
        stderr.contains(s.go_says),
        "go's stderr should contain {:?}\n{context}",
        s.go_says
    );
}

/// `ip netns exec NS gotrace run ARGS` from `/`, with the minimal
/// environment sudo leaves (root's HOME, USER and LOGNAME; a standard
/// PATH) plus `extra_env`.
pub fn gotrace_run_in(
    ns: &str,
    args: &[&str],
    extra_env: &[(&str, String)],
) -> std::process::Command {
    let mut c = std::process::Command::new("ip");
    c.args(["netns", "exec", ns])
        .arg(gotrace())
        .arg("run")
        .args(args)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", "/root")
        .env("USER", "root")
        .env("LOGNAME", "root")
        .envs(extra_env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir("/");
    c
}

/// A finished process's status, stdout and stderr, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A scratch directory for one test's bundle: deleted when the test
/// passes, kept (and its path printed) when it panics.
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Scratch {
    /// A new scratch dir named after the test.
    pub fn new(test: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("gotrace-e2e-{test}-"))
            .tempdir()
            .expect("creating a scratch dir under $TMPDIR");
        let path = dir.path().to_path_buf();
        Scratch {
            dir: Some(dir),
            path,
        }
    }

    /// The scratch dir.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                eprintln!("kept for inspection: {}", dir.keep().display());
            }
        }
    }
}

/// The result of one scenario run under gotrace.
pub struct Traced {
    pub scenario: Scenario,
    pub lab: Lab,
    pub scratch: Scratch,
    pub bundle: PathBuf,
    pub output: Output,
    pub verdict: Value,
}

impl Traced {
    /// The run's stderr (the command's stderr and gotrace's report).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// Sets up scenario `name`, runs `gotrace run -o <bundle> --json -- go mod
/// tidy` in it, checks the exit status and the verdict's layer and cause,
/// and that tshark reads the capture cleanly.
pub fn trace(name: &str) -> Traced {
    require_root();
    let bin = gotrace();
    let scenario = scenario::by_name(name).expect("known scenario");
    let expected = scenario
        .verdict
        .expect("trace() needs a scenario with an expected verdict");
    let scratch = Scratch::new(name);
    let lab = Lab::up(scenario.config.clone()).expect("setting up the lab");
    let bundle = scratch.path().join("bundle");
    let output = scenario::run_gotrace(&lab, &bin, &bundle, true).expect("running gotrace");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let context = format!(
        "bundle: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        bundle.display()
    );
    let verdict = bundle::verdict_from_stdout(&stdout)
        .unwrap_or_else(|| panic!("no verdict JSON on stdout\n{context}"));
    save_result(&bundle, &verdict);
    // gotrace exits with go's status and passes go's stderr through.
    assert_go_outcome(&scenario, output.status.code(), &stderr, &context);
    let capture = bundle.join("capture.pcapng");
    tshark::assert_reads_cleanly(&capture);
    tshark::assert_stays_in_lab(&capture);
    eprintln!(
        "[{name}] verdict {} / {}",
        verdict["layer"].as_str().unwrap_or("?"),
        verdict["cause"].as_str().unwrap_or("?")
    );
    // Last, so a wrong verdict is the only thing a failure can mean.
    assert_eq!(verdict["layer"], expected.layer, "layer\n{context}");
    assert_eq!(verdict["cause"], expected.cause, "cause\n{context}");
    Traced {
        scenario,
        lab,
        scratch,
        bundle,
        output,
        verdict,
    }
}

/// The events the verdict cites, from events.jsonl (panics on an id
/// events.jsonl lacks).
pub fn cited_events(t: &Traced) -> Vec<Value> {
    let events = bundle::events(&t.bundle);
    bundle::cited(&t.verdict, "event")
        .into_iter()
        .map(|id| {
            events
                .iter()
                .find(|e| e["id"] == id)
                .cloned()
                .unwrap_or_else(|| panic!("cited event #{id} is not in events.jsonl"))
        })
        .collect()
}

/// Frame numbers of the cited packets that match the tshark `filter`.
pub fn cited_matching(t: &Traced, filter: &str) -> Vec<u64> {
    let capture = t.bundle.join("capture.pcapng");
    let cited = bundle::cited(&t.verdict, "packet");
    tshark::fields(&capture, filter, &["frame.number"])
        .iter()
        .filter_map(|f| f.first()?.parse::<u64>().ok())
        .filter(|n| cited.contains(n))
        .collect()
}

/// With `GOTRACE_E2E_RESULTS=DIR` (set per test by `cargo xtask test
/// --kernel`), copies the verdict and the bundle's meta.json (its
/// `warnings`, `kernel_release`) into DIR before any assertion, so the
/// kernel matrix shows what each kernel concluded even when a check fails.
fn save_result(bundle: &Path, verdict: &Value) {
    let Some(dir) = std::env::var_os("GOTRACE_E2E_RESULTS") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("creating GOTRACE_E2E_RESULTS");
    std::fs::write(dir.join("verdict.json"), verdict.to_string()).expect("saving the verdict");
    std::fs::copy(bundle.join("meta.json"), dir.join("meta.json")).expect("saving meta.json");
}
