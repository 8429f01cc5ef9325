//! The e2e scenarios: how to set up the lab for each failure, what Go
//! prints, and which verdict gotrace must reach. Shared by the e2e tests
//! and `cargo xtask record-fixtures` / `demo`.

use std::path::Path;
use std::process::Output;

use crate::{Lab, LabConfig, LabError, ResolvConf, LAB_GOPROXY};

/// An address inside 198.18.0.0/15 but off the lab's connected /24; with no
/// default route the client's kernel has nowhere to send it.
pub const UNROUTED_IP: &str = "198.19.255.1";

/// One lab setup plus the expected outcome.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name (also the fixtures/bundles/<name> directory).
    pub name: &'static str,
    /// Lab setup.
    pub config: LabConfig,
    /// Expected verdict layer.
    pub layer: &'static str,
    /// Expected verdict cause id.
    pub cause: &'static str,
    /// Expected exit status of `go mod tidy` (and so of gotrace).
    pub exit_code: i32,
    /// A piece of Go's stderr that identifies the failure (FIELD-NOTES.md).
    pub go_says: &'static str,
}

fn config(proxy: bool, dns: bool, goproxy: &str) -> LabConfig {
    LabConfig {
        proxy,
        dns,
        resolv_conf: ResolvConf::LabServer,
        goproxy: goproxy.into(),
    }
}

/// Every scenario, in a stable order.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "success",
            config: config(true, false, LAB_GOPROXY),
            layer: "none",
            cause: "none",
            exit_code: 0,
            go_says: "",
        },
        Scenario {
            name: "connection-refused",
            config: config(false, false, LAB_GOPROXY),
            layer: "network",
            cause: "connection-refused",
            exit_code: 1,
            go_says: "connect: connection refused",
        },
        Scenario {
            name: "no-route",
            config: config(true, false, &format!("http://{UNROUTED_IP}:8080")),
            layer: "kernel",
            cause: "no-route",
            exit_code: 1,
            go_says: "connect: network is unreachable",
        },
        Scenario {
            name: "proxy-off",
            config: config(true, false, "off"),
            layer: "before-syscall",
            cause: "proxy-disabled",
            exit_code: 1,
            go_says: "module lookup disabled by GOPROXY=off",
        },
        Scenario {
            name: "dns-port-unreachable",
            config: config(true, false, "http://proxy.lab.test:8080"),
            layer: "network",
            cause: "dns-port-unreachable",
            exit_code: 1,
            go_says: "read: connection refused",
        },
        Scenario {
            name: "dns-nxdomain",
            config: config(true, true, "http://missing.lab.test:8080"),
            layer: "network",
            cause: "dns-nxdomain",
            exit_code: 1,
            go_says: "no such host",
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
