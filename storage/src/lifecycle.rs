//! Recording an import's lifecycle event with its webhook deliveries, in the transaction
//! that makes the change it records: no event without its deliveries, no delivery without
//! its event.

use crate::client::Db;
use serde_json::Value;

use crate::deliveries::enqueue;
use crate::events::insert_event;

/// Records lifecycle event `name` of an import with its webhook deliveries (one for each
/// enabled webhook of the import's tenant on that topic). Call it in the transaction that
/// makes the change it records.
pub async fn record_event<C: Db>(
    client: &C,
    import_id: &str,
    name: &str,
    payload: Value,
) -> Result<(), tokio_postgres::Error> {
    let event_id = insert_event(client, import_id, name, &payload).await?;
    enqueue(client, event_id, import_id, name).await?;
    Ok(())
}
