//! The revocations in force, held in memory by each API replica and reread from Postgres
//! twice a second, so a revoked token stops working everywhere within a second, without a
//! query per request.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use imports_storage::client::Db;
use imports_storage::revocations::{self, Revocation};

use super::jwt::Claims;

#[derive(Default)]
struct Sets {
    /// Applications all of whose tokens are revoked.
    applications: HashSet<String>,
    /// Per application, the `rand` of each revoked token.
    tokens: HashMap<String, HashSet<String>>,
}

impl Sets {
    fn insert(&mut self, r: Revocation) {
        match r.token_rand {
            Some(rand) => {
                self.tokens
                    .entry(r.application_id)
                    .or_default()
                    .insert(rand);
            }
            None => {
                self.applications.insert(r.application_id);
            }
        }
    }
}

/// Revoked tokens and applications, as of the last refresh (and this process's own
/// revocations since).
#[derive(Default)]
pub struct Revocations {
    sets: RwLock<Sets>,
}

impl Revocations {
    /// Whether the token with these claims is revoked (no allocation unless its
    /// application has revoked tokens).
    pub fn revokes(&self, claims: &Claims) -> bool {
        let sets = self.sets.read().unwrap_or_else(|p| p.into_inner());
        sets.applications.contains(&claims.application.id)
            || sets
                .tokens
                .get(&claims.application.id)
                .is_some_and(|rands| rands.contains(&claims.rand_key()))
    }

    /// Records a revocation in this process at once (Postgres has it too; other replicas
    /// read it at their next refresh).
    pub fn note(&self, revocation: Revocation) {
        self.sets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(revocation);
    }

    /// Rereads the revocations in force.
    pub async fn refresh<C: Db>(&self, client: &C) -> Result<(), tokio_postgres::Error> {
        let mut fresh = Sets::default();
        for r in revocations::in_force(client).await? {
            fresh.insert(r);
        }
        *self.sets.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}
