//! TLS record decoding over the `tls-parser` crate (rusticata): what the
//! cleartext part of a handshake says, from the records at the start of one
//! TCP segment's payload (or the head of a `write`/`read` buffer).
//!
//! Framing (RFC 8446 section 5.1, RFC 5246 section 6.2.1): a 5-byte record
//! header (content type, legacy version, length) then `length` bytes.
//! Decoding is best effort and stateless: records are read in order until
//! the bytes end or a record is cut short (then [`TlsSummary::cut`] says
//! so); a handshake message cut at the end of the segment is still reported
//! (a ClientHello even with what its first bytes hold: version, SNI...).
//! Nothing here panics on input, and allocation is bounded by the input
//! (at most [`MAX_MESSAGES`] messages, short lists, names cut at 255 bytes).
//!
//! What the wire shows depends on the version: in TLS 1.2 and earlier the
//! whole handshake up to ChangeCipherSpec is cleartext (Certificate, and
//! any Alert before it); in TLS 1.3 everything after the ServerHello is
//! encrypted and travels as ApplicationData records (RFC 8446 section 5.2),
//! alerts included: a client that rejects the server's certificate sends
//! one [`Message::ApplicationData`] of 19..=24 bytes
//! ([`ENCRYPTED_ALERT_LEN`]) right after the server's flight.

use std::fmt;
use std::ops::RangeInclusive;

use tls_parser::{
    parse_tls_client_hello_extension, parse_tls_handshake_client_hello,
    parse_tls_handshake_server_hello, parse_tls_message_handshake,
    parse_tls_server_hello_extension, SNIType, TlsExtension, TlsMessage, TlsMessageHandshake,
    TlsRecordType, MAX_RECORD_LEN,
};

/// Bytes in a record header (RFC 8446 section 5.1).
pub const RECORD_HEADER_LEN: usize = 5;
/// Largest TLSPlaintext fragment, bytes (RFC 8446 section 5.1).
const MAX_PLAINTEXT: u16 = 1 << 14;
/// At most this many messages are kept per summary; the rest is skipped.
pub const MAX_MESSAGES: usize = 16;
/// Length range (record header `length`, bytes) of a TLS 1.3 ApplicationData
/// record that can carry an encrypted alert: 2 bytes of alert, 1 byte of
/// inner content type and a 16-byte AEAD tag make 19 (RFC 8446 sections
/// 5.2, 6), plus a few bytes of optional padding.
pub const ENCRYPTED_ALERT_LEN: RangeInclusive<u16> = 19..=24;
/// Server random of a HelloRetryRequest: SHA-256("HelloRetryRequest")
/// (RFC 8446 section 4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];
/// Longest name or protocol id kept (an SNI host_name is a DNS name, at
/// most 253 bytes; RFC 6066 section 3).
const MAX_NAME: usize = 255;
/// Entries kept per list (offered versions, ALPN protocols).
const MAX_LIST: usize = 8;
/// HandshakeType of ClientHello and ServerHello (RFC 8446 section 4).
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;

/// The TLS records at the start of one buffer, as far as they could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSummary {
    /// Messages in wire order (at most [`MAX_MESSAGES`]). A record that
    /// holds several handshake messages adds one entry per message.
    pub messages: Vec<Message>,
    /// The record the buffer ends inside of, if any (the rest of it is in
    /// later segments).
    pub cut: Option<CutRecord>,
}

/// A record whose declared length runs past the end of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutRecord {
    /// Content type (RFC 8446 section 5.1: 20 change_cipher_spec, 21 alert,
    /// 22 handshake, 23 application_data, 24 heartbeat).
    pub content_type: u8,
    /// Length from the record header, bytes.
    pub declared: u16,
    /// Bytes of the record body present in the buffer.
    pub present: u16,
}

/// One message (or one opaque record) decoded from the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// ClientHello (RFC 8446 section 4.1.2); boxed to keep [`Message`] at
    /// 16 bytes.
    ClientHello(Box<ClientHello>),
    /// ServerHello, or a HelloRetryRequest (RFC 8446 sections 4.1.3, 4.1.4).
    ServerHello(Box<ServerHello>),
    /// Certificate in cleartext (TLS <= 1.2 only; RFC 5246 section 7.4.2).
    Certificate {
        /// Certificates in the chain.
        certs: u16,
    },
    /// Another handshake message (`msg_type`: RFC 8446 section 4, RFC 5246
    /// section 7.4; names in [`handshake_name`]), or one the buffer cuts.
    Handshake {
        /// HandshakeType.
        msg_type: u8,
        /// The message runs past the end of the buffer.
        cut: bool,
    },
    /// A handshake record whose body is not cleartext handshake messages:
    /// TLS <= 1.2's Finished after ChangeCipherSpec (Wireshark's "Encrypted
    /// Handshake Message").
    EncryptedHandshake {
        /// Record length, bytes.
        len: u16,
    },
    /// ChangeCipherSpec (RFC 5246 section 7.1; a no-op in TLS 1.3,
    /// RFC 8446 appendix D.4).
    ChangeCipherSpec,
    /// A cleartext alert (RFC 8446 section 6, RFC 5246 section 7.2).
    Alert(Alert),
    /// An alert record that is not 2 cleartext bytes (TLS <= 1.2 after
    /// ChangeCipherSpec).
    EncryptedAlert {
        /// Record length, bytes.
        len: u16,
    },
    /// An application_data record (RFC 8446 section 5.2). In TLS 1.3 every
    /// message after the ServerHello travels so; see
    /// [`Message::may_be_encrypted_alert`].
    ApplicationData {
        /// Record length from the header, bytes (also when the record is cut).
        len: u16,
    },
    /// A heartbeat record (RFC 6520).
    Heartbeat {
        /// Record length, bytes.
        len: u16,
    },
}

impl Message {
    /// Whether this is an ApplicationData record whose length fits an
    /// encrypted TLS 1.3 alert ([`ENCRYPTED_ALERT_LEN`]). Only a hint: the
    /// caller decides from where it stands (e.g. the first record the client
    /// sends after the server's flight, followed by a close).
    pub fn may_be_encrypted_alert(&self) -> bool {
        matches!(self, Message::ApplicationData { len } if ENCRYPTED_ALERT_LEN.contains(len))
    }

    /// Wireshark's Info column text for this message, e.g. `Server Hello`,
    /// `Alert (Level: Fatal, Description: Unknown CA)`.
    pub fn describe(&self) -> String {
        match self {
            Message::ClientHello(c) => c.describe(),
            Message::ServerHello(s) => s.describe(),
            Message::Certificate { .. } => "Certificate".into(),
            Message::Handshake { msg_type, cut } => format!(
                "{}{}",
                handshake_name(*msg_type),
                if *cut { " (partial)" } else { "" }
            ),
            Message::EncryptedHandshake { .. } => "Encrypted Handshake Message".into(),
            Message::ChangeCipherSpec => "Change Cipher Spec".into(),
            Message::Alert(a) => a.to_string(),
            Message::EncryptedAlert { .. } => "Encrypted Alert".into(),
            Message::ApplicationData { .. } => "Application Data".into(),
            Message::Heartbeat { .. } => "Heartbeat".into(),
        }
    }
}

/// What a ClientHello offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` (0x0303 for TLS 1.2 and 1.3; RFC 8446 section 4.1.2).
    pub legacy_version: u16,
    /// The supported_versions extension, GREASE values left out (RFC 8446
    /// section 4.2.1; at most 8). Empty when absent: then only
    /// `legacy_version` (and below) is offered.
    pub supported_versions: Vec<u16>,
    /// server_name host_name (RFC 6066 section 3), lossy UTF-8, at most 255 bytes.
    pub sni: Option<String>,
    /// ALPN protocol ids in preference order (RFC 7301 section 3.1; at most 8).
    pub alpn: Vec<String>,
    /// The message is cut short: fields it did not reach are empty.
    pub partial: bool,
}

impl ClientHello {
    /// The highest version offered: the largest supported_versions entry,
    /// else `legacy_version`.
    pub fn max_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .max()
            .unwrap_or(self.legacy_version)
    }

    /// `Client Hello (SNI=proxy.lab.test)`; `Client Hello (partial)` when
    /// cut before the name.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.sni {
            parts.push(format!("SNI={s}"));
        }
        if self.partial {
            parts.push("partial".to_string());
        }
        if parts.is_empty() {
            "Client Hello".into()
        } else {
            format!("Client Hello ({})", parts.join(", "))
        }
    }
}

/// What a ServerHello chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// `legacy_version` field (the negotiated version up to TLS 1.2, 0x0303
    /// in TLS 1.3, 0x7fNN in TLS 1.3 drafts).
    pub legacy_version: u16,
    /// supported_versions `selected_version` (RFC 8446 section 4.2.1):
    /// present exactly when TLS 1.3 was negotiated.
    pub selected_version: Option<u16>,
    /// ALPN protocol chosen (RFC 7301 section 3.1), if any.
    pub alpn: Option<String>,
    /// The server random is the HelloRetryRequest value (RFC 8446 section
    /// 4.1.3): the server asks for another ClientHello.
    pub hello_retry: bool,
}

impl ServerHello {
    /// The negotiated version: `selected_version`, else `legacy_version`.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }

    /// `Server Hello (TLS 1.3)` or `Hello Retry Request (TLS 1.3)`.
    pub fn describe(&self) -> String {
        let what = if self.hello_retry {
            "Hello Retry Request"
        } else {
            "Server Hello"
        };
        format!("{what} ({})", version_name(self.version()))
    }
}

/// A cleartext alert (RFC 8446 section 6, RFC 5246 section 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// AlertLevel: 1 warning, 2 fatal.
    pub level: u8,
    /// AlertDescription (e.g. 48 unknown_ca); see [`alert_name`].
    pub description: u8,
}

/// Alerts a TLS client sends when it rejects the server's certificate
/// (RFC 8446 section 6.2; RFC 5246 section 7.2.2): bad_certificate 42,
/// unsupported_certificate 43, certificate_revoked 44,
/// certificate_expired 45, certificate_unknown 46, unknown_ca 48.
const CERTIFICATE_ALERTS: [u8; 6] = [42, 43, 44, 45, 46, 48];

impl Alert {
    /// Whether a client sending this alert rejects the server's
    /// certificate (its own verification failed, not the server).
    pub fn rejects_certificate(&self) -> bool {
        CERTIFICATE_ALERTS.contains(&self.description)
    }

    /// AlertLevel fatal (2): the connection ends. In TLS 1.3 every alert but
    /// close_notify and user_canceled is fatal whatever the level says
    /// (RFC 8446 section 6).
    pub fn is_fatal(&self) -> bool {
        self.level == 2 || !matches!(self.description, 0 | 90)
    }
}

impl fmt::Display for Alert {
    /// `Alert (Level: Fatal, Description: Unknown CA)`, as Wireshark shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            1 => "Warning".to_string(),
            2 => "Fatal".to_string(),
            n => format!("{n}"),
        };
        let desc = alert_title(self.description)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}", self.description));
        write!(f, "Alert (Level: {level}, Description: {desc})")
    }
}

/// AlertDescription values: (code, RFC name, Wireshark's title). RFC 8446
/// section 6 and RFC 5246 section 7.2 (obsolete ones), RFC 7301 for 120.
#[rustfmt::skip]
const ALERTS: &[(u8, &str, &str)] = &[
    (0, "close_notify", "Close Notify"),
    (10, "unexpected_message", "Unexpected Message"),
    (20, "bad_record_mac", "Bad Record MAC"),
    (21, "decryption_failed", "Decryption Failed"),
    (22, "record_overflow", "Record Overflow"),
    (30, "decompression_failure", "Decompression Failure"),
    (40, "handshake_failure", "Handshake Failure"),
    (41, "no_certificate", "No Certificate"),
    (42, "bad_certificate", "Bad Certificate"),
    (43, "unsupported_certificate", "Unsupported Certificate"),
    (44, "certificate_revoked", "Certificate Revoked"),
    (45, "certificate_expired", "Certificate Expired"),
    (46, "certificate_unknown", "Certificate Unknown"),
    (47, "illegal_parameter", "Illegal Parameter"),
    (48, "unknown_ca", "Unknown CA"),
    (49, "access_denied", "Access Denied"),
    (50, "decode_error", "Decode Error"),
    (51, "decrypt_error", "Decrypt Error"),
    (60, "export_restriction", "Export Restriction"),
    (70, "protocol_version", "Protocol Version"),
    (71, "insufficient_security", "Insufficient Security"),
    (80, "internal_error", "Internal Error"),
    (86, "inappropriate_fallback", "Inappropriate Fallback"),
    (90, "user_canceled", "User Canceled"),
    (100, "no_renegotiation", "No Renegotiation"),
    (109, "missing_extension", "Missing Extension"),
    (110, "unsupported_extension", "Unsupported Extension"),
    (111, "certificate_unobtainable", "Certificate Unobtainable"),
    (112, "unrecognized_name", "Unrecognized Name"),
    (113, "bad_certificate_status_response", "Bad Certificate Status Response"),
    (114, "bad_certificate_hash_value", "Bad Certificate Hash Value"),
    (115, "unknown_psk_identity", "Unknown PSK Identity"),
    (116, "certificate_required", "Certificate Required"),
    (120, "no_application_protocol", "No Application Protocol"),
];

/// RFC name of an AlertDescription (`48` -> `unknown_ca`; RFC 8446 section
/// 6, RFC 5246 section 7.2); `None` when unassigned.
pub fn alert_name(description: u8) -> Option<&'static str> {
    ALERTS.iter().find(|a| a.0 == description).map(|a| a.1)
}

/// Wireshark's title of an AlertDescription (`48` -> `Unknown CA`).
pub fn alert_title(description: u8) -> Option<&'static str> {
    ALERTS.iter().find(|a| a.0 == description).map(|a| a.2)
}

/// Wireshark's name of a HandshakeType (RFC 8446 section 4, RFC 5246
/// section 7.4, RFC 6066 section 8 for 22): `11` -> `Certificate`.
pub fn handshake_name(msg_type: u8) -> String {
    match msg_type {
        0 => "Hello Request".into(),
        1 => "Client Hello".into(),
        2 => "Server Hello".into(),
        4 => "New Session Ticket".into(),
        5 => "End of Early Data".into(),
        8 => "Encrypted Extensions".into(),
        11 => "Certificate".into(),
        12 => "Server Key Exchange".into(),
        13 => "Certificate Request".into(),
        14 => "Server Hello Done".into(),
        15 => "Certificate Verify".into(),
        16 => "Client Key Exchange".into(),
        20 => "Finished".into(),
        22 => "Certificate Status".into(),
        24 => "Key Update".into(),
        n => format!("Handshake type {n}"),
    }
}

/// Whether `msg_type` is an assigned HandshakeType ([`handshake_name`]).
fn known_handshake(msg_type: u8) -> bool {
    matches!(msg_type, 0..=2 | 4 | 5 | 8 | 11..=16 | 20 | 22 | 24)
}

/// Name of a protocol version (RFC 8446 section 4.2.1): `0x0304` -> `TLS
/// 1.3`, `0x0300` -> `SSL 3.0`, `0x7f10` -> `TLS 1.3 draft 16`, others hex.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        0x7f00..=0x7fff => format!("TLS 1.3 draft {}", v & 0xff),
        v => format!("{v:#06x}"),
    }
}

/// GREASE values (RFC 8701 section 2): 0x0a0a, 0x1a1a, ... 0xfafa.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// Content type and length of the record header at the start of `b`, when
/// plausible: content type 20..=24, version 0x0300..=0x0304, length <=
/// 2^14 + 256 (RFC 8446 sections 5.1, 5.2).
fn record_header(b: &[u8]) -> Option<(u8, u16)> {
    match b.get(..RECORD_HEADER_LEN)? {
        &[t, 3, minor, hi, lo] => {
            let len = u16::from_be_bytes([hi, lo]);
            ((20..=24).contains(&t) && minor <= 4 && len <= MAX_RECORD_LEN).then_some((t, len))
        }
        _ => None,
    }
}

/// Whether `b` starts with a plausible TLS record header: content type
/// 20..=23, version 0x0300..=0x0304, length <= 2^14 + 256 (RFC 8446
/// section 5.2). Needs the 5 header bytes. This is how the capture sniffs
/// TLS by content rather than by port.
pub fn looks_like_record(b: &[u8]) -> bool {
    record_header(b).is_some_and(|(t, _)| t <= 23)
}

impl TlsSummary {
    /// Decodes the records at the start of `b`; `None` when `b` does not
    /// start with a record header ([`looks_like_record`]).
    pub fn parse(b: &[u8]) -> Option<TlsSummary> {
        if !looks_like_record(b) {
            return None;
        }
        let mut s = TlsSummary {
            messages: Vec::new(),
            cut: None,
        };
        let mut rest = b;
        // Past a ChangeCipherSpec, records are protected (RFC 5246 section 7.1).
        let mut encrypted = false;
        while s.messages.len() < MAX_MESSAGES {
            let Some((content_type, len)) = record_header(rest) else {
                break;
            };
            let body = &rest[RECORD_HEADER_LEN..];
            let have = body.len().min(usize::from(len));
            let (body, after) = body.split_at(have);
            let complete = have == usize::from(len);
            match TlsRecordType(content_type) {
                TlsRecordType::Handshake if encrypted => {
                    s.messages.push(Message::EncryptedHandshake { len });
                }
                TlsRecordType::Handshake => handshake_record(body, complete, len, &mut s.messages),
                TlsRecordType::ApplicationData => {
                    s.messages.push(Message::ApplicationData { len });
                }
                // The rest are tiny: nothing to say about a cut one.
                _ if !complete => {}
                TlsRecordType::ChangeCipherSpec => {
                    s.messages.push(Message::ChangeCipherSpec);
                    encrypted = true;
                }
                TlsRecordType::Alert => s.messages.push(match body {
                    &[level, description] if !encrypted => {
                        Message::Alert(Alert { level, description })
                    }
                    _ => Message::EncryptedAlert { len },
                }),
                _ => s.messages.push(Message::Heartbeat { len }),
            }
            if !complete {
                s.cut = Some(CutRecord {
                    content_type,
                    declared: len,
                    present: u16::try_from(have).unwrap_or(u16::MAX),
                });
                break;
            }
            rest = after;
        }
        s.messages.truncate(MAX_MESSAGES);
        Some(s)
    }

    /// The first ClientHello, if any.
    pub fn client_hello(&self) -> Option<&ClientHello> {
        self.messages.iter().find_map(|m| match m {
            Message::ClientHello(c) => Some(c.as_ref()),
            _ => None,
        })
    }

    /// The first ServerHello (or HelloRetryRequest), if any.
    pub fn server_hello(&self) -> Option<&ServerHello> {
        self.messages.iter().find_map(|m| match m {
            Message::ServerHello(s) => Some(s.as_ref()),
            _ => None,
        })
    }

    /// The first cleartext alert, if any.
    pub fn alert(&self) -> Option<Alert> {
        self.messages.iter().find_map(|m| match m {
            Message::Alert(a) => Some(*a),
            _ => None,
        })
    }

    /// The messages as Wireshark's Info column lists them, joined by `, `:
    /// `Server Hello (TLS 1.2), Certificate, Server Key Exchange, Server
    /// Hello Done`, `Change Cipher Spec, Application Data`; `Record
    /// (partial)` when the first record is cut before any message.
    pub fn describe(&self) -> String {
        let v: Vec<String> = self.messages.iter().map(Message::describe).collect();
        if v.is_empty() {
            return "Record (partial)".into();
        }
        v.join(", ")
    }
}

/// Decodes the handshake messages of one record body (`body`; `complete`
/// when the whole declared `len` is present) into `out`. A complete record
/// whose messages do not tile it exactly is not cleartext handshake, unless
/// it is full-size: a message may then run on into the next record
/// (RFC 8446 section 5.1). A record that starts with such a continuation
/// reads as an encrypted one.
fn handshake_record(body: &[u8], complete: bool, len: u16, out: &mut Vec<Message>) {
    let runs_on = !complete || len == MAX_PLAINTEXT;
    let mut msgs = Vec::new();
    let mut rest = body;
    let mut tiles = true;
    while let Some(&msg_type) = rest.first() {
        if msgs.len() >= MAX_MESSAGES || !known_handshake(msg_type) {
            tiles = false;
            break;
        }
        // HandshakeType (1 byte), length (3 bytes; RFC 8446 section 4).
        let mlen = match rest.get(..4) {
            Some(&[_, a, b, c]) => {
                4 + (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
            }
            _ => usize::MAX,
        };
        let Some(m) = rest.get(..mlen) else {
            if runs_on {
                msgs.extend(handshake_message(msg_type, rest, true));
            } else {
                tiles = false;
            }
            break;
        };
        let Some(msg) = handshake_message(msg_type, m, false) else {
            // Whole, yet tls-parser rejects it: not cleartext handshake.
            tiles = false;
            break;
        };
        msgs.push(msg);
        rest = &rest[mlen..];
    }
    if complete && (!tiles || msgs.is_empty()) {
        out.push(Message::EncryptedHandshake { len });
    } else {
        out.extend(msgs);
    }
}

/// The summary of one handshake message `m` (4-byte header included),
/// whole or `cut` at the end of the buffer; `None` for a whole message that
/// tls-parser rejects. Hellos are read field by field so a cut one still
/// tells what it reached.
fn handshake_message(msg_type: u8, m: &[u8], cut: bool) -> Option<Message> {
    let body = m.get(4..).unwrap_or(&[]);
    let other = Message::Handshake { msg_type, cut };
    match msg_type {
        HS_CLIENT_HELLO => Some(Message::ClientHello(Box::new(client_hello(body, cut)))),
        HS_SERVER_HELLO => match server_hello(body) {
            Some(s) => Some(Message::ServerHello(Box::new(s))),
            None => cut.then_some(other),
        },
        _ if cut => Some(other),
        _ => match parse_tls_message_handshake(m).ok()? {
            (_, TlsMessage::Handshake(TlsMessageHandshake::Certificate(c))) => {
                Some(Message::Certificate {
                    certs: u16::try_from(c.cert_chain.len()).unwrap_or(u16::MAX),
                })
            }
            _ => Some(other),
        },
    }
}

/// A ServerHello from its body (after the 4-byte handshake header), whole
/// or cut; `None` without even the 2-byte version. TLS 1.3 drafts
/// (0x7fNN), which tls-parser reads only for draft 18, keep their version.
fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let legacy_version = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
    let mut out = ServerHello {
        legacy_version,
        selected_version: None,
        alpn: None,
        hello_retry: body.get(2..34) == Some(&HELLO_RETRY_RANDOM[..]),
    };
    if let Ok((rest, sh)) = parse_tls_handshake_server_hello(body) {
        for ext in extensions(sh.ext, rest, parse_tls_server_hello_extension) {
            match ext {
                TlsExtension::SupportedVersions(v) => {
                    out.selected_version = v.first().map(|v| v.0);
                }
                TlsExtension::ALPN(v) => out.alpn = v.first().map(|p| name(p)),
                _ => {}
            }
        }
    }
    Some(out)
}

/// A ClientHello from its body (after the 4-byte handshake header), whole
/// or cut (`partial`).
fn client_hello(body: &[u8], partial: bool) -> ClientHello {
    let mut out = ClientHello {
        legacy_version: match body {
            &[hi, lo, ..] => u16::from_be_bytes([hi, lo]),
            _ => 0,
        },
        supported_versions: Vec::new(),
        sni: None,
        alpn: Vec::new(),
        partial,
    };
    let Ok((rest, ch)) = parse_tls_handshake_client_hello(body) else {
        return out;
    };
    for ext in extensions(ch.ext, rest, parse_tls_client_hello_extension) {
        match ext {
            TlsExtension::SNI(v) => {
                out.sni = v
                    .iter()
                    .find(|(t, _)| *t == SNIType::HostName)
                    .map(|(_, n)| name(n));
            }
            TlsExtension::ALPN(v) => out.alpn = v.iter().take(MAX_LIST).map(|p| name(p)).collect(),
            TlsExtension::SupportedVersions(v) => {
                out.supported_versions = v
                    .iter()
                    .map(|v| v.0)
                    .filter(|v| !is_grease(*v))
                    .take(MAX_LIST)
                    .collect();
            }
            _ => {}
        }
    }
    out
}

/// The extensions of a hello, read with `parse` one at a time. `block` is
/// the whole extensions block as tls-parser cut it; when it is `None` the
/// block runs past the buffer, and the whole extensions at the start of
/// what follows its 2-byte length (in `rest`) are read. Reading stops at a
/// cut extension; one tls-parser rejects is skipped by its length (RFC 8446
/// section 4.2: type 2 bytes, length 2 bytes, data). At most 64 are kept.
fn extensions<'a>(
    block: Option<&'a [u8]>,
    rest: &'a [u8],
    parse: fn(&'a [u8]) -> tls_parser::IResult<&'a [u8], TlsExtension<'a>>,
) -> Vec<TlsExtension<'a>> {
    let mut rest = block.unwrap_or_else(|| rest.get(2..).unwrap_or(&[]));
    let mut v = Vec::new();
    while let Some(&[_, _, hi, lo]) = rest.get(..4) {
        let elen = 4 + usize::from(u16::from_be_bytes([hi, lo]));
        let Some(e) = rest.get(..elen) else {
            break;
        };
        if let Ok((_, e)) = parse(e) {
            v.push(e);
            if v.len() == 64 {
                break;
            }
        }
        rest = &rest[elen..];
    }
    v
}

/// Lossy UTF-8 of a name or protocol id, at most [`MAX_NAME`] bytes.
fn name(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(MAX_NAME)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Payloads of real segments: Go 1.19 client and server on 127.0.0.1
    /// (analyzer/testdata/wire/README.md).
    const CH13: &[u8] = include_bytes!("../../testdata/wire/go-tls13-client-hello.bin");
    const SF13: &[u8] = include_bytes!("../../testdata/wire/go-tls13-server-flight.bin");
    const EA13: &[u8] = include_bytes!("../../testdata/wire/go-tls13-client-encrypted-alert.bin");
    const CH12: &[u8] = include_bytes!("../../testdata/wire/go-tls12-client-hello.bin");
    const SF12: &[u8] = include_bytes!("../../testdata/wire/go-tls12-server-flight.bin");
    const AL12: &[u8] = include_bytes!("../../testdata/wire/go-tls12-client-alert.bin");
    const ALL: [&[u8]; 6] = [CH13, SF13, EA13, CH12, SF12, AL12];

    fn describe(b: &[u8]) -> String {
        TlsSummary::parse(b).expect("a TLS record").describe()
    }

    #[test]
    fn go_client_hello_offers_sni_versions_and_alpn() {
        let s = TlsSummary::parse(CH13).unwrap();
        assert_eq!(s.describe(), "Client Hello (SNI=proxy.lab.test)");
        assert_eq!(s.cut, None);
        let c = s.client_hello().unwrap();
        assert_eq!(c.legacy_version, 0x0303);
        assert_eq!(c.supported_versions, [0x0304, 0x0303]);
        assert_eq!(c.max_version(), 0x0304);
        assert_eq!(c.alpn, ["h2", "http/1.1"]);
        assert!(!c.partial);
        // MaxVersion: tls.VersionTLS12 still sends supported_versions.
        let c = TlsSummary::parse(CH12)
            .unwrap()
            .client_hello()
            .cloned()
            .unwrap();
        assert_eq!(c.supported_versions, [0x0303]);
        assert_eq!(version_name(c.max_version()), "TLS 1.2");
    }

    #[test]
    fn server_hello_version_from_supported_versions_else_legacy() {
        let s = TlsSummary::parse(SF13).unwrap();
        assert_eq!(
            s.describe(),
            "Server Hello (TLS 1.3), Change Cipher Spec, Application Data, \
             Application Data, Application Data, Application Data"
        );
        let h = s.server_hello().unwrap();
        assert_eq!((h.legacy_version, h.version()), (0x0303, 0x0304));
        assert!(!h.hello_retry);
        assert!(
            !s.messages
                .iter()
                .any(|m| matches!(m, Message::Certificate { .. })),
            "TLS 1.3 certificates are encrypted"
        );

        let s = TlsSummary::parse(SF12).unwrap();
        assert_eq!(
            s.describe(),
            "Server Hello (TLS 1.2), Certificate, Server Key Exchange, Server Hello Done"
        );
        assert_eq!(s.server_hello().unwrap().selected_version, None);
        assert_eq!(s.server_hello().unwrap().version(), 0x0303);
        assert!(s.messages.contains(&Message::Certificate { certs: 1 }));
    }

    #[test]
    fn hello_retry_request_is_named() {
        let mut b = SF13.to_vec();
        // Record header 5 + handshake header 4 + legacy_version 2.
        b[11..43].copy_from_slice(&HELLO_RETRY_RANDOM);
        assert!(describe(&b).starts_with("Hello Retry Request (TLS 1.3), "));
    }

    #[test]
    fn alerts_in_cleartext_and_encrypted() {
        let s = TlsSummary::parse(AL12).unwrap();
        assert_eq!(
            s.describe(),
            "Alert (Level: Fatal, Description: Bad Certificate)"
        );
        let a = s.alert().unwrap();
        assert_eq!(alert_name(a.description), Some("bad_certificate"));
        assert!(a.is_fatal());
        for (level, code, text) in [
            (2, 48, "Alert (Level: Fatal, Description: Unknown CA)"),
            (
                2,
                40,
                "Alert (Level: Fatal, Description: Handshake Failure)",
            ),
            (
                1,
                112,
                "Alert (Level: Warning, Description: Unrecognized Name)",
            ),
            (1, 0, "Alert (Level: Warning, Description: Close Notify)"),
            (2, 201, "Alert (Level: Fatal, Description: 201)"),
        ] {
            assert_eq!(describe(&[21, 3, 3, 0, 2, level, code]), text);
        }
        assert_eq!(alert_name(48), Some("unknown_ca"));
        assert_eq!(alert_name(112), Some("unrecognized_name"));
        assert_eq!(alert_name(3), None);
        assert!(!Alert {
            level: 1,
            description: 0
        }
        .is_fatal());
        assert!(
            Alert {
                level: 1,
                description: 112
            }
            .is_fatal(),
            "TLS 1.3 rule"
        );

        // TLS 1.3: the client's bad_certificate is a 19-byte ApplicationData.
        let s = TlsSummary::parse(EA13).unwrap();
        assert_eq!(s.describe(), "Change Cipher Spec, Application Data");
        assert_eq!(s.messages[1], Message::ApplicationData { len: 19 });
        assert!(s.messages[1].may_be_encrypted_alert());
        assert!(!Message::ApplicationData { len: 350 }.may_be_encrypted_alert());
        // TLS 1.2 after ChangeCipherSpec: protected alert and Finished.
        let mut b = vec![20, 3, 3, 0, 1, 1, 21, 3, 3, 0, 26];
        b.extend([0u8; 26]);
        b.extend([22, 3, 3, 0, 40]);
        b.extend([0u8; 40]);
        assert_eq!(
            describe(&b),
            "Change Cipher Spec, Encrypted Alert, Encrypted Handshake Message"
        );
    }

    #[test]
    fn handshake_record_that_does_not_tile_is_encrypted() {
        // 40 bytes of an AES-GCM Finished: explicit nonce 0 reads as two
        // Hello Requests, then random bytes.
        let mut b = vec![22, 3, 3, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(91)));
        assert_eq!(describe(&b), "Encrypted Handshake Message");
    }

    #[test]
    fn a_message_runs_on_only_past_a_full_size_record() {
        // Certificate (11) claiming 20000 bytes.
        let record = |len: u16| {
            let mut b = vec![22, 3, 3];
            b.extend(len.to_be_bytes());
            b.extend([11, 0, 0x4e, 0x20]);
            b.resize(5 + usize::from(len), 0);
            b
        };
        assert_eq!(describe(&record(MAX_PLAINTEXT)), "Certificate (partial)");
        assert_eq!(describe(&record(100)), "Encrypted Handshake Message");
    }

    #[test]
    fn a_segment_cut_inside_a_record() {
        // The TLS 1.2 flight cut inside the certificate.
        let s = TlsSummary::parse(&SF12[..200]).unwrap();
        assert_eq!(
            s.describe(),
            "Server Hello (TLS 1.2), Certificate (partial)"
        );
        let cut = s.cut.unwrap();
        // Go sends the ServerHello in a record of its own (5 + 55 bytes).
        assert_eq!((cut.content_type, cut.present), (22, 200 - 60 - 5));
        assert!(cut.declared > cut.present);
        // A ClientHello cut after its server_name extension keeps the name.
        let sni_end = CH13
            .windows(14)
            .position(|w| w == b"proxy.lab.test")
            .unwrap()
            + 14;
        let s = TlsSummary::parse(&CH13[..sni_end]).unwrap();
        assert_eq!(s.describe(), "Client Hello (SNI=proxy.lab.test, partial)");
        let s = TlsSummary::parse(&CH13[..sni_end - 1]).unwrap();
        assert_eq!(s.describe(), "Client Hello (partial)");
        assert_eq!(s.client_hello().unwrap().legacy_version, 0x0303);
        // The 128-byte head of a write() of a ClientHello.
        assert!(
            TlsSummary::parse(&CH13[..128])
                .unwrap()
                .client_hello()
                .unwrap()
                .partial
        );
        // A record header alone, then the handshake type too.
        assert_eq!(describe(&CH13[..5]), "Record (partial)");
        assert_eq!(describe(&CH13[..6]), "Client Hello (partial)");
        assert_eq!(describe(&SF13[..6]), "Server Hello (partial)");
    }

    #[test]
    fn not_tls() {
        for b in [
            &b""[..],
            b"\x16\x03\x01\x00",
            b"GET / HTTP/1.1\r\n",
            b"\x16\x02\x01\x00\x10",
            b"\x18\x03\x03\x00\x01\x01",
            b"\x16\x03\x05\x00\x10",
            b"\x17\x03\x03\xff\xff",
        ] {
            assert_eq!(TlsSummary::parse(b), None, "{b:?}");
        }
        // A heartbeat may follow, not lead.
        assert_eq!(
            describe(b"\x15\x03\x03\x00\x02\x02\x28\x18\x03\x03\x00\x03\x01\x00\x00"),
            "Alert (Level: Fatal, Description: Handshake Failure), Heartbeat"
        );
    }

    #[test]
    fn messages_stay_small() {
        assert!(std::mem::size_of::<Message>() <= 16);
    }

    #[test]
    fn names() {
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x0300), "SSL 3.0");
        assert_eq!(version_name(0x7f10), "TLS 1.3 draft 16");
        assert_eq!(version_name(0xfefd), "0xfefd");
        assert_eq!(handshake_name(11), "Certificate");
        assert_eq!(handshake_name(99), "Handshake type 99");
        assert!(is_grease(0x1a1a) && !is_grease(0x1a2a) && !is_grease(0x0304));
    }

    #[test]
    fn every_prefix_of_real_records_decodes_without_panic() {
        for b in ALL {
            for n in 0..=b.len() {
                let s = TlsSummary::parse(&b[..n]);
                assert_eq!(s.is_some(), n >= RECORD_HEADER_LEN, "prefix {n}");
                if let Some(s) = s {
                    assert!(s.messages.len() <= MAX_MESSAGES);
                    let _ = s.describe();
                }
            }
        }
    }

    #[test]
    fn byte_flips_and_garbage_never_panic() {
        for b in ALL {
            let mut v = b.to_vec();
            for i in 0..v.len() {
                for mask in [0x01, 0x10, 0x80, 0xff] {
                    v[i] ^= mask;
                    if let Some(s) = TlsSummary::parse(&v) {
                        let _ = s.describe();
                    }
                    v[i] ^= mask;
                }
            }
        }
        // Deterministic pseudo-random bodies behind valid record headers.
        let mut x: u32 = 0x1234_5678;
        for round in 0..2000u32 {
            let mut v = vec![20 + (round % 5) as u8, 3, (round % 5) as u8];
            let len = (round * 7) % 300;
            v.extend((len as u16).to_be_bytes());
            for _ in 0..len + round % 50 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                v.push((x >> 24) as u8);
            }
            if round % 3 == 0 && v.len() > 6 {
                v[5] = (round % 25) as u8; // a handshake type that exists
            }
            if let Some(s) = TlsSummary::parse(&v) {
                assert!(s.messages.len() <= MAX_MESSAGES);
                let _ = s.describe();
            }
        }
    }
}
