//! End-to-end tests of who the traced command runs as (issue 4, item 4):
//! under sudo (`SUDO_UID`/`SUDO_GID`/`SUDO_USER`, sudo(8)) `gotrace run`
//! runs the command as the invoking user, with that user's groups and
//! HOME, and leaves a bundle that user owns; `--user` overrides it.
//!
//! The real gotrace binary runs as root with the sudo variables set by
//! hand, for uid 65534 (`nobody` on Debian). Needs root; fails (never
//! skips) without it. Every command runs inside a network namespace the
//! test creates (`ip netns exec`): gotrace captures that namespace's
//! packets, and there are none to leave the machine.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};

use gotrace_e2e::netns::NetnsPair;
use support::Scratch;

/// The user the sudo variables name: uid 65534 (Debian's `nobody`).
const SUDO_UID: u32 = 65534;
const SUDO_GID: u32 = 65534;

/// Every file of a finished bundle.
const BUNDLE_FILES: [&str; 6] = [
    "capture.pcapng",
    "events.jsonl",
    "meta.json",
    "report.html",
    "stderr.log",
    "verdict.json",
];

/// `getent passwd UID` split into (name, home).
fn passwd(uid: u32) -> (String, String) {
    let out = Command::new("getent")
        .args(["passwd", &uid.to_string()])
        .output()
        .expect("running getent");
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let fields: Vec<&str> = line.split(':').collect();
    assert!(
        out.status.success() && fields.len() == 7,
        "the tests need uid {uid} in the passwd database; getent said {line:?}"
    );
    (fields[0].to_string(), fields[5].to_string())
}

/// `id -G NAME`: the groups initgroups(3) gives the user, as id(1) reads them.
fn groups_of(name: &str) -> String {
    let out = Command::new("id")
        .args(["-G", name])
        .output()
        .expect("running id");
    assert!(out.status.success(), "id -G {name} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs `ip netns exec <fresh client ns> gotrace run ARGS` from `/` with a
/// minimal environment as sudo leaves it plus `extra_env`.
fn gotrace_run(args: &[&str], extra_env: &[(&str, String)]) -> Output {
    support::require_root();
    let ns = NetnsPair::create().expect("creating the network namespaces");
    support::gotrace_run_in(&ns.client, args, extra_env)
        .output()
        .expect("running ip netns exec gotrace")
}

fn sudo_env() -> Vec<(&'static str, String)> {
    vec![
        ("SUDO_UID", SUDO_UID.to_string()),
        ("SUDO_GID", SUDO_GID.to_string()),
        ("SUDO_USER", passwd(SUDO_UID).0),
    ]
}

fn owner(p: &Path) -> (u32, u32) {
    let md = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    (md.uid(), md.gid())
}

/// The bundle holds exactly the five files, and it and they are owned by
/// `ids`; meta.json records `ids` as the command's uid/gid.
fn assert_bundle_owned_by(bundle: &Path, ids: (u32, u32)) {
    let mut names: Vec<String> = std::fs::read_dir(bundle)
        .unwrap_or_else(|e| panic!("reading {}: {e}", bundle.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("utf-8 name")
        })
        .collect();
    names.sort();
    assert_eq!(names, BUNDLE_FILES, "files of {}", bundle.display());
    assert_eq!(owner(bundle), ids, "owner of the bundle dir");
    for name in BUNDLE_FILES {
        assert_eq!(owner(&bundle.join(name)), ids, "owner of {name}");
    }
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(bundle.join("meta.json")).expect("reading meta.json"),
    )
    .expect("meta.json is JSON");
    assert_eq!(
        (meta["uid"].as_u64(), meta["gid"].as_u64()),
        (Some(ids.0 as u64), Some(ids.1 as u64)),
        "meta.json uid/gid"
    );
}

/// Under sudo the command runs as the invoking user: uid, groups, HOME,
/// USER and LOGNAME are theirs, and so are the bundle, its files and the
/// parent directory gotrace made for -o.
#[test]
fn under_sudo_the_command_runs_as_the_invoking_user() {
    let scratch = Scratch::new("sudo-user");
    let parent = scratch.path().join("made");
    let bundle = parent.join("bundle");
    let (name, home) = passwd(SUDO_UID);
    let out = gotrace_run(
        &[
            "-o",
            bundle.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            r#"id -u; id -G; echo "$HOME"; echo "$USER $LOGNAME""#,
        ],
        &sudo_env(),
    );
    let context = support::describe(&out);
    assert_eq!(out.status.code(), Some(0), "{context}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let expected = [
        SUDO_UID.to_string(),
        groups_of(&name),
        home,
        format!("{name} {name}"),
    ];
    assert_eq!(lines, expected, "{context}");
    assert_bundle_owned_by(&bundle, (SUDO_UID, SUDO_GID));
    assert_eq!(
        owner(&parent),
        (SUDO_UID, SUDO_GID),
        "-o's parent made by gotrace"
    );
}

/// `--user root` overrides the sudo variables: the command keeps uid 0 and
/// gets root's HOME; the bundle stays root's.
#[test]
fn user_root_overrides_sudo() {
    let scratch = Scratch::new("user-root");
    let bundle = scratch.path().join("bundle");
    let (_, root_home) = passwd(0);
    let out = gotrace_run(
        &[
            "-o",
            bundle.to_str().unwrap(),
            "--user",
            "root",
            "--",
            "sh",
            "-c",
            r#"id -u; id -g; echo "$HOME""#,
        ],
        &sudo_env(),
    );
    let context = support::describe(&out);
    assert_eq!(out.status.code(), Some(0), "{context}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, ["0", "0", root_home.as_str()], "{context}");
    assert_bundle_owned_by(&bundle, (0, 0));
}

/// Without sudo variables and without --user the command runs as gotrace's
/// own user (root here), with gotrace's environment unchanged.
#[test]
fn without_sudo_the_command_runs_as_gotraces_user() {
    let scratch = Scratch::new("no-sudo");
    let bundle = scratch.path().join("bundle");
    let out = gotrace_run(
        &[
            "-o",
            bundle.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            r#"id -u; echo "$HOME""#,
        ],
        &[("HOME", "/gotrace-home-kept".to_string())],
    );
    let context = support::describe(&out);
    assert_eq!(out.status.code(), Some(0), "{context}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, ["0", "/gotrace-home-kept"], "{context}");
    assert_bundle_owned_by(&bundle, (0, 0));
}

/// An unknown --user fails before anything is loaded or run: exit 67
/// (EX_NOUSER), a message naming the user and what to do, no bundle, and
/// the command never ran.
#[test]
fn unknown_user_exits_67_before_running_anything() {
    let scratch = Scratch::new("unknown-user");
    let bundle = scratch.path().join("bundle");
    let marker = scratch.path().join("ran");
    let out = gotrace_run(
        &[
            "-o",
            bundle.to_str().unwrap(),
            "--user",
            "no-such-user-xyz",
            "--",
            "touch",
            marker.to_str().unwrap(),
        ],
        &sudo_env(),
    );
    let context = support::describe(&out);
    assert_eq!(out.status.code(), Some(67), "{context}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--user no-such-user-xyz")
            && stderr.contains("no such user")
            && stderr.contains("getent passwd"),
        "{context}"
    );
    assert!(!bundle.exists(), "no bundle may be created\n{context}");
    assert!(!marker.exists(), "the command must not run\n{context}");
}
