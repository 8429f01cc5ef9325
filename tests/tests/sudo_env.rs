//! End-to-end test of the sudo env_reset warning (issue 14, item 7): run
//! as sudo leaves it (SUDO_UID set, no Go variable in the environment),
//! gotrace says that env_reset may have removed them, shows what `go env`
//! as the user reports (settings from the user's Go env file survive,
//! passwords redacted), and how to keep them; with a Go variable set it
//! says nothing. The sudo variables name uid 65534 (`nobody`); each run is
//! in a new network namespace, and `go env` sends nothing. Needs root.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use gotrace_e2e::netns::NetnsPair;

const GO_PATH: &str = "/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `gotrace run -o BUNDLE -- true` under the sudo variables, with `env`.
fn sudo_run(bundle: &Path, env: &[(&str, &str)]) -> Output {
    support::require_root();
    let ns = NetnsPair::create().expect("creating the network namespaces");
    // By path: the runs below may have a PATH without it.
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("ip (iproute2)");
    let out = Command::new(ip)
        .args(["netns", "exec", &ns.client])
        .arg(support::gotrace())
        .args(["run", "-o"])
        .arg(bundle)
        .args(["--", "/bin/true"])
        .env_clear()
        .env("HOME", "/root")
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .env("SUDO_USER", "nobody")
        .envs(env.iter().copied())
        .current_dir("/")
        .output()
        .expect("running ip netns exec gotrace");
    eprintln!(
        "gotrace run: {}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn meta_warnings(bundle: &Path) -> Vec<String> {
    support::bundle::meta(bundle)["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn without_go_settings_under_sudo_gotrace_says_what_go_used_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The user's Go env file (what `go env -w` writes), readable by them.
    let goenv = dir.path().join("go-env");
    std::fs::write(
        &goenv,
        "GOPROXY=http://u:goenvpw@proxy.lab.test:8080\nGOFLAGS=-mod=mod\n",
    )
    .unwrap();
    std::fs::set_permissions(&goenv, std::fs::Permissions::from_mode(0o644)).unwrap();
    let bundle = dir.path().join("b");
    let out = sudo_run(
        &bundle,
        &[("PATH", GO_PATH), ("GOENV", goenv.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("gotrace: warning: running under sudo"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    for want in [
        "sudo's env_reset (sudoers(5)) may have removed them",
        "GOPROXY=http://u:xxxxx@proxy.lab.test:8080 GOPRIVATE= GONOSUMDB= GOFLAGS=-mod=mod",
        "sudo --preserve-env=GOPROXY,GOPRIVATE,GONOSUMDB,GOFLAGS,HTTPS_PROXY,HTTP_PROXY,NO_PROXY gotrace run",
        "sudo env GOPROXY=... gotrace run",
    ] {
        assert!(line.contains(want), "{want:?} not in {line}");
    }
    // Before the report, and in it, from meta.json.
    let verdict_at = stderr.find("verdict:").expect("the report");
    assert!(stderr.find(line).unwrap() < verdict_at, "{stderr}");
    let warnings = meta_warnings(&bundle);
    assert!(
        warnings.iter().any(|w| line.ends_with(w.as_str())),
        "{warnings:?}"
    );
    assert!(
        stderr[verdict_at..].contains("running under sudo with none of"),
        "{stderr}"
    );
    assert!(!stderr.contains("goenvpw"), "the password is redacted");
}

#[test]
fn a_failing_go_env_is_a_one_line_note_and_a_go_setting_silences_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // No go in PATH.
    let out = sudo_run(&dir.path().join("b1"), &[("PATH", "/nonexistent")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("what Go then used is unknown: `go env` as the user failed: "),
        "{stderr}"
    );
    // GOPROXY kept (sudo --preserve-env): nothing to say.
    let out = sudo_run(
        &dir.path().join("b2"),
        &[("PATH", GO_PATH), ("GOPROXY", "off")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("running under sudo"), "{stderr}");
}
