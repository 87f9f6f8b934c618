//! Retiring and removing accounts: tasks stopped, token deleted from the secret store,
//! rows and media files deleted or the log kept.

use std::sync::Arc;

use super::manager::AccountManager;
use super::shared::Runtime;
use super::{EngineError, OutboxState};
use crate::events::EngineEvent;
use crate::secrets::SecretKey;
use crate::store::ACCOUNT_GONE;

async fn delete_token(rt: &Runtime, account_id: &str) -> Result<(), EngineError> {
    let secrets = Arc::clone(&rt.secrets);
    let key = SecretKey::bot_token(account_id);
    tokio::task::spawn_blocking(move || secrets.delete(&key))
        .await
        .map_err(|_| EngineError::TaskFailed)??;
    Ok(())
}

/// Stops the account, deletes its token and marks it `status` (disabled), keeping its
/// log. False if there is no such account.
pub(crate) async fn retire(
    rt: &Runtime,
    accounts: &AccountManager,
    account_id: &str,
    status: &'static str,
) -> Result<bool, EngineError> {
    let id = account_id.to_owned();
    if rt.store.call(move |s| s.account(&id)).await?.is_none() {
        return Ok(false);
    }
    accounts.stop(account_id).await;
    delete_token(rt, account_id).await?;
    let (id, now) = (account_id.to_owned(), rt.now_ms());
    let failed = rt
        .store
        .call(move |s| s.retire_account(&id, status, now))
        .await?;
    let Some(failed) = failed else {
        return Ok(false);
    };
    if status == crate::store::STATUS_REMOVED {
        let id = account_id.to_owned();
        rt.store.call(move |s| s.cancel_media_jobs(&id)).await?;
    }
    for outbox_id in failed {
        if let Ok(Some(entry)) = rt.store.call(move |s| s.outbox_entry(outbox_id)).await {
            rt.emit(EngineEvent::DeliveryUpdated {
                outbox_id,
                account_id: entry.account_id,
                peer_id: entry.peer_id,
                message_row_id: entry.message_row_id,
                state: OutboxState::Failed,
                error: Some(ACCOUNT_GONE.to_owned()),
            });
        }
    }
    Ok(true)
}

/// Stops the account, deletes its token, then its rows (everything, by cascade) and its
/// media folder. False if there is no such account.
pub(crate) async fn delete(
    rt: &Runtime,
    accounts: &AccountManager,
    account_id: &str,
) -> Result<bool, EngineError> {
    let id = account_id.to_owned();
    if rt.store.call(move |s| s.account(&id)).await?.is_none() {
        return Ok(false);
    }
    accounts.stop(account_id).await;
    delete_token(rt, account_id).await?;
    let id = account_id.to_owned();
    let deleted = rt.store.call(move |s| s.delete_account(&id)).await?;
    if let Some(root) = rt.media_root.as_ref() {
        let dir = root
            .join("media")
            .join(crate::media_path::sanitize_file_name(account_id));
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(account_id, error = %e, "cannot delete the media folder");
            }
        }
    }
    Ok(deleted)
}
