//! Each recorded bundle (fixtures/bundles/NAME with an expected.json),
//! re-analysed with its capture removed and with its events removed: the
//! verdict may weaken to `inconclusive` but must never name another layer
//! (issue 3: a confident wrong layer is the worst outcome).

use std::path::{Path, PathBuf};

use gotrace_analyzer::{analyze_bundle, Layer};

/// Copies `src` to a temp dir without the file `drop`.
fn copy_without(src: &Path, drop: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let name = e.file_name();
        if name != drop && name != "verdict.json" {
            std::fs::copy(e.path(), dir.path().join(&name)).unwrap();
        }
    }
    dir
}

fn bundles() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&root).unwrap().flatten() {
        let Ok(text) = std::fs::read_to_string(e.path().join("expected.json")) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        out.push((e.path(), v["layer"].as_str().unwrap_or("").to_string()));
    }
    assert!(
        !out.is_empty(),
        "no bundle with expected.json in {}",
        root.display()
    );
    out
}

/// The layer after removing `file`, checked against the full bundle's.
fn check(file: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for (dir, want) in bundles() {
        let tmp = copy_without(&dir, file);
        let r = match analyze_bundle(tmp.path()) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{} without {file}: {e}", dir.display()));
                continue;
            }
        };
        let got = r.verdict.layer;
        if got != Layer::Inconclusive && got.as_str() != want {
            failures.push(format!(
                "{} without {file}: layer {} / {}, but the whole bundle says {want}",
                dir.display(),
                got.as_str(),
                r.verdict.cause
            ));
        }
    }
    failures
}

#[test]
fn without_the_capture_no_bundle_names_a_wrong_layer() {
    let f = check("capture.pcapng");
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn without_the_events_no_bundle_names_a_wrong_layer() {
    let f = check("events.jsonl");
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn without_stderr_no_bundle_names_a_wrong_layer() {
    let f = check("stderr.log");
    assert!(f.is_empty(), "{}", f.join("\n"));
}
