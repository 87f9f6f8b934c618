//! How a command fails, and the exit code it fails with.

use std::process::ExitCode;

use desk_core::secrets::SecretError;
use desk_core::user_error::explain;
use desk_core::{CoreError, EngineError, Locale, Problem};

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

    /// The kind of failure a person is told about, when it has one.
    pub fn problem(&self) -> Option<Problem> {
        match self {
            CliError::Core(e) => Problem::of_core(e),
            CliError::Engine(e) => Problem::of_engine(e),
            CliError::Secret(e) => Problem::of_secret(e),
            CliError::Io { source, .. } => Problem::of_io(source),
            _ => None,
        }
    }

    /// What the terminal shows: the sentence first, the technical text after.
    pub fn explained(&self) -> String {
        explain(self.problem(), terminal_locale(), &self.to_string())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Outcome { code, .. } => ExitCode::from(*code),
            _ => ExitCode::FAILURE,
        }
    }
}

/// The terminal's language, from the locale variables in their usual order of precedence.
pub fn terminal_locale() -> Locale {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .map_or(Locale::En, |value| Locale::from_system(&value))
}
