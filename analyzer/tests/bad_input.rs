//! Damaged and partial bundles: errors name the file and the fix, partial
//! data still gets analysed, and nothing panics.

mod common;

use common::*;
use gotrace_analyzer::{analyze_bundle, AnalyzeError, Layer};
use gotrace_bundle::ReadError;

#[test]
fn missing_dir() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("nope");
    let e = analyze_bundle(&p).unwrap_err();
    assert!(matches!(
        e,
        AnalyzeError::Bundle(ReadError::NotFound { .. })
    ));
    assert!(e.is_missing_input());
    assert!(e.to_string().contains(&p.display().to_string()));
}

#[test]
fn file_instead_of_dir() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("capture.pcapng");
    std::fs::write(&p, b"x").unwrap();
    let e = analyze_bundle(&p).unwrap_err();
    assert!(
        matches!(e, AnalyzeError::Bundle(ReadError::NotADirectory { .. })),
        "{e}"
    );
}

#[test]
fn missing_meta() {
    let d = tempfile::tempdir().unwrap();
    let e = analyze_bundle(d.path()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "bundle {}: meta.json missing: is this a gotrace bundle directory?",
            d.path().display()
        )
    );
    assert!(e.is_missing_input());
}

#[test]
fn garbage_meta() {
    for garbage in [
        &b"\x00\xffnot json"[..],
        b"{\"format_version\": 1}",
        b"[1,2,3]",
        b"",
    ] {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("meta.json"), garbage).unwrap();
        let e = analyze_bundle(d.path()).unwrap_err();
        assert!(
            matches!(e, AnalyzeError::Bundle(ReadError::MetaCorrupt { .. })),
            "{e}"
        );
        assert!(e.to_string().contains("meta.json"));
        assert!(!e.is_missing_input());
    }
}

#[test]
fn newer_format() {
    let mut b = Bundle::new(Some(1));
    b.meta.format_version = 99;
    let e = analyze_bundle(&b.write()).unwrap_err();
    assert!(
        matches!(
            e,
            AnalyzeError::Bundle(ReadError::FormatTooNew { found: 99, .. })
        ),
        "{e}"
    );
    assert!(e.to_string().contains("upgrade"));
}

#[test]
fn garbage_event_line_is_skipped_with_its_number() {
    let mut b = Bundle::new(Some(1));
    refused_dial(&mut b, false);
    b.stderr = Some(REFUSED_STDERR.into());
    let dir = b.write();
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(1, "{\"id\": 99, garbage");
    std::fs::write(dir.join("events.jsonl"), lines.join("\n") + "\n").unwrap();
    let r = analyze_bundle(&dir).unwrap();
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("events.jsonl:2: corrupt line skipped")),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.verdict.cause, "connection-refused");
}

#[test]
fn truncated_last_event_line() {
    let mut b = Bundle::new(None);
    refused_dial(&mut b, false);
    b.stderr = Some(REFUSED_STDERR.into());
    let dir = b.write();
    let mut text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    text.push_str("{\"id\":8,\"ts_ns\":12");
    std::fs::write(dir.join("events.jsonl"), text).unwrap();
    let r = analyze_bundle(&dir).unwrap();
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("events.jsonl:7: last line is truncated")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("not finished")),
        "{:?}",
        r.warnings
    );
    // The whole lines before it still decide.
    assert_eq!(r.verdict.layer, Layer::Network);
}

#[test]
fn capture_truncated_mid_block_keeps_earlier_packets() {
    let mut b = Bundle::new(Some(1));
    let (_, _, syn, rst) = refused_dial(&mut b, false);
    b.stderr = Some(REFUSED_STDERR.into());
    let whole = b.pcapng().len();
    // One more packet, then cut the file inside it.
    b.pkt(
        20.0,
        udp(
            socket_addr(CLIENT, 5353),
            socket_addr([224, 0, 0, 251], 5353),
            b"late",
        ),
    );
    let dir = b.write();
    let full = std::fs::read(dir.join("capture.pcapng")).unwrap();
    std::fs::write(dir.join("capture.pcapng"), &full[..full.len() - 7]).unwrap();
    let r = analyze_bundle(&dir).unwrap();
    let want = format!("capture truncated at byte offset {whole}");
    assert!(
        r.warnings.iter().any(|w| w.starts_with(&want)),
        "{want} not in {:?}",
        r.warnings
    );
    assert_eq!(r.verdict.cause, "connection-refused");
    let pk: Vec<u64> = r
        .verdict
        .evidence
        .iter()
        .filter(|e| e.source == gotrace_analyzer::correlate::Source::Packet)
        .map(|e| e.id)
        .collect();
    assert_eq!(pk, vec![syn, rst]);
}

#[test]
fn random_bytes_as_capture() {
    let mut b = Bundle::new(Some(1));
    refused_dial(&mut b, false);
    b.stderr = Some(REFUSED_STDERR.into());
    let dir = b.write();
    let mut x: u32 = 12345;
    let junk: Vec<u8> = (0..4096)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    std::fs::write(dir.join("capture.pcapng"), &junk).unwrap();
    let r = analyze_bundle(&dir).unwrap();
    assert!(
        r.warnings.iter().any(|w| w.contains("capture.pcapng")),
        "{:?}",
        r.warnings
    );
    // Without usable packets a refusal cannot be placed on the network.
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
    assert_eq!(r.verdict.missing, vec!["capture".to_string()]);
}

#[test]
fn every_prefix_of_a_capture_is_survivable() {
    let mut b = Bundle::new(Some(1));
    refused_dial(&mut b, true);
    b.stderr = Some(REFUSED_STDERR.into());
    let dir = b.write();
    let full = std::fs::read(dir.join("capture.pcapng")).unwrap();
    for n in 0..full.len() {
        std::fs::write(dir.join("capture.pcapng"), &full[..n]).unwrap();
        let r = analyze_bundle(&dir).unwrap();
        // A refusal is only ever claimed with both packets present.
        if r.verdict.layer == Layer::Network {
            assert!(n > full.len() / 2);
        }
    }
}

#[test]
fn corrupted_bytes_in_capture_and_events_do_not_panic() {
    let mut b = Bundle::new(Some(1));
    refused_dial(&mut b, true);
    b.stderr = Some(REFUSED_STDERR.into());
    let dir = b.write();
    let full = std::fs::read(dir.join("capture.pcapng")).unwrap();
    let events = std::fs::read(dir.join("events.jsonl")).unwrap();
    for i in (0..full.len()).step_by(3) {
        let mut c = full.clone();
        c[i] ^= 0xff;
        std::fs::write(dir.join("capture.pcapng"), &c).unwrap();
        let mut e = events.clone();
        if let Some(x) = e.get_mut(i % events.len()) {
            *x ^= 0x55;
        }
        std::fs::write(dir.join("events.jsonl"), &e).unwrap();
        let _ = analyze_bundle(&dir).unwrap();
    }
}

#[test]
fn damaged_events_cannot_prove_the_absence_of_syscalls() {
    let mut b = Bundle::new(Some(1));
    b.ev(
        0.5,
        gotrace_bundle::Op::Exec {
            filename: "/usr/bin/go".into(),
        },
    );
    b.stderr = Some("go: module lookup disabled by GOPROXY=off\n".into());
    let dir = b.write();
    let mut text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    text.push_str("{\"id\":2,\"kind\":\"sock\u{0}et\" garbage\n");
    text.push_str(&std::fs::read_to_string(dir.join("events.jsonl")).unwrap());
    std::fs::write(dir.join("events.jsonl"), text).unwrap();
    let r = analyze_bundle(&dir).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
    // events.jsonl that is a directory counts as missing, not as empty.
    std::fs::remove_file(dir.join("events.jsonl")).unwrap();
    std::fs::create_dir(dir.join("events.jsonl")).unwrap();
    let r = analyze_bundle(&dir).unwrap();
    assert_eq!(r.verdict.layer, Layer::Inconclusive);
    assert_eq!(r.verdict.missing, vec!["events.jsonl".to_string()]);
}

/// xorshift64*: a fixed-seed generator, so failures reproduce.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn decoders_survive_random_bytes() {
    use gotrace_analyzer::capture::{decode, Frame};
    let mut next = rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..20_000 {
        let len = (next() % 200) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Make IP-looking starts common so deeper layers get exercised.
        if let Some(b) = data.first_mut() {
            *b = if i % 2 == 0 { 0x45 } else { 0x60 };
        }
        let _ = gotrace_analyzer::dns::DnsMessage::parse(&data);
        let _ = gotrace_analyzer::icmp::from_v4(3, (i % 16) as u8, &data);
        let _ = gotrace_analyzer::icmp::from_v6(1, (i % 8) as u8, &data);
        for lt in [0, 1, 101, 113, 228, 229, 276] {
            let f = Frame {
                number: 1,
                interface: 0,
                link_type: lt,
                realtime_ns: None,
                data: &data,
                original_len: len as u32,
                process_comment: &[],
            };
            let _ = decode(&f);
        }
    }
}

#[test]
fn random_event_files_never_panic() {
    let mut next = rng(42);
    let kinds = [
        "socket",
        "connect",
        "so_error",
        "send",
        "recv",
        "close",
        "tcp_state",
        "exec",
    ];
    let mut b = Bundle::new(Some(1));
    b.stderr = Some(REFUSED_STDERR.into());
    refused_dial(&mut b, true);
    let dir = b.write();
    let mut attempts = 0;
    for _ in 0..200 {
        let mut text = String::new();
        for id in 1..20 {
            let k = kinds[(next() % kinds.len() as u64) as usize];
            let ts = next() % 3 * (u64::MAX / 2);
            let fd = (next() % 4) as i64 - 1;
            let ret = (next() % 300) as i64 - 150;
            let port = next() % 3 * 53;
            text.push_str(&format!(
                r#"{{"id":{id},"ts_ns":{ts},"tgid":1,"tid":1,"comm":"go","kind":"{k}","ret":{ret},"errno":null,"domain":2,"sock_type":{st},"protocol":0,"fd":{fd},"peer":{{"ip":"198.18.0.2","port":{port}}},"so_error":{ret},"so_error_name":null,"syscall":"write","data_hex":"{hex}","sock":"0x1","old":"CLOSE","new":"SYN_SENT","local":{{"ip":"198.18.0.1","port":{port}}},"filename":"x"}}"#,
                st = next() % 3,
                hex = if next().is_multiple_of(2) { "00" } else { "1234010000010000000000000178000001" },
            ));
            text.push('\n');
        }
        std::fs::write(dir.join("events.jsonl"), &text).unwrap();
        let r = analyze_bundle(&dir).unwrap();
        attempts += r.context.attempts;
        let _ = gotrace_analyzer::render_text(&r);
        let _ = r.to_json();
    }
    assert!(
        attempts > 100,
        "the random events must reach correlation: {attempts}"
    );
}
