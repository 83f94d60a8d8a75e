//! When a failed delivery is tried again: `WEBHOOKS_RETRY_BASE_SECONDS` after the first
//! failure, doubling after each next one up to `WEBHOOKS_RETRY_MAX_SECONDS`, each wait
//! drawn at random between its half and its whole (so that a receiver back from an outage
//! is not met by every retry at once); none after `WEBHOOKS_MAX_ATTEMPTS` attempts.

use std::time::Duration;

use imports_runtime::config::WebhookSettings;
use rand::Rng;

/// The wait before the next attempt after `attempts` attempts that all failed, or `None`
/// when the delivery is out of attempts.
pub fn retry_after(settings: &WebhookSettings, attempts: i32) -> Option<Duration> {
    if attempts >= settings.max_attempts {
        return None;
    }
    let whole = ceiling(settings, attempts);
    let fraction = rand::rng().random_range(0.5..=1.0);
    Some(whole.mul_f64(fraction))
}

/// The longest wait after `attempts` failed attempts.
pub fn ceiling(settings: &WebhookSettings, attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    settings
        .retry_base
        .saturating_mul(1u32 << doublings)
        .min(settings.retry_max)
}

/// The longest time from a delivery's first attempt to its last (the retry window).
pub fn window(settings: &WebhookSettings) -> Duration {
    (1..settings.max_attempts)
        .map(|n| ceiling(settings, n))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_maximum_and_stop_after_the_last_attempt() {
        let s = WebhookSettings::default();
        assert_eq!(ceiling(&s, 1), Duration::from_secs(15));
        assert_eq!(ceiling(&s, 2), Duration::from_secs(30));
        assert_eq!(ceiling(&s, 9), Duration::from_secs(3600));
        for n in 1..s.max_attempts {
            let wait = retry_after(&s, n).unwrap();
            assert!(
                wait <= ceiling(&s, n) && wait >= ceiling(&s, n) / 2,
                "{n}: {wait:?}"
            );
        }
        assert_eq!(retry_after(&s, s.max_attempts), None);
        // 15 s + 30 s + ... + 1 h for the default ten attempts: about 2 h 8 min.
        assert_eq!(
            window(&s),
            Duration::from_secs(15 * (1 + 2 + 4 + 8 + 16 + 32 + 64 + 128) + 3600)
        );
    }
}
