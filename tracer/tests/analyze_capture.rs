//! `gotrace analyze` on a bare capture: a file and the same bytes on
//! standard input (`-`) give the same JSON; the capture is recognised by
//! its magic whatever its name; exit codes are those of README "Exit
//! codes" (0 report, 66 missing input, 65 unreadable). No root needed.

#[path = "../../analyzer/tests/shared/mod.rs"]
mod shared;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn gotrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gotrace"))
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = gotrace();
    c.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("running gotrace");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(bytes).expect("writing stdin");
    }
    child.wait_with_output().expect("waiting for gotrace")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)))
}

#[test]
fn a_file_and_the_same_bytes_on_stdin_give_the_same_json() {
    for (name, cause) in [
        ("cs_tcp_refuseconnection.pcapng", "connection-refused"),
        ("zk_dns-corrupt.pcap", "dns-timeout"),
        ("pt_tcp.pcapng", "http-status"),
        ("zk_tls12-decryption.pcap", "insufficient-evidence"),
    ] {
        let path = shared::capture(name);
        let p = path.to_str().expect("utf-8 path");
        let from_file = run(&["analyze", "--json", p], None);
        assert_eq!(
            from_file.status.code(),
            Some(0),
            "{name}: {}",
            text(&from_file.stderr)
        );
        let bytes = std::fs::read(&path).expect("reading the capture");
        let from_stdin = run(&["analyze", "--json", "-"], Some(&bytes));
        assert_eq!(
            from_stdin.status.code(),
            Some(0),
            "{name}: {}",
            text(&from_stdin.stderr)
        );
        assert_eq!(text(&from_file.stdout), text(&from_stdin.stdout), "{name}");
        let v = json(&from_file);
        assert_eq!(v["analysis"], "capture-only", "{name}");
        assert_eq!(v["cause"], cause, "{name}");
    }
}

#[test]
fn the_text_report_names_the_capture_and_what_it_cannot_judge() {
    let path = shared::capture("cs_tcp_refuseconnection.pcapng");
    let out = run(&["analyze", path.to_str().expect("utf-8")], None);
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(err.contains("gotrace: capture-only analysis of "), "{err}");
    assert!(err.contains("network / connection-refused"), "{err}");
    assert!(
        err.contains("the before-syscall and kernel layers cannot be judged"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = run(
        &["analyze", "-"],
        Some(&std::fs::read(&path).expect("read")),
    );
    assert!(text(&out.stderr).contains("capture-only analysis of standard input"));
}

#[test]
fn a_capture_is_told_by_its_magic_not_its_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let renamed = tmp.path().join("trace.bin");
    std::fs::copy(shared::capture("cs_dns_query_nonexistent.pcapng"), &renamed).expect("copy");
    let out = run(
        &["analyze", "--json", renamed.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json(&out)["cause"], "dns-nxdomain");
}

#[test]
fn missing_input_is_66_unreadable_input_is_65() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("no-such.pcap");
    let out = run(&["analyze", missing.to_str().expect("utf-8")], None);
    assert_eq!(out.status.code(), Some(66), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no-such.pcap: no such file"),
        "{}",
        text(&out.stderr)
    );

    let notes = tmp.path().join("notes.pcap");
    std::fs::write(&notes, "not a capture\n").expect("write");
    let out = run(&["analyze", notes.to_str().expect("utf-8")], None);
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not a pcapng or pcap file"),
        "{}",
        text(&out.stderr)
    );

    let out = run(&["analyze", "-"], Some(b""));
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("standard input: empty file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_directory_is_still_a_bundle() {
    let bundle: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles/connection-refused");
    assert!(bundle.is_dir(), "{} is missing", bundle.display());
    let out = run(
        &["analyze", "--json", bundle.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["analysis"], "bundle");
    assert_eq!(v["cause"], "connection-refused");
}
