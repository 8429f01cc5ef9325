//! `test`: setup + build, then every test of the workspace (`cargo test
//! --workspace`: analyzer, tracer, ABI and xtask tests, and the root-only
//! e2e tests of `gotrace-e2e` against the freshly built binary), then a fuzz
//! smoke run of every cargo-fuzz target (`fuzz::smoke`).
//!
//! A plain `cargo test` leaves `gotrace-e2e` out (it is not in the
//! workspace's `default-members`), so this is the one command that runs it.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::{build, fuzz, setup, util};

/// The package whose tests need root (network namespaces, eBPF, AF_PACKET)
/// and that a plain `cargo test` therefore does not select.
const ROOT_ONLY: &str = "gotrace-e2e";

/// What `run` runs, said before it starts.
const SCOPE: &str = "cargo test --workspace: unit and integration tests of every crate \
     (no privileges needed) and the end-to-end tests of gotrace-e2e (need root), \
     then the fuzz smoke run";

/// Runs the whole test suite; `extra` is passed on to `cargo test`.
///
/// Ends with the results of the tests that need no privileges and of those
/// that need root, then one plain total line (`tests: N passed, N failed,
/// N skipped`) summed over every test binary, because cargo's own last line
/// is a doc-test run with 0 tests and would read as "nothing ran".
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
    let mut tally = Tally::new(root_only_crates()?);
    // One pipe for cargo's stderr ("Running <binary>") and the test
    // binaries' stdout ("test result: ..."), so each result line is read
    // after the line naming its binary; all of it is echoed on stdout.
    let (reader, writer) = std::io::pipe().map_err(|e| format!("creating a pipe: {e}"))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| format!("duplicating a pipe: {e}"))?;
    let mut cmd = util::cargo();
    // --no-fail-fast: one failing test binary must not hide the others' results.
    cmd.args(["test", "--workspace", "--locked", "--no-fail-fast"])
        .args(extra)
        .current_dir(gotrace_e2e::workspace_root())
        .env("GOTRACE_BIN", &gotrace)
        .stdout(writer)
        .stderr(writer2);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting cargo test: {e}"))?;
    // Our copies of the write end: the read below ends when cargo's do.
    drop(cmd);
    for line in BufReader::new(reader).lines().map_while(Result::ok) {
        println!("{line}");
        tally.line(&line);
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo test: {e}"))?;
    // The fuzz smoke runs whatever cargo test said, before the totals
    // (which stay last for whoever reads the end of the output).
    let fuzzed = fuzz::smoke();
    if let Err(e) = &fuzzed {
        eprintln!("xtask: {e}");
    }
    let total = tally.total();
    println!(
        "tests without privileges (every crate but {ROOT_ONLY}): {}",
        tally.plain
    );
    println!("tests needing root ({ROOT_ONLY}): {}", tally.root);
    println!("tests: {total}");
    if !status.success() {
        return Err(format!("cargo test failed ({status})"));
    }
    fuzzed?;
    if total.passed == 0 {
        return Err("cargo test ran no test".into());
    }
    Ok(())
}

/// The crate names of [`ROOT_ONLY`]'s targets (library and test files), as
/// cargo's output names their binaries; from `cargo metadata`.
fn root_only_crates() -> Result<Vec<String>, String> {
    let out = util::cargo()
        .args(["metadata", "--no-deps", "--format-version", "1", "--locked"])
        .current_dir(gotrace_e2e::workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("starting cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed ({})", out.status));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("reading cargo metadata's output: {e}"))?;
    let crates: Vec<String> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == ROOT_ONLY)
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["name"].as_str())
        .map(|name| name.replace('-', "_"))
        .collect();
    if crates.is_empty() {
        return Err(format!("cargo metadata lists no package {ROOT_ONLY}"));
    }
    Ok(crates)
}

/// libtest results split by whether the binary that printed them belongs to
/// [`ROOT_ONLY`], from cargo's `Running` and `Doc-tests` lines.
struct Tally {
    root_only: Vec<String>,
    in_root_only: bool,
    plain: Totals,
    root: Totals,
}

impl Tally {
    fn new(root_only: Vec<String>) -> Tally {
        Tally {
            root_only,
            in_root_only: false,
            plain: Totals::default(),
            root: Totals::default(),
        }
    }

    /// Adds one line of cargo test's merged output, e.g.
    /// `     Running tests/e2e.rs (target/debug/deps/e2e-0123abcd)`,
    /// `   Doc-tests gotrace_e2e`, or a `test result:` line.
    fn line(&mut self, line: &str) {
        let t = line.trim_start();
        let binary = if let Some(rest) = t.strip_prefix("Running ") {
            // The binary's file name is `<crate>-<hash>`.
            rest.rsplit_once('(')
                .and_then(|(_, path)| path.trim_end().strip_suffix(')'))
                .and_then(|path| path.rsplit('/').next())
                .and_then(|file| file.rsplit_once('-'))
                .map(|(name, _)| name)
        } else {
            t.strip_prefix("Doc-tests ").map(str::trim)
        };
        match binary {
            Some(name) => self.in_root_only = self.root_only.iter().any(|c| c == name),
            None if self.in_root_only => self.root.add(line),
            None => self.plain.add(line),
        }
    }

    fn total(&self) -> Totals {
        Totals {
            passed: self.plain.passed + self.root.passed,
            failed: self.plain.failed + self.root.failed,
            ignored: self.plain.ignored + self.root.ignored,
        }
    }
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

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.ignored
        )
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

    #[test]
    fn splits_results_by_the_binary_that_printed_them() {
        let mut t = super::Tally::new(vec!["gotrace_e2e".into(), "e2e".into()]);
        for line in [
            "     Running unittests src/lib.rs (target/debug/deps/gotrace_abi-9b81432c80d746b4)",
            "test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "     Running tests/e2e.rs (target/debug/deps/e2e-0123abcd)",
            "test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 9.1s",
            "     Running tests/verdicts.rs (target/debug/deps/verdicts-fa68a16b758e964e)",
            "test result: ok. 29 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.03s",
            "   Doc-tests gotrace_e2e",
            "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        ] {
            t.line(line);
        }
        assert_eq!(t.plain.to_string(), "34 passed, 0 failed, 0 skipped");
        assert_eq!(t.root.to_string(), "4 passed, 2 failed, 1 skipped");
        assert_eq!(t.total().to_string(), "38 passed, 2 failed, 1 skipped");
    }
}
