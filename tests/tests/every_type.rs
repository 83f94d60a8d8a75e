//! Every resource type of the catalogue, end to end: create, update by natural key, update by
//! id, relationships by key and by id, the parent given by the import, and the errors of a
//! missing required value, a value of the wrong type and a related record that does not exist,
//! each in JSON and in CSV, through a real worker, RabbitMQ and Postgres.
//!
//! The inputs are generated from the declarations of `imports_common::catalogue::CATALOGUE`
//! (attributes and their types, relationships, natural keys, parents), not written by hand:
//! a type added to the catalogue is tested by adding its name to the `every_type!` list, and
//! `every_catalogue_type_is_tested` fails until it is. Related records an input needs are
//! generated the same way and imported first, once per test.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures::future::BoxFuture;
use imports_common::catalogue::{
    resource_type, Attribute, AttributeType, Relationship, ResourceType, CATALOGUE,
};
use imports_common::model::{Import, Status};
use imports_tests::{ImportSpec, TestEnv};
use serde_json::{json, Map, Value};
use tokio_postgres::types::ToSql;

/// How long one import may take.
const WAIT: Duration = Duration::from_secs(60);

/// One test per resource type, and the list of the types tested.
macro_rules! every_type {
    ($($name:ident),* $(,)?) => {
        /// One end-to-end test per resource type, named after it.
        mod types {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::check_type(stringify!($name)).await;
                }
            )*
        }

        /// The types the macro made a test for, in catalogue order.
        const TESTED: &[&str] = &[$(stringify!($name)),*];
    };
}

every_type!(
    customer_groups,
    tax_calculators,
    price_lists,
    markets,
    shipping_categories,
    addresses,
    stock_locations,
    tags,
    skus,
    prices,
    price_tiers,
    stock_items,
    stock_transfers,
    sku_lists,
    sku_list_items,
    bundles,
    sku_options,
    customers,
    customer_addresses,
    customer_payment_sources,
    customer_subscriptions,
    gift_cards,
    promotions,
    coupon_codes_promotion_rules,
    coupons,
    tax_categories,
    orders,
    line_items,
    line_item_options,
);

#[test]
fn every_catalogue_type_is_tested() {
    let catalogue: Vec<&str> = CATALOGUE.iter().map(|rt| rt.name).collect();
    assert_eq!(
        TESTED, catalogue,
        "every_type!(...) must list the catalogue's types, in its order"
    );
}

/// The format inputs are imported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// How a generated input names its related records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    /// By natural key (`sku_code`) where the relationship allows it, else by id.
    ByKey,
    /// By id (`sku_id`).
    ById,
}

/// A record as stored (its row as JSON).
#[derive(Debug, Clone)]
struct Record {
    id: String,
    row: Map<String, Value>,
}

impl Record {
    /// A column's value as text (`""` when NULL).
    fn text(&self, column: &str) -> String {
        self.row.get(column).map(scalar_text).unwrap_or_default()
    }
}

/// A generated input of a type, and the records its relationships name.
#[derive(Debug, Clone)]
struct Sample {
    /// Its number, which makes its keys unique.
    n: u64,
    /// The input, as a JSON object.
    input: Map<String, Value>,
    /// The record each relationship it names (or that the import names) points to.
    related: Vec<(&'static Relationship, Record)>,
}

/// What a check expects of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    processed: i64,
    created: i64,
    updated: i64,
    errors: i64,
}

impl Counts {
    const CREATED: Counts = Counts {
        processed: 1,
        created: 1,
        updated: 0,
        errors: 0,
    };
    const UPDATED: Counts = Counts {
        processed: 1,
        created: 0,
        updated: 1,
        errors: 0,
    };
    fn failed(errors: i64) -> Counts {
        Counts {
            processed: 0,
            created: 0,
            updated: 0,
            errors,
        }
    }
}

/// One test's state: its environment, the next input number, and the related records already
/// created (one per type, shared by the inputs that need one).
struct Run<'e> {
    env: &'e TestEnv,
    next: u64,
    shared: HashMap<&'static str, Record>,
}

/// Tests one resource type: every case, in JSON then in CSV.
async fn check_type(name: &str) {
    let rt = resource_type(name).unwrap_or_else(|| panic!("{name} is in the catalogue"));
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let mut run = Run {
        env: &env,
        next: 1,
        shared: HashMap::new(),
    };
    for format in [Format::Json, Format::Csv] {
        run.create_and_update(rt, format).await;
        run.relationships_by_id(rt, format).await;
        run.errors(rt, format).await;
        run.missing_parent(rt, format).await;
    }
    worker.stop().await;
}

impl Run<'_> {
    /// Cases 1 to 3: a create naming relationships by key, then an update by natural key and
    /// one by id, each checked column by column.
    async fn create_and_update(&mut self, rt: &'static ResourceType, format: Format) {
        let what = |case: &str| format!("{} {format:?} {case}", rt.name);
        let before = self.count(rt).await;
        let sample = self.sample(rt, Naming::ByKey, None).await;
        let done = self
            .import(rt, format, std::slice::from_ref(&sample.input), None, false)
            .await;
        assert_done(&done, &what("create"), Counts::CREATED);
        let record = self.record(rt, sample.n).await;
        self.assert_stored(
            rt,
            &record.id,
            &expected(rt, &sample, format),
            &what("create"),
        )
        .await;
        assert_eq!(self.count(rt).await, before + 1, "{}", what("create"));

        // The same natural key, other values.
        let mut changed = sample.clone();
        let n = sample.n;
        changed
            .input
            .insert("reference_origin".into(), json!(format!("updated-{n}")));
        if let Some(attr) = changeable_text(rt) {
            changed
                .input
                .insert(attr.into(), json!(format!("{attr}-{n}-v2")));
        }
        let done = self
            .import(
                rt,
                format,
                std::slice::from_ref(&changed.input),
                None,
                false,
            )
            .await;
        assert_done(&done, &what("update by natural key"), Counts::UPDATED);
        let mut stored = expected(rt, &changed, format);
        self.assert_stored(rt, &record.id, &stored, &what("update by natural key"))
            .await;
        assert_eq!(
            self.count(rt).await,
            before + 1,
            "{}: no record added",
            what("update by natural key")
        );

        // By id.
        let by_id = object(json!({"id": record.id, "reference_origin": format!("by-id-{n}")}));
        let done = self.import(rt, format, &[by_id], None, false).await;
        assert_done(&done, &what("update by id"), Counts::UPDATED);
        set_expected(&mut stored, "reference_origin", format!("by-id-{n}"));
        self.assert_stored(rt, &record.id, &stored, &what("update by id"))
            .await;
        assert_eq!(self.count(rt).await, before + 1, "{}", what("update by id"));
    }

    /// Case 4: a record naming every relationship by id, and one that gets its parent from the
    /// import's `parent_resource_id`.
    async fn relationships_by_id(&mut self, rt: &'static ResourceType, format: Format) {
        let what = |case: &str| format!("{} {format:?} {case}", rt.name);
        if rt.relationships.is_empty() {
            return;
        }
        let sample = self.sample(rt, Naming::ById, None).await;
        let done = self
            .import(rt, format, std::slice::from_ref(&sample.input), None, false)
            .await;
        assert_done(&done, &what("relationships by id"), Counts::CREATED);
        let record = self.record(rt, sample.n).await;
        let stored = expected(rt, &sample, format);
        self.assert_stored(rt, &record.id, &stored, &what("relationships by id"))
            .await;

        let Some(parent) = rt.parent_relationship() else {
            return;
        };
        let mut sample = self.sample(rt, Naming::ByKey, Some(parent.name)).await;
        let target = self.related(rt, parent).await;
        sample.related.push((parent, target.clone()));
        let done = self
            .import(
                rt,
                format,
                std::slice::from_ref(&sample.input),
                Some(&target.id),
                false,
            )
            .await;
        assert_done(&done, &what("parent from the import"), Counts::CREATED);
        let record = self.record(rt, sample.n).await;
        let stored = expected(rt, &sample, format);
        self.assert_stored(rt, &record.id, &stored, &what("parent from the import"))
            .await;
    }

    /// Case 5: in one import, an input lacking a required value, one with a value of the
    /// wrong type and one naming a related record that does not exist. Each fails alone, under
    /// its own key, and nothing is written.
    async fn errors(&mut self, rt: &'static ResourceType, format: Format) {
        let what = format!("{} {format:?} errors", rt.name);
        let before = self.count(rt).await;
        // (input, attribute of the error, part of its message)
        let mut failing: Vec<(Map<String, Value>, &str, &str)> = Vec::new();

        match missing_required(rt) {
            Missing::Attribute(attr) => {
                let mut sample = self.sample(rt, Naming::ByKey, None).await;
                sample.input.remove(attr);
                failing.push((sample.input, attr, "can't be blank"));
            }
            Missing::Relationship(rel) => {
                let sample = self.sample(rt, Naming::ByKey, Some(rel.name)).await;
                failing.push((sample.input, rel.name, "can't be blank"));
            }
        }

        let bad = bad_value(rt, format);
        let mut sample = self.sample(rt, Naming::ByKey, None).await;
        sample.input.insert(bad.attribute.into(), bad.value);
        failing.push((sample.input, bad.attribute, bad.message));

        if let Some(rel) = missing_relationship(rt) {
            let mut sample = self.sample(rt, Naming::ByKey, Some(rel.name)).await;
            let n = sample.n;
            match rel.by_key {
                Some(k) => {
                    let email = rt
                        .attribute(k.input)
                        .is_some_and(|a| a.ty == AttributeType::Email);
                    let key = if email {
                        format!("missing-{n}@example.com")
                    } else {
                        format!("missing-{n}")
                    };
                    sample.input.insert(k.input.into(), json!(key));
                }
                None => {
                    sample
                        .input
                        .insert(rel.id_attribute.into(), json!(format!("missing-{n}")));
                }
            }
            failing.push((sample.input, rel.name, "must exist"));
        }

        let keys: BTreeSet<String> = failing.iter().map(|(i, _, _)| log_key(rt, i)).collect();
        assert_eq!(keys.len(), failing.len(), "{what}: distinct keys {keys:?}");
        let rows: Vec<Map<String, Value>> = failing.iter().map(|(i, _, _)| i.clone()).collect();
        let done = self.import(rt, format, &rows, None, true).await;
        assert_done(&done, &what, Counts::failed(failing.len() as i64));
        for (input, attribute, message) in &failing {
            assert_logged(&done, &log_key(rt, input), attribute, message, &what);
        }
        assert_eq!(self.count(rt).await, before, "{what}: nothing written");
    }

    /// Case 6: an import whose parent does not exist fails the inputs that do not name their
    /// own.
    async fn missing_parent(&mut self, rt: &'static ResourceType, format: Format) {
        let Some(parent) = rt.parent_relationship() else {
            return;
        };
        let what = format!("{} {format:?} missing parent", rt.name);
        let before = self.count(rt).await;
        let sample = self.sample(rt, Naming::ByKey, Some(parent.name)).await;
        let done = self
            .import(
                rt,
                format,
                std::slice::from_ref(&sample.input),
                Some("nope"),
                true,
            )
            .await;
        assert_done(&done, &what, Counts::failed(1));
        let key = log_key(rt, &sample.input);
        assert_logged(&done, &key, parent.name, "must exist", &what);
        assert_eq!(self.count(rt).await, before, "{what}: nothing written");
    }

    /// A valid input of `rt`, with a new number; its relationships, but `omit`, name records
    /// that exist (created first if needed), as `naming` says.
    async fn sample(
        &mut self,
        rt: &'static ResourceType,
        naming: Naming,
        omit: Option<&str>,
    ) -> Sample {
        let n = self.next;
        self.next += 1;
        let mut input = Map::new();
        let polymorphic_id = rt.polymorphic.map(|p| p.id_attribute);
        for attr in rt.attributes {
            // Filled by its relationship, with the related record's key; a polymorphic id
            // (a line item's `item_id`) would name the same record a second way.
            if !rt.is_relationship_key_input(attr.name) && polymorphic_id != Some(attr.name) {
                input.insert(attr.name.into(), value_for(rt, attr, n));
            }
        }
        input.insert("reference".into(), json!(reference(rt, n)));
        input.insert("metadata".into(), json!({ "n": n }));
        let mut related = Vec::new();
        for rel in rt.relationships {
            if Some(rel.name) == omit {
                continue;
            }
            let target = self.related(rt, rel).await;
            name_related(&mut input, rel, &target, naming);
            related.push((rel, target));
        }
        Sample { n, input, related }
    }

    /// A record `rel` of `rt` can name: a new one when the relationship is what makes the
    /// natural keys of `rt` unique (see [`fresh_relationship`]), else the one shared by the
    /// test.
    async fn related(&mut self, rt: &'static ResourceType, rel: &'static Relationship) -> Record {
        let target = resource_type(rel.target).expect("the target is declared");
        if fresh_relationship(rt) == Some(rel.name) {
            return self.create(target).await;
        }
        if let Some(record) = self.shared.get(target.name) {
            return record.clone();
        }
        let record = self.create(target).await;
        self.shared.insert(target.name, record.clone());
        record
    }

    /// Imports a new valid record of `rt` (its relationships by key) and reads it back.
    fn create(&mut self, rt: &'static ResourceType) -> BoxFuture<'_, Record> {
        Box::pin(async move {
            let sample = self.sample(rt, Naming::ByKey, None).await;
            let done = self
                .import(rt, Format::Json, &[sample.input], None, false)
                .await;
            assert_done(
                &done,
                &format!("{} (a related record)", rt.name),
                Counts::CREATED,
            );
            self.record(rt, sample.n).await
        })
    }

    /// Imports `rows` of `rt` and waits until the import is over.
    async fn import(
        &self,
        rt: &ResourceType,
        format: Format,
        rows: &[Map<String, Value>],
        parent: Option<&str>,
        skip_errors: bool,
    ) -> Import {
        let json = Value::Array(rows.iter().cloned().map(Value::Object).collect());
        let csv = to_csv(rows);
        let mut spec = match format {
            Format::Json => ImportSpec::json(rt.name, &json),
            Format::Csv => ImportSpec::csv(rt.name, &csv),
        };
        if let Some(parent) = parent {
            spec = spec.parent(parent);
        }
        if skip_errors {
            spec = spec.skip_errors();
        }
        let import = self.env.submit(spec).await;
        self.env.wait_final(&import.id, WAIT).await
    }

    /// The record of `rt` generated with number `n` (found by its unique `reference`).
    async fn record(&self, rt: &ResourceType, n: u64) -> Record {
        let client = self.env.pool.get().await.unwrap();
        let sql = format!(
            "SELECT to_jsonb(t)::text FROM {} t
             WHERE organization_id = $1 AND mode = $2 AND reference = $3",
            rt.name
        );
        let rows = client
            .query(
                &sql,
                &[
                    &self.env.tenant.organization_id,
                    &self.env.tenant.mode.as_str(),
                    &reference(rt, n),
                ],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{} number {n} is stored once", rt.name);
        let row: Value = serde_json::from_str(rows[0].get::<_, &str>(0)).unwrap();
        let Value::Object(row) = row else {
            unreachable!("a row is an object")
        };
        let id = row["id"].as_str().expect("an id").to_owned();
        Record { id, row }
    }

    /// How many records of `rt` the tenant has.
    async fn count(&self, rt: &ResourceType) -> i64 {
        let client = self.env.pool.get().await.unwrap();
        let sql = format!(
            "SELECT count(*) FROM {} WHERE organization_id = $1 AND mode = $2",
            rt.name
        );
        client
            .query_one(
                &sql,
                &[
                    &self.env.tenant.organization_id,
                    &self.env.tenant.mode.as_str(),
                ],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Asserts that the record `id` of `rt` holds the expected values, compared in SQL as
    /// values of each column's type.
    async fn assert_stored(
        &self,
        rt: &ResourceType,
        id: &str,
        expected: &[(&'static str, String)],
        what: &str,
    ) {
        let columns = rt.columns();
        let mode = self.env.tenant.mode.as_str();
        let mut params: Vec<&(dyn ToSql + Sync)> =
            vec![&self.env.tenant.organization_id, &mode, &id];
        let mut checks = Vec::new();
        for (name, value) in expected {
            let column = columns
                .iter()
                .find(|c| c.name == *name)
                .unwrap_or_else(|| panic!("{what}: {name} is a column of {}", rt.name));
            params.push(value);
            checks.push(format!(
                "({name} IS NOT DISTINCT FROM ${}::text::{})",
                params.len(),
                column.sql_type
            ));
        }
        let sql = format!(
            "SELECT to_jsonb(t)::text, {} FROM {} t
             WHERE organization_id = $1 AND mode = $2 AND id = $3",
            checks.join(", "),
            rt.name
        );
        let client = self.env.pool.get().await.unwrap();
        let rows = client.query(&sql, &params).await.unwrap();
        assert_eq!(rows.len(), 1, "{what}: record {id} is the tenant's");
        let wrong: Vec<String> = expected
            .iter()
            .enumerate()
            .filter(|(i, _)| !rows[0].get::<_, bool>(i + 1))
            .map(|(_, (name, value))| format!("{name} (expected {value})"))
            .collect();
        assert!(
            wrong.is_empty(),
            "{what}: stored values differ: {wrong:?}\nrow: {}",
            rows[0].get::<_, &str>(0)
        );
    }
}

/// The `reference` of input number `n` of `rt`, unique in its table.
fn reference(rt: &ResourceType, n: u64) -> String {
    format!("ref-{}-{n}", rt.name)
}

/// A value of `attr` for input number `n`: unique where it is part of the natural key.
fn value_for(rt: &ResourceType, attr: &Attribute, n: u64) -> Value {
    let in_key = rt.natural_key.contains(&attr.name);
    match attr.ty {
        AttributeType::Text => match attr.one_of.first() {
            Some(first) => json!(first),
            // As long as the attribute must be (a coupon's code has 8 characters or more).
            None => json!(format!(
                "{}-{n:0width$}",
                attr.name,
                width = attr.min_length.unwrap_or(0)
            )),
        },
        AttributeType::Integer => {
            let min = attr.min.unwrap_or(0);
            let value = if in_key { min + 10 * n as i64 } else { min + 1 };
            json!(attr.max.map_or(value, |max| value.min(max)))
        }
        AttributeType::Float => json!(1.5),
        // (Not the reference API's `_compute_...` triggers, which would override the values
        // the test gives.)
        AttributeType::Boolean => json!(!attr.name.starts_with('_')),
        AttributeType::Email => json!(format!("user{n}@example.com")),
        AttributeType::CurrencyCode => json!("EUR"),
        AttributeType::Timestamp => json!("2026-01-31T12:00:00Z"),
        AttributeType::Object => json!({"k": "v"}),
        AttributeType::List => json!(["a", "b"]),
    }
}

/// Names `target` in `input` for `rel`: by its key where asked and possible, else by id.
fn name_related(
    input: &mut Map<String, Value>,
    rel: &Relationship,
    target: &Record,
    naming: Naming,
) {
    match (naming, rel.by_key) {
        (Naming::ByKey, Some(key)) => {
            input.insert(key.input.into(), json!(target.text(key.target_column)));
        }
        _ => {
            input.insert(rel.id_attribute.into(), json!(target.id));
        }
    }
}

/// The relationship whose record must be new for each input of `rt`, when the natural key of
/// `rt` is made of relationships only (a price is keyed by its SKU and price list): the one
/// that gives the input its log key (so that failing inputs are logged apart), else the one
/// of the last key column. Other related records are shared.
fn fresh_relationship(rt: &ResourceType) -> Option<&'static str> {
    let of_column = |column: &str| {
        rt.relationships
            .iter()
            .find(|r| r.id_attribute == column || r.is_key_input(column))
    };
    let rels: Vec<&Relationship> = rt
        .natural_key
        .iter()
        .map(|c| of_column(c))
        .collect::<Option<_>>()?;
    rels.iter()
        .find(|r| r.is_key_input(rt.log_key))
        .or(rels.last())
        .map(|r| r.name)
}

/// A text attribute an update may change: not part of the natural key, not naming a related
/// record, free text.
fn changeable_text(rt: &ResourceType) -> Option<&'static str> {
    rt.attributes
        .iter()
        .find(|a| {
            a.ty == AttributeType::Text
                && a.one_of.is_empty()
                && !rt.natural_key.contains(&a.name)
                && !rt.is_relationship_key_input(a.name)
        })
        .map(|a| a.name)
}

/// What an input leaves out to lack a required value.
enum Missing {
    Attribute(&'static str),
    Relationship(&'static Relationship),
}

/// A required attribute outside the natural key; else a required relationship (one that does
/// not also give the input its log key); else a required attribute of the natural key.
fn missing_required(rt: &ResourceType) -> Missing {
    let required = |a: &&Attribute| a.required && !rt.is_relationship_key_input(a.name);
    if let Some(a) = rt
        .attributes
        .iter()
        .filter(required)
        .find(|a| !rt.natural_key.contains(&a.name))
    {
        return Missing::Attribute(a.name);
    }
    let required_rels = || rt.relationships.iter().filter(|r| r.required);
    if let Some(rel) = required_rels()
        .find(|r| !r.is_key_input(rt.log_key))
        .or_else(|| required_rels().next())
    {
        return Missing::Relationship(rel);
    }
    let a = rt
        .attributes
        .iter()
        .find(required)
        .unwrap_or_else(|| panic!("{} has something required", rt.name));
    Missing::Attribute(a.name)
}

/// A value of the wrong type for an attribute, and part of the error it gets.
struct BadValue {
    attribute: &'static str,
    value: Value,
    message: &'static str,
}

/// The first attribute outside the natural key, in this order of types, that can be given a
/// value of the wrong type; else `metadata`.
fn bad_value(rt: &ResourceType, format: Format) -> BadValue {
    let candidates = [
        (AttributeType::Integer, "abc", "'abc' is not an integer"),
        (AttributeType::Boolean, "maybe", "'maybe' is not a boolean"),
        (
            AttributeType::Email,
            "not-an-email",
            "'not-an-email' is not a valid email",
        ),
        (
            AttributeType::Timestamp,
            "soon",
            "'soon' is not a timestamp",
        ),
    ];
    for (ty, value, message) in candidates {
        let found = rt.attributes.iter().find(|a| {
            a.ty == ty && !rt.natural_key.contains(&a.name) && !rt.is_relationship_key_input(a.name)
        });
        if let Some(a) = found {
            return BadValue {
                attribute: a.name,
                value: json!(value),
                message,
            };
        }
    }
    match format {
        Format::Json => BadValue {
            attribute: "metadata",
            value: json!([1]),
            message: "[1] is not an object",
        },
        Format::Csv => BadValue {
            attribute: "metadata",
            value: json!("{oops"),
            message: "'{oops' is not a JSON object",
        },
    }
}

/// The relationship an input names a missing record of: a required parent, else a required
/// relationship, else the parent, else any; `None` when the type has no relationship.
fn missing_relationship(rt: &ResourceType) -> Option<&'static Relationship> {
    let parent = rt.parent_relationship();
    parent
        .filter(|p| p.required)
        .or_else(|| rt.relationships.iter().find(|r| r.required))
        .or(parent)
        .or_else(|| rt.relationships.first())
}

/// The errors_log key of an input: its log key, else its id, else "unknown".
fn log_key(rt: &ResourceType, input: &Map<String, Value>) -> String {
    [rt.log_key, "id"]
        .iter()
        .filter_map(|k| input.get(*k))
        .map(|v| scalar_text(v).trim().to_owned())
        .find(|k| !k.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The stored value of every column the sample gives, as text: its attributes (as the format
/// stores them) and the id, and stored key, of each related record.
fn expected(rt: &ResourceType, sample: &Sample, format: Format) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for (name, value) in &sample.input {
        if let Some(attr) = rt.attribute(name) {
            out.push((attr.name, stored_text(attr, value, format)));
        }
    }
    for (rel, target) in &sample.related {
        set_expected(&mut out, rel.id_attribute, target.id.clone());
        if let Some(key) = rel.by_key {
            if let Some(attr) = rt.attribute(key.input) {
                set_expected(&mut out, attr.name, target.text(key.target_column));
            }
        }
    }
    out
}

/// Sets (or adds) the expected value of a column.
fn set_expected(expected: &mut Vec<(&'static str, String)>, column: &'static str, value: String) {
    match expected.iter_mut().find(|(c, _)| *c == column) {
        Some(slot) => slot.1 = value,
        None => expected.push((column, value)),
    }
}

/// How `value` of `attr` is stored, as text castable to its column's type.
fn stored_text(attr: &Attribute, value: &Value, format: Format) -> String {
    match (attr.ty, value) {
        (AttributeType::Email, _) => scalar_text(value).to_lowercase(),
        (AttributeType::CurrencyCode, _) => scalar_text(value).to_uppercase(),
        // `metadata.n` columns give text values.
        (AttributeType::Object, Value::Object(map))
            if format == Format::Csv && object_as_columns(attr.name) =>
        {
            let texts: Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(scalar_text(v))))
                .collect();
            Value::Object(texts).to_string()
        }
        // A comma-separated cell gives a list of text values.
        (AttributeType::List, Value::Array(items)) if format == Format::Csv => {
            Value::Array(items.iter().map(|v| json!(scalar_text(v))).collect()).to_string()
        }
        (AttributeType::Object | AttributeType::List, _) => value.to_string(),
        _ => scalar_text(value),
    }
}

/// Whether an object attribute is written in CSV as `<attribute>.<key>` columns (else as one
/// cell of JSON text): both ways are exercised.
fn object_as_columns(attribute: &str) -> bool {
    attribute == "metadata"
}

/// Text as a CSV cell or a SQL parameter gives it: strings as they are, anything else as JSON.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The CSV cells of an input, by column name.
fn csv_cells(input: &Map<String, Value>) -> Vec<(String, String)> {
    let mut cells = Vec::new();
    for (name, value) in input {
        match value {
            Value::Object(map) if object_as_columns(name) => {
                for (key, v) in map {
                    cells.push((format!("{name}.{key}"), scalar_text(v)));
                }
            }
            Value::Array(items) => {
                let texts: Vec<String> = items.iter().map(scalar_text).collect();
                cells.push((name.clone(), texts.join(",")));
            }
            other => cells.push((name.clone(), scalar_text(other))),
        }
    }
    cells
}

/// Inputs as CSV: one header row with every column any input gives, an empty cell where an
/// input does not give it.
fn to_csv(rows: &[Map<String, Value>]) -> String {
    let rows: Vec<Vec<(String, String)>> = rows.iter().map(csv_cells).collect();
    let mut headers: Vec<&str> = Vec::new();
    for (name, _) in rows.iter().flatten() {
        if !headers.contains(&name.as_str()) {
            headers.push(name);
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for row in &rows {
        writer
            .write_record(headers.iter().map(|h| {
                row.iter()
                    .find(|(name, _)| name == h)
                    .map_or("", |(_, v)| v.as_str())
            }))
            .unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

/// A JSON object value as a map.
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("{other} is not an object"),
    }
}

/// Asserts that an import completed with these counts (and, when it failed nothing, without
/// warnings).
#[track_caller]
fn assert_done(done: &Import, what: &str, counts: Counts) {
    let got = Counts {
        processed: done.processed_count,
        created: done.created_count,
        updated: done.updated_count,
        errors: done.errors_count,
    };
    assert_eq!(
        (done.status, got),
        (Status::Completed, counts),
        "{what}: errors {:?}, warnings {:?}",
        done.errors_log.0,
        done.warnings_log.0
    );
    if counts.errors == 0 {
        assert_eq!(
            done.warnings_count, 0,
            "{what}: warnings {:?}",
            done.warnings_log.0
        );
    }
}

/// Asserts that the errors_log has, under `key` and `attribute`, a message containing
/// `message`.
#[track_caller]
fn assert_logged(done: &Import, key: &str, attribute: &str, message: &str, what: &str) {
    let messages = done
        .errors_log
        .0
        .get(key)
        .and_then(|by_attribute| by_attribute.get(attribute));
    assert!(
        messages.is_some_and(|m| m.iter().any(|m| m.contains(message))),
        "{what}: errors_log[{key:?}][{attribute:?}] should say {message:?}; errors_log: {:?}",
        done.errors_log.0
    );
}
