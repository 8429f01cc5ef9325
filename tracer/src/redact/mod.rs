//! Secrets kept out of the bundle (unless `--no-redact`): URL passwords in
//! meta.json's environment ([`url`]), credential HTTP header values in
//! capture.pcapng ([`frame`]) and in events.jsonl's payload heads
//! ([`event`]). What was redacted is recorded in meta.json's `redacted`.
//!
//! Everything the report and verdict.json quote from the environment comes
//! from meta.json, so redacting meta.json redacts them too; Go's own
//! messages (stderr.log) print URLs through `net/url.(*URL).Redacted`
//! already.

pub mod frame;
pub mod http;
pub mod url;

use std::collections::BTreeMap;

use gotrace_bundle::{Event, Op};

/// Redacts every value of `env` in place; returns the names of the
/// variables that changed, in name order.
pub fn env(env: &mut BTreeMap<String, String>) -> Vec<String> {
    let mut changed = Vec::new();
    for (k, v) in env.iter_mut() {
        if let Some(r) = url::redact_value(k, v) {
            *v = r;
            changed.push(k.clone());
        }
    }
    changed
}

/// Overwrites credential header values in a `send`/`recv` event's payload
/// head (`data_hex`); returns how many were overwritten.
pub fn event(ev: &mut Event) -> u64 {
    let (Op::Send(io) | Op::Recv(io)) = &mut ev.op else {
        return 0;
    };
    let Some(hex) = io.data_hex.as_mut() else {
        return 0;
    };
    let Some(mut bytes) = from_hex(hex) else {
        return 0;
    };
    let n = http::overwrite_secret_headers(&mut bytes);
    if n > 0 {
        *hex = bytes.iter().map(|b| format!("{b:02x}")).collect();
    }
    n
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gotrace_bundle::Io;

    #[test]
    fn env_redaction_names_the_variables_it_changed() {
        let mut e = BTreeMap::from([
            (
                "GOPROXY".to_string(),
                "http://user:s3cret@198.18.0.2:8080".to_string(),
            ),
            (
                "HTTPS_PROXY".to_string(),
                "http://u:pw@198.18.0.2:3128".to_string(),
            ),
            ("GOFLAGS".to_string(), "-mod=mod".to_string()),
        ]);
        assert_eq!(env(&mut e), ["GOPROXY", "HTTPS_PROXY"]);
        assert_eq!(e["GOPROXY"], "http://user:xxxxx@198.18.0.2:8080");
        assert_eq!(e["HTTPS_PROXY"], "http://u:xxxxx@198.18.0.2:3128");
        assert_eq!(e["GOFLAGS"], "-mod=mod");
    }

    #[test]
    fn a_payload_head_is_redacted_in_its_hex() {
        let head = b"GET / HTTP/1.1\r\nAuthorization: Basic dTpw\r\n";
        let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
        let mut ev = Event {
            id: 1,
            ts_ns: 0,
            tgid: 1,
            tid: 1,
            comm: "go".into(),
            op: Op::Send(Io {
                syscall: "write".into(),
                fd: 3,
                ret: head.len() as i64,
                errno: None,
                peer: None,
                data_hex: Some(hex),
            }),
        };
        assert_eq!(event(&mut ev), 1);
        let Op::Send(Io {
            data_hex: Some(h), ..
        }) = &ev.op
        else {
            unreachable!()
        };
        let bytes = from_hex(h).unwrap();
        assert_eq!(bytes, b"GET / HTTP/1.1\r\nAuthorization: xxxxxxxxxx\r\n");
    }
}
