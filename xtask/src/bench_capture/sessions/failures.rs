//! Sessions whose connection fails: refused, timed out, host unreachable,
//! and the two TLS handshake failures.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::{Answer, Planner, Script, BLACKHOLE, PROXY_TLS, REFUSING, ROUTER};
use crate::bench_capture::mix::Failure;
use crate::bench_capture::packets::flag;
use crate::bench_capture::payloads;
use crate::bench_capture::plan::{Body, Pkt, Planned, MS, S, US};

impl Planner {
    /// SYN answered by RST: nothing listens on the port.
    pub(super) fn refused(&mut self, s: &mut Script, t0: u64) {
        let t = self.lookup(s, t0, "refused.lab.test", Answer::Addr(*REFUSING.ip()));
        let mut k = self.open(s.host, REFUSING);
        s.push(k.seg(true, t, flag::SYN, Body::Empty));
        // The RST answering a SYN has sequence number 0 (RFC 9293 3.10.7.1).
        k.sseq = 0;
        s.push(k.seg(false, t + k.rtt_ns, flag::RST | flag::ACK, Body::Empty));
        self.mix.fail(Failure::ConnectionRefused);
    }

    /// SYN and retransmits 1, 3, 7, 15 s later; Go's 30 s deadline ends it.
    pub(super) fn connect_timeout(&mut self, s: &mut Script, t0: u64) {
        let t = self.lookup(s, t0, "blackhole.lab.test", Answer::Addr(*BLACKHOLE.ip()));
        let mut k = self.open(s.host, BLACKHOLE);
        let syn = k.seg(true, t, flag::SYN, Body::Empty);
        for after in [1, 3, 7, 15] {
            s.push(k.again(&syn, t + after * S));
        }
        s.push(syn);
        self.mix.fail(Failure::ConnectTimeout);
    }

    /// SYN, its retransmit, then the router's ICMP host unreachable for
    /// each (ARP gave up after 3 s).
    pub(super) fn host_unreachable(&mut self, s: &mut Script, t0: u64, n: u64) {
        let gone = Ipv4Addr::new(198, 18, 3, 1 + (n % 254) as u8);
        let server = SocketAddrV4::new(gone, 8080);
        let t = self.lookup(s, t0, &format!("gone-{n}.lab.test"), Answer::Addr(gone));
        let mut k = self.open(s.host, server);
        let syn = k.seg(true, t, flag::SYN, Body::Empty);
        let again = k.again(&syn, t + S);
        let at = t + 3 * S + self.rng.range(0, 5 * MS);
        for (i, p) in [&syn, &again].into_iter().enumerate() {
            self.mix.icmp_errors += 1;
            s.push(Planned {
                at_ns: at + i as u64 * 20 * US,
                pkt: Pkt::IcmpUnreachable {
                    from: ROUTER,
                    to: *k.client.ip(),
                    code: 1,
                    quoted: Box::new(p.pkt.clone()),
                },
            });
        }
        s.push(syn);
        s.push(again);
        self.mix.fail(Failure::IcmpUnreachable);
    }

    /// The server answers the ClientHello with a fatal handshake_failure
    /// alert and closes.
    pub(super) fn tls_server_alert(&mut self, s: &mut Script, t0: u64) {
        let t = self.lookup(s, t0, "goproxy.lab.test", Answer::Addr(*PROXY_TLS.ip()));
        let mut k = self.open(s.host, PROXY_TLS);
        let t = self.handshake(s, &mut k, t);
        let hello = if self.rng.chance(0.5) {
            payloads::TLS13_CLIENT_HELLO
        } else {
            payloads::TLS12_CLIENT_HELLO
        };
        s.push(k.seg(true, t, flag::PSH | flag::ACK, Body::Static(hello)));
        let t = t + k.rtt_ns + self.rng.range(100 * US, MS);
        s.push(k.seg(
            false,
            t,
            flag::PSH | flag::ACK,
            Body::Static(payloads::TLS_SERVER_HANDSHAKE_FAILURE),
        ));
        s.push(k.seg(false, t + 20 * US, flag::FIN | flag::ACK, Body::Empty));
        let t = t + self.rng.range(100 * US, 500 * US);
        s.push(k.seg(true, t, flag::FIN | flag::ACK, Body::Empty));
        s.push(k.seg(false, t + k.rtt_ns, flag::ACK, Body::Empty));
        self.mix.fail(Failure::TlsAlert);
    }

    /// The client rejects the certificate: its alert (cleartext in TLS 1.2,
    /// an alert-sized encrypted record in 1.3), then FIN.
    pub(super) fn tls_untrusted(&mut self, s: &mut Script, t0: u64) {
        let t = self.lookup(s, t0, "goproxy.lab.test", Answer::Addr(*PROXY_TLS.ip()));
        let mut k = self.open(s.host, PROXY_TLS);
        let t = self.handshake(s, &mut k, t);
        let (hello, flight, alert) = if self.rng.chance(0.5) {
            (
                payloads::TLS13_CLIENT_HELLO,
                payloads::TLS13_SERVER_FLIGHT,
                payloads::TLS13_CLIENT_ENCRYPTED_ALERT,
            )
        } else {
            (
                payloads::TLS12_CLIENT_HELLO,
                payloads::TLS12_SERVER_FLIGHT,
                payloads::TLS12_CLIENT_ALERT,
            )
        };
        s.push(k.seg(true, t, flag::PSH | flag::ACK, Body::Static(hello)));
        let t = t + k.rtt_ns + self.rng.range(200 * US, MS);
        s.push(k.seg(false, t, flag::PSH | flag::ACK, Body::Static(flight)));
        let t = t + self.rng.range(200 * US, 600 * US);
        s.push(k.seg(true, t, flag::PSH | flag::ACK, Body::Static(alert)));
        let t = t + self.rng.range(10 * US, 50 * US);
        self.close(s, &mut k, t);
        self.mix.fail(Failure::TlsUntrustedCertificate);
    }
}
