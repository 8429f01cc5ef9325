//! `bench-capture`: the capture analysis benchmark (issue 5 part C).
//!
//! Writes a large synthetic pcapng of a Go module fetch workload
//! ([`generator`]), then times `gotrace analyze --json FILE` against
//! `tshark -r FILE -q -z conv,tcp` side by side ([`runner`]) and says
//! whether the issue's goals are met: gotrace >= 5x faster than tshark,
//! peak memory < 100 MiB. Exits non-zero only when the harness cannot
//! measure (a missed goal is reported, not an error).

mod disk;
mod generator;
pub(crate) mod measure;
mod mix;
mod packets;
mod payloads;
mod plan;
pub(crate) mod prng;
mod runner;
mod sessions;
pub(crate) mod workdir;

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use disk::Cache;
use runner::Tool;
use workdir::WorkDir;

use crate::util;

const USAGE: &str = "usage: cargo xtask bench-capture [--size-gib N] [--keep] [--out DIR] [--rounds N] [--cold] [--gotrace-cmd 'CMD ARGS']

  --size-gib N        capture size in GiB (default 1; fractions such as 0.1 are fine for a quick check)
  --keep              keep the capture and the commands' outputs (default: deleted at the end)
  --out DIR           write them to DIR (default: a new directory under $TMPDIR or /tmp)
  --rounds N          timed runs of each command (default 3), alternating gotrace, tshark, ...
  --cold              evict the file from the page cache before each run (default: read it once
                      before each run, so every run starts warm)
  --gotrace-cmd CMD   time CMD instead of `target/release/gotrace analyze --json FILE`; split on
                      spaces, `{}` is replaced by the capture's path (appended when absent), e.g.
                      --gotrace-cmd target/release/examples/read_capture";

/// 1 GiB (bytes).
const GIB: f64 = (1u64 << 30) as f64;
/// Size of the small capture both commands are tried on first (bytes).
const PROBE_BYTES: u64 = 256 << 10;

/// Command-line options.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    size_gib: f64,
    keep: bool,
    out: Option<PathBuf>,
    rounds: usize,
    cache: Cache,
    gotrace_cmd: Option<String>,
}

/// Runs the benchmark; `args` follow `bench-capture`.
pub fn run(args: &[String]) -> Result<(), String> {
    let Some(o) = parse(args)? else {
        println!("{USAGE}");
        return Ok(());
    };
    gotrace_e2e::survive_interrupts();
    let stop = gotrace_e2e::interrupted;
    let target = (o.size_gib * GIB).ceil() as u64;
    let work = WorkDir::new(o.out.as_deref(), o.keep)?;
    for name in [
        "gotrace.stdout",
        "gotrace.stderr",
        "tshark.stdout",
        "tshark.stderr",
    ] {
        work.file(name);
    }
    let need = disk::needed_bytes(target);
    let free = disk::free_bytes(work.path())?;
    if free < need {
        return Err(format!(
            "not enough space in {}: a {:.2} GiB capture needs {} free (its size + 10%), {} is free; free some space, write elsewhere with --out DIR, or pass a smaller --size-gib",
            work.path().display(),
            o.size_gib,
            runner::mib(need),
            runner::mib(free)
        ));
    }
    let gotrace = GotraceCmd::resolve(o.gotrace_cmd.as_deref())?;
    let tshark_version = util::output("tshark", &["--version"]).ok_or(
        "tshark is not installed or does not run: install it (`sudo cargo xtask setup`, or apt-get install tshark)",
    )?;

    // Both commands must work on a small capture before the big one is written.
    let probe = work.file("probe.pcapng");
    write_capture(&probe, PROBE_BYTES, false, &stop)?;
    runner::check(&gotrace.tool(&probe), work.path()).map_err(|e| gotrace.explain(e))?;
    runner::check(&tshark(&probe), work.path())?;
    let _ = std::fs::remove_file(&probe);

    let capture = work.file("capture.pcapng");
    let sum = write_capture(&capture, target, true, &stop)?;
    let tools = [gotrace.tool(&capture), tshark(&capture)];
    println!();
    println!("tools:");
    println!("  gotrace: {}", tools[0].shown());
    if let GotraceCmd::Custom(_) = gotrace {
        println!("           (a stand-in given with --gotrace-cmd, not `gotrace analyze`: the goals below are judged on it)");
    }
    println!(
        "  tshark:  {}  ({})",
        tools[1].shown(),
        tshark_version.lines().next().unwrap_or("").trim()
    );
    println!("page cache: {}", o.cache.describe());
    println!(
        "order: {} rounds, alternating gotrace, tshark; {} CPUs, load average {} before",
        o.rounds,
        cpus(),
        load_average()
    );
    let samples = runner::time_rounds(&tools, &capture, o.rounds, o.cache, work.path(), stop)?;
    println!("load average after: {}", load_average());
    println!();
    print!("{}", runner::table(&tools, &samples, sum.file_bytes));
    println!();
    report_outputs(&tools, work.path(), &sum);
    if o.keep {
        println!("kept: {}", work.path().display());
    }
    Ok(())
}

/// Parses the options; `None` for `--help`.
fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options {
        size_gib: 1.0,
        keep: false,
        out: None,
        rounds: 3,
        cache: Cache::Warm,
        gotrace_cmd: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--keep" => o.keep = true,
            "--cold" => o.cache = Cache::Cold,
            "--size-gib" => {
                let v = value(a)?;
                o.size_gib = v
                    .parse::<f64>()
                    .ok()
                    .filter(|g| g.is_finite() && *g > 0.0 && *g <= 1024.0)
                    .ok_or(format!("--size-gib {v}: give a size in GiB above 0 and at most 1024, e.g. 1 or 0.1"))?;
            }
            "--rounds" => {
                let v = value(a)?;
                o.rounds = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=50).contains(n))
                    .ok_or(format!("--rounds {v}: give a count from 1 to 50"))?;
            }
            "--out" => o.out = Some(PathBuf::from(value(a)?)),
            "--gotrace-cmd" => {
                let v = value(a)?;
                if v.split_whitespace().next().is_none() {
                    return Err("--gotrace-cmd is empty: give a command, e.g. target/release/examples/read_capture".into());
                }
                o.gotrace_cmd = Some(v);
            }
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    Ok(Some(o))
}

/// What the gotrace column runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GotraceCmd {
    /// `BIN analyze --json FILE`.
    Analyze(PathBuf),
    /// A stand-in command line, split on spaces.
    Custom(Vec<String>),
}

impl GotraceCmd {
    /// Builds the release gotrace binary (analysis needs no eBPF object),
    /// or takes the `--gotrace-cmd` words.
    fn resolve(custom: Option<&str>) -> Result<GotraceCmd, String> {
        if let Some(c) = custom {
            return Ok(GotraceCmd::Custom(
                c.split_whitespace().map(String::from).collect(),
            ));
        }
        let mut cmd = util::cargo();
        cmd.args(["build", "--release", "--locked", "-p", "gotrace"])
            .current_dir(gotrace_e2e::workspace_root());
        util::run(&mut cmd).map_err(|e| format!("building the gotrace binary to time it: {e}"))?;
        let bin = util::gotrace_bin();
        if !bin.is_file() {
            return Err(format!(
                "cargo build succeeded but {} is missing",
                bin.display()
            ));
        }
        Ok(GotraceCmd::Analyze(bin))
    }

    /// The command line for `file`.
    fn tool(&self, file: &Path) -> Tool {
        let argv = match self {
            GotraceCmd::Analyze(bin) => vec![
                bin.clone().into_os_string(),
                "analyze".into(),
                "--json".into(),
                file.into(),
            ],
            GotraceCmd::Custom(words) => substitute(words, file),
        };
        Tool {
            name: "gotrace",
            argv,
        }
    }

    /// Adds to a failure of the trial run what it most likely means.
    fn explain(&self, e: String) -> String {
        match self {
            GotraceCmd::Analyze(_) => format!(
                "`gotrace analyze` fails on a small capture, so there is nothing to time:\n{e}\n\
                 To check the harness meanwhile, time a stand-in such as the analyzer's raw reader:\n  \
                 cargo build --release -p gotrace-analyzer --example read_capture\n  \
                 cargo xtask bench-capture --gotrace-cmd target/release/examples/read_capture"
            ),
            GotraceCmd::Custom(_) => format!("the --gotrace-cmd command fails on a small capture:\n{e}"),
        }
    }
}

/// `words` with each `{}` replaced by `file`, or `file` appended when
/// there is no `{}`.
fn substitute(words: &[String], file: &Path) -> Vec<OsString> {
    let mut argv: Vec<OsString> = words
        .iter()
        .map(|w| {
            if w == "{}" {
                file.as_os_str().to_owned()
            } else {
                OsString::from(w)
            }
        })
        .collect();
    if !words.iter().any(|w| w == "{}") {
        argv.push(file.into());
    }
    argv
}

fn tshark(file: &Path) -> Tool {
    Tool {
        name: "tshark",
        argv: vec![
            "tshark".into(),
            "-r".into(),
            file.into(),
            "-q".into(),
            "-z".into(),
            "conv,tcp".into(),
        ],
    }
}

/// Writes a capture of at least `target` bytes to `path`, synced to disk
/// (so no write-back runs during the timed runs); prints what it holds
/// when `verbose`.
fn write_capture(
    path: &Path,
    target: u64,
    verbose: bool,
    stop: &dyn Fn() -> bool,
) -> Result<generator::Summary, String> {
    let io = |e: std::io::Error| format!("writing {}: {e}", path.display());
    let file = File::create(path).map_err(io)?;
    let start = Instant::now();
    let mut shown = 0u64;
    let progress = |bytes: u64| {
        if verbose && bytes >= shown + (64 << 20) {
            shown = bytes;
            eprint!(
                "\rxtask: writing the capture: {} / {}   ",
                runner::mib(bytes),
                runner::mib(target)
            );
        }
    };
    let written = generator::generate(
        target,
        BufWriter::with_capacity(1 << 20, file),
        progress,
        stop,
    );
    if verbose {
        // Ends the progress line.
        eprintln!();
    }
    let (sum, out) = written?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len != sum.file_bytes {
        return Err(format!(
            "internal: {} holds {len} bytes, the generator counted {}",
            path.display(),
            sum.file_bytes
        ));
    }
    if verbose {
        let secs = start.elapsed().as_secs_f64();
        println!(
            "wrote {}: {} bytes ({:.2} GiB) in {secs:.1} s",
            path.display(),
            sum.file_bytes,
            sum.file_bytes as f64 / GIB
        );
        println!(
            "  packets: {} ({} of them 1514-byte full data segments, {:.0}%), {:.1} s of capture time, seed {:#x}",
            sum.packets,
            sum.full_frames,
            100.0 * sum.full_frames as f64 / sum.packets.max(1) as f64,
            sum.span_ns as f64 / 1e9,
            generator::SEED
        );
        print!("{}", sum.mix);
    }
    let _ = std::io::stdout().flush();
    Ok(sum)
}

/// What the last runs printed: tshark's TCP conversation count (to check
/// against the generator's TCP flows) and the head of gotrace's output.
fn report_outputs(tools: &[Tool; 2], dir: &Path, sum: &generator::Summary) {
    let (g_out, _) = runner::output_paths(&tools[0], dir);
    let (t_out, _) = runner::output_paths(&tools[1], dir);
    if let Ok(t) = std::fs::read_to_string(&t_out) {
        let convs = t.lines().filter(|l| l.contains("<->")).count();
        println!(
            "tshark listed {convs} TCP conversations; the capture holds {} TCP flows",
            sum.mix.tcp_flows
        );
    }
    if let Ok(g) = std::fs::read_to_string(&g_out) {
        println!("gotrace printed {} bytes; first lines:", g.len());
        for l in g.lines().take(6) {
            let l: String = l.chars().take(160).collect();
            println!("  {l}");
        }
    }
}

pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The 1-minute load average, or `?`.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests;
