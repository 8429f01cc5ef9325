//! End-to-end tests of where the verdict JSON goes (issue 14, item 6):
//! `--json` prints it as the last line of stdout, on a line of its own
//! whatever the command printed; `--json-file PATH` writes it apart from
//! the command's stdout, never through a link, and under sudo as the user.
//!
//! Each run is `ip netns exec <fresh ns> gotrace run ...` of a shell
//! command (no `go`, nothing sent). Needs root; fails without it.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use gotrace_e2e::netns::NetnsPair;
use serde_json::Value;

/// `gotrace run ARGS` in a new network namespace, from `/`, with a small
/// root environment plus `env`; stdout goes to `stdout` when given.
fn gotrace_run(args: &[&str], env: &[(&str, &str)], stdout: Option<std::fs::File>) -> Output {
    support::require_root();
    let ns = NetnsPair::create().expect("creating the network namespaces");
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &ns.client])
        .arg(support::gotrace())
        .arg("run")
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        // A Go setting, so no sudo warning is looked for here.
        .env("GOPROXY", "off")
        .envs(env.iter().copied())
        .current_dir("/")
        .stdout(stdout.map_or_else(Stdio::piped, Stdio::from))
        .stderr(Stdio::piped());
    let out = c.output().expect("running ip netns exec gotrace");
    eprintln!(
        "gotrace run {args:?}: {}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `gotrace run -o BUNDLE --json-file JSON -- CMD...` (see [`gotrace_run`]).
fn with_json_file(bundle: &Path, json: &Path, cmd: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "-o",
        bundle.to_str().unwrap(),
        "--json-file",
        json.to_str().unwrap(),
        "--",
    ];
    args.extend_from_slice(cmd);
    gotrace_run(&args, env, None)
}

/// The verdict object on a line: one compact JSON object.
fn verdict_line(line: &str) -> Value {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert!(v["layer"].is_string() && v["cause"].is_string(), "{v}");
    v
}

#[test]
fn json_is_the_last_line_of_stdout_after_output_without_a_newline() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b");
    let b = bundle.to_str().unwrap();
    let out = gotrace_run(
        &["-o", b, "--json", "--", "sh", "-c", "printf no-newline"],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (before, last) = stdout
        .trim_end_matches('\n')
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("one line only: {stdout:?}"));
    assert_eq!(before, "no-newline", "{stdout:?}");
    assert!(stdout.ends_with("}\n"), "{stdout:?}");
    let v = verdict_line(last);
    // The same verdict as verdict.json.
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("verdict.json")).unwrap())
            .unwrap();
    assert_eq!(v, stored);
}

#[test]
fn into_a_file_that_ends_with_a_newline_no_empty_line_is_added() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stdout");
    let file = std::fs::File::create(&path).unwrap();
    let b = dir.path().join("b");
    let out = gotrace_run(
        &[
            "-o",
            b.to_str().unwrap(),
            "--json",
            "--",
            "sh",
            "-c",
            "echo one; echo two",
        ],
        &[],
        Some(file),
    );
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text:?}");
    assert_eq!(&lines[..2], ["one", "two"]);
    verdict_line(lines[2]);
}

#[test]
fn json_file_keeps_stdout_the_command_s_own() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("verdict.json");
    let b = dir.path().join("b");
    let out = with_json_file(&b, &json, &["sh", "-c", "printf x"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"x", "stdout is the command's alone");
    // The text report still goes to stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains("verdict:"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("verdict.json")).unwrap()).unwrap();
    assert_eq!(v, stored);
    assert_eq!(
        std::fs::metadata(&json).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn json_file_never_follows_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("v.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let b = dir.path().join("b");
    let out = with_json_file(&b, &link, &["true"], &[]);
    // The command's status stands; the file is refused with a reason.
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--json-file") && stderr.contains("symbolic links"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
}

#[test]
fn under_sudo_the_json_file_is_written_as_the_user() {
    let sudo = [
        ("SUDO_UID", "65534"),
        ("SUDO_GID", "65534"),
        ("SUDO_USER", "nobody"),
    ];
    let dir = tempfile::tempdir().unwrap();
    // A directory the user may write: the file is theirs.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let json = open.join("v.json");
    let b = dir.path().join("b1");
    let out = with_json_file(&b, &json, &["true"], &sudo);
    assert_eq!(out.status.code(), Some(0));
    let md = std::fs::metadata(&json).expect("the JSON file");
    assert_eq!((md.uid(), md.gid()), (65534, 65534));

    // A directory only root may write: refused, not written as root.
    let closed = dir.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    let json = closed.join("v.json");
    let b = dir.path().join("b2");
    let out = with_json_file(&b, &json, &["true"], &sudo);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(!json.exists());
}
