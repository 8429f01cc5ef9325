//! A helper process in a lab namespace (the listener, the blaster),
//! killed and reaped when dropped.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::process::Running;

/// `ip netns exec <ns> program args...`, output into `log`.
pub fn in_netns(
    ns: &str,
    program: &Path,
    args: &[OsString],
    log: &Path,
) -> Result<Command, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("duplicating {}: {e}", log.display()))?;
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    Ok(c)
}

/// A running helper; SIGKILLed and reaped on drop.
pub struct Background {
    name: String,
    child: Child,
}

impl Background {
    /// Starts `cmd` (from [`in_netns`]).
    pub fn start(name: &str, mut cmd: Command) -> Result<Background, String> {
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Background {
            name: name.into(),
            child,
        })
    }

    /// Waits until `file` exists (the helper writes it once listening).
    pub fn wait_for_file(&mut self, file: &Path, timeout: Duration) -> Result<(), String> {
        let start = std::time::Instant::now();
        while !file.exists() {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited during setup ({status})", self.name));
            }
            if start.elapsed() > timeout {
                return Err(format!("{} not ready within {timeout:?}", self.name));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Waits for the helper to exit on its own while `other` is serviced
    /// (its ptrace stops must not wait for us); Err unless it exits 0.
    pub fn finish_alongside(mut self, other: &mut Running) -> Result<(), String> {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("{} failed ({status})", self.name)),
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for {}: {e}", self.name)),
            }
            other.poll()?;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
