//! `Lab`: the client/server namespaces, the servers in them, and a scratch
//! copy of the demo module, torn down on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::firewall::Firewall;
use crate::netns::{NetnsPair, SERVER_IP};
use crate::proxy::{self, PROXY_PORT};
use crate::server::Server;
use crate::{cmd, dns, goenv, paths, probe, LabError};

/// The GOPROXY URL of the lab's module proxy, by address.
pub const LAB_GOPROXY: &str = "http://198.18.0.2:8080";

/// What the client's `/etc/resolv.conf` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvConf {
    /// `nameserver 198.18.0.2` (the lab's DNS address, served or not).
    LabServer,
    /// An empty file: Go then asks 127.0.0.1:53 and [::1]:53, inside the
    /// client namespace. (Never the host's file: it names a real resolver.)
    Empty,
}

/// What to set up.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Serve the module proxy on 198.18.0.2:8080; false leaves the port closed.
    pub proxy: bool,
    /// Run dnsmasq on 198.18.0.2:53.
    pub dns: bool,
    /// The client's resolv.conf.
    pub resolv_conf: ResolvConf,
    /// GOPROXY for commands run with [`Lab::command`].
    pub goproxy: String,
    /// An nftables rule between the client and the proxy port.
    pub firewall: Firewall,
    /// `net.ipv4.tcp_syn_retries` in the client namespace. Default 2: an
    /// unanswered SYN fails in ~7 s. None keeps the kernel's 6 (~127 s),
    /// which outlasts Go's 30 s dial deadline.
    pub syn_retries: Option<u8>,
}

impl Default for LabConfig {
    /// Proxy served, no DNS server, resolv.conf naming the lab server.
    fn default() -> Self {
        LabConfig {
            proxy: true,
            dns: false,
            resolv_conf: ResolvConf::LabServer,
            goproxy: LAB_GOPROXY.into(),
            firewall: Firewall::None,
            syn_retries: Some(2),
        }
    }
}

/// A running lab. Fields drop in order: servers, then namespaces, then files.
#[derive(Debug)]
pub struct Lab {
    servers: Vec<Server>,
    netns: NetnsPair,
    config: LabConfig,
    module: PathBuf,
    home: PathBuf,
    temp: tempfile::TempDir,
}

impl Lab {
    /// Creates the namespaces, starts the configured servers, waits until
    /// they answer, and copies the demo module into a scratch dir.
    pub fn up(config: LabConfig) -> Result<Lab, LabError> {
        if !cmd::is_root() {
            return Err(LabError::NotRoot);
        }
        let mut tools = vec!["ip", "python3", "go", "sysctl"];
        if config.firewall != Firewall::None {
            tools.push("nft");
        }
        for tool in tools {
            if !cmd::have(tool) {
                return Err(LabError::MissingTool(tool.into()));
            }
        }
        let temp = tempfile::Builder::new()
            .prefix("gotrace-lab-")
            .tempdir()
            .map_err(LabError::io("creating", "temp dir"))?;
        let module = temp.path().join("module");
        proxy::copy_dir(&paths::demo_module_dir(), &module)?;
        let home = temp.path().join("home");
        std::fs::create_dir_all(&home).map_err(LabError::io("creating", &home))?;
        let netns = NetnsPair::create()?;
        if let Some(n) = config.syn_retries {
            // Shorter kernel SYN retries: an unanswered SYN fails in seconds, not minutes.
            let setting = format!("net.ipv4.tcp_syn_retries={n}");
            cmd::run_in(&netns.client, "sysctl", &["-q", "-w", &setting])?;
        }
        let resolv = match config.resolv_conf {
            ResolvConf::LabServer => format!("nameserver {SERVER_IP}\n"),
            ResolvConf::Empty => String::new(),
        };
        netns.write_client_resolv_conf(&resolv)?;
        let mut lab = Lab {
            servers: Vec::new(),
            netns,
            config,
            module,
            home,
            temp,
        };
        if lab.config.proxy {
            lab.start_proxy()?;
        }
        // After the readiness probes, which the rules would block.
        lab.config.firewall.apply(&lab.netns, lab.temp.path())?;
        if lab.config.dns {
            let server = dns::start(&lab.netns.server, &lab.netns.client, lab.temp.path())?;
            lab.servers.push(server);
        }
        Ok(lab)
    }

    fn start_proxy(&mut self) -> Result<(), LabError> {
        let tree = proxy::build_tree(&self.temp.path().join("goproxy"))?;
        let tree = tree.display().to_string();
        let port = PROXY_PORT.to_string();
        let args = [
            "-m",
            "http.server",
            &port,
            "--bind",
            SERVER_IP,
            "--directory",
            &tree,
        ];
        let mut server = Server::start(
            "goproxy",
            &self.netns.server,
            "python3",
            &args,
            self.temp.path(),
        )?;
        let addr = SocketAddr::from(([198, 18, 0, 2], PROXY_PORT));
        let client = self.netns.client.clone();
        probe::wait_until(
            "module proxy (python3 -m http.server)",
            Duration::from_secs(15),
            || {
                server.check_alive()?;
                probe::tcp_accepts(&client, addr)
            },
        )?;
        self.servers.push(server);
        Ok(())
    }

    /// Name of the client namespace (where go and gotrace run).
    pub fn client_ns(&self) -> &str {
        &self.netns.client
    }

    /// Name of the server namespace (proxy, DNS).
    pub fn server_ns(&self) -> &str {
        &self.netns.server
    }

    /// The scratch copy of fixtures/demo-module that commands run in.
    pub fn module_dir(&self) -> &Path {
        &self.module
    }

    /// The lab's temp dir (removed on drop).
    pub fn temp_dir(&self) -> &Path {
        self.temp.path()
    }

    /// The environment lab commands get (clean Go env, GOPROXY from the config).
    pub fn env(&self) -> Vec<(String, String)> {
        goenv::go_env(&self.home, &self.config.goproxy)
    }

    /// `ip netns exec <client> program`, with the lab's clean environment
    /// and the module copy as working directory; add args and run it.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns.client])
            .arg(program)
            .env_clear()
            .envs(self.env())
            .current_dir(&self.module);
        c
    }

    /// Runs `program args...` in the client namespace (see [`Lab::command`])
    /// and returns its output.
    pub fn run<S: AsRef<std::ffi::OsStr>>(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        args: &[S],
    ) -> Result<Output, LabError> {
        let shown = PathBuf::from(program.as_ref());
        self.command(program)
            .args(args)
            .output()
            .map_err(LabError::io("running (ip netns exec)", shown))
    }

    /// Runs `go args...` in the client namespace and returns its output.
    pub fn go(&self, args: &[&str]) -> Result<Output, LabError> {
        self.run("go", args)
    }
}
