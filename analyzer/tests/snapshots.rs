//! Snapshot tests: the text report and `verdict.json` of every recorded
//! bundle (`fixtures/bundles/*`) and the capture-only report of every shared
//! capture (`../shared/captures/*.pcap[ng]`), pinned byte for byte in
//! `tests/snapshots/` (insta). Any change to what a user reads shows up here
//! as a diff; accept an intended one with `cargo insta review` (or
//! `INSTA_UPDATE=always cargo test -p gotrace-analyzer --test snapshots`).

mod shared;

use std::path::{Path, PathBuf};

use gotrace_analyzer::{analyze_bundle, analyze_capture_input, render_text};

/// Sorted entries of `dir` that `keep` accepts; panics when there are none.
fn entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| keep(p))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "nothing to snapshot in {}", dir.display());
    v
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn fixture_bundle_reports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles");
    for dir in entries(&root, |p| p.join("meta.json").is_file()) {
        let report = analyze_bundle(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let n = name(&dir);
        insta::assert_snapshot!(format!("bundle-{n}.txt"), render_text(&report));
        insta::assert_snapshot!(format!("bundle-{n}.json"), report.to_json());
    }
}

#[test]
fn shared_capture_reports() {
    let is_capture = |p: &Path| {
        matches!(
            p.extension().and_then(|s| s.to_str()),
            Some("pcap" | "pcapng")
        )
    };
    for path in entries(&shared::dir(), is_capture) {
        let n = name(&path);
        // By file name, not path: the report quotes it, and the shared
        // directory is elsewhere on every machine.
        let file = std::fs::File::open(&path).unwrap();
        let report =
            analyze_capture_input(file, &n).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        insta::assert_snapshot!(format!("capture-{n}.txt"), render_text(&report));
        insta::assert_snapshot!(format!("capture-{n}.json"), report.to_json());
    }
}
