//! The one error that crosses IPC: `{code, message, details?, problem?}`.

use desk_core::{CoreError, EngineError, Problem};
use serde::Serialize;

/// Stable, machine-readable error codes the UI can switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request itself was wrong (an unknown language, a bad id).
    InvalidArgument,
    /// The database or the data folder failed.
    Storage,
    /// Something the app did not expect; the message says what.
    Internal,
    /// The engine is still starting (or could not start; the message says why).
    NotReady,
    /// The feature is not in this build yet.
    NotAvailable,
    /// No such account, conversation, message or login.
    NotFound,
    /// The keyring failed, or a bot token is missing (log in again).
    Secrets,
    /// The iLink server or the network failed.
    Network,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct IpcError {
    pub code: ErrorCode,
    /// A sentence a person can read.
    pub message: String,
    /// Extra context for logs and bug reports, when there is any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[specta(optional)]
    pub details: Option<String>,
    /// What kind of failure it is, when a person can be told what to do about it; the
    /// window shows its sentence and keeps `message` as the details.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[specta(optional)]
    pub problem: Option<Problem>,
}

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> IpcError {
        IpcError {
            code,
            message: message.into(),
            details: None,
            problem: None,
        }
    }

    pub fn with_problem(mut self, problem: Option<Problem>) -> IpcError {
        self.problem = problem;
        self
    }

    pub fn with_details(mut self, details: impl Into<String>) -> IpcError {
        self.details = Some(details.into());
        self
    }
}

impl From<CoreError> for IpcError {
    fn from(err: CoreError) -> IpcError {
        let message = err.to_string();
        IpcError::from_core(&err, message)
    }
}

fn core_code(err: &CoreError) -> ErrorCode {
    match err {
        CoreError::UnknownLocale(_)
        | CoreError::PeerNameTooLong { .. }
        | CoreError::PeerNoteTooLong { .. } => ErrorCode::InvalidArgument,
        CoreError::UnknownPeer { .. } => ErrorCode::NotFound,
        CoreError::DataDir { .. }
        | CoreError::NoDataDir
        | CoreError::Integrity(_)
        | CoreError::SchemaTooNew { .. }
        | CoreError::Sqlite(_) => ErrorCode::Storage,
    }
}

impl From<EngineError> for IpcError {
    fn from(err: EngineError) -> IpcError {
        let code = match &err {
            EngineError::Store(core) => return IpcError::from_core(core, err.to_string()),
            EngineError::Secret(_) | EngineError::MissingToken(_) => ErrorCode::Secrets,
            EngineError::Client(_) => ErrorCode::Network,
            EngineError::UnknownAccount(_) | EngineError::NotScheduled(_) => ErrorCode::NotFound,
            EngineError::EmptyMessage
            | EngineError::DueInPast
            | EngineError::NoLongerScheduled(_)
            | EngineError::FileUnreadable { .. }
            | EngineError::EmptyFile(_)
            | EngineError::FileTooLarge { .. } => ErrorCode::InvalidArgument,
            // New engine errors read as internal until they get a code of their own.
            #[allow(unreachable_patterns)]
            _ => ErrorCode::Internal,
        };
        let details = std::error::Error::source(&err).map(ToString::to_string);
        let problem = Problem::of_engine(&err);
        if problem.is_some() {
            // The window shows the sentence; the technical text goes to the log too.
            tracing::warn!(?problem, error = %err, "a command failed");
        }
        IpcError {
            code,
            message: err.to_string(),
            details,
            problem,
        }
    }
}

impl IpcError {
    fn from_core(core: &CoreError, message: String) -> IpcError {
        let mut err = IpcError::new(core_code(core), message).with_problem(Problem::of_core(core));
        err.details = std::error::Error::source(core).map(ToString::to_string);
        err
    }

    pub fn not_available(what: &str) -> IpcError {
        IpcError::new(
            ErrorCode::NotAvailable,
            format!("{what} is not available in this version yet"),
        )
    }

    pub fn not_found(what: impl Into<String>) -> IpcError {
        IpcError::new(ErrorCode::NotFound, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_without_details() {
        let err = IpcError::new(ErrorCode::InvalidArgument, "bad");
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            json!({"code": "invalid_argument", "message": "bad"})
        );
    }

    #[test]
    fn serialises_with_details() {
        let err = IpcError::new(ErrorCode::Internal, "boom").with_details("at step 2");
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            json!({"code": "internal", "message": "boom", "details": "at step 2"})
        );
    }

    #[test]
    fn engine_errors_carry_their_problem() {
        let locked = desk_core::secrets::SecretError::Unavailable("SS error".into());
        let err: IpcError = EngineError::Secret(locked).into();
        assert_eq!(err.problem, Some(Problem::KeyringUnavailable));
        assert_eq!(
            serde_json::to_value(&err).unwrap()["problem"],
            json!("keyring_unavailable")
        );
        let err: IpcError = EngineError::EmptyMessage.into();
        assert_eq!(err.problem, None);
    }

    #[test]
    fn core_errors_map_to_codes() {
        let err: IpcError = CoreError::UnknownLocale("xx".into()).into();
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert!(err.message.contains("xx"));

        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let err: IpcError = CoreError::DataDir {
            path: "/nope".into(),
            source: io,
        }
        .into();
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            json!({
                "code": "storage",
                "message": "cannot use the data directory /nope: denied",
                "details": "denied"
            })
        );
    }
}
