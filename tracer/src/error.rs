//! The tracer's error types and the exit codes they map to.
//!
//! Messages do not start with `gotrace`: main.rs writes that prefix once
//! (see [`TracerError::names_subcommand`]).

use std::path::PathBuf;

/// Everything `gotrace` itself can fail at (not the traced command).
///
/// Each message says what failed and what to do; [`TracerError::exit_code`]
/// gives the documented exit status (README, "Exit codes"). Errors of
/// other crates are kept as the `source`.
#[derive(Debug, thiserror::Error)]
pub enum TracerError {
    /// A required capability is missing.
    #[error("{what} needs {missing}: run it as root (sudo gotrace ...) or grant the capabilities, e.g. `sudo setcap cap_bpf,cap_perfmon,cap_net_raw,cap_sys_admin+ep $(command -v gotrace)`")]
    Privileges { what: &'static str, missing: String },
    /// The command to run does not exist (a shell's 127).
    #[error("{cmd}: {reason}")]
    CommandNotFound { cmd: String, reason: &'static str },
    /// The command exists but cannot be executed (a shell's 126).
    #[error("{cmd}: {reason}")]
    NotExecutable { cmd: String, reason: String },
    /// `--user` names no user in the passwd database.
    #[error("run --user {user}: {why}; give a user name or uid listed by `getent passwd`, or leave out --user (under sudo the command then runs as the user who invoked sudo)")]
    UnknownUser { user: String, why: String },
    /// The command could not be given the target user's identity
    /// (setgroups/setgid/setuid failed, or gotrace is not root).
    #[error("cannot run the command as {user}: {problem}")]
    SwitchUser { user: String, problem: String },
    /// This binary was built without the eBPF object.
    #[error("this gotrace binary was built without its eBPF programs: build it with `cargo xtask build`, which compiles ebpf/probes first")]
    NoEbpfObject,
    /// tracefs is not available.
    #[error("tracefs is not mounted at /sys/kernel/tracing and mounting it failed ({0}): mount it with `mount -t tracefs nodev /sys/kernel/tracing`")]
    Tracefs(#[source] TracefsMountError),
    /// A tracepoint's format file is not what the probes expect.
    #[error("tracepoint {tracepoint}: {problem}; this kernel's layout is not supported yet, please report it with the output of `cat /sys/kernel/tracing/events/{tracepoint}/format`")]
    TracepointFormat { tracepoint: String, problem: String },
    /// Loading or attaching the eBPF programs failed; the [`EbpfError`]
    /// says which step, program or map.
    #[error("loading the eBPF programs failed: {0}; check the kernel supports BPF ring buffers (Linux >= 5.8) and that gotrace runs with CAP_BPF and CAP_PERFMON")]
    Ebpf(#[source] Box<EbpfError>),
    /// The packet capture could not start or failed.
    #[error("packet capture failed: {0}; gotrace needs CAP_NET_RAW for its AF_PACKET socket")]
    Capture(#[from] CaptureError),
    /// Writing the bundle failed.
    #[error("writing the trace bundle {path}: {source}; check the directory is writable and the disk has space")]
    Bundle {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing one file of the bundle failed, or a name it needs was
    /// taken by something gotrace did not make (the writer's message
    /// names the file and the fix).
    #[error("{0}")]
    BundleFile(#[source] gotrace_bundle::WriteError),
    /// A system call of the tracer's own failed.
    #[error("{what}: {source}")]
    Sys {
        what: String,
        source: std::io::Error,
    },
    /// `attach --pid N`: no process N.
    #[error("attach: no process with PID {pid}: check it with `ps -p {pid}`")]
    NoSuchProcess { pid: i64 },
    /// `attach --pid N` where N is a thread, not a process (TGID).
    #[error("attach: {tid} is a thread of process {tgid}, not a process: attach to the process (`gotrace attach --pid {tgid}`); all its threads are traced")]
    IsThread { tid: u32, tgid: u32 },
    /// `attach --pid N` where N is gotrace itself.
    #[error("attach: PID {pid} is this gotrace process; attach to the Go process instead")]
    AttachSelf { pid: u32 },
    /// `attach --pid N`: the kernel refused gotrace access to the
    /// process's namespaces (EACCES/EPERM on /proc/N/ns/net: no
    /// CAP_SYS_PTRACE over it in this user namespace, or an LSM denies it).
    #[error("attach: {what}: {source}: gotrace may not enter the namespaces of process {pid}; it needs CAP_SYS_ADMIN and CAP_SYS_PTRACE over it (ptrace access mode, proc(5)): run gotrace as root in the process's own user namespace (not from inside a container), or check what AppArmor/SELinux deny (dmesg); or start the command under `gotrace run`")]
    AttachDenied {
        pid: u32,
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The process exited before tracing started.
    #[error("attach: process {pid} exited while gotrace was attaching: there is nothing left to trace (run the command under `gotrace run` instead)")]
    ExitedDuringAttach { pid: u32 },
    /// `gotrace analyze` could not read its input.
    #[error("{0}")]
    Analyze(#[from] gotrace_analyzer::AnalyzeError),
    /// An output file asked for on the command line (`--html OUT`) could
    /// not be written.
    #[error("{what} {}: {source}; give a path in a directory you can write to (an existing symbolic link there is refused)", path.display())]
    Output {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Boxed: aya's errors are large, and every `Result` of the tracer carries
/// a `TracerError`.
impl From<EbpfError> for TracerError {
    fn from(e: EbpfError) -> Self {
        TracerError::Ebpf(Box::new(e))
    }
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
            TracerError::Privileges { .. }
            | TracerError::SwitchUser { .. }
            | TracerError::AttachDenied { .. } => 77,
            TracerError::UnknownUser { .. } => 67,
            TracerError::Analyze(e) if e.is_missing_input() => 66,
            TracerError::Analyze(_) => 65,
            TracerError::Output { .. } => 73,
            _ => 70,
        }
    }

    /// Whether the message starts with the sub-command it is about (`run
    /// needs CAP_BPF ...`, `attach: no process with PID 7 ...`), so it
    /// follows `gotrace ` as one phrase; every other message follows
    /// `gotrace: `.
    pub fn names_subcommand(&self) -> bool {
        matches!(
            self,
            TracerError::Privileges { .. }
                | TracerError::UnknownUser { .. }
                | TracerError::NoSuchProcess { .. }
                | TracerError::IsThread { .. }
                | TracerError::AttachSelf { .. }
                | TracerError::ExitedDuringAttach { .. }
                | TracerError::AttachDenied { .. }
        )
    }

    /// Wraps an I/O error of the tracer's own with what it was doing.
    pub fn sys(what: impl Into<String>, source: std::io::Error) -> Self {
        TracerError::Sys {
            what: what.into(),
            source,
        }
    }
}

/// Why tracefs could not be mounted (shown inside [`TracerError::Tracefs`]).
#[derive(Debug, thiserror::Error)]
pub enum TracefsMountError {
    /// mount(2) failed.
    #[error("{0}")]
    Mount(#[source] nix::errno::Errno),
    /// The mount succeeded but shows no tracepoints.
    #[error("no events/ directory after mounting")]
    NoEvents,
}

/// What failed in the packet capture (shown inside [`TracerError::Capture`]).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// A socket call on the AF_PACKET sockets (packet(7)).
    #[error("{call}: {source}")]
    Syscall {
        /// The call and, where it helps, its arguments: `socket(AF_PACKET,
        /// SOCK_RAW, ETH_P_ALL)`, `SO_TIMESTAMPNS`, `poll`, `recvmsg`.
        call: &'static str,
        source: nix::errno::Errno,
    },
    /// A capture thread ended or panicked; what happened, in words.
    #[error("{0}")]
    Thread(&'static str),
}

/// Which step of loading the embedded eBPF object failed, with aya's error
/// as the source. Shown inside [`TracerError::Ebpf`], which says what to do.
#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    /// The object as a whole did not load (ELF, BTF relocations, maps).
    #[error("{0:#}")]
    Object(#[source] aya::EbpfError),
    /// A map the tracer needs is not in the object (a mismatched build).
    #[error("map {map} missing from the object")]
    MissingMap {
        /// The map's name in ebpf/probes.
        map: String,
    },
    /// The `EVENTS` ring buffer map is not a ring buffer.
    #[error("{0}")]
    RingBuf(#[source] aya::maps::MapError),
    /// A hash map could not be opened or written.
    #[error("{map}: {source}")]
    Map {
        /// The map's name in ebpf/probes.
        map: String,
        source: aya::maps::MapError,
    },
    /// A program the tracer needs is not in the object (a mismatched build).
    #[error("program {prog} missing from the object")]
    MissingProgram {
        /// The program's name in ebpf/probes.
        prog: String,
    },
    /// A program is not a tracepoint program.
    #[error("{prog}: {source}")]
    NotTracepoint {
        prog: String,
        source: aya::programs::ProgramError,
    },
    /// The kernel's verifier refused a program; `log` is the end of its
    /// log, where the reason is.
    #[error("verifier rejected {prog}: {log}")]
    Verifier {
        prog: String,
        log: String,
        source: aya::programs::ProgramError,
    },
    /// A loaded program could not be attached to its tracepoint.
    #[error("attaching {prog} to {category}:{event}: {source:#}")]
    Attach {
        prog: String,
        category: String,
        event: String,
        source: aya::programs::ProgramError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;
    use std::path::Path;

    #[test]
    fn each_error_maps_to_its_documented_exit_code() {
        let io = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let cases = [
            (TracerError::NoSuchProcess { pid: 7 }, 66),
            (TracerError::ExitedDuringAttach { pid: 7 }, 66),
            (
                TracerError::AttachDenied {
                    pid: 1,
                    what: "opening /proc/1/ns/net".into(),
                    source: io(),
                },
                77,
            ),
            (TracerError::IsThread { tid: 8, tgid: 7 }, 64),
            (TracerError::AttachSelf { pid: 7 }, 64),
            (
                TracerError::Output {
                    what: "--html",
                    path: "/x.html".into(),
                    source: io(),
                },
                73,
            ),
            (
                TracerError::CommandNotFound {
                    cmd: "go".into(),
                    reason: "command not found",
                },
                127,
            ),
            (
                TracerError::NotExecutable {
                    cmd: "go".into(),
                    reason: "Permission denied".into(),
                },
                126,
            ),
            (
                TracerError::Privileges {
                    what: "run",
                    missing: "CAP_BPF".into(),
                },
                77,
            ),
            (
                TracerError::SwitchUser {
                    user: "bob".into(),
                    problem: "setuid".into(),
                },
                77,
            ),
            (
                TracerError::UnknownUser {
                    user: "bob".into(),
                    why: "no such user".into(),
                },
                67,
            ),
            (TracerError::NoEbpfObject, 70),
            (
                TracerError::Tracefs(TracefsMountError::Mount(nix::errno::Errno::EPERM)),
                70,
            ),
            (
                TracerError::from(CaptureError::Syscall {
                    call: "poll",
                    source: nix::errno::Errno::EINTR,
                }),
                70,
            ),
            (TracerError::sys("waiting", io()), 70),
            (
                TracerError::Bundle {
                    path: "b".into(),
                    source: io(),
                },
                70,
            ),
            (
                TracerError::from(EbpfError::MissingMap {
                    map: "EVENTS".into(),
                }),
                70,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit_code(), code, "{e:?}");
        }
    }

    #[test]
    fn analyze_input_is_66_when_missing_and_65_when_unreadable() {
        let missing = gotrace_analyzer::analyze_capture_path(Path::new("/nonexistent/x.pcap"))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(TracerError::from(missing).exit_code(), 66);
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pcap");
        std::fs::write(&junk, b"not a capture at all").unwrap();
        let unreadable = gotrace_analyzer::analyze_capture_path(&junk)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(TracerError::from(unreadable).exit_code(), 65);
    }

    #[test]
    fn only_messages_that_start_with_a_subcommand_say_so() {
        let yes = [
            TracerError::Privileges {
                what: "attach",
                missing: "CAP_BPF".into(),
            },
            TracerError::UnknownUser {
                user: "bob".into(),
                why: "no such user".into(),
            },
            TracerError::NoSuchProcess { pid: 7 },
            TracerError::IsThread { tid: 8, tgid: 7 },
            TracerError::AttachSelf { pid: 7 },
            TracerError::ExitedDuringAttach { pid: 7 },
        ];
        for e in yes {
            let msg = e.to_string();
            assert!(e.names_subcommand(), "{msg}");
            assert!(
                msg.starts_with("run ") || msg.starts_with("attach"),
                "{msg}"
            );
        }
        let no = TracerError::CommandNotFound {
            cmd: "go".into(),
            reason: "command not found",
        };
        assert!(!no.names_subcommand());
        assert!(!TracerError::NoEbpfObject.names_subcommand());
        // No message writes the prefix itself any more.
        assert!(!no.to_string().starts_with("gotrace"));
    }

    #[test]
    fn an_ebpf_error_names_the_step_and_keeps_aya_s_error_as_source() {
        let e = TracerError::from(EbpfError::Attach {
            prog: "inet_sock_set_state".into(),
            category: "sock".into(),
            event: "inet_sock_set_state".into(),
            source: aya::programs::ProgramError::AlreadyAttached,
        });
        let aya_msg = aya::programs::ProgramError::AlreadyAttached.to_string();
        assert_eq!(
            e.to_string(),
            format!("loading the eBPF programs failed: attaching inet_sock_set_state to sock:inet_sock_set_state: {aya_msg}; check the kernel supports BPF ring buffers (Linux >= 5.8) and that gotrace runs with CAP_BPF and CAP_PERFMON")
        );
        let step = e.source().expect("the step");
        let aya = step.source().expect("aya's error");
        assert_eq!(aya.to_string(), aya_msg);
    }

    #[test]
    fn an_object_that_does_not_parse_is_an_object_error_with_its_source() {
        // Parsing the ELF comes before any syscall: no privileges needed.
        let e = aya::EbpfLoader::new()
            .load(b"not an ELF object")
            .map(|_| ())
            .unwrap_err();
        let shown = format!("{e:#}");
        let e = TracerError::from(EbpfError::Object(e));
        assert!(
            matches!(&e, TracerError::Ebpf(step) if matches!(**step, EbpfError::Object(_))),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with(&format!(
                "loading the eBPF programs failed: {shown}; check "
            )),
            "{e}"
        );
        assert!(e.source().and_then(|s| s.source()).is_some());
    }

    #[test]
    fn capture_and_tracefs_errors_keep_the_errno_as_source() {
        use nix::errno::Errno;
        let e = TracerError::from(CaptureError::Syscall {
            call: "recvmsg",
            source: Errno::ENETDOWN,
        });
        assert_eq!(
            e.to_string(),
            format!("packet capture failed: recvmsg: {}; gotrace needs CAP_NET_RAW for its AF_PACKET socket", Errno::ENETDOWN)
        );
        let errno = e.source().and_then(|s| s.source()).expect("the errno");
        assert_eq!(errno.to_string(), Errno::ENETDOWN.to_string());
        let e = TracerError::Tracefs(TracefsMountError::Mount(Errno::EPERM));
        assert!(
            e.to_string().starts_with(&format!(
                "tracefs is not mounted at /sys/kernel/tracing and mounting it failed ({}): ",
                Errno::EPERM
            )),
            "{e}"
        );
        assert!(e.source().and_then(|s| s.source()).is_some());
    }
}
