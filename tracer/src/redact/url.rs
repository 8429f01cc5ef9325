//! Passwords in URL-valued environment variables, redacted as Go's
//! `net/url.(*URL).Redacted` prints them: `http://user:xxxxx@host`.

/// What replaces a password (and a user name given alone), as in Go's
/// `net/url.(*URL).Redacted`.
pub const MASK: &str = "xxxxx";

/// The proxy variables, whose value Go also accepts without a scheme
/// (`user:pw@proxy:3128` is read as `http://user:pw@proxy:3128`,
/// golang.org/x/net/http/httpproxy).
const SCHEMELESS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// `value` of variable `name` with the userinfo of every URL in it
/// redacted, or `None` when there was none. A variable may hold a list
/// (GOPROXY `a,b|c`, GOFLAGS `-x -y=z`, NO_PROXY `a,b`): each element
/// separated by `,`, `|` or white space is looked at on its own.
///
/// `user:password@` becomes `user:xxxxx@`, as Go prints it. A user name
/// without a password becomes `xxxxx@`: Go would keep it, but a user name
/// alone is how tokens are passed (`https://TOKEN@git.corp`), so it is
/// treated as a secret.
pub fn redact_value(name: &str, value: &str) -> Option<String> {
    let schemeless = SCHEMELESS.contains(&name);
    let mut out = String::with_capacity(value.len());
    let mut changed = false;
    let mut rest = value;
    while !rest.is_empty() {
        let end = rest.find(is_separator).unwrap_or(rest.len());
        let (token, tail) = rest.split_at(end);
        match redact_token(token, schemeless) {
            Some(r) => {
                out.push_str(&r);
                changed = true;
            }
            None => out.push_str(token),
        }
        let sep_len = tail.chars().next().map_or(0, char::len_utf8);
        out.push_str(&tail[..sep_len]);
        rest = &tail[sep_len..];
    }
    changed.then_some(out)
}

fn is_separator(c: char) -> bool {
    c == ',' || c == '|' || c.is_whitespace()
}

/// One list element: a URL somewhere in it (`-flag=https://u:p@h/x` in
/// GOFLAGS has it after the `=`), or for proxy variables the whole element
/// read as `host` with an optional userinfo.
fn redact_token(token: &str, schemeless: bool) -> Option<String> {
    let authority_start = match token.find("://") {
        Some(i) => i + 3,
        None if schemeless => 0,
        None => return None,
    };
    let authority = &token[authority_start..];
    let authority_end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
    // The last `@` ends the userinfo, as in Go's url.Parse (a password may hold `@`).
    let at = authority[..authority_end].rfind('@')?;
    let userinfo = &authority[..at];
    let masked = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:{MASK}"),
        None => MASK.to_string(),
    };
    Some(format!(
        "{}{masked}{}",
        &token[..authority_start],
        &authority[at..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_becomes_xxxxx_as_go_prints_it() {
        assert_eq!(
            redact_value("GOPROXY", "http://user:s3cret@198.18.0.2:8080").as_deref(),
            Some("http://user:xxxxx@198.18.0.2:8080")
        );
        // The last @ ends the userinfo; the path is kept.
        assert_eq!(
            redact_value("GOPROXY", "https://u:p@ss@proxy.corp/mod?x=1").as_deref(),
            Some("https://u:xxxxx@proxy.corp/mod?x=1")
        );
    }

    #[test]
    fn every_element_of_a_list_is_redacted_and_separators_kept() {
        assert_eq!(
            redact_value(
                "GOPROXY",
                "https://a:1@p1.corp,https://p2.corp|http://b:2@p3.corp,direct"
            )
            .as_deref(),
            Some("https://a:xxxxx@p1.corp,https://p2.corp|http://b:xxxxx@p3.corp,direct")
        );
        assert_eq!(
            redact_value("GOFLAGS", "-mod=mod  -x=https://t:k@h/p").as_deref(),
            Some("-mod=mod  -x=https://t:xxxxx@h/p")
        );
    }

    #[test]
    fn a_user_name_alone_is_treated_as_a_token() {
        assert_eq!(
            redact_value("GOPROXY", "https://ghp_abc@git.corp/").as_deref(),
            Some("https://xxxxx@git.corp/")
        );
    }

    #[test]
    fn proxy_variables_are_read_without_a_scheme_too() {
        assert_eq!(
            redact_value("HTTPS_PROXY", "u:pw@198.18.0.2:3128").as_deref(),
            Some("u:xxxxx@198.18.0.2:3128")
        );
        // Other variables need a scheme: `a@b` in GOFLAGS is not a URL.
        assert_eq!(redact_value("GOFLAGS", "-ldflags=a@b"), None);
    }

    #[test]
    fn values_without_userinfo_are_left_alone() {
        for (k, v) in [
            ("GOPROXY", "https://proxy.golang.org,direct"),
            ("NO_PROXY", "localhost,198.18.0.0/15"),
            ("PATH", "/usr/bin:/bin"),
            ("GOPROXY", "off"),
            // An @ after the authority (a module path) is not userinfo.
            ("GOPROXY", "https://p.corp/x@v1"),
            ("HTTP_PROXY", ""),
        ] {
            assert_eq!(redact_value(k, v), None, "{k}={v}");
        }
    }
}
