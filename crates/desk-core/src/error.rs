use std::path::PathBuf;

/// Every way the engine can fail, named so callers can react without parsing strings.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no data directory could be found for this user; pass one explicitly")]
    NoDataDir,
    #[error("the database failed its integrity check: {0}")]
    Integrity(String),
    #[error("the database was written by a newer version of Weixin Desk (schema {found}, this build knows {known})")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("unsupported language {0:?}; use \"zh-CN\" or \"en\"")]
    UnknownLocale(String),
    #[error("account {account_id} has no peer {peer_id:?} (a peer is known once it wrote)")]
    UnknownPeer { account_id: String, peer_id: String },
    #[error("a peer's name may have at most {max} characters")]
    PeerNameTooLong { max: usize },
    #[error("a peer's note may have at most {max} characters")]
    PeerNoteTooLong { max: usize },
}
