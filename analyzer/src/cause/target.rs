//! What a failure was reaching: the name and address a verdict, its
//! remediation and the text report cite.

use serde::Serialize;

/// What was being reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Host name, from DNS or Go's error text.
    pub name: Option<String>,
    /// Address in text form.
    pub ip: Option<String>,
    /// Port.
    pub port: Option<u16>,
}

impl Target {
    /// The address as Go prints it (`198.18.0.2:8080`, `[2001:db8::1]:443`,
    /// the bare IP without a port); `None` without an IP.
    pub fn addr(&self) -> Option<String> {
        match (&self.ip, self.port) {
            (Some(ip), Some(p)) if ip.contains(':') => Some(format!("[{ip}]:{p}")),
            (Some(ip), Some(p)) => Some(format!("{ip}:{p}")),
            (Some(ip), None) => Some(ip.clone()),
            _ => None,
        }
    }
}
