//! Every line of every recorded bundle's `events.jsonl` and every
//! `meta.json` (`fixtures/bundles/*`, written by real `gotrace run`s) reads
//! into the format's types and writes back byte for byte, as the writer
//! writes them (`serde_json::to_string` for event lines,
//! `to_string_pretty` for meta.json): a change to the types that changes a
//! stored byte fails here.

use std::path::Path;

use gotrace_bundle::{files, Event, Meta};

#[test]
fn recorded_events_and_meta_write_back_byte_for_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles");
    let mut lines = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for dir in std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
    {
        let Ok(text) = std::fs::read_to_string(dir.join(files::EVENTS)) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let ev: Event = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", dir.display(), n + 1));
            assert_eq!(
                serde_json::to_string(&ev).unwrap(),
                line,
                "{}:{}",
                dir.display(),
                n + 1
            );
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            kinds.insert(v["kind"].as_str().unwrap_or("").to_string());
            lines += 1;
        }
        let meta = std::fs::read_to_string(dir.join(files::META)).unwrap();
        let m: Meta = serde_json::from_str(&meta).unwrap();
        let back: serde_json::Value = serde_json::to_value(&m).unwrap();
        let orig: serde_json::Value = serde_json::from_str(&meta).unwrap();
        assert_eq!(back, orig, "{}", dir.display());
    }
    assert!(
        lines > 100,
        "only {lines} event lines under {}",
        root.display()
    );
    for k in [
        "socket",
        "connect",
        "so_error",
        "send",
        "recv",
        "close",
        "tcp_state",
    ] {
        assert!(kinds.contains(k), "no {k} event in the fixtures: {kinds:?}");
    }
}
