//! Reading each kernel's results back and printing the matrix: one
//! Markdown table, a row per test and a column per kernel, each cell the
//! test's outcome and the verdict gotrace reached, then every distinct
//! warning each kernel's runs recorded in meta.json.

use std::collections::BTreeSet;
use std::path::Path;

use super::guest::test_dir;
use super::tests::Test;

/// One test's outcome on one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The test binary's exit status; None when it left none (not run,
    /// or the VM died or timed out first).
    pub rc: Option<i32>,
    /// `layer/cause` (or `layer` when the cause is null) of the verdict.
    pub verdict: Option<String>,
    /// The first run's exit status when it failed and the test was run a
    /// second time (the cell then shows the second run).
    pub retried: Option<i32>,
}

impl Cell {
    pub fn passed(&self) -> bool {
        self.rc == Some(0)
    }

    fn text(&self) -> String {
        let outcome = match self.rc {
            Some(0) => "ok",
            Some(124) => "TIMEOUT",
            Some(_) => "FAIL",
            None => "NOT RUN",
        };
        let text = match &self.verdict {
            Some(v) => format!("{outcome} {v}"),
            None if self.rc == Some(0) => outcome.to_string(),
            None => format!("{outcome} (no verdict)"),
        };
        match self.retried {
            Some(rc) => format!("{text} (2nd run; the 1st exited {rc}: log.1)"),
            None => text,
        }
    }
}

/// One kernel's column.
#[derive(Debug, Default)]
pub struct Column {
    pub id: String,
    /// `uname -r` in the guest; None when the guest never ran the script.
    pub release: Option<String>,
    pub cells: Vec<Cell>,
    pub warnings: BTreeSet<String>,
    pub secs: f64,
    pub error: Option<String>,
}

/// Reads the results `tests` left under `dir` for kernel `id`.
pub fn read(id: &str, dir: &Path, tests: &[Test]) -> Column {
    let mut col = Column {
        id: id.to_string(),
        ..Column::default()
    };
    col.release = std::fs::read_to_string(dir.join("uname"))
        .ok()
        .map(|s| s.trim().to_string());
    for t in tests {
        let d = test_dir(dir, &t.name);
        let status = |f: &str| {
            std::fs::read_to_string(d.join(f))
                .ok()
                .and_then(|s| s.trim().parse().ok())
        };
        let (rc, retried) = (status("rc"), status("retried"));
        let json = |f: &str| {
            std::fs::read(d.join(f))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        };
        let verdict = json("verdict.json").map(|v| match v["cause"].as_str() {
            Some(c) => format!("{}/{c}", v["layer"].as_str().unwrap_or("?")),
            None => v["layer"].as_str().unwrap_or("?").to_string(),
        });
        if let Some(meta) = json("meta.json") {
            for w in meta["warnings"].as_array().into_iter().flatten() {
                if let Some(w) = w.as_str() {
                    col.warnings.insert(w.to_string());
                }
            }
        }
        col.cells.push(Cell {
            rc,
            verdict,
            retried,
        });
    }
    col
}

/// The Markdown table and the warnings, for `tests` (rows) x `cols`.
pub fn render(tests: &[Test], cols: &[Column]) -> String {
    let mut out = String::from("| test |");
    for c in cols {
        out.push_str(&format!(
            " {} ({}) |",
            c.id,
            c.release.as_deref().unwrap_or("did not boot")
        ));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(cols.len()));
    out.push('\n');
    for (i, t) in tests.iter().enumerate() {
        out.push_str(&format!("| {} |", t.name));
        for c in cols {
            let cell = c.cells.get(i).map(Cell::text).unwrap_or_default();
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out.push_str("| wall time |");
    for c in cols {
        out.push_str(&format!(" {:.0} s |", c.secs));
    }
    out.push('\n');
    for c in cols {
        if let Some(e) = &c.error {
            out.push_str(&format!("\n{}: {e}\n", c.id));
        }
        if c.warnings.is_empty() {
            out.push_str(&format!("\nwarnings on {}: none\n", c.id));
        } else {
            out.push_str(&format!("\nwarnings on {}:\n", c.id));
            for w in &c.warnings {
                out.push_str(&format!("- {w}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_say_the_outcome_and_the_verdict() {
        let c = |rc, v: Option<&str>| {
            Cell {
                rc,
                verdict: v.map(String::from),
                retried: None,
            }
            .text()
        };
        assert_eq!(c(Some(0), Some("none")), "ok none");
        assert_eq!(
            c(Some(101), Some("kernel/local-firewall-drop")),
            "FAIL kernel/local-firewall-drop"
        );
        assert_eq!(c(Some(124), None), "TIMEOUT (no verdict)");
        assert_eq!(c(None, None), "NOT RUN (no verdict)");
        let second = Cell {
            rc: Some(0),
            verdict: Some("none".into()),
            retried: Some(101),
        };
        assert_eq!(
            second.text(),
            "ok none (2nd run; the 1st exited 101: log.1)"
        );
    }

    #[test]
    fn reads_rc_verdict_and_warnings_back() {
        let dir = tempfile::tempdir().unwrap();
        let t = Test {
            binary: "/b".into(),
            name: "a::b".into(),
        };
        let d = test_dir(dir.path(), &t.name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(dir.path().join("uname"), "5.10.0-46-amd64\n").unwrap();
        std::fs::write(d.join("rc"), "101\n").unwrap();
        std::fs::write(
            d.join("verdict.json"),
            r#"{"layer":"network","cause":null}"#,
        )
        .unwrap();
        std::fs::write(d.join("meta.json"), r#"{"warnings":["w1"]}"#).unwrap();
        let col = read("5.10", dir.path(), std::slice::from_ref(&t));
        assert_eq!(col.release.as_deref(), Some("5.10.0-46-amd64"));
        assert_eq!(
            col.cells,
            [Cell {
                rc: Some(101),
                verdict: Some("network".into()),
                retried: None,
            }]
        );
        assert!(col.warnings.contains("w1"));
        let table = render(&[t], &[col]);
        assert!(table.contains("| a::b | FAIL network |"), "{table}");
        assert!(table.contains("- w1"), "{table}");
    }
}
