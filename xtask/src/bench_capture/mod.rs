//! `bench-capture`: the capture analysis benchmark (issue 5 part C).
//!
//! This step writes the synthetic pcapng of a Go module fetch workload
//! ([`generator`]) and prints what it holds; timing the analyses on it
//! comes next.

mod generator;
mod mix;
mod packets;
mod payloads;
mod plan;
mod prng;
mod sessions;

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

const USAGE: &str = "usage: cargo xtask bench-capture [--size-gib N] --out DIR";

/// 1 GiB (bytes).
const GIB: f64 = (1u64 << 30) as f64;

/// Writes `DIR/capture.pcapng`; `args` follow `bench-capture`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut size_gib = 1.0;
    let mut out = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--size-gib" => {
                size_gib = it
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|g| g.is_finite() && *g > 0.0 && *g <= 1024.0)
                    .ok_or(format!(
                        "--size-gib: give a size in GiB above 0 and at most 1024\n{USAGE}"
                    ))?;
            }
            "--out" => out = it.next().map(PathBuf::from),
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    let dir = out.ok_or(format!("--out DIR is needed\n{USAGE}"))?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let path = dir.join("capture.pcapng");
    let io = |e: std::io::Error| format!("writing {}: {e}", path.display());
    let file = File::create(&path).map_err(io)?;
    let target = (size_gib * GIB).ceil() as u64;
    let (sum, w) = generator::generate(
        target,
        BufWriter::with_capacity(1 << 20, file),
        |_| {},
        || false,
    )?;
    w.into_inner().map_err(|e| io(e.into_error()))?;
    println!(
        "wrote {}: {} bytes, {} packets",
        path.display(),
        sum.file_bytes,
        sum.packets
    );
    print!("{}", sum.mix);
    Ok(())
}

#[cfg(test)]
mod tests;
