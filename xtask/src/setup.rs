//! `setup`: install the Debian packages the lab, the tests and the fuzz
//! targets use, when their tools are missing.

use std::path::Path;
use std::process::Command;

use crate::util;

/// (a file the package provides, Debian package).
const NEEDED: &[(&str, &str)] = &[
    ("/usr/bin/go", "golang-go"),
    ("/usr/sbin/nft", "nftables"),
    ("/usr/bin/tshark", "tshark"),
    ("/usr/bin/tcpdump", "tcpdump"),
    ("/usr/bin/ip", "iproute2"),
    ("/usr/sbin/dnsmasq", "dnsmasq-base"),
    ("/usr/bin/python3", "python3"),
    // cargo-fuzz builds libFuzzer (C++) and links libstdc++: `fuzz`, and
    // the fuzz smoke of `test`.
    ("/usr/bin/g++", "g++"),
    // The e2e test that renders report.html in a headless browser.
    ("/usr/bin/chromium", "chromium"),
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "fonts-dejavu-core",
    ),
];

/// Installs what is missing (root only); a no-op when everything is there.
pub fn run() -> Result<(), String> {
    let missing: Vec<&str> = NEEDED
        .iter()
        .filter(|(file, _)| !present(file))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        eprintln!("xtask: setup: all tools present");
        return Ok(());
    }
    let list = missing.join(" ");
    if !gotrace_e2e::is_root() {
        return Err(format!("missing packages: {list}\nrun as root (`sudo cargo xtask setup`) or: sudo apt-get install -y {list}"));
    }
    if !util::works("apt-get", "--version") {
        return Err(format!("missing packages: {list}, and no apt-get to install them (this setup knows Debian/Ubuntu)"));
    }
    // tshark asks whether non-root users may capture; answer it up front.
    let mut preseed = Command::new("sh");
    preseed.args(["-c", "echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections"]);
    let _ = util::run(&mut preseed);
    util::run(
        Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(std::process::Stdio::null());
    util::run(&mut install)
}

/// True when `file` exists, or (for `/usr/bin/x`) its `/bin` or `/sbin` twin.
fn present(file: &str) -> bool {
    let name = Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    [
        file.to_string(),
        format!("/usr/bin/{name}"),
        format!("/usr/sbin/{name}"),
        format!("/bin/{name}"),
        format!("/sbin/{name}"),
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}
