//! Proxy settings from the environment (transport rule 6 in [`crate::transport`]), with loopback
//! never proxied.
//!
//! reqwest's automatic "system" proxy reads the same variables but sends `127.0.0.1` and
//! `localhost` through the proxy unless `NO_PROXY` names them, which breaks a repository served on
//! the local machine (tests, `tufd-repo serve`) on any host with a corporate proxy. So we read the
//! variables ourselves, as hyper-util does (upper case first, then lower case; `HTTP_PROXY` is
//! ignored under CGI, where `REQUEST_METHOD` is set — "httpoxy"), and always append
//! `localhost, 127.0.0.1, ::1` to the exclusion list. Parsing is pure ([`ProxyEnv::from_lookup`]);
//! only [`ProxyEnv::proxies`] builds reqwest objects.

use reqwest::{NoProxy, Proxy};

use super::TransportError;

/// Hosts that are never sent through a proxy.
const LOOPBACK: &str = "localhost,127.0.0.1,::1";

/// Proxy settings read from environment variables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProxyEnv {
    /// Proxy for `http://` URLs (`HTTP_PROXY`, else `ALL_PROXY`).
    pub http: Option<String>,
    /// Proxy for `https://` URLs (`HTTPS_PROXY`, else `ALL_PROXY`).
    pub https: Option<String>,
    /// Comma-separated exclusion list (`NO_PROXY`), always ending with the loopback hosts.
    pub no_proxy: String,
}

impl ProxyEnv {
    /// Reads the settings through `lookup` (an environment variable getter; empty values count
    /// as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |names: &[&str]| {
            names
                .iter()
                .filter_map(|name| lookup(name))
                .map(|value| value.trim().to_owned())
                .find(|value| !value.is_empty())
        };
        let all = get(&["ALL_PROXY", "all_proxy"]);
        let cgi = lookup("REQUEST_METHOD").is_some();
        let http = if cgi {
            None
        } else {
            get(&["HTTP_PROXY", "http_proxy"])
        };
        let no_proxy = match get(&["NO_PROXY", "no_proxy"]) {
            Some(list) => format!("{list},{LOOPBACK}"),
            None => LOOPBACK.to_owned(),
        };
        Self {
            http: http.or_else(|| all.clone()),
            https: get(&["HTTPS_PROXY", "https_proxy"]).or(all),
            no_proxy,
        }
    }

    /// The reqwest proxies for these settings (none when no proxy variable is set).
    ///
    /// # Errors
    /// [`TransportError::ProxyUrl`] when a proxy variable does not hold a usable URL.
    pub fn proxies(&self) -> Result<Vec<Proxy>, TransportError> {
        let mut proxies = Vec::new();
        for (scheme, value) in [("http", &self.http), ("https", &self.https)] {
            let Some(value) = value else { continue };
            // `proxy.example:3128` without a scheme is common in the wild; curl reads it as http.
            let with_scheme = if value.contains("://") {
                value.clone()
            } else {
                format!("http://{value}")
            };
            let proxy = match scheme {
                "http" => Proxy::http(&with_scheme),
                _ => Proxy::https(&with_scheme),
            }
            .map_err(|source| TransportError::ProxyUrl {
                value: value.clone(),
                source,
            })?;
            proxies.push(proxy.no_proxy(NoProxy::from_string(&self.no_proxy)));
        }
        Ok(proxies)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> ProxyEnv {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProxyEnv::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn no_variables_means_no_proxy_but_loopback_excluded() {
        let e = env(&[]);
        assert_eq!(e.http, None);
        assert_eq!(e.https, None);
        assert_eq!(e.no_proxy, LOOPBACK);
        assert!(e.proxies().unwrap().is_empty());
    }

    #[test]
    fn reads_upper_then_lower_case_and_all_proxy_fallback() {
        let e = env(&[
            ("http_proxy", "http://lower:1"),
            ("HTTP_PROXY", "http://upper:1"),
            ("all_proxy", "http://all:1"),
            ("NO_PROXY", "example.org"),
        ]);
        assert_eq!(e.http.as_deref(), Some("http://upper:1"));
        assert_eq!(e.https.as_deref(), Some("http://all:1"));
        assert_eq!(e.no_proxy, format!("example.org,{LOOPBACK}"));
        assert_eq!(e.proxies().unwrap().len(), 2);
    }

    #[test]
    fn empty_values_are_unset_and_cgi_ignores_http_proxy() {
        let e = env(&[("HTTPS_PROXY", " "), ("https_proxy", "proxy:3128")]);
        assert_eq!(e.https.as_deref(), Some("proxy:3128"));
        assert_eq!(e.proxies().unwrap().len(), 1);
        let cgi = env(&[("HTTP_PROXY", "http://evil:1"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(cgi.http, None);
    }
}
