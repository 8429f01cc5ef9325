//! DNS over TCP stream decoding (analyzer::dns_tcp) over arbitrary bytes:
//! the input is cut into segments at offsets its first bytes choose, fed
//! with sequence numbers that may skip, repeat or overlap.
#![no_main]

use gotrace_analyzer::dns_tcp::{DnsTcpStream, MAX_MESSAGE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&plan, rest)) = data.split_first() else {
        return;
    };
    let mut s = DnsTcpStream::new(Some(0));
    let mut seq = 0u32;
    let mut at = 0usize;
    let mut frame = 1u64;
    let step = usize::from(plan % 7) + 1;
    while at < rest.len() {
        let end = (at + step * usize::from(frame as u8 | 1)).min(rest.len());
        let piece = &rest[at..end];
        // Now and then a cut segment or a retransmission.
        let wire = if plan & 0x80 != 0 && frame % 5 == 0 {
            piece.len() + 1
        } else {
            piece.len()
        };
        let msgs = s.feed(frame, seq, piece, wire);
        for m in &msgs {
            assert!(m.first_frame <= m.frame);
            assert!(usize::from(m.len) >= 12 && usize::from(m.len) <= MAX_MESSAGE);
            let _ = m.msg.summary();
        }
        assert!(s.pending() <= 2 + MAX_MESSAGE);
        if plan & 0x40 == 0 || frame % 3 != 0 {
            seq = seq.wrapping_add(piece.len() as u32);
            at = end;
        }
        frame += 1;
    }
});
