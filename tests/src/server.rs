//! A server process running in the server namespace (module proxy,
//! dnsmasq), killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{probe, LabError};

/// A background server; SIGKILLed and reaped on drop.
#[derive(Debug)]
pub struct Server {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `program args...` in namespace `ns`, stdout+stderr to
    /// `<log_dir>/<name>.log`. `ip netns exec` execs the program itself, so
    /// the child's pid is the server's.
    pub fn start(
        name: &str,
        ns: &str,
        program: &str,
        args: &[&str],
        log_dir: &Path,
    ) -> Result<Self, LabError> {
        let log = log_dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).map_err(LabError::io("creating", &log))?;
        let err = out.try_clone().map_err(LabError::io("duplicating", &log))?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(LabError::io("starting", program))?;
        Ok(Server {
            name: name.to_string(),
            child,
            log,
        })
    }

    /// Fails with the server's log when it has already exited.
    pub fn check_alive(&mut self) -> Result<(), LabError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(LabError::ServerDied {
                name: self.name.clone(),
                status: status.to_string(),
                stderr: std::fs::read_to_string(&self.log).unwrap_or_default(),
            }),
            _ => Ok(()),
        }
    }

    /// Polls `ready` until it says yes or `timeout` passes, failing at once
    /// (with the server's log) if the server exits meanwhile.
    pub fn wait_ready(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut() -> Result<bool, LabError>,
    ) -> Result<(), LabError> {
        let what = self.name.clone();
        probe::wait_until(&what, timeout, || {
            self.check_alive()?;
            ready()
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
