//! How a command fails, and the exit code it fails with.

use std::process::ExitCode;

use desk_core::secrets::SecretError;
use desk_core::{CoreError, EngineError};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another weixin-desk-cli `run` or `send` is using this data directory; stop it \
         first (sending through a running `run` is not supported yet)"
    )]
    Busy,
    #[error("no account is running")]
    NoAccountRunning,
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The command ran but its outcome is a failure; it already said why.
    #[error("{message}")]
    Outcome { message: String, code: u8 },
}

impl CliError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> CliError {
        CliError::Io {
            what: what.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Outcome { code, .. } => ExitCode::from(*code),
            _ => ExitCode::FAILURE,
        }
    }
}
