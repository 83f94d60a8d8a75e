//! `GET /api/imports/{id}/failed_inputs`: the report of the inputs that failed, as CSV or
//! JSON.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use imports_common::failed_inputs::ReportFormat;
use imports_common::inputs::DEFAULT_CSV_DELIMITER;
use imports_storage::logs;

use crate::auth::Authenticated;
use crate::errors::ApiError;
use crate::routes::imports::find;
use crate::AppState;

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
