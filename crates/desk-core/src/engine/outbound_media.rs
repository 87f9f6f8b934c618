//! Outbound files: staged into the data directory before the outbox row is written (so
//! the send survives the original being moved or deleted, and a restart), routed to an
//! image, video or file item by name and content (docs/protocol.md §7.6), uploaded to the CDN
//! with progress, and the finished upload kept on the outbox row so a retry or restart
//! does not upload twice.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ilink::crypto;
use ilink::media::{route_media, OutboundKind, UploadedMedia};
use serde_json::{json, Value};

use super::EngineError;
use crate::DataDir;

/// Largest file sent by default: 100 MiB, the same cap the CDN download side uses.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// A file copied into the data directory, ready to be queued.
pub(crate) struct StagedFile {
    /// Relative to the data directory.
    pub relative: PathBuf,
    /// The sanitised original name, shown in the log and sent on FILE items.
    pub file_name: String,
    pub kind: OutboundKind,
    pub mime: String,
    pub size: u64,
}

pub(crate) fn kind_name(kind: OutboundKind) -> &'static str {
    match kind {
        OutboundKind::Image => "image",
        OutboundKind::Video => "video",
        OutboundKind::File => "file",
    }
}

fn kind_from_name(name: &str) -> Option<OutboundKind> {
    match name {
        "image" => Some(OutboundKind::Image),
        "video" => Some(OutboundKind::Video),
        "file" => Some(OutboundKind::File),
        _ => None,
    }
}

/// Checks `source` (a regular, non-empty file within `max_bytes`) and copies it into
/// `media/<account>/<yyyy-mm>/` under its sanitised name. Blocking; run it off the
/// async workers. The copy is synced to disk before it is returned.
pub(crate) fn stage_file(
    data: &DataDir,
    account_id: &str,
    now_ms: i64,
    source: &Path,
    max_bytes: u64,
) -> Result<StagedFile, EngineError> {
    let unreadable = |e: std::io::Error| EngineError::FileUnreadable {
        path: source.display().to_string(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(source).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(EngineError::FileUnreadable {
            path: source.display().to_string(),
            reason: "not a regular file".to_owned(),
        });
    }
    if meta.len() == 0 {
        return Err(EngineError::EmptyFile(source.display().to_string()));
    }
    if meta.len() > max_bytes {
        return Err(EngineError::FileTooLarge {
            size: meta.len(),
            limit: max_bytes,
        });
    }
    let original = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file_name = crate::media_path::sanitize_file_name(&original);
    let mut input = std::fs::File::open(source).map_err(unreadable)?;
    let mut head = vec![0u8; 8192];
    let head_len = read_up_to(&mut input, &mut head).map_err(unreadable)?;
    head.truncate(head_len);
    let routed = route_media(&file_name, &head);
    let (relative, mut output) = data.create_media_file(account_id, now_ms, &file_name)?;
    let absolute = data.root().join(&relative);
    let copied = (|| -> std::io::Result<u64> {
        output.write_all(&head)?;
        // Capped while copying too: the file may have grown since it was measured.
        let rest = std::io::copy(&mut (&mut input).take(max_bytes + 1), &mut output)?;
        output.sync_all()?;
        Ok(head.len() as u64 + rest)
    })();
    let size = match copied {
        Ok(size) if size <= max_bytes => size,
        Ok(size) => {
            let _ = std::fs::remove_file(&absolute);
            return Err(EngineError::FileTooLarge {
                size,
                limit: max_bytes,
            });
        }
        Err(e) => {
            let _ = std::fs::remove_file(&absolute);
            return Err(unreadable(e));
        }
    };
    Ok(StagedFile {
        relative,
        file_name,
        kind: routed.kind,
        mime: routed.mime,
        size,
    })
}

fn read_up_to(input: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The outbox payload of a staged file.
pub(crate) fn payload(staged: &StagedFile, caption: Option<&str>) -> Value {
    json!({
        "path": staged.relative.to_string_lossy(),
        "file_name": staged.file_name,
        "mime": staged.mime,
        "size": staged.size,
        "caption": caption,
    })
}

/// A finished upload as kept on the outbox row.
pub(crate) fn upload_to_json(uploaded: &UploadedMedia) -> Value {
    json!({
        "kind": kind_name(uploaded.kind),
        "download_param": uploaded.download_param,
        "key_hex": crypto::key_hex(&uploaded.key),
        "rawsize": uploaded.rawsize,
        "filesize": uploaded.filesize,
        "md5_hex": uploaded.md5_hex,
        "file_name": uploaded.file_name,
    })
}

pub(crate) fn upload_from_json(value: &Value) -> Option<UploadedMedia> {
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let number = |name: &str| value.get(name).and_then(Value::as_u64);
    Some(UploadedMedia {
        kind: kind_from_name(value.get("kind")?.as_str()?)?,
        download_param: text("download_param")?,
        key: crypto::parse_hex_key(&text("key_hex")?).ok()?,
        rawsize: number("rawsize")?,
        filesize: number("filesize")?,
        md5_hex: text("md5_hex")?,
        file_name: text("file_name")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_round_trips_through_json() {
        let uploaded = UploadedMedia {
            kind: OutboundKind::Video,
            download_param: "a+b/c=".into(),
            key: [7; 16],
            rawsize: 10,
            filesize: 16,
            md5_hex: "00ff".into(),
            file_name: "clip.mp4".into(),
        };
        assert_eq!(upload_from_json(&upload_to_json(&uploaded)), Some(uploaded));
        assert_eq!(upload_from_json(&json!({"kind": "sticker"})), None);
    }

    #[test]
    fn staging_refuses_empty_oversized_and_non_files_and_sanitises_the_name() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::at(tmp.path().join("data")).unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let empty = src.join("empty.txt");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            stage_file(&data, "acc", 0, &empty, 100),
            Err(EngineError::EmptyFile(_))
        ));
        let big = src.join("big.bin");
        std::fs::write(&big, [1u8; 101]).unwrap();
        assert!(matches!(
            stage_file(&data, "acc", 0, &big, 100),
            Err(EngineError::FileTooLarge {
                size: 101,
                limit: 100
            })
        ));
        assert!(matches!(
            stage_file(&data, "acc", 0, &src, 100),
            Err(EngineError::FileUnreadable { .. })
        ));
        // Nothing was left behind by the refusals.
        assert!(!data.root().join("media").exists());

        let hostile = src.join("..\u{202e}gpj.exe");
        std::fs::write(&hostile, b"hello").unwrap();
        let staged = stage_file(&data, "acc", 0, &hostile, 100).unwrap();
        assert_eq!(staged.file_name, "gpj.exe");
        assert_eq!(staged.kind, OutboundKind::File);
        assert_eq!(staged.size, 5);
        assert!(staged.relative.starts_with("media/acc/1970-01"));
        assert_eq!(
            std::fs::read(data.root().join(&staged.relative)).unwrap(),
            b"hello"
        );
    }
}
