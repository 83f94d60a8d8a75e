//! The `/api/imports` resource: create, list, retrieve, update, delete, and the events of an
//! import. Every query is scoped to the token's tenant; another tenant's import is a 404.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use imports_common::catalogue::resource_type;
use imports_common::failed_inputs::ReportFormat;
use imports_common::inputs::{parse_csv_delimiter, DEFAULT_CSV_DELIMITER};
use imports_common::jsonapi::{import_attribute, import_attributes, import_resource};
use imports_common::model::{Format, Import, Status, Tenant};
use imports_runtime::telemetry::traces;
use imports_storage::imports::{self, ImportChanges, NewImport};
use imports_storage::listing::list_import_ids as listing_ids;
use imports_storage::logs;
use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError, JSONAPI};
use crate::upload::{self, CountError, InputsShape};
use crate::{attachments, listing, AppState};

/// Inputs larger than this are not echoed back in `inputs` while pending (it stays null).
pub const ECHO_INPUTS_MAX_BYTES: usize = 4 * 1024 * 1024;

fn pointer(attribute: &str) -> String {
    format!("/data/attributes/{attribute}")
}

/// Refuses a body that is not JSON:API (or plain JSON).
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media != JSONAPI && media != "application/json" {
        return Err(ApiError::unsupported_media_type());
    }
    Ok(())
}

/// Checks `data.type` of a document.
fn check_type(kind: Option<&Value>) -> Result<(), ApiError> {
    match kind {
        Some(Value::String(t)) if t == "imports" => Ok(()),
        Some(_) => Err(ApiError::conflict("/data/type", "type must be 'imports'")),
        None => Err(ApiError::invalid("/data/type", "type is required")),
    }
}

/// Checks the Content-Type and parses the body as a JSON:API document with `data.type`
/// `imports`; returns `data`.
fn read_document(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    check_content_type(headers)?;
    let doc: Value = serde_json::from_slice(body).map_err(not_json)?;
    let Some(Value::Object(data)) = doc.get("data").cloned() else {
        return Err(ApiError::invalid(
            "/data",
            "the document must have a data object",
        ));
    };
    check_type(data.get("type"))?;
    Ok(data)
}

fn not_json(e: serde_json::Error) -> ApiError {
    ApiError::bad_request(format!("the body is not valid JSON: {e}"))
}

/// The attributes of a create document's skeleton (see [`upload`]), all but `inputs`, and
/// what the skeleton holds for `inputs` (`true` where they were streamed).
fn read_create_attributes(
    skeleton: &[u8],
) -> Result<(Map<String, Value>, Option<Value>), ApiError> {
    let doc: HashMap<String, Value> = serde_json::from_slice(skeleton).map_err(not_json)?;
    let Some(Value::Object(data)) = doc.get("data") else {
        return Err(ApiError::invalid(
            "/data",
            "the document must have a data object",
        ));
    };
    check_type(data.get("type"))?;
    let mut attributes = attributes(data)?;
    let inputs = attributes.shift_remove("inputs");
    attributes.sort_keys();
    Ok((attributes, inputs))
}

/// The count of a create's inputs, checked against the format and the limits.
fn check_inputs(
    format: Format,
    received: &upload::Received,
    skeleton_inputs: Option<&Value>,
    max_inputs: u64,
) -> Result<u64, ApiError> {
    let invalid = |m: &str| ApiError::invalid(pointer("inputs"), m);
    let count = match (format, received.shape) {
        (_, InputsShape::Absent) => return Err(invalid("inputs is required")),
        (_, InputsShape::Other) => {
            return Err(match skeleton_inputs {
                None | Some(Value::Null) => invalid("inputs is required"),
                _ => invalid("inputs must be an array of objects, or a CSV string"),
            })
        }
        (Format::Json, InputsShape::Text) => {
            return Err(invalid(
                "with format json, inputs must be an array of objects (send format csv for CSV text)",
            ))
        }
        (Format::Csv, InputsShape::Array) => {
            return Err(invalid(
                "with format csv, inputs must be a string holding the CSV text (send format json for an array)",
            ))
        }
        (_, _) => &received.count,
    };
    match count {
        Ok(0) => Err(invalid("inputs can't be empty")),
        Ok(n) => Ok(*n),
        Err(CountError::TooMany) => Err(invalid(&format!(
            "more inputs than the limit of {max_inputs} per import"
        ))),
        // Malformed JSON inside the array is a malformed body; CSV text that cannot be
        // read is an invalid attribute.
        Err(CountError::Unreadable(why)) if format == Format::Json => {
            Err(ApiError::bad_request(why.clone()))
        }
        Err(CountError::Unreadable(why)) => Err(invalid(why)),
    }
}

fn attributes(data: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    match data.get("attributes") {
        Some(Value::Object(a)) => Ok(a.clone()),
        None => Ok(Map::new()),
        Some(_) => Err(ApiError::invalid(
            "/data/attributes",
            "attributes must be an object",
        )),
    }
}

/// A boolean attribute, false when not given.
fn optional_bool(attrs: &Map<String, Value>, name: &str) -> Result<bool, ApiError> {
    match attrs.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid(
            pointer(name),
            format!("{name} must be true or false"),
        )),
    }
}

fn optional_string(attrs: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match attrs.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.contains('\0') => Err(ApiError::invalid(
            pointer(name),
            format!("{name} contains a NUL character"),
        )),
        Some(Value::String(s)) if s.len() <= 1024 => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(ApiError::invalid(
            pointer(name),
            format!("{name} is longer than 1024 characters"),
        )),
        Some(_) => Err(ApiError::invalid(
            pointer(name),
            format!("{name} must be a string"),
        )),
    }
}

/// `csv_delimiter`: `,` (the default), `;` or a tab, for CSV only.
fn csv_delimiter(attrs: &Map<String, Value>, format: Format) -> Result<Option<u8>, ApiError> {
    let invalid = |m: &str| ApiError::invalid(pointer("csv_delimiter"), m);
    let given = match attrs.get("csv_delimiter") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            parse_csv_delimiter(s)
                .ok_or_else(|| invalid("csv_delimiter must be \",\", \";\" or a tab (\"\\t\")"))?,
        ),
        Some(_) => {
            return Err(invalid(
                "csv_delimiter must be \",\", \";\" or a tab (\"\\t\")",
            ))
        }
    };
    match (format, given) {
        (Format::Json, Some(_)) => Err(invalid("csv_delimiter can only be given with format csv")),
        (Format::Json, None) => Ok(None),
        (Format::Csv, d) => Ok(Some(d.unwrap_or(DEFAULT_CSV_DELIMITER))),
    }
}

fn metadata(attrs: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    match attrs.get("metadata") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(json!({}))),
        Some(v @ Value::Object(_)) if imports_common::validate::has_nul(v) => Err(
            ApiError::invalid(pointer("metadata"), "metadata contains a NUL character"),
        ),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(ApiError::invalid(
            pointer("metadata"),
            "metadata must be an object",
        )),
    }
}

/// `POST /api/imports`.
pub async fn create(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|n| n > state.config.max_body_bytes as u64) {
        return Err(upload::refuse_oversized(body, state.config.max_body_bytes).await);
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    // The inputs are stored while the body is still arriving (see `upload`); the import row
    // follows once the document is read, in the same transaction.
    let import_id = imports_common::ids::new_id();
    let (receiving, chunks) = upload::receive(
        body,
        upload::Limits {
            max_body_bytes: state.config.max_body_bytes,
            max_inputs: state.config.max_inputs,
        },
    );
    let storing = {
        let (tx, import_id) = (&tx, &import_id);
        async move {
            let mut chunks = chunks;
            let mut seq = 0i32;
            while let Some(chunk) = chunks.recv().await {
                imports_storage::inputs::append_input_chunk(&**tx, import_id, seq, &chunk).await?;
                seq += 1;
            }
            Ok::<(), ApiError>(())
        }
    };
    let (received, stored) = tokio::join!(receiving, storing);
    stored?;
    let mut received = received?;
    let (attrs, skeleton_inputs) = read_create_attributes(&received.skeleton)?;
    for name in attrs
        .keys()
        .map(String::as_str)
        .chain((received.shape != InputsShape::Absent).then_some("inputs"))
    {
        let attribute = import_attribute(name);
        if attribute.is_some_and(|a| a.on_create) {
            continue;
        }
        let why = match attribute {
            Some(a) if a.on_update => format!("{name} can only be sent to update an import"),
            Some(a) if a.readable => format!("{name} is read-only"),
            _ => format!("{name} is not an attribute of imports"),
        };
        return Err(ApiError::invalid(pointer(name), why));
    }
    let rt = match attrs.get("resource_type") {
        Some(Value::String(s)) => resource_type(s).ok_or_else(|| {
            ApiError::invalid(
                pointer("resource_type"),
                format!("'{s}' is not an importable resource type"),
            )
        })?,
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                pointer("resource_type"),
                "resource_type is required",
            ))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                pointer("resource_type"),
                "resource_type must be a string",
            ))
        }
    };
    let format = match attrs.get("format") {
        None | Some(Value::Null) => Format::Json,
        Some(Value::String(s)) => s
            .parse::<Format>()
            .map_err(|_| ApiError::invalid(pointer("format"), "format must be 'json' or 'csv'"))?,
        Some(_) => {
            return Err(ApiError::invalid(
                pointer("format"),
                "format must be 'json' or 'csv'",
            ))
        }
    };
    let csv_delimiter = csv_delimiter(&attrs, format)?;
    if let Some(delimiter) = csv_delimiter.filter(|d| *d != received.counted_with) {
        // Given after the inputs, which were counted meanwhile with the default.
        if received.shape == InputsShape::Text && received.text_is_utf8 {
            if !received.stored_whole {
                return Err(ApiError::invalid(
                    pointer("csv_delimiter"),
                    "the inputs cannot be read with the default delimiter ','; give csv_delimiter before inputs in the document",
                ));
            }
            received.count =
                upload::recount(&*tx, &import_id, delimiter, state.config.max_inputs).await?;
        }
    }
    let skip_errors = optional_bool(&attrs, "skip_errors")?;
    let dry_run = optional_bool(&attrs, "dry_run")?;
    let reference = optional_string(&attrs, "reference")?;
    let reference_origin = optional_string(&attrs, "reference_origin")?;
    let metadata = metadata(&attrs)?.unwrap_or_else(|| json!({}));
    let parent_resource_id = optional_string(&attrs, "parent_resource_id")?;

    let size = check_inputs(
        format,
        &received,
        skeleton_inputs.as_ref(),
        state.config.max_inputs,
    )?;

    if let Some(parent) = &parent_resource_id {
        let Some(rel) = rt.parent_relationship() else {
            return Err(ApiError::invalid(
                pointer("parent_resource_id"),
                format!("{} have no parent resource", rt.name),
            ));
        };
        if !imports::parent_resource_exists(&*tx, rel.target, parent, &tenant).await? {
            return Err(ApiError::invalid(
                pointer("parent_resource_id"),
                format!("no {} has id '{parent}'", rel.target),
            ));
        }
    }

    // One create at a time per organization, so that the active-imports limit holds.
    let active = imports::lock_and_count_active(&*tx, &tenant.organization_id).await?;
    if active >= state.config.max_active {
        return Err(ApiError::too_many(
            format!(
                "{active} imports are pending or in progress; at most {} at once",
                state.config.max_active
            ),
            10,
        ));
    }
    let new = NewImport {
        tenant: tenant.clone(),
        resource_type: rt.name.to_owned(),
        format,
        csv_delimiter,
        parent_resource_id,
        inputs_size: size as i64,
        skip_errors,
        dry_run,
        reference,
        reference_origin,
        metadata,
    };
    // The request span's context (a child of the caller's traceparent, if any); without
    // tracing installed, the caller's headers as they came.
    let trace: Map<String, Value> = traces::current_trace_context_or(|| {
        ["traceparent", "tracestate"]
            .iter()
            .filter_map(|h| {
                headers
                    .get(*h)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| (h.to_string(), v.to_owned()))
            })
            .collect()
    })
    .into_iter()
    .map(|(k, v)| (k, json!(v)))
    .collect();
    let import =
        imports::insert_announced_import(&*tx, &import_id, &new, &Value::Object(trace)).await?;
    traces::record_import(&tracing::Span::current(), &import.id, rt.name, &tenant);
    tx.commit().await?;
    state.outbox_wake.notify_one();
    // The import exists from here on: a failure to read its inputs back must not turn the
    // answer into an error (a retrying client would create it twice).
    let data = match render(&state, &client, import.clone(), None).await {
        Ok(data) => data,
        Err(_) => import_resource(&import, &state.config.public_url),
    };
    let doc = json!({"data": data});
    let mut response = jsonapi(StatusCode::CREATED, &doc);
    if let Ok(location) = doc["data"]["links"]["self"]
        .as_str()
        .unwrap_or_default()
        .parse()
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Reads an import of the tenant, with its logs.
async fn find(
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

/// The resource object of an import, with `inputs` while pending, `attachment_url` after,
/// and only the `fields` asked for.
async fn render(
    state: &AppState,
    client: &tokio_postgres::Client,
    mut import: Import,
    fields: Option<&[String]>,
) -> Result<Value, ApiError> {
    let wants = |name: &str| fields.map(|f| f.iter().any(|x| x == name)).unwrap_or(true);
    if import.status == Status::Pending && wants("inputs") {
        let mut raw = Vec::new();
        let mut seq = 0;
        while let Some(chunk) =
            imports_storage::inputs::input_chunk(client, &import.id, seq).await?
        {
            raw.extend_from_slice(&chunk);
            seq += 1;
            if raw.len() > ECHO_INPUTS_MAX_BYTES {
                break;
            }
        }
        if raw.len() > ECHO_INPUTS_MAX_BYTES {
            // Echoing a large import back would cost many times its size in memory;
            // its owner has the inputs, and attachment_url serves them once it starts.
            raw.clear();
        }
        import.inputs = Some(match import.format {
            _ if raw.is_empty() => Value::Null,
            Format::Json => serde_json::from_slice(&raw).unwrap_or(Value::Null),
            Format::Csv => Value::String(String::from_utf8_lossy(&raw).into_owned()),
        });
    }
    if import.status != Status::Pending {
        import.attachment_url = Some(attachments::signed_url(state, &import.id));
    }
    let mut resource = import_resource(&import, &state.config.public_url);
    if let Some(fields) = fields {
        let all = import_attributes(&import);
        let picked: Map<String, Value> = all
            .into_iter()
            .filter(|(k, _)| fields.contains(k))
            .collect();
        resource["attributes"] = Value::Object(picked);
    }
    Ok(resource)
}

/// `GET /api/imports/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let fields = match pairs.iter().find(|(k, _)| k == "fields[imports]") {
        Some((_, v)) => Some(
            listing::parse(&[("fields[imports]".into(), v.clone())])?
                .fields
                .unwrap_or_default(),
        ),
        None => None,
    };
    let client = state.pool.get().await?;
    let import = find(&client, &tenant, &id).await?;
    let data = render(&state, &client, import, fields.as_deref()).await?;
    Ok(jsonapi(StatusCode::OK, &json!({"data": data})))
}

/// `GET /api/imports`.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let q = listing::parse(&pairs)?;
    let client = state.pool.get().await?;
    let (total, ids) = listing_ids(&**client, &tenant, &q.query).await?;
    let mut data = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(import) = imports::get_import(&**client, &id).await? {
            data.push(render(&state, &client, import, q.fields.as_deref()).await?);
        }
    }
    let page_count = (total + q.query.size - 1) / q.query.size;
    let link = |page: i64| {
        let mut pairs = q.link_pairs.clone();
        pairs.push(("page[number]".into(), page.to_string()));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!(
            "{}/api/imports?{}",
            state.config.public_url.trim_end_matches('/'),
            query.join("&")
        )
    };
    let mut links = json!({"first": link(1), "last": link(page_count.max(1))});
    if q.query.page > 1 {
        links["prev"] = json!(link((q.query.page - 1).min(page_count.max(1))));
    }
    if q.query.page < page_count {
        links["next"] = json!(link(q.query.page + 1));
    }
    Ok(jsonapi(
        StatusCode::OK,
        &json!({"data": data, "meta": {"record_count": total, "page_count": page_count}, "links": links}),
    ))
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `PATCH /api/imports/{id}`: `_interrupt`, `reference`, `reference_origin`, `metadata`.
pub async fn update(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let data = read_document(&headers, &body)?;
    if let Some(given) = data.get("id") {
        if given.as_str() != Some(id.as_str()) {
            return Err(ApiError::conflict(
                "/data/id",
                "data.id must be the id in the URL",
            ));
        }
    }
    let attrs = attributes(&data)?;
    for name in attrs.keys() {
        let attribute = import_attribute(name);
        if attribute.is_some_and(|a| a.on_update) {
            continue;
        }
        let why = match attribute {
            Some(a) if a.on_create => format!("{name} can only be set when the import is created"),
            Some(a) if a.readable => format!("{name} is read-only"),
            _ => format!("{name} is not an attribute of imports"),
        };
        return Err(ApiError::invalid(pointer(name), why));
    }
    let interrupt = match attrs.get("_interrupt") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => {
            return Err(ApiError::invalid(
                pointer("_interrupt"),
                "_interrupt must be true or false",
            ))
        }
    };
    let reference = attrs
        .contains_key("reference")
        .then(|| optional_string(&attrs, "reference"))
        .transpose()?;
    let reference_origin = attrs
        .contains_key("reference_origin")
        .then(|| optional_string(&attrs, "reference_origin"))
        .transpose()?;
    let metadata = metadata(&attrs)?;

    let mut client = state.pool.get().await?;
    let before = find(&client, &tenant, &id).await?;
    let changes = ImportChanges {
        reference,
        reference_origin,
        metadata,
    };
    imports::update_import(&**client, &id, &changes).await?;
    // A final import stays as it is; request_interrupt re-checks the status in its own
    // transaction, so a race with the worker is harmless.
    if interrupt && !before.status.is_final() {
        imports::request_interrupt(&mut client, &id).await?;
    }
    let import = find(&client, &tenant, &id).await?;
    let data = render(&state, &client, import, None).await?;
    Ok(jsonapi(StatusCode::OK, &json!({"data": data})))
}

/// `DELETE /api/imports/{id}`: interrupts a running import first; records already
/// imported stay.
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut client = state.pool.get().await?;
    let import = find(&client, &tenant, &id).await?;
    if !import.status.is_final() {
        imports::request_interrupt(&mut client, &id).await?;
    }
    imports::delete_import(&mut client, &id, import.status).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/imports/{id}/events`: the import's lifecycle events, oldest first.
pub async fn events(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let client = state.pool.get().await?;
    find(&client, &tenant, &id).await?;
    let data: Vec<Value> = imports_storage::events::events(&**client, &id)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id.to_string(),
                "type": "events",
                "attributes": {
                    "name": e.name,
                    "payload": e.payload,
                    "created_at": e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                },
                "relationships": {"import": {"data": {"type": "imports", "id": id}}},
            })
        })
        .collect();
    Ok(jsonapi(
        StatusCode::OK,
        &json!({"data": data, "meta": {"record_count": data.len()}}),
    ))
}

/// `GET /api/imports/{id}/failed_inputs`: the failed-inputs report (see
/// [`imports_common::failed_inputs`]): CSV to fix and import again, or with `?format=json`
/// (or `Accept: application/json`) a JSON array with one element per error.
pub async fn failed_inputs(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let report_format = report_format(&pairs, &headers)?;
    let client = state.pool.get().await?;
    let import = find(&client, &tenant, &id).await?;
    let mut failures: std::collections::BTreeMap<i64, Vec<imports_common::failed_inputs::Failure>> =
        Default::default();
    for e in logs::error_entries(&**client, &id).await? {
        failures.entry(e.position).or_default().push((
            e.key,
            e.attribute.unwrap_or_default(),
            e.message,
        ));
    }
    drop(client);
    let pool = state.pool.clone();
    let handle = tokio::runtime::Handle::current();
    let (format, delimiter) = (
        import.format,
        import.csv_delimiter.unwrap_or(DEFAULT_CSV_DELIMITER),
    );
    let report = tokio::task::spawn_blocking(move || {
        let reader = imports_runtime::stored_inputs::StoredInputs::new(handle, pool, id);
        let mut out = Vec::new();
        imports_common::failed_inputs::write_report(
            format,
            delimiter,
            reader,
            &failures,
            report_format,
            &mut out,
        )
        .map(|_| out)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let (content_type, extension) = match report_format {
        ReportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ReportFormat::Json => ("application/json", "json"),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-failed-inputs.{extension}\"",
                    import.id
                ),
            ),
        ],
        report,
    )
        .into_response())
}

/// The form of the failed-inputs report asked for: `?format=csv|json`, else the first of
/// `text/csv` and `application/json` in `Accept`, else CSV.
fn report_format(
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<ReportFormat, ApiError> {
    let mut asked = None;
    for (key, value) in pairs {
        if key != "format" {
            return Err(ApiError::bad_parameter(
                key,
                format!("'{key}' is not a known parameter"),
            ));
        }
        asked = Some(match value.as_str() {
            "csv" => ReportFormat::Csv,
            "json" => ReportFormat::Json,
            _ => {
                return Err(ApiError::bad_parameter(
                    "format",
                    "format must be csv or json",
                ))
            }
        });
    }
    if let Some(asked) = asked {
        return Ok(asked);
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first =
        accept
            .split(',')
            .find_map(|media| match media.split(';').next().unwrap_or("").trim() {
                "text/csv" => Some(ReportFormat::Csv),
                "application/json" => Some(ReportFormat::Json),
                _ => None,
            });
    Ok(first.unwrap_or(ReportFormat::Csv))
}
