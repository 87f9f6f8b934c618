//! The typing-ticket cache (docs/protocol.md §6.1): one per account, keyed by user id, consulted
//! when a typing indicator starts (`Engine::send_typing`). A fetched ticket is refreshed
//! at a random time within 24 h; failures retry after 2 s, doubling up to 1 h, keeping
//! any ticket already held.

use std::collections::HashMap;

const RETRY_FIRST_MS: i64 = 2_000;
const RETRY_MAX_MS: i64 = 60 * 60 * 1000;
const REFRESH_SPAN_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    ticket: String,
    next_fetch_ms: i64,
    retry_delay_ms: i64,
}

/// Typing tickets per user, with the official refresh and retry schedule. Pure: the
/// caller passes the time and the random draw.
#[derive(Debug, Default)]
pub struct TypingTickets {
    entries: HashMap<String, Entry>,
}

impl TypingTickets {
    pub fn new() -> TypingTickets {
        TypingTickets::default()
    }

    /// Whether getconfig should be called for `user` now: no entry yet, or its next
    /// fetch time has come.
    pub fn due(&self, user: &str, now_ms: i64) -> bool {
        self.entries
            .get(user)
            .is_none_or(|e| now_ms >= e.next_fetch_ms)
    }

    /// getconfig succeeded (`ret == 0`); `random` is uniform in `[0, 1)`.
    pub fn on_success(&mut self, user: &str, ticket: Option<String>, now_ms: i64, random: f64) {
        let refresh = (random.clamp(0.0, 1.0) * REFRESH_SPAN_MS) as i64;
        self.entries.insert(
            user.to_owned(),
            Entry {
                ticket: ticket.unwrap_or_default(),
                next_fetch_ms: now_ms.saturating_add(refresh),
                retry_delay_ms: RETRY_FIRST_MS,
            },
        );
    }

    /// getconfig failed (an error or a non-zero `ret`).
    pub fn on_failure(&mut self, user: &str, now_ms: i64) {
        match self.entries.get_mut(user) {
            None => {
                self.entries.insert(
                    user.to_owned(),
                    Entry {
                        ticket: String::new(),
                        next_fetch_ms: now_ms + RETRY_FIRST_MS,
                        retry_delay_ms: RETRY_FIRST_MS,
                    },
                );
            }
            Some(entry) => {
                entry.retry_delay_ms = (entry.retry_delay_ms * 2).min(RETRY_MAX_MS);
                entry.next_fetch_ms = now_ms.saturating_add(entry.retry_delay_ms);
            }
        }
    }

    /// The ticket for `user`, if a non-empty one is held (typing is used only then).
    pub fn ticket(&self, user: &str) -> Option<&str> {
        self.entries
            .get(user)
            .map(|e| e.ticket.as_str())
            .filter(|t| !t.is_empty())
    }

    #[cfg(test)]
    fn next_fetch(&self, user: &str) -> Option<i64> {
        self.entries.get(user).map(|e| e.next_fetch_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_follow_the_spec_example_and_keep_the_ticket() {
        let mut t = TypingTickets::new();
        let t0 = 1_000_000;
        assert!(t.due("u", t0));
        t.on_failure("u", t0);
        assert_eq!(t.next_fetch("u"), Some(t0 + 2_000));
        assert!(!t.due("u", t0 + 1_999));
        assert!(t.due("u", t0 + 2_000));
        t.on_failure("u", t0 + 2_500);
        assert_eq!(t.next_fetch("u"), Some(t0 + 6_500));
        assert_eq!(t.ticket("u"), None);

        t.on_success("u", Some("tk".into()), t0 + 7_000, 0.5);
        assert_eq!(t.ticket("u"), Some("tk"));
        assert_eq!(t.next_fetch("u"), Some(t0 + 7_000 + 12 * 3_600_000));
        // A later failure keeps the ticket and restarts the doubling from 2 s.
        t.on_failure("u", t0 + 100_000_000);
        assert_eq!(t.ticket("u"), Some("tk"));
        assert_eq!(t.next_fetch("u"), Some(t0 + 100_000_000 + 4_000));
    }

    #[test]
    fn retry_delay_is_capped_at_an_hour() {
        let mut t = TypingTickets::new();
        for _ in 0..30 {
            t.on_failure("u", 0);
        }
        assert_eq!(t.next_fetch("u"), Some(RETRY_MAX_MS));
        t.on_success("u", None, 0, 0.0);
        assert_eq!(t.ticket("u"), None, "an absent ticket is empty");
        assert!(t.due("u", 0));
    }
}
