//! Tokens whose signature this process has already checked, so a client that sends the same
//! token on every request pays for the RSA verification once, not per request (it took
//! 130-240 µs of the API's CPU each time). Expiry, the key's presence and revocations are
//! still checked on every request by [`super::OAuth::verify`].

use std::collections::HashMap;
use std::sync::RwLock;

use super::jwt::Claims;

/// How many tokens are remembered; past it, expired ones go, and if that is not enough, all.
pub const CAPACITY: usize = 4096;

/// A token's verified claims, and the key that signed it.
#[derive(Clone)]
pub struct Verified {
    /// The `kid` it named: the token stops being valid when the key leaves the set.
    pub kid: String,
    /// Its claims, as the signature vouched for them.
    pub claims: Claims,
}

/// The verified tokens of this process, keyed by the whole token (never by a part: only the
/// exact bytes that were checked may skip the check).
#[derive(Default)]
pub struct VerifiedTokens {
    tokens: RwLock<HashMap<Box<str>, Verified>>,
}

impl VerifiedTokens {
    /// What `token` was verified as, if it was.
    pub fn get(&self, token: &str) -> Option<Verified> {
        self.tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    /// Remembers `token` as verified; when full, forgets the expired ones (at `now`) first,
    /// and everything if that frees nothing.
    pub fn insert(&self, token: &str, verified: Verified, now: i64) {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= CAPACITY {
            tokens.retain(|_, v| v.claims.exp > now);
            if tokens.len() >= CAPACITY {
                tokens.clear();
            }
        }
        tokens.insert(token.into(), verified);
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.tokens.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::jwt::{ApplicationClaim, OrganizationClaim};

    fn claims(exp: i64) -> Claims {
        Claims {
            organization: OrganizationClaim {
                id: "o".into(),
                slug: "s".into(),
                enterprise: false,
                region: "r".into(),
            },
            application: ApplicationClaim {
                id: "a".into(),
                client_id: "c".into(),
                kind: "integration".into(),
                public: false,
            },
            scope: "market:all".into(),
            test: true,
            exp,
            iat: 0,
            rand: 0.5,
            iss: "i".into(),
        }
    }

    fn verified(exp: i64) -> Verified {
        Verified {
            kid: "k".into(),
            claims: claims(exp),
        }
    }

    #[test]
    fn only_the_exact_token_is_found() {
        let cache = VerifiedTokens::default();
        cache.insert("a.b.c", verified(100), 0);
        assert!(cache.get("a.b.c").is_some());
        assert!(cache.get("a.b.d").is_none());
        assert!(cache.get("a.b.").is_none());
    }

    #[test]
    fn it_stays_bounded_dropping_expired_tokens_first() {
        let cache = VerifiedTokens::default();
        for i in 0..CAPACITY {
            // Half of them expired by t=50.
            let exp = if i % 2 == 0 { 10 } else { 100 };
            cache.insert(&format!("t{i}"), verified(exp), 0);
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.insert("new", verified(100), 50);
        assert_eq!(cache.len(), CAPACITY / 2 + 1);
        assert!(cache.get("t1").is_some());
        assert!(cache.get("t0").is_none());
        for i in 0..CAPACITY * 2 {
            cache.insert(&format!("u{i}"), verified(100), 50);
            assert!(cache.len() <= CAPACITY);
        }
    }
}
