//! Outbound media (docs/protocol.md §7.1): two passes over the file, neither holding it in memory.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};

use super::error::MediaError;
use super::route::OutboundKind;
use super::upload_passes::{checksum_file, encrypted_chunks, FILE_CHANGED};
use super::CdnConfig;
use crate::client::{classify, Client};
use crate::crypto::{self, AesKey};
use crate::models::GetUploadUrlRequest;
use crate::url;

/// Progress callback: `(ciphertext bytes handed to the connection, total)`. Starts over
/// from zero on a retry.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// A finished upload: what the message item needs. Holds the media key; never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct UploadedMedia {
    /// How it was uploaded.
    pub kind: OutboundKind,
    /// The CDN's `x-encrypted-param`, sent as `encrypt_query_param`.
    pub download_param: String,
    /// The AES key.
    pub key: AesKey,
    /// Plaintext length.
    pub rawsize: u64,
    /// Ciphertext length.
    pub filesize: u64,
    /// Lower-case hex MD5 of the plaintext.
    pub md5_hex: String,
    /// The file's base name, for FILE items.
    pub file_name: String,
}

impl std::fmt::Debug for UploadedMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadedMedia")
            .field("kind", &self.kind)
            .field("rawsize", &self.rawsize)
            .field("filesize", &self.filesize)
            .field("md5_hex", &self.md5_hex)
            .field("file_name", &self.file_name)
            .finish_non_exhaustive()
    }
}

/// Uploads the file at `path` for `to_user_id` as `kind`: MD5 and size first, then
/// `getuploadurl`, then the encrypted upload with up to `cdn.upload_attempts` tries.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use std::path::Path;
///
/// use ilink::media::{items, route_path, upload_file, CdnConfig};
/// use ilink::{Client, ClientConfig, Secret};
///
/// let client = Client::new(ClientConfig::default(), Some(Secret::new("bot-token")))?;
/// let path = Path::new("photo.jpg");
/// let routed = route_path(path).await?;
/// let uploaded = upload_file(
///     &client,
///     &CdnConfig::default(),
///     path,
///     "o9cq8AbC@im.wechat",
///     routed.kind,
///     None,
/// )
/// .await?;
/// // The one item of the sendmessage that delivers it.
/// let item = items::media_item(&uploaded);
/// # let _ = item;
/// # Ok(())
/// # }
/// ```
pub async fn upload_file(
    client: &Client,
    cdn: &CdnConfig,
    path: &Path,
    to_user_id: &str,
    kind: OutboundKind,
    progress: Option<Progress>,
) -> Result<UploadedMedia, MediaError> {
    let (rawsize, md5_hex) = checksum_file(path, cdn.chunk_size).await?;
    let filesize = crypto::padded_size(rawsize);
    let key = crypto::random_key();
    let filekey = hex::encode(rand::random::<[u8; 16]>());
    let answer = client
        .getuploadurl(&GetUploadUrlRequest {
            filekey: Some(filekey.clone()),
            media_type: Some(kind.upload_media_type()),
            to_user_id: Some(to_user_id.to_owned()),
            rawsize: Some(rawsize),
            rawfilemd5: Some(md5_hex.clone()),
            filesize: Some(filesize),
            no_need_thumb: Some(true),
            aeskey: Some(crypto::key_hex(&key)),
            ..GetUploadUrlRequest::default()
        })
        .await
        .map_err(MediaError::UploadUrl)?;
    let target = upload_url(
        &cdn.cdn_base,
        answer.upload_full_url.as_deref(),
        answer.upload_param.as_deref(),
        &filekey,
    )
    .ok_or(MediaError::NoUploadUrl)?;

    let attempts = cdn.upload_attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        let plan = Plan {
            key: &key,
            rawsize,
            filesize,
            chunk_size: cdn.chunk_size,
        };
        match post_once(client, cdn, &target, path, plan, progress.clone()).await {
            Ok(download_param) => {
                return Ok(UploadedMedia {
                    kind,
                    download_param,
                    key,
                    rawsize,
                    filesize,
                    md5_hex,
                    file_name: base_name(path),
                })
            }
            Err(Attempt::Fatal(err)) => return Err(err),
            Err(Attempt::Retry(reason)) => {
                tracing::debug!(attempt, %reason, "CDN upload attempt failed");
                last = reason;
            }
        }
    }
    Err(MediaError::UploadFailed { attempts, last })
}

/// The upload URL: a non-blank `upload_full_url` as given, else
/// `<cdn>/upload?encrypted_query_param=<param>&filekey=<filekey>`, both escaped.
pub fn upload_url(
    cdn_base: &str,
    full_url: Option<&str>,
    upload_param: Option<&str>,
    filekey: &str,
) -> Option<String> {
    if let Some(full) = full_url.map(str::trim).filter(|u| !u.is_empty()) {
        return Some(full.to_owned());
    }
    let param = upload_param.filter(|p| !p.is_empty())?;
    Some(format!(
        "{}?encrypted_query_param={}&filekey={}",
        url::join(cdn_base, "upload"),
        url::encode_component(param),
        url::encode_component(filekey)
    ))
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned())
}

#[derive(Clone, Copy)]
struct Plan<'a> {
    key: &'a AesKey,
    rawsize: u64,
    filesize: u64,
    chunk_size: usize,
}

enum Attempt {
    Retry(String),
    Fatal(MediaError),
}

/// Pass 2: one POST whose body is encrypted as it streams.
async fn post_once(
    client: &Client,
    cdn: &CdnConfig,
    target: &str,
    path: &Path,
    plan: Plan<'_>,
    progress: Option<Progress>,
) -> Result<String, Attempt> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Attempt::Fatal(e.into()))?
        .into_std()
        .await;
    let body = reqwest::Body::wrap_stream(with_progress(
        encrypted_chunks(file, plan.key, plan.rawsize, plan.chunk_size),
        plan.filesize,
        progress,
    ));
    let request = client
        .http()
        .post(target)
        .header(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )
        // A streamed body would go out chunked; the CDN gets an exact length instead.
        .header(CONTENT_LENGTH, HeaderValue::from(plan.filesize))
        .timeout(cdn.transfer_timeout)
        .body(body);
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => {
            // The body stream reports a changed file through the error chain.
            if is_file_changed(&err) {
                return Err(Attempt::Fatal(MediaError::FileChanged));
            }
            return Err(Attempt::Retry(classify(err).to_string()));
        }
    };
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let error_message = header("x-error-message");
    let param = header("x-encrypted-param").filter(|p| !p.is_empty());
    if status.as_u16() == 200 {
        return param
            .ok_or_else(|| Attempt::Retry("HTTP 200 without x-encrypted-param".to_owned()));
    }
    if status.is_client_error() {
        let message = match error_message {
            Some(message) => message,
            None => {
                let body = response.bytes().await.unwrap_or_default();
                String::from_utf8_lossy(&body).chars().take(200).collect()
            }
        };
        return Err(Attempt::Fatal(MediaError::UploadRejected {
            status: status.as_u16(),
            message,
        }));
    }
    Err(Attempt::Retry(
        error_message.unwrap_or_else(|| format!("status {}", status.as_u16())),
    ))
}

/// Reports each chunk to `progress` as the connection takes it.
fn with_progress(
    chunks: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    total: u64,
    progress: Option<Progress>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let mut sent = 0u64;
    futures_util::StreamExt::inspect(chunks, move |chunk| {
        if let (Ok(chunk), Some(progress)) = (chunk, &progress) {
            sent += chunk.len() as u64;
            progress(sent, total);
        }
    })
}

fn is_file_changed(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if cause.to_string().contains(FILE_CHANGED) {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_url_vectors() {
        // Spec §10.6.
        assert_eq!(
            upload_url(
                "https://novac2c.cdn.weixin.qq.com/c2c",
                None,
                Some("UP+/x="),
                "00112233445566778899aabbccddeeff"
            )
            .as_deref(),
            Some("https://novac2c.cdn.weixin.qq.com/c2c/upload?encrypted_query_param=UP%2B%2Fx%3D&filekey=00112233445566778899aabbccddeeff")
        );
        assert_eq!(
            upload_url("https://cdn", Some("  https://full/u?x=1 "), Some("p"), "k").as_deref(),
            Some("https://full/u?x=1")
        );
        assert_eq!(
            upload_url("https://cdn", Some("  "), Some("p"), "k").as_deref(),
            Some("https://cdn/upload?encrypted_query_param=p&filekey=k")
        );
        assert_eq!(upload_url("https://cdn", None, None, "k"), None);
    }

    #[test]
    fn debug_hides_the_key_and_param() {
        let media = UploadedMedia {
            kind: OutboundKind::File,
            download_param: "PARAM".into(),
            key: [0xab; 16],
            rawsize: 1,
            filesize: 16,
            md5_hex: "m".into(),
            file_name: "f".into(),
        };
        let text = format!("{media:?}");
        assert!(!text.contains("PARAM") && !text.contains("171"), "{text}");
    }

    #[tokio::test]
    async fn progress_counts_up_to_the_ciphertext_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data = vec![5u8; 10_000];
        std::fs::write(&path, &data).unwrap();
        let total = crypto::padded_size(data.len() as u64);
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let progress: Progress = Arc::new(move |sent, total| {
            sink.lock().unwrap().push((sent, total));
        });
        let file = std::fs::File::open(&path).unwrap();
        let chunks = encrypted_chunks(file, &[3u8; 16], data.len() as u64, 4096);
        let items: Vec<_> = futures_util::StreamExt::collect::<Vec<_>>(with_progress(
            chunks,
            total,
            Some(progress),
        ))
        .await;
        assert!(items.iter().all(Result::is_ok));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.last(), Some(&(total, total)));
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
