//! `record-fixtures`: run every e2e scenario under gotrace and keep the
//! bundles in fixtures/bundles/<scenario>/ for the analyzer's offline tests.

use std::path::Path;

use gotrace_e2e::{scenario, Lab};

/// A bundle bigger than this is worth a look before committing it.
const LARGE: u64 = 512 * 1024;

/// Records the scenarios named in `only` (all when empty), so a new
/// scenario is recorded without rewriting every other bundle; fails when
/// one cannot be recorded or a name is no scenario.
pub fn run(only: &[String]) -> Result<(), String> {
    if let Some(n) = only.iter().find(|n| scenario::by_name(n).is_none()) {
        return Err(format!("no scenario called {n}"));
    }
    if !gotrace_e2e::is_root() {
        return Err("recording needs root: run `sudo cargo xtask record-fixtures`".into());
    }
    // GOTRACE_BIN if set, else what `cargo xtask build` produced.
    let gotrace = std::env::var_os("GOTRACE_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(crate::util::gotrace_bin);
    if !gotrace.is_file() {
        return Err(format!(
            "no gotrace at {} (run `cargo xtask build` or set GOTRACE_BIN)",
            gotrace.display()
        ));
    }
    gotrace_e2e::survive_interrupts();
    let root = gotrace_e2e::fixtures_dir().join("bundles");
    for s in scenario::all() {
        if !only.is_empty() && !only.iter().any(|n| n == s.name) {
            continue;
        }
        if gotrace_e2e::interrupted() {
            return Err("interrupted".into());
        }
        let lab = Lab::up(s.config.clone()).map_err(|e| format!("{}: {e}", s.name))?;
        let bundle = lab.temp_dir().join("bundle");
        let out = scenario::run_gotrace(&lab, &gotrace, &bundle, false)
            .map_err(|e| format!("{}: {e}", s.name))?;
        if out.status.code() != Some(s.exit_code) {
            return Err(format!(
                "{}: gotrace exited {} (expected {}):\n{}",
                s.name,
                out.status,
                s.exit_code,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let dest = root.join(s.name);
        let _ = std::fs::remove_dir_all(&dest);
        let size = copy_files(&bundle, &dest)?;
        match s.verdict {
            Some(v) => {
                let file = dest.join("expected.json");
                let expected = expected_json(&dest, v.layer, v.cause)
                    .map_err(|e| format!("{}: {e}", s.name))?;
                std::fs::write(&file, expected)
                    .map_err(|e| format!("writing {}: {e}", file.display()))?;
            }
            None => eprintln!(
                "xtask: {}: no expected verdict in the scenario table, so no expected.json; \
                 analyzer/tests/fixture_bundles.rs fails until one is written",
                s.name
            ),
        }
        let note = if size > LARGE {
            " (large: check before committing)"
        } else {
            ""
        };
        eprintln!(
            "xtask: recorded {} -> {} ({size} bytes){note}",
            s.name,
            dest.display()
        );
    }
    Ok(())
}

/// The `expected.json` that analyzer/tests/fixture_bundles.rs checks the
/// bundle in `dir` against: the scenario's `layer` and `cause`, and the
/// evidence ids of the bundle's own verdict.json, one entry a line. Err when
/// verdict.json is missing or reaches another verdict than the scenario's.
fn expected_json(dir: &Path, layer: &str, cause: &str) -> Result<String, String> {
    let path = dir.join("verdict.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let verdict: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
    if verdict["layer"] != layer || verdict["cause"] != cause {
        return Err(format!(
            "{} says {} / {}, the scenario expects {layer} / {cause}",
            path.display(),
            verdict["layer"],
            verdict["cause"]
        ));
    }
    let mut entries = Vec::new();
    for e in verdict["evidence"].as_array().into_iter().flatten() {
        let (Some(source), Some(id)) = (e["source"].as_str(), e["id"].as_u64()) else {
            return Err(format!(
                "{}: evidence entry {e} has no source and id",
                path.display()
            ));
        };
        entries.push(format!("    {{\"source\": \"{source}\", \"id\": {id}}}"));
    }
    let evidence = if entries.is_empty() {
        "[]".to_string()
    } else {
        format!("[\n{}\n  ]", entries.join(",\n"))
    };
    Ok(format!(
        "{{\n  \"layer\": \"{layer}\",\n  \"cause\": \"{cause}\",\n  \"evidence\": {evidence}\n}}\n"
    ))
}

/// Copies the regular files of `src` into `dest`; returns the bytes copied.
fn copy_files(src: &Path, dest: &Path) -> Result<u64, String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
    let mut total = 0;
    let entries = std::fs::read_dir(src).map_err(|e| format!("reading {}: {e}", src.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            total += std::fs::copy(&path, dest.join(entry.file_name()))
                .map_err(|e| format!("copying {}: {e}", path.display()))?;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    /// Re-recording writes what is committed: every fixture's expected.json
    /// is `expected_json` of its own verdict.json.
    #[test]
    fn expected_json_matches_the_committed_fixtures() {
        let root = gotrace_e2e::fixtures_dir().join("bundles");
        let mut checked = 0;
        for entry in std::fs::read_dir(&root).unwrap().flatten() {
            let dir = entry.path();
            let Ok(committed) = std::fs::read_to_string(dir.join("expected.json")) else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(&committed).unwrap();
            let (layer, cause) = (v["layer"].as_str().unwrap(), v["cause"].as_str().unwrap());
            assert_eq!(
                super::expected_json(&dir, layer, cause).unwrap(),
                committed,
                "{}",
                dir.display()
            );
            checked += 1;
        }
        assert!(checked > 0, "no expected.json under {}", root.display());
    }
}
