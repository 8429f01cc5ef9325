//! Which Go setting sent the failing request to its target, so advice
//! names the variable that routed it rather than a generic list.
//!
//! Go's rules (cmd/go help goproxy, help module-auth; net/http
//! ProxyFromEnvironment via golang.org/x/net/http/httpproxy):
//! - GOPROXY is a list of proxy URLs, `direct` or `off`; after `,` Go tries
//!   the next entry only on 404/410, after `|` on any error.
//! - Module paths matching GOPRIVATE or GONOPROXY skip the proxies (direct
//!   fetch with the VCS); those matching GOPRIVATE or GONOSUMDB skip the
//!   checksum database GOSUMDB (default sum.golang.org).
//! - An `https://` request goes through HTTPS_PROXY (or https_proxy), an
//!   `http://` one through HTTP_PROXY (or http_proxy), unless NO_PROXY
//!   lists the host; Go does not read ALL_PROXY.

use std::collections::BTreeMap;

use super::Target;

/// GOPROXY when the environment does not set it.
const DEFAULT_GOPROXY: &str = "https://proxy.golang.org,direct";

/// How the failing request reached its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Entry `index` (1-based) of GOPROXY's `count`, `url`; `next` is the
    /// separator after it (`,` or `|`), `None` for the last entry.
    ProxyEntry {
        /// 1-based position in GOPROXY.
        index: usize,
        /// Entries in GOPROXY.
        count: usize,
        /// The entry.
        url: String,
        /// The separator after it.
        next: Option<char>,
    },
    /// Through the HTTP proxy named by variable `var` (`HTTPS_PROXY`...).
    HttpProxy {
        /// The variable's name as set.
        var: String,
        /// Its value (redacted as meta.json holds it).
        url: String,
    },
    /// The checksum database `host` (GOSUMDB, or its default).
    ChecksumDb {
        /// Its host name.
        host: String,
    },
    /// Not a proxy nor the checksum database, and Go may fetch directly
    /// (GOPROXY has `direct`, or GOPRIVATE/GONOPROXY is set): a direct fetch.
    Direct,
    /// No target to match, or it matches no setting and Go may not fetch
    /// directly.
    Unknown,
}

/// The route to `target` by the settings in `env` (meta.json's Go
/// environment).
pub fn route(target: Option<&Target>, env: &BTreeMap<String, String>) -> Route {
    // An empty environment is an unknown one (a capture-only analysis),
    // not an unset one: meta.json always keeps PATH.
    let Some(t) = target.filter(|t| (t.ip.is_some() || t.name.is_some()) && !env.is_empty()) else {
        return Route::Unknown;
    };
    for var in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
        if let Some(url) = env.get(var).filter(|u| reaches(u, t, true)) {
            return Route::HttpProxy {
                var: var.into(),
                url: url.clone(),
            };
        }
    }
    // Go's default when GOPROXY is unset (cmd/go help environment).
    let list = env.get("GOPROXY").map_or(DEFAULT_GOPROXY, String::as_str);
    {
        let entries = split_list(list);
        let count = entries.len();
        for (i, (url, next)) in entries.iter().enumerate() {
            if reaches(url, t, false) {
                return Route::ProxyEntry {
                    index: i + 1,
                    count,
                    url: url.clone(),
                    next: *next,
                };
            }
        }
    }
    let sumdb = sumdb_host(env.get("GOSUMDB").map(String::as_str));
    if let Some(host) = sumdb.filter(|h| t.name.as_deref() == Some(h.as_str())) {
        return Route::ChecksumDb { host };
    }
    // Anything else is a direct fetch only when Go may fetch directly.
    let direct = list.split([',', '|']).any(|e| e.trim() == "direct")
        || env.contains_key("GOPRIVATE")
        || env.contains_key("GONOPROXY");
    if direct {
        Route::Direct
    } else {
        Route::Unknown
    }
}

impl Route {
    /// The variable to change: `GOPROXY`, `HTTPS_PROXY`, `GOSUMDB`, or for
    /// a direct fetch `GOPRIVATE/GONOPROXY`; `GOPROXY` when unknown.
    pub fn setting(&self) -> &str {
        match self {
            Route::ProxyEntry { .. } | Route::Unknown => "GOPROXY",
            Route::HttpProxy { var, .. } => var,
            Route::ChecksumDb { .. } => "GOSUMDB",
            Route::Direct => "GOPRIVATE/GONOPROXY",
        }
    }

    /// What was being reached, for advice: `the module proxy`, `the HTTP
    /// proxy`, `the checksum database`, `the server`.
    pub fn what(&self) -> &'static str {
        match self {
            Route::ProxyEntry { .. } | Route::Unknown => "the module proxy",
            Route::HttpProxy { .. } => "the HTTP proxy",
            Route::ChecksumDb { .. } => "the checksum database",
            Route::Direct => "the server",
        }
    }

    /// A clause saying how the request got there and what that setting's
    /// rule is, ` (...)`; empty for [`Route::Unknown`].
    pub fn clause(&self, env: &BTreeMap<String, String>) -> String {
        match self {
            Route::ProxyEntry {
                index,
                count,
                url,
                next,
            } => {
                let then = match next {
                    Some(',') => ", then `,`: Go moves to the next entry only on 404/410, use `|` to fall back on any error",
                    Some('|') => ", then `|`: Go moves to the next entry on any error",
                    _ if *count > 1 => ", the last one",
                    _ => "",
                };
                if *count == 1 {
                    format!(" (the request went to GOPROXY={url}, its only entry)")
                } else {
                    format!(" (the request went to GOPROXY entry {index} of {count}, {url}{then})")
                }
            }
            Route::HttpProxy { var, url } => {
                let scheme = if var.eq_ignore_ascii_case("HTTPS_PROXY") {
                    "https://"
                } else {
                    "http://"
                };
                let no_proxy = env
                    .get("NO_PROXY")
                    .or_else(|| env.get("no_proxy"))
                    .map(|v| format!(" (now {v})"))
                    .unwrap_or_default();
                format!(" (the request went through {var}={url}: Go sends {scheme} requests there; list hosts to reach directly in NO_PROXY{no_proxy})")
            }
            Route::ChecksumDb { host } => format!(
                " (this is the checksum database {host}, GOSUMDB: list private modules in GONOSUMDB or GOPRIVATE so Go does not look them up, or set GOSUMDB to one you can reach; GOSUMDB=off disables the check)"
            ),
            Route::Direct => {
                let private: Vec<String> = ["GOPRIVATE", "GONOPROXY"]
                    .iter()
                    .filter_map(|k| env.get(*k).map(|v| format!("{k}={v}")))
                    .collect();
                let why = match (private.is_empty(), env.get("GOPROXY")) {
                    (false, _) => format!("{} sends matching modules direct", private.join(", ")),
                    (true, Some(p)) if p.split([',', '|']).any(|e| e.trim() == "direct") => {
                        format!("GOPROXY={p} ends in `direct`")
                    }
                    _ => "not through a module proxy".into(),
                };
                format!(" (Go fetched from the origin directly: {why}; a private host needs VCS access, e.g. git's url.<base>.insteadOf or ~/.netrc; a public module can go through a proxy instead)")
            }
            Route::Unknown => String::new(),
        }
    }
}

/// GOPROXY's entries with the separator after each (`,` or `|`).
fn split_list(list: &str) -> Vec<(String, Option<char>)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in list.chars() {
        if c == ',' || c == '|' {
            out.push((cur.trim().to_string(), Some(c)));
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    out.push((cur.trim().to_string(), None));
    out.retain(|(e, _)| !e.is_empty());
    out
}

/// The checksum database's host: GOSUMDB is `off`, `name`, `name+key` or
/// `name+key url` (cmd/go help module-auth); the default is sum.golang.org.
fn sumdb_host(gosumdb: Option<&str>) -> Option<String> {
    let v = gosumdb.unwrap_or("sum.golang.org").trim();
    if v == "off" {
        return None;
    }
    let mut parts = v.split_whitespace();
    let name = parts.next()?;
    match parts.next() {
        Some(url) => host_port(url, false).map(|(h, _)| h),
        None => Some(name.split('+').next()?.to_string()),
    }
}

/// Whether `url` (scheme optional for proxy variables) names `t`'s host
/// and port (the scheme's default port when the URL has none). A target
/// on port 53 is a name server and its `name` the name looked up: the
/// lookup was for `url` when the host names match, whatever the port.
fn reaches(url: &str, t: &Target, schemeless_ok: bool) -> bool {
    let Some((host, port)) = host_port(url, schemeless_ok) else {
        return false;
    };
    if t.port == Some(DNS_PORT) {
        return t.name.as_deref() == Some(host.as_str());
    }
    let host_ok =
        t.name.as_deref() == Some(host.as_str()) || t.ip.as_deref() == Some(host.as_str());
    host_ok && t.port.is_none_or(|p| p == port)
}

/// DNS's port (RFC 1035 4.2).
const DNS_PORT: u16 = 53;

/// (host, port) of a URL: `http[s]://[user@]host[:port][/...]`, IPv6 in
/// brackets; without a scheme (allowed for proxy variables) http.
fn host_port(url: &str, schemeless_ok: bool) -> Option<(String, u16)> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None if schemeless_ok => ("http".to_string(), url),
        None => return None,
    };
    let default = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        "socks5" | "socks5h" => 1080,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default,
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn t(name: Option<&str>, ip: &str, port: u16) -> Target {
        Target {
            name: name.map(str::to_string),
            ip: Some(ip.into()),
            port: Some(port),
        }
    }

    #[test]
    fn a_goproxy_entry_is_named_with_its_separator() {
        let e = env(&[(
            "GOPROXY",
            "https://goproxy.cn,http://198.18.0.2:8080|direct",
        )]);
        let r = route(Some(&t(None, "198.18.0.2", 8080)), &e);
        assert_eq!(
            r,
            Route::ProxyEntry {
                index: 2,
                count: 3,
                url: "http://198.18.0.2:8080".into(),
                next: Some('|')
            }
        );
        assert!(r.clause(&e).contains("entry 2 of 3") && r.clause(&e).contains("on any error"));
        let first = route(Some(&t(Some("goproxy.cn"), "198.18.9.9", 443)), &e);
        assert!(first.clause(&e).contains("only on 404/410"), "{first:?}");
        assert_eq!(first.setting(), "GOPROXY");
    }

    #[test]
    fn the_proxy_variable_follows_the_scheme_and_wins_over_goproxy() {
        let e = env(&[
            ("GOPROXY", "https://proxy.golang.org"),
            ("HTTPS_PROXY", "proxy.corp:3128"),
            ("NO_PROXY", "corp.example"),
        ]);
        let r = route(Some(&t(Some("proxy.corp"), "198.18.0.7", 3128)), &e);
        assert_eq!(r.setting(), "HTTPS_PROXY");
        let c = r.clause(&e);
        assert!(
            c.contains("https:// requests") && c.contains("NO_PROXY (now corp.example)"),
            "{c}"
        );
        let h = env(&[("HTTP_PROXY", "http://198.18.0.2:8080")]);
        let r = route(Some(&t(None, "198.18.0.2", 8080)), &h);
        assert!(r.clause(&h).contains("http:// requests"), "{r:?}");
        // A port that differs is not that proxy (and with the default
        // GOPROXY, which ends in `direct`, Go may have gone there directly).
        assert_eq!(route(Some(&t(None, "198.18.0.2", 8081)), &h), Route::Direct);
        let only_proxy = env(&[("GOPROXY", "http://p:8080")]);
        assert_eq!(
            route(Some(&t(None, "198.18.0.2", 8080)), &only_proxy),
            Route::Unknown
        );
    }

    #[test]
    fn the_checksum_database_names_gonosumdb_and_gosumdb() {
        let e = env(&[("GOPROXY", "https://goproxy.cn")]);
        let r = route(Some(&t(Some("sum.golang.org"), "198.18.3.3", 443)), &e);
        assert_eq!(
            r,
            Route::ChecksumDb {
                host: "sum.golang.org".into()
            }
        );
        assert!(r.clause(&e).contains("GONOSUMDB or GOPRIVATE"));
        let custom = env(&[("GOSUMDB", "sum.corp+abc123 https://sumdb.corp:8443")]);
        assert_eq!(
            route(Some(&t(Some("sumdb.corp"), "198.18.3.4", 8443)), &custom),
            Route::ChecksumDb {
                host: "sumdb.corp".into()
            }
        );
        let off = env(&[("GOSUMDB", "off"), ("GOPROXY", "https://goproxy.cn")]);
        assert_eq!(
            route(Some(&t(Some("sum.golang.org"), "198.18.3.3", 443)), &off),
            Route::Unknown
        );
    }

    #[test]
    fn a_direct_fetch_names_goprivate_or_direct() {
        let e = env(&[
            ("GOPROXY", "https://goproxy.cn,direct"),
            ("GOPRIVATE", "git.corp/*"),
        ]);
        let r = route(Some(&t(Some("git.corp"), "198.18.4.4", 443)), &e);
        assert_eq!(
            (r.clone(), r.setting()),
            (Route::Direct, "GOPRIVATE/GONOPROXY")
        );
        assert!(r.clause(&e).contains("GOPRIVATE=git.corp/*"));
        let d = env(&[("GOPROXY", "https://goproxy.cn,direct")]);
        assert!(route(Some(&t(Some("git.corp"), "198.18.4.4", 443)), &d)
            .clause(&d)
            .contains("ends in `direct`"));
        assert_eq!(route(None, &d), Route::Unknown);
        assert_eq!(Route::Unknown.clause(&d), "");
    }

    #[test]
    fn a_failed_lookup_is_routed_by_the_name_it_asked_for() {
        let e = env(&[("GOPROXY", "https://goproxy.cn,direct")]);
        let sumdb = route(Some(&t(Some("sum.golang.org"), "198.18.0.53", 53)), &e);
        assert_eq!(
            sumdb,
            Route::ChecksumDb {
                host: "sum.golang.org".into()
            }
        );
        let proxy = route(Some(&t(Some("goproxy.cn"), "198.18.0.53", 53)), &e);
        assert!(
            matches!(proxy, Route::ProxyEntry { index: 1, .. }),
            "{proxy:?}"
        );
    }

    #[test]
    fn urls_parse_with_userinfo_ipv6_and_default_ports() {
        assert_eq!(
            host_port("http://u:p@[2001:db8::1]:3128/x", false),
            Some(("2001:db8::1".into(), 3128))
        );
        assert_eq!(
            host_port("https://Goproxy.CN", false),
            Some(("goproxy.cn".into(), 443))
        );
        assert_eq!(host_port("proxy:3128", true), Some(("proxy".into(), 3128)));
        assert_eq!(host_port("direct", false), None);
        assert_eq!(host_port("ftp://x", false), None);
    }
}
