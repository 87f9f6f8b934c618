//! Injectable time: the official poll-loop timings (docs/protocol.md §4) and a clock, so tests
//! can run the same loops in milliseconds.

use std::time::Duration;

use rand::Rng;

/// Every delay the engine's loops use.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// Sleep after a failed poll (official: 2 s).
    pub poll_retry: Duration,
    /// Sleep after `poll_failures_before_backoff` consecutive failures (official: 30 s).
    pub poll_backoff: Duration,
    /// Consecutive failures that trigger the long backoff (official: 3).
    pub poll_failures_before_backoff: u32,
    /// Pause after -14 (official: 1 h).
    pub stale_token_pause: Duration,
    /// Each delay is stretched by a random factor in `[0, jitter]` (0.1 = up to +10 %),
    /// so many accounts do not retry in lockstep. 0 disables it.
    pub jitter: f64,
    /// First delay before re-sending a failed outbound message; doubles per attempt.
    pub send_retry: Duration,
    /// Longest delay between send attempts.
    pub send_retry_max: Duration,
    /// Send attempts before an outbound message is marked failed.
    pub send_max_attempts: u32,
    /// How long a message may wait for the peer to reopen the reply window before it
    /// fails as expired (docs/architecture.md, invariant 3). The server's window is about 24 h.
    pub window_wait_limit: Duration,
    /// ret -2 read as a malformed request by its repetition (docs/protocol.md §1.6, §11):
    /// a message refused with ret -2 and the same `errmsg` under this many different
    /// tokens in a row, each one after the first renewed since the refusal before and
    /// fresh, the last one through every backoff retry, fails with its reason instead
    /// of waiting for the peer again. A closed window does not refuse a fresh token, a
    /// burst limit clears with backoff, a per-token quota is renewed. 0 turns it off.
    pub ret2_malformed_after_fresh_tokens: u32,
    /// How recent the peer's last message must be for its token to count as fresh.
    pub fresh_token_age: Duration,
    /// Messages that may go out per message the peer sends (WeChat allows about ten,
    /// docs/protocol.md §1.6); the next waits for them to write. 0: no limit.
    pub replies_per_message: u32,
    /// Least time between two sends of one account, so a burst never trips the
    /// server's rate limit (reports: spacing sends a second apart stops them).
    pub send_interval: Duration,
    /// Short texts to one peer that wait in the queue together go out as one message
    /// (engine/merge.rs), which spends one of the peer's allowance instead of several.
    pub merge_short_texts: bool,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            poll_retry: Duration::from_secs(2),
            poll_backoff: Duration::from_secs(30),
            poll_failures_before_backoff: 3,
            stale_token_pause: Duration::from_secs(60 * 60),
            jitter: 0.1,
            send_retry: Duration::from_secs(2),
            send_retry_max: Duration::from_secs(5 * 60),
            send_max_attempts: 5,
            window_wait_limit: Duration::from_secs(24 * 60 * 60),
            ret2_malformed_after_fresh_tokens: 2,
            fresh_token_age: Duration::from_secs(60 * 60),
            replies_per_message: 10,
            send_interval: Duration::from_secs(1),
            merge_short_texts: true,
        }
    }
}

impl Timings {
    /// `base` stretched by the jitter.
    pub fn jittered(&self, base: Duration) -> Duration {
        if self.jitter <= 0.0 {
            return base;
        }
        let factor = 1.0 + rand::rng().random_range(0.0..=self.jitter);
        base.mul_f64(factor)
    }

    /// The delay before send attempt `attempts + 1`, after `attempts` failed ones.
    pub fn send_delay(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(20);
        let delay = self.send_retry.saturating_mul(1u32 << exp);
        self.jittered(delay.min(self.send_retry_max))
    }
}

/// Wall-clock time in epoch milliseconds, for timestamps in the store and events.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default()
    }
}

pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_defaults_and_bounded_jitter() {
        let t = Timings::default();
        assert_eq!(t.poll_retry, Duration::from_secs(2));
        assert_eq!(t.poll_backoff, Duration::from_secs(30));
        assert_eq!(t.poll_failures_before_backoff, 3);
        assert_eq!(t.stale_token_pause, Duration::from_secs(3600));
        for _ in 0..100 {
            let d = t.jittered(Duration::from_secs(10));
            assert!(d >= Duration::from_secs(10) && d <= Duration::from_secs(11));
        }
        let exact = Timings {
            jitter: 0.0,
            ..Timings::default()
        };
        assert_eq!(exact.send_delay(1), Duration::from_secs(2));
        assert_eq!(exact.send_delay(3), Duration::from_secs(8));
        assert_eq!(exact.send_delay(30), Duration::from_secs(300));
    }
}
