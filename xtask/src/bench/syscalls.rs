//! Workload `syscalls`: `bench-load connect` in the client namespace for
//! the duration (default 10 s): 100k socket()+connect()+close() a second
//! (10% TCP dials to a listener, 90% UDP connects) on two threads, plus
//! 10k DNS-like UDP write()/read() pairs a second. The listener and the
//! UDP echo (`bench-load serve`) run in the server namespace, outside
//! the traced tree, so only the client's syscalls are traced (as with Go
//! and its module proxy).

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use gotrace_e2e::{Lab, LabConfig, Proxy, SERVER_IP};

use super::background::{self, Background};
use super::mode::{Mode, Tools};
use super::results::Kv;
use super::run::{self, Runner, Sample};

/// The listener's port in the server namespace.
const TCP_PORT: u16 = 9000;
/// The UDP echo's port in the server namespace.
const UDP_PORT: u16 = 5300;

pub fn run(
    tools: &Tools,
    runs: usize,
    duration: Duration,
    root: &Path,
) -> Result<Vec<Sample>, String> {
    let name = "syscalls";
    let lab = Lab::up(LabConfig {
        proxy: Proxy::Closed,
        ..LabConfig::default()
    })
    .map_err(|e| format!("{name}: lab: {e}"))?;
    let root = root.join(name);
    std::fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let tcp = format!("{SERVER_IP}:{TCP_PORT}");
    let udp = format!("{SERVER_IP}:{UDP_PORT}");
    let ready = root.join("serve.ready");
    let serve_args: Vec<OsString> = ["serve", "--tcp", &tcp, "--udp", &udp, "--ready"]
        .map(OsString::from)
        .into_iter()
        .chain([run::arg(&ready)])
        .collect();
    let cmd = background::in_netns(
        lab.server_ns(),
        &tools.load,
        &serve_args,
        &root.join("serve.log"),
    )?;
    let mut server = Background::start("bench-load serve", cmd)?;
    server.wait_for_file(&ready, Duration::from_secs(10))?;
    let runner = Runner {
        lab: &lab,
        tools,
        root: root.clone(),
    };
    let mut samples = Vec::new();
    for round in 0..runs {
        for mode in Mode::order(round) {
            if gotrace_e2e::interrupted() {
                return Err("interrupted".into());
            }
            let id = format!("{round}-{}", mode.name());
            let out = root.join(&id).join("load.txt");
            let cmd: Vec<OsString> = vec![
                run::arg(&tools.load),
                "connect".into(),
                "--tcp".into(),
                tcp.clone().into(),
                "--udp".into(),
                udp.clone().into(),
                "--duration".into(),
                duration.as_secs_f64().to_string().into(),
                "--out".into(),
                run::arg(&out),
            ];
            let started = runner.start(mode, &id, &cmd, |_| {})?;
            let (mut sample, dir) = runner.finish(started).map_err(|e| format!("{name}: {e}"))?;
            let load = Kv::read(&out)?;
            sample.rate = Some(load.num("dial_rate")?);
            sample
                .extra
                .push(("udp pairs/s", load.num("udp_pair_rate")?));
            let errors = load.num("dial_errors")? + load.num("udp_pair_errors")?;
            if errors > 0.0 {
                eprintln!(
                    "xtask: bench: {name} {id}: {errors} failed dials or pairs (first: {})",
                    load.text("first_error")
                );
            }
            samples.push(sample);
            run::discard(dir);
        }
        eprintln!("xtask: bench: {name}: round {} of {runs} done", round + 1);
    }
    drop(server);
    Ok(samples)
}
