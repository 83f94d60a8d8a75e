//! `imp_` API tokens this process found recently, keyed by their hash: a client that sends
//! the same token on every request costs one lookup a second, not one per request (the
//! lookup was a third of a retrieve's database time). A revoked token stops working within
//! [`RECHECK_AFTER`], as a revoked access token does; unknown tokens are never remembered.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use imports_common::model::Tenant;

/// How long a token found is trusted before it is looked up again.
pub const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// How many tokens are remembered; past it, the stale ones go, and if that is not enough, all.
pub const CAPACITY: usize = 4096;

/// A token's SHA-256 hash, as `api_tokens` stores it.
pub type TokenHash = [u8; 32];

struct Known {
    token_id: String,
    tenant: Tenant,
    found_at: Instant,
}

/// The tokens found in the last [`RECHECK_AFTER`].
#[derive(Default)]
pub struct KnownTokens {
    tokens: RwLock<HashMap<TokenHash, Known>>,
}

impl KnownTokens {
    /// The id and tenant of the token with this hash, if it was found less than
    /// [`RECHECK_AFTER`] before `now`.
    pub fn get(&self, hash: &TokenHash, now: Instant) -> Option<(String, Tenant)> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let known = tokens.get(hash)?;
        (now.saturating_duration_since(known.found_at) < RECHECK_AFTER)
            .then(|| (known.token_id.clone(), known.tenant.clone()))
    }

    /// Records what a lookup at `now` found for the hash: the token, or nothing (a revoked
    /// or unknown token, forgotten).
    pub fn remember(&self, hash: TokenHash, found: Option<&(String, Tenant)>, now: Instant) {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        let Some((token_id, tenant)) = found else {
            tokens.remove(&hash);
            return;
        };
        if tokens.len() >= CAPACITY && !tokens.contains_key(&hash) {
            tokens.retain(|_, k| now.saturating_duration_since(k.found_at) < RECHECK_AFTER);
            if tokens.len() >= CAPACITY {
                tokens.clear();
            }
        }
        let known = Known {
            token_id: token_id.clone(),
            tenant: tenant.clone(),
            found_at: now,
        };
        tokens.insert(hash, known);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tokens.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imports_common::model::Mode;

    fn found(n: u8) -> (String, Tenant) {
        let tenant = Tenant {
            organization_id: format!("org{n}"),
            mode: Mode::Test,
        };
        (format!("tok{n}"), tenant)
    }

    #[test]
    fn a_token_is_trusted_for_a_second_then_looked_up_again() {
        let known = KnownTokens::default();
        let t0 = Instant::now();
        assert_eq!(known.get(&[1; 32], t0), None);
        known.remember([1; 32], Some(&found(1)), t0);
        assert_eq!(known.get(&[1; 32], t0), Some(found(1)));
        assert_eq!(known.get(&[2; 32], t0), None, "only its own hash");
        let later = t0 + RECHECK_AFTER - Duration::from_millis(1);
        assert_eq!(known.get(&[1; 32], later), Some(found(1)));
        assert_eq!(known.get(&[1; 32], t0 + RECHECK_AFTER), None);
        // Looked up again and found revoked: forgotten at once.
        known.remember([1; 32], None, t0);
        assert_eq!(known.get(&[1; 32], t0), None);
        assert_eq!(known.len(), 0);
    }

    #[test]
    fn it_stays_bounded_dropping_stale_tokens_first() {
        let known = KnownTokens::default();
        let t0 = Instant::now();
        let t1 = t0 + RECHECK_AFTER;
        for i in 0..CAPACITY {
            let hash: TokenHash = std::array::from_fn(|b| (i >> (8 * (b % 4))) as u8);
            // Half of them found at t0, stale by t1.
            let at = if i % 2 == 0 { t0 } else { t1 };
            known.remember(hash, Some(&found(0)), at);
        }
        assert_eq!(known.len(), CAPACITY);
        known.remember([0xff; 32], Some(&found(1)), t1);
        assert_eq!(known.len(), CAPACITY / 2 + 1);
        for i in 0..CAPACITY * 2 {
            let hash: TokenHash = std::array::from_fn(|b| (i >> (8 * (b % 4))) as u8 ^ 0x55);
            known.remember(hash, Some(&found(2)), t1);
            assert!(known.len() <= CAPACITY);
        }
    }
}
