//! End-to-end test of redaction (issue 14, item 4): a `go mod tidy` whose
//! GOPROXY and HTTP(S)_PROXY carry passwords, fetched through an HTTP
//! proxy with userinfo (so Go sends Proxy-Authorization), leaves no secret
//! in any file of the bundle, in the printed report or in the `--json`
//! output; with `--no-redact` they are there.
//!
//! Go refuses to send GOPROXY credentials over plain http ("refusing to
//! pass credentials to insecure URL", before any syscall), so GOPROXY's
//! first entry, with the password, fails at once and `|` falls back to the
//! second, without one, fetched through HTTP_PROXY. The lab's module proxy
//! on 198.18.0.2:8080 is also that HTTP proxy: Go sends it `GET
//! http://198.18.0.2:8080/...` in absolute form, which it answers 404 (it
//! serves paths only), so the fetch fails; what matters here is what went
//! on the wire. The command line itself carries one more password (`env
//! ALL_PROXY=http://auser:argpw@... go mod tidy`; Go's net/http does not
//! read ALL_PROXY, so the fetch is the same). (The Authorization header is covered by the unit tests of
//! `gotrace::redact`.) Needs root; fails without it.

mod support;

use std::path::Path;
use std::process::Output;

use gotrace_e2e::{Lab, LabConfig};

const GOPROXY: &str = "http://user:s3cret@198.18.0.2:8080|http://198.18.0.2:8080";
const HTTP_PROXY: &str = "http://puser:pr0xypw@198.18.0.2:8080";
const HTTPS_PROXY: &str = "http://suser:s3cure@198.18.0.2:8080";
/// An argument of the traced command (through env(1)) with a password.
const ARG_PROXY: &str = "ALL_PROXY=http://auser:argpw@198.18.0.2:8080";

/// Every form a secret could be stored in: as typed, as the Basic
/// credentials Go sends (RFC 7617: base64 of `user:password`), and the hex
/// of each (events.jsonl keeps payload heads as hex).
fn secret_forms() -> Vec<String> {
    let mut forms = Vec::new();
    for (user, pw) in [
        ("user", "s3cret"),
        ("puser", "pr0xypw"),
        ("suser", "s3cure"),
        ("auser", "argpw"),
    ] {
        let basic = base64(format!("{user}:{pw}").as_bytes());
        for plain in [pw.to_string(), basic] {
            forms.push(hex(plain.as_bytes()));
            forms.push(plain);
        }
    }
    forms
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | u32::from(c) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// The secret forms found in `bytes`, by form.
fn found_in(bytes: &[u8]) -> Vec<String> {
    secret_forms()
        .into_iter()
        .filter(|f| bytes.windows(f.len()).any(|w| w == f.as_bytes()))
        .collect()
}

fn lab() -> Lab {
    support::require_root();
    Lab::up(LabConfig {
        goproxy: GOPROXY.into(),
        env: vec![
            ("HTTP_PROXY".into(), HTTP_PROXY.into()),
            ("HTTPS_PROXY".into(), HTTPS_PROXY.into()),
        ],
        ..LabConfig::default()
    })
    .expect("setting up the lab")
}

fn run(lab: &Lab, bundle: &Path, extra: &[&str]) -> Output {
    let out = lab
        .command(support::gotrace())
        .arg("run")
        .arg("-o")
        .arg(bundle)
        .args(extra)
        .args(["--", "env", ARG_PROXY, "go", "mod", "tidy"])
        .output()
        .expect("running gotrace");
    eprintln!(
        "gotrace {extra:?} exited {}; stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// (file name, secret forms found) for every file in `bundle` holding one.
fn leaks_in_bundle(bundle: &Path) -> Vec<(String, Vec<String>)> {
    let mut leaks = Vec::new();
    for entry in std::fs::read_dir(bundle).expect("reading the bundle") {
        let path = entry.unwrap().path();
        let found = found_in(&std::fs::read(&path).unwrap());
        if !found.is_empty() {
            leaks.push((path.display().to_string(), found));
        }
    }
    leaks
}

#[test]
fn no_secret_is_stored_or_printed_and_no_redact_keeps_them() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();

    // The text report (stderr) and the bundle.
    let text = dir.path().join("text");
    let out = run(&lab, &text, &[]);
    assert!(!out.stderr.is_empty());
    assert_eq!(
        found_in(&out.stderr),
        Vec::<String>::new(),
        "in the printed report"
    );
    assert_eq!(leaks_in_bundle(&text), Vec::new(), "in the bundle");
    let meta = support::bundle::meta(&text);
    assert_eq!(
        meta["env"]["GOPROXY"], "http://user:xxxxx@198.18.0.2:8080|http://198.18.0.2:8080",
        "{meta}"
    );
    assert_eq!(
        meta["env"]["HTTPS_PROXY"],
        "http://suser:xxxxx@198.18.0.2:8080"
    );
    assert_eq!(
        meta["argv"][1], "ALL_PROXY=http://auser:xxxxx@198.18.0.2:8080",
        "{meta}"
    );
    let redacted = &meta["redacted"];
    assert_eq!(redacted["enabled"], true, "{redacted}");
    assert_eq!(redacted["arguments"], serde_json::json!([1]), "{redacted}");
    assert_eq!(
        redacted["variables"],
        serde_json::json!(["GOPROXY", "HTTPS_PROXY", "HTTP_PROXY"]),
        "{redacted}"
    );
    // Each request through the proxy carries Proxy-Authorization, and
    // the payload heads of its write() hold it too.
    assert!(
        redacted["header_values"].as_u64().unwrap() >= 1,
        "{redacted}"
    );

    // The --json output, and its bundle.
    let json = dir.path().join("json");
    let out = run(&lab, &json, &["--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"layer\""), "{stdout}");
    assert_eq!(
        found_in(&out.stdout),
        Vec::<String>::new(),
        "in --json: {stdout}"
    );
    assert_eq!(found_in(&out.stderr), Vec::<String>::new(), "on stderr");
    assert_eq!(leaks_in_bundle(&json), Vec::new(), "in the bundle");

    // --no-redact: the same run keeps them, in meta.json and the capture.
    let raw = dir.path().join("raw");
    run(&lab, &raw, &["--no-redact"]);
    let meta = std::fs::read(raw.join("meta.json")).unwrap();
    assert!(found_in(&meta).contains(&"s3cret".to_string()));
    assert!(found_in(&meta).contains(&"argpw".to_string()));
    let capture = std::fs::read(raw.join("capture.pcapng")).unwrap();
    let in_capture = found_in(&capture);
    let basic = base64(b"puser:pr0xypw");
    assert!(in_capture.contains(&basic), "{basic} not in {in_capture:?}");
    let meta = support::bundle::meta(&raw);
    assert_eq!(meta["redacted"]["enabled"], false, "{meta}");
}

#[test]
fn the_encoders_match_the_known_values() {
    // RFC 4648 section 10 test vectors.
    for (plain, b64) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(plain.as_bytes()), b64);
    }
    assert_eq!(hex(b"s3"), "7333");
}
