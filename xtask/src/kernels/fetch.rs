//! Bringing kernel images into the cache (`target/kernels`, outside the
//! sources and kept between runs) and the VM tools onto the machine.
//!
//! The cache sits under the workspace's target dir rather than /var/cache
//! because virtme-ng mounts a tmpfs over the guest's /var/cache, and a
//! Debian kernel's modules must be visible inside the guest.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::catalog::{Kernel, Source};
use crate::util;

/// virtme-ng release known to boot these kernels here (PyPI).
const VIRTME_NG: &str = "virtme-ng==1.42";
/// Debian packages vng needs: qemu, depmod (a Debian kernel's modules.dep),
/// `file` (kernel version detection), busybox (its initramfs).
/// libseccomp and libcap-ng: what virtiofsd links against.
const VM_PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "kmod",
    "file",
    "busybox-static",
    "libseccomp-dev",
    "libcap-ng-dev",
];
/// The Rust virtiofsd (crates.io): with it vng shares the host's root
/// over virtio-fs instead of 9p, which is many times slower to open files
/// (measured in a 5.10 guest under TCG: `tshark -v` 24 s over 9p). Debian
/// bookworm ships only qemu's C virtiofsd, which vng refuses.
const VIRTIOFSD: &str = "virtiofsd@1.14.0";

/// Where `tools` installs virtiofsd: `<dir>/bin/virtiofsd`, put on vng's PATH.
pub fn virtiofsd_root() -> PathBuf {
    util::target_dir().join("virtiofsd")
}

/// The image to boot and whether it came with modules, for `kernel`;
/// downloads and extracts a Debian kernel once.
pub fn image(kernel: &Kernel, cache: &Path) -> Result<PathBuf, String> {
    match kernel.source {
        Source::Host => Err("the host kernel is not booted".into()),
        Source::Shared { file } => {
            let dir = shared_kernels()?;
            let p = dir.join(file);
            if p.is_file() {
                Ok(p)
            } else {
                Err(format!("{} is missing", p.display()))
            }
        }
        Source::Debian { suite, abi } => debian(cache, suite, abi),
    }
}

/// `shared/kernels`: `$GOTRACE_KERNELS_DIR`, else the first `shared/kernels`
/// beside the workspace or one of its ancestors (CI has shared/ beside its
/// clone; a developer's worktree may sit deeper).
fn shared_kernels() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("GOTRACE_KERNELS_DIR") {
        return Ok(PathBuf::from(d));
    }
    let root = gotrace_e2e::workspace_root();
    root.ancestors()
        .map(|a| a.join("shared/kernels"))
        .find(|d| d.is_dir())
        .ok_or_else(|| {
            format!(
                "no shared/kernels beside {} or above it (set GOTRACE_KERNELS_DIR)",
                root.display()
            )
        })
}

/// `<cache>/<abi>/boot/vmlinuz-<abi>`, from `linux-image-<abi>-unsigned`.
fn debian(cache: &Path, suite: &str, abi: &str) -> Result<PathBuf, String> {
    let root = cache.join(abi);
    let kimg = root.join(format!("boot/vmlinuz-{abi}"));
    if kimg.is_file() && root.join(format!("lib/modules/{abi}")).is_dir() {
        return Ok(kimg);
    }
    let dl = cache.join("dl");
    std::fs::create_dir_all(&dl).map_err(|e| format!("creating {}: {e}", dl.display()))?;
    let pkg = format!("linux-image-{abi}-unsigned");
    let mut get = Command::new("apt-get");
    get.args(apt_options(cache, suite)?)
        .arg("download")
        .arg(&pkg)
        .current_dir(&dl);
    util::run(&mut get)?;
    let deb = std::fs::read_dir(&dl)
        .map_err(|e| format!("reading {}: {e}", dl.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb"))
        })
        .ok_or_else(|| format!("apt-get download {pkg} left no .deb in {}", dl.display()))?;
    util::run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
    // The .deb is not needed once extracted.
    let _ = std::fs::remove_file(&deb);
    if kimg.is_file() {
        Ok(kimg)
    } else {
        Err(format!("{pkg} has no {}", kimg.display()))
    }
}

/// apt options for `suite`: the host's own lists for the host's suite,
/// else a private sources list and state under `<cache>/apt-<suite>`,
/// refreshed with `apt-get update` the first time.
fn apt_options(cache: &Path, suite: &str) -> Result<Vec<String>, String> {
    let host_suite = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("VERSION_CODENAME=").map(str::to_string))
        });
    if host_suite.as_deref() == Some(suite) {
        return Ok(Vec::new());
    }
    let dir = cache.join(format!("apt-{suite}"));
    let parts = dir.join("parts");
    let lists = dir.join("lists");
    let opts = vec![
        "-o".into(),
        "Dir::Etc::SourceList=/dev/null".into(),
        "-o".into(),
        format!("Dir::Etc::SourceParts={}", parts.display()),
        "-o".into(),
        format!("Dir::State::Lists={}", lists.display()),
        "-o".into(),
        format!("Dir::Cache={}", dir.join("cache").display()),
    ];
    // Written after a successful `apt-get update`.
    let updated = dir.join("updated");
    if !updated.exists() {
        for d in [
            &parts,
            &lists.join("partial"),
            &dir.join("cache/archives/partial"),
        ] {
            std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
        }
        let sources = format!(
            "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: {suite} {suite}-updates\n\
             Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n\
             Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: {suite}-security\n\
             Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        );
        let f = parts.join(format!("{suite}.sources"));
        std::fs::write(&f, sources).map_err(|e| format!("writing {}: {e}", f.display()))?;
        util::run(Command::new("apt-get").args(&opts).args(["update", "-q"]))?;
        std::fs::write(&updated, "").map_err(|e| format!("writing {}: {e}", updated.display()))?;
    }
    Ok(opts)
}

/// Installs qemu and virtme-ng when `vng` or qemu is missing.
pub fn tools() -> Result<(), String> {
    if !util::works("qemu-system-x86_64", "--version") || !util::works("depmod", "--version") {
        util::run(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(VM_PACKAGES),
        )?;
    }
    if !util::works("vng", "--version") {
        util::run(Command::new("python3").args(["-m", "pip", "install", "-q", VIRTME_NG]))?;
    }
    let root = virtiofsd_root();
    if !root.join("bin/virtiofsd").is_file() {
        // Without it vng falls back to 9p: slower, still correct.
        if let Err(e) = util::run(
            util::cargo()
                .args(["install", "--locked", "--root"])
                .arg(&root)
                .arg(VIRTIOFSD),
        ) {
            eprintln!("xtask: warning: {e}; the guests will read the host's files over 9p");
        }
    }
    if util::works("vng", "--version") {
        Ok(())
    } else {
        Err(format!(
            "vng does not run after `pip install {VIRTME_NG}` (is pip's bin dir on PATH?)"
        ))
    }
}
