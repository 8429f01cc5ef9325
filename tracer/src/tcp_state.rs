//! TCP state names, shared by the probes' events (`record::decode`) and
//! the /proc/net tables (`process::procnet`), which number states alike.

/// The name of TCP state `s` as include/net/tcp_states.h spells it
/// (without `TCP_`); `"UNKNOWN"` for a number it does not define.
pub fn name(s: u64) -> &'static str {
    match s {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn states_are_numbered_as_in_tcp_states_h() {
        assert_eq!(super::name(1), "ESTABLISHED");
        assert_eq!(super::name(2), "SYN_SENT");
        assert_eq!(super::name(7), "CLOSE");
        assert_eq!(super::name(10), "LISTEN");
        assert_eq!(super::name(12), "NEW_SYN_RECV");
        // 0 and TCP_MAX_STATES (13) are not states.
        assert_eq!(super::name(0), "UNKNOWN");
        assert_eq!(super::name(13), "UNKNOWN");
    }
}
