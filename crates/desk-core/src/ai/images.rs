//! Images a reply links in Markdown (`![alt](https://…)`): the markdown filter removes
//! the link from the text; they are fetched here, with a size cap while streaming, and
//! handed to a [`ReplyImageSink`] to be sent after the text.

use futures_util::StreamExt;

/// A fetched image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedImage {
    pub url: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// Where fetched reply images go. The engine's media send is wired here; without a sink
/// the images are fetched and dropped with a log note.
pub trait ReplyImageSink: Send + Sync {
    fn send_image(
        &self,
        account_id: &str,
        peer_id: &str,
        image: FetchedImage,
    ) -> futures_util::future::BoxFuture<'static, Result<(), String>>;
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

/// Downloads one image, refusing anything over `max_bytes` (checked as it streams) or
/// not an image.
pub async fn fetch_image(
    http: &reqwest::Client,
    url: &str,
    max_bytes: u64,
    timeout: std::time::Duration,
) -> Result<FetchedImage, String> {
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
    fn finds_http_image_links_only() {
        let text = "See ![cat](https://x.test/c.png \"t\") and ![](http://y/d.jpg)\n\
                    not ![local](file:///etc/passwd) nor [link](https://z) nor ![a]\n(https://q)";
        assert_eq!(
            image_links(text),
            ["https://x.test/c.png", "http://y/d.jpg"]
        );
    }
}
