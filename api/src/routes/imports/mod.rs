//! The `/api/imports` resource, one file per action. Every query is scoped to the token's
//! tenant; another tenant's import is a 404.

pub mod create;
pub mod delete;
pub mod events;
pub mod failed_inputs;
pub mod list;
pub mod retrieve;
pub mod update;

use imports_common::jsonapi::IMPORT_ATTRIBUTES;
use imports_common::model::{Import, Tenant};

use crate::errors::ApiError;

pub(crate) use crate::document::Write;

/// Refuses an attribute of imports the write cannot set, naming it.
pub(crate) fn refuse_unwritable<'a>(
    write: Write,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), ApiError> {
    crate::document::refuse_unwritable(IMPORT_ATTRIBUTES, "imports", write, names)
}

/// Reads an import of the tenant, with its logs.
pub(crate) async fn find<C: imports_storage::client::Db>(
    client: &C,
    tenant: &Tenant,
    id: &str,
) -> Result<Import, ApiError> {
    // No id holds a NUL character (Postgres could not even search for it).
    if id.contains('\0') {
        return Err(ApiError::not_found("import"));
    }
    imports_storage::import_rows::tenant_import(client, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("import"))
}
