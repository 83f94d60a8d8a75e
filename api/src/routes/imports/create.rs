//! `POST /api/imports`: the body streamed in and staged (see [`crate::upload`]), its
//! attributes checked, then the inputs, the import and its outbox row written in one
//! transaction.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use imports_common::catalogue::{resource_type, ResourceType};
use imports_common::inputs::{parse_csv_delimiter, DEFAULT_CSV_DELIMITER};
use imports_common::model::Format;
use imports_runtime::telemetry::traces;
use imports_storage::imports::{self, NewImport};
use serde_json::{json, Map, Value};

use crate::auth::Authenticated;
use crate::document::{
    attributes, check_content_type, check_shape, check_type, metadata, not_json, optional_bool,
    optional_string, pointer,
};
use crate::errors::{jsonapi, ApiError};
use crate::render::{resource, shown_created, Single, ECHO_INPUTS_MAX_BYTES};
use crate::routes::imports::{refuse_unwritable, Write};
use crate::upload::staging::Staged;
use crate::upload::{self, CountError, InputsShape};
use crate::AppState;

/// The attributes of a create document's skeleton (see [`upload`]), all but `inputs`, and
/// what the skeleton holds for `inputs` (`true` where they were streamed).
fn read_create_attributes(
    skeleton: &[u8],
) -> Result<(Map<String, Value>, Option<Value>), ApiError> {
    let doc: Value = serde_json::from_slice(skeleton).map_err(not_json)?;
    check_shape(&doc)?;
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
        Err(CountError::InputTooLarge(position)) => Err(ApiError::invalid(
            format!("{}/{position}", pointer("inputs")),
            imports_common::inputs::input_too_large(*position).0,
        )),
        // Malformed JSON inside the array is a malformed body; CSV text that cannot be
        // read is an invalid attribute.
        Err(CountError::Unreadable(why)) if format == Format::Json => {
            Err(ApiError::bad_request(why.clone()))
        }
        Err(CountError::Unreadable(why)) => Err(invalid(why)),
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

/// `POST /api/imports`.
pub async fn create(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_content_type(&headers)?;
    let limits = &state.config.http;
    let pace = upload::Pace {
        timeout: limits.body_timeout,
        min_bytes_per_second: limits.min_body_bytes_per_second,
    };
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|n| n > state.config.max_body_bytes as u64) {
        return Err(upload::refuse_oversized(body, state.config.max_body_bytes, pace).await);
    }
    // The inputs are staged while the body arrives (see `upload`), with no database
    // connection held; the transaction comes once the document is whole.
    let import_id = imports_common::ids::new_id();
    let (receiving, chunks) = upload::receive(
        body,
        upload::Limits {
            max_body_bytes: state.config.max_body_bytes,
            max_inputs: state.config.max_inputs,
            pace,
        },
        // A slow body takes a permit of the tenant's share, held until the create answers.
        upload::Share {
            permits: state.uploads.clone(),
            tenant: tenant.clone(),
        },
    );
    let mut staged = Staged::new(&limits.upload_dir);
    let staging = async {
        let mut chunks = chunks;
        while let Some(chunk) = chunks.recv().await {
            staged.push(chunk).await?;
        }
        Ok::<(), std::io::Error>(())
    };
    let (received, stored) = tokio::join!(receiving, staging);
    // A staging failure stops the receiving too: it is the cause to report.
    stored.map_err(upload::staging_failed)?;
    let mut received = received?;
    let (attrs, skeleton_inputs) = read_create_attributes(&received.skeleton)?;
    let names = attrs.keys().map(String::as_str);
    refuse_unwritable(
        Write::Create,
        names.chain((received.shape != InputsShape::Absent).then_some("inputs")),
    )?;
    let rt = resource_type_of(&attrs)?;
    let format = format_of(&attrs)?;
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
                upload::recount(&mut staged, delimiter, state.config.max_inputs).await?;
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

    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    imports::limit_active(&tx, state.config.max_active).await?;
    let mut chunks = staged.chunks().await.map_err(upload::staging_failed)?;
    let mut seq = 0i32;
    // What the answer echoes as `inputs`, kept while small enough to echo.
    let mut echo = Some(Vec::new());
    while let Some(chunk) = chunks.next().await.map_err(upload::staging_failed)? {
        imports_storage::inputs::append_input_chunk(&tx, &import_id, seq, &chunk).await?;
        seq += 1;
        echo = echo.filter(|e| e.len() + chunk.len() <= ECHO_INPUTS_MAX_BYTES);
        if let Some(e) = echo.as_mut() {
            e.extend_from_slice(&chunk);
        }
    }
    if let Some(parent) = &parent_resource_id {
        let Some(rel) = rt.parent_relationship() else {
            return Err(ApiError::invalid(
                pointer("parent_resource_id"),
                format!("{} have no parent resource", rt.name),
            ));
        };
        if !imports::parent_resource_exists(&tx, rel.target, parent, &tenant).await? {
            return Err(ApiError::invalid(
                pointer("parent_resource_id"),
                format!("no {} has id '{parent}'", rel.target),
            ));
        }
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
        trace_context: trace_context(&headers),
    };
    let import = imports::insert_announced_import(&tx, &import_id, &new).await?;
    if let Err(e) = tx.commit().await {
        return Err(match imports::over_active_limit(&e) {
            Some(active) => ApiError::too_many(
                format!(
                    "{active} imports are pending or in progress; at most {} at once",
                    state.config.max_active
                ),
                10,
            ),
            None => e.into(),
        });
    }
    traces::record_import(&tracing::Span::current(), &import.id, rt.name, &tenant);
    drop(client);
    state.outbox_wake.notify_one();
    let import = shown_created(&state, import, echo.as_deref());
    let data = resource(&state, &import, None);
    let mut response = jsonapi(
        StatusCode::CREATED,
        &Single {
            data: &data,
            included: None,
        },
    );
    if let Ok(location) = data.self_url().parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `resource_type`: required, a type of the catalogue.
fn resource_type_of(attrs: &Map<String, Value>) -> Result<&'static ResourceType, ApiError> {
    Ok(match attrs.get("resource_type") {
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
    })
}

/// `format`: `json` (the default) or `csv`.
fn format_of(attrs: &Map<String, Value>) -> Result<Format, ApiError> {
    Ok(match attrs.get("format") {
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
    })
}

/// The trace context stored with the outbox row: the request span's (a child of the caller's
/// traceparent, if any); without tracing installed, the caller's headers as they came.
fn trace_context(headers: &HeaderMap) -> Value {
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
    Value::Object(trace)
}
