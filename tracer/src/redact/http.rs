//! Credential header values in cleartext HTTP/1.x bytes, overwritten in
//! place with `x` of the same length (so lengths, sequence numbers and the
//! rest of the capture stay as they were).

/// Header names whose values are credentials (RFC 9110 11.6.2
/// Authorization, 11.7.2 Proxy-Authorization; RFC 6265 5.4 Cookie),
/// lower case: field names are case-insensitive (RFC 9110 5.1).
const SECRET_HEADERS: &[&[u8]] = &[b"authorization", b"proxy-authorization", b"cookie"];

/// Overwrites the value of every credential header line in `data` with
/// `b'x'`; returns how many values were overwritten.
///
/// A header line is recognised at the start of `data` or after a `\n`:
/// the name, optional white space, `:`. Its value runs from the first byte
/// after the colon's white space to the `\r` or `\n` that ends the line, or
/// to the end of `data`. `data` may be any TCP payload or payload head: the
/// start of a request, or a piece of one, or bytes that are not HTTP at
/// all (a match there overwrites bytes that happened to look like a
/// header line, which only the capture's copy loses).
///
/// `data` is one segment, seen alone: a header cut by a segment boundary
/// is redacted as far as this segment shows it (its value up to the end of
/// the segment). The rest of that value, at the start of the next segment,
/// cannot be told from body bytes without the previous segment, and a pass
/// over one frame at a time does not have it (segments are captured on
/// several interfaces, retransmitted, reordered or lost, so following the
/// stream would need TCP reassembly in the capture thread). Go writes a
/// request's header block in one write, so such a split needs a header
/// block larger than the path's MSS.
pub fn overwrite_secret_headers(data: &mut [u8]) -> u64 {
    let mut count = 0;
    let mut line = 0;
    while line < data.len() {
        let end = data[line..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |p| line + p);
        if let Some(value) = secret_value(&data[line..end]) {
            let (from, to) = (line + value.start, line + value.end);
            if from < to {
                data[from..to].fill(b'x');
                count += 1;
            }
        }
        line = end + 1;
    }
    count
}

/// The value's range within `line` (no `\n`) when it is a credential header.
fn secret_value(line: &[u8]) -> Option<std::ops::Range<usize>> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = trim_end(&line[..colon]);
    if !SECRET_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
        return None;
    }
    let mut start = colon + 1;
    while start < line.len() && (line[start] == b' ' || line[start] == b'\t') {
        start += 1;
    }
    let end = if line.last() == Some(&b'\r') {
        line.len() - 1
    } else {
        line.len()
    };
    Some(start..end.max(start))
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(0, |i| i + 1);
    &b[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_values_become_x_of_the_same_length() {
        let mut req = b"GET http://198.18.0.2:8080/x HTTP/1.1\r\nHost: 198.18.0.2:8080\r\n\
Proxy-Authorization: Basic dXNlcjpzM2NyZXQ=\r\nauthorization:Bearer t0k\r\n\
COOKIE : a=b; c=d\r\nAccept-Encoding: gzip\r\n\r\n"
            .to_vec();
        let before = req.len();
        assert_eq!(overwrite_secret_headers(&mut req), 3);
        assert_eq!(req.len(), before);
        let text = String::from_utf8(req).unwrap();
        let x = |n| "x".repeat(n);
        let proxy = format!(
            "Proxy-Authorization: {}\r\n",
            x("Basic dXNlcjpzM2NyZXQ=".len())
        );
        assert!(text.contains(&proxy), "{text}");
        let auth = format!("authorization:{}\r\n", x("Bearer t0k".len()));
        assert!(text.contains(&auth), "{text}");
        assert!(text.contains("COOKIE : xxxxxxxx\r\n"), "{text}");
        assert!(text.contains("Host: 198.18.0.2:8080\r\nProxy"), "{text}");
        assert!(text.ends_with("Accept-Encoding: gzip\r\n\r\n"), "{text}");
    }

    #[test]
    fn a_value_cut_by_the_segment_end_is_redacted_as_far_as_it_goes() {
        let mut seg = b"Host: h\r\nAuthorization: Basic dXNl".to_vec();
        assert_eq!(overwrite_secret_headers(&mut seg), 1);
        assert_eq!(seg, b"Host: h\r\nAuthorization: xxxxxxxxxx");
    }

    #[test]
    fn other_lines_and_names_that_only_start_alike_are_kept() {
        for data in [
            &b"X-Authorization: keep\r\nAuthorizations: keep\r\n"[..],
            b"Content-Type: text/plain\r\n\r\nbody Cookie: in the middle",
            b"\x16\x03\x01\x02\x00binary",
            b"Authorization:\r\n",
        ] {
            let mut d = data.to_vec();
            assert_eq!(overwrite_secret_headers(&mut d), 0);
            assert_eq!(d, data);
        }
    }
}
