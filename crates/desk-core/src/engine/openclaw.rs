//! The engine's side of moving accounts over from the OpenClaw Weixin plugin
//! ([`crate::openclaw_import`]): the import runs against the engine's store and secret
//! store, then each imported account starts like one that logged in.

use std::sync::Arc;

use super::{Engine, EngineError};
use crate::openclaw_import::{self, ImportOutcome, OpenClawScan, StateFolder};
use crate::Locale;

impl Engine {
    /// What the plugin's state folder holds, and whether its gateway seems to run; why
    /// an account cannot come over is said in `locale`.
    pub async fn scan_openclaw(
        &self,
        folder: StateFolder,
        locale: Locale,
    ) -> Result<OpenClawScan, EngineError> {
        self.rt
            .store
            .call(move |s| openclaw_import::scan(&folder, s, locale))
            .await
    }

    /// Imports the accounts `ids` (each whole or not at all) and starts those that came
    /// over. The caller has said [`openclaw_import::ONE_POLLER_WARNING`] first.
    pub async fn import_openclaw(
        &self,
        folder: StateFolder,
        ids: Vec<String>,
        locale: Locale,
    ) -> Result<Vec<ImportOutcome>, EngineError> {
        let secrets = Arc::clone(&self.rt.secrets);
        let now = self.rt.now_ms();
        // The secret store is written with the store held, so that the token and the
        // rows land together; an import is rare and its accounts are not running yet.
        let outcomes = self
            .rt
            .store
            .call(move |s| {
                Ok(openclaw_import::import(
                    &folder, &ids, s, &*secrets, now, locale,
                ))
            })
            .await?;
        for done in outcomes.iter().filter(|o| o.imported) {
            tracing::info!(account_id = done.account_id, "imported from OpenClaw");
            if let Err(e) = self.accounts.start(&done.account_id).await {
                tracing::warn!(account_id = done.account_id, error = %e, "cannot start an imported account");
            }
        }
        Ok(outcomes)
    }
}
