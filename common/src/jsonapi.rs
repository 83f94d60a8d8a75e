//! The import as a JSON:API resource object, exactly as the reference API shows it, and the
//! one table of its attributes that rendering, the list's parameters, the writable checks and
//! storage's SELECT list all read.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::model::{Import, Mode};
pub use crate::shown::timestamp;
use crate::shown::Shown;

/// The JSON:API `type` of imports.
pub const IMPORTS_TYPE: &str = "imports";

/// The JSON:API type of events.
pub const EVENTS_TYPE: &str = "events";

/// An import as a JSON:API resource object, serialized straight into a response:
/// `{"id", "type", "links": {"self"}, "attributes", "relationships": {"events"}, "meta": {"mode"}}`.
///
/// `base_url` is the public root of the API (e.g. `https://imports.example.com`), used to
/// build the links. `inputs` is shown only while the import is pending; afterwards the raw
/// inputs are reached through `attachment_url`.
#[derive(Debug, Clone)]
pub struct ImportResource<'a> {
    import: &'a Import,
    base_url: &'a str,
    fields: Option<&'a [String]>,
    events: Option<Vec<i64>>,
}

impl<'a> ImportResource<'a> {
    /// The resource with every readable attribute and no events linked.
    pub fn new(import: &'a Import, base_url: &'a str) -> Self {
        ImportResource {
            import,
            base_url: base_url.trim_end_matches('/'),
            fields: None,
            events: None,
        }
    }

    /// Shows only the attributes of `fields[imports]` (all when `None`).
    pub fn fields(mut self, fields: Option<&'a [String]>) -> Self {
        self.fields = fields;
        self
    }

    /// Links the events of these ids in `relationships.events.data` (`include=events`).
    pub fn link_events(&mut self, ids: Vec<i64>) {
        self.events = Some(ids);
    }

    /// The import shown.
    pub fn import(&self) -> &'a Import {
        self.import
    }

    /// `links.self`.
    pub fn self_url(&self) -> String {
        self.url("").to_string()
    }

    fn url(&self, suffix: &'static str) -> ImportUrl<'a> {
        ImportUrl {
            base: self.base_url,
            id: &self.import.id,
            suffix,
        }
    }
}

impl Serialize for ImportResource<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry("id", &self.import.id)?;
        map.serialize_entry("type", IMPORTS_TYPE)?;
        map.serialize_entry(
            "links",
            &Links {
                self_: self.url(""),
            },
        )?;
        map.serialize_entry(
            "attributes",
            &Attributes {
                import: self.import,
                fields: self.fields,
            },
        )?;
        let events = EventsRelationship {
            links: RelationshipLinks {
                self_: self.url("/relationships/events"),
                related: self.url("/events"),
            },
            data: self.events.as_deref().map(EventLinkages),
        };
        map.serialize_entry("relationships", &Relationships { events })?;
        map.serialize_entry(
            "meta",
            &Meta {
                mode: self.import.tenant.mode.as_str(),
            },
        )?;
        map.end()
    }
}

/// `{base}/api/imports/{id}{suffix}`, written where it is shown.
#[derive(Debug, Clone, Copy)]
struct ImportUrl<'a> {
    base: &'a str,
    id: &'a str,
    suffix: &'static str,
}

impl std::fmt::Display for ImportUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/api/imports/{}{}", self.base, self.id, self.suffix)
    }
}

impl Serialize for ImportUrl<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Serialize)]
struct Links<U> {
    #[serde(rename = "self")]
    self_: U,
}

#[derive(Serialize)]
struct RelationshipLinks<U> {
    #[serde(rename = "self")]
    self_: U,
    related: U,
}

#[derive(Serialize)]
struct Relationships<'a> {
    events: EventsRelationship<'a>,
}

#[derive(Serialize)]
struct EventsRelationship<'a> {
    links: RelationshipLinks<ImportUrl<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<EventLinkages<'a>>,
}

#[derive(Serialize)]
struct Meta<'a> {
    mode: &'a str,
}

/// `[{"type": "events", "id": "7"}, ...]`.
struct EventLinkages<'a>(&'a [i64]);

impl Serialize for EventLinkages<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Linkage<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            id: String,
        }
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for id in self.0 {
            seq.serialize_element(&Linkage {
                kind: EVENTS_TYPE,
                id: id.to_string(),
            })?;
        }
        seq.end()
    }
}

/// The `attributes` of an import, in the table's order, only the `fields` asked for.
struct Attributes<'a> {
    import: &'a Import,
    fields: Option<&'a [String]>,
}

impl Serialize for Attributes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for a in shown_attributes(IMPORT_ATTRIBUTES, self.fields) {
            map.serialize_entry(a.name, &(a.render)(self.import))?;
        }
        map.end()
    }
}

/// The readable attributes of `table` that `fields` asks for (all when `None`), in order.
pub fn shown_attributes<'t, T>(
    table: &'t [Attribute<T>],
    fields: Option<&'t [String]>,
) -> impl Iterator<Item = &'t Attribute<T>> {
    table
        .iter()
        .filter(|a| a.readable)
        .filter(move |a| fields.is_none_or(|f| f.iter().any(|n| n == a.name)))
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
    pub render: fn(&T) -> Shown<'_>,
}

/// An attribute of imports.
pub type ImportAttribute = Attribute<Import>;

impl<T> Attribute<T> {
    /// A readable attribute, neither stored in a column nor queryable nor writable.
    pub(crate) const fn new(
        name: &'static str,
        kind: AttributeKind,
        render: fn(&T) -> Shown<'_>,
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

use AttributeKind::{Bool, Json, Number, String as Text, Time, Url};

/// Every attribute of imports, readable ones in the order `attributes` shows them (the seed's,
/// with `csv_delimiter`, ours, after `format`). `id` is the resource's own member, sortable and
/// filterable; `_interrupt` is an update's instruction, never shown.
pub const IMPORT_ATTRIBUTES: &[ImportAttribute] = &[
    ImportAttribute::new("id", Text, |i| Shown::Text(&i.id))
        .queryable()
        .hidden(),
    ImportAttribute::new("resource_type", Text, |i| Shown::Text(&i.resource_type))
        .queryable()
        .on_create(),
    ImportAttribute::new("format", Text, |i| Shown::Text(i.format.as_str()))
        .queryable()
        .on_create(),
    ImportAttribute::new("csv_delimiter", Text, |i| {
        i.csv_delimiter
            .map_or(Shown::Null, |d| Shown::Char(char::from(d)))
    })
    .queryable()
    .on_create(),
    ImportAttribute::new("dry_run", Bool, |i| Shown::Bool(i.dry_run))
        .queryable()
        .on_create(),
    ImportAttribute::new("parent_resource_id", Text, |i| {
        Shown::text(i.parent_resource_id.as_deref())
    })
    .queryable()
    .on_create(),
    ImportAttribute::new("status", Text, |i| Shown::Text(i.status.as_str())).queryable(),
    ImportAttribute::new("started_at", Time, |i| Shown::time(i.started_at)).queryable(),
    ImportAttribute::new("completed_at", Time, |i| Shown::time(i.completed_at)).queryable(),
    ImportAttribute::new("interrupted_at", Time, |i| Shown::time(i.interrupted_at)).queryable(),
    ImportAttribute::new("inputs", Json, |i| match (&i.inputs, i.status) {
        (Some(inputs), crate::model::Status::Pending) => Shown::Json(inputs),
        _ => Shown::Null,
    })
    .on_create(),
    ImportAttribute::new("inputs_size", Number, |i| Shown::Int(i.inputs_size)).queryable(),
    ImportAttribute::new("errors_count", Number, |i| Shown::Int(i.errors_count)).queryable(),
    ImportAttribute::new("warnings_count", Number, |i| Shown::Int(i.warnings_count)).queryable(),
    ImportAttribute::new("processed_count", Number, |i| Shown::Int(i.processed_count)).queryable(),
    ImportAttribute::new("created_count", Number, |i| Shown::Int(i.created_count)).queryable(),
    ImportAttribute::new("updated_count", Number, |i| Shown::Int(i.updated_count)).queryable(),
    ImportAttribute::new("errors_log", Json, |i| Shown::Errors(&i.errors_log)),
    ImportAttribute::new("warnings_log", Json, |i| Shown::Warnings(&i.warnings_log)),
    ImportAttribute::new("attachment_url", Url, |i| {
        Shown::text(i.attachment_url.as_deref())
    })
    .derived_queryable(),
    ImportAttribute::new("skip_errors", Bool, |i| Shown::Bool(i.skip_errors))
        .queryable()
        .on_create(),
    ImportAttribute::new("created_at", Time, |i| Shown::Time(i.created_at)).queryable(),
    ImportAttribute::new("updated_at", Time, |i| Shown::Time(i.updated_at)).queryable(),
    ImportAttribute::new("reference", Text, |i| Shown::text(i.reference.as_deref()))
        .queryable()
        .on_create()
        .on_update(),
    ImportAttribute::new("reference_origin", Text, |i| {
        Shown::text(i.reference_origin.as_deref())
    })
    .queryable()
    .on_create()
    .on_update(),
    ImportAttribute::new("metadata", Json, |i| Shown::Json(&i.metadata))
        .filterable()
        .on_create()
        .on_update(),
    ImportAttribute::new("_interrupt", Bool, |_| Shown::Null)
        .hidden()
        .on_update(),
];

/// The attribute called `name`, if imports have one.
pub fn import_attribute(name: &str) -> Option<&'static ImportAttribute> {
    IMPORT_ATTRIBUTES.iter().find(|a| a.name == name)
}

/// The `attributes` member of an import resource as a JSON object (for what keeps it, a
/// webhook payload): every readable attribute, in the table's order.
pub fn import_attributes(import: &Import) -> Map<String, Value> {
    shown_attributes(IMPORT_ATTRIBUTES, None)
        .map(|a| (a.name.to_owned(), (a.render)(import).to_value()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use chrono::TimeZone;

    fn import_resource(import: &Import, base_url: &str) -> Value {
        serde_json::to_value(ImportResource::new(import, base_url)).unwrap()
    }

    #[test]
    fn a_resource_shows_the_fields_asked_for_and_the_events_linked() {
        let import = sample(Status::Completed);
        let fields = [
            "status".to_owned(),
            "metadata".to_owned(),
            "nope".to_owned(),
        ];
        let mut resource = ImportResource::new(&import, "http://api.test/").fields(Some(&fields));
        resource.link_events(vec![3, 12]);
        assert_eq!(resource.self_url(), "http://api.test/api/imports/imp123");
        assert_eq!(
            serde_json::to_value(&resource).unwrap(),
            json!({
                "id": "imp123",
                "type": "imports",
                "links": {"self": "http://api.test/api/imports/imp123"},
                "attributes": {"status": "completed", "metadata": {"batch": 7}},
                "relationships": {"events": {
                    "links": {
                        "self": "http://api.test/api/imports/imp123/relationships/events",
                        "related": "http://api.test/api/imports/imp123/events",
                    },
                    "data": [{"type": "events", "id": "3"}, {"type": "events", "id": "12"}],
                }},
                "meta": {"mode": "test"},
            })
        );
        let text = serde_json::to_string(&ImportResource::new(&import, "http://api.test")).unwrap();
        assert!(
            text.starts_with(r#"{"id":"imp123","type":"imports","links":"#),
            "{text}"
        );
        assert_eq!(
            import_attributes(&import),
            import_resource(&import, "http://x")["attributes"]
                .as_object()
                .cloned()
                .unwrap()
        );
    }

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
