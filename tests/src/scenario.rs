//! The e2e scenarios: how to set up the lab for each failure, what Go
//! prints, and which verdict gotrace must reach. Shared by the e2e tests
//! and `cargo xtask record-fixtures` / `demo`.

use std::path::Path;
use std::process::Output;

use crate::{Dns, Firewall, Lab, LabConfig, LabError, Proxy};

/// An address inside 198.18.0.0/15 but off the lab's connected /24; with no
/// default route the client's kernel has nowhere to send it.
pub const UNROUTED_IP: &str = "198.19.255.1";

/// An expected verdict: layer and cause id (README, "Cause ids").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// `before-syscall`, `kernel`, `network`, `none` or `inconclusive`.
    pub layer: &'static str,
    /// The cause id.
    pub cause: &'static str,
}

const fn verdict(layer: &'static str, cause: &'static str) -> Option<Verdict> {
    Some(Verdict { layer, cause })
}

/// One lab setup plus the expected outcome.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name (also the fixtures/bundles/<name> directory).
    pub name: &'static str,
    /// Lab setup.
    pub config: LabConfig,
    /// The verdict gotrace must reach; None while the analyzer has no cause
    /// id for this failure (the scenario still validates the lab and is
    /// recorded as a fixture).
    pub verdict: Option<Verdict>,
    /// Expected exit status of `go mod tidy` (and so of gotrace).
    pub exit_code: i32,
    /// A piece of Go's stderr that identifies the failure (FIELD-NOTES.md).
    pub go_says: &'static str,
}

/// The lab with GOPROXY set to `goproxy`.
fn goproxy(goproxy: &str) -> LabConfig {
    LabConfig {
        goproxy: goproxy.into(),
        ..LabConfig::default()
    }
}

/// The lab with one firewall rule.
fn firewalled(firewall: Firewall) -> LabConfig {
    LabConfig {
        firewall,
        ..LabConfig::default()
    }
}

/// GOPROXY by name: resolving it is the step that fails.
const BY_NAME: &str = "http://proxy.lab.test:8080";

/// Every scenario, in a stable order.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "success",
            config: LabConfig::default(),
            verdict: verdict("none", "none"),
            exit_code: 0,
            go_says: "",
        },
        Scenario {
            name: "connection-refused",
            config: LabConfig {
                proxy: Proxy::Closed,
                ..LabConfig::default()
            },
            verdict: verdict("network", "connection-refused"),
            exit_code: 1,
            go_says: "connect: connection refused",
        },
        Scenario {
            name: "no-route",
            config: goproxy(&format!("http://{UNROUTED_IP}:8080")),
            verdict: verdict("kernel", "no-route"),
            exit_code: 1,
            go_says: "connect: network is unreachable",
        },
        Scenario {
            name: "proxy-off",
            config: goproxy("off"),
            verdict: verdict("before-syscall", "proxy-disabled"),
            exit_code: 1,
            go_says: "module lookup disabled by GOPROXY=off",
        },
        Scenario {
            name: "dns-port-unreachable",
            config: goproxy(BY_NAME),
            verdict: verdict("network", "dns-port-unreachable"),
            exit_code: 1,
            go_says: "read: connection refused",
        },
        Scenario {
            name: "dns-nxdomain",
            config: LabConfig {
                dns: Dns::Dnsmasq,
                ..goproxy("http://missing.lab.test:8080")
            },
            verdict: verdict("network", "dns-nxdomain"),
            exit_code: 1,
            go_says: "no such host",
        },
        // The firewall cases: no cause id yet, so gotrace's verdict is not
        // asserted; Go's text is, and the bundles are recorded.
        Scenario {
            name: "server-rejects",
            config: firewalled(Firewall::ServerRejects),
            verdict: None,
            exit_code: 1,
            go_says: "connect: no route to host",
        },
        Scenario {
            name: "server-drops",
            config: firewalled(Firewall::ServerDropsInput),
            verdict: None,
            exit_code: 1,
            go_says: "connect: connection timed out",
        },
        Scenario {
            name: "client-drops",
            // The kernel's default SYN retries (~127 s) outlast Go's 30 s
            // dial deadline; with 2 retries the kernel would give up first
            // and Go would say "connection timed out" instead.
            config: LabConfig {
                syn_retries: None,
                ..firewalled(Firewall::ClientDropsOutput)
            },
            verdict: None,
            exit_code: 1,
            go_says: "i/o timeout",
        },
    ]
}

/// The scenario called `name`.
pub fn by_name(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// Runs `<gotrace> run -o <bundle> [--json] -- go mod tidy` in the lab's
/// client namespace and returns its output.
pub fn run_gotrace(
    lab: &Lab,
    gotrace: &Path,
    bundle: &Path,
    json: bool,
) -> Result<Output, LabError> {
    let mut c = lab.command(gotrace);
    c.arg("run").arg("-o").arg(bundle);
    if json {
        c.arg("--json");
    }
    c.args(["--", "go", "mod", "tidy"])
        .output()
        .map_err(LabError::io("running", gotrace))
}
