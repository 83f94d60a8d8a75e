//! Which webhook callback URLs may be called: http or https (https only in live mode), a
//! host and no credentials, and, unless private networks are allowed, a host that resolves
//! only to public addresses, so that a webhook cannot make the workers call the services
//! beside them (the database, the metadata endpoint of a cloud host). The API checks a URL
//! when it is set; the delivery client checks every address it connects to again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use imports_common::model::Mode;
use imports_common::webhooks::MAX_CALLBACK_URL_CHARS;
use url::Url;

/// How long resolving a callback URL's host may take.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads a callback URL and checks its form for a webhook of `mode`; the reason it is
/// refused otherwise.
pub fn check_form(text: &str, mode: Mode) -> Result<Url, String> {
    if text.chars().count() > MAX_CALLBACK_URL_CHARS {
        return Err(format!(
            "callback_url is longer than {MAX_CALLBACK_URL_CHARS} characters"
        ));
    }
    let url = Url::parse(text).map_err(|e| format!("callback_url is not a URL: {e}"))?;
    match (url.scheme(), mode) {
        ("https", _) | ("http", Mode::Test) => {}
        ("http", Mode::Live) => return Err("callback_url must be https in live mode".into()),
        (other, _) => return Err(format!("callback_url must be http or https, not {other}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("callback_url has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("callback_url must not hold credentials".into());
    }
    Ok(url)
}

/// Resolves the host of `url` and, unless `allow_private`, refuses it when any of its
/// addresses is not public; the addresses otherwise.
pub async fn resolve(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::net::lookup_host((host, port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(e)) => {
            return Err(format!(
                "callback_url's host {host} cannot be resolved: {e}"
            ))
        }
        Err(_) => {
            return Err(format!(
                "callback_url's host {host} took too long to resolve"
            ))
        }
    };
    if addrs.is_empty() {
        return Err(format!("callback_url's host {host} has no address"));
    }
    if !allow_private {
        if let Some(a) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(format!(
                "callback_url's host {host} resolves to {}, a loopback, private or link-local address",
                a.ip()
            ));
        }
    }
    Ok(addrs)
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local, shared
/// (carrier-grade NAT), unspecified, broadcast, multicast, documentation, benchmarking or
/// reserved; IPv4 addresses mapped or translated into IPv6 are judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let private = ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240;
    !private
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // 64:ff9b::/96, IPv4 translated by NAT64.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    let private = ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || s[..6] == [0, 0, 0, 0, 0, 0];
    !private
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn forms_are_checked_per_mode() {
        assert!(check_form("https://example.com/hook", Mode::Live).is_ok());
        assert!(check_form("http://example.com/hook", Mode::Test).is_ok());
        for (bad, mode) in [
            ("http://example.com/hook", Mode::Live),
            ("ftp://example.com/", Mode::Test),
            ("https://user:pw@example.com/", Mode::Test),
            ("not a url", Mode::Test),
            ("file:///etc/passwd", Mode::Test),
        ] {
            assert!(check_form(bad, mode).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_CALLBACK_URL_CHARS));
        assert!(check_form(&long, Mode::Test).is_err());
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let url = Url::parse("http://127.0.0.1:9/hook").unwrap();
        assert!(resolve(&url, false).await.is_err());
        assert!(resolve(&url, true).await.is_ok());
        let url = Url::parse("http://localhost:9/hook").unwrap();
        assert!(resolve(&url, false).await.is_err());
        let url = Url::parse("http://[::1]:9/hook").unwrap();
        assert!(resolve(&url, false).await.is_err());
    }
}
