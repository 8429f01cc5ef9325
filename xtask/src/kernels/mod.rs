//! `test --kernel VERSION|all [--scenarios NAME,...]`: the root e2e tests
//! (or the named subset; `smoke` is CI's) in other kernels, booted with
//! virtme-ng under TCG, against the host-built gotrace and test binaries;
//! prints one table kernel x test with each verdict and each kernel's
//! warnings. Kernel images are cached under `target/kernels`; results of
//! the last run stay under `target/kernel-matrix/<kernel>`.

mod catalog;
mod fetch;
mod guest;
mod report;
mod tests;

use std::time::Instant;

use crate::{build, setup, util};

/// Parsed `--kernel` / `--scenarios` arguments.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    kernels: String,
    scenarios: Vec<String>,
}

/// Parses `--kernel SPEC [--scenarios A,B ...]` (also `--flag=value`).
fn parse(args: &[String]) -> Result<Args, String> {
    let mut kernels = None;
    let mut scenarios = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag {
            "--kernel" => kernels = Some(value()?),
            "--scenarios" => scenarios.extend(
                value()?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            ),
            _ => return Err(format!("test --kernel: unknown argument {a:?}")),
        }
    }
    let kernels = kernels.ok_or("test --kernel: which kernel? (VERSION[,VERSION...] or all)")?;
    Ok(Args { kernels, scenarios })
}

/// True when `args` ask for the kernel matrix rather than the host suite.
pub fn wanted(args: &[String]) -> bool {
    args.iter()
        .any(|a| a == "--kernel" || a.starts_with("--kernel="))
}

/// Runs the matrix; Err when a test failed or did not run on some kernel.
pub fn run(args: &[String]) -> Result<(), String> {
    let args = parse(args)?;
    let kernels = catalog::select(&args.kernels)?;
    let started = Instant::now();
    setup::run()?;
    fetch::tools()?;
    let gotrace = build::run()?;
    let selected = tests::select(&args.scenarios)?;
    eprintln!(
        "xtask: {} tests on {} kernels",
        selected.len(),
        kernels.len()
    );
    let cache = util::target_dir().join("kernels");
    let results = util::target_dir().join("kernel-matrix");
    let mut cols = Vec::new();
    for k in &kernels {
        let dir = results.join(k.id);
        let kimg = match k.source {
            catalog::Source::Host => None,
            _ => match fetch::image(k, &cache) {
                Ok(p) => Some(p),
                Err(e) => {
                    let mut col = report::read(k.id, &dir, &[]);
                    col.error = Some(format!("no image: {e}"));
                    col.cells = selected
                        .iter()
                        .map(|_| report::Cell {
                            rc: None,
                            verdict: None,
                            retried: None,
                        })
                        .collect();
                    cols.push(col);
                    continue;
                }
            },
        };
        eprintln!(
            "xtask: kernel {} ({}): {} tests",
            k.id,
            k.who,
            selected.len()
        );
        let run = guest::Run {
            kimg: kimg.as_deref(),
            tests: &selected,
            gotrace: &gotrace,
            dir: &dir,
        };
        let outcome = guest::run(&run);
        let mut col = report::read(k.id, &dir, &selected);
        match outcome {
            Ok(took) => col.secs = took.as_secs_f64(),
            Err(e) => col.error = Some(e),
        }
        if col.release.is_none() && col.error.is_none() {
            col.error = Some(format!(
                "the guest never ran its script: see {}",
                dir.join("console.log").display()
            ));
        }
        eprintln!("xtask: kernel {} done in {:.0} s", k.id, col.secs);
        cols.push(col);
    }
    println!("{}", report::render(&selected, &cols));
    println!("matrix wall time: {:.0} s", started.elapsed().as_secs_f64());
    let total = selected.len() * cols.len();
    let passed = cols
        .iter()
        .flat_map(|c| &c.cells)
        .filter(|c| c.passed())
        .count();
    let second = cols
        .iter()
        .flat_map(|c| &c.cells)
        .filter(|c| c.passed() && c.retried.is_some())
        .count();
    // The plain closing line CI reads (`N passed, N failed`).
    println!(
        "kernel matrix: {passed} passed ({second} of them on a second run), {} failed",
        total - passed
    );
    if passed == total {
        Ok(())
    } else {
        Err(format!(
            "{} of {total} kernel x test runs did not pass (details under {})",
            total - passed,
            results.display()
        ))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn parses_kernel_and_scenarios() {
        let a = parse(&s(&[
            "--kernel",
            "all",
            "--scenarios",
            "smoke,x",
            "--scenarios=y",
        ]))
        .unwrap();
        assert_eq!(
            a,
            Args {
                kernels: "all".into(),
                scenarios: s(&["smoke", "x", "y"])
            }
        );
        assert!(parse(&s(&["--scenarios", "x"]))
            .unwrap_err()
            .contains("which kernel"));
        assert!(parse(&s(&["--kernel"]))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(&s(&["--kernel", "6.1", "--bogus"]))
            .unwrap_err()
            .contains("--bogus"));
        assert!(wanted(&s(&["--kernel=6.1"])) && !wanted(&s(&["--", "x"])));
    }
}
