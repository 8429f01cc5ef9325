//! Workloads `tidy-small` and `tidy-large`: the real `go mod tidy`
//! against the lab's module proxy, from an empty module cache every run.
//! Small: the demo module (one dependency, lab.test/greet). Large: a
//! generated graph of [`DEFAULT_MODULES`] modules (gotrace_e2e::modgraph)
//! that the root module imports, so tidy fetches every one. The module
//! caches live on a tmpfs ([`Scratch`]).

use std::ffi::OsString;
use std::path::PathBuf;

use gotrace_e2e::{modgraph, Lab, LabConfig};

use super::mode::{Mode, Tools};
use super::run::{self, Runner, Sample};

/// Modules in the large graph (issue 6: at least 200).
pub const DEFAULT_MODULES: usize = 200;

/// Which module `go mod tidy` runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The demo module.
    Small,
    /// The generated graph.
    Large,
}

/// `runs` rounds of the three modes; the samples in run order.
pub fn run(
    tools: &Tools,
    size: Size,
    runs: usize,
    root: &std::path::Path,
) -> Result<Vec<Sample>, String> {
    let name = match size {
        Size::Small => "tidy-small",
        Size::Large => "tidy-large",
    };
    let config = match size {
        Size::Small => LabConfig::default(),
        Size::Large => {
            let graph = modgraph::generate(&root.join("graph"), DEFAULT_MODULES)
                .map_err(|e| format!("generating the module graph: {e}"))?;
            LabConfig {
                proxy_tree: Some(graph.proxy_tree),
                module: graph.root_module,
                ..LabConfig::default()
            }
        }
    };
    let lab = Lab::up(config).map_err(|e| format!("{name}: lab: {e}"))?;
    let runner = Runner {
        lab: &lab,
        tools,
        root: root.join(name),
    };
    let cmd: Vec<OsString> = ["go", "mod", "tidy"].map(OsString::from).to_vec();
    warm_up(&lab, name)?;
    let caches = Scratch::new(name)?;
    let mut samples = Vec::new();
    for round in 0..runs {
        for mode in Mode::order(round) {
            if gotrace_e2e::interrupted() {
                return Err("interrupted".into());
            }
            let id = format!("{round}-{}", mode.name());
            // A fresh copy of the module and an empty GOPATH and module
            // cache for every run; the lab's build cache, warm, is shared.
            let dir = runner.root.join(&id);
            let module = dir.join("module");
            gotrace_e2e::copy_dir(lab.module_dir(), &module).map_err(|e| format!("{name}: {e}"))?;
            let go = caches.0.join(&id);
            std::fs::create_dir_all(&go).map_err(|e| format!("creating {}: {e}", go.display()))?;
            let started = runner.start(mode, &id, &cmd, |c| {
                c.current_dir(&module)
                    .env("GOPATH", go.join("path"))
                    .env("GOMODCACHE", go.join("path/pkg/mod"));
            })?;
            let (sample, dir) = runner.finish(started).map_err(|e| format!("{name}: {e}"))?;
            samples.push(sample);
            run::discard(dir);
            let _ = std::fs::remove_dir_all(&go);
        }
        eprintln!("xtask: bench: {name}: round {} of {runs} done", round + 1);
    }
    Ok(samples)
}

/// One untraced `go mod tidy`, not measured: Go fills its build cache
/// (GOCACHE, 256 directories) on first use, which would otherwise land on
/// whichever mode runs first. (With an empty build cache tidy-small takes
/// ~0.2 s instead of ~0.03 s.)
fn warm_up(lab: &Lab, name: &str) -> Result<(), String> {
    let out = lab
        .go(&["mod", "tidy"])
        .map_err(|e| format!("{name}: warm-up: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{name}: warm-up `go mod tidy` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Where the runs' GOPATH and module caches go, removed when dropped: on
/// /dev/shm when that is a tmpfs. On the disk, the ext4 inode allocator
/// dominated `go mod tidy`'s CPU time (`find_inode_bit`,
/// `recently_deleted`: 60% in perf) after the previous run's cache was
/// deleted, and varied 2x from run to run, drowning the tracer's cost.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Result<Scratch, String> {
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let shm_is_tmpfs = mounts.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&"/dev/shm") && f.get(2) == Some(&"tmpfs")
        });
        let base = if shm_is_tmpfs {
            PathBuf::from("/dev/shm")
        } else {
            let tmp = std::env::temp_dir();
            eprintln!(
                "xtask: bench: /dev/shm is not a tmpfs; the module caches go to {} (disk noise included)",
                tmp.display()
            );
            tmp
        };
        let dir = base.join(format!("gotrace-bench-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
