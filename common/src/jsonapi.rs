//! The import as a JSON:API resource object, exactly as the reference API shows it.

use serde_json::{json, Map, Value};

use crate::model::Import;

/// The JSON:API `type` of imports.
pub const IMPORTS_TYPE: &str = "imports";

/// Renders an import as a JSON:API resource object:
/// `{"id", "type", "links": {"self"}, "attributes", "relationships": {"events"}, "meta": {"mode"}}`.
///
/// `base_url` is the public root of the API (e.g. `https://imports.example.com`), used to
/// build `links.self`. `inputs` is shown only while the import is pending; afterwards the raw
/// inputs are reached through `attachment_url`.
pub fn import_resource(import: &Import, base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    let self_url = format!("{base}/api/imports/{}", import.id);
    json!({
        "id": import.id,
        "type": IMPORTS_TYPE,
        "links": {"self": self_url},
        "attributes": import_attributes(import),
        "relationships": {
            "events": {
                "links": {
                    "self": format!("{self_url}/relationships/events"),
                    "related": format!("{self_url}/events"),
                }
            }
        },
        "meta": {"mode": import.tenant.mode.as_str()},
    })
}

/// The `attributes` member of an import resource, every readable attribute in the seed's order
/// (with `csv_delimiter`, ours, after `format`).
pub fn import_attributes(import: &Import) -> Map<String, Value> {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| match t {
        Some(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        None => Value::Null,
    };
    let inputs = if import.status == crate::model::Status::Pending {
        import.inputs.clone().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let mut a = Map::new();
    a.insert("resource_type".into(), json!(import.resource_type));
    a.insert("format".into(), json!(import.format.as_str()));
    a.insert(
        "csv_delimiter".into(),
        json!(import.csv_delimiter.map(crate::model::csv_delimiter_text)),
    );
    a.insert("dry_run".into(), json!(import.dry_run));
    a.insert(
        "parent_resource_id".into(),
        json!(import.parent_resource_id),
    );
    a.insert("status".into(), json!(import.status.as_str()));
    a.insert("started_at".into(), time(import.started_at));
    a.insert("completed_at".into(), time(import.completed_at));
    a.insert("interrupted_at".into(), time(import.interrupted_at));
    a.insert("inputs".into(), inputs);
    a.insert("inputs_size".into(), json!(import.inputs_size));
    a.insert("errors_count".into(), json!(import.errors_count));
    a.insert("warnings_count".into(), json!(import.warnings_count));
    a.insert("processed_count".into(), json!(import.processed_count));
    a.insert("created_count".into(), json!(import.created_count));
    a.insert("updated_count".into(), json!(import.updated_count));
    a.insert("errors_log".into(), json!(import.errors_log));
    a.insert("warnings_log".into(), json!(import.warnings_log));
    a.insert("attachment_url".into(), json!(import.attachment_url));
    a.insert("skip_errors".into(), json!(import.skip_errors));
    a.insert("created_at".into(), time(Some(import.created_at)));
    a.insert("updated_at".into(), time(Some(import.updated_at)));
    a.insert("reference".into(), json!(import.reference));
    a.insert("reference_origin".into(), json!(import.reference_origin));
    a.insert("metadata".into(), import.metadata.clone());
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use chrono::TimeZone;

    fn sample(status: Status) -> Import {
        let t0 = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let mut errors_log = ErrorsLog::default();
        errors_log.add("SKU001", "name", "can't be blank");
        let mut warnings_log = WarningsLog::default();
        warnings_log.add("SKU003", "metadata.color was ignored: unknown attribute");
        Import {
            id: "imp123".into(),
            tenant: Tenant {
                organization_id: "acme".into(),
                mode: Mode::Test,
            },
            resource_type: "skus".into(),
            format: Format::Csv,
            csv_delimiter: Some(b';'),
            dry_run: false,
            parent_resource_id: Some("pl1".into()),
            status,
            started_at: Some(t0),
            completed_at: Some(t0),
            interrupted_at: None,
            inputs: Some(json!("code,name\nA,a\n")),
            inputs_size: 3,
            errors_count: 1,
            warnings_count: 1,
            processed_count: 2,
            created_count: 1,
            updated_count: 1,
            errors_log,
            warnings_log,
            attachment_url: Some("https://x/attachment".into()),
            skip_errors: true,
            interrupt_requested: false,
            created_at: t0,
            updated_at: t0,
            reference: Some("ref-1".into()),
            reference_origin: Some("erp".into()),
            metadata: json!({"batch": 7}),
        }
    }

    #[test]
    fn every_field_of_the_seed_is_rendered() {
        let r = import_resource(&sample(Status::Completed), "http://api.test/");
        assert_eq!(r["type"], "imports");
        assert_eq!(r["id"], "imp123");
        assert_eq!(r["links"]["self"], "http://api.test/api/imports/imp123");
        assert_eq!(r["meta"]["mode"], "test");
        assert_eq!(
            r["relationships"]["events"]["links"]["related"],
            "http://api.test/api/imports/imp123/events"
        );
        let a = &r["attributes"];
        let expected = [
            ("resource_type", json!("skus")),
            ("format", json!("csv")),
            ("csv_delimiter", json!(";")),
            ("dry_run", json!(false)),
            ("parent_resource_id", json!("pl1")),
            ("status", json!("completed")),
            ("started_at", json!("2026-01-02T03:04:05.000Z")),
            ("completed_at", json!("2026-01-02T03:04:05.000Z")),
            ("interrupted_at", Value::Null),
            ("inputs", Value::Null),
            ("inputs_size", json!(3)),
            ("errors_count", json!(1)),
            ("warnings_count", json!(1)),
            ("processed_count", json!(2)),
            ("created_count", json!(1)),
            ("updated_count", json!(1)),
            (
                "errors_log",
                json!({"SKU001": {"name": ["can't be blank"]}}),
            ),
            (
                "warnings_log",
                json!({"SKU003": ["metadata.color was ignored: unknown attribute"]}),
            ),
            ("attachment_url", json!("https://x/attachment")),
            ("skip_errors", json!(true)),
            ("created_at", json!("2026-01-02T03:04:05.000Z")),
            ("updated_at", json!("2026-01-02T03:04:05.000Z")),
            ("reference", json!("ref-1")),
            ("reference_origin", json!("erp")),
            ("metadata", json!({"batch": 7})),
        ];
        for (name, value) in &expected {
            assert_eq!(&a[*name], value, "attribute {name}");
        }
        let names: Vec<&String> = a.as_object().unwrap().keys().collect();
        assert_eq!(
            names.len(),
            expected.len(),
            "no attribute beyond the seed's and ours (csv_delimiter, dry_run, the counts): {names:?}"
        );
        assert!(a.get("_interrupt").is_none(), "_interrupt is write-only");
    }

    #[test]
    fn inputs_are_shown_only_while_pending() {
        let r = import_resource(&sample(Status::Pending), "http://api.test");
        assert_eq!(r["attributes"]["inputs"], json!("code,name\nA,a\n"));
        for s in [Status::InProgress, Status::Completed, Status::Interrupted] {
            assert_eq!(
                import_resource(&sample(s), "http://api.test")["attributes"]["inputs"],
                Value::Null
            );
        }
    }
}
