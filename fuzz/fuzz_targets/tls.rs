//! TLS record decoding (analyzer::tls) over arbitrary bytes.
#![no_main]

use gotrace_analyzer::capture::AppSummary;
use gotrace_analyzer::tls::{self, TlsSummary, MAX_MESSAGES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tls::looks_like_record(data);
    if let Some(s) = TlsSummary::parse(data) {
        assert!(s.messages.len() <= MAX_MESSAGES);
        let _ = s.describe();
        let _ = s.client_hello().map(|c| (c.max_version(), c.describe()));
        let _ = s.server_hello().map(|h| (h.version(), h.describe()));
        let _ = s.alert().map(|a| a.is_fatal());
    }
    if let Some(a) = AppSummary::sniff(data) {
        let _ = a.describe();
    }
});
