//! Reading what a run left behind: the `key value` files of bench-load,
//! and gotrace's bundle (meta.json counters, the command's exec time in
//! events.jsonl, the frames in capture.pcapng).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// A `key value` file written by bench-load.
pub struct Kv(HashMap<String, String>);

impl Kv {
    /// Reads `path`; Err names the file (the program that should have
    /// written it probably failed: see its stderr).
    pub fn read(path: &Path) -> Result<Kv, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "reading {}: {e} (did bench-load fail? see the run's stderr.txt)",
                path.display()
            )
        })?;
        Ok(Kv(text
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()))
    }

    /// The value of `key` as a number.
    pub fn num(&self, key: &str) -> Result<f64, String> {
        let v = self
            .0
            .get(key)
            .ok_or_else(|| format!("no `{key}` in bench-load's results"))?;
        v.parse()
            .map_err(|e| format!("`{key} {v}` in bench-load's results: {e}"))
    }

    /// The value of `key` as text ("" when absent).
    pub fn text(&self, key: &str) -> &str {
        self.0.get(key).map_or("", String::as_str)
    }
}

/// The counters gotrace writes into meta.json at the end.
pub struct MetaCounts {
    /// Events the ring buffer could not take.
    pub lost_events: u64,
    /// Packets the capture socket dropped (PACKET_STATISTICS).
    pub dropped_packets: u64,
}

/// `lost_events` and `dropped_packets` of `bundle/meta.json`.
pub fn meta_counts(bundle: &Path) -> Result<MetaCounts, String> {
    let path = bundle.join("meta.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let n = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| format!("{}: no `{k}`", path.display()))
    };
    Ok(MetaCounts {
        lost_events: n("lost_events")?,
        dropped_packets: n("dropped_packets")?,
    })
}

/// `ts_ns` (CLOCK_MONOTONIC) of the first `exec` event in
/// `bundle/events.jsonl`: the traced command's exec.
pub fn first_exec_ns(bundle: &Path) -> Result<u64, String> {
    let path = bundle.join("events.jsonl");
    let file =
        std::fs::File::open(&path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    for line in BufReader::new(file).lines().take(1000) {
        let line = line.map_err(|e| format!("reading {}: {e}", path.display()))?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v.get("kind").and_then(|k| k.as_str()) == Some("exec") {
            if let Some(ts) = v.get("ts_ns").and_then(serde_json::Value::as_u64) {
                return Ok(ts);
            }
        }
    }
    Err(format!("{}: no exec event", path.display()))
}

/// pcapng Enhanced Packet Block type.
const EPB: u32 = 6;

/// Packets (Enhanced Packet Blocks) in a little-endian pcapng file, by
/// walking the block headers (type, total length).
pub fn pcapng_frames(path: &Path) -> Result<u64, String> {
    let err = |e: std::io::Error| format!("reading {}: {e}", path.display());
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(err)?);
    let (mut frames, mut head, mut skip) = (0u64, [0u8; 8], Vec::new());
    loop {
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(frames),
            Err(e) => return Err(err(e)),
        }
        let ty = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if len < 12 || !len.is_multiple_of(4) {
            return Err(format!(
                "{}: bad block length {len} after {frames} packets",
                path.display()
            ));
        }
        if ty == EPB {
            frames += 1;
        }
        skip.resize(len - 8, 0);
        match r.read_exact(&mut skip) {
            Ok(()) => {}
            // A block cut short at the end: gotrace was still flushing.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(frames),
            Err(e) => return Err(err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_enhanced_packet_blocks() {
        let mut f = Vec::new();
        let block = |ty: u32, body: usize| {
            let len = (12 + body) as u32;
            let mut b = ty.to_le_bytes().to_vec();
            b.extend(len.to_le_bytes());
            b.extend(vec![0u8; body]);
            b.extend(len.to_le_bytes());
            b
        };
        f.extend(block(0x0A0D0D0A, 16));
        f.extend(block(1, 8));
        f.extend(block(6, 40));
        f.extend(block(6, 20));
        let dir = tempfile_dir();
        let p = dir.join("c.pcapng");
        std::fs::write(&p, &f).unwrap();
        assert_eq!(super::pcapng_frames(&p).unwrap(), 2);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
