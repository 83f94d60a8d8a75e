//! Reading a JSON:API request document: its Content-Type, its `data.type`, and the typed
//! readers of its attributes, each failure a 4xx naming the attribute.

use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use serde_json::{json, Map, Value};

use crate::errors::{ApiError, JSONAPI};

/// The JSON pointer of an attribute, for error documents.
pub(crate) fn pointer(attribute: &str) -> String {
    format!("/data/attributes/{attribute}")
}

/// Refuses a body that is not JSON:API (or plain JSON).
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
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
pub(crate) fn check_type(kind: Option<&Value>) -> Result<(), ApiError> {
    match kind {
        Some(Value::String(t)) if t == "imports" => Ok(()),
        Some(_) => Err(ApiError::conflict("/data/type", "type must be 'imports'")),
        None => Err(ApiError::invalid("/data/type", "type is required")),
    }
}

/// Checks the Content-Type and parses the body as a JSON:API document with `data.type`
/// `imports`; returns `data`.
pub(crate) fn read_document(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Map<String, Value>, ApiError> {
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

/// The error of a body that is not JSON.
pub(crate) fn not_json(e: serde_json::Error) -> ApiError {
    ApiError::bad_request(format!("the body is not valid JSON: {e}"))
}

/// `data.attributes` of a document, empty when absent.
pub(crate) fn attributes(data: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
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
pub(crate) fn optional_bool(attrs: &Map<String, Value>, name: &str) -> Result<bool, ApiError> {
    match attrs.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid(
            pointer(name),
            format!("{name} must be true or false"),
        )),
    }
}

/// A string attribute of at most 1024 characters and no NUL, `None` when not given.
pub(crate) fn optional_string(
    attrs: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, ApiError> {
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

/// `metadata`: an object (null stands for `{}`), `None` when not given.
pub(crate) fn metadata(attrs: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
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
