//! The Internet sockets a running process already holds, for `attach`:
//! socket inodes from `/proc/PID/fd`, joined with the tables in
//! `/proc/PID/net/{tcp,tcp6,udp,udp6}` (the process's network namespace).
//! Formats: proc(5) and net/ipv4/tcp_ipv4.c (`get_tcp4_sock`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use gotrace_bundle::{PreExistingSocket, SockAddr, TcpState};

/// One row of a /proc/net table.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    local: SockAddr,
    remote: SockAddr,
    state: u8,
}

/// The sockets of `pid` (fd order), and warnings for tables that could
/// not be read. A process that exits meanwhile yields what was read.
pub fn pre_existing(pid: u32, warnings: &mut Vec<String>) -> Vec<PreExistingSocket> {
    let inodes = socket_fds(pid);
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut rows: HashMap<u64, (&'static str, Row)> = HashMap::new();
    for (table, proto) in [
        ("tcp", "tcp"),
        ("tcp6", "tcp"),
        ("udp", "udp"),
        ("udp6", "udp"),
    ] {
        let path = format!("/proc/{pid}/net/{table}");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (inode, row) in parse_table(&text) {
                    rows.insert(inode, (proto, row));
                }
            }
            // No IPv6 in the kernel: no tcp6/udp6 tables.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warnings.push(format!(
                "reading {path}: {e}: sockets open before the attach may be missing from meta.json"
            )),
        }
    }
    let mut out: Vec<PreExistingSocket> = inodes
        .into_iter()
        .filter_map(|(fd, inode)| {
            let (proto, row) = rows.get(&inode)?;
            let unset = row.remote.port == 0 && row.remote.ip.is_unspecified();
            Some(PreExistingSocket {
                fd,
                inode,
                proto: (*proto).into(),
                local: row.local.clone(),
                peer: (!unset).then(|| row.remote.clone()),
                state: TcpState::from_kernel(u64::from(row.state)),
                pid: None,
                comm: None,
            })
        })
        .collect();
    out.sort_by_key(|s| s.fd);
    out
}

/// (fd, inode) of every `socket:[inode]` link in /proc/PID/fd.
fn socket_fds(pid: u32) -> Vec<(i32, u64)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let fd: i32 = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            let inode = target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()?;
            Some((fd, inode))
        })
        .collect()
}

/// Rows of one table by inode; malformed lines are skipped.
fn parse_table(text: &str) -> Vec<(u64, Row)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
            let inode = f.get(9)?.parse().ok()?;
            let row = Row {
                local: endpoint(f.get(1)?)?,
                remote: endpoint(f.get(2)?)?,
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
            };
            Some((inode, row))
        })
        .collect()
}

/// `0100007F:1F90` (IPv4) or 32 hex digits (IPv6) `:port`. The address is
/// printed as native-endian 32-bit words of the network-order bytes, the
/// port in host order (`%08X:%04X`).
fn endpoint(s: &str) -> Option<SockAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..addr.len() / 8)
        .map(|i| u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let ip = match (addr.len(), words.as_slice()) {
        (8, [w]) => IpAddr::V4(Ipv4Addr::from(w.to_ne_bytes())),
        (32, [a, b, c, d]) => {
            let mut o = [0u8; 16];
            for (i, w) in [a, b, c, d].into_iter().enumerate() {
                o[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(SockAddr { ip, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    // From a real /proc/net/tcp and tcp6 on x86_64 (little endian).
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100C6C6:B3D0 0200C6C6:1F90 02 00000001:00000000 01:00000157 00000002     0        0 531551 2 0000000000000000 1000 0 0 1 -1\n   1: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 577 1 00000000bcdb5f22 100 0 0 10 0\n   2: garbage\n";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9001 1 0000000000000000 100 0 0 10 0\n";

    #[test]
    fn ipv4_rows_decode_to_network_order_addresses_and_states() {
        let rows = parse_table(TCP);
        assert_eq!(rows.len(), 2, "the garbage line is skipped");
        let (inode, r) = &rows[0];
        assert_eq!(*inode, 531551);
        assert_eq!(r.local.ip.to_string(), "198.198.0.1");
        assert_eq!(r.local.port, 46032);
        assert_eq!(r.remote.ip.to_string(), "198.198.0.2");
        assert_eq!(r.remote.port, 8080);
        assert_eq!(TcpState::from_kernel(u64::from(r.state)), TcpState::SynSent);
        assert_eq!(rows[1].1.local.ip.to_string(), "127.0.0.1");
        assert_eq!(
            TcpState::from_kernel(u64::from(rows[1].1.state)),
            TcpState::Listen
        );
    }

    #[test]
    fn ipv6_rows_decode_word_by_word() {
        let rows = parse_table(TCP6);
        assert_eq!(rows[0].1.local.ip.to_string(), "::1");
        assert_eq!(rows[0].1.local.port, 8080);
        assert!(rows[0].1.remote.ip.is_unspecified());
    }

    #[test]
    fn bad_endpoints_are_none_not_panics() {
        for s in [
            "",
            ":",
            "0100007F",
            "0100007F:",
            "XYZ:0035",
            "0100007F:0035:1",
            "01000:0035",
            "ñ1000000:0035",
        ] {
            assert!(endpoint(s).is_none(), "{s}");
        }
    }

    #[test]
    fn own_sockets_are_found_with_their_peer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut w = Vec::new();
        let socks = pre_existing(std::process::id(), &mut w);
        assert!(w.is_empty(), "{w:?}");
        let c = socks
            .iter()
            .find(|s| {
                s.peer.as_ref().map(|p| p.port) == Some(port) && s.state == TcpState::Established
            })
            .unwrap_or_else(|| panic!("client socket missing from {socks:?}"));
        assert_eq!(c.proto, "tcp");
        assert_eq!(c.local.port, client.local_addr().unwrap().port());
        let l = socks
            .iter()
            .find(|s| s.state == TcpState::Listen && s.local.port == port);
        assert!(l.is_some_and(|l| l.peer.is_none()), "{socks:?}");
    }
}
