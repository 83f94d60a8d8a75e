//! How many creates may be receiving their body slowly at once, per process and per tenant
//! (organization and mode), so that one tenant's uploads, however slow, leave room for
//! everyone else's. A body still arriving after [`SLOW_AFTER`] takes a permit, held until
//! the create answers; a small body sent at once never needs one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imports_common::model::Tenant;

use crate::errors::ApiError;

/// How long a body may take before it counts as a slow upload, against its tenant's share:
/// a small body sent at once never waits for a permit.
pub const SLOW_AFTER: Duration = Duration::from_millis(250);

/// The uploads in progress.
pub struct UploadPermits {
    max: usize,
    per_tenant: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    total: usize,
    by_tenant: HashMap<(String, &'static str), usize>,
}

/// One create's share, given back when dropped.
pub struct UploadPermit {
    permits: Arc<UploadPermits>,
    key: (String, &'static str),
}

impl UploadPermits {
    /// At most `max` uploads at once, `per_tenant` of them for one tenant.
    pub fn new(max: usize, per_tenant: usize) -> Self {
        UploadPermits {
            max,
            per_tenant,
            held: Mutex::new(Held::default()),
        }
    }

    /// A permit for `tenant`, or the 429 (the tenant's share is taken) or 503 (the process's
    /// is) that says to come back later.
    pub fn acquire(self: &Arc<Self>, tenant: &Tenant) -> Result<UploadPermit, ApiError> {
        let key = (tenant.organization_id.clone(), tenant.mode.as_str());
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let mine = held.by_tenant.get(&key).copied().unwrap_or(0);
        if mine >= self.per_tenant {
            return Err(ApiError::too_many(
                format!(
                    "{mine} creates of this organization in {} mode are still sending their inputs; at most {} at once",
                    tenant.mode.as_str(),
                    self.per_tenant
                ),
                5,
            ));
        }
        if held.total >= self.max {
            return Err(ApiError::busy(format!(
                "this server is receiving {} uploads, its limit; retry shortly",
                self.max
            )));
        }
        held.total += 1;
        *held.by_tenant.entry(key.clone()).or_insert(0) += 1;
        Ok(UploadPermit {
            permits: self.clone(),
            key,
        })
    }
}

impl std::fmt::Debug for UploadPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UploadPermit({}, {})", self.key.0, self.key.1)
    }
}

impl Drop for UploadPermit {
    fn drop(&mut self) {
        let mut held = self.permits.held.lock().unwrap_or_else(|p| p.into_inner());
        held.total -= 1;
        if let Some(n) = held.by_tenant.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.by_tenant.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imports_common::model::Mode;

    fn tenant(org: &str, mode: Mode) -> Tenant {
        Tenant {
            organization_id: org.into(),
            mode,
        }
    }

    #[test]
    fn a_tenant_s_share_then_the_process_s() {
        let permits = Arc::new(UploadPermits::new(3, 2));
        let a = tenant("a", Mode::Test);
        let first = permits.acquire(&a).unwrap();
        let _second = permits.acquire(&a).unwrap();
        assert_eq!(permits.acquire(&a).err().unwrap().status().as_u16(), 429);
        let _live = permits
            .acquire(&tenant("a", Mode::Live))
            .expect("live mode has its own share");
        assert_eq!(
            permits
                .acquire(&tenant("b", Mode::Test))
                .err()
                .unwrap()
                .status()
                .as_u16(),
            503
        );
        drop(first);
        assert!(permits.acquire(&a).is_ok(), "given back when dropped");
    }
}
