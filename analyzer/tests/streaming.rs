//! Issue 15 item 4: `analyze_bundle` streams events.jsonl (correlation
//! keeps per-socket state and what its later passes need, never every
//! event). The reference is the analysis of the whole bundle read into
//! memory (`read_bundle` + `analyze` / `analyze_full`, what every analysis
//! was before): on every recorded bundle, and on variants whose events are
//! out of file order (within the reorder window, and past it, where the
//! streaming path falls back to sorting them all), verdict.json, the text
//! report, the packet notes and the HTML report's input must be the same
//! byte for byte.

mod common;

use std::path::Path;

use common::fixture_dirs;

use gotrace_analyzer::capture::CaptureIndex;
use gotrace_analyzer::{
    analyze, analyze_bundle, analyze_bundle_full, analyze_full, render_text, FullAnalysis,
};

/// The bundle in `dir` with every event read and sorted, and its capture.
fn read(dir: &Path) -> (gotrace_bundle::Bundle, Option<CaptureIndex>) {
    let mut b = gotrace_bundle::read_bundle(dir).expect("readable");
    let capture = match (b.take_capture(), b.capture.clone()) {
        (Some(f), Some(p)) => match CaptureIndex::from_file(f, &p) {
            Ok(idx) => Some(idx),
            Err(e) => {
                b.warnings.push(format!("{e}; the capture is not used"));
                None
            }
        },
        _ => None,
    };
    (b, capture)
}

/// The in-memory analysis of `dir`.
fn reference(dir: &Path) -> FullAnalysis {
    let (b, capture) = read(dir);
    let full = analyze_full(&b, capture);
    // analyze and analyze_full agree on the report.
    let (b, capture) = read(dir);
    assert_eq!(analyze(&b, capture).to_json(), full.report.to_json());
    full
}

fn assert_same(dir: &Path, what: &str) {
    let want = reference(dir);
    let got = analyze_bundle_full(dir).expect("analyzable");
    let plain = analyze_bundle(dir).expect("analyzable");
    let at = format!("{} ({what})", dir.display());
    assert_eq!(
        got.report.to_json(),
        want.report.to_json(),
        "{at}: verdict.json"
    );
    assert_eq!(
        plain.to_json(),
        want.report.to_json(),
        "{at}: analyze_bundle"
    );
    assert_eq!(
        render_text(&got.report),
        render_text(&want.report),
        "{at}: text report"
    );
    assert_eq!(got.packet_notes, want.packet_notes, "{at}: packet notes");
    assert_eq!(
        format!("{:?}", got.html),
        format!("{:?}", want.html),
        "{at}: HTML input"
    );
}

#[test]
fn streaming_gives_the_in_memory_analysis_on_every_recorded_bundle() {
    for dir in fixture_dirs() {
        assert_same(&dir, "as recorded");
    }
}

/// A copy of `src` with its events.jsonl replaced by `events`.
fn copy_with_events(src: &Path, dst: &Path, events: &str) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    std::fs::write(dst.join("events.jsonl"), events).unwrap();
}

#[test]
fn events_out_of_file_order_give_the_same_analysis() {
    let tmp = tempfile::tempdir().unwrap();
    for (n, dir) in fixture_dirs().into_iter().enumerate() {
        let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        // Reversed: every event out of place, within the reorder window.
        let reversed = tmp.path().join(format!("rev-{n}"));
        let mut rev: Vec<&str> = lines.clone();
        rev.reverse();
        copy_with_events(&dir, &reversed, &(rev.join("\n") + "\n"));
        assert_same(&reversed, "reversed");
        // Past the window: 9000 later events first (fork events, which
        // only count), then the recorded ones. Streaming must notice and
        // sort them all.
        let last_ts = lines
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["ts_ns"].as_u64())
            .max()
            .unwrap_or(0);
        let mut far = String::new();
        for i in 0..9000u64 {
            far.push_str(&format!(
                "{{\"id\":{},\"ts_ns\":{},\"tgid\":1,\"tid\":1,\"comm\":\"go\",\"kind\":\"fork\",\"child\":2}}\n",
                1_000_000 + i,
                last_ts + 1 + i
            ));
        }
        far.push_str(&(lines.join("\n") + "\n"));
        let late = tmp.path().join(format!("late-{n}"));
        copy_with_events(&dir, &late, &far);
        assert_same(&late, "past the reorder window");
    }
}
