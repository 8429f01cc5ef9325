//! What the generator put in the capture, counted as it plans: flows,
//! sessions and failures by kind, so an analysis of the file can be checked
//! against it. Failure names are the analyzer's cause ids (README "Cause
//! ids") where one fits.

use std::fmt;

/// One failure the capture holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Both lookups (A, AAAA) answered NXDOMAIN.
    DnsNxdomain,
    /// Both lookups answered SERVFAIL.
    DnsServfail,
    /// Queries and their retries (5 s later, new sockets) got no answer.
    DnsTimeout,
    /// The DNS server's host answered ICMP port unreachable.
    DnsPortUnreachable,
    /// SYN answered by RST.
    ConnectionRefused,
    /// SYN and 4 retransmits, no answer (Go gives up at 30 s).
    ConnectTimeout,
    /// SYNs answered by ICMP host unreachable from the router.
    IcmpUnreachable,
    /// The server reset the connection in the middle of a response body.
    ConnectionReset,
    /// The server answered the ClientHello with a fatal alert.
    TlsAlert,
    /// The client rejected the server's certificate (its alert, then FIN).
    TlsUntrustedCertificate,
    /// HTTP 404 or 410 (Go moves on to the next proxy after `,`).
    HttpNotFound,
    /// Another HTTP 4xx/5xx (403, 500, 502).
    HttpError,
}

impl Failure {
    /// Every kind, in report order.
    pub const ALL: [Failure; 12] = [
        Failure::DnsNxdomain,
        Failure::DnsServfail,
        Failure::DnsTimeout,
        Failure::DnsPortUnreachable,
        Failure::ConnectionRefused,
        Failure::ConnectTimeout,
        Failure::IcmpUnreachable,
        Failure::ConnectionReset,
        Failure::TlsAlert,
        Failure::TlsUntrustedCertificate,
        Failure::HttpNotFound,
        Failure::HttpError,
    ];

    /// Stable name (the analyzer's cause id where one fits).
    pub fn name(self) -> &'static str {
        match self {
            Failure::DnsNxdomain => "dns-nxdomain",
            Failure::DnsServfail => "dns-server-failure",
            Failure::DnsTimeout => "dns-timeout",
            Failure::DnsPortUnreachable => "dns-port-unreachable",
            Failure::ConnectionRefused => "connection-refused",
            Failure::ConnectTimeout => "connect-timeout",
            Failure::IcmpUnreachable => "icmp-unreachable",
            Failure::ConnectionReset => "connection-reset",
            Failure::TlsAlert => "tls-alert",
            Failure::TlsUntrustedCertificate => "tls-untrusted-certificate",
            Failure::HttpNotFound => "http-status 404/410",
            Failure::HttpError => "http-status 403/500/502",
        }
    }

    fn index(self) -> usize {
        Failure::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

/// Counts of what was planned (every planned session is written whole).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mix {
    /// Sessions: one name lookup and what followed it.
    pub sessions: u64,
    /// TCP connections (distinct 4-tuples).
    pub tcp_flows: u64,
    /// UDP flows (one DNS query socket each).
    pub udp_flows: u64,
    /// ICMP unreachable messages.
    pub icmp_errors: u64,
    /// HTTP responses with status 200.
    pub responses_ok: u64,
    /// Of which module zips.
    pub zips: u64,
    /// Module zip body bytes sent (cut bodies included as far as sent).
    pub zip_bytes: u64,
    failures: [u64; Failure::ALL.len()],
}

impl Mix {
    /// Counts one failure.
    pub fn fail(&mut self, f: Failure) {
        self.failures[f.index()] += 1;
    }

    /// How many failures of kind `f`.
    pub fn failures(&self, f: Failure) -> u64 {
        self.failures[f.index()]
    }

    /// Failures of every kind.
    pub fn total_failures(&self) -> u64 {
        self.failures.iter().sum()
    }
}

impl fmt::Display for Mix {
    /// The lines `bench-capture` prints after writing the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  flows: {} (TCP {}, UDP {}), ICMP unreachable messages {}, sessions {}",
            self.tcp_flows + self.udp_flows,
            self.tcp_flows,
            self.udp_flows,
            self.icmp_errors,
            self.sessions
        )?;
        writeln!(
            f,
            "  HTTP 200 responses {} (module zips {}, {} zip body bytes)",
            self.responses_ok, self.zips, self.zip_bytes
        )?;
        writeln!(f, "  failures by kind ({} in all):", self.total_failures())?;
        for k in Failure::ALL {
            writeln!(f, "    {:<28} {}", k.name(), self.failures(k))?;
        }
        Ok(())
    }
}
