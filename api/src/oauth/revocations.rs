//! The revocations in force, held in memory by each API replica and reread from Postgres
//! twice a second, so a revoked token stops working everywhere within a second, without a
//! query per request.

use std::collections::HashSet;
use std::sync::RwLock;

use imports_storage::revocations::{self, Revocation};
use tokio_postgres::GenericClient;

use super::jwt::Claims;

#[derive(Default)]
struct Sets {
    applications: HashSet<String>,
    tokens: HashSet<(String, String)>,
}

/// Revoked tokens and applications, as of the last refresh (and this process's own
/// revocations since).
#[derive(Default)]
pub struct Revocations {
    sets: RwLock<Sets>,
}

impl Revocations {
    /// Whether the token with these claims is revoked.
    pub fn revokes(&self, claims: &Claims) -> bool {
        let sets = self.sets.read().unwrap_or_else(|p| p.into_inner());
        if sets.applications.is_empty() && sets.tokens.is_empty() {
            return false;
        }
        sets.applications.contains(&claims.application.id)
            || sets
                .tokens
                .contains(&(claims.application.id.clone(), claims.rand_key()))
    }

    /// Records a revocation in this process at once (Postgres has it too; other replicas
    /// read it at their next refresh).
    pub fn note(&self, revocation: Revocation) {
        let mut sets = self.sets.write().unwrap_or_else(|p| p.into_inner());
        match revocation.token_rand {
            Some(rand) => {
                sets.tokens.insert((revocation.application_id, rand));
            }
            None => {
                sets.applications.insert(revocation.application_id);
            }
        }
    }

    /// Rereads the revocations in force.
    pub async fn refresh<C: GenericClient>(&self, client: &C) -> Result<(), tokio_postgres::Error> {
        let mut fresh = Sets::default();
        for r in revocations::in_force(client).await? {
            match r.token_rand {
                Some(rand) => {
                    fresh.tokens.insert((r.application_id, rand));
                }
                None => {
                    fresh.applications.insert(r.application_id);
                }
            }
        }
        *self.sets.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}
