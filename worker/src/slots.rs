//! Import slots: claiming an import, running it in one of this worker's slots, and resuming
//! the imports that yielded theirs. The consumer and the sweeper feed import ids in here; a
//! run that yields sends its id back through [`Context::yielded`], drained by
//! [`resume_yielded`].

use std::sync::Arc;

use imports_runtime::retry::RetryPolicy;
use imports_storage::leases::{self, Claim, ClaimedImport};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tracing::{info, warn};

use crate::outcome::Finish;
use crate::{observe, processor, Context};

/// Claims an import, retrying while Postgres is unreachable (up to about half a minute).
pub async fn claim_with_retry(ctx: &Context, import_id: &str) -> anyhow::Result<Claim> {
    let mut backoff = RetryPolicy::CLAIM.start();
    loop {
        let attempt = async {
            let mut client = ctx.pool.get().await?;
            anyhow::Ok(
                leases::claim(&mut client, import_id, ctx.worker_id, ctx.config.lease).await?,
            )
        }
        .await;
        match attempt {
            Ok(claim) => return Ok(claim),
            Err(e) if ctx.shutdown.is_cancelled() => return Err(e),
            Err(e) => match backoff.next_delay() {
                Some(delay) => {
                    warn!("claim failed, retrying in {delay:?}: {e:#}");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(e),
            },
        }
    }
}

/// Runs a claimed import in the slot `permit` holds, which frees when the run ends.
pub async fn run_claimed(
    ctx: Arc<Context>,
    import: ClaimedImport,
    permit: OwnedSemaphorePermit,
) -> anyhow::Result<Finish> {
    observe::import_claimed(&ctx, &import).await;
    let finish = processor::run(ctx, import).await;
    drop(permit);
    finish
}

/// Claims an unattended import and runs it in the slot `permit` holds; `false` when another
/// worker has it (or it is final).
pub async fn take_over(
    ctx: Arc<Context>,
    import_id: String,
    permit: OwnedSemaphorePermit,
) -> anyhow::Result<bool> {
    let Claim::Claimed(import) = claim_with_retry(&ctx, &import_id).await? else {
        return Ok(false);
    };
    info!(%import_id, cursor = import.cursor, "taking over an unattended import");
    ctx.tasks.spawn(run_claimed(ctx.clone(), import, permit));
    Ok(true)
}

/// Resumes each import that yielded its slot (its id arrives on `yielded`) in the next free
/// slot, until shutdown. The waiting import's delivery, queued for a slot before, takes the
/// slot the yielding import frees; the one after that resumes it (unless another worker took
/// it over meanwhile). Imports thus take turns, a time slice each.
pub async fn resume_yielded(ctx: Arc<Context>, mut yielded: mpsc::UnboundedReceiver<String>) {
    loop {
        let import_id = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            id = yielded.recv() => match id {
                Some(id) => id,
                None => return,
            },
        };
        let task_ctx = ctx.clone();
        ctx.tasks.spawn(async move {
            let ctx = task_ctx;
            let permit = tokio::select! {
                _ = ctx.shutdown.cancelled() => return,
                permit = ctx.permits.clone().acquire_owned() => permit,
            };
            if let Ok(permit) = permit {
                if let Err(e) = take_over(ctx, import_id, permit).await {
                    warn!("could not resume the import that yielded (the sweeper will): {e:#}");
                }
            }
        });
    }
}
