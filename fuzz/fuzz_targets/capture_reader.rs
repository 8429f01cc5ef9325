//! The capture reader over arbitrary bytes, then every frame through the
//! link layer, packet decoding and the flow index: nothing may panic, and
//! the reader's bounds hold (frame numbers grow, a frame is at most
//! MAX_PACKET_BYTES, warnings are capped).
#![no_main]

use gotrace_analyzer::capture::reader::{MAX_PACKET_BYTES, MAX_WARNINGS};
use gotrace_analyzer::capture::{decode, link, CaptureIndex, CaptureReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else {
        return;
    };
    let mut index = CaptureIndex::default();
    let mut last = 0;
    while let Some(frame) = reader.next_frame() {
        assert!(frame.number > last, "frame numbers grow");
        last = frame.number;
        assert!(frame.data.len() <= MAX_PACKET_BYTES);
        if let Some(net) = link::network(frame.link_type, frame.data) {
            assert!(net.data.len() <= frame.data.len());
        }
        if let Some(p) = decode(&frame) {
            let _ = p.describe();
            index.add(p);
        }
    }
    assert!(reader.packets_seen() >= last);
    assert!(reader.offset() <= data.len() as u64);
    assert!(reader.warnings().len() <= MAX_WARNINGS + 1);
    for (_, packets) in index.flows() {
        assert!(packets.len() <= gotrace_analyzer::capture::MAX_PACKETS_PER_FLOW);
    }
});
