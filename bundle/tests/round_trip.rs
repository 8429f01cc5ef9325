//! What the writer writes, the reader reads back unchanged: every event
//! kind, every meta.json field, stderr.log, and meta.json rewritten at the
//! end of a run.

use std::collections::BTreeMap;
use std::io::Write;

use gotrace_bundle::{
    files, read_bundle, Attach, BundleWriter, ClockMap, Event, ExitStatus, Firewall, Interface, Io,
    LocalAddress, LocalNetwork, Meta, Op, Owner, PreExistingSocket, Redacted, ResolvConf, SockAddr,
    TcpState, FORMAT_VERSION,
};

fn addr(s: &str) -> SockAddr {
    s.parse().unwrap()
}

/// A meta.json with every optional field present (the attach case).
fn full_meta() -> Meta {
    Meta {
        format_version: FORMAT_VERSION,
        gotrace_version: "0.1.0".into(),
        mode: "attach".into(),
        argv: vec!["go".into(), "mod".into(), "download".into()],
        cwd: "/src/m".into(),
        uid: 1000,
        gid: 1000,
        root_pid: 4242,
        start_time: "2026-11-21T19:04:12.123456789Z".into(),
        start_monotonic_ns: 1_000,
        end_monotonic_ns: Some(9_000_000),
        clock: ClockMap {
            realtime_minus_monotonic_ns: -1_700_000_000_000_000_000,
            uncertainty_ns: 240,
        },
        kernel_release: "6.18.0".into(),
        exit: Some(ExitStatus::Signal(9)),
        lost_events: 3,
        dropped_packets: 1,
        env: BTreeMap::from([("GOPROXY".into(), "https://proxy.golang.org,direct".into())]),
        interfaces: vec![Interface {
            id: 0,
            name: "eth0".into(),
            ifindex: 2,
            link_type: 1,
            netns: Some("net:[4026532281]".into()),
        }],
        warnings: vec!["a probe could not attach".into()],
        drop_reasons: BTreeMap::from([(12, "NETFILTER_DROP".into())]),
        kernel_events: Some(vec!["fib/fib_table_lookup".into()]),
        resolv_conf: Some(ResolvConf {
            path: "/etc/resolv.conf".into(),
            present: true,
            error: None,
            nameservers: vec!["198.18.0.53".into()],
        }),
        firewall: Some(Firewall {
            command: "nft list ruleset".into(),
            ruleset: "table inet f {\n}\n".into(),
        }),
        attach: Some(Attach {
            pid: 4242,
            netns: Some("net:[4026532281]".into()),
            pre_existing: vec![PreExistingSocket {
                fd: 7,
                inode: 99,
                proto: "tcp".into(),
                local: addr("198.18.0.1:40000"),
                peer: Some(addr("198.18.0.2:443")),
                state: TcpState::Established,
                pid: Some(4243),
                comm: Some("git-remote-http".into()),
            }],
            descendants: vec![4243],
            ended_by: Some("exited".into()),
        }),
        redacted: Some(Redacted {
            enabled: true,
            variables: vec!["GOPROXY".into()],
            header_values: 2,
            payload_heads: 1,
            arguments: vec![1],
        }),
        local_network: Some(LocalNetwork {
            addresses: vec![LocalAddress {
                interface: "lo".into(),
                ip: "::1".parse().unwrap(),
                prefix_len: 128,
            }],
            ip_local_port_range: Some([32768, 60999]),
        }),
    }
}

/// One event of every kind, in time order, optional fields both set and unset.
fn every_op() -> Vec<Op> {
    let local = addr("198.18.0.1:40000");
    let peer = addr("[2001:db8::2]:443");
    vec![
        Op::Socket {
            ret: 3,
            errno: None,
            domain: 10,
            sock_type: 1,
            protocol: 0,
            sock: None,
        },
        Op::Connect {
            fd: 3,
            ret: -115,
            errno: Some("EINPROGRESS".into()),
            peer: Some(peer.clone()),
            sock: None,
        },
        Op::SoError {
            fd: 3,
            ret: 0,
            so_error: 111,
            so_error_name: Some("ECONNREFUSED".into()),
            sock: None,
        },
        Op::Send(Io {
            syscall: "sendto".into(),
            fd: 4,
            ret: 29,
            errno: None,
            peer: Some(addr("198.18.0.53:53")),
            data_hex: Some("abcd0100".into()),
            sock: None,
        }),
        Op::Recv(Io {
            syscall: "read".into(),
            fd: 4,
            ret: -11,
            errno: Some("EAGAIN".into()),
            peer: None,
            data_hex: None,
            sock: None,
        }),
        Op::close(3),
        Op::Fork { child: 4243 },
        Op::Exec {
            filename: "/usr/bin/git".into(),
        },
        Op::Exit {
            status: Some(ExitStatus::Code(1)),
        },
        Op::Exit { status: None },
        Op::TcpState {
            sock: "ffff8881022a0000".into(),
            old: TcpState::SynSent,
            new: TcpState::Close,
            local: local.clone(),
            peer: peer.clone(),
        },
        Op::TcpRetransmit {
            sock: "ffff8881022a0000".into(),
            state: TcpState::SynSent,
            local: local.clone(),
            peer: peer.clone(),
            err: -1,
            err_name: Some("EPERM".into()),
        },
        Op::TcpReceiveReset {
            sock: "ffff8881022a0000".into(),
            local: local.clone(),
            peer: peer.clone(),
        },
        Op::TcpSendReset {
            sock: "ffff8881022a0000".into(),
            state: TcpState::Close,
            reason: 2,
            reason_name: None,
            local: None,
            peer: Some(peer),
        },
        Op::SkbDrop {
            sock: None,
            reason: 12,
            reason_name: Some("NETFILTER_DROP".into()),
            location: "ffffffff81a0b0c0".into(),
            location_name: None,
            protocol: 0x0800,
        },
    ]
}

#[test]
fn a_written_bundle_reads_back_equal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let mut w = BundleWriter::create(&dir, None::<Owner>).unwrap();
    let mut meta = full_meta();
    // At start: no end yet, as the tracer writes it.
    let at_start = Meta {
        end_monotonic_ns: None,
        exit: None,
        ..meta.clone()
    };
    w.write_meta(&at_start).unwrap();

    let mut events = Vec::new();
    for (n, op) in every_op().into_iter().enumerate() {
        let ev = Event {
            id: w.next_id(),
            ts_ns: 2_000 + n as u64,
            tgid: 4242,
            tid: if n % 2 == 0 { 4242 } else { 0 },
            comm: "go".into(),
            op,
        };
        w.write_event(&ev).unwrap();
        events.push(ev);
    }
    w.flush().unwrap();
    let stderr =
        "go: example.com/m@v1.0.0: dial tcp [2001:db8::2]:443: connect: connection refused\n";
    w.create_file(files::STDERR)
        .unwrap()
        .write_all(stderr.as_bytes())
        .unwrap();
    w.create_file(files::CAPTURE).unwrap();
    // At the end meta.json is replaced with the finished one.
    meta.lost_events = 4;
    w.write_meta(&meta).unwrap();
    w.write_verdict("{\"layer\":\"network\"}").unwrap();

    let back = read_bundle(&dir).unwrap();
    assert_eq!(back.dir, dir);
    assert_eq!(back.meta, meta);
    assert_eq!(back.events.as_ref(), Some(&events));
    assert!(!back.events_damaged);
    assert_eq!(back.stderr.as_deref(), Some(stderr));
    assert_eq!(back.capture, Some(dir.join(files::CAPTURE)));
    // Only what the meta itself says: the counters and the tracer's warning.
    assert_eq!(
        back.warnings,
        vec![
            "4 events were lost by the kernel ring buffer: the syscall trace is incomplete",
            "1 packets were dropped by the capture socket: the capture is incomplete",
            "tracer: a probe could not attach",
        ]
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(files::VERDICT)).unwrap(),
        "{\"layer\":\"network\"}"
    );
    // The atomic writes leave no temp file behind.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            files::CAPTURE,
            files::EVENTS,
            files::META,
            files::STDERR,
            files::VERDICT
        ]
    );
}

#[test]
fn a_killed_run_reads_back_what_was_flushed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let mut w = BundleWriter::create(&dir, None::<Owner>).unwrap();
    let meta = Meta {
        end_monotonic_ns: None,
        exit: None,
        attach: None,
        mode: "run".into(),
        lost_events: 0,
        dropped_packets: 0,
        warnings: Vec::new(),
        ..full_meta()
    };
    w.write_meta(&meta).unwrap();
    let ev = Event {
        id: w.next_id(),
        ts_ns: 5,
        tgid: 1,
        tid: 1,
        comm: "go".into(),
        op: Op::close(3),
    };
    w.write_event(&ev).unwrap();
    w.flush().unwrap();
    // SIGKILL: the writer is never finished, nothing else is written.
    std::mem::forget(w);

    let back = read_bundle(&dir).unwrap();
    assert_eq!(back.meta, meta);
    assert_eq!(back.events, Some(vec![ev]));
    assert_eq!(back.stderr, None);
    assert_eq!(back.capture, None);
    assert_eq!(back.warnings.len(), 3, "{:?}", back.warnings);
    assert!(back.warnings[0].starts_with("meta.json has no exit status or end time"));
    assert!(back.warnings[1].starts_with("capture.pcapng missing"));
    assert!(back.warnings[2].starts_with("stderr.log: "));
}
