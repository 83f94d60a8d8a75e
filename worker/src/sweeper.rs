//! Finds imports that no live worker holds and takes them over.
//!
//! An import whose worker died (SIGKILL, lost host) keeps status `in_progress` with a lease
//! that nobody renews; an import handed back on shutdown has its lease expired at once; an
//! import whose announcement never reached a worker stays `pending`. Every worker sweeps for
//! such imports every half lease and claims them when it has a free slot, so no import waits
//! longer than about one lease for a worker, whatever happened to RabbitMQ. ([`take_over`]
//! also resumes an import that yielded its slot to another organization's: see `processor`.)

use imports_storage::leases;
use std::sync::Arc;

use futures::future::BoxFuture;
use imports_storage::leases::Claim;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{info, warn};

use crate::consumer::claim_with_retry;
use crate::{observe, processor, Context};

/// Sweeps until shutdown.
pub async fn sweep(ctx: Arc<Context>) {
    let every = (ctx.config.lease / 2).max(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = sweep_once(&ctx).await {
            warn!("sweep failed: {e:#}");
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
        leases::unattended_imports(&**client, ctx.config.lease * 2, free as i64).await?
    };
    for import_id in candidates {
        let Ok(permit) = ctx.permits.clone().try_acquire_owned() else {
            break;
        };
        take_over(ctx.clone(), import_id, permit).await?;
    }
    Ok(())
}

/// Claims an unattended import and runs it in the slot `permit` holds; `false` when another
/// worker has it (or it is final). (A boxed future: an import's run may call this again, to
/// resume after yielding, and the compiler needs the type named to see it is `Send`.)
pub fn take_over(
    ctx: Arc<Context>,
    import_id: String,
    permit: OwnedSemaphorePermit,
) -> BoxFuture<'static, anyhow::Result<bool>> {
    Box::pin(async move {
        let Claim::Claimed(import) = claim_with_retry(&ctx, &import_id).await? else {
            return Ok(false);
        };
        info!(%import_id, cursor = import.cursor, "taking over an unattended import");
        observe::import_claimed(&ctx, &import).await;
        let ctx2 = ctx.clone();
        ctx.tasks.spawn(async move {
            let _ = processor::run(ctx2, import).await;
            drop(permit);
        });
        Ok(true)
    })
}
