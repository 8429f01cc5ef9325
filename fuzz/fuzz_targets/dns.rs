//! DNS message decoding (analyzer::dns) over arbitrary bytes.
#![no_main]

use gotrace_analyzer::dns::DnsMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(m) = DnsMessage::parse(data) {
        assert!(data.len() >= 12, "a message has a header");
        assert!(m.answer_ips.len() <= 16);
        let _ = m.summary();
    }
});
