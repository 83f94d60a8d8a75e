//! The one retry policy: delays that double from a first delay up to a cap, until a number of
//! attempts or a length of time has gone by. Every retried call in the binaries takes one of
//! the policies named here, so the caps can be read and changed in one place.

use std::time::{Duration, Instant};

/// When a retried call is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Never: retry until the caller stops (a service the process cannot run without).
    Never,
    /// After this many failed attempts.
    AfterFailures(u32),
    /// Once this long has passed since the first attempt.
    AfterElapsed(Duration),
}

/// How a failing call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure.
    pub first_delay: Duration,
    /// The longest delay: each failure doubles the delay up to this.
    pub max_delay: Duration,
    /// When to stop retrying.
    pub give_up: GiveUp,
}

impl RetryPolicy {
    /// Reaching Postgres or RabbitMQ at start or after a lost connection: 0.2 s doubling to
    /// 5 s, never given up (the process is useless without them; shutdown stops the wait).
    pub const SERVICE: RetryPolicy = RetryPolicy {
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(5),
        give_up: GiveUp::Never,
    };

    /// Claiming an import while Postgres is unreachable: about half a minute, then the
    /// delivery is left to the sweeper.
    pub const CLAIM: RetryPolicy = RetryPolicy {
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(5),
        give_up: GiveUp::AfterElapsed(Duration::from_secs(30)),
    };

    /// Writing one batch after a transient database failure: five retries, then the import
    /// is handed back and resumed from its cursor later.
    pub const BATCH: RetryPolicy = RetryPolicy {
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(5),
        give_up: GiveUp::AfterFailures(6),
    };

    /// Fetching a chunk of stored inputs: half a minute, then the read fails.
    pub const INPUT_FETCH: RetryPolicy = RetryPolicy {
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        give_up: GiveUp::AfterElapsed(Duration::from_secs(30)),
    };

    /// Publishing a message RabbitMQ nacked (a quorum queue electing its leader, say): five
    /// retries from 50 ms, then the publish is an error.
    pub const PUBLISH_NACK: RetryPolicy = RetryPolicy {
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(800),
        give_up: GiveUp::AfterFailures(6),
    };

    /// The same delays, given up once `limit` has passed (`None`: as the policy says).
    pub const fn giving_up_after(self, limit: Option<Duration>) -> RetryPolicy {
        match limit {
            Some(limit) => RetryPolicy {
                give_up: GiveUp::AfterElapsed(limit),
                ..self
            },
            None => self,
        }
    }

    /// Starts counting failures of one call under this policy.
    pub fn start(&self) -> Backoff {
        Backoff {
            policy: *self,
            started: Instant::now(),
            failures: 0,
            delay: self.first_delay,
        }
    }
}

/// The failures of one retried call so far, and the delay before its next attempt.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    started: Instant,
    failures: u32,
    delay: Duration,
}

impl Backoff {
    /// Records a failure: the delay to wait before the next attempt, or `None` when the
    /// policy gives up.
    pub fn next_delay(&mut self) -> Option<Duration> {
        self.failures += 1;
        let give_up = match self.policy.give_up {
            GiveUp::Never => false,
            GiveUp::AfterFailures(n) => self.failures >= n,
            GiveUp::AfterElapsed(limit) => self.started.elapsed() >= limit,
        };
        if give_up {
            return None;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(self.policy.max_delay);
        Some(delay)
    }

    /// How many attempts have failed.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Starts again from the first delay, after a success.
    pub fn reset(&mut self) {
        self.failures = 0;
        self.delay = self.policy.first_delay;
        self.started = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut b = RetryPolicy::SERVICE.start();
        let delays: Vec<u64> = (0..7)
            .map(|_| b.next_delay().unwrap().as_millis() as u64)
            .collect();
        assert_eq!(delays, [200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(b.failures(), 7);
        b.reset();
        assert_eq!(b.next_delay(), Some(Duration::from_millis(200)));
    }

    #[test]
    fn a_policy_of_failures_gives_up_on_the_last() {
        // Six attempts in all: five delays, then the sixth failure is final.
        let mut b = RetryPolicy::BATCH.start();
        let delays: Vec<Option<Duration>> = (0..6).map(|_| b.next_delay()).collect();
        assert!(delays[..5].iter().all(Option::is_some));
        assert_eq!(delays[5], None);
    }

    #[test]
    fn a_policy_of_time_gives_up_once_the_time_has_passed() {
        let policy = RetryPolicy::SERVICE.giving_up_after(Some(Duration::ZERO));
        assert_eq!(policy.start().next_delay(), None);
        let policy = RetryPolicy::SERVICE.giving_up_after(None);
        assert_eq!(policy.give_up, GiveUp::Never);
    }

    #[test]
    fn publish_retries_keep_their_delays() {
        let mut b = RetryPolicy::PUBLISH_NACK.start();
        let delays: Vec<u64> = std::iter::from_fn(|| b.next_delay())
            .map(|d| d.as_millis() as u64)
            .collect();
        assert_eq!(delays, [50, 100, 200, 400, 800]);
    }
}
