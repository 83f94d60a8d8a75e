//! Finds imports that no live worker holds and takes them over.
//!
//! An import whose worker died (SIGKILL, lost host) keeps status `in_progress` with a lease
//! that nobody renews; an import handed back on shutdown has its lease expired at once; an
//! import whose announcement never reached a worker stays `pending`. Every worker sweeps for
//! such imports when it starts and then every half lease, and claims them when it has a free
//! slot, so no import waits longer than about one lease for a worker, whatever happened to
//! RabbitMQ (a handed-back import is announced again, so it usually waits for no sweep). The
//! sweeper finds them; `slots` claims and runs them.

use imports_storage::leases;
use std::sync::Arc;

use tracing::warn;

use crate::{slots, Context};

/// Sweeps at once (a worker that starts may be the one to resume what a stopped one left),
/// then every half lease until shutdown.
pub async fn sweep(ctx: Arc<Context>) {
    let every = (ctx.config.lease / 2).max(std::time::Duration::from_millis(500));
    loop {
        if let Err(e) = sweep_once(&ctx).await {
            warn!("sweep failed: {e:#}");
        }
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn sweep_once(ctx: &Arc<Context>) -> anyhow::Result<()> {
    let free = ctx.permits.available_permits();
    if free == 0 {
        return Ok(());
    }
    let candidates = {
        let client = ctx.pool.get().await?;
        leases::unattended_imports(&*client, ctx.config.lease * 2, free as i64).await?
    };
    for import_id in candidates {
        let Ok(permit) = ctx.permits.clone().try_acquire_owned() else {
            break;
        };
        slots::take_over(ctx.clone(), import_id, permit).await?;
    }
    Ok(())
}
