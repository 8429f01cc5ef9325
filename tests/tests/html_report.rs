//! End-to-end test of report.html (issue 16, item 2): after a real
//! refused `go mod tidy`, the bundle's report.html is rendered by a real
//! headless browser (Debian's `chromium`); its DOM holds the verdict, each
//! cited packet's number linked to its row, and every stage of the
//! attempt; the screenshot is kept in target/e2e-artifacts/.
//!
//! The browser runs in a network namespace of its own (`unshare -n`: only
//! a loopback that is down), so nothing it might try reaches anywhere.
//! Needs root and chromium (`.ci/run` installs it); fails without them.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::bundle;

/// `chromium --headless ARGS file://PAGE` in an empty network namespace.
fn chromium(page: &Path, args: &[&str]) -> std::process::Output {
    Command::new("unshare")
        .args([
            "-n",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args(["--disable-background-networking", "--no-first-run"])
        .args(["--user-data-dir=/tmp/gotrace-e2e-chromium"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium (apt-get install chromium)")
}

fn artifacts() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-artifacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_browser_shows_the_verdict_the_cited_packets_and_the_stages() {
    let t = support::trace("connection-refused");
    let page = t.bundle.join("report.html");
    let size = std::fs::metadata(&page)
        .expect("report.html in the bundle")
        .len();
    assert!(size < 1 << 20, "report.html is {size} bytes");

    let out = chromium(&page, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("<h1 id=\"verdict\">"),
        "no verdict in the DOM: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("connection-refused"), "cause not in the DOM");
    assert!(dom.contains("network"), "layer not in the DOM");
    let cited = bundle::cited(&t.verdict, "packet");
    assert!(!cited.is_empty(), "{}", t.verdict);
    for n in &cited {
        assert!(
            dom.contains(&format!("href=\"#pkt-{n}\"")),
            "no link to pkt {n}"
        );
        assert!(
            dom.contains(&format!("id=\"pkt-{n}\"")),
            "no row for pkt {n}"
        );
        assert!(dom.contains(&format!("pkt {n}")), "pkt {n} not named");
    }
    assert!(
        dom.contains("TCP connect"),
        "the connect stage is not drawn"
    );
    assert!(dom.contains("<svg"), "no timeline");

    let shot = artifacts().join("report-connection-refused.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,1400",
        ],
    );
    let len = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        len > 10_000,
        "no screenshot at {} ({len} bytes): {}",
        shot.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
