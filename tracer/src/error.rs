//! The tracer's error type and the exit codes it maps to.

use std::path::PathBuf;

/// Everything `gotrace` itself can fail at (not the traced command).
///
/// Each message says what failed and what to do; [`TracerError::exit_code`]
/// gives the documented exit status (README, "Exit codes").
#[derive(Debug, thiserror::Error)]
pub enum TracerError {
    /// A required capability is missing.
    #[error("gotrace {what} needs {missing}: run it as root (sudo gotrace ...) or grant the capabilities, e.g. `sudo setcap cap_bpf,cap_perfmon,cap_net_raw,cap_sys_admin+ep $(command -v gotrace)`")]
    Privileges { what: &'static str, missing: String },
    /// The command to run does not exist (a shell's 127).
    #[error("gotrace: {cmd}: {reason}")]
    CommandNotFound { cmd: String, reason: &'static str },
    /// The command exists but cannot be executed (a shell's 126).
    #[error("gotrace: {cmd}: {reason}")]
    NotExecutable { cmd: String, reason: String },
    /// `--user` names no user in the passwd database.
    #[error("gotrace run --user {user}: {why}; give a user name or uid listed by `getent passwd`, or leave out --user (under sudo the command then runs as the user who invoked sudo)")]
    UnknownUser { user: String, why: String },
    /// The command could not be given the target user's identity
    /// (setgroups/setgid/setuid failed, or gotrace is not root).
    #[error("gotrace: cannot run the command as {user}: {problem}")]
    SwitchUser { user: String, problem: String },
    /// This binary was built without the eBPF object.
    #[error("this gotrace binary was built without its eBPF programs: build it with `cargo xtask build`, which compiles ebpf/probes first")]
    NoEbpfObject,
    /// tracefs is not available.
    #[error("tracefs is not mounted at /sys/kernel/tracing and mounting it failed ({0}): mount it with `mount -t tracefs nodev /sys/kernel/tracing`")]
    Tracefs(String),
    /// A tracepoint's format file is not what the probes expect.
    #[error("tracepoint {tracepoint}: {problem}; this kernel's layout is not supported yet, please report it with the output of `cat /sys/kernel/tracing/events/{tracepoint}/format`")]
    TracepointFormat { tracepoint: String, problem: String },
    /// Loading or attaching the eBPF programs failed.
    #[error("loading the eBPF programs failed: {0}; check the kernel supports BPF ring buffers (Linux >= 5.8) and that gotrace runs with CAP_BPF and CAP_PERFMON")]
    Ebpf(String),
    /// The packet capture could not start or failed.
    #[error("packet capture failed: {0}; gotrace needs CAP_NET_RAW for its AF_PACKET socket")]
    Capture(String),
    /// Writing the bundle failed.
    #[error("writing the trace bundle {path}: {source}; check the directory is writable and the disk has space")]
    Bundle {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A system call of the tracer's own failed.
    #[error("{what}: {source}")]
    Sys {
        what: String,
        source: std::io::Error,
    },
    /// `attach --pid N`: no process N.
    #[error("gotrace attach: no process with PID {pid}: check it with `ps -p {pid}`")]
    NoSuchProcess { pid: i64 },
    /// `attach --pid N` where N is a thread, not a process (TGID).
    #[error("gotrace attach: {tid} is a thread of process {tgid}, not a process: attach to the process (`gotrace attach --pid {tgid}`); all its threads are traced")]
    IsThread { tid: u32, tgid: u32 },
    /// `attach --pid N` where N is gotrace itself.
    #[error("gotrace attach: PID {pid} is this gotrace process; attach to the Go process instead")]
    AttachSelf { pid: u32 },
    /// The process exited before tracing started.
    #[error("gotrace attach: process {pid} exited while gotrace was attaching: there is nothing left to trace (run the command under `gotrace run` instead)")]
    ExitedDuringAttach { pid: u32 },
    /// `gotrace analyze` could not read its input.
    #[error("{0}")]
    Analyze(#[from] gotrace_analyzer::AnalyzeError),
}

impl TracerError {
    /// Exit status for this error (sysexits.h where one fits): 127/126 like
    /// a shell for a command that cannot run, 77 (EX_NOPERM) for privileges
    /// and user switching, 67 (EX_NOUSER: "the user specified did not
    /// exist") for an unknown `--user`, 66 (EX_NOINPUT) for an `attach` PID
    /// that does not exist or exits while attaching, 64 (EX_USAGE) for an
    /// `attach` PID that is a thread or gotrace itself; for `analyze`, 66
    /// when its input does not exist and 65 (EX_DATAERR) when it cannot be
    /// read as a bundle or capture; 70 (EX_SOFTWARE) for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            TracerError::NoSuchProcess { .. } | TracerError::ExitedDuringAttach { .. } => 66,
            TracerError::IsThread { .. } | TracerError::AttachSelf { .. } => 64,
            TracerError::CommandNotFound { .. } => 127,
            TracerError::NotExecutable { .. } => 126,
            TracerError::Privileges { .. } | TracerError::SwitchUser { .. } => 77,
            TracerError::UnknownUser { .. } => 67,
            TracerError::Analyze(e) if e.is_missing_input() => 66,
            TracerError::Analyze(_) => 65,
            _ => 70,
        }
    }

    /// Wraps an I/O error of the tracer's own with what it was doing.
    pub fn sys(what: impl Into<String>, source: std::io::Error) -> Self {
        TracerError::Sys {
            what: what.into(),
            source,
        }
    }
}
