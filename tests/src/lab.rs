//! `Lab`: the client/server namespaces, the servers in them, and a scratch
//! copy of the module, torn down on drop.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::netns::NetnsPair;
use crate::server::Server;
use crate::{cmd, goenv, resolv, tree, Firewall, LabConfig, LabError, ResolvConf};

/// A running lab. Fields drop in order: servers, then namespaces, then files.
#[derive(Debug)]
pub struct Lab {
    servers: Vec<Server>,
    netns: NetnsPair,
    config: LabConfig,
    path_env: String,
    module: PathBuf,
    home: PathBuf,
    temp: tempfile::TempDir,
}

impl Lab {
    /// Creates the namespaces, starts the configured servers, waits until
    /// they answer, installs the firewall rule, and copies the module into
    /// a scratch dir.
    pub fn up(mut config: LabConfig) -> Result<Lab, LabError> {
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
        tree::copy_dir(&config.module, &module)?;
        let home = temp.path().join("home");
        // Where a command's private tmpfs goes when resolv.conf must be missing.
        let overlay = temp.path().join("etc-overlay");
        for dir in [&home, &overlay] {
            std::fs::create_dir_all(dir).map_err(LabError::io("creating", dir))?;
        }
        let path_env = config.path.prepare(temp.path())?;
        if config.hung_file_proxy {
            config.goproxy = crate::fileproxy::hung(temp.path())?;
        }
        let netns = NetnsPair::create()?;
        if let Some(n) = config.syn_retries {
            // Shorter kernel SYN retries: an unanswered SYN fails in seconds, not minutes.
            let setting = format!("net.ipv4.tcp_syn_retries={n}");
            cmd::run_in(&netns.client, "sysctl", &["-q", "-w", &setting])?;
        }
        config.resolv_conf.install(&netns)?;
        config.route.apply(&netns)?;
        let mut lab = Lab {
            servers: Vec::new(),
            netns,
            config,
            path_env,
            module,
            home,
            temp,
        };
        let tree = lab.config.proxy_tree.as_deref();
        let proxy = lab.config.proxy.start(&lab.netns, lab.temp.path(), tree)?;
        lab.servers.extend(proxy);
        if let Some(how) = lab.config.forward_proxy {
            let fwd = crate::proxy::start_forward(how, &lab.netns, lab.temp.path())?;
            lab.servers.extend(fwd);
        }
        let dns = lab.config.dns.start(&lab.netns, lab.temp.path())?;
        lab.servers.extend(dns);
        if lab.config.exhaust_ports {
            crate::ports::exhaust(&lab.netns, crate::PROXY_PORT)?;
        }
        // After the readiness probes, which the rules would block.
        lab.config.firewall.apply(&lab.netns, lab.temp.path())?;
        Ok(lab)
    }

    /// Replaces the lab's firewall rule with `firewall` while commands run
    /// (e.g. a silent proxy starts refusing). Only rules in the same
    /// namespace and hook as the current one are replaced.
    pub fn set_firewall(&mut self, firewall: Firewall) -> Result<(), LabError> {
        firewall.apply(&self.netns, self.temp.path())?;
        self.config.firewall = firewall;
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

    /// The scratch copy of the module that commands run in.
    pub fn module_dir(&self) -> &Path {
        &self.module
    }

    /// The lab's temp dir (removed on drop).
    pub fn temp_dir(&self) -> &Path {
        self.temp.path()
    }

    /// The environment lab commands get: the clean Go env with GOPROXY
    /// from the config, then the config's PATH and extra variables.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut overrides = vec![("PATH".to_string(), self.path_env.clone())];
        overrides.extend(self.config.env.iter().cloned());
        goenv::with_overrides(goenv::go_env(&self.home, &self.config.goproxy), &overrides)
    }

    /// `ip netns exec <client> program`, with the lab's clean environment
    /// and the module copy as working directory; add args and run it.
    /// With [`ResolvConf::Missing`] a small shell hides /etc/resolv.conf
    /// first and then execs `program`.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(cmd::ip_program());
        c.args(["netns", "exec", &self.netns.client]);
        if self.config.resolv_conf == ResolvConf::Missing {
            c.args(resolv::hide_args(&self.temp.path().join("etc-overlay")));
        }
        c.arg(program)
            .env_clear()
            .envs(self.env())
            .current_dir(&self.module);
        c
    }

    /// Runs `program args...` in the client namespace (see [`Lab::command`])
    /// and returns its output.
    pub fn run<S: AsRef<OsStr>>(
        &self,
        program: impl AsRef<OsStr>,
        args: &[S],
    ) -> Result<Output, LabError> {
        let shown = PathBuf::from(program.as_ref());
        let mut c = self.command(program);
        c.args(args);
        self.output(c)
            .map_err(LabError::io("running (ip netns exec)", shown))
    }

    /// Runs `c` (made by [`Lab::command`]) to its end and returns its
    /// output; with [`LabConfig::interrupt_after`] it runs in its own
    /// process group, which gets SIGINT after that long, as Ctrl-C at a
    /// terminal sends it to the foreground group.
    pub fn output(&self, mut c: Command) -> std::io::Result<Output> {
        let Some(after) = self.config.interrupt_after else {
            return c.output();
        };
        use std::os::unix::process::CommandExt;
        let child = c
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        std::thread::sleep(after);
        let group = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
        // SAFETY: kill(2) of the process group this call just created.
        unsafe { libc::kill(-group, libc::SIGINT) };
        child.wait_with_output()
    }

    /// Runs `go args...` in the client namespace and returns its output.
    pub fn go(&self, args: &[&str]) -> Result<Output, LabError> {
        self.run("go", args)
    }
}
