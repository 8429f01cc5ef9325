//! Damaged and partial bundles: errors name the file and the fix, partial
//! data still gets analysed, and nothing panics.

mod common;

use common::*;
use gotrace_analyzer::{analyze_bundle, AnalyzeError, Layer};

#[test]
fn missing_dir() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("nope");
    let e = analyze_bundle(&p).unwrap_err();
    assert!(matches!(e, AnalyzeError::BundleNotFound { .. }));
    assert!(e.is_missing_input());
    assert!(e.to_string().contains(&p.display().to_string()));
}

#[test]
fn file_instead_of_dir() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("capture.pcapng");
    std::fs::write(&p, b"x").unwrap();
    let e = analyze_bundle(&p).unwrap_err();
    assert!(matches!(e, AnalyzeError::NotADirectory { .. }), "{e}");
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
        assert!(matches!(e, AnalyzeError::MetaCorrupt { .. }), "{e}");
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
        matches!(e, AnalyzeError::FormatTooNew { found: 99, .. }),
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
        .filter(|e| e.source == gotrace_analyzer::attempt::Source::Packet)
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
        gotrace_analyzer::bundle::Op::Exec {
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
