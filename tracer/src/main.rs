//! `gotrace`: tells a Go developer why a module fetch failed.
//!
//! `gotrace run -- go mod tidy` traces the command's network syscalls (eBPF)
//! and its network namespace's packets (AF_PACKET -> pcapng) into a bundle,
//! then prints where the failure was: before any syscall, in the kernel, or
//! on the network. `gotrace analyze BUNDLE` re-analyses a bundle offline;
//! `gotrace analyze FILE.pcap` (or `-` for stdin) judges a bare capture.
//!
//! This file is the command line only: flags, then the library
//! (`gotrace::cmd`), then the exit status.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use gotrace::cmd::{analyze, attach, run, RecordOptions};
use gotrace::TracerError;

#[derive(Parser)]
#[command(
    name = "gotrace",
    version,
    about = "Tells you why a Go module fetch failed: before the syscall, in the kernel, or on the network"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Flags `run` and `attach` share. The help texts are `run`'s; `attach`
/// rewords `--ready-file` and `--live` (there is no command to start, and
/// `--live` is its default on a terminal).
#[derive(Args)]
struct Recording {
    /// Bundle directory to write (default ./gotrace-YYYYmmdd-HHMMSS).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    output: Option<PathBuf>,
    /// Print the verdict as JSON on stdout instead of the text report on
    /// stderr: one line, the last of stdout (after a newline when the
    /// command's output may not have ended with one).
    #[arg(long)]
    json: bool,
    /// Also write the verdict JSON to PATH (never through a symbolic link;
    /// under sudo, opened as the user the command runs as).
    #[arg(long, value_name = "PATH")]
    json_file: Option<PathBuf>,
    /// Keep secrets in the bundle: URL passwords in the Go environment and
    /// Authorization, Proxy-Authorization and Cookie headers in captured
    /// HTTP (redacted by default).
    #[arg(long)]
    no_redact: bool,
    /// Create this file (containing the command's PID) once tracing is live,
    /// just before the command starts (it then runs on even if gotrace is
    /// killed); for scripts and tests.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
    /// Print one line per network event as it happens, on stderr
    /// (interleaved with the command's own stderr).
    #[arg(short = 'v', long = "live")]
    live: bool,
}

impl Recording {
    /// The library's options, with `live` decided by the caller.
    fn options(self, live: bool) -> RecordOptions {
        RecordOptions {
            output: self.output,
            json: self.json,
            ready_file: self.ready_file,
            live,
            no_redact: self.no_redact,
            json_file: self.json_file,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a command traced (needs root, or CAP_BPF + CAP_PERFMON + CAP_NET_RAW), then report.
    Run {
        #[command(flatten)]
        recording: Recording,
        /// Run the command as USER (a name or a uid). Default: under sudo,
        /// the user who invoked sudo (SUDO_UID); else gotrace's own user.
        /// `--user root` keeps root.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// The command and its arguments, after `--`.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        command: Vec<String>,
    },
    /// Trace a running process (its threads, and the children it starts
    /// afterwards) until it exits, Ctrl-C, or --duration; then report.
    /// The process is not stopped or signalled; detaching leaves it as it was.
    #[command(
        mut_arg("ready_file", |a| a.help("Create this file (containing the PID) once tracing is live")),
        mut_arg("live", |a| a
            .help("Print one line per network event as it happens (default when stderr is a terminal)")
            .conflicts_with("quiet")),
    )]
    Attach {
        /// The process to trace: a PID (TGID), not a thread id.
        #[arg(
            short = 'p',
            long = "pid",
            value_name = "PID",
            allow_negative_numbers = true
        )]
        pid: i64,
        /// Detach after this long (30, 500ms, 30s, 2m, 1h).
        #[arg(long, value_name = "DURATION", value_parser = attach::parse_duration)]
        duration: Option<std::time::Duration>,
        #[command(flatten)]
        recording: Recording,
        /// No live lines, only the report.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Analyse a bundle written by `gotrace run`, or a bare pcap/pcapng
    /// capture (tcpdump -w, Wireshark) on its own (no privileges needed).
    Analyze {
        /// Print the verdict as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Also write the report as one self-contained HTML page to OUT
        /// (made new or truncated, never through a symbolic link; mode 0600).
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
        /// A bundle directory; a capture file (network-layer verdict only);
        /// or `-` to read a capture from standard input.
        #[arg(value_name = "BUNDLE_DIR|FILE|-")]
        input: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run {
            recording,
            user,
            command,
        } => {
            let live = recording.live;
            run::run(run::RunOptions {
                argv: command,
                record: recording.options(live),
                user,
            })
        }
        Cmd::Attach {
            pid,
            duration,
            recording,
            quiet,
        } => {
            let live =
                recording.live || (!quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()));
            attach::attach(attach::AttachOptions {
                pid,
                record: recording.options(live),
                duration,
            })
        }
        Cmd::Analyze { json, html, input } => analyze::analyze(&input, json, html.as_deref()),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("{}", error_line(&e));
            std::process::exit(e.exit_code());
        }
    }
}

/// The line printed for an error: the one place the `gotrace` prefix is
/// written (`gotrace run needs ...`, `gotrace: go: command not found`).
fn error_line(e: &TracerError) -> String {
    let sep = if e.names_subcommand() { " " } else { ": " };
    format!("gotrace{sep}{e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cmd, clap::Error> {
        Cli::try_parse_from(std::iter::once("gotrace").chain(args.iter().copied())).map(|c| c.cmd)
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_the_shared_flags_and_the_command_verbatim() {
        let Ok(Cmd::Run {
            recording,
            user,
            command,
        }) = parse(&[
            "run",
            "-o",
            "b",
            "--json",
            "-v",
            "--ready-file",
            "r",
            "--no-redact",
            "--json-file",
            "v.json",
            "--",
            "go",
            "mod",
            "-x",
        ])
        else {
            panic!("run must parse");
        };
        assert_eq!(
            recording.options(true),
            RecordOptions {
                output: Some("b".into()),
                json: true,
                ready_file: Some("r".into()),
                live: true,
                no_redact: true,
                json_file: Some("v.json".into()),
            }
        );
        assert_eq!(user, None);
        assert_eq!(command, ["go", "mod", "-x"]);
        assert!(parse(&["run"]).is_err(), "a command is required");
    }

    #[test]
    fn attach_takes_the_shared_flags_and_refuses_live_with_quiet() {
        let Ok(Cmd::Attach {
            pid,
            duration,
            recording,
            quiet,
        }) = parse(&["attach", "-p", "-3", "--duration", "2m", "-o", "b", "-q"])
        else {
            panic!("attach must parse");
        };
        assert_eq!(pid, -3, "a negative PID is reported by attach, not clap");
        assert_eq!(duration, Some(std::time::Duration::from_secs(120)));
        assert_eq!(recording.output, Some(PathBuf::from("b")));
        assert!(quiet && !recording.live);
        let e = parse(&["attach", "-p", "1", "-v", "-q"])
            .err()
            .expect("-v -q");
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(parse(&["attach", "-p", "1", "--duration", "0"]).is_err());
    }

    #[test]
    fn attach_rewords_the_shared_help_texts() {
        let cmd = Cli::command();
        let help = |sub: &str, arg: &str| {
            let sub = cmd.find_subcommand(sub).unwrap();
            let a = sub.get_arguments().find(|a| a.get_id() == arg).unwrap();
            a.get_help().unwrap().to_string()
        };
        assert_eq!(
            help("attach", "ready_file"),
            "Create this file (containing the PID) once tracing is live"
        );
        assert!(help("run", "ready_file").contains("just before the command starts"));
        assert!(help("attach", "live").contains("default when stderr is a terminal"));
        assert!(help("run", "live").contains("interleaved with the command's own stderr"));
        assert_eq!(help("run", "output"), help("attach", "output"));
    }

    #[test]
    fn the_gotrace_prefix_joins_each_message_as_before() {
        assert_eq!(
            error_line(&TracerError::NoSuchProcess { pid: 9 }),
            "gotrace attach: no process with PID 9: check it with `ps -p 9`"
        );
        assert!(error_line(&TracerError::Privileges {
            what: "run",
            missing: "CAP_BPF".into()
        })
        .starts_with("gotrace run needs CAP_BPF: run it as root"));
        assert_eq!(
            error_line(&TracerError::CommandNotFound {
                cmd: "go".into(),
                reason: "command not found"
            }),
            "gotrace: go: command not found"
        );
        assert_eq!(
            error_line(&TracerError::SwitchUser {
                user: "bob".into(),
                problem: "setuid failed".into()
            }),
            "gotrace: cannot run the command as bob: setuid failed"
        );
        assert!(error_line(&TracerError::NoEbpfObject)
            .starts_with("gotrace: this gotrace binary was built without"));
    }
}
