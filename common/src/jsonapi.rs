//! The import as a JSON:API resource object, exactly as the reference API shows it, and the
//! one table of its attributes that rendering, the list's parameters, the writable checks and
//! storage's SELECT list all read.

use serde_json::{json, Map, Value};

use crate::model::{Import, Mode};

/// The JSON:API `type` of imports.
pub const IMPORTS_TYPE: &str = "imports";

/// Renders an import as a JSON:API resource object:
/// `{"id", "type", "links": {"self"}, "attributes", "relationships": {"events"}, "meta": {"mode"}}`.
///
/// `base_url` is the public root of the API (e.g. `https://imports.example.com`), used to
/// build `links.self`. `inputs` is shown only while the import is pending; afterwards the raw
/// inputs are reached through `attachment_url`.
pub fn import_resource(import: &Import, base_url: &str) -> Value {
    import_resource_object(
        &import.id,
        Value::Object(import_attributes(import)),
        import.tenant.mode,
        base_url,
    )
}

/// An import's resource object from its `attributes` as already rendered (a webhook
/// delivery keeps them as they were at its event).
pub fn import_resource_object(id: &str, attributes: Value, mode: Mode, base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    let self_url = format!("{base}/api/imports/{id}");
    json!({
        "id": id,
        "type": IMPORTS_TYPE,
        "links": {"self": self_url},
        "attributes": attributes,
        "relationships": {
            "events": {
                "links": {
                    "self": format!("{self_url}/relationships/events"),
                    "related": format!("{self_url}/events"),
                }
            }
        },
        "meta": {"mode": mode.as_str()},
    })
}

/// The type of an attribute's values: which filter predicates apply and how a filter's text is
/// read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    /// Text, compared as it is (`_eq`, `_in`, `_start`, `_cont`...).
    String,
    /// A whole number (`_eq`, `_in`, `_gt`...).
    Number,
    /// An ISO 8601 time (`_eq`, `_gt`...).
    Time,
    /// true or false (`_eq`, `_true`, `_null`).
    Bool,
    /// A JSON object or array: filtered by containment (`metadata_jcont`) where filterable,
    /// never sorted.
    Json,
    /// A URL made when the import is shown (`attachment_url`): filtered only by whether it is
    /// set (`_null`, `_present`...), sorted by that.
    Url,
}

/// One attribute of a resource (`T`: an [`Import`], a webhook...), with everything the API
/// and storage need to know of it.
#[derive(Debug)]
pub struct Attribute<T: 'static> {
    /// Its name in documents and in query parameters.
    pub name: &'static str,
    /// The column of `imports` that holds it, if one does (inputs are stored apart, the logs
    /// and the attachment URL are derived).
    pub column: Option<&'static str>,
    /// The type of its values.
    pub kind: AttributeKind,
    /// Shown in `attributes` (and so allowed in `fields[imports]`).
    pub readable: bool,
    /// Allowed in `sort`.
    pub sortable: bool,
    /// Allowed in `filter[q][...]`.
    pub filterable: bool,
    /// May be given when an import is created.
    pub on_create: bool,
    /// May be given when an import is updated.
    pub on_update: bool,
    /// Its value in `attributes`.
    pub render: fn(&T) -> Value,
}

/// An attribute of imports.
pub type ImportAttribute = Attribute<Import>;

impl<T> Attribute<T> {
    /// A readable attribute, neither stored in a column nor queryable nor writable.
    pub(crate) const fn new(
        name: &'static str,
        kind: AttributeKind,
        render: fn(&T) -> Value,
    ) -> Self {
        Attribute {
            name,
            column: None,
            kind,
            readable: true,
            sortable: false,
            filterable: false,
            on_create: false,
            on_update: false,
            render,
        }
    }

    /// Stored in its own column, and allowed in `sort` and `filter[q]`.
    pub(crate) const fn queryable(mut self) -> Self {
        self.column = Some(self.name);
        self.sortable = true;
        self.filterable = true;
        self
    }

    /// Stored in its own column, and allowed in `filter[q]` but not in `sort`.
    pub(crate) const fn filterable(mut self) -> Self {
        self.column = Some(self.name);
        self.filterable = true;
        self
    }

    /// Not stored, yet allowed in `sort` and `filter[q]` (storage writes its expression).
    pub(crate) const fn derived_queryable(mut self) -> Self {
        self.sortable = true;
        self.filterable = true;
        self
    }

    /// Writable when an import is created.
    pub(crate) const fn on_create(mut self) -> Self {
        self.on_create = true;
        self
    }

    /// Writable when an import is updated.
    pub(crate) const fn on_update(mut self) -> Self {
        self.on_update = true;
        self
    }

    /// Not shown in `attributes`.
    pub(crate) const fn hidden(mut self) -> Self {
        self.readable = false;
        self
    }
}

/// A timestamp as every resource of the API shows it: RFC 3339, milliseconds, `Z`.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A timestamp attribute's value: the time as [`timestamp`] writes it, or null.
pub(crate) fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    match t {
        Some(t) => Value::String(timestamp(t)),
        None => Value::Null,
    }
}

use AttributeKind::{Bool, Json, Number, String as Text, Time, Url};

/// Every attribute of imports, readable ones in the order `attributes` shows them (the seed's,
/// with `csv_delimiter`, ours, after `format`). `id` is the resource's own member, sortable and
/// filterable; `_interrupt` is an update's instruction, never shown.
pub const IMPORT_ATTRIBUTES: &[ImportAttribute] = &[
    ImportAttribute::new("id", Text, |i| json!(i.id))
        .queryable()
        .hidden(),
    ImportAttribute::new("resource_type", Text, |i| json!(i.resource_type))
        .queryable()
        .on_create(),
    ImportAttribute::new("format", Text, |i| json!(i.format.as_str()))
        .queryable()
        .on_create(),
    ImportAttribute::new("csv_delimiter", Text, |i| {
        json!(i.csv_delimiter.map(crate::model::csv_delimiter_text))
    })
    .queryable()
    .on_create(),
    ImportAttribute::new("dry_run", Bool, |i| json!(i.dry_run))
        .queryable()
        .on_create(),
    ImportAttribute::new("parent_resource_id", Text, |i| json!(i.parent_resource_id))
        .queryable()
        .on_create(),
    ImportAttribute::new("status", Text, |i| json!(i.status.as_str())).queryable(),
    ImportAttribute::new("started_at", Time, |i| time(i.started_at)).queryable(),
    ImportAttribute::new("completed_at", Time, |i| time(i.completed_at)).queryable(),
    ImportAttribute::new("interrupted_at", Time, |i| time(i.interrupted_at)).queryable(),
    ImportAttribute::new("inputs", Json, |i| {
        if i.status == crate::model::Status::Pending {
            i.inputs.clone().unwrap_or(Value::Null)
        } else {
            Value::Null
        }
    })
    .on_create(),
    ImportAttribute::new("inputs_size", Number, |i| json!(i.inputs_size)).queryable(),
    ImportAttribute::new("errors_count", Number, |i| json!(i.errors_count)).queryable(),
    ImportAttribute::new("warnings_count", Number, |i| json!(i.warnings_count)).queryable(),
    ImportAttribute::new("processed_count", Number, |i| json!(i.processed_count)).queryable(),
    ImportAttribute::new("created_count", Number, |i| json!(i.created_count)).queryable(),
    ImportAttribute::new("updated_count", Number, |i| json!(i.updated_count)).queryable(),
    ImportAttribute::new("errors_log", Json, |i| json!(i.errors_log)),
    ImportAttribute::new("warnings_log", Json, |i| json!(i.warnings_log)),
    ImportAttribute::new("attachment_url", Url, |i| json!(i.attachment_url)).derived_queryable(),
    ImportAttribute::new("skip_errors", Bool, |i| json!(i.skip_errors))
        .queryable()
        .on_create(),
    ImportAttribute::new("created_at", Time, |i| time(Some(i.created_at))).queryable(),
    ImportAttribute::new("updated_at", Time, |i| time(Some(i.updated_at))).queryable(),
    ImportAttribute::new("reference", Text, |i| json!(i.reference))
        .queryable()
        .on_create()
        .on_update(),
    ImportAttribute::new("reference_origin", Text, |i| json!(i.reference_origin))
        .queryable()
        .on_create()
        .on_update(),
    ImportAttribute::new("metadata", Json, |i| i.metadata.clone())
        .filterable()
        .on_create()
        .on_update(),
    ImportAttribute::new("_interrupt", Bool, |_| Value::Null)
        .hidden()
        .on_update(),
];

/// The attribute called `name`, if imports have one.
pub fn import_attribute(name: &str) -> Option<&'static ImportAttribute> {
    IMPORT_ATTRIBUTES.iter().find(|a| a.name == name)
}

/// The `attributes` member of an import resource: every readable attribute, in the table's
/// order.
pub fn import_attributes(import: &Import) -> Map<String, Value> {
    IMPORT_ATTRIBUTES
        .iter()
        .filter(|a| a.readable)
        .map(|a| (a.name.to_owned(), (a.render)(import)))
        .collect()
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

    /// The lists the table replaced, as they were: the table must say the same.
    #[test]
    fn the_table_says_what_the_five_lists_said() {
        let names = |f: fn(&ImportAttribute) -> bool| -> Vec<&str> {
            IMPORT_ATTRIBUTES
                .iter()
                .filter(|a| f(a))
                .map(|a| a.name)
                .collect()
        };
        assert_eq!(
            names(|a| a.readable),
            [
                "resource_type",
                "format",
                "csv_delimiter",
                "dry_run",
                "parent_resource_id",
                "status",
                "started_at",
                "completed_at",
                "interrupted_at",
                "inputs",
                "inputs_size",
                "errors_count",
                "warnings_count",
                "processed_count",
                "created_count",
                "updated_count",
                "errors_log",
                "warnings_log",
                "attachment_url",
                "skip_errors",
                "created_at",
                "updated_at",
                "reference",
                "reference_origin",
                "metadata",
            ]
        );
        let mut create = names(|a| a.on_create);
        create.sort_unstable();
        let mut expected = vec![
            "resource_type",
            "format",
            "csv_delimiter",
            "dry_run",
            "parent_resource_id",
            "inputs",
            "skip_errors",
            "reference",
            "reference_origin",
            "metadata",
        ];
        expected.sort_unstable();
        assert_eq!(create, expected);
        assert_eq!(
            names(|a| a.on_update),
            ["reference", "reference_origin", "metadata", "_interrupt"]
        );
        let mut sortable = names(|a| a.sortable);
        sortable.sort_unstable();
        let mut expected = vec![
            "id",
            "status",
            "resource_type",
            "format",
            "csv_delimiter",
            "dry_run",
            "parent_resource_id",
            "reference",
            "reference_origin",
            "inputs_size",
            "errors_count",
            "warnings_count",
            "processed_count",
            "created_count",
            "updated_count",
            "skip_errors",
            "attachment_url",
            "created_at",
            "updated_at",
            "started_at",
            "completed_at",
            "interrupted_at",
        ];
        expected.sort_unstable();
        assert_eq!(sortable, expected);
        // Every sortable attribute is filterable; metadata is filtered (by containment) only.
        let mut filterable = names(|a| a.filterable);
        filterable.sort_unstable();
        expected.push("metadata");
        expected.sort_unstable();
        assert_eq!(filterable, expected);
        for a in IMPORT_ATTRIBUTES.iter().filter(|a| a.filterable) {
            match a.kind {
                // Derived when shown: storage filters and sorts it by an expression.
                AttributeKind::Url => assert_eq!(a.column, None, "{}", a.name),
                _ => assert_eq!(
                    a.column,
                    Some(a.name),
                    "{} is filtered by its column",
                    a.name
                ),
            }
            assert!(
                a.kind != AttributeKind::Json || !a.sortable,
                "{} is not sorted as JSON",
                a.name
            );
        }
        let mut columns: Vec<&str> = IMPORT_ATTRIBUTES.iter().filter_map(|a| a.column).collect();
        columns.sort_unstable();
        let mut expected = vec![
            "id",
            "resource_type",
            "format",
            "parent_resource_id",
            "status",
            "started_at",
            "completed_at",
            "interrupted_at",
            "inputs_size",
            "errors_count",
            "warnings_count",
            "processed_count",
            "created_count",
            "updated_count",
            "skip_errors",
            "created_at",
            "updated_at",
            "reference",
            "reference_origin",
            "metadata",
            "csv_delimiter",
            "dry_run",
        ];
        expected.sort_unstable();
        assert_eq!(columns, expected);
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
