//! HTTP/1.x head decoding (analyzer::http) over arbitrary bytes.
#![no_main]

use gotrace_analyzer::http::{self, HttpHead};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = http::looks_like_http(data);
    if let Some(h) = HttpHead::parse(data) {
        let _ = h.describe();
    }
});
