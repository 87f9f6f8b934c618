//! Errors of the API client. None of them ever carries the bot token: texts that came
//! from the server are scrubbed of it before they are stored here.

use std::fmt;

/// Which layer a network failure happened in (the official client's log classes, §1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkKind {
    /// Name resolution failed.
    Dns,
    /// The TCP connection could not be made or broke.
    Tcp,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// Anything else.
    Unknown,
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Dns => "dns",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Unknown => "unknown",
        })
    }
}

/// Everything an iLink API call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IlinkError {
    /// `errcode` or `ret` -14: the bot token was replaced or expired. The official client
    /// pauses the account for an hour.
    #[error("the bot token is stale (-14): the session expired or was bound elsewhere")]
    StaleToken,
    /// sendmessage `ret` -2: the reply window for this context token closed, the reply
    /// quota was used up, or sends came too fast.
    #[error("reply window closed or rate limited (ret -2): {}", or_none(.errmsg))]
    WindowClosedOrRateLimited {
        /// The server's text, often empty or `prepare failed`.
        errmsg: String,
    },
    /// sendmessage `ret` -3: missing context token, malformed recipient, or more than
    /// one item.
    #[error("the server rejected the request as invalid (ret -3): {}", or_none(.errmsg))]
    InvalidArguments {
        /// The server's text, usually `invalid arguments`.
        errmsg: String,
    },
    /// Any other non-zero `ret` or `errcode`.
    #[error(
        "server error: ret={} errcode={} errmsg={}",
        code(*.ret),
        code(*.errcode),
        or_none(.errmsg)
    )]
    ServerError {
        /// `ret`, if the body had one.
        ret: Option<i64>,
        /// `errcode`, if the body had one.
        errcode: Option<i64>,
        /// `errmsg`, possibly empty.
        errmsg: String,
    },
    /// A non-2xx HTTP status.
    #[error("HTTP status {status}: {}", or_none(.body))]
    HttpStatus {
        /// The status code.
        status: u16,
        /// The start of the response body (at most 200 characters).
        body: String,
    },
    /// The call's client-side timeout ran out.
    #[error("the request timed out")]
    Timeout,
    /// The request did not reach the server or the connection broke.
    #[error("{kind} network error: {message}")]
    Network {
        /// The failing layer.
        kind: NetworkKind,
        /// What went wrong, without the URL.
        message: String,
    },
    /// A 2xx response whose body is empty, not JSON, or of the wrong shape.
    #[error("could not decode the response: {message}")]
    Decode {
        /// What went wrong.
        message: String,
    },
    /// The caller's cancellation token fired.
    #[error("the request was cancelled")]
    Cancelled,
    /// The client was configured with a value that cannot be sent (a malformed base URL,
    /// or a token or route tag that is not a valid header value).
    #[error("invalid client configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

impl IlinkError {
    /// The log label the official client uses (§1.6): `timeout`, `dns`, `tcp`, `tls` or
    /// `unknown`. `None` for errors that are not transport failures.
    pub fn network_label(&self) -> Option<&'static str> {
        match self {
            Self::Timeout => Some("timeout"),
            Self::Network { kind, .. } => Some(match kind {
                NetworkKind::Dns => "dns",
                NetworkKind::Tcp => "tcp",
                NetworkKind::Tls => "tls",
                NetworkKind::Unknown => "unknown",
            }),
            Self::HttpStatus { .. } => Some("unknown"),
            _ => None,
        }
    }
}

fn or_none(text: &str) -> &str {
    if text.is_empty() {
        "(none)"
    } else {
        text
    }
}

fn code(value: Option<i64>) -> String {
    value.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well() {
        assert_eq!(
            IlinkError::WindowClosedOrRateLimited {
                errmsg: String::new()
            }
            .to_string(),
            "reply window closed or rate limited (ret -2): (none)"
        );
        assert_eq!(
            IlinkError::ServerError {
                ret: Some(-5),
                errcode: None,
                errmsg: "boom".into()
            }
            .to_string(),
            "server error: ret=-5 errcode=(none) errmsg=boom"
        );
        assert_eq!(
            IlinkError::Network {
                kind: NetworkKind::Tls,
                message: "bad cert".into()
            }
            .to_string(),
            "tls network error: bad cert"
        );
        assert_eq!(IlinkError::Timeout.network_label(), Some("timeout"));
        assert_eq!(IlinkError::StaleToken.network_label(), None);
    }
}
