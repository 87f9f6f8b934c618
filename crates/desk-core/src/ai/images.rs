//! Images a reply links in Markdown (`![alt](https://…)`): the markdown filter removes
//! the link from the text; they are fetched here, with a size cap while streaming, and
//! queued as images after the text, marked as the AI's.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures_util::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A fetched image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedImage {
    pub url: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

impl FetchedImage {
    /// The name to send it under: the URL's last path segment, with an extension from
    /// its type when it has none (the sender picks the item kind from name and bytes).
    pub fn file_name(&self) -> String {
        let path = self.url.split(['?', '#']).next().unwrap_or("");
        let last = path.rsplit('/').next().unwrap_or("").trim();
        let stem = if last.is_empty() { "image" } else { last };
        if stem.contains('.') {
            return stem.to_owned();
        }
        let extension = match self.mime.as_str() {
            "image/png" => "png",
            "image/gif" => "gif",
            "image/webp" => "webp",
            _ => "jpg",
        };
        format!("{stem}.{extension}")
    }
}

/// The http(s) URLs of `![alt](url)` in `text`, in order.
pub fn image_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("![") {
        rest = &rest[start + 2..];
        let Some(close) = rest.find("](") else { break };
        if rest[..close].contains('\n') {
            continue;
        }
        let after = &rest[close + 2..];
        let Some(end) = after.find(')') else { break };
        // `![a](url "title")`: the URL is the first word.
        let url = after[..end].split_whitespace().next().unwrap_or("");
        if url.starts_with("https://") || url.starts_with("http://") {
            out.push(url.to_owned());
        }
        rest = &after[end..];
    }
    out
}

/// Whether an address is one a model's link must not make the app fetch from: the
/// owner's own machine or network (loopback, private, link-local, CGNAT, unspecified,
/// unique-local IPv6, or an IPv4-mapped one of these).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (o[0] == 100 && (o[1] & 0xC0) == 64)
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xFE00) == 0xFC00
                || (first & 0xFFC0) == 0xFE80
        }
    }
}

/// Resolves names to public addresses only.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| !is_private(a.ip())).collect();
            if public.is_empty() {
                return Err("the image host has no public address".into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

fn literal_private(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return true;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => is_private(ip),
        Err(_) => host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost"),
    }
}

/// The client reply images are fetched with. Unless `allow_private`, it refuses hosts on
/// the owner's machine or network (by literal address, by name, and on redirects).
pub fn image_client(allow_private: bool, use_system_proxy: bool) -> reqwest::Client {
    let mut builder =
        reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(10));
    if !use_system_proxy {
        builder = builder.no_proxy();
    }
    if !allow_private {
        builder =
            builder
                .dns_resolver(Arc::new(PublicOnly))
                .redirect(reqwest::redirect::Policy::custom(|attempt| {
                    if attempt.previous().len() >= 5 {
                        attempt.error("too many redirects")
                    } else if literal_private(attempt.url()) {
                        attempt.error("redirected to a private address")
                    } else {
                        attempt.follow()
                    }
                }));
    }
    builder.build().unwrap_or_default()
}

/// Downloads one image, refusing anything over `max_bytes` (checked as it streams) or
/// not an image.
pub async fn fetch_image(
    http: &reqwest::Client,
    url: &str,
    max_bytes: u64,
    timeout: std::time::Duration,
    allow_private: bool,
) -> Result<FetchedImage, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    if !allow_private && literal_private(&parsed) {
        return Err("the link points at a private address".into());
    }
    let response = tokio::time::timeout(timeout, http.get(url).send())
        .await
        .map_err(|_| "no answer".to_owned())?
        .map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(format!("larger than {max_bytes} bytes"));
    }
    let header_mime = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned());
    let mut bytes = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = tokio::time::timeout(timeout, body.next())
        .await
        .map_err(|_| "stalled".to_owned())?
    {
        let chunk = chunk.map_err(|e| e.without_url().to_string())?;
        if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
            return Err(format!("larger than {max_bytes} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    let mime = header_mime
        .filter(|m| m.starts_with("image/"))
        .or_else(|| sniff(&bytes).map(str::to_owned))
        .ok_or_else(|| "not an image".to_owned())?;
    Ok(FetchedImage {
        url: url.to_owned(),
        mime,
        bytes,
    })
}

fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetched_image_is_named_after_its_url_with_an_extension() {
        let named = |url: &str, mime: &str| {
            FetchedImage {
                url: url.into(),
                mime: mime.into(),
                bytes: Vec::new(),
            }
            .file_name()
        };
        assert_eq!(
            named("https://x.test/a/cat.png?size=2#top", "image/png"),
            "cat.png"
        );
        assert_eq!(named("https://x.test/render/42", "image/webp"), "42.webp");
        assert_eq!(named("https://x.test/", "image/jpeg"), "image.jpg");
    }

    #[tokio::test]
    async fn private_hosts_are_refused_before_any_connection() {
        let client = image_client(false, false);
        for url in [
            "http://127.0.0.1:9/a.png",
            "http://[::1]:9/a.png",
            "http://localhost:9/a.png",
            "http://10.1.2.3/a.png",
            "http://192.168.1.1/a.png",
            "http://169.254.169.254/x",
        ] {
            let err = fetch_image(&client, url, 100, std::time::Duration::from_secs(2), false)
                .await
                .unwrap_err();
            assert!(err.contains("private"), "{url}: {err}");
        }
        assert!(!is_private("93.184.216.34".parse().unwrap()));
        assert!(is_private("::ffff:10.0.0.1".parse().unwrap()));
        assert!(is_private("100.64.0.1".parse().unwrap()));
    }

    #[test]
    fn finds_http_image_links_only() {
        let text = "See ![cat](https://x.test/c.png \"t\") and ![](http://y/d.jpg)\n\
                    not ![local](file:///etc/passwd) nor [link](https://z) nor ![a]\n(https://q)";
        assert_eq!(
            image_links(text),
            ["https://x.test/c.png", "http://y/d.jpg"]
        );
    }
}
