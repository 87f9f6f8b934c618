//! The inbound media pipeline (docs/protocol.md §7.3–§7.5): the jobs queued with each inbound
//! batch are downloaded a few at a time, decrypted into
//! `media/<account>/<yyyy-mm>/<sanitised name>`, voice turned into WAV where it can be,
//! and the result recorded on the message and announced. A download is checked against
//! what the message announced (length, MD5); failed downloads are retried with backoff,
//! a wrong key or an oversized file fails at once, and a local failure (a full disk, no
//! permission) waits for the condition to clear without using up attempts
//! (docs/architecture.md, invariant 9). Each job writes to one temporary name of its
//! own, reused by its retries; temporaries a killed run left are swept at start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ilink::media::{
    download_item_into, video_thumbnail_item, CdnConfig, MediaError, DEFAULT_CDN_BASE,
};
use ilink::models::WeixinMessage;
use ilink::Client;
use tokio::io::AsyncWriteExt;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use super::media_write::{is_local, BudgetedWriter, WriteBudget};
use super::shared::Runtime;
use super::timing::duration_ms;
use crate::events::EngineEvent;
use crate::inbound::chosen_media_item;
use crate::store::{MediaJob, MediaOutcome};
use crate::views::MediaFailure;
use crate::{CoreError, DataDir};

/// Largest video poster downloaded: a thumbnail, not a film.
const POSTER_MAX_BYTES: u64 = 4 * 1024 * 1024;
/// Longest a poster may hold back its video's "ready".
const POSTER_TIMEOUT: Duration = Duration::from_secs(30);

/// How inbound media is fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaOptions {
    /// Downloads at once, over all accounts; 0 runs no downloads at all.
    pub concurrency: usize,
    /// Attempts before a download that keeps failing (network, 5xx) is given up.
    pub max_attempts: u32,
    /// First delay before a retry; doubles per attempt.
    pub retry: Duration,
    /// Longest delay between attempts.
    pub retry_max: Duration,
    /// Delay between tries while a local condition (a full disk, no permission) lasts;
    /// these tries use up no attempts.
    pub local_retry: Duration,
    /// Largest decrypted file accepted (§7.3: 100 MiB).
    pub max_bytes: u64,
    /// Bound on one download.
    pub transfer_timeout: Duration,
    /// The CDN base for accounts that have none stored.
    pub default_cdn_base: String,
    /// Bytes downloads may write before they fail as on a full disk; `None`: no limit
    /// but the disk's. For tests and drills.
    pub write_budget: Option<WriteBudget>,
}

impl Default for MediaOptions {
    fn default() -> Self {
        MediaOptions {
            concurrency: 3,
            max_attempts: 5,
            retry: Duration::from_secs(2),
            retry_max: Duration::from_secs(5 * 60),
            local_retry: Duration::from_secs(30),
            max_bytes: ilink::media::DEFAULT_MAX_DOWNLOAD_BYTES,
            transfer_timeout: Duration::from_secs(600),
            default_cdn_base: DEFAULT_CDN_BASE.to_owned(),
            write_budget: None,
        }
    }
}

impl MediaOptions {
    fn delay(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(20);
        self.retry.saturating_mul(1u32 << exp).min(self.retry_max)
    }
}

type Inflight = Arc<Mutex<HashMap<i64, (String, AbortHandle)>>>;

/// The download scheduler: one task for the engine, one short task per download.
pub(crate) struct MediaWorker {
    rt: Arc<Runtime>,
    data: DataDir,
    options: MediaOptions,
    client: Arc<Client>,
    inflight: Inflight,
}

/// Controls the running worker.
pub(crate) struct MediaControl {
    cancel: CancellationToken,
    inflight: Inflight,
}

impl MediaControl {
    /// Aborts the account's downloads in flight (their partial files are deleted).
    pub fn abort_account(&self, account_id: &str) {
        let inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
        for (account, handle) in inflight.values() {
            if account == account_id {
                handle.abort();
            }
        }
    }

    pub fn stop(&self) {
        self.cancel.cancel();
        let inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, handle) in inflight.values() {
            handle.abort();
        }
    }
}

impl Drop for MediaControl {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the worker; `None` if no HTTP client can be built.
pub(crate) fn start(
    rt: Arc<Runtime>,
    data: DataDir,
    options: MediaOptions,
) -> Option<MediaControl> {
    let client = match Client::new(rt.client_config.clone(), None) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tracing::error!(error = %e, "no media downloads: cannot build the client");
            return None;
        }
    };
    let cancel = CancellationToken::new();
    let inflight: Inflight = Arc::default();
    let worker = MediaWorker {
        rt,
        data,
        options,
        client,
        inflight: Arc::clone(&inflight),
    };
    tokio::spawn(worker.run(cancel.clone()));
    Some(MediaControl { cancel, inflight })
}

/// Removes a download's file unless it was kept, also when the download is aborted.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Takes a finished download off the in-flight list and wakes the scheduler, also
/// when the download is aborted.
struct InflightGuard {
    inflight: Inflight,
    id: i64,
    wake: Arc<tokio::sync::Notify>,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        self.wake.notify_one();
    }
}

impl MediaWorker {
    async fn run(self, cancel: CancellationToken) {
        let this = Arc::new(self);
        // Before any job starts: nothing is in flight, so every temporary is a leftover.
        let data = this.data.clone();
        if let Ok(swept @ 1..) =
            tokio::task::spawn_blocking(move || data.sweep_media_temporaries()).await
        {
            tracing::info!(
                files = swept,
                "removed temporary media files left by a previous run"
            );
        }
        loop {
            let next = match this.launch_due().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the media jobs");
                    Some(this.rt.now_ms() + 5_000)
                }
            };
            let sleep = next
                .map(|at| Duration::from_millis(u64::try_from(at - this.rt.now_ms()).unwrap_or(0)));
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                () = this.rt.media_wake.notified() => {}
                () = async {
                    match sleep {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    }

    /// Starts due jobs while slots are free; returns when the next waiting job is due.
    async fn launch_due(self: &Arc<Self>) -> Result<Option<i64>, super::EngineError> {
        let now = self.rt.now_ms();
        let busy: Vec<i64> = self
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        let free = self.options.concurrency.max(1).saturating_sub(busy.len());
        if free > 0 {
            let due = self
                .rt
                .store
                .call(move |s| s.due_media_jobs(now, free, &busy))
                .await?;
            for id in due {
                let job = self.rt.store.call(move |s| s.media_job(id)).await?;
                let Some(job) = job else { continue };
                let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
                let this = Arc::clone(self);
                let guard = InflightGuard {
                    inflight: Arc::clone(&self.inflight),
                    id,
                    wake: Arc::clone(&self.rt.media_wake),
                };
                let account = job.account_id.clone();
                let span = tracing::info_span!("media", account_id = account, message = id);
                let task = tokio::spawn(tracing::Instrument::instrument(
                    async move {
                        let _guard = guard;
                        this.run_job(job).await;
                    },
                    span,
                ));
                inflight.insert(id, (account, task.abort_handle()));
            }
        }
        self.rt.store.call(move |s| s.next_media_job_ms(now)).await
    }

    async fn run_job(&self, job: MediaJob) {
        let id = job.message_row_id;
        let result = self.fetch(&job).await;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(Failure::Retry(_, reason)) if job.attempts + 1 < self.options.max_attempts => {
                let delay = self
                    .rt
                    .timings
                    .jittered(self.options.delay(job.attempts + 1));
                let at = self.rt.now_ms() + duration_ms(delay);
                tracing::warn!(error = %reason, attempt = job.attempts + 1, "media download failed; retrying");
                if let Err(e) = self
                    .rt
                    .store
                    .call(move |s| s.retry_media_job(id, at, &reason))
                    .await
                {
                    tracing::error!(error = %e, "cannot reschedule a media job");
                }
                return;
            }
            Err(Failure::Local(reason)) => {
                let delay = self.rt.timings.jittered(self.options.local_retry);
                let at = self.rt.now_ms() + duration_ms(delay);
                tracing::warn!(error = %reason, "media download waits for a local condition to clear");
                if let Err(e) = self
                    .rt
                    .store
                    .call(move |s| s.defer_media_job(id, at, &reason))
                    .await
                {
                    tracing::error!(error = %e, "cannot reschedule a media job");
                }
                return;
            }
            Err(Failure::Retry(failure, reason) | Failure::Permanent(failure, reason)) => {
                MediaOutcome::Failed { failure, reason }
            }
        };
        if let MediaOutcome::Ready { path, .. } = &outcome {
            let saved = self.data.root().join(path);
            match job.item_kind.as_str() {
                "image" => {
                    let _ = tokio::task::spawn_blocking(move || super::thumbnail_for(&saved)).await;
                }
                "video" => {
                    if let Err(reason) = self.fetch_poster(&job, &saved).await {
                        tracing::warn!(error = %reason, "no poster for a video");
                    }
                }
                _ => {}
            }
        }
        let saved = outcome.clone();
        let finished = self
            .rt
            .store
            .call(move |s| s.finish_media_job(id, &saved))
            .await;
        let kind = job.item_kind.clone();
        match (finished, outcome) {
            (Ok(true), MediaOutcome::Ready { path, mime, note }) => {
                self.rt.emit(EngineEvent::MediaReady {
                    account_id: job.account_id,
                    peer_id: job.peer_id,
                    message_row_id: id,
                    path: self.data.root().join(path).to_string_lossy().into_owned(),
                    kind,
                    mime,
                    note,
                });
            }
            (Ok(true), MediaOutcome::Failed { failure, reason }) => {
                tracing::warn!(error = %reason, "media download failed");
                self.rt.emit(EngineEvent::MediaFailed {
                    account_id: job.account_id,
                    peer_id: job.peer_id,
                    message_row_id: id,
                    kind,
                    failure,
                    reason,
                });
            }
            (Ok(false), MediaOutcome::Ready { path, .. }) => {
                // The account went away meanwhile: the file belongs to nobody.
                let _ = tokio::fs::remove_file(self.data.root().join(path)).await;
            }
            (Ok(false), MediaOutcome::Failed { .. }) => {}
            (Err(e), _) => tracing::error!(error = %e, "cannot record a media result"),
        }
    }

    /// Downloads, decrypts and files one job's media.
    async fn fetch(&self, job: &MediaJob) -> Result<MediaOutcome, Failure> {
        let raw = job.raw_json.as_deref().unwrap_or_default();
        let message: WeixinMessage = serde_json::from_str(raw)
            .map_err(|_| unavailable("the stored message cannot be read"))?;
        let (kind, item) = chosen_media_item(&message)
            .ok_or_else(|| unavailable("the message has no downloadable media"))?;
        let cdn = self.cdn(job, self.options.max_bytes);
        let id = job.message_row_id;
        // The job's own temporary name: a leading dot marks it as ours (network names
        // are sanitised and never start with one), and a retry truncates it.
        let (staging_rel, file) = self
            .data
            .open_media_temporary(
                &job.account_id,
                job.create_time_ms,
                &format!(".{kind}-{id}.download"),
            )
            .map_err(local_or_retry)?;
        let staging = self.data.root().join(&staging_rel);
        let mut staging_guard = RemoveOnDrop(Some(staging.clone()));
        let mut writer = BudgetedWriter {
            inner: tokio::fs::File::from_std(file),
            budget: self.options.write_budget.clone(),
        };
        download_item_into(&self.client, &cdn, item, &mut writer)
            .await
            .map_err(classify)?;
        writer
            .inner
            .sync_all()
            .await
            .map_err(|e| io_failure("cannot save the download", e))?;
        drop(writer);
        if kind == "voice" {
            let bytes = tokio::fs::read(&staging)
                .await
                .map_err(|e| io_failure("cannot read the download", e))?;
            let encode_type = item.voice_item.as_ref().and_then(|v| v.encode_type);
            let (name, mime, data, note) = match ilink::voice::voice_to_wav(encode_type, bytes) {
                Ok(wav) => (format!("voice-{id}.wav"), ilink::voice::WAV_MIME, wav, None),
                Err(undecoded) => {
                    let mime = undecoded.mime();
                    let ext = match mime {
                        "audio/silk" => "silk",
                        "audio/amr" => "amr",
                        "audio/mpeg" => "mp3",
                        "audio/ogg" => "ogg",
                        "audio/speex" => "spx",
                        _ => "bin",
                    };
                    let note = undecoded.error.to_string();
                    (format!("voice-{id}.{ext}"), mime, undecoded.raw, Some(note))
                }
            };
            let (rel, file) = self.create(job, &name)?;
            let path = self.data.root().join(&rel);
            let mut guard = RemoveOnDrop(Some(path.clone()));
            let mut writer = BudgetedWriter {
                inner: tokio::fs::File::from_std(file),
                budget: self.options.write_budget.clone(),
            };
            let written = async {
                writer.write_all(&data).await?;
                writer.flush().await?;
                writer.inner.sync_all().await
            };
            written
                .await
                .map_err(|e| io_failure("cannot write the voice file", e))?;
            guard.0 = None;
            return Ok(MediaOutcome::Ready {
                path: path_text(&rel),
                mime: mime.to_owned(),
                note,
            });
        }
        let (name, mime) = match kind {
            "image" => {
                let (ext, mime) = sniff_image(&staging).await;
                (format!("image-{id}.{ext}"), mime.to_owned())
            }
            "video" => (format!("video-{id}.mp4"), "video/mp4".to_owned()),
            _ => {
                let name = job
                    .file_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| format!("file-{id}"));
                let mime = crate::media_path::mime_for_name(&name).to_owned();
                (name, mime)
            }
        };
        let (rel, _) = self.create(job, &name)?;
        let path = self.data.root().join(&rel);
        let mut guard = RemoveOnDrop(Some(path.clone()));
        tokio::fs::rename(&staging, &path)
            .await
            .map_err(|e| io_failure("cannot file the download", e))?;
        staging_guard.0 = None;
        guard.0 = None;
        Ok(MediaOutcome::Ready {
            path: path_text(&rel),
            mime,
            note: None,
        })
    }

    /// A video's poster: the picture the server sends with it (`thumb_media`),
    /// downloaded and re-encoded beside the video as its thumbnail, before the video is
    /// announced ready, so the log shows a picture and starts no player until asked.
    /// Best effort: without one the log shows a plain play button.
    async fn fetch_poster(&self, job: &MediaJob, video: &Path) -> Result<(), String> {
        let raw = job.raw_json.as_deref().unwrap_or_default();
        let message: WeixinMessage = serde_json::from_str(raw).map_err(|e| e.to_string())?;
        let Some(thumb) =
            chosen_media_item(&message).and_then(|(_, item)| video_thumbnail_item(item))
        else {
            return Ok(());
        };
        let (staging_rel, file) = self
            .data
            .open_media_temporary(
                &job.account_id,
                job.create_time_ms,
                &format!(".video-{}.poster.download", job.message_row_id),
            )
            .map_err(|e| e.to_string())?;
        let staging = self.data.root().join(staging_rel);
        let _staging_guard = RemoveOnDrop(Some(staging.clone()));
        let mut writer = BudgetedWriter {
            inner: tokio::fs::File::from_std(file),
            budget: self.options.write_budget.clone(),
        };
        let mut cdn = self.cdn(job, POSTER_MAX_BYTES);
        cdn.transfer_timeout = cdn.transfer_timeout.min(POSTER_TIMEOUT);
        download_item_into(&self.client, &cdn, &thumb, &mut writer)
            .await
            .map_err(|e| crate::redact::redact(&e.to_string(), &[]))?;
        drop(writer);
        let target = crate::thumbnail::thumbnail_path(video);
        tokio::task::spawn_blocking(move || crate::thumbnail::make_thumbnail_at(&staging, &target))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Where and how much `job` may download.
    fn cdn(&self, job: &MediaJob, max_download_bytes: u64) -> CdnConfig {
        CdnConfig {
            cdn_base: job
                .cdn_url
                .clone()
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| self.options.default_cdn_base.clone()),
            max_download_bytes,
            transfer_timeout: self.options.transfer_timeout,
            ..CdnConfig::default()
        }
    }

    fn create(&self, job: &MediaJob, name: &str) -> Result<(PathBuf, std::fs::File), Failure> {
        self.data
            .create_media_file(&job.account_id, job.create_time_ms, name)
            .map_err(local_or_retry)
    }
}

enum Failure {
    /// Worth another try, which uses up an attempt.
    Retry(MediaFailure, String),
    /// Hopeless: fails at once.
    Permanent(MediaFailure, String),
    /// This machine's trouble (a full disk, no permission): wait for it to clear, with
    /// no attempt used up.
    Local(String),
}

fn unavailable(reason: &str) -> Failure {
    Failure::Permanent(MediaFailure::Unavailable, reason.to_owned())
}

fn io_failure(what: &str, e: std::io::Error) -> Failure {
    let reason = format!("{what}: {e}");
    if is_local(&e) {
        Failure::Local(reason)
    } else {
        Failure::Retry(MediaFailure::NotSaved, reason)
    }
}

fn local_or_retry(e: CoreError) -> Failure {
    let local = matches!(&e, CoreError::DataDir { source, .. } if is_local(source));
    if local {
        Failure::Local(e.to_string())
    } else {
        Failure::Retry(MediaFailure::NotSaved, e.to_string())
    }
}

/// Network trouble, server errors and a download that is not what the message announced
/// are worth another try; a local write error waits; a bad key, a wrong key, a
/// truncated blob, an oversized file or a 4xx fail at once.
fn classify(e: MediaError) -> Failure {
    // A CDN's `x-error-message` is the server's text: redacted like every other.
    let reason = crate::redact::redact(&e.to_string(), &[]);
    match e {
        MediaError::Io(io) if is_local(&io) => Failure::Local(reason),
        MediaError::Network(_) | MediaError::Io(_) => {
            Failure::Retry(MediaFailure::Unreachable, reason)
        }
        MediaError::NotAsAnnounced(_) => Failure::Retry(MediaFailure::Damaged, reason),
        MediaError::DownloadStatus { status }
            if status >= 500 || status == 408 || status == 429 =>
        {
            Failure::Retry(MediaFailure::Unreachable, reason)
        }
        MediaError::DownloadStatus { .. } => Failure::Permanent(MediaFailure::Gone, reason),
        MediaError::TooLarge { .. } => Failure::Permanent(MediaFailure::TooLarge, reason),
        MediaError::MissingKey
        | MediaError::BadKey(_)
        | MediaError::WrongKey
        | MediaError::BadLength(_) => Failure::Permanent(MediaFailure::Damaged, reason),
        _ => Failure::Permanent(MediaFailure::Unavailable, reason),
    }
}

fn path_text(rel: &Path) -> String {
    rel.to_string_lossy().into_owned()
}

/// The image type from its first bytes (§7.4: sniffed from the content).
async fn sniff_image(path: &Path) -> (&'static str, &'static str) {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 12];
    let mut n = 0;
    if let Ok(mut f) = tokio::fs::File::open(path).await {
        n = f.read(&mut head).await.unwrap_or(0);
    }
    let head = &head[..n];
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        ("png", "image/png")
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        ("jpg", "image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        ("gif", "image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        ("webp", "image/webp")
    } else if head.starts_with(b"BM") {
        ("bmp", "image/bmp")
    } else {
        ("bin", "application/octet-stream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_cap_and_errors_are_classified() {
        let o = MediaOptions::default();
        assert_eq!(o.delay(1), Duration::from_secs(2));
        assert_eq!(o.delay(3), Duration::from_secs(8));
        assert_eq!(o.delay(30), Duration::from_secs(300));
        assert!(matches!(
            classify(MediaError::WrongKey),
            Failure::Permanent(MediaFailure::Damaged, _)
        ));
        assert!(matches!(
            classify(MediaError::DownloadStatus { status: 503 }),
            Failure::Retry(MediaFailure::Unreachable, _)
        ));
        assert!(matches!(
            classify(MediaError::DownloadStatus { status: 404 }),
            Failure::Permanent(MediaFailure::Gone, _)
        ));
        assert!(matches!(
            classify(MediaError::TooLarge { limit: 1 }),
            Failure::Permanent(MediaFailure::TooLarge, _)
        ));
        assert!(matches!(
            classify(MediaError::NotAsAnnounced("cut".into())),
            Failure::Retry(MediaFailure::Damaged, _)
        ));
        assert!(matches!(
            classify(MediaError::Io(std::io::ErrorKind::StorageFull.into())),
            Failure::Local(_)
        ));
        assert!(matches!(
            classify(MediaError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Failure::Retry(MediaFailure::Unreachable, _)
        ));
        assert_eq!(
            crate::media_path::mime_for_name("Report.PDF"),
            "application/pdf"
        );
        assert_eq!(
            crate::media_path::mime_for_name("noext"),
            "application/octet-stream"
        );
    }
}
