//! Golden tests over recorded bundles in `fixtures/bundles/NAME/` (added by
//! the lab engineers; read-only here). Every bundle must analyse without
//! error; a bundle with an `expected.json` file ({"layer": ..., "cause": ...,
//! optional "evidence": [{"source", "id"}...]}) must reproduce it. The
//! directory is part of the repository: missing it, or finding no bundle
//! in it, is a failure.

mod common;

use std::path::Path;

use gotrace_analyzer::analyze_bundle;

#[test]
fn recorded_bundles_reproduce_their_expected_verdicts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles");
    let entries = std::fs::read_dir(&root).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the recorded bundles are part of the repository (cargo xtask record-fixtures)",
            root.display()
        )
    });
    let mut failures = Vec::new();
    let mut bundles = 0;
    for e in entries.flatten() {
        let dir = e.path();
        if dir.join("meta.json").exists() {
            bundles += 1;
            failures.extend(check(&dir));
        }
    }
    assert!(
        bundles > 0,
        "no bundle (a directory with meta.json) in {}",
        root.display()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Problems of one bundle against its `expected.json` (empty = fine).
fn check(dir: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let report = match analyze_bundle(dir) {
        Ok(r) => r,
        Err(err) => {
            failures.push(format!("{}: {err}", dir.display()));
            return failures;
        }
    };
    let Ok(text) = std::fs::read_to_string(dir.join("expected.json")) else {
        return failures;
    };
    let want: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(err) => {
            failures.push(format!("{}/expected.json: {err}", dir.display()));
            return failures;
        }
    };
    let got: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    for key in ["layer", "cause"] {
        if want.get(key).is_some() && want[key] != got[key] {
            failures.push(format!(
                "{}: {key} is {}, expected {}",
                dir.display(),
                got[key],
                want[key]
            ));
        }
    }
    if let Some(ev) = want.get("evidence").and_then(|v| v.as_array()) {
        let cited: Vec<(String, u64)> = got["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["source"].as_str().unwrap_or("").to_string(),
                    e["id"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        for w in ev {
            let key = (
                w["source"].as_str().unwrap_or("").to_string(),
                w["id"].as_u64().unwrap_or(0),
            );
            if !cited.contains(&key) {
                failures.push(format!("{}: evidence {key:?} not cited", dir.display()));
            }
        }
    }
    failures
}

#[test]
fn the_golden_check_can_fail() {
    let mut b = common::Bundle::new(Some(1));
    let (c, _, syn, _) = common::refused_dial(&mut b, false);
    b.stderr = Some(common::REFUSED_STDERR.into());
    let dir = b.write();
    let ok = format!(
        r#"{{"layer":"network","cause":"connection-refused","evidence":[{{"source":"event","id":{c}}},{{"source":"packet","id":{syn}}}]}}"#
    );
    std::fs::write(dir.join("expected.json"), ok).unwrap();
    assert_eq!(check(&dir), Vec::<String>::new());
    std::fs::write(
        dir.join("expected.json"),
        r#"{"layer":"kernel","evidence":[{"source":"packet","id":99}]}"#,
    )
    .unwrap();
    assert_eq!(check(&dir).len(), 2);
}
