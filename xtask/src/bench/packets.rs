//! Workload `packets`: `bench-load blast` in the server namespace sends
//! 120k UDP datagrams a second (64-byte payloads) for the duration to
//! `bench-load sink` in the client namespace, the traced process. The sink
//! reads with recvmmsg(2), which gotrace does not trace, so what is
//! measured is the capture: every datagram crosses the client's veth,
//! which gotrace's AF_PACKET socket sees.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use gotrace_e2e::{Lab, LabConfig, Proxy, CLIENT_IP};

use super::background::{self, Background};
use super::mode::{Mode, Tools};
use super::results::{self, Kv};
use super::run::{self, Runner, Sample};

/// The sink's port in the client namespace.
const SINK_PORT: u16 = 9999;

pub fn run(
    tools: &Tools,
    runs: usize,
    duration: Duration,
    root: &Path,
) -> Result<Vec<Sample>, String> {
    let name = "packets";
    let lab = Lab::up(LabConfig {
        proxy: Proxy::Closed,
        ..LabConfig::default()
    })
    .map_err(|e| format!("{name}: lab: {e}"))?;
    let root = root.join(name);
    let runner = Runner {
        lab: &lab,
        tools,
        root: root.clone(),
    };
    let sink = format!("{CLIENT_IP}:{SINK_PORT}");
    let mut samples = Vec::new();
    for round in 0..runs {
        for mode in Mode::order(round) {
            if gotrace_e2e::interrupted() {
                return Err("interrupted".into());
            }
            let id = format!("{round}-{}", mode.name());
            let dir = root.join(&id);
            let (ready, sink_out, blast_out) = (
                dir.join("sink.ready"),
                dir.join("sink.txt"),
                dir.join("blast.txt"),
            );
            let cmd: Vec<OsString> = vec![
                run::arg(&tools.load),
                "sink".into(),
                "--bind".into(),
                sink.clone().into(),
                "--ready".into(),
                run::arg(&ready),
                "--out".into(),
                run::arg(&sink_out),
            ];
            let mut started = runner.start(mode, &id, &cmd, |_| {})?;
            started
                .process
                .wait_until("the sink", Duration::from_secs(30), || ready.exists())
                .map_err(|e| format!("{name} {id}: {e}"))?;
            let blast_args: Vec<OsString> = vec![
                "blast".into(),
                "--to".into(),
                sink.clone().into(),
                "--duration".into(),
                duration.as_secs_f64().to_string().into(),
                "--out".into(),
                run::arg(&blast_out),
            ];
            let cmd = background::in_netns(
                lab.server_ns(),
                &tools.load,
                &blast_args,
                &dir.join("blast.log"),
            )?;
            Background::start("bench-load blast", cmd)?
                .finish_alongside(&mut started.process)
                .map_err(|e| format!("{name} {id}: {e}"))?;
            let (mut sample, dir) = runner.finish(started).map_err(|e| format!("{name}: {e}"))?;
            let (blast, received) = (Kv::read(&blast_out)?, Kv::read(&sink_out)?);
            let sent = blast.num("sent")? as u64;
            sample.rate = Some(blast.num("rate")?);
            sample.extra.push((
                "received/sent",
                received.num("received")? / sent.max(1) as f64,
            ));
            if mode == Mode::Gotrace {
                let frames = results::pcapng_frames(&dir.bundle().join("capture.pcapng"))?;
                sample.captured = Some((frames, sent));
            }
            samples.push(sample);
            run::discard(dir);
        }
        eprintln!("xtask: bench: {name}: round {} of {runs} done", round + 1);
    }
    Ok(samples)
}
