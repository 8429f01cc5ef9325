//! TCP states as the bundle names them: the kernel's numbers
//! ([`gotrace_abi::tcp_state`], include/net/tcp_states.h) with the names
//! `events.jsonl` and `meta.json` store (`"SYN_SENT"`, the kernel's own
//! spelling without `TCP_`).

use serde::{Deserialize, Serialize};

/// One TCP state of include/net/tcp_states.h; serialized as its name
/// (`"ESTABLISHED"`). A number or name the kernel does not define is
/// [`TcpState::Unknown`] (`"UNKNOWN"`), so a newer kernel's state or a
/// damaged bundle still reads.
#[allow(missing_docs)] // each variant is the kernel's TCP_<NAME>
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    #[serde(rename = "FIN_WAIT1")]
    FinWait1,
    #[serde(rename = "FIN_WAIT2")]
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    NewSynRecv,
    #[serde(other)]
    Unknown,
}

impl TcpState {
    /// The state the kernel numbers `n` (the tracepoints' `oldstate` /
    /// `newstate`, `/proc/net/tcp`'s `st` column).
    pub fn from_kernel(n: u64) -> TcpState {
        use gotrace_abi::tcp_state as k;
        let Ok(n) = u8::try_from(n) else {
            return TcpState::Unknown;
        };
        match n {
            k::ESTABLISHED => TcpState::Established,
            k::SYN_SENT => TcpState::SynSent,
            k::SYN_RECV => TcpState::SynRecv,
            k::FIN_WAIT1 => TcpState::FinWait1,
            k::FIN_WAIT2 => TcpState::FinWait2,
            k::TIME_WAIT => TcpState::TimeWait,
            k::CLOSE => TcpState::Close,
            k::CLOSE_WAIT => TcpState::CloseWait,
            k::LAST_ACK => TcpState::LastAck,
            k::LISTEN => TcpState::Listen,
            k::CLOSING => TcpState::Closing,
            k::NEW_SYN_RECV => TcpState::NewSynRecv,
            _ => TcpState::Unknown,
        }
    }

    /// Every state, in the kernel's order, then [`TcpState::Unknown`].
    pub const ALL: [TcpState; 13] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::NewSynRecv,
        TcpState::Unknown,
    ];

    /// The state named `name` (`"SYN_SENT"`), as the bundle reader takes
    /// it: a name no kernel defines is [`TcpState::Unknown`].
    pub fn from_name(name: &str) -> TcpState {
        TcpState::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .unwrap_or(TcpState::Unknown)
    }

    /// The name as stored and printed (`"SYN_SENT"`).
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW_SYN_RECV",
            TcpState::Unknown => "UNKNOWN",
        }
    }
}

impl std::fmt::Display for TcpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::TcpState;

    #[test]
    fn every_kernel_number_round_trips_through_its_name() {
        for n in 0..=14u64 {
            let s = TcpState::from_kernel(n);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.name()));
            assert_eq!(serde_json::from_str::<TcpState>(&json).unwrap(), s);
            // include/net/tcp_states.h: 1..=12 are states, 0 and 13+ are not.
            assert_eq!(s == TcpState::Unknown, !(1..=12).contains(&n), "{n}");
        }
        assert_eq!(TcpState::from_kernel(2).name(), "SYN_SENT");
        assert_eq!(TcpState::from_kernel(4).name(), "FIN_WAIT1");
        assert_eq!(TcpState::from_kernel(7).name(), "CLOSE");
        assert_eq!(TcpState::from_kernel(12).name(), "NEW_SYN_RECV");
        assert_eq!(TcpState::from_kernel(1 << 40), TcpState::Unknown);
    }

    #[test]
    fn a_name_no_kernel_defines_reads_as_unknown() {
        let s: TcpState = serde_json::from_str("\"BOUND_INACTIVE\"").unwrap();
        assert_eq!(s, TcpState::Unknown);
        assert_eq!(TcpState::from_name("BOUND_INACTIVE"), TcpState::Unknown);
        for s in TcpState::ALL {
            assert_eq!(TcpState::from_name(s.name()), s);
        }
    }
}
