//! The three ways each workload runs, and the command line of each. Every
//! mode runs the workload under `bench-load stopwatch`, so the workload's
//! own wall time, CPU time and peak RSS are taken the same way whatever
//! traces it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gotrace_e2e::Lab;

/// How the workload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// As is.
    Untraced,
    /// Under `strace -f` with the syscall set of the issue (`%network`,
    /// `read`, `write`), writing its trace to a file.
    Strace,
    /// Under `gotrace run`.
    Gotrace,
}

/// What strace traces: the network syscalls plus read and write, as
/// gotrace does (issue 6).
pub const STRACE_SET: &str = "trace=%network,read,write";

impl Mode {
    /// Every mode, in table order.
    pub const ALL: [Mode; 3] = [Mode::Untraced, Mode::Strace, Mode::Gotrace];

    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Untraced => "untraced",
            Mode::Strace => "strace",
            Mode::Gotrace => "gotrace",
        }
    }

    /// The order of round `round`: A/B/C rotated each round (ABC, BCA,
    /// CAB), so no mode always runs first or after the same one.
    pub fn order(round: usize) -> [Mode; 3] {
        let mut m = Mode::ALL;
        m.rotate_left(round % 3);
        m
    }
}

/// The programs the bench runs.
#[derive(Debug, Clone)]
pub struct Tools {
    /// target/release/gotrace.
    pub gotrace: PathBuf,
    /// target/release/examples/bench-load.
    pub load: PathBuf,
    /// strace.
    pub strace: PathBuf,
}

/// One run's directory: stopwatch results, the bundle, stdout and stderr.
pub struct RunDir(pub PathBuf);

impl RunDir {
    /// Creates `path`.
    pub fn create(path: PathBuf) -> Result<RunDir, String> {
        std::fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(RunDir(path))
    }

    /// A file in it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// gotrace's bundle.
    pub fn bundle(&self) -> PathBuf {
        self.file("bundle")
    }

    /// What `bench-load stopwatch` writes.
    pub fn stopwatch(&self) -> PathBuf {
        self.file("stopwatch.txt")
    }

    /// The last lines of the run's stderr, for error messages.
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(self.file("stderr.txt")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }
}

/// `ip netns exec <client> [strace ... | gotrace run ...] bench-load
/// stopwatch <dir>/stopwatch.txt -- <cmd...>` with the lab's clean
/// environment, stdout and stderr into the run dir.
pub fn command(
    lab: &Lab,
    tools: &Tools,
    mode: Mode,
    dir: &RunDir,
    cmd: &[OsString],
) -> Result<Command, String> {
    let mut argv: Vec<OsString> = Vec::new();
    let program: &Path = match mode {
        Mode::Untraced => &tools.load,
        Mode::Strace => {
            argv.extend(["-f", "-qq", "-e", STRACE_SET, "-o"].map(OsString::from));
            argv.push(dir.file("strace.txt").into());
            argv.push(tools.load.clone().into());
            &tools.strace
        }
        Mode::Gotrace => {
            argv.extend(["run", "-o"].map(OsString::from));
            argv.push(dir.bundle().into());
            argv.push("--".into());
            argv.push(tools.load.clone().into());
            &tools.gotrace
        }
    };
    argv.push("stopwatch".into());
    argv.push(dir.stopwatch().into());
    argv.push("--".into());
    argv.extend(cmd.iter().cloned());
    let out = |name: &str| {
        let p = dir.file(name);
        std::fs::File::create(&p).map_err(|e| format!("creating {}: {e}", p.display()))
    };
    let mut c = lab.command(program);
    c.args(argv)
        .stdin(Stdio::null())
        .stdout(out("stdout.txt")?)
        .stderr(out("stderr.txt")?);
    Ok(c)
}
