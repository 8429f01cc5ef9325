//! `test`: setup + build, then every test of the workspace (`cargo test
//! --workspace`: analyzer, tracer, ABI and xtask tests, and the root-only
//! e2e tests of `gotrace-e2e` against the freshly built binary), then a fuzz
//! smoke run of every cargo-fuzz target (`fuzz::smoke`).
//!
//! A plain `cargo test` leaves `gotrace-e2e` out (it is not in the
//! workspace's `default-members`), so this is the one command that runs it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::{build, fuzz, setup, util};

/// The package whose tests need root (network namespaces, eBPF, AF_PACKET)
/// and that a plain `cargo test` therefore does not select.
const ROOT_ONLY: &str = "gotrace-e2e";

/// What `run` runs, said before it starts and again above the total line.
const SCOPE: &str = "cargo test --workspace: unit and integration tests of every crate \
     (no privileges needed) and the end-to-end tests of gotrace-e2e (need root), \
     then the fuzz smoke run";

/// Runs the whole test suite; `extra` is passed on to `cargo test`.
///
/// Ends with one plain total line (`tests: N passed, N failed, N skipped`)
/// summed over every test binary, because cargo's own last line is a
/// doc-test run with 0 tests and would read as "nothing ran".
pub fn run(extra: &[String]) -> Result<(), String> {
    eprintln!("xtask: {SCOPE}");
    if !gotrace_e2e::is_root() {
        eprintln!(
            "xtask: warning: not root; the {ROOT_ONLY} tests will fail (run `sudo cargo xtask test`, \
             or a plain `cargo test` for the tests any user can run)"
        );
    }
    setup::run()?;
    let gotrace = build::run()?;
    let mut cmd = util::cargo();
    // --no-fail-fast: one failing test binary must not hide the others' results.
    cmd.args(["test", "--workspace", "--locked", "--no-fail-fast"])
        .args(extra)
        .current_dir(gotrace_e2e::workspace_root())
        .env("GOTRACE_BIN", &gotrace)
        .stdout(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting cargo test: {e}"))?;
    let mut totals = Totals::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            totals.add(&line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo test: {e}"))?;
    // The fuzz smoke runs whatever cargo test said, before the total line
    // (which stays last for whoever reads the end of the output).
    let fuzzed = fuzz::smoke();
    if let Err(e) = &fuzzed {
        eprintln!("xtask: {e}");
    }
    println!("{SCOPE}");
    println!(
        "tests: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    if !status.success() {
        return Err(format!("cargo test failed ({status})"));
    }
    fuzzed?;
    if totals.passed == 0 {
        return Err("cargo test ran no test".into());
    }
    Ok(())
}

/// Sums of libtest's `test result:` lines.
#[derive(Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds one line of libtest output, e.g.
    /// `test result: ok. 27 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; ...`.
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match label {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_libtest_result_lines() {
        let mut t = super::Totals::default();
        t.add("test result: ok. 27 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 40.33s");
        t.add("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        t.add("test foo ... ok");
        assert_eq!((t.passed, t.failed, t.ignored), (30, 2, 1));
    }
}
