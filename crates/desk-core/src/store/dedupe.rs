//! Expiry of inbound dedupe keys.

use std::time::Duration;

use crate::{CoreError, Store};

/// Keys are kept at least this long. The server redelivers within seconds and again
/// 30–50 minutes later after long stalls (docs/protocol.md §4 item 6); the fork keeps 24 h, we
/// keep twice that for a machine that slept through a redelivery.
pub const MIN_DEDUPE_RETENTION: Duration = Duration::from_secs(48 * 3600);

impl Store {
    /// Deletes dedupe keys first seen more than `keep` before `now_ms`; `keep` is raised to
    /// [`MIN_DEDUPE_RETENTION`] if shorter. Returns how many were deleted.
    pub fn prune_dedupe(&self, now_ms: i64, keep: Duration) -> Result<usize, CoreError> {
        let keep_ms = i64::try_from(keep.max(MIN_DEDUPE_RETENTION).as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms.saturating_sub(keep_ms);
        Ok(self
            .conn()
            .execute("DELETE FROM dedupe_keys WHERE seen_at_ms < ?1", [cutoff])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::accounts::tests::sample;

    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn prunes_only_keys_older_than_48_hours_at_least() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        for (key, seen) in [("old", 0), ("edge", HOUR_MS), ("young", 40 * HOUR_MS)] {
            store
                .conn()
                .execute(
                    "INSERT INTO dedupe_keys (account_id, key, seen_at_ms) VALUES ('acc', ?1, ?2)",
                    rusqlite::params![key, seen],
                )
                .unwrap();
        }
        let now = 49 * HOUR_MS;
        // Asking for one hour still keeps 48.
        assert_eq!(
            store.prune_dedupe(now, Duration::from_secs(3600)).unwrap(),
            1
        );
        let left: Vec<String> = store
            .conn()
            .prepare("SELECT key FROM dedupe_keys ORDER BY key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(left, ["edge", "young"]);
        // A longer retention is honoured.
        assert_eq!(
            store
                .prune_dedupe(now, Duration::from_secs(72 * 3600))
                .unwrap(),
            0
        );
    }
}
