//! The one place that turns a failure into what a person is told: a [`Problem`] kind,
//! whose sentence (what happened, what to do) lives in the translation catalogs under
//! `problem.<kind>`. The technical text stays available as the details.

use std::io;

use ilink::qr_login::QrLoginFailure;
use ilink::{IlinkError, NetworkKind};
use serde::{Deserialize, Serialize};

use crate::ai::client::ProviderError;
use crate::ai::sse::SseError;
use crate::secrets::SecretError;
use crate::{CoreError, EngineError, Locale};

/// A failure a person can act on, named by what they would do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The server could not be reached at all (no route, refused, connection broke).
    NoNetwork,
    /// The server's name could not be looked up.
    Dns,
    /// The secure connection could not be set up (certificate, proxy, clock).
    Tls,
    /// The server did not answer in time.
    Timeout,
    /// The server answered with a 5xx status.
    ServerDown,
    /// The account's login expired or was used elsewhere: scan again.
    StaleToken,
    /// The system keyring is missing, locked or refused access.
    KeyringUnavailable,
    /// The disk (or the data folder's quota) is full.
    DiskFull,
    /// The file is larger than can be sent.
    FileTooLarge,
    /// The AI provider refused the API key.
    ProviderAuth,
    /// The AI provider's quota or rate limit is used up.
    ProviderQuota,
    /// The AI provider did not answer in time.
    ProviderTimeout,
    /// The AI provider could not be reached at its address (refused, no route, the
    /// connection broke).
    ProviderUnreachable,
    /// A failure with no advice of its own: the details say what it was.
    Other,
}

impl Problem {
    pub const ALL: [Problem; 14] = [
        Problem::NoNetwork,
        Problem::Dns,
        Problem::Tls,
        Problem::Timeout,
        Problem::ServerDown,
        Problem::StaleToken,
        Problem::KeyringUnavailable,
        Problem::DiskFull,
        Problem::FileTooLarge,
        Problem::ProviderAuth,
        Problem::ProviderQuota,
        Problem::ProviderTimeout,
        Problem::ProviderUnreachable,
        Problem::Other,
    ];

    /// The catalog key of its sentence.
    pub fn key(self) -> &'static str {
        match self {
            Problem::NoNetwork => "problem.no_network",
            Problem::Dns => "problem.dns",
            Problem::Tls => "problem.tls",
            Problem::Timeout => "problem.timeout",
            Problem::ServerDown => "problem.server_down",
            Problem::StaleToken => "problem.stale_token",
            Problem::KeyringUnavailable => "problem.keyring_unavailable",
            Problem::DiskFull => "problem.disk_full",
            Problem::FileTooLarge => "problem.file_too_large",
            Problem::ProviderAuth => "problem.provider_auth",
            Problem::ProviderQuota => "problem.provider_quota",
            Problem::ProviderTimeout => "problem.provider_timeout",
            Problem::ProviderUnreachable => "problem.provider_unreachable",
            Problem::Other => "problem.other",
        }
    }

    /// The sentence in `locale`.
    pub fn sentence(self, locale: Locale) -> String {
        crate::catalog::text(locale, self.key())
    }

    /// An iLink call's failure. `None` for refusals that carry their own meaning
    /// (a closed reply window, an invalid request) or a cancellation.
    pub fn of_ilink(err: &IlinkError) -> Option<Problem> {
        Some(match err {
            IlinkError::StaleToken => Problem::StaleToken,
            IlinkError::Timeout => Problem::Timeout,
            IlinkError::Network { kind, .. } => match kind {
                NetworkKind::Dns => Problem::Dns,
                NetworkKind::Tls => Problem::Tls,
                NetworkKind::Tcp | NetworkKind::Unknown => Problem::NoNetwork,
            },
            IlinkError::HttpStatus { status, .. } if (500..=599).contains(status) => {
                Problem::ServerDown
            }
            IlinkError::ServerError { ret, errcode, .. }
                if *ret == Some(-14) || *errcode == Some(-14) =>
            {
                Problem::StaleToken
            }
            IlinkError::HttpStatus { .. }
            | IlinkError::ServerError { .. }
            | IlinkError::Decode { .. }
            | IlinkError::Config { .. } => Problem::Other,
            IlinkError::WindowClosedOrRateLimited { .. }
            | IlinkError::InvalidArguments { .. }
            | IlinkError::Cancelled => return None,
        })
    }

    /// A local file or disk failure: only a full disk or an oversized file has advice.
    pub fn of_io(err: &io::Error) -> Option<Problem> {
        const ENOSPC: i32 = 28;
        const EFBIG: i32 = 27;
        const EDQUOT: i32 = 122;
        match (err.kind(), err.raw_os_error()) {
            (io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded, _) => {
                Some(Problem::DiskFull)
            }
            (_, Some(ENOSPC | EDQUOT)) => Some(Problem::DiskFull),
            (io::ErrorKind::FileTooLarge, _) | (_, Some(EFBIG)) => Some(Problem::FileTooLarge),
            _ => None,
        }
    }

    /// The keyring cannot be relied on. The secrets file's own failures (wrong key,
    /// damaged file, key file not private) and odd stored values keep their words: they
    /// say exactly what to fix.
    pub fn of_secret(err: &SecretError) -> Option<Problem> {
        match err {
            SecretError::Unavailable(_) | SecretError::Backend(_) | SecretError::TimedOut(_) => {
                Some(Problem::KeyringUnavailable)
            }
            _ => None,
        }
    }

    /// An AI provider's failure.
    pub fn of_provider(err: &ProviderError) -> Problem {
        match err {
            ProviderError::Auth(_) => Problem::ProviderAuth,
            ProviderError::Status { status, .. } => match status {
                401 | 403 => Problem::ProviderAuth,
                402 | 429 => Problem::ProviderQuota,
                408 | 504 => Problem::ProviderTimeout,
                _ => Problem::Other,
            },
            ProviderError::NoAnswer(_) | ProviderError::Stalled(_) => Problem::ProviderTimeout,
            // Not `NoNetwork`: its sentence is about WeChat's server.
            ProviderError::Network(_) => Problem::ProviderUnreachable,
            ProviderError::Stream(SseError::Provider(text)) if mentions_quota(text) => {
                Problem::ProviderQuota
            }
            ProviderError::Stream(_) | ProviderError::EndedEarly => Problem::Other,
        }
    }

    /// The store's failures: a full disk has advice, the rest are reported as they are.
    pub fn of_core(err: &CoreError) -> Option<Problem> {
        match err {
            CoreError::DataDir { source, .. } => Problem::of_io(source),
            CoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DiskFull =>
            {
                Some(Problem::DiskFull)
            }
            _ => None,
        }
    }

    /// The engine's failures. Mistakes in the request (an empty message, an unknown
    /// account) keep their own words: `None`.
    pub fn of_engine(err: &EngineError) -> Option<Problem> {
        match err {
            EngineError::Store(core) => Problem::of_core(core),
            EngineError::Secret(secret) => Problem::of_secret(secret),
            EngineError::Client(ilink) => Problem::of_ilink(ilink),
            EngineError::MissingToken(_) => Some(Problem::StaleToken),
            EngineError::FileTooLarge { .. } => Some(Problem::FileTooLarge),
            _ => None,
        }
    }

    /// Why a QR login ended without an account.
    pub fn of_login(failure: &QrLoginFailure) -> Option<Problem> {
        match failure {
            QrLoginFailure::QrFetch(err) => Problem::of_ilink(err),
            QrLoginFailure::Refused { ret, errcode, .. }
                if *ret == Some(-14) || *errcode == Some(-14) =>
            {
                Some(Problem::StaleToken)
            }
            _ => None,
        }
    }
}

/// Providers that answer a quota failure inside the stream name it in words.
fn mentions_quota(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "quota",
        "rate limit",
        "rate_limit",
        "insufficient_balance",
        "billing",
    ]
    .iter()
    .any(|word| text.contains(word))
}

/// The sentence first, then the technical text: how a terminal shows a failure.
pub fn explain(problem: Option<Problem>, locale: Locale, details: &str) -> String {
    match problem {
        Some(problem) => format!("{}\n  ({details})", problem.sentence(locale)),
        None => details.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A real transport failure: a request to a loopback port nobody listens on.
    async fn refused() -> IlinkError {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let config = ilink::ClientConfig {
            api_base: format!("http://127.0.0.1:{port}"),
            ..ilink::ClientConfig::default()
        };
        let client = ilink::Client::new(config, None).unwrap();
        client.get_bot_qrcode(&[]).await.unwrap_err()
    }

    #[tokio::test]
    async fn a_refused_connection_reads_as_no_network() {
        let err = refused().await;
        assert_eq!(Problem::of_ilink(&err), Some(Problem::NoNetwork), "{err}");
        let failure = QrLoginFailure::QrFetch(err);
        assert_eq!(Problem::of_login(&failure), Some(Problem::NoNetwork));
    }

    #[test]
    fn transport_layers_map_to_their_own_problem() {
        let net = |kind| IlinkError::Network {
            kind,
            message: "x".into(),
        };
        assert_eq!(
            Problem::of_ilink(&net(NetworkKind::Dns)),
            Some(Problem::Dns)
        );
        assert_eq!(
            Problem::of_ilink(&net(NetworkKind::Tls)),
            Some(Problem::Tls)
        );
        assert_eq!(
            Problem::of_ilink(&IlinkError::Timeout),
            Some(Problem::Timeout)
        );
        let status = |status| IlinkError::HttpStatus {
            status,
            body: String::new(),
        };
        assert_eq!(Problem::of_ilink(&status(503)), Some(Problem::ServerDown));
        assert_eq!(Problem::of_ilink(&status(404)), Some(Problem::Other));
        assert_eq!(
            Problem::of_ilink(&IlinkError::StaleToken),
            Some(Problem::StaleToken)
        );
        let window = IlinkError::WindowClosedOrRateLimited {
            errmsg: String::new(),
        };
        assert_eq!(Problem::of_ilink(&window), None);
    }

    #[test]
    fn a_full_disk_is_recognised_by_kind_and_by_errno() {
        assert_eq!(
            Problem::of_io(&io::Error::from_raw_os_error(28)),
            Some(Problem::DiskFull)
        );
        assert_eq!(
            Problem::of_io(&io::Error::from(io::ErrorKind::StorageFull)),
            Some(Problem::DiskFull)
        );
        assert_eq!(
            Problem::of_io(&io::Error::from_raw_os_error(27)),
            Some(Problem::FileTooLarge)
        );
        assert_eq!(Problem::of_io(&io::Error::from_raw_os_error(13)), None);
        let sqlite = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        assert_eq!(
            Problem::of_core(&CoreError::Sqlite(sqlite)),
            Some(Problem::DiskFull)
        );
    }

    #[test]
    fn keyring_and_engine_failures() {
        let locked = SecretError::Unavailable("SS error: result not returned from SS API".into());
        assert_eq!(
            Problem::of_secret(&locked),
            Some(Problem::KeyringUnavailable)
        );
        assert_eq!(
            Problem::of_secret(&SecretError::WrongKey("passphrase".into())),
            None
        );
        assert_eq!(
            Problem::of_engine(&EngineError::Secret(locked)),
            Some(Problem::KeyringUnavailable)
        );
        assert_eq!(
            Problem::of_engine(&EngineError::FileTooLarge { size: 2, limit: 1 }),
            Some(Problem::FileTooLarge)
        );
        assert_eq!(
            Problem::of_engine(&EngineError::MissingToken("a".into())),
            Some(Problem::StaleToken)
        );
        assert_eq!(Problem::of_engine(&EngineError::EmptyMessage), None);
    }

    #[test]
    fn provider_failures() {
        assert_eq!(
            Problem::of_provider(&ProviderError::Auth(401)),
            Problem::ProviderAuth
        );
        let status = |status| ProviderError::Status {
            status,
            message: "x".into(),
        };
        assert_eq!(Problem::of_provider(&status(429)), Problem::ProviderQuota);
        assert_eq!(Problem::of_provider(&status(403)), Problem::ProviderAuth);
        assert_eq!(
            Problem::of_provider(&ProviderError::NoAnswer(Duration::from_secs(30))),
            Problem::ProviderTimeout
        );
        assert_eq!(
            Problem::of_provider(&ProviderError::Network("connection refused".into())),
            Problem::ProviderUnreachable
        );
        let quota =
            ProviderError::Stream(SseError::Provider("You exceeded your current quota".into()));
        assert_eq!(Problem::of_provider(&quota), Problem::ProviderQuota);
    }

    #[test]
    fn every_problem_has_a_sentence_in_both_languages() {
        for problem in Problem::ALL {
            let (en, zh) = (problem.sentence(Locale::En), problem.sentence(Locale::ZhCn));
            assert_ne!(en, problem.key(), "{problem:?} has no English sentence");
            assert_ne!(zh, problem.key(), "{problem:?} has no Chinese sentence");
            assert_ne!(en, zh, "{problem:?} is not translated");
        }
    }

    #[test]
    fn a_terminal_reads_the_sentence_first() {
        let text = explain(
            Some(Problem::NoNetwork),
            Locale::En,
            "tcp network error: refused",
        );
        assert!(text.starts_with("Can't reach"), "{text}");
        assert!(text.ends_with("(tcp network error: refused)"));
        assert_eq!(explain(None, Locale::En, "plain"), "plain");
    }
}
