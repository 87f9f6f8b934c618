//! The engine's WAL checkpoints run beside the writer, not inside its commits: the
//! engine's connection has automatic checkpoints off, and the background checkpointer
//! keeps the WAL from growing round after round (a WAL is reused from its start only
//! after a checkpoint has copied it back).

use std::sync::Arc;
use std::time::Duration;

use desk_core::engine::{Engine, EngineConfig};
use desk_core::secrets::MemoryStore;
use desk_core::store::AccountUpsert;
use desk_core::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_checkpointed_in_the_background_and_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let wal = dir.path().join("db.sqlite3-wal");
    let store = Store::open(&db).unwrap();
    store
        .upsert_account(
            &AccountUpsert {
                account_id: "acc".into(),
                bot_id: "acc@im.bot".into(),
                base_url: "http://127.0.0.1:9/".into(),
                alias: None,
                user_id: None,
                cdn_url: None,
                route_tag: None,
            },
            1,
        )
        .unwrap();
    let engine = Engine::new(store, Arc::new(MemoryStore::new()), EngineConfig::default());
    let auto: i64 = engine
        .store()
        .call(|s| s.pragma_i64("wal_autocheckpoint"))
        .await
        .unwrap();
    assert_eq!(auto, 0, "no checkpoint inside the engine's commits");

    let mut sizes = Vec::new();
    for round in 0..4 {
        // Queued only (the account is not running): each is a transaction of its own.
        for n in 0..150 {
            engine
                .send_text(
                    "acc",
                    "peer@im.wechat",
                    &format!("round {round} message {n} ").repeat(20),
                )
                .await
                .unwrap();
        }
        sizes.push(std::fs::metadata(&wal).unwrap().len());
        // Past the checkpointer's settle time.
        tokio::time::sleep(Duration::from_millis(1_600)).await;
    }
    // Without checkpoints the WAL would hold all four rounds (about 4× the first).
    assert!(sizes[3] < sizes[0] * 2, "WAL sizes per round: {sizes:?}");
    drop(engine);
}
