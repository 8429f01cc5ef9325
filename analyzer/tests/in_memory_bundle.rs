//! A bundle read from memory (`bundle_from_bytes` + `analyze`) gives the
//! report that reading its directory gives, for every recorded fixture.

use std::path::Path;

use gotrace_analyzer::capture::CaptureIndex;
use gotrace_analyzer::{analyze, analyze_bundle};
use gotrace_bundle::{bundle_from_bytes, ReadError};

#[test]
fn every_fixture_bundle_reads_the_same_from_memory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let b = e.path();
        if !b.join("meta.json").is_file() {
            continue;
        }
        let read = |name: &str| std::fs::read(b.join(name)).ok();
        let meta = read("meta.json").unwrap();
        let (events, stderr) = (read("events.jsonl"), read("stderr.log"));
        let bundle = bundle_from_bytes(&b, &meta, events.as_deref(), stderr.as_deref()).unwrap();
        let capture = CaptureIndex::from_path(&b.join("capture.pcapng")).ok();
        let from_memory = analyze(&bundle, capture);
        let from_disk = analyze_bundle(&b).unwrap();
        assert_eq!(
            from_memory.to_json(),
            from_disk.to_json(),
            "{}",
            b.display()
        );
        assert_eq!(from_memory.warnings, from_disk.warnings, "{}", b.display());
        n += 1;
    }
    assert!(n >= 20, "only {n} fixture bundles in {}", dir.display());
}

#[test]
fn bad_meta_from_memory_is_the_same_error() {
    let e =
        bundle_from_bytes(Path::new("mem"), b"{\"format_version\": 1}", None, None).unwrap_err();
    assert!(matches!(e, ReadError::MetaCorrupt { .. }), "{e}");
    assert!(e.to_string().contains("mem/meta.json"), "{e}");
    let e =
        bundle_from_bytes(Path::new("mem"), b"{\"format_version\": 99}", None, None).unwrap_err();
    assert!(
        matches!(e, ReadError::FormatTooNew { found: 99, .. }),
        "{e}"
    );
}

#[test]
fn missing_events_from_memory_warn_as_from_disk() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles/connection-refused");
    let meta = std::fs::read(dir.join("meta.json")).unwrap();
    let b = bundle_from_bytes(&dir, &meta, None, Some(b"go: boom\n")).unwrap();
    assert!(b.events.is_none());
    assert!(
        b.warnings
            .iter()
            .any(|w| w.starts_with("events.jsonl missing: no syscall trace")),
        "{:?}",
        b.warnings
    );
    assert_eq!(b.stderr.as_deref(), Some("go: boom\n"));
    let r = analyze(&b, None);
    assert_eq!(r.verdict.layer, gotrace_analyzer::Layer::Inconclusive);
}
