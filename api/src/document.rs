//! Reading a JSON:API request document: its Content-Type, its `data.type`, and the typed
//! readers of its attributes, each failure a 4xx naming the attribute.

use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use serde_json::{json, Map, Value};

use crate::errors::{ApiError, JSONAPI};

/// The largest request document but a create's inputs: a PATCH, a create without its
/// inputs, any other JSON body. Attributes such as `metadata` are meant to be small.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The deepest nesting of arrays and objects a request document may have.
pub const MAX_JSON_DEPTH: usize = 32;

/// The most members (object keys and array elements, counted together) a request document may
/// have, so that a small body cannot become a large tree.
pub const MAX_JSON_MEMBERS: usize = 10_000;

/// Refuses a document nested deeper than [`MAX_JSON_DEPTH`] or with more than
/// [`MAX_JSON_MEMBERS`] members: a 422 pointing where the limit was passed.
pub(crate) fn check_shape(doc: &Value) -> Result<(), ApiError> {
    shape_problem(doc).map_or(Ok(()), |(at, why)| Err(ApiError::invalid(at, why)))
}

/// Where (a JSON pointer) and why a document passes [`MAX_JSON_DEPTH`] or
/// [`MAX_JSON_MEMBERS`], if it does.
pub(crate) fn shape_problem(doc: &Value) -> Option<(String, String)> {
    let mut members = 0usize;
    walk(doc, &mut String::new(), 0, &mut members).err()
}

fn walk(
    value: &Value,
    at: &mut String,
    depth: usize,
    members: &mut usize,
) -> Result<(), (String, String)> {
    let children: Box<dyn Iterator<Item = (String, &Value)>> = match value {
        Value::Object(map) => Box::new(map.iter().map(|(k, v)| (escape(k), v))),
        Value::Array(items) => Box::new(items.iter().enumerate().map(|(i, v)| (i.to_string(), v))),
        _ => return Ok(()),
    };
    if depth >= MAX_JSON_DEPTH {
        return Err((
            at.clone(),
            format!("the document nests deeper than {MAX_JSON_DEPTH} levels, the limit"),
        ));
    }
    for (key, child) in children {
        *members += 1;
        let len = at.len();
        at.push('/');
        at.push_str(&key);
        if *members > MAX_JSON_MEMBERS {
            return Err((
                at.clone(),
                format!("the document has more than {MAX_JSON_MEMBERS} members (keys and elements), the limit"),
            ));
        }
        walk(child, at, depth + 1, members)?;
        at.truncate(len);
    }
    Ok(())
}

/// A key as a JSON pointer segment.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

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

/// Checks `data.type` of a document of `imports`.
pub(crate) fn check_type(kind: Option<&Value>) -> Result<(), ApiError> {
    check_type_is(kind, "imports")
}

/// Checks that `data.type` of a document is `expected`.
pub(crate) fn check_type_is(kind: Option<&Value>, expected: &str) -> Result<(), ApiError> {
    match kind {
        Some(Value::String(t)) if t == expected => Ok(()),
        Some(_) => Err(ApiError::conflict(
            "/data/type",
            format!("type must be '{expected}'"),
        )),
        None => Err(ApiError::invalid("/data/type", "type is required")),
    }
}

/// Checks the Content-Type and parses the body as a JSON:API document with `data.type`
/// `imports`; returns `data`.
pub(crate) fn read_document(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Map<String, Value>, ApiError> {
    read_document_of(headers, body, "imports")
}

/// [`read_document`] for a document of resources of type `type_name`.
pub(crate) fn read_document_of(
    headers: &HeaderMap,
    body: &Bytes,
    type_name: &str,
) -> Result<Map<String, Value>, ApiError> {
    check_content_type(headers)?;
    let doc: Value = serde_json::from_slice(body).map_err(not_json)?;
    check_shape(&doc)?;
    let Some(Value::Object(data)) = doc.get("data").cloned() else {
        return Err(ApiError::invalid(
            "/data",
            "the document must have a data object",
        ));
    };
    check_type_is(data.get("type"), type_name)?;
    Ok(data)
}

/// Refuses a document whose `data.id` is given and is not `id`, the one in the URL.
pub(crate) fn check_id(data: &Map<String, Value>, id: &str) -> Result<(), ApiError> {
    match data.get("id") {
        Some(given) if given.as_str() != Some(id) => Err(ApiError::conflict(
            "/data/id",
            "data.id must be the id in the URL",
        )),
        _ => Ok(()),
    }
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

/// Which write a body's attributes are checked for: each sets its own attributes.
#[derive(Clone, Copy)]
pub(crate) enum Write {
    Create,
    Update,
}

/// Refuses an attribute of a `type_name` resource (attributes `table`) that the write
/// cannot set: read-only, settable only by the other write, or unknown, naming it.
pub(crate) fn refuse_unwritable<'a, T>(
    table: &'static [imports_common::jsonapi::Attribute<T>],
    type_name: &str,
    write: Write,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), ApiError> {
    let one = type_name.strip_suffix('s').unwrap_or(type_name);
    let an = if one.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    for name in names {
        let attribute = table.iter().find(|a| a.name == name);
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
                format!("{name} can only be sent to update {an} {one}")
            }
            (Write::Update, Some(_)) if other_only => {
                format!("{name} can only be set when the {one} is created")
            }
            (_, Some(a)) if a.readable => format!("{name} is read-only"),
            _ => format!("{name} is not an attribute of {type_name}"),
        };
        return Err(ApiError::invalid(pointer(name), why));
    }
    Ok(())
}
