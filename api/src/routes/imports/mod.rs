//! The `/api/imports` resource, one file per action. Every query is scoped to the token's
//! tenant; another tenant's import is a 404.

pub mod create;
pub mod delete;
pub mod events;
pub mod failed_inputs;
pub mod list;
pub mod retrieve;
pub mod update;

use imports_common::jsonapi::import_attribute;
use imports_common::model::{Import, Tenant};
use imports_storage::imports;

use crate::document::pointer;
use crate::errors::ApiError;

/// Which write a body's attributes are checked for: each sets its own attributes.
#[derive(Clone, Copy)]
pub(crate) enum Write {
    Create,
    Update,
}

/// Refuses an attribute the write cannot set: read-only, settable only by the other write,
/// or unknown, naming it in the error.
pub(crate) fn refuse_unwritable<'a>(
    write: Write,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), ApiError> {
    for name in names {
        let attribute = import_attribute(name);
        let (allowed, other_only) = match (write, attribute) {
            (Write::Create, Some(a)) => (a.on_create, a.on_update),
            (Write::Update, Some(a)) => (a.on_update, a.on_create),
            (_, None) => (false, false),
        };
        if allowed {
            continue;
        }
        let why = match (write, attribute) {
            (Write::Create, Some(_)) if other_only => {
                format!("{name} can only be sent to update an import")
            }
            (Write::Update, Some(_)) if other_only => {
                format!("{name} can only be set when the import is created")
            }
            (_, Some(a)) if a.readable => format!("{name} is read-only"),
            _ => format!("{name} is not an attribute of imports"),
        };
        return Err(ApiError::invalid(pointer(name), why));
    }
    Ok(())
}

/// Reads an import of the tenant, with its logs.
pub(crate) async fn find(
    client: &tokio_postgres::Client,
    tenant: &Tenant,
    id: &str,
) -> Result<Import, ApiError> {
    // No id holds a NUL character (Postgres could not even search for it).
    if id.contains('\0') {
        return Err(ApiError::not_found("import"));
    }
    if !imports::tenant_owns_import(client, tenant, id).await? {
        return Err(ApiError::not_found("import"));
    }
    match imports::get_import(client, id).await? {
        Some(i) if i.tenant == *tenant => Ok(i),
        _ => Err(ApiError::not_found("import")),
    }
}
