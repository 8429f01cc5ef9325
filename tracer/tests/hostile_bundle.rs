//! `gotrace analyze` on a bundle from a stranger (issue 14 item 3): FIFOs
//! must not hang it, links out of the bundle must not be followed, and
//! escape sequences from the bundle must not reach the terminal.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Runs `gotrace analyze dir`, killing it after 10 s: (exit code, stdout+stderr).
fn analyze(dir: &Path) -> (Option<i32>, Vec<u8>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gotrace"))
        .arg("analyze")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("gotrace analyze hung on a hostile bundle");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let mut all = out.stdout;
    all.extend_from_slice(&out.stderr);
    (out.status.code(), all)
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/bundles/bad-go-mod")
        .join(name)
}

#[test]
fn fifo_meta_is_refused_promptly() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["meta.json", "events.jsonl", "stderr.log"] {
        mkfifo(&tmp.path().join(name));
    }
    let (code, out) = analyze(tmp.path());
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("meta.json is a FIFO"), "{text}");
    assert_ne!(code, Some(0), "{text}");
}

#[test]
fn links_out_fifos_and_escapes_do_not_get_through() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("shadow");
    std::fs::write(&secret, "root:TOPSECRET-HASH:19000:0:99999:7:::\n").unwrap();
    let b = tmp.path().join("b");
    std::fs::create_dir(&b).unwrap();
    std::fs::copy(fixture("meta.json"), b.join("meta.json")).unwrap();
    std::os::unix::fs::symlink(&secret, b.join("stderr.log")).unwrap();
    mkfifo(&b.join("events.jsonl"));
    let (code, out) = analyze(&b);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("TOPSECRET"), "{text}");
    assert!(text.contains("stderr.log is a symbolic link"), "{text}");

    // Escapes in stderr.log and in a DNS name of events.jsonl.
    std::fs::remove_file(b.join("stderr.log")).unwrap();
    std::fs::remove_file(b.join("events.jsonl")).unwrap();
    std::fs::write(
        b.join("stderr.log"),
        "go: lookup \x1b]0;pwned\x07proxy\x1b[2J\u{9b}2J: no such host\n",
    )
    .unwrap();
    let events = std::fs::read_to_string(fixture("events.jsonl")).unwrap();
    std::fs::write(
        b.join("events.jsonl"),
        events.replace("proxy", "pr\\u001b[2Joxy"),
    )
    .unwrap();
    let (code, out) = analyze(&b);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, Some(0), "{text}");
    assert!(!out.contains(&0x1b), "raw ESC in {text}");
    assert!(!text.contains('\u{9b}'), "raw C1 CSI in {text}");
}
