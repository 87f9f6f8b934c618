//! The preferences live in the store (`desk_core::prefs`), shared with the CLI. Earlier
//! versions kept them in `ui-prefs.json` in the data folder: that file is imported once,
//! then renamed so it is never read again.

use std::path::Path;

use desk_core::prefs::Prefs;
use desk_core::Store;

const LEGACY_FILE: &str = "ui-prefs.json";

/// Moves `ui-prefs.json` into the store if the store has no preferences yet.
pub fn import_legacy(dir: &Path, store: &Store) {
    let path = dir.join(LEGACY_FILE);
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    if store.has_prefs().unwrap_or(true) {
        return;
    }
    let legacy: Prefs = match serde_json::from_slice(&bytes) {
        Ok(prefs) => prefs,
        Err(err) => {
            tracing::warn!(%err, path = %path.display(), "unreadable old preferences; not imported");
            return;
        }
    };
    match store.update_prefs(|p| *p = legacy) {
        Ok(_) => {
            if let Err(err) = std::fs::rename(&path, path.with_extension("json.imported")) {
                tracing::warn!(%err, "old preferences imported but not renamed");
            }
        }
        Err(err) => tracing::warn!(%err, "old preferences not imported"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_file_is_imported_once_then_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_memory().unwrap();
        let file = dir.path().join(LEGACY_FILE);
        std::fs::write(
            &file,
            br#"{"doNotDisturb": true, "muted": [["acc", "p@im.wechat"]],
                "backend": {"routeTag": "shard-7"}}"#,
        )
        .unwrap();
        import_legacy(dir.path(), &store);
        let prefs = store.prefs().unwrap();
        assert!(prefs.do_not_disturb && prefs.is_muted("acc", "P@im.wechat"));
        assert_eq!(prefs.backend.route_tag.as_deref(), Some("shard-7"));
        assert!(!file.exists());
        assert!(dir.path().join("ui-prefs.json.imported").exists());

        // A later file never overwrites what the store holds.
        std::fs::write(&file, br#"{"doNotDisturb": false}"#).unwrap();
        import_legacy(dir.path(), &store);
        assert!(store.prefs().unwrap().do_not_disturb);
    }
}
