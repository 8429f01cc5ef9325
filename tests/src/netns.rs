//! The two lab namespaces, the veth pair joining them, and their teardown.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::cmd::run;
use crate::LabError;

/// The client's address on the lab link (where `go` runs).
pub const CLIENT_IP: &str = "198.18.0.1";
/// The server's address on the lab link (module proxy, DNS).
pub const SERVER_IP: &str = "198.18.0.2";
/// Prefix of every lab namespace name: `gtl-<pid>-<n>-c` / `-s`.
const PREFIX: &str = "gtl-";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A client and a server network namespace joined by a veth pair
/// (client 198.18.0.1/24, server 198.18.0.2/24, no default route).
/// Dropping it deletes both namespaces (which deletes the veths) and
/// `/etc/netns/<client>`.
#[derive(Debug)]
pub struct NetnsPair {
    /// Name of the client namespace.
    pub client: String,
    /// Name of the server namespace.
    pub server: String,
}

impl NetnsPair {
    /// Creates the pair with names unique to this process and call, so
    /// parallel tests and concurrent lab users do not collide.
    pub fn create() -> Result<Self, LabError> {
        remove_stale();
        let id = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let pair = NetnsPair {
            client: format!("{id}-c"),
            server: format!("{id}-s"),
        };
        run("ip", &["netns", "add", &pair.client])?;
        // From here on Drop cleans up whatever was created.
        run("ip", &["netns", "add", &pair.server])?;
        // Created directly inside the namespaces: no name clash in the root namespace.
        run(
            "ip",
            &[
                "link",
                "add",
                "veth0",
                "netns",
                &pair.client,
                "type",
                "veth",
                "peer",
                "name",
                "veth0",
                "netns",
                &pair.server,
            ],
        )?;
        for (ns, ip) in [(&pair.client, CLIENT_IP), (&pair.server, SERVER_IP)] {
            run(
                "ip",
                &["-n", ns, "addr", "add", &format!("{ip}/24"), "dev", "veth0"],
            )?;
            run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
            run("ip", &["-n", ns, "link", "set", "veth0", "up"])?;
        }
        Ok(pair)
    }

    /// `/etc/netns/<client>`: `ip netns exec` bind-mounts its files over `/etc`.
    pub fn client_etc(&self) -> PathBuf {
        PathBuf::from("/etc/netns").join(&self.client)
    }

    /// Writes the client's `/etc/resolv.conf` (as seen through `ip netns exec`).
    pub fn write_client_resolv_conf(&self, contents: &str) -> Result<(), LabError> {
        let dir = self.client_etc();
        std::fs::create_dir_all(&dir).map_err(LabError::io("creating", &dir))?;
        let file = dir.join("resolv.conf");
        std::fs::write(&file, contents).map_err(LabError::io("writing", &file))
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in [&self.client, &self.server] {
            let _ = run("ip", &["netns", "del", ns]);
        }
        let _ = std::fs::remove_dir_all(self.client_etc());
    }
}

/// Deletes lab namespaces left by processes that no longer exist (a test
/// binary killed by SIGKILL cannot run Drop).
fn remove_stale() {
    let Ok(out) = run("ip", &["netns", "list"]) else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !PathBuf::from(format!("/proc/{pid}")).exists() {
            kill_members(name);
            let _ = run("ip", &["netns", "del", name]);
            let _ = std::fs::remove_dir_all(PathBuf::from("/etc/netns").join(name));
        }
    }
}

/// SIGKILLs the processes still inside stale lab namespace `name` (servers
/// orphaned when their lab's owner was killed), by pid.
fn kill_members(name: &str) {
    let Ok(out) = run("ip", &["netns", "pids", name]) else {
        return;
    };
    for pid in String::from_utf8_lossy(&out.stdout).lines() {
        if let Ok(pid) = pid.trim().parse::<libc::pid_t>() {
            // SAFETY: kill(2) with a pid read from the namespace; no memory involved.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}
