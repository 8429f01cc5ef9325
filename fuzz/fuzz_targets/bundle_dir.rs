//! A whole bundle directory on disk, hostile: for each of the bundle's
//! file names, in `NAMES` order, one kind byte (0 a regular file, 1 a
//! symbolic link to another name inside, 2 a link to a file outside, 3 a
//! FIFO, 4 a directory, anything else: missing), and for a regular file a
//! little-endian u32 length and that many bytes (cut at the input's end).
//! Then `analyze_bundle_full` as `gotrace analyze --html OUT DIR` runs it,
//! with the text report and the HTML page: it must not panic, a FIFO must
//! never block it (libFuzzer's -timeout catches that), and no markup from
//! the bundle reaches the page.
#![no_main]

use std::path::Path;

use gotrace_analyzer::html::render_html;
use gotrace_analyzer::{analyze_bundle_full, render_text};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 5] = [
    "meta.json",
    "events.jsonl",
    "stderr.log",
    "capture.pcapng",
    "verdict.json",
];

fn mkfifo(p: &Path) {
    if let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) {
        // SAFETY: a valid C string.
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    }
}

fuzz_target!(|data: &[u8]| {
    let root = std::env::temp_dir().join(format!("gotrace-fuzz-bundle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("b");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let outside = root.join("secret");
    let _ = std::fs::write(&outside, "root:SECRET\n");
    let mut rest = data;
    for (i, name) in NAMES.iter().enumerate() {
        let Some((&kind, tail)) = rest.split_first() else {
            break;
        };
        rest = tail;
        let p = dir.join(name);
        match kind {
            0 => {
                let len = rest
                    .get(..4)
                    .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
                rest = rest.get(4..).unwrap_or_default();
                let n = len.min(rest.len());
                let _ = std::fs::write(&p, &rest[..n]);
                rest = &rest[n..];
            }
            1 => {
                let _ = std::os::unix::fs::symlink(NAMES[(i + 1) % NAMES.len()], &p);
            }
            2 => {
                let _ = std::os::unix::fs::symlink(&outside, &p);
            }
            3 => mkfifo(&p),
            4 => {
                let _ = std::fs::create_dir(&p);
            }
            _ => {}
        }
    }
    if let Ok(full) = analyze_bundle_full(&dir) {
        let report = &full.report;
        let text = render_text(report);
        assert!(
            !text.contains("root:SECRET"),
            "a link out of the bundle was followed"
        );
        let _ = report.to_json();
        // The HTML page of a stranger's bundle: no raw markup from it.
        let page = render_html(report, &full.html);
        assert!(
            !page.contains("root:SECRET"),
            "a link out of the bundle was followed"
        );
        assert!(
            !page.contains("<script"),
            "markup from the bundle reached the page"
        );
    }
});
