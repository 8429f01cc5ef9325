//! `--name value` options.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::time::Duration;

/// Parsed `--name value` pairs.
pub struct Args(HashMap<String, String>);

impl Args {
    /// Parses `--name value ...`; anything else is an error.
    pub fn parse(argv: &[String]) -> Result<Args, String> {
        let mut map = HashMap::new();
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --option, got {flag:?}"))?;
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            map.insert(name.to_string(), value.clone());
        }
        Ok(Args(map))
    }

    fn get(&self, name: &str) -> Result<&str, String> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required"))
    }

    /// An IPv4 `addr:port`.
    pub fn addr(&self, name: &str) -> Result<SocketAddrV4, String> {
        let v = self.get(name)?;
        v.parse()
            .map_err(|e| format!("--{name} {v:?}: not an IPv4 addr:port ({e})"))
    }

    /// A path.
    pub fn path(&self, name: &str) -> Result<PathBuf, String> {
        self.get(name).map(PathBuf::from)
    }

    /// A number, or `default` when absent.
    pub fn num(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.0.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| format!("--{name} {v:?}: not a number ({e})")),
        }
    }

    /// Seconds (fractions allowed), or `default` when absent.
    pub fn secs(&self, name: &str, default: f64) -> Result<Duration, String> {
        let s = match self.0.get(name) {
            None => default,
            Some(v) => v
                .parse::<f64>()
                .map_err(|e| format!("--{name} {v:?}: not seconds ({e})"))?,
        };
        Duration::try_from_secs_f64(s).map_err(|e| format!("--{name}: {e}"))
    }
}
